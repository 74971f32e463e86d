/* reclaim: the stale page-table reproducer (the shape of the bug CVE-2025-71202 fixed) under
 * every policy, what each policy costs, and the experiments that compare
 * them (docs/reclaim.md has the questions).
 *
 * The reproducer: map a kva page (its page-table pages allocated), let the
 * device write through it, unmap it so its page-table pages are unlinked,
 * let the owner give the data frame back, wait for the policy to free what
 * it holds, hand every freed frame to a new owner, then let the device write
 * through the old VA again. The data frame gets canaries; the table frames
 * get entries that all point at one sink frame (whose entries point at
 * itself), so a device walk through a stale paging-structure-cache entry
 * lands in the sink. Any change is the device reaching memory that is no
 * longer the kernel's to give it.
 *   none: freed at once, no flush: the negative control, which must show
 *         the stale write (QEMU keeps the leaf, so the write goes
 *         through it into the reused data frame; the sink is the signal
 *         where a walk follows a cached entry into a reused table, which
 *         pwc.* observes on units with paging-structure caches);
 *   sync, async, async-percpu, rcu: nothing stale, 0 pages freed before
 *         the flush covering them was seen completed.
 *
 * The suite's other cases: the page-life checks and the accounting in
 * reclaim_life.c, the multi-CPU torture in reclaim_torture.c. */
#include <stdio.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "kernel/clock.h"
#include "kernel/lock.h"
#include "kernel/smp.h"
#include "kernel/work.h"
#include "kernel/san/kasan.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/page_life.h"
#include "mm/reclaim.h"
#include "mm/tlb.h"
#include "vtd_fixture.h"
#include "case_state.h"
#include "reclaim_cases.h"

const enum reclaim_policy fixes[RECLAIM_FIXES] = { RECLAIM_SYNC, RECLAIM_ASYNC, RECLAIM_ASYNC_PERCPU, RECLAIM_RCU };

struct outcome {
    uint64_t stale_pa;             /* first reused frame the device changed, or 0 */
    int stale_level;               /* its table level, 0 for the data frame */
    int sink_changed;
    unsigned frames_reused;
    unsigned faults;
    uint64_t freed_before_flush;   /* by this run */
    struct vtd_consumed flushed;   /* what the unit consumed from the unmap to the reuse */
};

static void run_scenario(struct test *t, enum reclaim_policy policy, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    case_set_reclaim_policy(t, policy);
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    struct reclaim_stats before = reclaim_stats();

    uint64_t data = page_alloc(), pattern = page_alloc(), sink = page_alloc();
    ASSERT_TRUE(t, data && pattern && sink, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    fill_words(sink, sink_entry(sink));
    ASSERT_EQ(t, kva_map(VA_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_TARGET, data, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);

    uint64_t freed[MAX_REUSED];
    int level_of[MAX_REUSED];
    unsigned nfreed = 0;
    freed[nfreed] = data;
    level_of[nfreed++] = 0;
    uint64_t table = kernel_pt()->root_pa;
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(VA_TARGET, level)]);
        if (level <= PT_LEVEL_PDPT) {
            freed[nfreed] = table;
            level_of[nfreed++] = level - 1;
        }
    }

    /* The device loads the pattern and writes it through VA_TARGET: the
     * translation is now cached. */
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_PATTERN, PAGE_SIZE), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_TARGET, PAGE_SIZE), 0);
    ASSERT_TRUE(t, ((uint64_t *)phys_to_virt(data))[0] == PATTERN_WORD, "the first write did not reach the page");

    unsigned head = fixture_unit_head(&sf.fx.qi);
    ASSERT_EQ(t, kva_unmap_range(VA_TARGET, PAGE_SIZE), 0);
    reclaim_release_frame(data); /* the owner lets go of its page, as after vunmap */
    /* Whatever the policy deferred has been done once the work ran. */
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_stats().pending, 0);
    fixture_read_consumed(&sf.fx.qi, head, fixture_unit_head(&sf.fx.qi), &o->flushed);

    /* Someone else gets every freed frame. */
    uint8_t taken[MAX_REUSED] = { 0 };
    for (unsigned i = 0; i < nfreed; i++) {
        if (page_take_specific(freed[i]))
            continue;
        taken[i] = 1;
        fill_words(freed[i], level_of[i] ? sink_entry(sink) : CANARY_WORD);
        o->frames_reused++;
    }

    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_TARGET, PAGE_SIZE), 0);
    for (unsigned i = 0; i < nfreed && !o->stale_pa; i++)
        if (taken[i] && !words_intact(freed[i], level_of[i] ? sink_entry(sink) : CANARY_WORD)) {
            o->stale_pa = freed[i];
            o->stale_level = level_of[i];
        }
    o->sink_changed = !words_intact(sink, sink_entry(sink));
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    o->faults = log.count;
    o->freed_before_flush = reclaim_stats().freed_before_flush - before.freed_before_flush;
    test_diag(t, "reclaim=%s: %u of %u freed frames reused; stale write at 0x%lx (level %d); sink %s; "
              "%u fault(s); %lu page(s) freed before their flush; the unit consumed %u descriptors "
              "(%u waits, %u PASID-based IOTLB) between the unmap and the reuse",
              reclaim_policy_name(policy), o->frames_reused, nfreed, o->stale_pa, o->stale_level,
              o->sink_changed ? "CHANGED" : "untouched", o->faults, o->freed_before_flush,
              o->flushed.descriptors, o->flushed.waits, o->flushed.pasid_iotlb);
    if (!o->sink_changed)
        test_diag(t, "the sink is untouched: no walk went through a reused table frame (pwc.* says whether this "
                  "unit keeps paging-structure entries)");

    for (unsigned i = 0; i < nfreed; i++)
        if (taken[i])
            page_free(freed[i]);
    ASSERT_EQ(t, kva_unmap(VA_PATTERN), 0);
    page_free(pattern);
    page_free(sink);
    fixture_sva_down(t, &sf);
}

/* The negative control: it must reproduce the bug. */
static void none_lets_the_device_write_into_a_reused_frame(struct test *t)
{
    struct outcome o;
    int keeps_leaf = fixture_sva_unit_keeps_leaf(t);
    run_scenario(t, RECLAIM_NONE, &o);
    ASSERT_TRUE(t, o.frames_reused > 0, "no freed frame could be reused");
    EXPECT_TRUE(t, o.freed_before_flush > 0, "page-table pages were freed unflushed, yet none was counted");
    if (!keeps_leaf) {
        test_characterisation(t, "stale_write_into_reused_frame", o.stale_pa || o.sink_changed,
                              "under reclaim=none the device %s", o.stale_pa ? "wrote into a reused frame" :
                              o.sink_changed ? "walked a reused table page into the sink" :
                              "wrote nothing stale: the unit re-walked after the unmap, caching not observed");
        return;
    }
    /* The unit showed it keeps the leaf the device used until it is
     * invalidated (QEMU's IOTLB does, with or without paging-structure
     * caches, x-psc): the write goes through it into the reused data frame. Whether a walk also reached the sink is the
     * paging-structure cache's business, observed by pwc.*, not assumed. */
    EXPECT_TRUE(t, o.stale_pa != 0, "reclaim=none: expected the device to write into a reused frame, it did not");
}

/* A fix: nothing stale, nothing freed early, the write faults, and the
 * unit consumed one PASID-based invalidation and one wait for the whole
 * unmap (sync: on the unmap; the deferred ones: for the batch). */
static void check_fix(struct test *t, enum reclaim_policy p)
{
    struct outcome o;
    run_scenario(t, p, &o);
    ASSERT_TRUE(t, o.frames_reused > 0, "no freed frame could be reused");
    EXPECT_TRUE(t, o.stale_pa == 0, "reclaim=%s: stale write into reused frame at 0x%lx (level %d)",
                reclaim_policy_name(p), o.stale_pa, o.stale_level);
    EXPECT_TRUE(t, !o.sink_changed, "reclaim=%s: a walk reached the sink through a freed table", reclaim_policy_name(p));
    EXPECT_EQ(t, o.freed_before_flush, 0);
    EXPECT_EQ(t, o.faults, 1);
    EXPECT_EQ(t, o.flushed.pasid_iotlb, 1);
    EXPECT_EQ(t, o.flushed.waits, 1);
}

static void sync_leaves_reused_frames_alone(struct test *t) { check_fix(t, RECLAIM_SYNC); }
static void async_leaves_reused_frames_alone(struct test *t) { check_fix(t, RECLAIM_ASYNC); }
static void async_percpu_leaves_reused_frames_alone(struct test *t) { check_fix(t, RECLAIM_ASYNC_PERCPU); }
static void rcu_leaves_reused_frames_alone(struct test *t) { check_fix(t, RECLAIM_RCU); }

/* The policy from the cmdline (reclaim=): the check users run to see their
 * policy hold. Under reclaim=none it reports not ok with the address. */
static void no_stale_access_under_cmdline_policy(struct test *t)
{
    enum reclaim_policy p = (enum reclaim_policy)test_cmdline(t)->reclaim;
    struct outcome o;
    run_scenario(t, p, &o);
    EXPECT_TRUE(t, o.stale_pa == 0, "reclaim=%s: the device wrote into reused frame 0x%lx after it was freed",
                reclaim_policy_name(p), o.stale_pa);
    EXPECT_EQ(t, o.freed_before_flush, 0);
}

/* ------------------------------------------------------------ coverage */

/* Every page a policy unmaps is flushed before the device can reach it
 * again, and nothing beside it is: under each policy every CPU (up to
 * COVER_CPUS) unmaps a range of its own at once and gives its frames back
 * (vfree's shape), so the deferred policies flush ranges other CPUs queued
 * (async-percpu: on other CPUs' lists). The device first writes through the
 * first and last page of each range and a seeded random page between (its
 * IOTLB now holds them); after the policy freed the frames they are taken
 * back and filled with canaries, and the device writes through the old VAs
 * again: every canary must hold (the write faults), while the pages just
 * outside each range, still mapped, must take the device's write. Each
 * device write is a DMA (edu's waits 1-100 ms of virtual time, each a
 * round of timer ticks), so the pages between first and last are sampled,
 * not walked. The ranges are 2^k + 1 pages from an aligned
 * start (a flush one page short uses half the address mask and misses the
 * last page), each in its own aligned block (a flush that loses one CPU's
 * range covers nothing of it). reclaim=none is the negative control: on
 * QEMU every page the device cached takes the stale write. */
#define VA_COVER        RECLAIM_SLOT(24)
#define COVER_CPUS      2u
#define COVER_PAGES     9u               /* 2^3 + 1 */
#define COVER_BLOCK     32u              /* pages between range starts: their masks stay apart */
#define COVER_FIRST     64u              /* the first range's page in the slot, so its left neighbour shares its PT */
#define COVER_CHECKED   3u               /* first, last and one sampled page between */
#define COVER_WAIT_US   2000000u

static const enum reclaim_policy cover_policies[] = { RECLAIM_NONE, RECLAIM_SYNC, RECLAIM_ASYNC, RECLAIM_ASYNC_PERCPU,
                                                      RECLAIM_RCU };

/* Each policy in a 2 MiB region of its own: what reclaim=none left cached
 * is no business of the next policy's. */
static uint64_t cover_va(unsigned policy, unsigned range, int page)
{
    return VA_COVER + (uint64_t)policy * pt_leaf_size(PT_LEVEL_PD) + ((uint64_t)COVER_FIRST + (uint64_t)range * COVER_BLOCK + (uint64_t)(int64_t)page) * PAGE_SIZE;
}

struct cover {
    unsigned ncpus, policy;
    uint64_t frames[COVER_CPUS][COVER_PAGES];
    uint64_t neighbour[COVER_CPUS][2];    /* the pages at -1 and COVER_PAGES */
    unsigned checked[COVER_CPUS][COVER_CHECKED];
    int unmapped, errors;
};

/* splitmix64: the sampled pages follow from the printed seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ul);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ul;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebul;
    return z ^ (z >> 31);
}

static void cover_unmap_part(struct test *t, unsigned index, void *arg)
{
    struct cover *c = arg;
    if (kva_unmap_range(cover_va(c->policy, index, 0), (uint64_t)COVER_PAGES * PAGE_SIZE))
        atomic_add(&c->errors, 1);
    for (unsigned i = 0; i < COVER_PAGES; i++)
        reclaim_release_frame(c->frames[index][i]);
    /* Every CPU has queued its range before any part returns (a worker
     * CPU drains only once its part is done). */
    atomic_add(&c->unmapped, 1);
    if (!WAIT_UNTIL(load_acquire(&c->unmapped) == (int)c->ncpus, COVER_WAIT_US))
        atomic_add(&c->errors, 1);
}

static void cover_one_policy(struct test *t, struct sva_fixture *sf, unsigned policy, uint64_t *rng, int keeps_leaf)
{
    static struct cover c;
    memset(&c, 0, sizeof(c));
    enum reclaim_policy p = cover_policies[policy];
    c.policy = policy;
    c.ncpus = smp_online_count() < COVER_CPUS ? smp_online_count() : COVER_CPUS;
    ASSERT_EQ(t, reclaim_set_policy(p), 0);
    const char *pn = reclaim_policy_name(p);
    for (unsigned r = 0; r < c.ncpus; r++) {
        for (unsigned i = 0; i < COVER_PAGES; i++) {
            ASSERT_TRUE(t, (c.frames[r][i] = page_alloc()) != 0, "out of frames");
            ASSERT_EQ(t, kva_map(cover_va(c.policy, r, (int)i), c.frames[r][i], PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
        }
        for (unsigned n = 0; n < 2; n++) {
            ASSERT_TRUE(t, (c.neighbour[r][n] = page_alloc()) != 0, "out of frames");
            ASSERT_EQ(t, kva_map(cover_va(c.policy, r, n ? (int)COVER_PAGES : -1), c.neighbour[r][n], PT_LEVEL_PT,
                                 PTE_RW | PTE_NX), 0);
        }
        c.checked[r][0] = 0;
        c.checked[r][1] = COVER_PAGES - 1;
        c.checked[r][2] = 1 + (unsigned)(next_random(rng) % (COVER_PAGES - 2));
        /* The device caches the pages it will be checked on. */
        for (unsigned k = 0; k < COVER_CHECKED; k++) {
            unsigned page = c.checked[r][k];
            fill_words(c.frames[r][page], 0);
            ASSERT_EQ(t, dma_dev_write(&sf->dev, cover_va(c.policy, r, (int)page), PAGE_SIZE), 0);
            ASSERT_TRUE(t, ((uint64_t *)phys_to_virt(c.frames[r][page]))[0] == PATTERN_WORD,
                        "reclaim=%s: the device's write through page %u of range %u did not land before the unmap",
                        pn, page, r);
        }
    }
    struct reclaim_stats s0 = reclaim_stats();
    if (c.ncpus > 1)
        test_run_on_cpus(t, c.ncpus, cover_unmap_part, &c);
    else
        cover_unmap_part(t, 0, &c);
    ASSERT_EQ(t, c.errors, 0);
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    unsigned stale = 0, reached = 0, faults = 0;
    for (unsigned r = 0; r < c.ncpus; r++) {
        for (unsigned k = 0; k < COVER_CHECKED; k++) {
            unsigned page = c.checked[r][k];
            uint64_t frame = c.frames[r][page], va = cover_va(c.policy, r, (int)page);
            ASSERT_EQ(t, page_take_specific(frame), 0);
            fill_words(frame, CANARY_WORD);
            ASSERT_EQ(t, dma_dev_write(&sf->dev, va, PAGE_SIZE), 0);
            int changed = !words_intact(frame, CANARY_WORD);
            page_free(frame);
            /* Collected after each write: QEMU folds a device's faults into
             * one record while the last is still pending. */
            struct vtd_fault_log log;
            fixture_faults(t, &sf->fx, &log);
            faults += log.count;
            stale += changed;
            EXPECT_TRUE(t, !changed || p == RECLAIM_NONE, "reclaim=%s: the device wrote through page %u of the %u-page range CPU %u unmapped "
                          "(va 0x%lx) after its frame was freed", pn, page, COVER_PAGES, r, va);
            EXPECT_TRUE(t, changed || p != RECLAIM_NONE || !keeps_leaf, "reclaim=none: the device's cached page %u "
                        "of range %u (va 0x%lx) took no stale write, on a unit that keeps leaf translations", page, r,
                        va);
        }
        for (unsigned n = 0; n < 2; n++) {
            int page = n ? (int)COVER_PAGES : -1;
            fill_words(c.neighbour[r][n], 0);
            ASSERT_EQ(t, dma_dev_write(&sf->dev, cover_va(c.policy, r, page), PAGE_SIZE), 0);
            int landed = ((uint64_t *)phys_to_virt(c.neighbour[r][n]))[0] == PATTERN_WORD;
            reached += landed;
            EXPECT_TRUE(t, landed, "reclaim=%s: the device's write to page %d beside range %u (still mapped) did "
                        "not land", pn, page, r);
        }
    }
    struct reclaim_stats s1 = reclaim_stats();
    test_diag(t, "reclaim=%s: %u CPU(s) unmapped %u pages each; of %u checked pages the device reached %u after "
              "the free, %u fault(s); %u of %u neighbours reached; %lu batch(es)", pn, c.ncpus, COVER_PAGES,
              c.ncpus * COVER_CHECKED, stale, faults, reached, 2 * c.ncpus, s1.batches - s0.batches);
    if (p != RECLAIM_NONE)
        EXPECT_EQ(t, faults, c.ncpus * COVER_CHECKED);
    for (unsigned r = 0; r < c.ncpus; r++)
        for (unsigned n = 0; n < 2; n++) {
            ASSERT_EQ(t, kva_unmap(cover_va(c.policy, r, n ? (int)COVER_PAGES : -1)), 0);
            reclaim_release_frame(c.neighbour[r][n]);
        }
    ASSERT_EQ(t, reclaim_drain(), 0);
    if (p == RECLAIM_NONE) {
        /* none freed the policy's tables unflushed, its PD among them (the
         * regions share one): a unit with paging-structure caches still
         * holds the PDPTE pointing at it, which the next policy's walks
         * would follow. Drop it before the next policy maps anything. */
        struct qi_desc d;
        ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID,
                                                                      .did = FIXTURE_DID, .pasid = PASID }), 0);
        ASSERT_EQ(t, qi_sync(&sf->fx.qi, &d, 1), 0);
    }
}

static void every_policy_flushes_each_unmapped_range_whole(struct test *t)
{
    case_set_reclaim_policy(t, reclaim_get_policy());
    int keeps_leaf = fixture_sva_unit_keeps_leaf(t);
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    uint64_t seed = test_cmdline(t)->seed ? test_cmdline(t)->seed : rdtsc();
    test_diag(t, "sampled pages from seed=%lu (seed= on the cmdline repeats them)", seed);
    uint64_t pattern = page_alloc();
    ASSERT_TRUE(t, pattern, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    ASSERT_EQ(t, kva_map(VA_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_PATTERN, PAGE_SIZE), 0);
    uint64_t rng = seed;
    for (unsigned i = 0; i < sizeof(cover_policies) / sizeof(cover_policies[0]); i++)
        cover_one_policy(t, &sf, i, &rng, keeps_leaf);
    ASSERT_EQ(t, kva_unmap(VA_PATTERN), 0);
    page_free(pattern);
    fixture_sva_down(t, &sf);
}

/* ------------------------------------------------------------------ cost */

/* What one unmap of `pages` pages costs the CPU that unmaps, read from the
 * ring: the descriptors consumed while kva_unmap_range ran, then those of
 * the batch that freed the pages. The unmap runs on the worker CPU, so no
 * batch can run beside it and land in its window. */
struct cost_run {
    struct vtd_qi *q;
    unsigned pages;
    int err;
    struct vtd_consumed on_path;
    uint64_t cycles;
};

static void unmap_measured(struct cost_run *c)
{
    unsigned head = fixture_unit_head(c->q);
    uint64_t t0 = rdtsc();
    c->err = kva_unmap_range(VA_COST, (uint64_t)c->pages * PAGE_SIZE);
    c->cycles = rdtsc() - t0;
    fixture_read_consumed(c->q, head, fixture_unit_head(c->q), &c->on_path);
}

static void unmap_on_worker(struct test *t, unsigned index, void *arg)
{
    if (smp_cpu_id() == work_worker_cpu())
        unmap_measured(arg);
}

static const unsigned cost_sizes[] = { 1, 16, 512 };
#define NSIZES (sizeof(cost_sizes) / sizeof(cost_sizes[0]))

static void unmap_cost_per_policy(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    char name[64];
    for (unsigned pi = 0; pi < NFIXES; pi++) {
        enum reclaim_policy p = fixes[pi];
        case_set_reclaim_policy(t, p);
        for (unsigned si = 0; si < NSIZES; si++) {
            struct cost_run c = { .q = &sf.fx.qi, .pages = cost_sizes[si] };
            for (unsigned i = 0; i < c.pages; i++)
                ASSERT_EQ(t, kva_map(VA_COST + (uint64_t)i * PAGE_SIZE, frame, PT_LEVEL_PT, PTE_NX), 0);
            struct reclaim_stats r0 = reclaim_stats();
            unsigned head = fixture_unit_head(c.q);
            if (work_worker_cpu() == smp_cpu_id())
                unmap_measured(&c);
            else
                test_run_on_cpus(t, smp_online_count(), unmap_on_worker, &c);
            ASSERT_EQ(t, c.err, 0);
            ASSERT_EQ(t, work_flush(), 0);
            struct vtd_consumed all;
            fixture_read_consumed(c.q, head, fixture_unit_head(c.q), &all);
            struct reclaim_stats r1 = reclaim_stats();
            const char *pn = reclaim_policy_name(p);
            test_diag(t, "reclaim=%s, %u-page unmap: %u descriptors (%u waits) on the unmapping CPU's path, "
                      "%u (%u waits, %u page-selective, %u all-in-PASID) in all; %lu table pages freed, "
                      "%lu cycles on the path", pn, c.pages, c.on_path.descriptors, c.on_path.waits,
                      all.descriptors, all.waits, all.pasid_page, all.pasid_all, r1.freed - r0.freed, c.cycles);
            snprintf(name, sizeof(name), "%s_%u_pages_waits_on_path", pn, c.pages);
            test_metric(t, name, c.on_path.waits, "waits");
            snprintf(name, sizeof(name), "%s_%u_pages_descriptors", pn, c.pages);
            test_metric(t, name, all.descriptors, "descriptors");
            snprintf(name, sizeof(name), "%s_%u_pages_path_cycles", pn, c.pages);
            test_metric(t, name, c.cycles, test_timed_unit());
            EXPECT_EQ(t, r1.freed_before_flush, r0.freed_before_flush);
            /* One invalidation and one wait for the whole range: on the
             * path under sync, none there under the deferred policies. */
            EXPECT_EQ(t, all.pasid_iotlb, 1);
            EXPECT_EQ(t, all.waits, 1);
            EXPECT_EQ(t, c.on_path.waits, p == RECLAIM_SYNC ? 1u : 0u);
        }
    }
    page_free(frame);
    fixture_sva_down(t, &sf);
}

/* ------------------------------------------------------ split, collapse */

/* Question 7: every path that frees a kernel page-table page goes through
 * the policy. Splitting a 2 MiB kva leaf (to make one page read-only)
 * allocates a page table; collapsing it back frees that table, which must
 * be flushed like an unmap's (one PASID-based invalidation with IH=0 over
 * the 2 MiB) before it is freed. The negative control collapses around the
 * policy, as the 2026 bug did, and the page-life check catches it; it
 * runs after the accounting case, whose totals it spoils on purpose. */
#define VA_SPLIT RECLAIM_SLOT(5)
#define SPLIT_SIZE pt_leaf_size(PT_LEVEL_PD)

static void dma_lands(struct test *t, struct sva_fixture *sf, uint64_t base_pa, unsigned page)
{
    fill_words(base_pa + (uint64_t)page * PAGE_SIZE, 0);
    ASSERT_EQ(t, dma_dev_write(&sf->dev, VA_SPLIT + (uint64_t)page * PAGE_SIZE, PAGE_SIZE), 0);
    EXPECT_TRUE(t, ((uint64_t *)phys_to_virt(base_pa + (uint64_t)page * PAGE_SIZE))[0] == PATTERN_WORD,
                "the device's write through page %u of the 2 MiB range did not land", page);
}

static void split_and_collapse_free_tables_through_the_policy(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    uint64_t pa = pages_alloc_contig(SPLIT_SIZE / PAGE_SIZE, SPLIT_SIZE / PAGE_SIZE), pattern = page_alloc();
    if (!pa)
        test_skip(t, "no 2 MiB of aligned contiguous free frames");
    ASSERT_TRUE(t, pattern, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    ASSERT_EQ(t, kva_map(VA_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_PATTERN, PAGE_SIZE), 0);
    ASSERT_EQ(t, kva_map(VA_SPLIT, pa, PT_LEVEL_PD, PTE_RW | PTE_NX), 0);
    dma_lands(t, &sf, pa, 5);

    struct pt_page_stats p0 = pt_page_stats();
    ASSERT_EQ(t, kva_split_2m(VA_SPLIT), 0);
    EXPECT_EQ(t, pt_page_stats().allocated - p0.allocated, 1);
    /* What the split is for: one page's attributes, then back. */
    ASSERT_EQ(t, kva_protect(VA_SPLIT + 5 * PAGE_SIZE, PTE_NX), 0);
    ASSERT_EQ(t, kva_protect(VA_SPLIT + 5 * PAGE_SIZE, PTE_RW | PTE_NX), 0);
    dma_lands(t, &sf, pa, 7);

    struct reclaim_stats s0 = reclaim_stats();
    unsigned head = fixture_unit_head(&sf.fx.qi);
    ASSERT_EQ(t, kva_collapse_2m(VA_SPLIT), 0);
    ASSERT_EQ(t, work_flush(), 0);
    struct vtd_consumed c;
    fixture_read_consumed(&sf.fx.qi, head, fixture_unit_head(&sf.fx.qi), &c);
    struct reclaim_stats s1 = reclaim_stats();
    test_diag(t, "collapse under reclaim=%s: %lu table page freed, %lu before its flush; the unit consumed %u "
              "PASID-based invalidations (%u page-selective, last IH %d, %u all-in-PASID)",
              reclaim_policy_name(reclaim_get_policy()), s1.freed - s0.freed,
              s1.freed_before_flush - s0.freed_before_flush, c.pasid_iotlb, c.pasid_page, c.last_ih, c.pasid_all);
    EXPECT_EQ(t, s1.freed - s0.freed, 1);
    EXPECT_EQ(t, s1.freed_before_flush, s0.freed_before_flush);
    EXPECT_EQ(t, c.pasid_iotlb, 1);
    EXPECT_TRUE(t, c.pasid_all == 1 || c.last_ih == 0, "the flush after the collapse kept paging-structure caches (IH=1)");
    int level = 0;
    EXPECT_TRUE(t, pt_lookup(kernel_pt(), VA_SPLIT, &level) && level == PT_LEVEL_PD, "the range is not one 2 MiB leaf again");
    dma_lands(t, &sf, pa, 9);

    /* The negative control: split again, then collapse around the policy
     * and free the table at once. */
    ASSERT_EQ(t, kva_split_2m(VA_SPLIT), 0);
    struct pt_unlinked u;
    ASSERT_EQ(t, pt_collapse_table(kernel_pt(), VA_SPLIT, &u), 0);
    tlb_shootdown(VA_SPLIT, VA_SPLIT + SPLIT_SIZE);
    struct reclaim_stats s2 = reclaim_stats();
    EXPECT_EQ(t, reclaim_free_table(u.pa[0]), 0);
    struct reclaim_stats s3 = reclaim_stats();
    test_diag(t, "collapse around the policy: %lu page(s) caught freed before their flush",
              s3.freed_before_flush - s2.freed_before_flush);
    EXPECT_EQ(t, s3.freed_before_flush - s2.freed_before_flush, 1);

    ASSERT_EQ(t, kva_unmap(VA_SPLIT), 0);
    ASSERT_EQ(t, kva_unmap(VA_PATTERN), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    for (uint64_t off = 0; off < SPLIT_SIZE; off += PAGE_SIZE)
        page_free(pa + off);
    page_free(pattern);
    fixture_sva_down(t, &sf);
}

/* ------------------------------------------------------------- orderings */

/* Question 5: where the device's invalidation sits relative to the
 * page-table lock. The same unmap of a kernel page (tables and frame freed
 * together, as vfree does) under sync, in three orderings: flush under the
 * lock then free; unlock, flush, then free (the default); unlock, free,
 * then flush (the bug). Right before the flush, in the window, another CPU
 * tries to take the frame and fills it with canaries if it got it, and the
 * device writes through the old VA. Only the third may show the write in
 * the other CPU's frame: the hazard is free-before-flush, not
 * flush-after-unlock. */
#define VA_ORDER RECLAIM_SLOT(6)

enum order { FLUSH_UNDER_LOCK, FLUSH_AFTER_UNLOCK, FREE_BEFORE_FLUSH, ORDERS };
static const char *const order_name[ORDERS] = {
    [FLUSH_UNDER_LOCK] = "flush under the lock, then free",
    [FLUSH_AFTER_UNLOCK] = "unlock, flush, then free",
    [FREE_BEFORE_FLUSH] = "unlock, free, then flush",
};

static struct {
    struct sva_fixture *sf;
    uint64_t frame;
    unsigned other;
    int taken, dma_err;
} win;

static void take_in_window(void *arg)
{
    if (page_take_specific(win.frame) == 0) {
        fill_words(win.frame, CANARY_WORD);
        WRITE_ONCE(win.taken, 1);
    }
}

static void in_window(uint64_t start, uint64_t end)
{
    smp_call_on(win.other, take_in_window, NULL);
    win.dma_err = dma_dev_write(&win.sf->dev, VA_ORDER, PAGE_SIZE);
}

static void knobs_off(uintptr_t unused)
{
    kva_set_flush_under_lock(0);
    reclaim_set_free_before_flush(0);
    reclaim_set_window_hook(NULL);
}

static void invalidation_and_the_page_table_lock(struct test *t)
{
    unsigned n = smp_online_count();
    if (n < 2)
        test_skip(t, "needs 2 CPUs, %u online", n);
    static struct sva_fixture sf;
    case_set_reclaim_policy(t, RECLAIM_SYNC);
    fixture_sva_up(t, &sf, PASID, 0);
    test_on_exit(t, knobs_off, 0);
    uint64_t pattern = page_alloc();
    ASSERT_TRUE(t, pattern, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    ASSERT_EQ(t, kva_map(VA_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_PATTERN, PAGE_SIZE), 0);
    int stale[ORDERS];
    for (int o = 0; o < ORDERS; o++) {
        kva_set_flush_under_lock(o == FLUSH_UNDER_LOCK);
        reclaim_set_free_before_flush(o == FREE_BEFORE_FLUSH);
        memset(&win, 0, sizeof(win));
        win.sf = &sf;
        win.other = smp_last_online();
        win.frame = page_alloc();
        ASSERT_TRUE(t, win.frame, "out of frames");
        ASSERT_EQ(t, kva_map(VA_ORDER, win.frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
        ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_ORDER, PAGE_SIZE), 0);
        reclaim_set_window_hook(in_window);
        ASSERT_EQ(t, kva_unmap_free(VA_ORDER), 0);
        reclaim_set_window_hook(NULL);
        ASSERT_EQ(t, win.dma_err, 0);
        stale[o] = win.taken && !words_intact(win.frame, CANARY_WORD);
        if (win.taken)
            page_free(win.frame);
        struct vtd_fault_log log;
        vtd_fault_collect(&sf.fx.u, &log);

        /* The same unmap again, with nothing in the window, for the time
         * the lock was held. */
        uint64_t frame = page_alloc();
        ASSERT_TRUE(t, frame, "out of frames");
        ASSERT_EQ(t, kva_map(VA_ORDER, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
        ASSERT_EQ(t, kva_unmap_free(VA_ORDER), 0);
        uint64_t hold = kva_last_unmap_hold_cycles();
        test_diag(t, "%s: the other CPU %s the frame in the window; the device's write %s; the kva lock was held "
                  "%lu cycles", order_name[o], win.taken ? "took" : "could not take",
                  stale[o] ? "CHANGED ITS CANARIES" : "reached nothing of its", hold);
        static const char *const metric[ORDERS] = { "lock_hold_cycles_flush_under_lock",
                                                    "lock_hold_cycles_flush_after_unlock",
                                                    "lock_hold_cycles_free_before_flush" };
        test_metric(t, metric[o], hold, test_timed_unit());
    }
    knobs_off(0);
    EXPECT_TRUE(t, !stale[FLUSH_UNDER_LOCK], "flush under the lock: a stale write reached the reused frame");
    EXPECT_TRUE(t, !stale[FLUSH_AFTER_UNLOCK], "flush after the unlock: a stale write reached the reused frame");
    EXPECT_TRUE(t, stale[FREE_BEFORE_FLUSH], "free before the flush: expected the stale write, it did not happen");
    ASSERT_EQ(t, kva_unmap(VA_PATTERN), 0);
    page_free(pattern);
    fixture_sva_down(t, &sf);
}

/* ------------------------------------------------------ lock-free walker */

/* Question 4: a walker that takes no lock holds a pointer to a page table
 * while another CPU unmaps and frees it. The walker is the CPU 0 part; the
 * unmapper's drain under rcu cannot finish until the walker leaves its
 * read-side section, so the walker holds it until the drain either
 * finished (nothing waited for the section) or waits for it (a grace
 * period): either way the drain has decided about the table when the
 * walker looks at it. */
#define WALK_STEP_TIMEOUT_US 2000000u

struct walk {
    int reads_freed;     /* the negative control: the table is freed under the walker */
    int phase;           /* 1: the walker holds the PT; 2: it is unmapped */
    int drained;
    int saw_poison, no_pointer, timed_out, undecided;
};

static void walker_part(struct test *t, unsigned index, void *arg)
{
    struct walk *w = arg;
    if (index == 1) {
        if (!WAIT_UNTIL(load_acquire(&w->phase) >= 1, WALK_STEP_TIMEOUT_US))
            test_diag(t, "the walker did not report holding the table within %u us; unmapping anyway",
                      WALK_STEP_TIMEOUT_US);
        ASSERT_EQ(t, kva_unmap(VA_WALK), 0);
        store_release(&w->phase, 2);
        ASSERT_EQ(t, reclaim_drain(), 0);
        store_release(&w->drained, 1);
        return;
    }
    if (index)
        return;
    rcu_read_lock();
    const uint64_t *table = phys_to_virt(kernel_pt()->root_pa);
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        uint64_t e = READ_ONCE(table[pt_index(VA_WALK, level)]);
        if (!pte_present(e)) {
            w->no_pointer = 1;
            break;
        }
        table = phys_to_virt(pte_addr(e));
    }
    store_release(&w->phase, 1);
    struct deadline d = deadline_after_us(WALK_STEP_TIMEOUT_US);
    while (load_acquire(&w->phase) < 2 && !deadline_passed(d))
        cpu_relax();
    w->timed_out = load_acquire(&w->phase) < 2;
    d = deadline_after_us(WALK_STEP_TIMEOUT_US);
    while (!load_acquire(&w->drained) && !rcu_waiting_on(smp_cpu_id()) && !deadline_passed(d))
        cpu_relax();
    w->undecided = !load_acquire(&w->drained) && !rcu_waiting_on(smp_cpu_id());
    /* Under sync and async reading the freed table is what the case shows:
     * the KASAN kernel is told not to report it (docs/sanitizers.md). */
    if (w->reads_freed)
        kasan_disable_current();
    for (unsigned i = 0; i < PT_ENTRIES && !w->no_pointer; i++)
        if (READ_ONCE(table[i]) == PAGE_LIFE_POISON)
            w->saw_poison = 1;
    if (w->reads_freed)
        kasan_enable_current();
    rcu_read_unlock();
}

static void run_walker(struct test *t, enum reclaim_policy p, struct walk *w)
{
    unsigned n = smp_online_count();
    if (n < 2)
        test_skip(t, "needs 2 CPUs, %u online", n);
    if (kva_walker_count())
        test_skip(t, "a walker is already registered");
    case_set_reclaim_policy(t, p);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(VA_WALK, frame, PT_LEVEL_PT, PTE_NX), 0);
    memset(w, 0, sizeof(*w));
    w->reads_freed = p != RECLAIM_RCU;
    struct reclaim_stats s0 = reclaim_stats();
    test_run_on_cpus(t, 2, walker_part, w);
    ASSERT_EQ(t, work_flush(), 0);
    struct reclaim_stats s1 = reclaim_stats();
    test_diag(t, "reclaim=%s: the walker %s a freed, poisoned table; %lu grace period(s) waited",
              reclaim_policy_name(p), w->saw_poison ? "READ" : "never read", s1.grace_periods - s0.grace_periods);
    ASSERT_TRUE(t, !w->no_pointer, "the walker found no table to hold");
    ASSERT_TRUE(t, !w->timed_out, "the unmapper never unmapped");
    ASSERT_TRUE(t, !w->undecided, "the drain neither finished nor waited for the walker's section in %u us",
                WALK_STEP_TIMEOUT_US);
    EXPECT_EQ(t, s1.freed - s0.freed, 2);
    page_free(frame);
}

static void walker_reads_freed_table_under_sync(struct test *t)
{
    struct walk w;
    run_walker(t, RECLAIM_SYNC, &w);
    EXPECT_TRUE(t, w.saw_poison, "reclaim=sync: expected the lock-free walker to read the freed table, it did not");
}

static void walker_reads_freed_table_under_async(struct test *t)
{
    struct walk w;
    run_walker(t, RECLAIM_ASYNC, &w);
    EXPECT_TRUE(t, w.saw_poison, "reclaim=async: expected the lock-free walker to read the freed table, it did not");
}

static void walker_never_reads_freed_table_under_rcu(struct test *t)
{
    struct walk w;
    run_walker(t, RECLAIM_RCU, &w);
    EXPECT_TRUE(t, !w.saw_poison, "reclaim=rcu: the walker read a table freed inside its read-side section");
}

TEST_SUITE(reclaim, 51, 0,
           TEST(none_lets_the_device_write_into_a_reused_frame),
           TEST(sync_leaves_reused_frames_alone),
           TEST(async_leaves_reused_frames_alone),
           TEST(async_percpu_leaves_reused_frames_alone),
           TEST(rcu_leaves_reused_frames_alone),
           TEST(no_stale_access_under_cmdline_policy),
           TEST(every_policy_flushes_each_unmapped_range_whole),
           TEST(unmap_cost_per_policy),
           TEST(pages_stay_pending_until_a_flush_is_seen_completed),
           TEST(pending_pages_stay_bounded),
           TEST(a_drain_waits_out_a_slow_unit_without_a_lock_violation),
           TEST(a_drain_inside_a_read_side_section_frees_after_it),
           TEST(walker_reads_freed_table_under_sync),
           TEST(walker_reads_freed_table_under_async),
           TEST(walker_never_reads_freed_table_under_rcu),
           TEST(invalidation_and_the_page_table_lock),
           TEST_WITH_TIMEOUT(torture_under_none_shows_stale_accesses, 60000),
           TEST_WITH_TIMEOUT(torture_under_every_fix_stays_clean, 120000),
           TEST(page_table_pages_accounted),
           TEST(a_leaked_table_page_shows_in_the_walk),
           TEST(bypass_and_double_free_are_caught),
           TEST(split_and_collapse_free_tables_through_the_policy));
