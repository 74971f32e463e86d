/* iommu/dmar.c on QEMU's own DMAR table (captured from a boot by
 * dmar.raw_table_dump) and on copies of it broken in every way a firmware
 * table can be: nothing is read past a structure, problems are named. */
#include "host.h"
#include "iommu/dmar.h"
#include "lib/errno.h"

#define SEED "tests/fuzz/corpus/qemu-10.0.2-q35-dmar.bin"
#define MAX_TABLE 1024

static uint8_t qemu[MAX_TABLE];
static size_t qemu_len;
static struct dmar_info d;

static int load(void **state)
{
    FILE *f = fopen(SEED, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the top of the tree)", SEED);
    qemu_len = fread(qemu, 1, sizeof(qemu), f);
    fclose(f);
    return 0;
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static int has_problem(const char *fragment)
{
    for (unsigned i = 0; i < d.nproblems; i++)
        if (strstr(d.problems[i], fragment))
            return 1;
    return 0;
}

static void qemu_table(void **state)
{
    assert_int_equal(dmar_parse(qemu, qemu_len, &d), 0);
    assert_int_equal(d.nproblems, 0);
    assert_int_equal(d.host_address_width, 48);
    assert_true(d.flags & DMAR_FLAG_INTR_REMAP);
    assert_int_equal(d.ndrhd, 1);
    assert_int_equal(d.drhd[0].base, 0xfed90000);
    assert_int_equal(d.drhd[0].segment, 0);
    assert_int_equal(d.drhd[0].flags & DMAR_DRHD_INCLUDE_PCI_ALL, 0);
    const struct dmar_scopes *sc = &d.drhd[0].scopes;
    assert_true(sc->count >= 2);
    assert_int_equal(sc->s[0].type, DMAR_SCOPE_IOAPIC);
    int edu = 0;
    for (unsigned i = 0; i < sc->count; i++)
        edu |= sc->s[i].type == DMAR_SCOPE_PCI_ENDPOINT && sc->s[i].start_bus == 0 && sc->s[i].path_len == 1 &&
               sc->s[i].path[0].device == 4 && sc->s[i].path[0].function == 0;
    assert_true(edu);
}

static void too_short_for_its_header(void **state)
{
    assert_int_equal(dmar_parse(qemu, DMAR_STRUCTS_OFFSET - 1, &d), -E_INVAL);
}

static void structure_longer_than_the_table(void **state)
{
    uint8_t t[MAX_TABLE];
    memcpy(t, qemu, qemu_len);
    put16(t + DMAR_STRUCTS_OFFSET + 2, 500);
    assert_int_equal(dmar_parse(t, qemu_len, &d), 0);
    assert_int_equal(d.ndrhd, 0);
    assert_true(has_problem("past the table"));
}

static void zero_length_structure_stops_the_walk(void **state)
{
    uint8_t t[MAX_TABLE];
    memcpy(t, qemu, qemu_len);
    put16(t + DMAR_STRUCTS_OFFSET + 2, 0);
    assert_int_equal(dmar_parse(t, qemu_len, &d), 0);
    assert_int_equal(d.ndrhd, 0);
    assert_int_equal(d.nproblems, 1);
}

static void scope_cut_by_its_structure(void **state)
{
    uint8_t t[MAX_TABLE];
    memcpy(t, qemu, qemu_len);
    uint16_t len;
    memcpy(&len, t + DMAR_STRUCTS_OFFSET + 2, 2);
    put16(t + DMAR_STRUCTS_OFFSET + 2, (uint16_t)(len - 3)); /* the last scope loses its tail */
    assert_int_equal(dmar_parse(t, qemu_len, &d), 0);
    assert_int_equal(d.ndrhd, 1);
    assert_true(has_problem("runs past its structure"));
}

static void odd_scope_length(void **state)
{
    uint8_t t[MAX_TABLE];
    memcpy(t, qemu, qemu_len);
    t[DMAR_STRUCTS_OFFSET + DMAR_DRHD_SCOPES + 1] = 7; /* first scope: 6 + 1 byte of path */
    assert_int_equal(dmar_parse(t, qemu_len, &d), 0);
    assert_true(has_problem("half a path entry"));
}

static void unknown_type_is_skipped_and_the_walk_goes_on(void **state)
{
    uint8_t t[MAX_TABLE];
    const size_t extra = 8, drhd = 16;
    memcpy(t, qemu, DMAR_STRUCTS_OFFSET);
    memset(t + DMAR_STRUCTS_OFFSET, 0, extra);
    put16(t + DMAR_STRUCTS_OFFSET, 0x99);
    put16(t + DMAR_STRUCTS_OFFSET + 2, (uint16_t)extra);
    uint8_t *u = t + DMAR_STRUCTS_OFFSET + extra; /* a DRHD with no scopes after it */
    memset(u, 0, drhd);
    put16(u + 2, (uint16_t)drhd);
    u[4] = DMAR_DRHD_INCLUDE_PCI_ALL;
    uint64_t base = 0xfed91000;
    memcpy(u + 8, &base, 8);
    assert_int_equal(dmar_parse(t, DMAR_STRUCTS_OFFSET + extra + drhd, &d), 0);
    assert_int_equal(d.nunknown, 1);
    assert_true(has_problem("unknown type 153"));
    assert_int_equal(d.ndrhd, 1);
    assert_int_equal(d.drhd[0].base, base);
    assert_int_equal(d.drhd[0].scopes.count, 0);
}

static void too_many_units(void **state)
{
    uint8_t t[MAX_TABLE];
    const size_t drhd = 16, n = DMAR_MAX_UNITS + 1;
    memcpy(t, qemu, DMAR_STRUCTS_OFFSET);
    for (size_t i = 0; i < n; i++) {
        uint8_t *u = t + DMAR_STRUCTS_OFFSET + i * drhd;
        memset(u, 0, drhd);
        put16(u + 2, (uint16_t)drhd);
    }
    assert_int_equal(dmar_parse(t, DMAR_STRUCTS_OFFSET + n * drhd, &d), 0);
    assert_int_equal(d.ndrhd, DMAR_MAX_UNITS);
    assert_true(has_problem("more than 8 DRHD"));
}

static void rmrr_and_rhsa(void **state)
{
    uint8_t t[MAX_TABLE];
    const size_t rmrr = 24 + 8, rhsa = DMAR_RHSA_LENGTH;
    memcpy(t, qemu, DMAR_STRUCTS_OFFSET);
    uint8_t *r = t + DMAR_STRUCTS_OFFSET;
    memset(r, 0, rmrr + rhsa);
    put16(r, DMAR_TYPE_RMRR);
    put16(r + 2, (uint16_t)rmrr);
    uint64_t base = 0x7f000000, limit = 0x6f000000; /* limit below base */
    memcpy(r + 8, &base, 8);
    memcpy(r + 16, &limit, 8);
    const uint8_t scope[8] = { DMAR_SCOPE_PCI_ENDPOINT, 8, 0, 0, 0, 0, 0x14, 0 };
    memcpy(r + 24, scope, sizeof(scope));
    uint8_t *h = r + rmrr;
    put16(h, DMAR_TYPE_RHSA);
    put16(h + 2, (uint16_t)rhsa);
    uint32_t domain = 3;
    memcpy(h + 16, &domain, 4);
    assert_int_equal(dmar_parse(t, DMAR_STRUCTS_OFFSET + rmrr + rhsa, &d), 0);
    assert_int_equal(d.nrmrr, 1);
    assert_int_equal(d.rmrr[0].scopes.count, 1);
    assert_int_equal(d.rmrr[0].scopes.s[0].path[0].device, 0x14);
    assert_true(has_problem("limit 0x6f000000 below base"));
    assert_int_equal(d.nrhsa, 1);
    assert_int_equal(d.rhsa[0].proximity_domain, 3);
}

/* RMRRs laid out one after another behind QEMU's structures, each with
 * one endpoint scope (00:14.0). */
static size_t put_rmrrs(uint8_t *t, const uint64_t (*ranges)[2], unsigned n)
{
    const size_t rmrr = 24 + 8;
    memcpy(t, qemu, DMAR_STRUCTS_OFFSET);
    uint8_t *r = t + DMAR_STRUCTS_OFFSET;
    for (unsigned i = 0; i < n; i++, r += rmrr) {
        memset(r, 0, rmrr);
        put16(r, DMAR_TYPE_RMRR);
        put16(r + 2, (uint16_t)rmrr);
        memcpy(r + 8, &ranges[i][0], 8);
        memcpy(r + 16, &ranges[i][1], 8);
        const uint8_t scope[8] = { DMAR_SCOPE_PCI_ENDPOINT, 8, 0, 0, 0, 0, 0x14, 0 };
        memcpy(r + 24, scope, sizeof(scope));
    }
    return (size_t)(r - t);
}

static char described[4096];
static void collect(const char *line)
{
    strncat(described, line, sizeof(described) - strlen(described) - 2);
    strcat(described, "\n");
}

/* A range not 4 KiB aligned is a problem (and dmar_rmrr_aligned says no);
 * overlapping ranges are legal and get a note, not a problem. */
static void misaligned_and_overlapping_rmrrs(void **state)
{
    uint8_t t[MAX_TABLE];
    const uint64_t ranges[][2] = { { 0x7f000000, 0x7f003fff }, { 0x7f002000, 0x7f005fff }, { 0x7f100800, 0x7f101fff },
                                   { 0x7f200000, 0x7f2007ff } };
    size_t len = put_rmrrs(t, ranges, 4);
    assert_int_equal(dmar_parse(t, len, &d), 0);
    assert_int_equal(d.nrmrr, 4);
    assert_true(dmar_rmrr_aligned(&d.rmrr[0]) && dmar_rmrr_aligned(&d.rmrr[1]));
    assert_false(dmar_rmrr_aligned(&d.rmrr[2]));   /* base 0x...800 */
    assert_false(dmar_rmrr_aligned(&d.rmrr[3]));   /* limit + 1 = 0x...800 */
    assert_true(has_problem("RMRR 2: 0x7f100800-0x7f101fff is not 4 KiB aligned"));
    assert_true(has_problem("RMRR 3: 0x7f200000-0x7f2007ff is not 4 KiB aligned"));
    assert_int_equal(d.nproblems, 2);
    described[0] = 0;
    dmar_describe(&d, collect);
    assert_non_null(strstr(described, "note: RMRR 1 overlaps RMRR 0"));
    assert_null(strstr(described, "RMRR 2 overlaps"));
}

/* An SoC-integrated address translation cache (SATC, VT-d spec 8.8): type
 * 5, flags bit 0 ATC_REQUIRED, the segment, then device scopes. Literal
 * bytes: Debian 12's iasl (20200925) predates SATC and cannot build one. */
static void satc_with_its_scope(void **state)
{
    uint8_t t[MAX_TABLE];
    memcpy(t, qemu, DMAR_STRUCTS_OFFSET);
    const uint8_t satc[] = { 0x05, 0x00, 0x10, 0x00,     /* type 5, length 16 */
                             0x01, 0x00, 0x01, 0x00,     /* ATC required, reserved, segment 1 */
                             0x01, 0x08, 0x00, 0x00,     /* endpoint scope, 8 bytes */
                             0x00, 0x80, 0x02, 0x00 };   /* enumeration id 0, bus 0x80, path 02.0 */
    memcpy(t + DMAR_STRUCTS_OFFSET, satc, sizeof(satc));
    assert_int_equal(dmar_parse(t, DMAR_STRUCTS_OFFSET + sizeof(satc), &d), 0);
    assert_int_equal(d.nproblems, 0);
    assert_int_equal(d.nsatc, 1);
    assert_int_equal(d.satc[0].segment, 1);
    assert_true(d.satc[0].flags & DMAR_SATC_ATC_REQUIRED);
    assert_int_equal(d.satc[0].scopes.count, 1);
    assert_int_equal(d.satc[0].scopes.s[0].start_bus, 0x80);
    assert_int_equal(d.satc[0].scopes.s[0].path[0].device, 2);
    described[0] = 0;
    dmar_describe(&d, collect);
    assert_non_null(strstr(described, "SATC 0: SoC-integrated ATC on segment 1, ATC required"));
    assert_non_null(strstr(described, "bus 128, path 02.0"));
}

/* Which unit a device belongs to: a listing scope in its segment first,
 * then the segment's INCLUDE_PCI_ALL unit; a segment with neither has none.
 * The covers() stand-in says "the device is the scope with this path". */
struct fake_device { uint8_t start_bus, device, function; };
static int fake_covers(const struct dmar_scope *s, const void *device)
{
    const struct fake_device *f = device;
    return s->path_len && s->start_bus == f->start_bus && s->path[s->path_len - 1].device == f->device &&
           s->path[s->path_len - 1].function == f->function;
}

static void unit_for_a_device_by_scope_then_include_all(void **state)
{
    static struct dmar_info d;
    memset(&d, 0, sizeof(d));
    d.ndrhd = 3;
    /* segment 1: one unit listing 80:03.0; segment 0: one listing 00:04.0, then INCLUDE_PCI_ALL */
    d.drhd[0] = (struct dmar_drhd){ .base = 0xfbffc000, .segment = 1,
                                    .scopes = { 1, { { DMAR_SCOPE_PCI_ENDPOINT, 0, 0x80, 1, { { 3, 0 } } } } } };
    d.drhd[1] = (struct dmar_drhd){ .base = 0xfed91000, .segment = 0,
                                    .scopes = { 1, { { DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, { { 4, 0 } } } } } };
    d.drhd[2] = (struct dmar_drhd){ .base = 0xfed90000, .segment = 0, .flags = DMAR_DRHD_INCLUDE_PCI_ALL };
    const struct fake_device listed1 = { 0x80, 3, 0 }, listed0 = { 0, 4, 0 }, other = { 0, 5, 0 };
    assert_int_equal(dmar_unit_for(&d, 1, fake_covers, &listed1), 0);
    assert_int_equal(dmar_unit_for(&d, 0, fake_covers, &listed0), 1);
    assert_int_equal(dmar_unit_for(&d, 0, fake_covers, &other), 2);
    /* segment 1 has no INCLUDE_PCI_ALL unit, segment 2 no unit at all */
    assert_int_equal(dmar_unit_for(&d, 1, fake_covers, &other), -1);
    assert_int_equal(dmar_unit_for(&d, 2, fake_covers, &listed1), -1);
    /* a listing scope in another segment does not count */
    assert_int_equal(dmar_unit_for(&d, 0, fake_covers, &listed1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unit_for_a_device_by_scope_then_include_all),
        cmocka_unit_test(qemu_table),
        cmocka_unit_test(too_short_for_its_header),
        cmocka_unit_test(structure_longer_than_the_table),
        cmocka_unit_test(zero_length_structure_stops_the_walk),
        cmocka_unit_test(scope_cut_by_its_structure),
        cmocka_unit_test(odd_scope_length),
        cmocka_unit_test(unknown_type_is_skipped_and_the_walk_goes_on),
        cmocka_unit_test(too_many_units),
        cmocka_unit_test(rmrr_and_rhsa),
        cmocka_unit_test(misaligned_and_overlapping_rmrrs),
        cmocka_unit_test(satc_with_its_scope),
    };
    return cmocka_run_group_tests_name("dmar", tests, load, NULL);
}
