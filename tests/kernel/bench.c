/* bench_unmap, bench_scaling: the reclaim policies measured side by side
 * (docs/reclaim.md, questions 1-3). Explicit suites: they run only
 * when a tests= pattern names them (`make bench`, `vtdlab bench`). Each
 * measurement repeats bench_iters times and prints its median, p99 and
 * count; counted figures (descriptors and waits the unit was given, table
 * pages freed) come first, timed ones carry their platform in the unit.
 *
 * bench_unmap (one CPU unmapping, edu bound by SVA so the policy has a
 * unit to flush): an unmap of 1, 16 and 512 kva pages under each policy
 * in bench_policies (and, for the deferred ones, reclaim_flush=all as well),
 * against the same unmap with nothing to flush for (the baseline), measured
 * in the same stretch of the boot, before the policies and again after
 * them (baseline-end), so a drift of the machine under them shows.
 * bench_collateral (edu bound, async): what a batch's flush costs devices
 * elsewhere, question 3. The device keeps a working set of pages in the
 * kva area hot while batches elsewhere are flushed by range or all in
 * PASID; it reads the working set after every flush, and QEMU's IOTLB
 * trace (hits and updates, counted by the host per working set) shows the
 * misses the flush caused. Each mode has its own working set, so the host
 * can tell them apart by address. After each flush the device also reads
 * one page next to its working set that it has not read before: its walk
 * cannot be saved by the IOTLB, only by the paging-structure caches, so on
 * a unit that has them (hw-model: x-psc) QEMU's vtd_psc_hit/vtd_psc_miss
 * trace shows at which level each walk started, i.e. which non-leaf
 * entries the flush dropped.
 * bench_queue (the invalidation queue on its own, legacy mode): a batch of
 * 0..64 page-selective IOTLB invalidations and its wait, submitted and
 * waited for: cycles per batch and per descriptor.
 * bench_scaling (no device: what the free path itself costs): 1..N CPUs
 * unmapping 16-page ranges at once, per policy: unmaps per second per CPU
 * and the cycles spent on the free path's list lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/clock.h"
#include "kernel/lock.h"
#include "kernel/smp.h"
#include "kernel/work.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "vtd_fixture.h"
#include "case_state.h"

/* A rate's unit with the platform's words after it. */
#define TIMED_UNIT_MAX 48

#define PASID        1
#define GIB          (1ul << 30)
#define VA_BENCH     (KVA_BASE + 300 * GIB)
#define VA_SCALE(c)  (KVA_BASE + (uint64_t)(310 + (c)) * GIB)
#define SCALE_PAGES  16u
#define BENCH_WARMUP 5u

static const unsigned sizes[] = { 1, 16, 512 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The timed samples of the CPU that reports them (CPU 0's part). */
static uint64_t samples[BENCH_ITERS_MAX];

static int policy_wanted(struct test *t, enum reclaim_policy p)
{
    uint64_t want = test_cmdline(t)->bench_policies;
    return !want || (want & BENCH_POLICY(p));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median, p99 (nearest rank) and count of n samples, as three metrics. */
static void report(struct test *t, const char *name, uint64_t *v, unsigned n, const char *unit)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    char m[96];
    snprintf(m, sizeof(m), "%s_median", name);
    test_metric(t, m, v[n / 2], unit);
    snprintf(m, sizeof(m), "%s_p99", name);
    test_metric(t, m, v[(n * 99 + 99) / 100 - 1], unit);
    snprintf(m, sizeof(m), "%s_count", name);
    test_metric(t, m, n, "samples");
}

static void map_range(struct test *t, uint64_t va, uint64_t frame, unsigned pages)
{
    for (unsigned i = 0; i < pages; i++)
        ASSERT_EQ(t, kva_map(va + (uint64_t)i * PAGE_SIZE, frame, PT_LEVEL_PT, PTE_NX), 0);
}

struct run {
    unsigned iters, pages;
    int per_page;     /* one kva_unmap per page, as sync did before ranges */
    uint64_t frame;
};

/* The unmaps run on the deferred-work CPU itself: no batch runs beside
 * them to stretch their time (under icount the vCPUs share one clock), and
 * batches form as they would under load (the list fills, a forced drain
 * takes it). */
static void unmap_loop(struct test *t, unsigned index, void *arg)
{
    struct run *r = arg;
    if (smp_cpu_id() != work_worker_cpu())
        return;
    for (unsigned i = 0; i < r->iters; i++) {
        map_range(t, VA_BENCH, r->frame, r->pages);
        uint64_t t0 = rdtsc();
        if (r->per_page)
            for (unsigned k = 0; k < r->pages; k++)
                ASSERT_EQ(t, kva_unmap(VA_BENCH + (uint64_t)k * PAGE_SIZE), 0);
        else
            ASSERT_EQ(t, kva_unmap_range(VA_BENCH, (uint64_t)r->pages * PAGE_SIZE), 0);
        samples[i] = rdtsc() - t0;
    }
}

/* The loop on the worker CPU, and every batch it left freed. */
static void run_loop(struct test *t, struct run *r)
{
    if (work_worker_cpu() == smp_cpu_id())
        unmap_loop(t, 0, r);
    else
        test_run_on_cpus(t, smp_online_count(), unmap_loop, r);
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
}

/* One configuration: iters unmaps of `pages` pages, timed on the unmapping
 * CPU; the descriptors and waits the unit was given meanwhile and until
 * the last batch was freed. */
static void measure(struct test *t, const char *label, unsigned pages, struct vtd_qi *q, uint64_t frame)
{
    unsigned iters = (unsigned)test_cmdline(t)->bench_iters;
    struct run r = { iters < BENCH_WARMUP ? iters : BENCH_WARMUP, pages, strstr(label, "per-page") != NULL, frame };
    /* A few unrecorded rounds first: the emulator translates code on first
     * use, which would otherwise land in the first samples. */
    run_loop(t, &r);
    r.iters = iters;
    uint64_t d0 = q ? READ_ONCE(q->descriptors) : 0, w0 = q ? READ_ONCE(q->waits) : 0;
    reclaim_reset_peak();
    struct reclaim_stats s0 = reclaim_stats();
    uint64_t start = rdtsc();
    run_loop(t, &r);
    uint64_t elapsed = rdtsc() - start;
    struct reclaim_stats s1 = reclaim_stats();
    char name[96];
    snprintf(name, sizeof(name), "%s_%upages_unmap", label, pages);
    report(t, name, samples, iters, test_timed_unit());
    if (q) {
        uint64_t d = READ_ONCE(q->descriptors) - d0, w = READ_ONCE(q->waits) - w0;
        snprintf(name, sizeof(name), "%s_%upages_invalidations", label, pages);
        test_metric(t, name, d - w, "descriptors");
        snprintf(name, sizeof(name), "%s_%upages_waits", label, pages);
        test_metric(t, name, w, "waits");
    }
    snprintf(name, sizeof(name), "%s_%upages_tables_freed", label, pages);
    test_metric(t, name, s1.freed - s0.freed, "pages");
    snprintf(name, sizeof(name), "%s_%upages_unmaps", label, pages);
    test_metric(t, name, iters, "unmaps");
    if (reclaim_policy_defers(reclaim_get_policy())) {
        uint64_t freed = s1.deferred_freed - s0.deferred_freed, batches = s1.batches - s0.batches;
        snprintf(name, sizeof(name), "%s_%upages_pending_peak", label, pages);
        test_metric(t, name, s1.pending_peak, "pages");
        snprintf(name, sizeof(name), "%s_%upages_batches", label, pages);
        test_metric(t, name, batches, "batches");
        snprintf(name, sizeof(name), "%s_%upages_batches_per_s", label, pages);
        char unit[TIMED_UNIT_MAX];
        snprintf(unit, sizeof(unit), "batches/s%s", test_platform_suffix());
        test_metric(t, name, elapsed ? batches * clock_tsc_hz() / elapsed : 0, unit);
        snprintf(name, sizeof(name), "%s_%upages_unmap_to_free_mean", label, pages);
        test_metric(t, name, freed ? (s1.defer_cycles_sum - s0.defer_cycles_sum) / freed : 0, test_timed_unit());
    }
    if (q && reclaim_get_policy() != RECLAIM_NONE)
        EXPECT_EQ(t, s1.freed_before_flush - s0.freed_before_flush, 0);
}

static void restore_flush_mode(uintptr_t m) { reclaim_set_flush_mode((enum reclaim_flush)m); }

/* The no-device cost of the same unmaps: the binding's walker unregistered,
 * so mm sees what it sees with no device bound (nothing to flush, every
 * page freed at once, table writes left in the caches; the device makes no
 * request meanwhile), while the
 * rest of the machine is as the policies find it. Measured once, first in
 * the boot and before the binding, the baseline read up to 10x
 * reclaim=none with edu bound, which does the same work: an unmap's time
 * is mostly its remote TLB shootdown's round trip (without it a 512-page
 * unmap took 0.9M cycles here; with it every configuration took 16M to
 * 66M on a loaded host), which is set by when the host runs the other
 * vCPU's thread, not by the guest. So the baseline is measured next to
 * the policies, before and after them, and the report withholds the
 * comparison when the two disagree. */
static void measure_baseline(struct test *t, const char *label, struct kva_walker *w, uint64_t frame)
{
    enum reclaim_policy p = reclaim_get_policy();
    ASSERT_EQ(t, kva_walker_unregister(w), 0);
    ASSERT_EQ(t, reclaim_set_policy(RECLAIM_SYNC), 0);
    for (unsigned s = 0; s < NSIZES; s++)
        measure(t, label, sizes[s], NULL, frame);
    ASSERT_EQ(t, kva_walker_register(w), 0);
    ASSERT_EQ(t, reclaim_set_policy(p), 0);
}

static void unmap_cost(struct test *t)
{
    case_set_reclaim_policy(t, reclaim_get_policy());
    test_on_exit(t, restore_flush_mode, reclaim_get_flush_mode());
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    measure_baseline(t, "baseline", &sf.sva.walker, frame);
    /* Every invalidation the binding's queue is given from here to the
     * unbind, warm-up rounds included: what QEMU's trace of the run must
     * show, plus the binding's and the unbinding's own. */
    uint64_t bound0 = READ_ONCE(sf.fx.qi.descriptors) - READ_ONCE(sf.fx.qi.waits);
    /* What sync cost before range flushes: one flush and wait per page. */
    if (policy_wanted(t, RECLAIM_SYNC)) {
        ASSERT_EQ(t, reclaim_set_policy(RECLAIM_SYNC), 0);
        for (unsigned s = 0; s < NSIZES; s++)
            measure(t, "sync-per-page", sizes[s], &sf.fx.qi, frame);
    }
    for (enum reclaim_policy p = RECLAIM_NONE; p < RECLAIM_POLICIES; p++) {
        if (!policy_wanted(t, p))
            continue;
        ASSERT_EQ(t, reclaim_set_policy(p), 0);
        for (int all = 0; all <= reclaim_policy_defers(p); all++) {
            reclaim_set_flush_mode(all ? RECLAIM_FLUSH_ALL : RECLAIM_FLUSH_RANGE);
            char label[48];
            snprintf(label, sizeof(label), "%s%s", reclaim_policy_name(p), all ? "+all" : "");
            for (unsigned s = 0; s < NSIZES; s++)
                measure(t, label, sizes[s], &sf.fx.qi, frame);
        }
    }
    measure_baseline(t, "baseline-end", &sf.sva.walker, frame);
    test_metric(t, "bound_invalidations", READ_ONCE(sf.fx.qi.descriptors) - READ_ONCE(sf.fx.qi.waits) - bound0,
                "descriptors");
    fixture_sva_down(t, &sf);
    page_free(frame);
}

/* --------------------------------------------------------- collateral */

#define WS_PAGES     8u
/* One working set per flush mode; tools/vtdlabtool/bench.py knows them.
 * Its pages are the first WS_PAGES of the slot; the page read cold after
 * round r is page WS_PAGES + r, in the same page table. */
#define VA_WS(mode)  (KVA_BASE + (uint64_t)(320 + (mode)) * GIB)
#define COLLATERAL_ROUNDS_MAX 4u
#define WS_MAPPED    (WS_PAGES + COLLATERAL_ROUNDS_MAX)

static void flush_collateral(struct test *t)
{
    case_set_reclaim_policy(t, reclaim_get_policy());
    test_on_exit(t, restore_flush_mode, reclaim_get_flush_mode());
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, PASID, 0);
    ASSERT_EQ(t, reclaim_set_policy(RECLAIM_ASYNC), 0);
    uint64_t ws = page_alloc(), frame = page_alloc();
    ASSERT_TRUE(t, ws && frame, "out of frames");
    unsigned rounds = (unsigned)test_cmdline(t)->bench_iters;
    rounds = rounds < COLLATERAL_ROUNDS_MAX ? rounds : COLLATERAL_ROUNDS_MAX;
    for (int all = 0; all <= 1; all++) {
        reclaim_set_flush_mode(all ? RECLAIM_FLUSH_ALL : RECLAIM_FLUSH_RANGE);
        for (unsigned i = 0; i < WS_MAPPED; i++)
            ASSERT_EQ(t, kva_map(VA_WS(all) + (uint64_t)i * PAGE_SIZE, ws, PT_LEVEL_PT, PTE_NX), 0);
        for (unsigned i = 0; i < WS_PAGES; i++)
            ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_WS(all) + (uint64_t)i * PAGE_SIZE, PAGE_SIZE), 0);
        uint64_t d0 = READ_ONCE(sf.fx.qi.descriptors) - READ_ONCE(sf.fx.qi.waits);
        for (unsigned r = 0; r < rounds; r++) {
            map_range(t, VA_BENCH, frame, SCALE_PAGES);
            ASSERT_EQ(t, kva_unmap_range(VA_BENCH, (uint64_t)SCALE_PAGES * PAGE_SIZE), 0);
            ASSERT_EQ(t, reclaim_drain(), 0);
            /* The cold page first: after an all-in-PASID flush its walk is
             * the one that finds no paging-structure entry left. */
            ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_WS(all) + (uint64_t)(WS_PAGES + r) * PAGE_SIZE, PAGE_SIZE), 0);
            for (unsigned i = 0; i < WS_PAGES; i++)
                ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_WS(all) + (uint64_t)i * PAGE_SIZE, PAGE_SIZE), 0);
        }
        char name[64];
        const char *mode = reclaim_flush_name(reclaim_get_flush_mode());
        snprintf(name, sizeof(name), "%s_flushes", mode);
        test_metric(t, name, READ_ONCE(sf.fx.qi.descriptors) - READ_ONCE(sf.fx.qi.waits) - d0, "descriptors");
        snprintf(name, sizeof(name), "%s_working_set_reads", mode);
        test_metric(t, name, (uint64_t)rounds * WS_PAGES, "pages");
        snprintf(name, sizeof(name), "%s_cold_reads", mode);
        test_metric(t, name, rounds, "pages");
        ASSERT_EQ(t, kva_unmap_range(VA_WS(all), (uint64_t)WS_MAPPED * PAGE_SIZE), 0);
        ASSERT_EQ(t, reclaim_drain(), 0);
    }
    page_free(ws);
    page_free(frame);
    fixture_sva_down(t, &sf);
}

/* -------------------------------------------------------------- queue */

static const unsigned batch_sizes[] = { 0, 1, 2, 4, 8, 16, 32, 64 };

static void queue_batches(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    unsigned iters = (unsigned)test_cmdline(t)->bench_iters;
    static struct qi_desc d[64];
    for (unsigned bi = 0; bi < sizeof(batch_sizes) / sizeof(batch_sizes[0]); bi++) {
        unsigned n = batch_sizes[bi];
        for (unsigned i = 0; i < n; i++)
            ASSERT_EQ(t, qi_desc_iotlb(&d[i], (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = FIXTURE_DID,
                                                                 .addr = FIXTURE_IOVA + (uint64_t)i * PAGE_SIZE }), 0);
        uint64_t d0 = READ_ONCE(fx.qi.descriptors), w0 = READ_ONCE(fx.qi.waits);
        for (unsigned it = 0; it < iters; it++) {
            uint64_t t0 = rdtsc();
            uint32_t seq;
            ASSERT_EQ(t, qi_submit(&fx.qi, d, n, &seq), 0);
            ASSERT_EQ(t, qi_wait(&fx.qi, seq), 0);
            samples[it] = rdtsc() - t0;
        }
        char name[64];
        snprintf(name, sizeof(name), "batch%u_descriptors_per_wait", n);
        uint64_t waits = READ_ONCE(fx.qi.waits) - w0;
        test_metric(t, name, waits ? (READ_ONCE(fx.qi.descriptors) - d0 - waits) / waits : 0, "descriptors");
        snprintf(name, sizeof(name), "batch%u_submit_and_wait", n);
        report(t, name, samples, iters, test_timed_unit());
        if (n) {
            for (unsigned it = 0; it < iters; it++)
                samples[it] /= n;
            snprintf(name, sizeof(name), "batch%u_per_descriptor", n);
            report(t, name, samples, iters, test_timed_unit());
        }
    }
    fixture_down(t, &fx);
}

/* ------------------------------------------------------------ scaling */

struct scale {
    unsigned iters;
    uint64_t frame[SMP_MAX_CPUS];
    uint64_t cycles[SMP_MAX_CPUS];
    unsigned errors;
};

static void scale_part(struct test *t, unsigned index, void *arg)
{
    struct scale *s = arg;
    uint64_t va = VA_SCALE(index), start = rdtsc();
    for (unsigned i = 0; i < s->iters; i++) {
        for (unsigned k = 0; k < SCALE_PAGES; k++)
            if (kva_map(va + (uint64_t)k * PAGE_SIZE, s->frame[index], PT_LEVEL_PT, PTE_NX))
                atomic_add(&s->errors, 1);
        uint64_t t0 = rdtsc();
        if (kva_unmap_range(va, (uint64_t)SCALE_PAGES * PAGE_SIZE))
            atomic_add(&s->errors, 1);
        if (index == 0)
            samples[i] = rdtsc() - t0;
    }
    s->cycles[index] = rdtsc() - start;
}

static void unmap_scaling(struct test *t)
{
    if (kva_walker_count())
        test_skip(t, "a walker is registered: scaling is measured with no device");
    static struct scale s;
    case_set_reclaim_policy(t, reclaim_get_policy());
    unsigned online = smp_online_count();
    uint64_t hz = clock_tsc_hz();
    for (enum reclaim_policy p = RECLAIM_SYNC; p < RECLAIM_POLICIES; p++) {
        if (!policy_wanted(t, p))
            continue;
        ASSERT_EQ(t, reclaim_set_policy(p), 0);
        for (unsigned n = 1; n <= online; n++) {
            memset(&s, 0, sizeof(s));
            s.iters = (unsigned)test_cmdline(t)->bench_iters;
            for (unsigned c = 0; c < n; c++)
                ASSERT_TRUE(t, (s.frame[c] = page_alloc()) != 0, "out of frames");
            struct reclaim_stats r0 = reclaim_stats();
            if (n == 1)
                scale_part(t, 0, &s);
            else
                test_run_on_cpus(t, n, scale_part, &s);
            ASSERT_EQ(t, work_flush(), 0);
            ASSERT_EQ(t, reclaim_drain(), 0);
            struct reclaim_stats r1 = reclaim_stats();
            EXPECT_EQ(t, s.errors, 0);
            uint64_t rate = 0;
            for (unsigned c = 0; c < n; c++)
                rate += s.cycles[c] ? (uint64_t)s.iters * hz / s.cycles[c] : 0;
            char name[96];
            const char *pn = reclaim_policy_name(p);
            snprintf(name, sizeof(name), "%s_%ucpu_unmaps_per_s_per_cpu", pn, n);
            char unit[TIMED_UNIT_MAX];
            snprintf(unit, sizeof(unit), "unmaps/s%s", test_platform_suffix());
            test_metric(t, name, rate / n, unit);
            uint64_t takes = r1.list_lock_takes - r0.list_lock_takes;
            snprintf(name, sizeof(name), "%s_%ucpu_list_lock_per_take", pn, n);
            test_metric(t, name, takes ? (r1.list_lock_cycles - r0.list_lock_cycles) / takes : 0, test_timed_unit());
            snprintf(name, sizeof(name), "%s_%ucpu_unmap", pn, n);
            report(t, name, samples, s.iters, test_timed_unit());
            for (unsigned c = 0; c < n; c++)
                page_free(s.frame[c]);
        }
    }
}

TEST_SUITE(bench_unmap, 90, SUITE_EXPLICIT, TEST_WITH_TIMEOUT(unmap_cost, 600000));
TEST_SUITE(bench_collateral, 92, SUITE_EXPLICIT, TEST_WITH_TIMEOUT(flush_collateral, 600000));
TEST_SUITE(bench_queue, 93, SUITE_EXPLICIT, TEST_WITH_TIMEOUT(queue_batches, 600000));
TEST_SUITE(bench_scaling, 91, SUITE_EXPLICIT, TEST_WITH_TIMEOUT(unmap_scaling, 600000));
