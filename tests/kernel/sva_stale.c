/* sva_stale: under SVA, what the device uses after the kernel's tables
 * change, with each PASID-based invalidation, the wrong ones, none; then
 * permission changes and what invalidation costs. The remaps here run with
 * reclaim=none so no flush happens behind the test's back; each case then
 * issues exactly the invalidation it is about. */
#include <string.h>
#include "iommu/cap_reg.h"
#include "lib/bits.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "vtd_fixture.h"
#include "case_state.h"

#define PASID        1
#define OTHER_PASID  0
#define OTHER_DID    (FIXTURE_DID + 1)
#define GIB          (1ul << 30)
#define VA_T         (KVA_BASE + 32 * GIB)
#define VA_X         (VA_T + PAGE_SIZE)     /* the pattern; shares VA_T's page table */
#define VA_FAR       (VA_T + 8 * PAGE_SIZE)
#define VA_COST      (KVA_BASE + 33 * GIB)
#define PATTERN_WORD 0x5eed5eed00000000ul
#define COST_PAGES   16
/* A range flush of RANGE_PAGES at VA_RANGE (aligned to its size, so the
 * address mask covers exactly it), with one neighbour on each side and an
 * anchor page that keeps the page table in place while the rest is remapped. */
#define VA_ANCHOR    (KVA_BASE + 34 * GIB)
#define RANGE_PAGES  4u
#define RANGE_AM     2u                                  /* 2^2 pages */
#define VA_RANGE     (VA_ANCHOR + RANGE_PAGES * PAGE_SIZE)
#define RANGE_VAS    (RANGE_PAGES + 2)                   /* the range and its two neighbours */

struct scene {
    struct sva_fixture sf;
    uint64_t a, b, x;
    int keeps_leaf;   /* fixture_sva_unit_keeps_leaf: the unit showed it keeps leaves */
};

static enum landed device_write(struct test *t, struct scene *s)
{
    memset(phys_to_virt(s->a), 0, PAGE_SIZE);
    memset(phys_to_virt(s->b), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&s->sf.dev, VA_T, PAGE_SIZE), 0);
    return where_pattern_landed(s->a, s->b, PATTERN_WORD);
}

/* VA_T -> A cached by one device write. */
static void set_up(struct test *t, struct scene *s, uint64_t t_attrs)
{
    memset(s, 0, sizeof(*s));
    s->keeps_leaf = fixture_sva_unit_keeps_leaf(t);
    case_set_reclaim_policy(t, RECLAIM_NONE);
    fixture_sva_up(t, &s->sf, PASID, 0);
    s->a = page_alloc();
    s->b = page_alloc();
    s->x = page_alloc();
    ASSERT_TRUE(t, s->a && s->b && s->x, "out of frames");
    fill_pattern(s->x, PATTERN_WORD);
    ASSERT_EQ(t, kva_map(VA_X, s->x, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_T, s->a, PT_LEVEL_PT, t_attrs), 0);
    ASSERT_EQ(t, dma_dev_read(&s->sf.dev, VA_X, PAGE_SIZE), 0);
}

static void warm(struct test *t, struct scene *s)
{
    enum landed l = device_write(t, s);
    ASSERT_TRUE(t, l == LANDED_IN_A, "before any change the write landed in %s", landed_name[l]);
}

static void remap_to_b(struct test *t, struct scene *s)
{
    ASSERT_EQ(t, kva_unmap(VA_T), 0);
    ASSERT_EQ(t, kva_map(VA_T, s->b, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
}

static void tear_down(struct test *t, struct scene *s)
{
    kva_unmap(VA_T);
    kva_unmap(VA_X);
    fixture_sva_down(t, &s->sf);
    page_free(s->a);
    page_free(s->b);
    page_free(s->x);
}

/* Under caching mode every kva map is invalidated (a walker that caches
 * not-present entries, mm/walker.h), so a remap leaves nothing stale to see: the cases that need a
 * stale entry skip, naming it. */
static void skip_in_caching_mode(struct test *t, struct scene *s)
{
    if (!CAP_CM(s->sf.fx.u.cap))
        return;
    tear_down(t, s);
    test_skip(t, "the unit is in caching mode (CAP.CM = 1): every kva map is invalidated, so no stale translation "
              "is left");
}

static void submit(struct test *t, struct scene *s, const struct qi_desc *d)
{
    ASSERT_EQ(t, qi_sync(&s->sf.fx.qi, d, 1), 0);
}

static void expect(struct test *t, struct scene *s, enum landed want, const char *after)
{
    enum landed l = device_write(t, s);
    if (want == LANDED_IN_A && !s->keeps_leaf && (l == LANDED_IN_A || l == LANDED_IN_B)) {
        test_characterisation(t, "stale_translation_used", l == LANDED_IN_A, "after %s the %s", after,
                              l == LANDED_IN_A ? "device still used the old translation: cached"
                                               : "unit re-walked: caching not observed");
        return;
    }
    EXPECT_TRUE(t, l == want, "after %s the write should land in %s, it landed in %s", after, landed_name[want],
                landed_name[l]);
}

static void remap_without_invalidation_uses_old_translation(struct test *t)
{
    static struct scene s;
    set_up(t, &s, PTE_RW | PTE_NX);
    skip_in_caching_mode(t, &s);
    warm(t, &s);
    remap_to_b(t, &s);
    expect(t, &s, LANDED_IN_A, "a remap with no invalidation");
    tear_down(t, &s);
}

/* A remap, then exactly one invalidation descriptor, then where the
 * device's write lands. */
static void remap_then_submit(struct test *t, const struct qi_desc *d, enum landed want, const char *after)
{
    static struct scene s;
    set_up(t, &s, PTE_RW | PTE_NX);
    if (want == LANDED_IN_A)
        skip_in_caching_mode(t, &s);
    warm(t, &s);
    remap_to_b(t, &s);
    submit(t, &s, d);
    expect(t, &s, want, after);
    tear_down(t, &s);
}

static void pasid_page_invalidation_drops_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                  .pasid = PASID, .addr = VA_T }), 0);
    remap_then_submit(t, &d, LANDED_IN_B, "a page-selective PASID-based IOTLB invalidation of the VA");
}

static void pasid_all_invalidation_drops_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                                  .pasid = PASID }), 0);
    remap_then_submit(t, &d, LANDED_IN_B, "an all-in-PASID invalidation");
}

static void wrong_pasid_keeps_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                                  .pasid = OTHER_PASID }), 0);
    remap_then_submit(t, &d, LANDED_IN_A, "an invalidation of another PASID");
}

static void wrong_did_keeps_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = OTHER_DID,
                                                                  .pasid = PASID }), 0);
    remap_then_submit(t, &d, LANDED_IN_A, "an invalidation of the PASID under another DID");
}

static void wrong_range_keeps_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                  .pasid = PASID, .addr = VA_FAR }), 0);
    remap_then_submit(t, &d, LANDED_IN_A, "a page-selective invalidation of another range");
}

static void context_cache_alone_keeps_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_GLOBAL }), 0);
    remap_then_submit(t, &d, LANDED_IN_A, "a context-cache invalidation alone");
}

static void pasid_cache_alone_keeps_it(struct test *t)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_cache(&d, (struct qi_pasid_cache){ .gran = QI_PC_PASID, .did = FIXTURE_DID,
                                                                  .pasid = PASID }), 0);
    remap_then_submit(t, &d, LANDED_IN_A, "a PASID-cache invalidation alone");
}

/* Precision: VA_X (the pattern, cached by the device's read) is remapped
 * to a page with another pattern, and VA_T to B. A page-selective flush of
 * VA_T leaves VA_X's stale entry (the device still reads the old pattern);
 * all-in-PASID removes both. */
static void page_selective_flush_is_precise(struct test *t)
{
    const uint64_t new_pattern = PATTERN_WORD ^ 0xff00000000ul;
    for (int all = 0; all <= 1; all++) {
        static struct scene s;
        set_up(t, &s, PTE_RW | PTE_NX);
        skip_in_caching_mode(t, &s);
        uint64_t x2 = page_alloc();
        ASSERT_TRUE(t, x2, "out of frames");
        fill_pattern(x2, new_pattern);
        remap_to_b(t, &s);
        ASSERT_EQ(t, kva_unmap(VA_X), 0);
        ASSERT_EQ(t, kva_map(VA_X, x2, PT_LEVEL_PT, PTE_NX), 0);
        struct qi_desc d;
        if (all)
            ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID,
                                                                          .did = FIXTURE_DID, .pasid = PASID }), 0);
        else
            ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                          .pasid = PASID, .addr = VA_T }), 0);
        submit(t, &s, &d);
        ASSERT_EQ(t, dma_dev_read(&s.sf.dev, VA_X, PAGE_SIZE), 0); /* read through VA_X */
        memset(phys_to_virt(s.b), 0, PAGE_SIZE);
        ASSERT_EQ(t, dma_dev_write(&s.sf.dev, VA_T, PAGE_SIZE), 0); /* and write it out through fresh VA_T */
        int old_x = where_pattern_landed(s.a, s.b, PATTERN_WORD) == LANDED_IN_B;
        int new_x = where_pattern_landed(s.a, s.b, new_pattern) == LANDED_IN_B;
        test_diag(t, "%s flush: VA_X read the %s page", all ? "all-in-PASID" : "page-selective",
                  old_x ? "old (stale)" : new_x ? "new" : "neither");
        if (all)
            EXPECT_TRUE(t, new_x, "after an all-in-PASID flush VA_X still used its old translation");
        else if (!old_x && !s.keeps_leaf)
            test_characterisation(t, "stale_pattern_kept", 0, "the unit re-walked VA_X: caching not observed");
        else
            EXPECT_TRUE(t, old_x, "a page-selective flush of VA_T also dropped VA_X's entry");
        page_free(x2);
        tear_down(t, &s);
    }
}

/* The i-th VA of the range test: the neighbour below, the range, the
 * neighbour above. */
static uint64_t range_va(unsigned i) { return VA_RANGE - PAGE_SIZE + (uint64_t)i * PAGE_SIZE; }
static int in_range(unsigned i) { return i >= 1 && i <= RANGE_PAGES; }

/* Every page of the range is cached by the device, each VA is remapped to
 * a new frame with no invalidation, then one page-selective PASID-based
 * invalidation covers the range: the device must reach the new frame
 * through every VA in it, and, on a unit that showed it keeps leaves, the
 * old one through the neighbours, whose entries the flush must keep. */
static void range_flush_drops_every_page_and_keeps_neighbours(struct test *t)
{
    static struct scene s;
    set_up(t, &s, PTE_RW | PTE_NX);
    skip_in_caching_mode(t, &s);
    uint64_t old[RANGE_VAS], new[RANGE_VAS], anchor = page_alloc();
    ASSERT_TRUE(t, anchor, "out of frames");
    ASSERT_EQ(t, kva_map(VA_ANCHOR, anchor, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    for (unsigned i = 0; i < RANGE_VAS; i++) {
        old[i] = page_alloc();
        new[i] = page_alloc();
        ASSERT_TRUE(t, old[i] && new[i], "out of frames");
        ASSERT_EQ(t, kva_map(range_va(i), old[i], PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    }
    /* The device's buffer holds the pattern (read through VA_X); each write
     * through a range VA caches its translation. */
    ASSERT_EQ(t, dma_dev_read(&s.sf.dev, VA_X, PAGE_SIZE), 0);
    for (unsigned i = 0; i < RANGE_VAS; i++)
        ASSERT_EQ(t, dma_dev_write(&s.sf.dev, range_va(i), PAGE_SIZE), 0);
    for (unsigned i = 0; i < RANGE_VAS; i++) {
        ASSERT_TRUE(t, where_pattern_landed(old[i], new[i], PATTERN_WORD) == LANDED_IN_A,
                    "the first write through VA %u did not reach its page", i);
        memset(phys_to_virt(old[i]), 0, PAGE_SIZE);
        ASSERT_EQ(t, kva_unmap(range_va(i)), 0);
        ASSERT_EQ(t, kva_map(range_va(i), new[i], PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    }
    uint64_t addr;
    unsigned am;
    qi_range_to_mask(VA_RANGE, VA_RANGE + RANGE_PAGES * PAGE_SIZE, &addr, &am);
    ASSERT_EQ(t, addr, VA_RANGE);
    ASSERT_EQ(t, am, RANGE_AM);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                  .pasid = PASID, .addr = addr, .am = am }), 0);
    submit(t, &s, &d);
    for (unsigned i = 0; i < RANGE_VAS; i++) {
        ASSERT_EQ(t, dma_dev_write(&s.sf.dev, range_va(i), PAGE_SIZE), 0);
        enum landed l = where_pattern_landed(old[i], new[i], PATTERN_WORD);
        test_diag(t, "VA %u (%s): the write landed in the %s frame", i, in_range(i) ? "in the range" : "neighbour",
                  l == LANDED_IN_A ? "old" : l == LANDED_IN_B ? "new" : "no");
        if (in_range(i))
            EXPECT_TRUE(t, l == LANDED_IN_B, "VA %u is in the flushed range but the write landed in %s",
                        i, landed_name[l]);
        else if (l == LANDED_IN_B && !s.keeps_leaf)
            test_characterisation(t, "neighbour_kept_cached", 0, "the unit re-walked neighbour VA %u: caching "
                                  "not observed", i);
        else
            EXPECT_TRUE(t, l == LANDED_IN_A, "the range flush also dropped neighbour VA %u (write in %s)", i,
                        landed_name[l]);
    }
    for (unsigned i = 0; i < RANGE_VAS; i++) {
        kva_unmap(range_va(i));
        page_free(old[i]);
        page_free(new[i]);
    }
    kva_unmap(VA_ANCHOR);
    page_free(anchor);
    tear_down(t, &s);
}

/* RW -> RO. The spec lets a unit use a cached translation until it is
 * invalidated, so without invalidation the write may still land (QEMU: it
 * does); after the PASID-based invalidation it must fault. */
static void downgrade_needs_invalidation(struct test *t)
{
    static struct scene s;
    set_up(t, &s, PTE_RW | PTE_NX);
    warm(t, &s);
    ASSERT_EQ(t, kva_protect(VA_T, PTE_NX), 0);
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&s.sf.dev, VA_T, PAGE_SIZE), 0);
    test_diag(t, "RW->RO without invalidation: the write %s", (where_pattern_landed(s.a, s.b, PATTERN_WORD) == LANDED_IN_A) ? "still landed (cached RW entry)"
                                                                                : "was refused");
    struct vtd_fault_log log;
    fixture_faults(t, &s.sf.fx, &log);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                  .pasid = PASID, .addr = VA_T }), 0);
    submit(t, &s, &d);
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&s.sf.dev, VA_T, PAGE_SIZE), 0);
    EXPECT_TRUE(t, !(where_pattern_landed(s.a, s.b, PATTERN_WORD) == LANDED_IN_A), "after RW->RO and invalidation the write still landed");
    fixture_faults(t, &s.sf.fx, &log);
    EXPECT_EQ(t, log.count, 1);
    if (log.count)
        EXPECT_EQ(t, log.f[0].reason, FR_FS_WRITE_READ_ONLY);
    tear_down(t, &s);
}

/* RO -> RW. A read caches the read-only translation; after the upgrade
 * the write is reported as seen (QEMU checks the cached permissions and
 * faults until invalidated); after invalidation it must land. */
static void upgrade_takes_effect_after_invalidation(struct test *t)
{
    static struct scene s;
    set_up(t, &s, PTE_NX);
    ASSERT_EQ(t, dma_dev_read(&s.sf.dev, VA_T, PAGE_SIZE), 0); /* read: caches VA_T -> A read-only */
    ASSERT_EQ(t, dma_dev_read(&s.sf.dev, VA_X, PAGE_SIZE), 0); /* the pattern back in the buffer */
    ASSERT_EQ(t, kva_protect(VA_T, PTE_RW | PTE_NX), 0);
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&s.sf.dev, VA_T, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &s.sf.fx, &log);
    /* docs/reclaim.md question 6. The spec lets a unit that cached the
     * read-only entry refuse the write (QEMU does, with no fault record)
     * or re-walk and let it land; reaching any other page is never right. */
    enum landed first = where_pattern_landed(s.a, s.b, PATTERN_WORD);
    test_diag(t, "RO->RW without invalidation: the write %s (%u fault record(s))",
              first == LANDED_IN_A ? "landed" : "was refused", log.count);
    EXPECT_TRUE(t, first != LANDED_IN_B, "RO->RW without invalidation: the write reached the other page");
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                  .pasid = PASID, .addr = VA_T }), 0);
    submit(t, &s, &d);
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&s.sf.dev, VA_T, PAGE_SIZE), 0);
    EXPECT_TRUE(t, (where_pattern_landed(s.a, s.b, PATTERN_WORD) == LANDED_IN_A), "after RO->RW and invalidation the write did not land");
    fixture_faults(t, &s.sf.fx, &log);
    EXPECT_EQ(t, log.count, 0);
    tear_down(t, &s);
}

/* What reclaim=sync costs: descriptors and waits per unmap of N pages, one
 * page at a time, and the rounding of a range to its address mask. */
static void sync_invalidation_cost(struct test *t)
{
    static struct scene s;
    set_up(t, &s, PTE_RW | PTE_NX);
    case_set_reclaim_policy(t, RECLAIM_SYNC);
    uint64_t pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    for (unsigned i = 0; i < COST_PAGES; i++)
        ASSERT_EQ(t, kva_map(VA_COST + i * PAGE_SIZE, pa, PT_LEVEL_PT, PTE_NX), 0);
    struct vtd_qi *q = &s.sf.fx.qi;
    unsigned head = fixture_unit_head(q);
    struct pt_page_stats p0 = pt_page_stats();
    for (unsigned i = 0; i < COST_PAGES; i++)
        ASSERT_EQ(t, kva_unmap(VA_COST + i * PAGE_SIZE), 0);
    struct vtd_consumed c;
    fixture_read_consumed(q, head, fixture_unit_head(q), &c);
    test_metric(t, "descriptors_per_16_page_unmap", c.descriptors, "descriptors");
    test_metric(t, "waits_per_16_page_unmap", c.waits, "waits");
    test_diag(t, "the unit consumed %u descriptors: %u waits, %u PASID-based IOTLB (%u with IH=1), "
              "%lu table pages freed", c.descriptors, c.waits, c.pasid_iotlb, c.ih_set,
              pt_page_stats().freed - p0.freed);
    EXPECT_EQ(t, c.waits, COST_PAGES);   /* sync: one flush and wait per unmapped page */
    EXPECT_EQ(t, c.pasid_iotlb, COST_PAGES);
    EXPECT_EQ(t, c.descriptors, 2 * COST_PAGES);
    /* The last unmap emptied the page table and freed it: its flush must
     * drop paging-structure caches too (IH=0, spec 6.5.2.4), which QEMU
     * would not notice, so it is read from the ring. */
    ASSERT_TRUE(t, pt_page_stats().freed > p0.freed, "the unmaps freed no page-table page");
    EXPECT_TRUE(t, c.last_ih == 0, "the flush after page-table pages were freed has IH=%d", c.last_ih);
    uint64_t addr;
    unsigned am;
    qi_range_to_mask(VA_COST + PAGE_SIZE, VA_COST + 3 * PAGE_SIZE, &addr, &am);
    test_metric(t, "pages_flushed_for_2_page_range_at_page_1", 1ul << am, "pages");
    EXPECT_EQ(t, am, 2);
    page_free(pa);
    tear_down(t, &s);
}

TEST_SUITE(sva_stale, 52, 0,
           TEST(remap_without_invalidation_uses_old_translation),
           TEST(pasid_page_invalidation_drops_it),
           TEST(pasid_all_invalidation_drops_it),
           TEST(wrong_pasid_keeps_it),
           TEST(wrong_did_keeps_it),
           TEST(wrong_range_keeps_it),
           TEST(context_cache_alone_keeps_it),
           TEST(pasid_cache_alone_keeps_it),
           TEST(page_selective_flush_is_precise),
           TEST(range_flush_drops_every_page_and_keeps_neighbours),
           TEST(downgrade_needs_invalidation),
           TEST(upgrade_takes_effect_after_invalidation),
           TEST(sync_invalidation_cost));
