/* Collecting primary fault records (iommu/fault_record.c, vtd_fault_scan)
 * against a fake record file. The unit fills its records as a ring and
 * FSTS.FRI names the one the first pending fault went to (VT-d spec
 * 7.2.1; FSTS 11.4.7.1): collected from there on, wrapping, the log
 * lists faults oldest first and keeps the oldest when it fills. Register
 * bits are literals from the spec: FSTS.PPF bit 1, FRI bits 15:8; record
 * F bit 127, SID bits 79:64. */
#include "host.h"
#include "iommu/fault_record.h"

#define FSTS_PPF        (1u << 1)
#define FSTS_FRI(i)     ((uint32_t)(i) << 8)
#define FRCD_F          (1ul << 63)
#define RECORDS_MAX     32

static struct {
    uint64_t lo[RECORDS_MAX], hi[RECORDS_MAX];
    unsigned cleared;
} rec;

static uint64_t fake_read(void *ctx, unsigned i, unsigned qword)
{
    assert_true(i < RECORDS_MAX);
    return qword ? rec.hi[i] : rec.lo[i];
}

static void fake_clear(void *ctx, unsigned i)
{
    rec.hi[i] &= ~FRCD_F;
    rec.cleared++;
}

/* Record i holds a fault of source-id sid (a write, reason 5). */
static void fault_at(unsigned i, uint16_t sid)
{
    rec.lo[i] = 0x1000ul * (i + 1);
    rec.hi[i] = FRCD_F | 0x05ul << 32 | sid;
}

static int setup(void **state)
{
    memset(&rec, 0, sizeof(rec));
    return 0;
}

static void collect(uint32_t fsts, unsigned count, struct vtd_fault_log *log)
{
    memset(log, 0, sizeof(*log));
    const struct vtd_fault_records r = { NULL, count, fake_read, fake_clear };
    vtd_fault_scan(fsts, &r, log);
}

/* Four records, faults in 2, 3 and then 0 (the ring wrapped): FRI 2. */
static void records_are_read_from_fri_on(void **state)
{
    fault_at(2, 0x10);
    fault_at(3, 0x11);
    fault_at(0, 0x12);
    struct vtd_fault_log log;
    collect(FSTS_PPF | FSTS_FRI(2), 4, &log);
    assert_int_equal(log.count, 3);
    assert_int_equal(log.f[0].sid, 0x10);
    assert_int_equal(log.f[1].sid, 0x11);
    assert_int_equal(log.f[2].sid, 0x12);
    assert_int_equal(rec.cleared, 3);
}

/* More faults than the log holds: the oldest VTD_FAULTS_MAX are kept, from
 * FRI on; every record is cleared. */
static void a_full_log_keeps_the_oldest(void **state)
{
    const unsigned n = RECORDS_MAX, fri = 20;
    for (unsigned i = 0; i < n; i++)
        fault_at(i, (uint16_t)i);
    struct vtd_fault_log log;
    collect(FSTS_PPF | FSTS_FRI(fri), n, &log);
    assert_int_equal(log.count, VTD_FAULTS_MAX);
    for (unsigned k = 0; k < VTD_FAULTS_MAX; k++)
        assert_int_equal(log.f[k].sid, (fri + k) % n);
    assert_int_equal(rec.cleared, n);
}

/* The control: FRI is valid only while PPF is set, and an FRI past the
 * records (a unit that cannot be right) starts the scan at 0 instead of
 * reading outside them. */
static void fri_without_ppf_or_past_the_records_starts_at_zero(void **state)
{
    fault_at(0, 0x20);
    fault_at(1, 0x21);
    struct vtd_fault_log log;
    collect(FSTS_FRI(1), 2, &log);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.f[0].sid, 0x20);
    fault_at(0, 0x20);
    fault_at(1, 0x21);
    collect(FSTS_PPF | FSTS_FRI(7), 2, &log);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.f[0].sid, 0x20);
    assert_int_equal(log.f[1].sid, 0x21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(records_are_read_from_fri_on, setup),
        cmocka_unit_test_setup(a_full_log_keeps_the_oldest, setup),
        cmocka_unit_test_setup(fri_without_ppf_or_past_the_records_starts_at_zero, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
