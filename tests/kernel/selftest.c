/* selftest: the harness proves it can report failure. Each of the first
 * cases fails on purpose in one way; the fifth checks that each was
 * recorded as that kind of failure and that the run went on. The same for
 * a case's part on another CPU: a fault, a hang with interrupts off and a
 * lock left held, then a check that they were recorded so and that every
 * CPU is back and the lock free. A case that changed global state faults,
 * and the next finds it undone. Then one case resets the machine and the
 * last proves the host tool resumed after it.
 * The host tool
 * holds the expected outcomes (tests/expected/selftest.json); this suite
 * runs only when named (tests=selftest.*). */
#include "harness/harness.h"
#include "kernel/lock.h"
#include "kernel/clock.h"
#include "kernel/printk.h"
#include "kernel/ap_start.h"
#include "kernel/smp.h"
#include "kernel/work.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "case_state.h"
#include "vtd_fixture.h"
#include "iommu/iommu.h"
#include "kernel/x86.h"

#define SELFTEST_TIMEOUT_MS 200

static void fails_on_purpose(struct test *t)
{
    EXPECT_EQ(t, 1 + 1, 3);
}

static void times_out_on_purpose(struct test *t)
{
    for (;;)
        cpu_relax();
}

static void faults_on_purpose(struct test *t)
{
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

/* Far deeper than the 64 KiB boot stack allows; the bound only keeps the
 * compiler from calling the recursion infinite. */
#define RECURSION_LIMIT (1u << 30)

static unsigned recurse(volatile unsigned depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    return depth > RECURSION_LIMIT ? 0 : recurse(depth + 1) + frame[0];
}

/* Runs off the stack into the guard page: the #PF cannot be delivered on
 * the dead stack, so the CPU raises #DF, which runs on its own IST stack. */
static void overflows_stack_on_purpose(struct test *t)
{
    recurse(0);
}

static void run_went_on_and_recorded_each(struct test *t)
{
    EXPECT_EQ(t, harness_previous_status(4), KTAP_FAIL);
    EXPECT_EQ(t, harness_previous_status(3), KTAP_TIMEOUT);
    EXPECT_EQ(t, harness_previous_status(2), KTAP_ERROR);
    EXPECT_EQ(t, harness_previous_status(1), KTAP_ERROR);
}

/* The parts on the other CPU (index 1) misbehave; the boot CPU's returns. */
static void ap_faults(struct test *t, unsigned index, void *arg)
{
    if (index == 1)
        (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

static void faults_on_an_ap_on_purpose(struct test *t)
{
    test_run_on_cpus(t, 2, ap_faults, NULL);
}

/* Interrupts off: only the NMI can bring this CPU back. */
static void ap_hangs(struct test *t, unsigned index, void *arg)
{
    if (index != 1)
        return;
    irq_disable();
    for (;;)
        cpu_relax();
}

static void hangs_on_an_ap_on_purpose(struct test *t)
{
    test_run_on_cpus(t, 2, ap_hangs, NULL);
}

static struct spinlock left_held = SPINLOCK_INIT("selftest left held");

static void ap_keeps_lock(struct test *t, unsigned index, void *arg)
{
    if (index == 1)
        spin_lock(&left_held);
}

static void leaves_a_lock_held_on_an_ap_on_purpose(struct test *t)
{
    test_run_on_cpus(t, 2, ap_keeps_lock, NULL);
}

static void answer(void *arg) { *(volatile unsigned *)arg = smp_cpu_id(); }

static void ap_failures_recorded_and_cpus_back(struct test *t)
{
    EXPECT_EQ(t, harness_previous_status(3), KTAP_ERROR);
    EXPECT_EQ(t, harness_previous_status(2), KTAP_TIMEOUT);
    EXPECT_EQ(t, harness_previous_status(1), KTAP_FAIL);
    EXPECT_EQ(t, smp_online_count(), smp_listed_count());
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        if (!smp_cpu_online(c))
            continue;
        volatile unsigned seen = SMP_MAX_CPUS;
        EXPECT_EQ(t, smp_call_on(c, answer, (void *)&seen), 0);
        EXPECT_EQ(t, seen, c);
        EXPECT_EQ(t, smp_job_state(c), SMP_JOB_IDLE);
    }
    EXPECT_TRUE(t, spin_trylock(&left_held), "the lock left held is still taken");
    spin_unlock(&left_held);
}

/* A walker nobody may call: one like a binding would register. */
static int selftest_flush(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    return 0;
}
static int selftest_completed(struct kva_walker *w, uint64_t seq) { return 1; }
static struct kva_walker selftest_walker = { .name = "selftest", .snoops = 1, .flush = selftest_flush,
                                             .completed = selftest_completed };

/* Changes global state the way the VT-d suites do, then faults before it
 * could undo any of it itself. */
static void faults_with_global_state_changed_on_purpose(struct test *t)
{
    case_set_reclaim_policy(t, RECLAIM_NONE);
    case_inject_page_alloc_failure(t, 1000);
    case_unregister_walker_after(t, &selftest_walker);
    kva_walker_register(&selftest_walker);
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

/* The harness undid all of it on the way out of the aborted case. */
static void next_case_starts_clean(struct test *t)
{
    EXPECT_EQ(t, harness_previous_status(1), KTAP_ERROR);
    EXPECT_EQ(t, reclaim_get_policy(), (enum reclaim_policy)test_cmdline(t)->reclaim);
    EXPECT_TRUE(t, !mm_page_alloc_failure_armed(), "a page allocation failure is still armed");
    EXPECT_TRUE(t, kva_walker_count() == 0, "a walker is still registered");
}

/* A binding whose frame is gone while a batch it must flush is still
 * queued, then an abort: the deferred drain runs after the case, on the
 * worker, and must flush through a binding that is still alive. The
 * worker is held (a work item queued ahead of the drain) until the case's
 * last act, so the drain cannot run while the frame was still intact; the
 * frame that set the binding up is overwritten first, as the harness's own
 * calls would overwrite it after an abort, only certainly. The case after
 * it (sva_abort_left_the_unit_off_and_the_memory_back) checks the
 * aftermath: the unit off, nothing pending, every frame back.
 * A binding on the stack is refused, which keeps this from happening. */
#define SVA_ABORT_VA       (KVA_BASE + 96ul * (1ul << 30))
#define SVA_ABORT_HOLD_US  2000000u
#define STACK_POISON       0x5a
/* Enough to cover the frame of bind_and_unmap_async (the fixture and its
 * locals) from the same depth. */
#define STACK_REUSE_BYTES  (2 * sizeof(struct sva_fixture) + 1024)

static int worker_held;

static void hold_worker(struct work *w)
{
    if (!WAIT_UNTIL(!load_acquire(&worker_held), SVA_ABORT_HOLD_US))
        printk("# selftest: the worker was held %u us and let go without the case's word\n", SVA_ABORT_HOLD_US);
}

static struct work hold_work = { .fn = hold_worker };

static void let_worker_go(uintptr_t unused) { store_release(&worker_held, 0); }

/* The guard on another CPU's stack: a case's part runs on an AP, whose
 * stack is reused as soon as the part returns. */
struct ap_bind {
    struct sva_fixture *sf;
    int err;
};

static void bind_on_an_ap_stack(struct test *t, unsigned index, void *arg)
{
    struct ap_bind *b = arg;
    if (index != 1)
        return;
    struct sva on_stack;
    b->err = sva_bind_kernel(&on_stack, &b->sf->fx.u, &b->sf->fx.qi, b->sf->dev.pci, 0, 1, FIXTURE_DID, 0);
    if (!b->err)
        sva_unbind(&on_stack); /* not left registered past this frame */
}

static __attribute__((noinline)) void bind_and_unmap_async(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, 1, 0);
    /* The guard: a kernel binding whose storage is on the stack, the boot
     * CPU's or an AP's. */
    struct sva on_stack;
    ASSERT_EQ(t, sva_bind_kernel(&on_stack, &sf.fx.u, &sf.fx.qi, sf.dev.pci, 0, 1, FIXTURE_DID, 0), -E_INVAL);
    ASSERT_TRUE(t, smp_online_count() > 1, "needs 2 CPUs for the guard on an AP's stack, %u online",
                smp_online_count());
    static struct ap_bind ap;
    ap = (struct ap_bind){ .sf = &sf, .err = 1 };
    test_run_on_cpus(t, 2, bind_on_an_ap_stack, &ap);
    ASSERT_EQ(t, ap.err, -E_INVAL);
    case_set_reclaim_policy(t, RECLAIM_ASYNC);
    test_on_exit(t, let_worker_go, 0);
    store_release(&worker_held, 1);
    work_queue(&hold_work);
    uint64_t data = page_alloc();
    ASSERT_TRUE(t, data, "out of frames");
    ASSERT_EQ(t, kva_map(SVA_ABORT_VA, data, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, SVA_ABORT_VA, PAGE_SIZE), 0); /* cached now */
    ASSERT_EQ(t, kva_unmap_range(SVA_ABORT_VA, PAGE_SIZE), 0);
    reclaim_release_frame(data);
    ASSERT_TRUE(t, reclaim_stats().pending > 0, "reclaim=async freed the unmapped pages at once");
}

static __attribute__((noinline)) void reuse_the_stack(void)
{
    volatile uint8_t frame[STACK_REUSE_BYTES];
    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = STACK_POISON;
}

static void faults_after_an_unmap_with_sva_bound_on_purpose(struct test *t)
{
    bind_and_unmap_async(t);
    reuse_the_stack();
    store_release(&worker_held, 0);
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

/* Leaves the CPU no way to deliver an exception: with an empty IDT the
 * breakpoint becomes #GP, then #DF, then a triple fault, and the machine
 * resets. Nothing in the kernel can report this; the host tool sees the
 * reset, records this case as crashed and boots again to go on after it. */
static void resets_machine_on_purpose(struct test *t)
{
    const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty_idt = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(empty_idt));
}

/* Runs in the boot after the reset: resume= must point right at it. */
static void resumed_after_the_reset(struct test *t)
{
    EXPECT_EQ(t, test_cmdline(t)->resume, test_number(t));
}

/* A case with edu bound to the kernel's tables by SVA (translation and the
 * queue on, PASID tables and ring allocated) faults before it can unbind. */
static uint64_t free_before_sva_abort, tables_before_sva_abort;

/* Page-table pages of the kernel's own tables alive now: mapping the unit's
 * and the device's registers (never unmapped) may add some. */
static uint64_t kernel_tables_live(void)
{
    struct pt_page_stats p = pt_page_stats();
    return p.allocated - p.freed;
}

/* A check after an aborted case starts here: the case before ended in an
 * error (when it skipped, this one skips, saying what it did not set up);
 * the unit's status as the unit reports it. */
static uint32_t after_abort_gsts(struct test *t, const char *nothing)
{
    int prev = harness_previous_status(1);
    if (prev == KTAP_SKIP)
        test_skip(t, "the case before skipped: %s", nothing);
    EXPECT_EQ(t, prev, KTAP_ERROR);
    const struct dmar_info *d = iommu_dmar();
    ASSERT_TRUE(t, d && d->ndrhd, "no unit");
    struct vtd_unit u;
    ASSERT_EQ(t, vtd_unit_init(&u, &d->drhd[0]), 0);
    return vtd_read32(&u, VTD_GSTS);
}

/* Every frame free before the aborted case is free again, but for the
 * page-table pages that map registers added since. */
static void expect_frames_back(struct test *t, uint64_t free_before, uint64_t tables_before)
{
    ASSERT_EQ(t, reclaim_drain(), 0);
    uint64_t new_tables = kernel_tables_live() - tables_before;
    test_diag(t, "%lu page-table page(s) added for register mappings since", new_tables);
    EXPECT_EQ(t, frames_free_count() + new_tables, free_before);
}

static void faults_with_sva_bound_on_purpose(struct test *t)
{
    ASSERT_EQ(t, reclaim_drain(), 0);
    free_before_sva_abort = frames_free_count();
    tables_before_sva_abort = kernel_tables_live();
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, 1, 0);
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

/* The cleanup after it turned the unit off, as the unit itself reports
 * (GSTS), unregistered the walker and only then gave back every frame the
 * binding held. */
static void sva_abort_left_the_unit_off_and_the_memory_back(struct test *t)
{
    uint32_t gsts = after_abort_gsts(t, "nothing was bound");
    EXPECT_TRUE(t, !(gsts & VTD_GCMD_TE), "translation is still on (GSTS 0x%08x)", gsts);
    EXPECT_TRUE(t, !(gsts & VTD_GCMD_QIE), "the queue is still on (GSTS 0x%08x)", gsts);
    EXPECT_TRUE(t, kva_walker_count() == 0, "a walker is still registered");
    expect_frames_back(t, free_before_sva_abort, tables_before_sva_abort);
}

/* A second-stage domain's unmap holds the tables it unlinked until the
 * domain's flush (the unit may still walk them through what it cached):
 * a case that aborts in between must leave them to the take-down after
 * it, which turns the unit off, invalidates and only then frees them.
 * The IOVA has a top-level entry of its own, so the unmap unlinks every
 * table under it; the page behind it is the image's, not the pool's. */
#define SS_ABORT_IOVA (1ul << 39)
static uint8_t ss_abort_target[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint64_t free_before_ss_abort, tables_before_ss_abort;

static void faults_between_a_second_stage_unmap_and_its_flush_on_purpose(struct test *t)
{
    ASSERT_EQ(t, reclaim_drain(), 0);
    free_before_ss_abort = frames_free_count();
    tables_before_ss_abort = kernel_tables_live();
    static struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    ASSERT_EQ(t, vtd_domain_map(&fx.dom, SS_ABORT_IOVA, virt_to_phys(ss_abort_target), PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, vtd_domain_unmap(&fx.dom, SS_ABORT_IOVA), 0);
    ASSERT_EQ(t, fx.dom.held->n, (unsigned)(fx.dom.levels - 1));
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

/* Every frame the fixture took is back, the held tables included; the
 * unit is off as it reports (GSTS). */
static void second_stage_abort_freed_the_held_tables(struct test *t)
{
    uint32_t gsts = after_abort_gsts(t, "nothing was mapped");
    EXPECT_TRUE(t, !(gsts & (VTD_GCMD_TE | VTD_GCMD_QIE)), "translation or the queue is still on (GSTS 0x%08x)",
                gsts);
    expect_frames_back(t, free_before_ss_abort, tables_before_ss_abort);
}

TEST_SUITE(selftest, 90, SUITE_EXPLICIT,
           TEST(fails_on_purpose),
           TEST_WITH_TIMEOUT(times_out_on_purpose, SELFTEST_TIMEOUT_MS),
           TEST(faults_on_purpose),
           TEST(overflows_stack_on_purpose),
           TEST(run_went_on_and_recorded_each),
           TEST(faults_on_an_ap_on_purpose),
           TEST_WITH_TIMEOUT(hangs_on_an_ap_on_purpose, SELFTEST_TIMEOUT_MS),
           TEST(leaves_a_lock_held_on_an_ap_on_purpose),
           TEST(ap_failures_recorded_and_cpus_back),
           TEST(faults_with_global_state_changed_on_purpose),
           TEST(next_case_starts_clean),
           TEST(faults_with_sva_bound_on_purpose),
           TEST(faults_after_an_unmap_with_sva_bound_on_purpose),
           TEST(sva_abort_left_the_unit_off_and_the_memory_back),
           TEST(faults_between_a_second_stage_unmap_and_its_flush_on_purpose),
           TEST(second_stage_abort_freed_the_held_tables),
           TEST(resets_machine_on_purpose),
           TEST(resumed_after_the_reset));
