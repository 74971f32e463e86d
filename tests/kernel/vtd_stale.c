/* vtd_stale: what the device uses after its mapping changes, with each
 * invalidation, the wrong ones, and none. Every scenario: the device
 * writes a pattern through IOVA T, which caches T -> page A; T is then
 * remapped to page B (or unmapped), an invalidation (or none) follows, and
 * the device writes again. Where the pattern lands says which translation
 * it used. The spec allows a unit to re-walk instead of using a stale entry,
 * so what a unit must keep is asserted only on a unit that showed, once per
 * boot, that it keeps a leaf translation until it is invalidated (the leaf
 * probe in set_up; QEMU's IOTLB does); on any other it is characterised. */
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/inv_reg.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define IOVA_T       FIXTURE_IOVA
#define IOVA_X       (FIXTURE_IOVA + PAGE_SIZE)   /* the pattern page; keeps T's page table alive */
#define IOVA_FAR     (FIXTURE_IOVA + 8 * PAGE_SIZE)
#define IOVA_PAIR    (FIXTURE_IOVA + (4ul << 20))    /* STRADDLE_PAGES pages, aligned to them */
#define PAIR_AM      1                               /* 2^1 pages: the pair */
#define IOVA_ALONE   (FIXTURE_IOVA + (2ul << 20))    /* alone in its page table: its unmap unlinks the table */
#define PATTERN_WORD 0xc0ffee0000000000ul

struct stale {
    struct vtd_fixture fx;
    uint64_t a, b, x;
    int use_qi;
    int keeps_leaf;   /* the leaf probe: the unit keeps leaf translations until invalidated */
};

static enum landed device_write(struct test *t, struct stale *s)
{
    memset(phys_to_virt(s->a), 0, PAGE_SIZE);
    memset(phys_to_virt(s->b), 0, PAGE_SIZE);
    ASSERT_EQ(t, fixture_dma_from_device(&s->fx, IOVA_T, PAGE_SIZE), 0);
    return where_pattern_landed(s->a, s->b, PATTERN_WORD);
}

/* T -> A cached by one device write; X holds the pattern the device reads. */
static void scene_up(struct test *t, struct stale *s, int use_qi)
{
    memset(s, 0, sizeof(*s));
    s->use_qi = use_qi;
    if (use_qi)
        fixture_qi_up(t, &s->fx);
    else
        fixture_legacy_up(t, &s->fx);
    s->a = page_alloc();
    s->b = page_alloc();
    s->x = page_alloc();
    ASSERT_TRUE(t, s->a && s->b && s->x, "out of frames");
    fill_pattern(s->x, PATTERN_WORD);
    ASSERT_EQ(t, vtd_domain_map(&s->fx.dom, IOVA_X, s->x, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, vtd_domain_map(&s->fx.dom, IOVA_T, s->a, PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, fixture_dma_to_device(&s->fx, IOVA_X, PAGE_SIZE), 0);
    enum landed first = device_write(t, s);
    ASSERT_TRUE(t, first == LANDED_IN_A, "before any change the write landed in %s", landed_name[first]);
}

static void tear_down(struct test *t, struct stale *s);

/* The leaf probe, once per boot: T written through (cached), unmapped
 * with no invalidation, written through again. A unit that keeps the leaf
 * still reaches A; one that re-walks faults. */
static int leaf_kept = -1;

/* Call before the case's own fixture: the probe brings its own up and down. */
static int unit_keeps_leaf(struct test *t)
{
    if (leaf_kept < 0) {
        struct stale p;
        scene_up(t, &p, 1);
        ASSERT_EQ(t, vtd_domain_unmap(&p.fx.dom, IOVA_T), 0);
        leaf_kept = device_write(t, &p) == LANDED_IN_A;
        struct vtd_fault_log log;
        fixture_faults(t, &p.fx, &log);
        test_diag(t, "leaf probe: after an unmap with no invalidation the device's write %s", leaf_kept ?
                  "still reached the old page: the unit keeps second-stage leaf translations" :
                  "did not reach the old page: the unit re-walked");
        tear_down(t, &p);
    }
    return leaf_kept;
}

static void set_up(struct test *t, struct stale *s, int use_qi)
{
    int keeps_leaf = unit_keeps_leaf(t);
    scene_up(t, s, use_qi);
    s->keeps_leaf = keeps_leaf;
}

static void remap_to_b(struct test *t, struct stale *s)
{
    ASSERT_EQ(t, vtd_domain_unmap(&s->fx.dom, IOVA_T), 0);
    ASSERT_EQ(t, vtd_domain_map(&s->fx.dom, IOVA_T, s->b, PT_LEVEL_PT, SL_RW), 0);
}

static void tear_down(struct test *t, struct stale *s)
{
    fixture_down(t, &s->fx);
    page_free(s->a);
    page_free(s->b);
    page_free(s->x);
}

static void invalidate_iotlb(struct test *t, struct stale *s, unsigned gran, uint16_t did, uint64_t addr)
{
    if (s->use_qi) {
        struct qi_desc d;
        ASSERT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = gran, .did = did, .addr = addr }), 0);
        ASSERT_EQ(t, qi_sync(&s->fx.qi, &d, 1), 0);
    } else {
        ASSERT_EQ(t, vtd_reg_invalidate_iotlb(&s->fx.u, (enum vtd_inv_granularity)gran, did, addr, 0), 0);
    }
}

static void expect_stale(struct test *t, struct stale *s, const char *after)
{
    /* Under caching mode the remap's map is invalidated by the driver
     * itself (vtd_domain_map): nothing stale is left to see. */
    if (CAP_CM(s->fx.u.cap))
        test_skip(t, "the unit is in caching mode (CAP.CM = 1): every map is invalidated, so no stale translation "
                  "is left");
    enum landed l = device_write(t, s);
    if (!s->keeps_leaf && (l == LANDED_IN_A || l == LANDED_IN_B)) {
        test_characterisation(t, "stale_translation_used", l == LANDED_IN_A, "after %s the %s", after,
                              l == LANDED_IN_A ? "device still used the old translation: cached"
                                               : "unit re-walked the tables: caching not observed");
        return;
    }
    EXPECT_TRUE(t, l == LANDED_IN_A, "after %s the device should still use T -> A, its write landed in %s", after,
                landed_name[l]);
}

static void expect_fresh(struct test *t, struct stale *s, const char *after)
{
    enum landed l = device_write(t, s);
    EXPECT_TRUE(t, l == LANDED_IN_B, "after %s the device should use T -> B, its write landed in %s", after,
                landed_name[l]);
    struct vtd_fault_log log;
    fixture_faults(t, &s->fx, &log);
    EXPECT_EQ(t, log.count, 0);
}

/* The negative controls: no invalidation, the old translation is used. */
static void remap_without_invalidation_uses_old_translation(struct test *t)
{
    struct stale s;
    set_up(t, &s, 1);
    remap_to_b(t, &s);
    expect_stale(t, &s, "a remap with no invalidation");
    tear_down(t, &s);
}

static void unmap_without_invalidation_still_translates(struct test *t)
{
    struct stale s;
    set_up(t, &s, 1);
    ASSERT_EQ(t, vtd_domain_unmap(&s.fx.dom, IOVA_T), 0);
    expect_stale(t, &s, "an unmap with no invalidation");
    struct vtd_fault_log log;
    fixture_faults(t, &s.fx, &log);
    if (s.keeps_leaf)
        EXPECT_EQ(t, log.count, 0);
    tear_down(t, &s);
}

/* A remap, then one IOTLB invalidation (through the queue or the
 * registers), then where the device's write lands. */
static void remap_then_invalidate(struct test *t, int use_qi, unsigned gran, uint16_t did, uint64_t addr,
                                  int expect_fresh_translation, const char *after)
{
    struct stale s;
    set_up(t, &s, use_qi);
    remap_to_b(t, &s);
    invalidate_iotlb(t, &s, gran, did, addr);
    if (expect_fresh_translation)
        expect_fresh(t, &s, after);
    else
        expect_stale(t, &s, after);
    tear_down(t, &s);
}

/* The right invalidations. */
static void page_selective_invalidation_drops_it(struct test *t)
{
    remap_then_invalidate(t, 1, QI_IOTLB_PAGE, FIXTURE_DID, IOVA_T, 1, "a page-selective IOTLB invalidation of T");
}

static void domain_selective_invalidation_drops_it(struct test *t)
{
    remap_then_invalidate(t, 1, QI_IOTLB_DOMAIN, FIXTURE_DID, 0, 1, "a domain-selective IOTLB invalidation");
}

static void global_invalidation_drops_it(struct test *t)
{
    remap_then_invalidate(t, 1, QI_IOTLB_GLOBAL, 0, 0, 1, "a global IOTLB invalidation");
}

static void register_page_invalidation_drops_it(struct test *t)
{
    remap_then_invalidate(t, 0, QI_IOTLB_PAGE, FIXTURE_DID, IOVA_T, 1,
                          "a page-selective invalidation through the IOTLB registers");
}

static void unmap_then_invalidation_faults(struct test *t)
{
    struct stale s;
    set_up(t, &s, 1);
    ASSERT_EQ(t, vtd_domain_unmap(&s.fx.dom, IOVA_T), 0);
    invalidate_iotlb(t, &s, QI_IOTLB_PAGE, FIXTURE_DID, IOVA_T);
    enum landed l = device_write(t, &s);
    EXPECT_TRUE(t, l == LANDED_NOWHERE, "after unmap and invalidation the write landed in %s", landed_name[l]);
    struct vtd_fault_log log;
    fixture_faults(t, &s.fx, &log);
    EXPECT_EQ(t, log.count, 1);
    tear_down(t, &s);
}

/* The wrong ones keep the stale entry. */
static void wrong_domain_invalidation_keeps_it(struct test *t)
{
    remap_then_invalidate(t, 1, QI_IOTLB_DOMAIN, FIXTURE_DID + 1, 0, 0,
                          "a domain-selective invalidation of another DID");
}

static void wrong_page_invalidation_keeps_it(struct test *t)
{
    remap_then_invalidate(t, 1, QI_IOTLB_PAGE, FIXTURE_DID, IOVA_FAR, 0,
                          "a page-selective invalidation of another page");
}

static void context_cache_invalidation_alone_keeps_it(struct test *t)
{
    struct stale s;
    set_up(t, &s, 1);
    remap_to_b(t, &s);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_GLOBAL }), 0);
    ASSERT_EQ(t, qi_sync(&s.fx.qi, &d, 1), 0);
    expect_stale(t, &s, "a context-cache invalidation alone");
    tear_down(t, &s);
}

static int register_page_invalidation(struct vtd_fixture *fx, uint64_t iova, unsigned am)
{
    return vtd_reg_invalidate_iotlb(&fx->u, VTD_INV_DEVICE_OR_PAGE, FIXTURE_DID, iova, am);
}

/* Two pages remapped and one page-selective invalidation with the mask
 * that covers both (am 1), or one short (am 0): what the device then
 * uses for each page, its last page included. */
static void pair_remap_then_invalidate(struct test *t, int use_qi, unsigned am, enum landed landed[STRADDLE_PAGES])
{
    struct stale s;
    memset(&s, 0, sizeof(s));
    if (use_qi)
        fixture_qi_up(t, &s.fx);
    else
        fixture_legacy_up(t, &s.fx);
    if (!CAP_PSI(s.fx.u.cap) || CAP_MAMV(s.fx.u.cap) < PAIR_AM)
        test_skip(t, "the unit has no page-selective invalidation of %u pages (CAP.PSI %lu, CAP.MAMV %lu)",
                  1u << PAIR_AM, (unsigned long)CAP_PSI(s.fx.u.cap), (unsigned long)CAP_MAMV(s.fx.u.cap));
    /* Past a short mask only a cached translation can show; under caching
     * mode vtd_domain_map invalidated each new one already. */
    if (am < PAIR_AM && CAP_CM(s.fx.u.cap))
        test_skip(t, "the unit is in caching mode (CAP.CM = 1): every map is invalidated, so no stale translation "
                  "is left");
    s.x = page_alloc();
    ASSERT_TRUE(t, s.x, "out of frames");
    fill_pattern(s.x, PATTERN_WORD);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_X, s.x, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, fixture_dma_to_device(&s.fx, IOVA_X, PAGE_SIZE), 0);
    fixture_straddled_remap(t, &s.fx, IOVA_PAIR, use_qi ? fixture_qi_iotlb_page : register_page_invalidation, am,
                            landed);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        test_diag(t, "am %u: page %u's part of the write landed in %s", am, i, landed_name[landed[i]]);
    fixture_down(t, &s.fx);
    page_free(s.x);
}

static void expect_every_page_fresh(struct test *t, int use_qi)
{
    enum landed l[STRADDLE_PAGES];
    pair_remap_then_invalidate(t, use_qi, PAIR_AM, l);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        EXPECT_TRUE(t, l[i] == LANDED_IN_B, "after a page-selective invalidation of %u pages (am %u) page %u's write "
                    "landed in %s", 1u << PAIR_AM, PAIR_AM, i, landed_name[l[i]]);
}

static void page_selective_invalidation_covers_every_page_of_its_mask(struct test *t) { expect_every_page_fresh(t, 1); }

static void register_page_invalidation_covers_every_page_of_its_mask(struct test *t) { expect_every_page_fresh(t, 0); }

/* The negative control: a mask one short leaves the last page stale. */
static void mask_one_short_leaves_the_last_page_stale(struct test *t)
{
    enum landed l[STRADDLE_PAGES];
    int keeps_leaf = unit_keeps_leaf(t);
    pair_remap_then_invalidate(t, 1, PAIR_AM - 1, l);
    EXPECT_TRUE(t, l[0] == LANDED_IN_B, "the first page, inside the mask, landed in %s", landed_name[l[0]]);
    if (keeps_leaf) {
        EXPECT_TRUE(t, l[1] == LANDED_IN_A, "the last page, outside the mask, landed in %s: the invalidation "
                    "reached past its mask or nothing was cached", landed_name[l[1]]);
    } else {
        ASSERT_TRUE(t, l[1] != LANDED_NOWHERE, "the last page's write landed nowhere");
        test_characterisation(t, "stale_translation_used", l[1] == LANDED_IN_A, "past the mask the %s",
                              l[1] == LANDED_IN_A ? "device still used the old translation: cached"
                                                  : "unit re-walked the tables: caching not observed");
    }
}

/* The page table a second-stage leaf sits in, read from the tables. */
static uint64_t leaf_table(struct vtd_domain *d, uint64_t iova)
{
    uint64_t pa = d->pt.root_pa;
    for (int level = d->levels; level > PT_LEVEL_PT; level--) {
        uint64_t e = ((uint64_t *)phys_to_virt(pa))[pt_index(iova, level)];
        if (!(e & SL_RW) || pte_is_leaf(e, level))
            return 0;
        pa = pte_addr(e);
    }
    return pa;
}

/* The unmap of the last page of a page table while the device caches a
 * translation through it: the table must stay out of the pool until an
 * invalidation covering it completed (a unit with a paging-structure cache
 * may still walk it). Before: the device's write still uses the old
 * translation and the frame cannot be taken by a new owner. After the
 * domain's flush: the frame is back and the write faults. */
static void unmap_of_a_tables_last_page_keeps_the_table_until_invalidated(struct test *t)
{
    struct stale s;
    set_up(t, &s, 1);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_ALONE, s.a, PT_LEVEL_PT, SL_RW), 0);
    uint64_t table = leaf_table(&s.fx.dom, IOVA_ALONE);
    ASSERT_TRUE(t, table != 0, "no page table on the path of 0x%lx", IOVA_ALONE);
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, fixture_dma_from_device(&s.fx, IOVA_ALONE, PAGE_SIZE), 0); /* caches IOVA_ALONE -> A */
    ASSERT_EQ(t, vtd_domain_unmap(&s.fx.dom, IOVA_ALONE), 0);
    int taken = page_take_specific(table) == 0;
    if (taken) {
        /* The new owner's use of the frame: entries the unit would follow
         * into the sink page if it still walked the table. */
        fill_words(table, sink_entry(s.b));
    }
    memset(phys_to_virt(s.a), 0, PAGE_SIZE);
    ASSERT_EQ(t, fixture_dma_from_device(&s.fx, IOVA_ALONE, PAGE_SIZE), 0);
    enum landed l = where_pattern_landed(s.a, s.b, PATTERN_WORD);
    test_diag(t, "after the unmap, before any invalidation: the device's write landed in %s; the unlinked table at "
              "0x%lx was %s", landed_name[l], table, taken ? "TAKEN by a new owner" : "still held");
    EXPECT_TRUE(t, !taken, "the page table at 0x%lx went back to the pool before any invalidation (the device's write "
                "through it landed in %s)", table, landed_name[l]);
    if (taken)
        page_free(table);
    ASSERT_EQ(t, vtd_domain_flush(&s.fx.dom), 0);
    EXPECT_EQ(t, page_take_specific(table), 0);
    page_free(table);
    ASSERT_EQ(t, fixture_dma_from_device(&s.fx, IOVA_ALONE, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &s.fx, &log);
    EXPECT_EQ(t, log.count, 1);
    tear_down(t, &s);
}

TEST_SUITE(vtd_stale, 43, 0,
           TEST(remap_without_invalidation_uses_old_translation),
           TEST(unmap_without_invalidation_still_translates),
           TEST(page_selective_invalidation_drops_it),
           TEST(domain_selective_invalidation_drops_it),
           TEST(global_invalidation_drops_it),
           TEST(register_page_invalidation_drops_it),
           TEST(unmap_then_invalidation_faults),
           TEST(wrong_domain_invalidation_keeps_it),
           TEST(wrong_page_invalidation_keeps_it),
           TEST(context_cache_invalidation_alone_keeps_it),
           TEST(unmap_of_a_tables_last_page_keeps_the_table_until_invalidated),
           TEST(page_selective_invalidation_covers_every_page_of_its_mask),
           TEST(register_page_invalidation_covers_every_page_of_its_mask),
           TEST(mask_one_short_leaves_the_last_page_stale));
