/* pwc: which levels of the page walk the unit caches, which invalidations
 * drop them, and whether the page-table form of the 2025 bug (a device
 * walking a freed and reused table through a cached upper-level entry)
 * shows under each reclaim policy. docs/reclaim.md has the
 * background; the sink is its observation method.
 *
 * The probe: in a private first-stage space bound to the device, the
 * device writes through X (its path is now walked, and cacheable), then
 * the PML4E, PDPTE and PDE on X's path are all pointed at the sink without
 * invalidating, an invalidation under test runs (or none), and the device
 * writes through Y(L) for each level L, deepest first, where Y(L) shares
 * with X only the level-L entry and those above it. If the unit kept the
 * old level-L entry, Y(L)'s write lands in its own frame; if it reads the
 * entry again (from memory or from a cached entry above it, both of which
 * now lead to the sink), the walk ends in the sink. Deepest first, so a
 * walk that re-reads from the root (refilling the upper levels with the
 * sink) only happens once those upper levels were dropped anyway.
 *
 * Every case decides by what the device observed, never by the platform:
 * a unit that keeps a paging-structure entry is characterised the same way
 * on QEMU's model (profile hw-model, x-psc=on) and on silicon. The probe
 * checks itself: X's own write after the change must still reach X's
 * frame (the unit keeps translations at all), else Y's re-read could not
 * be told from a unit that caches nothing; such a unit skips, named. */
#include <stdio.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/entry_write.h"
#include "iommu/qi_desc.h"
#include "kernel/work.h"
#include "lib/atomic.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "case_state.h"
#include "vtd_fixture.h"

#define PWC_PASID       1
#define PWC_OTHER_PASID (PWC_PASID + 1)   /* bound to nothing */
#define PWC_OTHER_DID   (FIXTURE_DID + 5) /* used by no fixture (FIXTURE_RMRR_DID is 2) */
#define PWC_SLOT(n)     ((uint64_t)(n) << 39)   /* probe space: a PML4 slot per use, nothing shared between uses */
#define VA_PATTERN      PWC_SLOT(1)
#define VA_X            PWC_SLOT(2)
#define VA_ELSEWHERE    PWC_SLOT(3)   /* shares no entry with X: a page-selective invalidation that misses it */
#define PATTERN_WORD    0x9a77e5a5c0ffee00ul
#define CANARY_WORD     0xca4a41e5ca4a41e5ul
#define GIB             (1ul << 30)
/* The kernel-table walk: two pages sharing one page table, in a 1 GiB
 * slot of their own so the PD and the PT are theirs alone. */
#define VA_WALK_A       (KVA_BASE + 80 * GIB)
#define VA_WALK_B       (VA_WALK_A + PAGE_SIZE)
#define VA_WALK_PATTERN (KVA_BASE + 81 * GIB)

/* Deepest first: the order the probe's Y writes go in. */
static const int probed_levels[] = { PT_LEVEL_PD, PT_LEVEL_PDPT, PT_LEVEL_PML4 };
#define NLEVELS (sizeof(probed_levels) / sizeof(probed_levels[0]))
static const char *const entry_name[] = { [PT_LEVEL_PML4] = "PML4E", [PT_LEVEL_PDPT] = "PDPTE", [PT_LEVEL_PD] = "PDE" };
static const char *const metric_prefix[] = { [PT_LEVEL_PML4] = "pml4e", [PT_LEVEL_PDPT] = "pdpte", [PT_LEVEL_PD] = "pde" };

enum where { NOWHERE, OLD_PATH, SINK };
static const char *const where_name[] = { "nowhere (it faulted)", "the old path (entry kept)", "the sink (entry re-read)" };
static const char *const where_short[] = { "faulted", "kept", "dropped" };

/* Y(L): shares the level-L entry on X's path and those above it, no other. */
static uint64_t va_y(int level) { return VA_X + pt_leaf_size(level - 1); }

/* The private space the device is bound to, its tables written with the
 * unit's coherency in mind, X and every Y(L) mapped. */
struct probe {
    struct sva_fixture sf;
    struct pt_ctx pt;
    const struct vtd_unit *u;    /* set once bound */
    uint64_t pattern, sink, fx, fy[NLEVELS];
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

static void submit(struct test *t, struct probe *p, const struct qi_desc *d)
{
    ASSERT_EQ(t, qi_sync(&p->sf.fx.qi, d, 1), 0);
}

/* Every translation of the PASID dropped, paging-structure entries too
 * (VT-d spec 6.5.2.4, PASID-selective). */
static void invalidate_all(struct test *t, struct probe *p)
{
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                                  .pasid = PWC_PASID }), 0);
    submit(t, p, &d);
}

static void probe_up(struct test *t, struct probe *p)
{
    memset(p, 0, sizeof(*p));
    p->pt = (struct pt_ctx){ .fmt = &pt_format_x86_user_tables, .alloc_table = space_alloc, .table_ptr = space_ptr,
                             .owner = p };
    p->pt.root_pa = space_alloc(p);
    p->pattern = page_alloc();
    p->sink = page_alloc();
    p->fx = page_alloc();
    ASSERT_TRUE(t, p->pt.root_pa && p->pattern && p->sink && p->fx, "out of frames");
    for (unsigned i = 0; i < NLEVELS; i++) {
        p->fy[i] = page_alloc();
        ASSERT_TRUE(t, p->fy[i], "out of frames");
    }
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
    space_map(t, p, VA_X, p->fx);
    for (unsigned i = 0; i < NLEVELS; i++)
        space_map(t, p, va_y(probed_levels[i]), p->fy[i]);
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
    page_free(p->fx);
    for (unsigned i = 0; i < NLEVELS; i++)
        page_free(p->fy[i]);
}

/* The entry at `level` on va's path. */
static uint64_t *entry_at(struct probe *p, uint64_t va, int level)
{
    uint64_t table = p->pt.root_pa;
    for (int l = PT_LEVEL_PML4; l > level; l--)
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(va, l)]);
    return (uint64_t *)phys_to_virt(table) + pt_index(va, level);
}

/* An invalidation under test: the table's rows (VT-d spec 6.5.2). */
enum inv {
    INV_NONE,
    INV_PIOTLB_PAGE_X_IH1,
    INV_PIOTLB_PAGE_X_IH0,
    INV_PIOTLB_PAGE_ELSEWHERE_IH0,
    INV_PIOTLB_PASID,
    INV_PIOTLB_OTHER_PASID,
    INV_PIOTLB_OTHER_DID,
    INV_IOTLB_PAGE_X_IH1,
    INV_IOTLB_PAGE_X_IH0,
    INV_IOTLB_DOMAIN,
    INV_IOTLB_OTHER_DOMAIN,
    INV_IOTLB_GLOBAL,
    INV_CONTEXT_CACHE_GLOBAL,
    INV_PASID_CACHE_GLOBAL,
    INV_IEC_GLOBAL,
    INVS
};

/* must_drop: where the spec requires every paging-structure entry on X's
 * path to go (the section saying so); NULL: the unit may keep them (an
 * invalidation that does not cover them, or IH=1), characterised. */
struct inv_row {
    const char *name, *metric, *must_drop;
};

static const struct inv_row inv_rows[INVS] = {
    [INV_NONE] = { "no invalidation", "none", NULL },
    [INV_PIOTLB_PAGE_X_IH1] = { "PASID-based page-selective X, IH=1", "piotlb_page_x_ih1", NULL },
    [INV_PIOTLB_PAGE_X_IH0] = { "PASID-based page-selective X, IH=0", "piotlb_page_x_ih0",
                                "6.5.2.4: IH=0 drops the paging-structure entries of the range" },
    [INV_PIOTLB_PAGE_ELSEWHERE_IH0] = { "PASID-based page-selective elsewhere, IH=0", "piotlb_page_elsewhere_ih0",
                                        NULL },
    [INV_PIOTLB_PASID] = { "PASID-based PASID-selective", "piotlb_pasid",
                           "6.5.2.4: PASID-selective drops every entry of the PASID" },
    [INV_PIOTLB_OTHER_PASID] = { "PASID-based PASID-selective, other PASID", "piotlb_other_pasid", NULL },
    [INV_PIOTLB_OTHER_DID] = { "PASID-based PASID-selective, other domain", "piotlb_other_did", NULL },
    [INV_IOTLB_PAGE_X_IH1] = { "IOTLB page-selective X, IH=1", "iotlb_page_x_ih1", NULL },
    [INV_IOTLB_PAGE_X_IH0] = { "IOTLB page-selective X, IH=0", "iotlb_page_x_ih0", NULL },
    [INV_IOTLB_DOMAIN] = { "IOTLB domain-selective", "iotlb_domain",
                           "6.5.2.3: domain-selective drops every entry of the domain" },
    [INV_IOTLB_OTHER_DOMAIN] = { "IOTLB domain-selective, other domain", "iotlb_other_domain", NULL },
    [INV_IOTLB_GLOBAL] = { "IOTLB global", "iotlb_global", "6.5.2.3: global drops every entry" },
    [INV_CONTEXT_CACHE_GLOBAL] = { "context-cache global", "context_cache_global", NULL },
    [INV_PASID_CACHE_GLOBAL] = { "PASID-cache global", "pasid_cache_global", NULL },
    [INV_IEC_GLOBAL] = { "interrupt-entry-cache global", "iec_global", NULL },
};

/* What the unit lacks for a row, or NULL. */
static const char *inv_missing(const struct vtd_unit *u, enum inv inv)
{
    if ((inv == INV_IOTLB_PAGE_X_IH1 || inv == INV_IOTLB_PAGE_X_IH0) && !CAP_PSI(u->cap))
        return "page-selective IOTLB invalidation (CAP.PSI = 0)";
    if (inv == INV_IEC_GLOBAL && !ECAP_IR(u->ecap))
        return "interrupt remapping (ECAP.IR = 0)";
    return NULL;
}

static void inv_desc(struct test *t, enum inv inv, struct qi_desc *d)
{
    int err = -E_INVAL;
    switch (inv) {
    case INV_NONE:
    case INVS:
        break;
    case INV_PIOTLB_PAGE_X_IH1:
    case INV_PIOTLB_PAGE_X_IH0:
        err = qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                              .pasid = PWC_PASID, .addr = VA_X,
                                                              .ih = inv == INV_PIOTLB_PAGE_X_IH1 });
        break;
    case INV_PIOTLB_PAGE_ELSEWHERE_IH0:
        err = qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                              .pasid = PWC_PASID, .addr = VA_ELSEWHERE });
        break;
    case INV_PIOTLB_PASID:
        err = qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                              .pasid = PWC_PASID });
        break;
    case INV_PIOTLB_OTHER_PASID:
        err = qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                              .pasid = PWC_OTHER_PASID });
        break;
    case INV_PIOTLB_OTHER_DID:
        err = qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = PWC_OTHER_DID,
                                                              .pasid = PWC_PASID });
        break;
    case INV_IOTLB_PAGE_X_IH1:
    case INV_IOTLB_PAGE_X_IH0:
        err = qi_desc_iotlb(d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = FIXTURE_DID, .addr = VA_X,
                                                  .ih = inv == INV_IOTLB_PAGE_X_IH1 });
        break;
    case INV_IOTLB_DOMAIN:
        err = qi_desc_iotlb(d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = FIXTURE_DID });
        break;
    case INV_IOTLB_OTHER_DOMAIN:
        err = qi_desc_iotlb(d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = PWC_OTHER_DID });
        break;
    case INV_IOTLB_GLOBAL:
        err = qi_desc_iotlb(d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
        break;
    case INV_CONTEXT_CACHE_GLOBAL:
        err = qi_desc_context_cache(d, (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
        break;
    case INV_PASID_CACHE_GLOBAL:
        err = qi_desc_pasid_cache(d, (struct qi_pasid_cache){ .gran = QI_PC_GLOBAL });
        break;
    case INV_IEC_GLOBAL:
        err = qi_desc_iec(d, (struct qi_iec){ 0 });
        break;
    }
    ASSERT_EQ(t, err, 0);
}

/* Where each Y(L) landed after one invalidation (indexed as
 * probed_levels), and whether X's own write still reached X's frame after
 * the change (INV_NONE only). */
struct probe_result {
    enum where y[NLEVELS];
    int x_kept;
    unsigned faults;
};

static void probe_row(struct test *t, struct probe *p, enum inv inv, struct probe_result *r)
{
    memset(r, 0, sizeof(*r));
    fill_words(p->fx, CANARY_WORD);
    for (unsigned i = 0; i < NLEVELS; i++)
        fill_words(p->fy[i], CANARY_WORD);
    invalidate_all(t, p);

    ASSERT_EQ(t, dma_dev_write(&p->sf.dev, VA_X, PAGE_SIZE), 0);
    ASSERT_TRUE(t, words_intact(p->fx, PATTERN_WORD), "the device's write through X did not reach X's frame");
    /* Every entry found before any is changed: once the PML4E points at
     * the sink, the path below it is reachable only through a cache. */
    uint64_t *e[NLEVELS], old[NLEVELS];
    for (unsigned i = 0; i < NLEVELS; i++) {
        e[i] = entry_at(p, VA_X, probed_levels[i]);
        old[i] = READ_ONCE(*e[i]);
    }
    for (unsigned i = 0; i < NLEVELS; i++) {
        WRITE_ONCE(*e[i], sink_entry(p->sink));
        space_written(p, e[i]);
    }
    if (inv != INV_NONE) {
        struct qi_desc d;
        inv_desc(t, inv, &d);
        submit(t, p, &d);
    }
    for (unsigned i = 0; i < NLEVELS; i++) {
        fill_words(p->sink, sink_entry(p->sink));
        ASSERT_EQ(t, dma_dev_write(&p->sf.dev, va_y(probed_levels[i]), PAGE_SIZE), 0);
        r->y[i] = words_intact(p->fy[i], PATTERN_WORD) ? OLD_PATH
                  : !words_intact(p->sink, sink_entry(p->sink)) ? SINK : NOWHERE;
    }
    if (inv == INV_NONE) {
        fill_words(p->fx, CANARY_WORD);
        ASSERT_EQ(t, dma_dev_write(&p->sf.dev, VA_X, PAGE_SIZE), 0);
        r->x_kept = words_intact(p->fx, PATTERN_WORD);
    }
    for (unsigned i = NLEVELS; i-- > 0;) {
        WRITE_ONCE(*e[i], old[i]);
        space_written(p, e[i]);
    }
    invalidate_all(t, p);
    struct vtd_fault_log log;
    fixture_faults(t, &p->sf.fx, &log);
    r->faults = log.count;
}

/* The probe's self-check (see the top): a unit that kept nothing of X
 * skips, the space taken down first. */
static void probe_without_invalidation(struct test *t, struct probe *p, struct probe_result *r)
{
    probe_row(t, p, INV_NONE, r);
    if (!r->x_kept) {
        probe_down(t, p);
        test_skip(t, "the unit kept no translation of X: X's own write after its path changed re-read the tables, "
                  "so a re-read Y cannot tell a paging-structure cache from none");
    }
}

static int level_index(int level)
{
    for (unsigned i = 0; i < NLEVELS; i++)
        if (probed_levels[i] == level)
            return (int)i;
    return -1;
}

/* Whether a level is cached, and kept across IH=1, is the unit's choice:
 * characterised. IH=0 must drop every level (VT-d spec 6.5.2.4): the
 * positive control. */
static void levels_cached_and_kept_across_ih1(struct test *t)
{
    struct probe p;
    struct probe_result none, ih1, ih0;
    probe_up(t, &p);
    probe_without_invalidation(t, &p, &none);
    probe_row(t, &p, INV_PIOTLB_PAGE_X_IH1, &ih1);
    probe_row(t, &p, INV_PIOTLB_PAGE_X_IH0, &ih0);
    probe_down(t, &p);
    for (unsigned i = 0; i < NLEVELS; i++) {
        int level = probed_levels[i], cached = none.y[i] == OLD_PATH, kept = ih1.y[i] == OLD_PATH;
        test_diag(t, "pwc: %-5s cached=%s kept_across_ih1=%s dropped_by_ih0=%s (Y landed in %s; after IH=1 in %s; "
                  "after IH=0 in %s)", entry_name[level], cached ? "yes" : "no", kept ? "yes" : "no",
                  ih0.y[i] != OLD_PATH ? "yes" : "no", where_name[none.y[i]], where_name[ih1.y[i]],
                  where_name[ih0.y[i]]);
        char name[48];
        snprintf(name, sizeof(name), "%s_cached", metric_prefix[level]);
        test_characterisation(t, name, cached, "%s %s cached without invalidation", entry_name[level],
                              cached ? "is" : "is not");
        snprintf(name, sizeof(name), "%s_kept_across_ih1", metric_prefix[level]);
        test_characterisation(t, name, kept, "%s %s kept across a leaf-only (IH=1) invalidation", entry_name[level],
                              kept ? "is" : "is not");
        EXPECT_TRUE(t, ih0.y[i] != OLD_PATH, "%s survived a page-selective invalidation with IH=0 (spec 6.5.2.4: it "
                    "must not)", entry_name[level]);
    }
}

/* The model's table, from the device (issue 21, item 3): for each
 * invalidation type x granularity x IH, which levels survive. Asserted
 * where the spec requires a drop, characterised where the unit may keep. */
static void levels_surviving_each_invalidation(struct test *t)
{
    struct probe p;
    struct probe_result r;
    probe_up(t, &p);
    probe_without_invalidation(t, &p, &r);
    for (enum inv inv = INV_NONE; inv < INVS; inv++) {
        const struct inv_row *row = &inv_rows[inv];
        const char *missing = inv_missing(p.u, inv);
        if (missing) {
            test_diag(t, "pwc: %-42s not probed: the unit has no %s", row->name, missing);
            continue;
        }
        if (inv != INV_NONE)
            probe_row(t, &p, inv, &r);
        test_diag(t, "pwc: %-42s PDE %-7s PDPTE %-7s PML4E %-7s (%s; %u fault(s))", row->name, where_short[r.y[0]],
                  where_short[r.y[1]], where_short[r.y[2]], row->must_drop ? "must drop" : "may keep", r.faults);
        if (!row->must_drop) {
            int kept = 0;
            for (unsigned i = 0; i < NLEVELS; i++)
                kept |= r.y[i] == OLD_PATH;
            test_characterisation(t, row->metric, kept, "after %s: PDE %s, PDPTE %s, PML4E %s", row->name, where_short[r.y[0]], where_short[r.y[1]], where_short[r.y[2]]);
            continue;
        }
        for (unsigned i = 0; i < NLEVELS; i++)
            EXPECT_TRUE(t, r.y[i] != OLD_PATH, "%s survived %s (spec %s)", entry_name[probed_levels[i]], row->name,
                        row->must_drop);
    }
    probe_down(t, &p);
}

/* The page-table form of the 2025 bug, through the kernel's own tables:
 * the device writes through A (its walk caches A's PDE and PDPTE where the
 * unit has paging-structure caches), A and B (which shares A's page table
 * and was never walked) are unmapped so the PD and PT are freed through
 * the policy, their frames are reused and filled with sink entries, and
 * the device writes through B. A stale cached PDE or PDPTE walks the reused
 * table into the sink; a unit that re-walks finds B not present and faults.
 * Under sync the device also writes through B in the window between the
 * unlink and the flush (mm/reclaim.c's hook), with every freed table
 * taken there first: a table freed before its flush completed shows. */
#define WALK_TABLES 2   /* A's PD and PT, reached through A's PDPTE and PDE */
static const int walk_table_parent[WALK_TABLES] = { PT_LEVEL_PDPT, PT_LEVEL_PD };

struct walk_outcome {
    int sink_changed, table_changed;
    int level;           /* the cached entry the walk came through (its freed table changed), 0: none seen */
    uint64_t table_pa;   /* that freed table */
    unsigned reused, faults, window_faults;
    int in_window;       /* the stale walk happened in sync's window */
};

static struct {
    struct sva_fixture *sf;
    uint64_t tables[WALK_TABLES], sink;
    int taken[WALK_TABLES];
    int ran, dma_err;
} walk;

static void take_freed_tables(void)
{
    for (unsigned i = 0; i < WALK_TABLES; i++)
        if (!walk.taken[i] && page_take_specific(walk.tables[i]) == 0) {
            walk.taken[i] = 1;
            fill_words(walk.tables[i], sink_entry(walk.sink));
        }
}

static void walk_in_window(uint64_t start, uint64_t end)
{
    walk.ran = 1;
    take_freed_tables();
    walk.dma_err = dma_dev_write(&walk.sf->dev, VA_WALK_B, PAGE_SIZE);
}

static void window_hook_off(uintptr_t unused) { reclaim_set_window_hook(NULL); }

/* What the device changed: the sink, and the first freed table its walk
 * entered (the shallowest changed, whose parent entry was cached). */
static void walk_observe(struct walk_outcome *o)
{
    o->sink_changed |= !words_intact(walk.sink, sink_entry(walk.sink));
    for (unsigned i = 0; i < WALK_TABLES && !o->level; i++)
        if (walk.taken[i] && !words_intact(walk.tables[i], sink_entry(walk.sink))) {
            o->table_changed = 1;
            o->level = walk_table_parent[i];
            o->table_pa = walk.tables[i];
        }
}

static void stale_table_walk(struct test *t, enum reclaim_policy policy, struct walk_outcome *o)
{
    memset(o, 0, sizeof(*o));
    memset(&walk, 0, sizeof(walk));
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
    walk.sf = &sf;
    walk.sink = sink;
    uint64_t table = kernel_pt()->root_pa;
    for (int level = PT_LEVEL_PML4, n = 0; level > PT_LEVEL_PT; level--) {
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(VA_WALK_A, level)]);
        if (level <= PT_LEVEL_PDPT)
            walk.tables[n++] = table;
    }
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_WALK_PATTERN, PAGE_SIZE), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_WALK_A, PAGE_SIZE), 0);
    ASSERT_TRUE(t, words_intact(fa, PATTERN_WORD), "the device's write through A did not reach A's frame");

    reclaim_set_window_hook(walk_in_window);
    ASSERT_EQ(t, kva_unmap_range(VA_WALK_A, 2 * PAGE_SIZE), 0);
    reclaim_set_window_hook(NULL);
    ASSERT_EQ(t, walk.dma_err, 0);
    struct vtd_fault_log log;
    if (walk.ran) {
        walk_observe(o);
        o->in_window = o->sink_changed || o->table_changed;
        fixture_faults(t, &sf.fx, &log);
        o->window_faults = log.count;
    }
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_stats().pending, 0);
    take_freed_tables();
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_WALK_B, PAGE_SIZE), 0);
    walk_observe(o);
    for (unsigned i = 0; i < WALK_TABLES; i++)
        o->reused += walk.taken[i];
    fixture_faults(t, &sf.fx, &log);
    o->faults = log.count;
    test_diag(t, "pwc: reclaim=%s stale_walk=%s%s (%u of %u freed tables reused; sink %s; reused tables %s; "
              "%u fault(s) after the policy ran%s)", reclaim_policy_name(policy),
              o->sink_changed || o->table_changed ? "yes" : "no", o->in_window ? " in the window before the flush" : "",
              o->reused, WALK_TABLES, o->sink_changed ? "CHANGED" : "untouched",
              o->table_changed ? "CHANGED" : "untouched", o->faults,
              walk.ran ? ", the write in the window too" : "");
    if (o->level)
        test_diag(t, "pwc: reclaim=%s: the walk came through a cached %s (level %d) into the freed table at 0x%lx "
                  "for va 0x%lx", reclaim_policy_name(policy), entry_name[o->level], o->level, o->table_pa,
                  VA_WALK_B);
    for (unsigned i = 0; i < WALK_TABLES; i++)
        if (walk.taken[i])
            page_free(walk.tables[i]);
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

/* First the probe, on the entries the freed tables are reached through
 * (A's PDPTE and PDE). Where it saw the unit keep one, none is the
 * negative control and must reach the sink; where it saw none kept, none
 * is characterised (the walk re-reads and faults). Every fix must leave
 * the sink and the reused tables alone, and B's write must fault. */
static void stale_table_walk_per_policy(struct test *t)
{
    struct probe p;
    struct probe_result r;
    probe_up(t, &p);
    probe_without_invalidation(t, &p, &r);
    probe_down(t, &p);
    test_on_exit(t, window_hook_off, 0);
    int kept = 0;
    for (unsigned i = 0; i < WALK_TABLES; i++)
        if (r.y[level_index(walk_table_parent[i])] == OLD_PATH) {
            test_diag(t, "pwc: the probe saw the unit keep the %s, through which a freed %s is reached",
                      entry_name[walk_table_parent[i]], walk_table_parent[i] == PT_LEVEL_PD ? "PT" : "PD");
            kept = 1;
        }
    for (unsigned i = 0; i < NWALK_POLICIES; i++) {
        struct walk_outcome o;
        stale_table_walk(t, walk_policies[i], &o);
        const char *pn = reclaim_policy_name(walk_policies[i]);
        ASSERT_TRUE(t, o.reused > 0, "no freed table could be reused");
        char name[48];
        snprintf(name, sizeof(name), "stale_walk_%s", pn);
        int stale = o.sink_changed || o.table_changed;
        if (walk_policies[i] == RECLAIM_NONE) {
            if (kept) {
                test_metric(t, name, (uint64_t)stale, "observed");
                EXPECT_TRUE(t, o.sink_changed, "reclaim=none: the unit keeps the entries the freed tables are reached "
                            "through, yet the device's write through B did not land in the sink (tables %s, %u "
                            "fault(s))", o.table_changed ? "changed" : "untouched", o.faults);
                continue;
            }
            test_characterisation(t, name, stale, "under reclaim=none the device %s", stale ?
                                  "walked a freed, reused table (the 2025 bug)" :
                                  "re-walked: no cached upper-level entry was used");
            EXPECT_TRUE(t, stale || o.faults == 1, "reclaim=none: the device re-walked, so B's write should fault "
                        "once, it faulted %u times", o.faults);
            continue;
        }
        test_metric(t, name, (uint64_t)stale, "observed");
        EXPECT_TRUE(t, !stale, "reclaim=%s: the device walked a freed table%s%s%s (sink %s, tables %s)", pn,
                    o.level ? " through a cached " : "", o.level ? entry_name[o.level] : "",
                    o.in_window ? ", in the window before its flush" : "", o.sink_changed ? "changed" : "untouched",
                    o.table_changed ? "changed" : "untouched");
        EXPECT_TRUE(t, o.faults == 1, "reclaim=%s: B is unmapped and its tables flushed, so its write should fault "
                    "once, it faulted %u times", pn, o.faults);
    }
}

TEST_SUITE(pwc, 56, 0,
           TEST(levels_cached_and_kept_across_ih1),
           TEST(levels_surviving_each_invalidation),
           TEST(stale_table_walk_per_policy));
