/* pwc: which levels of the page walk the unit caches, and whether the
 * page-table form of the 2025 bug (a device walking a freed and reused
 * table through a cached upper-level entry) shows under each reclaim
 * policy. docs/reclaim.md has the background; the sink is its
 * observation method.
 *
 * Levels: in a private first-stage space bound to the device, the device
 * writes through X (its path is now walked, and cacheable), then the
 * entry at level L that X and Y share is pointed at the sink without
 * invalidating, and the device writes through Y, which shares only that
 * entry (and those above it) with X. If the unit kept the old level-L
 * entry, the write lands in Y's own frame; if it reads the entry again,
 * the walk ends in the sink. The same with a leaf-only invalidation of X
 * (IH=1, which lets a unit keep paging-structure entries) and a full one
 * (IH=0, which must drop them).
 *
 * Under QEMU, which caches leaf translations only, the hardware cases
 * skip and the qemu_* cases run the same probes with edu and assert
 * QEMU's known behaviour: no level cached, X's leaf cached. */
#include <stdio.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/entry_write.h"
#include "iommu/qi_desc.h"
#include "kernel/exit.h"
#include "kernel/work.h"
#include "lib/atomic.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "case_state.h"
#include "vtd_fixture.h"

#define PWC_PASID     1
#define PWC_SLOT(n)   ((uint64_t)(n) << 39)   /* probe space: a PML4 slot per use, nothing shared between uses */
#define VA_PATTERN    PWC_SLOT(1)
#define VA_X(level)   PWC_SLOT(2 + (level))
#define PATTERN_WORD  0x9a77e5a5c0ffee00ul
#define CANARY_WORD   0xca4a41e5ca4a41e5ul
#define GIB           (1ul << 30)
/* The kernel-table walk: two pages sharing one page table, in a 1 GiB
 * slot of their own so the PD and the PT are theirs alone. */
#define VA_WALK_A     (KVA_BASE + 80 * GIB)
#define VA_WALK_B     (VA_WALK_A + PAGE_SIZE)
#define VA_WALK_PATTERN (KVA_BASE + 81 * GIB)

static const int probed_levels[] = { PT_LEVEL_PML4, PT_LEVEL_PDPT, PT_LEVEL_PD };
#define NLEVELS (sizeof(probed_levels) / sizeof(probed_levels[0]))
static const char *const entry_name[] = { [PT_LEVEL_PML4] = "PML4E", [PT_LEVEL_PDPT] = "PDPTE", [PT_LEVEL_PD] = "PDE" };
static const char *const metric_prefix[] = { [PT_LEVEL_PML4] = "pml4e", [PT_LEVEL_PDPT] = "pdpte", [PT_LEVEL_PD] = "pde" };

enum after_change { NO_INVALIDATION, LEAF_ONLY_IH1, FULL_IH0 };
enum where { NOWHERE, OLD_PATH, SINK };
static const char *const where_name[] = { "nowhere (it faulted)", "the old path (entry kept)", "the sink (entry re-read)" };

/* The private space the device is bound to, its tables written with the
 * unit's coherency in mind. */
struct probe {
    struct sva_fixture sf;
    struct pt_ctx pt;
    const struct vtd_unit *u;    /* set once bound */
    uint64_t pattern, sink;
};

static uint64_t space_alloc(void *owner)
{
    struct probe *p = owner;
    uint64_t pa = page_alloc();
    if (pa && p->u)
        vtd_flush_first_stage_lines(p->u, phys_to_virt(pa), PAGE_SIZE);
    return pa;
}

static void *space_ptr(void *owner, uint64_t pa) { return phys_to_virt(pa); }

static void space_written(void *owner, uint64_t *entry)
{
    struct probe *p = owner;
    vtd_flush_first_stage_lines(p->u, entry, sizeof(*entry));
}

static void space_free(uint64_t pa, int level)
{
    uint64_t *t = phys_to_virt(pa);
    for (int i = 0; level > PT_LEVEL_PT && i < PT_ENTRIES; i++)
        if ((t[i] & PTE_P) && !pte_is_leaf(t[i], level))
            space_free(pte_addr(t[i]), level - 1);
    page_free(pa);
}

static void space_map(struct test *t, struct probe *p, uint64_t va, uint64_t pa)
{
    ASSERT_EQ(t, pt_map_page(&p->pt, va, pa, PT_LEVEL_PT, PTE_RW | PTE_US | PTE_NX), 0);
}

/* Every translation of the PASID dropped, paging-structure entries too. */
static void invalidate_all(struct test *t, struct probe *p)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                                  .pasid = PWC_PASID }), 0);
    ASSERT_EQ(t, qi_sync(&p->sf.fx.qi, &d, 1), 0);
}

static void probe_up(struct test *t, struct probe *p)
{
    memset(p, 0, sizeof(*p));
    p->pt = (struct pt_ctx){ .fmt = &pt_format_x86_user_tables, .alloc_table = space_alloc, .table_ptr = space_ptr,
                             .owner = p };
    p->pt.root_pa = space_alloc(p);
    p->pattern = page_alloc();
    p->sink = page_alloc();
    ASSERT_TRUE(t, p->pt.root_pa && p->pattern && p->sink, "out of frames");
    fill_words(p->pattern, PATTERN_WORD);
    fixture_space_up(t, &p->sf, PWC_PASID, p->pt.root_pa);
    p->u = &p->sf.fx.u;
    p->pt.entry_written = space_written;
    vtd_flush_first_stage_lines(p->u, phys_to_virt(p->pt.root_pa), PAGE_SIZE);
    space_map(t, p, VA_PATTERN, p->pattern);
    if (p->sf.dev.kind == DMA_DEV_DSA) { /* its buffer and record, where it expects them */
        space_map(t, p, DMA_DEV_DSA_VA, p->sf.dev.buffer_pa);
        space_map(t, p, DMA_DEV_DSA_RECORD_VA, p->sf.dev.record_pa);
    }
    invalidate_all(t, p);
    ASSERT_EQ(t, dma_dev_read(&p->sf.dev, VA_PATTERN, PAGE_SIZE), 0);
}

static void probe_down(struct test *t, struct probe *p)
{
    fixture_sva_down(t, &p->sf);
    /* translation is off (fixture_down asserts it): the space can go */
    space_free(p->pt.root_pa, PT_LEVEL_PML4);
    page_free(p->pattern);
    page_free(p->sink);
}

/* The entry at `level` on va's path. */
static uint64_t *entry_at(struct probe *p, uint64_t va, int level)
{
    uint64_t table = p->pt.root_pa;
    for (int l = PT_LEVEL_PML4; l > level; l--)
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(va, l)]);
    return (uint64_t *)phys_to_virt(table) + pt_index(va, level);
}

struct probe_result {
    enum where y;          /* where the write through Y landed */
    int leaf_kept;         /* NO_INVALIDATION only: X's own write still reached X's frame */
    unsigned faults;
};

static void probe_level(struct test *t, struct probe *p, int level, enum after_change how, struct probe_result *r)
{
    memset(r, 0, sizeof(*r));
    uint64_t x = VA_X(level), y = x + pt_leaf_size(level - 1);
    uint64_t fx = page_alloc(), fy = page_alloc();
    ASSERT_TRUE(t, fx && fy, "out of frames");
    fill_words(fx, CANARY_WORD);
    fill_words(fy, CANARY_WORD);
    fill_words(p->sink, sink_entry(p->sink));
    space_map(t, p, x, fx);
    space_map(t, p, y, fy);
    invalidate_all(t, p);

    ASSERT_EQ(t, dma_dev_write(&p->sf.dev, x, PAGE_SIZE), 0);
    ASSERT_TRUE(t, words_intact(fx, PATTERN_WORD), "the device's write through X did not reach X's frame");
    uint64_t *e = entry_at(p, x, level), old = READ_ONCE(*e);
    WRITE_ONCE(*e, sink_entry(p->sink));
    space_written(p, e);
    if (how != NO_INVALIDATION) {
        struct qi_desc d;
        ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                      .pasid = PWC_PASID, .addr = x,
                                                                      .ih = how == LEAF_ONLY_IH1 }), 0);
        ASSERT_EQ(t, qi_sync(&p->sf.fx.qi, &d, 1), 0);
    }
    ASSERT_EQ(t, dma_dev_write(&p->sf.dev, y, PAGE_SIZE), 0);
    r->y = words_intact(fy, PATTERN_WORD) ? OLD_PATH : !words_intact(p->sink, sink_entry(p->sink)) ? SINK : NOWHERE;
    if (how == NO_INVALIDATION) {
        fill_words(fx, CANARY_WORD);
        ASSERT_EQ(t, dma_dev_write(&p->sf.dev, x, PAGE_SIZE), 0);
        r->leaf_kept = words_intact(fx, PATTERN_WORD);
    }
    WRITE_ONCE(*e, old);
    space_written(p, e);
    invalidate_all(t, p);
    struct vtd_fault_log log;
    fixture_faults(t, &p->sf.fx, &log);
    r->faults = log.count;

    /* Tables and frames go back only after the invalidation that covers
     * them, whichever unmap unlinked them. */
    struct pt_unlinked ux, uy;
    ASSERT_EQ(t, pt_unmap_page(&p->pt, x, NULL, &ux), 0);
    ASSERT_EQ(t, pt_unmap_page(&p->pt, y, NULL, &uy), 0);
    invalidate_all(t, p);
    for (int i = 0; i < ux.count; i++)
        page_free(ux.pa[i]);
    for (int i = 0; i < uy.count; i++)
        page_free(uy.pa[i]);
    page_free(fx);
    page_free(fy);
}

/* One level, three ways; the row of the table. */
struct level_row {
    int cached, kept_ih1, dropped_ih0, leaf_kept;
    enum where none, ih1, ih0;
};

static void probe_all_ways(struct test *t, struct probe *p, int level, struct level_row *row)
{
    struct probe_result r;
    probe_level(t, p, level, NO_INVALIDATION, &r);
    row->none = r.y;
    row->leaf_kept = r.leaf_kept;
    probe_level(t, p, level, LEAF_ONLY_IH1, &r);
    row->ih1 = r.y;
    probe_level(t, p, level, FULL_IH0, &r);
    row->ih0 = r.y;
    row->cached = row->none == OLD_PATH;
    row->kept_ih1 = row->ih1 == OLD_PATH;
    row->dropped_ih0 = row->ih0 != OLD_PATH;
    test_diag(t, "pwc: %-5s cached=%s kept_across_ih1=%s dropped_by_ih0=%s leaf_cached=%s (Y landed in %s; after IH=1 "
              "in %s; after IH=0 in %s)", entry_name[level], row->cached ? "yes" : "no", row->kept_ih1 ? "yes" : "no",
              row->dropped_ih0 ? "yes" : "no", row->leaf_kept ? "yes" : "no", where_name[row->none],
              where_name[row->ih1], where_name[row->ih0]);
}

static void skip_on_qemu(struct test *t)
{
    if (platform_is_qemu())
        test_skip(t, "QEMU caches leaf translations only (no paging-structure cache): the qemu_* cases of this "
                  "suite assert that; this one characterises hardware");
}

static void skip_off_qemu(struct test *t)
{
    if (!platform_is_qemu())
        test_skip(t, "not QEMU: the hardware cases of this suite characterise this unit");
}

/* Probes every level three ways in one private space, handing each row
 * to check. */
typedef void (*row_check)(struct test *t, int level, const struct level_row *row);
static void probe_every_level(struct test *t, row_check check)
{
    struct probe p;
    probe_up(t, &p);
    for (unsigned i = 0; i < NLEVELS; i++) {
        struct level_row row;
        probe_all_ways(t, &p, probed_levels[i], &row);
        check(t, probed_levels[i], &row);
    }
    probe_down(t, &p);
}

/* Hardware: whether a level is cached, and kept across IH=1, is the
 * unit's choice: characterised. IH=0 must drop every level (VT-d spec
 * 6.5.2.4): the positive control. */
static void hardware_row(struct test *t, int level, const struct level_row *row)
{
    char name[48];
    snprintf(name, sizeof(name), "%s_cached", metric_prefix[level]);
    test_characterisation(t, name, row->cached, "%s %s cached without invalidation", entry_name[level],
                          row->cached ? "is" : "is not");
    snprintf(name, sizeof(name), "%s_kept_across_ih1", metric_prefix[level]);
    test_characterisation(t, name, row->kept_ih1, "%s %s kept across a leaf-only (IH=1) invalidation",
                          entry_name[level], row->kept_ih1 ? "is" : "is not");
    EXPECT_TRUE(t, row->dropped_ih0, "%s survived a page-selective invalidation with IH=0 (spec 6.5.2.4: it must not)",
                entry_name[level]);
}

/* The table nobody has published. */
static void levels_cached_and_kept_across_ih1(struct test *t)
{
    skip_on_qemu(t);
    probe_every_level(t, hardware_row);
}

/* QEMU (edu): no level is cached, whatever the invalidation, while X's
 * own leaf is (the IOTLB): the probe tells the two apart. */
static void qemu_row(struct test *t, int level, const struct level_row *row)
{
    EXPECT_TRUE(t, row->none == SINK, "%s: Y landed in %s; QEMU has no paging-structure cache", entry_name[level],
                where_name[row->none]);
    EXPECT_TRUE(t, row->ih1 == SINK && row->ih0 == SINK, "%s: after an invalidation Y landed in %s (IH=1), %s (IH=0)",
                entry_name[level], where_name[row->ih1], where_name[row->ih0]);
    EXPECT_TRUE(t, row->leaf_kept, "%s: X's leaf was not cached, so the probe could not tell a cache from none",
                entry_name[level]);
}

static void qemu_caches_leaf_entries_only(struct test *t)
{
    skip_off_qemu(t);
    probe_every_level(t, qemu_row);
    test_diag(t, "no paging-structure cache observed (QEMU caches leaf translations only)");
}

/* The page-table form of the 2025 bug, through the kernel's own tables:
 * the device writes through A (its walk caches A's PDE and PDPTE where the
 * unit has paging-structure caches), A and B (which shares A's page table
 * and was never walked) are unmapped so the PD and PT are freed through
 * the policy, their frames are reused and filled with sink entries, and
 * the device writes through B. A stale cached PDE or PDPTE walks the reused
 * table into the sink; a unit that re-walks finds B not present and faults. */
struct walk_outcome {
    int sink_changed, table_changed;
    unsigned reused, faults;
};

#define WALK_TABLES 2   /* A's PD and PT */

static void stale_table_walk(struct test *t, enum reclaim_policy policy, struct walk_outcome *o)
{
    memset(o, 0, sizeof(*o));
    case_set_reclaim_policy(t, policy);
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PWC_PASID, 0);
    uint64_t pattern = page_alloc(), sink = page_alloc(), fa = page_alloc(), fb = page_alloc();
    ASSERT_TRUE(t, pattern && sink && fa && fb, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    fill_words(sink, sink_entry(sink));
    ASSERT_EQ(t, kva_map(VA_WALK_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_WALK_A, fa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_WALK_B, fb, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    uint64_t tables[WALK_TABLES];
    uint64_t table = kernel_pt()->root_pa;
    for (int level = PT_LEVEL_PML4, n = 0; level > PT_LEVEL_PT; level--) {
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(VA_WALK_A, level)]);
        if (level <= PT_LEVEL_PDPT)
            tables[n++] = table;
    }
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_WALK_PATTERN, PAGE_SIZE), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_WALK_A, PAGE_SIZE), 0);
    ASSERT_TRUE(t, words_intact(fa, PATTERN_WORD), "the device's write through A did not reach A's frame");

    ASSERT_EQ(t, kva_unmap_range(VA_WALK_A, 2 * PAGE_SIZE), 0);
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_stats().pending, 0);
    int taken[WALK_TABLES] = { 0 };
    for (unsigned i = 0; i < WALK_TABLES; i++)
        if (page_take_specific(tables[i]) == 0) {
            taken[i] = 1;
            fill_words(tables[i], sink_entry(sink));
            o->reused++;
        }
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_WALK_B, PAGE_SIZE), 0);
    o->sink_changed = !words_intact(sink, sink_entry(sink));
    for (unsigned i = 0; i < WALK_TABLES; i++)
        o->table_changed |= taken[i] && !words_intact(tables[i], sink_entry(sink));
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    o->faults = log.count;
    test_diag(t, "pwc: reclaim=%s stale_walk=%s (%u of %u freed tables reused; sink %s; reused tables %s; %u fault(s))",
              reclaim_policy_name(policy), o->sink_changed || o->table_changed ? "yes" : "no", o->reused, WALK_TABLES,
              o->sink_changed ? "CHANGED" : "untouched", o->table_changed ? "CHANGED" : "untouched", o->faults);
    for (unsigned i = 0; i < WALK_TABLES; i++)
        if (taken[i])
            page_free(tables[i]);
    ASSERT_EQ(t, kva_unmap(VA_WALK_PATTERN), 0);
    fixture_sva_down(t, &sf);
    page_free(pattern);
    page_free(sink);
    page_free(fa);
    page_free(fb);
}

static const enum reclaim_policy walk_policies[] = { RECLAIM_NONE, RECLAIM_SYNC, RECLAIM_ASYNC, RECLAIM_ASYNC_PERCPU,
                                                     RECLAIM_RCU };
#define NWALK_POLICIES (sizeof(walk_policies) / sizeof(walk_policies[0]))

/* Hardware: none is the negative control (characterised: a unit without
 * paging-structure caches cannot show it); every fix must leave the sink
 * and the reused tables alone. */
static void stale_table_walk_per_policy(struct test *t)
{
    skip_on_qemu(t);
    for (unsigned i = 0; i < NWALK_POLICIES; i++) {
        struct walk_outcome o;
        stale_table_walk(t, walk_policies[i], &o);
        ASSERT_TRUE(t, o.reused > 0, "no freed table could be reused");
        char name[48];
        snprintf(name, sizeof(name), "stale_walk_%s", reclaim_policy_name(walk_policies[i]));
        if (walk_policies[i] == RECLAIM_NONE) {
            test_characterisation(t, name, o.sink_changed || o.table_changed,
                                  "under reclaim=none the device %s", o.sink_changed || o.table_changed ?
                                  "walked a freed, reused table (the 2025 bug)" :
                                  "re-walked: no cached upper-level entry was used");
            continue;
        }
        test_metric(t, name, (uint64_t)(o.sink_changed || o.table_changed), "observed");
        EXPECT_TRUE(t, !o.sink_changed && !o.table_changed, "reclaim=%s: the device walked a freed table",
                    reclaim_policy_name(walk_policies[i]));
    }
}

/* QEMU (edu): with no paging-structure cache, B's walk reads the current
 * tables under every policy, none included: one not-present fault, the
 * sink and the reused tables untouched. */
static void qemu_stale_table_walk_faults_under_every_policy(struct test *t)
{
    skip_off_qemu(t);
    for (unsigned i = 0; i < NWALK_POLICIES; i++) {
        struct walk_outcome o;
        stale_table_walk(t, walk_policies[i], &o);
        const char *name = reclaim_policy_name(walk_policies[i]);
        ASSERT_TRUE(t, o.reused > 0, "no freed table could be reused");
        EXPECT_TRUE(t, !o.sink_changed && !o.table_changed, "reclaim=%s: QEMU has no paging-structure cache, yet a "
                    "walk went through a freed table", name);
        EXPECT_TRUE(t, o.faults == 1, "reclaim=%s: expected the one not-present fault for B, saw %u", name, o.faults);
    }
}

TEST_SUITE(pwc, 56, 0,
           TEST(levels_cached_and_kept_across_ih1),
           TEST(qemu_caches_leaf_entries_only),
           TEST(stale_table_walk_per_policy),
           TEST(qemu_stale_table_walk_faults_under_every_policy));
