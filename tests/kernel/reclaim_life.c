/* reclaim, page life: no page-table page is freed before a flush that
 * covers it was seen completed (a failed or slow flush, a drain inside a
 * read-side section, the bound on what is pending), and the accounting
 * across every suite: no page leaked, none freed twice, a bypass caught. */
#include <stdio.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "kernel/clock.h"
#include "kernel/exit.h"
#include "kernel/lock.h"
#include "kernel/smp.h"
#include "kernel/work.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "mm/tlb.h"
#include "vtd_fixture.h"
#include "case_state.h"
#include "reclaim_cases.h"

/* ------------------------------------------------ life checks, bad input */

/* A walker with no device behind it, whose answers the case chooses; it
 * needs nothing of the tables. */
static struct {
    int err;          /* what flush returns */
    int completes;    /* whether its wait is seen completed */
    uint64_t seq, calls;
} fake;

static int fake_flush(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    fake.calls++;
    if (fake.err)
        return fake.err;
    *seq = ++fake.seq;
    return 0;
}

static int fake_completed(struct kva_walker *w, uint64_t seq) { return fake.completes && seq <= fake.seq; }

static struct kva_walker fake_walker = { .name = "fake", .snoops = 1, .flush = fake_flush, .completed = fake_completed };

/* The table frames of the single page mapped at va. */
static unsigned tables_of(uint64_t va, uint64_t *out)
{
    unsigned n = 0;
    uint64_t table = kernel_pt()->root_pa;
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        table = pte_addr(((uint64_t *)phys_to_virt(table))[pt_index(va, level)]);
        if (level <= PT_LEVEL_PDPT)
            out[n++] = table;
    }
    return n;
}

static int frame_now_free(uint64_t pa)
{
    if (page_take_specific(pa))
        return 0;
    page_free(pa);
    return 1;
}

/* A flush that fails, one that returns without its wait completing, and a
 * drain with no walker registered: the pages stay pending each time, reported,
 * never freed; the first flush that is seen completed frees them. */
void pages_stay_pending_until_a_flush_is_seen_completed(struct test *t)
{
    if (kva_walker_count())
        test_skip(t, "a walker is already registered");
    case_set_reclaim_policy(t, RECLAIM_ASYNC);
    case_unregister_walker_after(t, &fake_walker);
    memset(&fake, 0, sizeof(fake));
    fake.err = -E_TIMEDOUT;
    ASSERT_EQ(t, kva_walker_register(&fake_walker), 0);
    uint64_t data = page_alloc();
    ASSERT_TRUE(t, data, "out of frames");
    ASSERT_EQ(t, kva_map(VA_LIFE, data, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    uint64_t tables[PT_LEVELS];
    unsigned n = tables_of(VA_LIFE, tables);
    struct reclaim_stats s0 = reclaim_stats();
    ASSERT_EQ(t, kva_unmap(VA_LIFE), 0);
    reclaim_release_frame(data);

    EXPECT_EQ(t, reclaim_drain(), -E_TIMEDOUT);
    EXPECT_EQ(t, reclaim_stats().pending, s0.pending + n + 1);
    for (unsigned i = 0; i < n; i++)
        EXPECT_TRUE(t, !frame_now_free(tables[i]), "table 0x%lx was freed after a failed flush", tables[i]);
    EXPECT_TRUE(t, !frame_now_free(data), "the data frame was freed after a failed flush");

    /* Unbinding drains first; that fails too, and then nobody can flush. */
    EXPECT_EQ(t, kva_walker_unregister(&fake_walker), -E_TIMEDOUT);
    EXPECT_EQ(t, reclaim_drain(), -E_NODEV);
    EXPECT_EQ(t, reclaim_stats().pending, s0.pending + n + 1);

    /* Binding again drains first, still with nobody to flush; then a
     * flush that says it is done while its wait has not written. */
    fake.err = 0;
    EXPECT_EQ(t, kva_walker_register(&fake_walker), -E_NODEV);
    EXPECT_EQ(t, reclaim_drain(), -E_IO);
    EXPECT_EQ(t, reclaim_stats().pending, s0.pending + n + 1);

    fake.completes = 1;
    EXPECT_EQ(t, reclaim_drain(), 0);
    struct reclaim_stats s1 = reclaim_stats();
    EXPECT_EQ(t, s1.pending, s0.pending);
    EXPECT_EQ(t, s1.freed_before_flush, s0.freed_before_flush);
    EXPECT_TRUE(t, s1.flush_errors >= s0.flush_errors + 3, "%lu failed flushes counted, expected 3 or more",
                s1.flush_errors - s0.flush_errors);
    for (unsigned i = 0; i < n; i++)
        EXPECT_TRUE(t, frame_now_free(tables[i]), "table 0x%lx is still not free", tables[i]);
    EXPECT_TRUE(t, frame_now_free(data), "the data frame is still not free");
    test_diag(t, "%lu flush attempts for one batch of %u pages", fake.calls, n + 1);
}

/* Pending pages are bounded: the CPU that would overfill its list drains
 * it first. */
#define ASYNC_PENDING_BOUND (2 * RECLAIM_LIST_MAX)

void pending_pages_stay_bounded(struct test *t)
{
    case_set_reclaim_policy(t, RECLAIM_ASYNC);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    reclaim_reset_peak();
    struct reclaim_stats s0 = reclaim_stats();
    /* Each round frees a PD and a PT: enough for several full lists. */
    const unsigned rounds = 4 * RECLAIM_LIST_MAX;
    for (unsigned i = 0; i < rounds; i++) {
        ASSERT_EQ(t, kva_map(VA_LIFE, frame, PT_LEVEL_PT, PTE_NX), 0);
        ASSERT_EQ(t, kva_unmap(VA_LIFE), 0);
    }
    ASSERT_EQ(t, work_flush(), 0);
    struct reclaim_stats s1 = reclaim_stats();
    test_metric(t, "pending_peak", s1.pending_peak, "pages");
    test_metric(t, "forced_drains", s1.forced_drains - s0.forced_drains, "drains");
    test_metric(t, "batches", s1.batches - s0.batches, "batches");
    /* What the design bounds, however the host schedules the worker: one
     * full list, and one batch (the list it took) still in flight on the
     * worker while the list fills again. */
    EXPECT_TRUE(t, s1.pending_peak <= ASYNC_PENDING_BOUND, "%lu pages were pending at once, the bound is %u",
                s1.pending_peak, ASYNC_PENDING_BOUND);
    EXPECT_EQ(t, s1.pending, 0);
    EXPECT_EQ(t, s1.freed - s0.freed, 2 * rounds);
    page_free(frame);
}

/* A drain holds its lock while it waits for the unit and for a grace
 * period, which may together outlast the spinlock limit
 * (LOCK_SPIN_LIMIT_MS) on a slow unit: a CPU that wants to drain meanwhile
 * waits for it, bounded by what a drain may take, instead of failing the
 * case with a lock violation. The slow unit is the bound one behind a
 * walker that first waits a little past the lock limit and stands in for
 * the binding's; the deferred
 * drain on the worker holds the lock through it while this CPU drains. */
#define SLOW_UNIT_US ((uint64_t)LOCK_SPIN_LIMIT_MS * US_PER_MS + 500000u)
#define VA_SLOW      RECLAIM_SLOT(30)

static struct {
    struct kva_walker *unit;
    int in_flush;
} slow;

static int slow_flush(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    store_release(&slow.in_flush, 1);
    udelay(SLOW_UNIT_US);
    return slow.unit->flush(slow.unit, start, end, tables_freed, seq);
}

static int slow_completed(struct kva_walker *w, uint64_t seq) { return slow.unit->completed(slow.unit, seq); }

static struct kva_walker slow_walker = { .name = "slow", .flush = slow_flush, .completed = slow_completed };

void a_drain_waits_out_a_slow_unit_without_a_lock_violation(struct test *t)
{
    unsigned n = smp_online_count();
    if (n < 2)
        test_skip(t, "needs 2 CPUs, %u online", n);
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    case_set_reclaim_policy(t, RECLAIM_ASYNC);
    memset(&slow, 0, sizeof(slow));
    slow.unit = &sf.sva.walker;
    ASSERT_TRUE(t, !slow.unit->caches_not_present, "the binding's walker is not the plain one (caching mode?)");
    slow_walker.user = slow.unit->user;
    slow_walker.snoops = slow.unit->snoops;
    case_unregister_walker_after(t, &slow_walker);
    ASSERT_EQ(t, kva_walker_register(&slow_walker), 0);
    ASSERT_EQ(t, kva_walker_unregister(slow.unit), 0);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(VA_SLOW, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    struct reclaim_stats s0 = reclaim_stats();
    ASSERT_EQ(t, kva_unmap(VA_SLOW), 0);
    reclaim_release_frame(frame);
    /* The deferred drain is on the worker CPU, inside the slow flush. */
    ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&slow.in_flush), SLOW_UNIT_US),
                "the deferred drain did not reach the flush in %lu us", SLOW_UNIT_US);
    uint64_t t0 = clock_us();
    EXPECT_EQ(t, reclaim_drain(), 0);
    test_diag(t, "this CPU waited %lu us for the drain on cpu %u (the lock limit is %u ms)", clock_us() - t0,
              work_worker_cpu(), LOCK_SPIN_LIMIT_MS);
    ASSERT_EQ(t, work_flush(), 0);
    struct reclaim_stats s1 = reclaim_stats();
    EXPECT_EQ(t, s1.pending, s0.pending);
    EXPECT_EQ(t, s1.freed_before_flush, s0.freed_before_flush);
    EXPECT_TRUE(t, frame_now_free(frame), "the data frame was not freed after the slow flush");
    ASSERT_EQ(t, kva_walker_register(slow.unit), 0);
    ASSERT_EQ(t, kva_walker_unregister(&slow_walker), 0);
    fixture_sva_down(t, &sf);
}

/* Under rcu, a CPU whose list fills inside a read-side section drains it
 * there: the grace period that batch needs cannot come before the section
 * ends, so the batch is left, flushed, for the drain after it. Nothing is
 * freed inside the section, the drain there reports no failure, and
 * everything is freed after it. The worker CPU is kept in a part of the
 * case meanwhile, so its own drain cannot hold the lock through the
 * section. */
#define SECTION_FRAMES  (2 * RECLAIM_LIST_MAX + 1)
#define SECTION_WAIT_US 5000000u

static struct {
    uint64_t frames[SECTION_FRAMES];
    int drain_err, done;
    unsigned freed_inside;
} section;

static void release_inside_a_section(struct test *t, unsigned index, void *arg)
{
    if (index) {
        if (!WAIT_UNTIL(load_acquire(&section.done), SECTION_WAIT_US))
            test_diag(t, "the section's part did not finish in %u us", SECTION_WAIT_US);
        return;
    }
    rcu_read_lock();
    for (unsigned i = 0; i < SECTION_FRAMES; i++)
        reclaim_release_frame(section.frames[i]); /* forced drains inside */
    section.drain_err = reclaim_drain();
    for (unsigned i = 0; i < SECTION_FRAMES; i++)
        section.freed_inside += frame_now_free(section.frames[i]);
    rcu_read_unlock();
    store_release(&section.done, 1);
}

void a_drain_inside_a_read_side_section_frees_after_it(struct test *t)
{
    if (kva_walker_count())
        test_skip(t, "a walker is already registered");
    case_set_reclaim_policy(t, RECLAIM_RCU);
    memset(&section, 0, sizeof(section));
    for (unsigned i = 0; i < SECTION_FRAMES; i++)
        ASSERT_TRUE(t, (section.frames[i] = page_alloc()) != 0, "out of frames");
    struct reclaim_stats s0 = reclaim_stats();
    if (smp_online_count() > 1)
        test_run_on_cpus(t, 2, release_inside_a_section, NULL);
    else
        release_inside_a_section(t, 0, NULL);
    struct reclaim_stats s1 = reclaim_stats();
    test_diag(t, "%u frames released inside one read-side section: %lu forced drain(s), the drain there gave %s, "
              "%u frame(s) free before the section ended", SECTION_FRAMES, s1.forced_drains - s0.forced_drains,
              err_name(section.drain_err), section.freed_inside);
    EXPECT_EQ(t, section.drain_err, 0);
    EXPECT_EQ(t, section.freed_inside, 0);
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    unsigned free_after = 0;
    for (unsigned i = 0; i < SECTION_FRAMES; i++)
        free_after += frame_now_free(section.frames[i]);
    EXPECT_EQ(t, free_after, SECTION_FRAMES);
}


/* ------------------------------------------------------------ accounting */

/* Across everything the suites did: no page-table page leaked, none was
 * freed twice, none is still pending. */
void page_table_pages_accounted(struct test *t)
{
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct reclaim_stats s = reclaim_stats();
    struct pt_page_stats p = pt_page_stats();
    test_metric(t, "pt_pages_allocated", p.allocated, "pages");
    test_metric(t, "pt_pages_freed", p.freed, "pages");
    test_metric(t, "pt_pages_live", s.tracked, "pages");
    test_metric(t, "pt_pages_freed_before_flush", s.freed_before_flush, "pages");
    test_metric(t, "kva_flushes", s.flushes, "flushes");
    test_metric(t, "pending_peak", s.pending_peak, "pages");
    EXPECT_EQ(t, p.allocated - p.freed, s.tracked);
    EXPECT_EQ(t, s.double_frees, 0);
    EXPECT_EQ(t, s.unlinked, s.freed);
    EXPECT_EQ(t, s.pending, 0);
    /* Independently of the counters: the tables the tree really links, and
     * the free frames the allocator's bitmap really shows. */
    uint64_t walked = kernel_table_pages();
    test_metric(t, "pt_pages_reachable", walked, "pages");
    EXPECT_EQ(t, walked, p.allocated - p.freed);
    EXPECT_EQ(t, frames_free_counted(), frames_free_count());
}

/* The accounting check above can fail: a page-table page allocated and
 * never linked (a leak) makes the walk and the counters differ by one. */
void a_leaked_table_page_shows_in_the_walk(struct test *t)
{
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct pt_page_stats p0 = pt_page_stats();
    EXPECT_EQ(t, kernel_table_pages(), p0.allocated - p0.freed);
    uint64_t leaked = pt_page_alloc();
    ASSERT_TRUE(t, leaked, "out of frames");
    struct pt_page_stats p1 = pt_page_stats();
    uint64_t walked = kernel_table_pages();
    test_diag(t, "walked %lu, allocated and not freed %lu", walked, p1.allocated - p1.freed);
    EXPECT_EQ(t, p1.allocated - p1.freed - walked, 1);
    /* Given back, the two agree again. */
    ASSERT_EQ(t, reclaim_free_table(leaked), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct pt_page_stats p2 = pt_page_stats();
    EXPECT_EQ(t, kernel_table_pages(), p2.allocated - p2.freed);
}

/* A path that frees a page-table page around the policy, while a device is
 * bound, is caught by the life check; freeing it again is refused. Runs
 * after the accounting case, whose totals it spoils on purpose. */
void bypass_and_double_free_are_caught(struct test *t)
{
    if (kva_walker_count())
        test_skip(t, "a walker is already registered");
    case_unregister_walker_after(t, &fake_walker);
    memset(&fake, 0, sizeof(fake));
    fake.completes = 1;
    ASSERT_EQ(t, kva_walker_register(&fake_walker), 0);
    uint64_t pa = pt_page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    struct reclaim_stats s0 = reclaim_stats();
    EXPECT_EQ(t, reclaim_free_table(pa), 0);
    EXPECT_EQ(t, reclaim_free_table(pa), -E_EXIST);
    struct reclaim_stats s1 = reclaim_stats();
    EXPECT_EQ(t, s1.freed_before_flush - s0.freed_before_flush, 1);
    EXPECT_EQ(t, s1.double_frees - s0.double_frees, 1);
    EXPECT_EQ(t, fake.calls, 0);
}
