/* vtd_fault: what the unit records when translation fails (legacy mode). */
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/inv_reg.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define UNMAPPED_IOVA   (FIXTURE_IOVA + 0x123000)
#define SENTINEL        0x5e5e5e5e5e5e5e5eul
#define BURST           6
#define FAULT_WRITE_REQ 0x05  /* reason: write to a page without W */
#define FAULT_READ_REQ  0x06  /* reason: read from a page without R */

static void expect_one_fault(struct test *t, struct vtd_fixture *fx, uint8_t reason, int is_read, uint64_t addr)
{
    struct vtd_fault_log log;
    fixture_faults(t, fx, &log);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_EQ(t, log.f[0].reason, reason);
    EXPECT_EQ(t, log.f[0].is_read, is_read);
    EXPECT_EQ(t, log.f[0].sid, fx->sid);
    EXPECT_EQ(t, log.f[0].addr, addr & PAGE_MASK);
    EXPECT_EQ(t, log.overflow, 0);
}

static void write_to_unmapped_iova_faults(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    uint32_t events = fx.u.fault_events;
    /* edu cannot tell: its transfer "completes"; only the unit knows */
    ASSERT_EQ(t, fixture_dma_from_device(&fx, UNMAPPED_IOVA, PAGE_SIZE), 0);
    expect_one_fault(t, &fx, FAULT_WRITE_REQ, 0, UNMAPPED_IOVA);
    EXPECT_TRUE(t, fx.u.fault_events > events, "no fault event interrupt arrived (%u before, %u after)", events,
                fx.u.fault_events);
    fixture_down(t, &fx);
}

static void read_of_unmapped_iova_faults(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    ASSERT_EQ(t, fixture_dma_to_device(&fx, UNMAPPED_IOVA, PAGE_SIZE), 0);
    expect_one_fault(t, &fx, FAULT_READ_REQ, 1, UNMAPPED_IOVA);
    fixture_down(t, &fx);
}

static void write_to_read_only_mapping_faults(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    uint64_t pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = SENTINEL;
    ASSERT_EQ(t, vtd_domain_map(&fx.dom, FIXTURE_IOVA, pa, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, fixture_dma_from_device(&fx, FIXTURE_IOVA, PAGE_SIZE), 0);
    expect_one_fault(t, &fx, FAULT_WRITE_REQ, 0, FIXTURE_IOVA);
    unsigned changed = 0;
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        changed += p[i] != SENTINEL;
    EXPECT_EQ(t, changed, 0);
    fixture_down(t, &fx);
    page_free(pa);
}

/* Fault processing disabled in the context entry: nothing is recorded. */
static void fpd_suppresses_faults(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    struct vtd_context_entry ce;
    ASSERT_EQ(t, vtd_context_legacy_encode(&ce, fx.dom.pt.root_pa, vtd_aw_for_levels(fx.dom.levels), FIXTURE_DID,
                                           VTD_TT_UNTRANSLATED, 1), 0);
    ASSERT_EQ(t, vtd_legacy_context_set(&fx.u, &fx.tables, pci_sid_bus(fx.sid), pci_sid_devfn(fx.sid), &ce), 0);
    ASSERT_EQ(t, vtd_reg_invalidate_context(&fx.u, VTD_INV_DEVICE_OR_PAGE, FIXTURE_DID, fx.sid), 0);
    uint32_t events = fx.u.fault_events;
    ASSERT_EQ(t, fixture_dma_from_device(&fx, UNMAPPED_IOVA, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &fx, &log);
    EXPECT_EQ(t, log.count, 0);
    EXPECT_EQ(t, fx.u.fault_events, events);
    fixture_down(t, &fx);
}

/* A recorded fault stays pending until software clears it (VT-d spec
 * 7.2.1, 11.4.7.1, 11.4.7.6): FSTS.PPF is set while a record's F is, FRI
 * names the record, and reading it again finds it unchanged; writing F
 * back (RW1C) clears the record and PPF with it. keep=1 leaves the record
 * pending, as the unit holds it, for the shell's `faults`. */
static void fault_stays_pending_until_cleared(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    ASSERT_EQ(t, fixture_dma_from_device(&fx, UNMAPPED_IOVA, PAGE_SIZE), 0);
    uint32_t fsts = vtd_read32(&fx.u, VTD_FSTS);
    ASSERT_TRUE(t, fsts & VTD_FSTS_PPF, "no primary fault pending after a write to unmapped 0x%lx (FSTS 0x%08x)",
                UNMAPPED_IOVA, fsts);
    unsigned fri = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT;
    ASSERT_TRUE(t, fri < CAP_NFR(fx.u.cap), "FSTS.FRI %u names no record (the unit has %lu)", fri,
                CAP_NFR(fx.u.cap));
    uint32_t off = vtd_fault_record_offset(&fx.u, fri);
    uint64_t lo = vtd_read64_at(&fx.u, off), hi = vtd_read64_at(&fx.u, off + sizeof(uint64_t));
    struct vtd_fault f;
    ASSERT_TRUE(t, vtd_fault_decode(lo, hi, &f), "record %u, which FRI names, has F clear (0x%016lx 0x%016lx)", fri,
                hi, lo);
    char text[160];
    vtd_fault_describe(&f, text, sizeof(text));
    test_diag(t, "record %u (FRI): %s", fri, text);
    EXPECT_EQ(t, f.reason, FAULT_WRITE_REQ);
    EXPECT_EQ(t, f.is_read, 0);
    EXPECT_EQ(t, f.sid, fx.sid);
    EXPECT_EQ(t, f.addr, UNMAPPED_IOVA & PAGE_MASK);
    /* nothing cleared it: the same record, still pending */
    EXPECT_EQ(t, vtd_read64_at(&fx.u, off), lo);
    EXPECT_EQ(t, vtd_read64_at(&fx.u, off + sizeof(uint64_t)), hi);
    EXPECT_TRUE(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_PPF, "FSTS.PPF cleared by itself");
    if (fixture_kept(t, &fx)) {
        test_diag(t, "keep=1: record %u left pending for the shell", fri);
        return;
    }
    struct vtd_fault_log log;
    fixture_faults(t, &fx, &log);   /* writes F back */
    EXPECT_EQ(t, log.count, 1);
    EXPECT_EQ(t, vtd_read64_at(&fx.u, off + sizeof(uint64_t)) & VTD_FRCD_HI_F, 0);
    fsts = vtd_read32(&fx.u, VTD_FSTS);
    EXPECT_TRUE(t, !(fsts & VTD_FSTS_PPF), "FSTS.PPF still set (FSTS 0x%08x) with the only record cleared", fsts);
    fixture_down(t, &fx);
}

/* Faults from two source-ids faster than they are cleared: the records
 * fill, the overflow flag rises, nothing hangs, and once cleared the next
 * fault is recorded again. (QEMU drops a repeat from the same source-id
 * while a record is full, hence the second edu.) */
static void fault_burst_overflows_and_recovers(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    struct edu other;
    if (edu_probe_nth(&other, 1))
        test_skip(t, "needs a second edu device for a second source-id");
    unsigned nfr = (unsigned)CAP_NFR(fx.u.cap);
    for (unsigned i = 0; i < BURST; i++) {
        struct edu *e = (i % 2) ? &other : &fx.edu;
        ASSERT_EQ(t, edu_dma(e, UNMAPPED_IOVA + i * PAGE_SIZE, 0, PAGE_SIZE, 0), 0);
    }
    struct vtd_fault_log log;
    fixture_faults(t, &fx, &log);
    test_diag(t, "%u fault records, %u recorded, overflow %d", nfr, log.count, log.overflow);
    EXPECT_TRUE(t, log.count >= 1 && log.count <= nfr, "%u records for %u registers", log.count, nfr);
    if (log.count < BURST)
        EXPECT_TRUE(t, log.overflow, "%u of %u faults recorded and no overflow reported", log.count, BURST);
    ASSERT_EQ(t, fixture_dma_from_device(&fx, UNMAPPED_IOVA, PAGE_SIZE), 0);
    expect_one_fault(t, &fx, FAULT_WRITE_REQ, 0, UNMAPPED_IOVA);
    fixture_down(t, &fx);
}

TEST_SUITE(vtd_fault, 42, 0,
           TEST(write_to_unmapped_iova_faults),
           TEST(read_of_unmapped_iova_faults),
           TEST(write_to_read_only_mapping_faults),
           TEST(fpd_suppresses_faults),
           TEST(fault_stays_pending_until_cleared),
           TEST(fault_burst_overflows_and_recovers));
