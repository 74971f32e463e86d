/* reclaim, torture: several CPUs change kernel mappings while the device
 * uses them, under none (the negative control) and every fix. */
#include <stdio.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "kernel/clock.h"
#include "kernel/exit.h"
#include "kernel/lock.h"
#include "kernel/smp.h"
#include "kernel/work.h"
#include "kernel/san/san.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "mm/tlb.h"
#include "vtd_fixture.h"
#include "case_state.h"
#include "reclaim_cases.h"

/* --------------------------------------------------------------- torture */

/* Several CPUs change kernel mappings at once while the device uses them.
 * CPU 0 is the victim: each round it maps a fresh frame, lets the device
 * write through it (live), unmaps it, gives the frame back, takes it again
 * when the policy has freed it, fills it with canaries and lets the device
 * write through the old VA (just unmapped). Every other CPU churns map,
 * write, read back and unmap in the same 2 MiB region (a shared page
 * table) and in a region of its own (private tables) meanwhile. It works
 * in bursts between the victim's DMAs and halts while the device works,
 * so icount can skip the device's delay. A canary changed is a stale
 * device access. */
/* Rounds a policy unless torture_rounds= says (kernel/cmdline.h). */
#define TORTURE_ROUNDS        (24u / SAN_TORTURE_DIVISOR)
#define TORTURE_OPS_PER_ROUND 96u
#define TORTURE_PAGES         8u
#define TORTURE_WAIT_US       5000000u
#define VA_SHARED             RECLAIM_SLOT(8)
static uint64_t torture_private(unsigned index, unsigned k)
{
    return RECLAIM_SLOT(9 + index) + (uint64_t)k * PAGE_SIZE;
}
static uint64_t torture_shared(unsigned index, unsigned k)
{
    return VA_SHARED + (uint64_t)(1 + index * TORTURE_PAGES + k) * PAGE_SIZE;
}

struct torture {
    struct sva_fixture *sf;
    unsigned rounds;       /* the victim's, under this policy */
    int round, stop;
    uint64_t frames[SMP_MAX_CPUS][TORTURE_PAGES];
    unsigned churn_ops, churn_errors, wrong_data;
    unsigned churn_rounds; /* rounds the churning CPUs finished, all of them together */
    /* The victim's frame window (see hold_churn): set by the victim;
     * in_op counts churning CPUs inside a map/write/unmap. */
    int hold;
    unsigned in_op;
    unsigned live_missed, stale, reused, dma_errors;
};

/* Between the victim's release of its frame and the device's write
 * through the old VA, that frame may be free while the device still holds
 * a stale translation of it (reclaim=none): a page table a churning CPU
 * allocated there would take the device's write and the CPU would then
 * walk garbage (a #GP in pt_map_page, 3 runs in 50 under load). So the
 * churning CPUs allocate nothing over that window: they take no new op
 * while hold is set, and the victim waits for the ops under way. The
 * unmap itself still races with them. A CPU counts itself in before it
 * reads hold and the victim sets hold before it reads the count (both
 * sequentially consistent), so one of them always sees the other. */
static int begin_op(struct torture *k)
{
    struct deadline d = deadline_after_us(TORTURE_WAIT_US);
    for (;;) {
        atomic_add(&k->in_op, 1);
        if (!__atomic_load_n(&k->hold, __ATOMIC_SEQ_CST))
            return 1;
        atomic_sub(&k->in_op, 1);
        /* Halting, not spinning: under icount a spinning CPU would spend
         * the virtual time the device's DMA is waiting for. */
        while (load_acquire(&k->hold))
            if (deadline_passed(d))
                return 0;
            else
                wait_for_interrupt();
    }
}

static void hold_churn(struct torture *k)
{
    atomic_xchg(&k->hold, 1);
    struct deadline d = deadline_after_us(TORTURE_WAIT_US);
    while (__atomic_load_n(&k->in_op, __ATOMIC_SEQ_CST) && !deadline_passed(d))
        cpu_relax();
}

static void release_churn(struct torture *k) { store_release(&k->hold, 0); }

static void churn(struct torture *k, unsigned index)
{
    int last = 0;
    while (!load_acquire(&k->stop)) {
        struct deadline d = deadline_after_us(TORTURE_WAIT_US);
        while (load_acquire(&k->round) == last && !load_acquire(&k->stop) && !deadline_passed(d))
            wait_for_interrupt();
        if (load_acquire(&k->round) == last)
            return;
        last = load_acquire(&k->round);
        for (unsigned op = 0; op < TORTURE_OPS_PER_ROUND; op++) {
            unsigned page = op % TORTURE_PAGES;
            uint64_t va = (op & 1) ? torture_shared(index, page) : torture_private(index, page);
            uint64_t pa = k->frames[index][page];
            if (!begin_op(k))
                return; /* the victim stopped inside its window: its rounds fail the case */
            if (kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX)) {
                atomic_add(&k->churn_errors, 1);
                atomic_sub(&k->in_op, 1);
                continue;
            }
            uint64_t word = ((uint64_t)index << 48) | ((uint64_t)last << 16) | op;
            WRITE_ONCE(*(volatile uint64_t *)va, word);
            if (READ_ONCE(*(uint64_t *)phys_to_virt(pa)) != word)
                atomic_add(&k->wrong_data, 1);
            if (kva_unmap(va))
                atomic_add(&k->churn_errors, 1);
            atomic_sub(&k->in_op, 1);
            atomic_add(&k->churn_ops, 1);
        }
        atomic_add(&k->churn_rounds, 1);
    }
}

/* Before round r the victim waits for every churning CPU to finish round
 * r - 1: each round then runs beside all of them whatever the host does
 * with the vCPU threads (without it a CPU the host held back skipped the
 * rounds the victim ran meanwhile). The deadline only catches a CPU that
 * stopped; its missing rounds then fail the case. */
static void wait_for_churn(struct torture *k, unsigned rounds)
{
    unsigned want = (smp_online_count() - 1) * rounds;
    struct deadline d = deadline_after_us(TORTURE_WAIT_US);
    while (load_acquire(&k->churn_rounds) < want && !deadline_passed(d))
        wait_for_interrupt();
}

static void victim(struct torture *k)
{
    for (unsigned r = 1; r <= k->rounds; r++) {
        wait_for_churn(k, r - 1);
        store_release(&k->round, (int)r);
        uint64_t va = (r & 1) ? VA_SHARED : torture_private(0, r % TORTURE_PAGES);
        uint64_t frame = page_alloc();
        if (!frame || kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX)) {
            k->dma_errors++;
            break;
        }
        fill_words(frame, 0);
        if (dma_dev_write(&k->sf->dev, va, PAGE_SIZE))
            k->dma_errors++;
        if (((uint64_t *)phys_to_virt(frame))[0] != PATTERN_WORD)
            k->live_missed++;
        if (kva_unmap_range(va, PAGE_SIZE))
            k->dma_errors++;
        hold_churn(k);
        reclaim_release_frame(frame);
        /* Half the rounds wait for the deferred work, as a caller that
         * needs the memory back would; the others take their chance. */
        if (r & 2)
            reclaim_drain();
        int taken = page_take_specific(frame) == 0;
        if (taken) {
            fill_words(frame, CANARY_WORD);
            k->reused++;
        }
        if (dma_dev_write(&k->sf->dev, va, PAGE_SIZE))
            k->dma_errors++;
        release_churn(k);
        if (taken) {
            if (!words_intact(frame, CANARY_WORD))
                k->stale++;
            page_free(frame);
        }
        struct vtd_fault_log log;
        vtd_fault_collect(&k->sf->fx.u, &log);
    }
    store_release(&k->stop, 1);
}

static void torture_part(struct test *t, unsigned index, void *arg)
{
    if (index == 0)
        victim(arg);
    else
        churn(arg, index);
}

static void run_torture(struct test *t, enum reclaim_policy p, struct torture *k, struct sva_fixture *sf)
{
    ASSERT_EQ(t, reclaim_set_policy(p), 0);
    unsigned n = smp_online_count();
    memset(k, 0, sizeof(*k));
    k->sf = sf;
    k->rounds = test_cmdline(t)->torture_rounds ? (unsigned)test_cmdline(t)->torture_rounds : TORTURE_ROUNDS;
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < TORTURE_PAGES; i++)
            ASSERT_TRUE(t, (k->frames[c][i] = page_alloc()) != 0, "out of frames");
    /* The device's buffer holds the pattern every write carries. */
    uint64_t pattern = page_alloc();
    ASSERT_TRUE(t, pattern, "out of frames");
    fill_words(pattern, PATTERN_WORD);
    ASSERT_EQ(t, kva_map(VA_PATTERN, pattern, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf->dev, VA_PATTERN, PAGE_SIZE), 0);
    ASSERT_EQ(t, kva_unmap(VA_PATTERN), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    page_free(pattern);

    uint64_t tables0 = kva_table_pages(), free0 = frames_free_count();
    reclaim_reset_peak();
    struct reclaim_stats s0 = reclaim_stats();
    test_run_on_cpus(t, n, torture_part, k);
    ASSERT_EQ(t, work_flush(), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < TORTURE_PAGES; i++)
            page_free(k->frames[c][i]);
    struct reclaim_stats s1 = reclaim_stats();
    const char *pn = reclaim_policy_name(p);
    test_diag(t, "reclaim=%s, %u CPUs: %u victim rounds (%u frames reused, %u stale device writes, %u live writes "
              "missed), %u churn map/unmaps; %lu table pages freed, %lu freed before their flush, %lu batches, "
              "%lu forced drains, pending peak %lu", pn, n, k->rounds, k->reused, k->stale, k->live_missed,
              k->churn_ops, s1.freed - s0.freed, s1.freed_before_flush - s0.freed_before_flush,
              s1.batches - s0.batches, s1.forced_drains - s0.forced_drains, s1.pending_peak);
    char name[64];
    snprintf(name, sizeof(name), "%s_stale_device_writes", pn);
    test_metric(t, name, k->stale, "writes");
    if (reclaim_policy_defers(p)) {
        uint64_t freed = s1.deferred_freed - s0.deferred_freed, takes = s1.list_lock_takes - s0.list_lock_takes;
        snprintf(name, sizeof(name), "%s_pending_peak", pn);
        test_metric(t, name, s1.pending_peak, "pages");
        snprintf(name, sizeof(name), "%s_batches", pn);
        test_metric(t, name, s1.batches - s0.batches, "batches");
        snprintf(name, sizeof(name), "%s_unmap_to_free_mean", pn);
        test_metric(t, name, freed ? (s1.defer_cycles_sum - s0.defer_cycles_sum) / freed : 0, test_timed_unit());
        snprintf(name, sizeof(name), "%s_list_lock_per_free", pn);
        test_metric(t, name, takes ? (s1.list_lock_cycles - s0.list_lock_cycles) / takes : 0, test_timed_unit());
    }
    EXPECT_EQ(t, k->dma_errors, 0);
    EXPECT_EQ(t, k->churn_errors, 0);
    EXPECT_EQ(t, k->wrong_data, 0);
    EXPECT_EQ(t, k->live_missed, 0);
    EXPECT_EQ(t, k->churn_ops, (n - 1) * k->rounds * TORTURE_OPS_PER_ROUND);
    /* No leak, no double free: the tables by walking them, the frames by
     * the pool's count. */
    EXPECT_EQ(t, kva_table_pages(), tables0);
    EXPECT_EQ(t, frames_free_count(), free0 + (uint64_t)n * TORTURE_PAGES);
    EXPECT_EQ(t, s1.double_frees, s0.double_frees);
    EXPECT_EQ(t, s1.pending, 0);
    if (p != RECLAIM_NONE) {
        EXPECT_EQ(t, k->stale, 0);
        EXPECT_EQ(t, s1.freed_before_flush, s0.freed_before_flush);
        EXPECT_TRUE(t, k->reused >= k->rounds / 2, "reclaim=%s: only %u of %u rounds got their frame back",
                    pn, k->reused, k->rounds);
    }
}

static void torture_set_up(struct test *t, struct sva_fixture *sf)
{
    unsigned n = smp_online_count();
    if (n < 2)
        test_skip(t, "needs 2 CPUs, %u online", n);
    case_set_reclaim_policy(t, reclaim_get_policy());
    fixture_sva_up(t, sf, PASID, 0);
}

void torture_under_none_shows_stale_accesses(struct test *t)
{
    static struct torture k;
    static struct sva_fixture sf;
    torture_set_up(t, &sf);
    run_torture(t, RECLAIM_NONE, &k, &sf);
    EXPECT_TRUE(t, k.stale > 0, "reclaim=none: %u rounds reused their frame, and no stale write was seen", k.reused);
    fixture_sva_down(t, &sf);
}

void torture_under_every_fix_stays_clean(struct test *t)
{
    static struct torture k;
    static struct sva_fixture sf;
    torture_set_up(t, &sf);
    for (unsigned i = 0; i < NFIXES; i++)
        run_torture(t, fixes[i], &k, &sf);
    fixture_sva_down(t, &sf);
}
