/* smp: every CPU the MADT lists is online and answers; then the shared
 * state under several CPUs at once: a lock (with its negative control, and
 * waiters that give up or are recalled), RCU sections in interrupts,
 * TLB shootdown (with its negative control), the frame allocator, the kva
 * area's tables and deferred work. Cases that need two CPUs skip with the
 * number online (cpus=1). */
#include <string.h>
#include "kernel/apic.h"
#include "kernel/clock.h"
#include "harness/harness.h"
#include "kernel/lock.h"
#include "kernel/ap_start.h"
#include "kernel/smp.h"
#include "kernel/traps.h"
#include "kernel/work.h"
#include "kernel/x86.h"
#include "lib/atomic.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "mm/tlb.h"

#define GIB               (1ul << 30)
#define MIB2              (2ul << 20)
/* kva slots (1 GiB each) of this suite, clear of mm's and sva's. */
#define SMP_KVA_SLOT      200u
/* Each CPU must take this many timer interrupts (100 Hz: 30 ms' worth);
 * the wait for them is a hang bound, far past that. */
#define MIN_TICKS         3u
#define TICK_WAIT_US      2000000u
/* Pauses between the load and the store of a shared counter: the window a
 * second CPU's update can fall into (a round-robin TCG vCPU switch too). */
#define RACE_WINDOW       16u
#define STAGE_WAIT_US     2000000u
#define OLD_VALUE         0x01d01d01d01d01dul
#define NEW_VALUE         0x0e40e40e40e40e4ul
#define FRAME_ROUNDS      16u
#define FRAMES_PER_CPU    32u
/* Rounds of the kva torture: each CPU maps and unmaps until the window has
 * passed and it did the minimum (every unmap is a shootdown, a handshake
 * with the other vCPU: a loaded host makes each one slow). */
#define KVA_WINDOW_US     100000u
#define KVA_MIN_ROUNDS    3u
#define KVA_PAGES         8u
#define WORK_PER_CPU      8u
#define WORK_DELAY_US     200u

/* The tortures run until they have done enough to show something, however
 * long a loaded host takes to run both vCPUs at once; their deadline is
 * there to catch a hang, so it is far past what they take on a quiet one
 * (tens of milliseconds). */
#define TORTURE_TIMEOUT_MS 30000u

static uint64_t slot_va(unsigned n) { return KVA_BASE + (uint64_t)(SMP_KVA_SLOT + n) * GIB; }

static unsigned need_two(struct test *t)
{
    unsigned n = smp_online_count();
    if (n < 2)
        test_skip(t, "needs 2 CPUs, %u online", n);
    return n;
}

/* A reusable barrier for the parts of one case; bounded like every wait. */
struct barrier {
    unsigned n, count, gen;
};

/* Polls between two clock reads: QEMU serialises RDTSC across vCPUs, so a
 * wait that reads the clock on every poll slows the CPU it waits for, and
 * lets the parts go far apart. */
#define BARRIER_POLLS 1024u

static void barrier_wait(struct test *t, struct barrier *b)
{
    unsigned gen = load_acquire(&b->gen);
    if (atomic_fetch_add(&b->count, 1) + 1 == b->n) {
        WRITE_ONCE(b->count, 0);
        store_release(&b->gen, gen + 1);
        return;
    }
    struct deadline d = deadline_after_us(STAGE_WAIT_US);
    while (load_acquire(&b->gen) == gen) {
        for (unsigned i = 0; i < BARRIER_POLLS && load_acquire(&b->gen) == gen; i++)
            cpu_relax();
        ASSERT_TRUE(t, load_acquire(&b->gen) != gen || !deadline_passed(d), "barrier: %u of %u CPUs arrived in %u us",
                    READ_ONCE(b->count), b->n, STAGE_WAIT_US);
    }
}

/* ------------------------------------------------------------ bring-up */

static void cpus_online_match_madt_and_cmdline(struct test *t)
{
    unsigned listed = smp_listed_count(), asked = (unsigned)test_cmdline(t)->cpus;
    unsigned want = asked && asked < listed ? asked : listed;
    test_diag(t, "MADT lists %u enabled CPUs, cpus=%u, %u online, %s", listed, asked, smp_online_count(),
              apic_x2apic() ? "x2APIC" : "xAPIC");
    test_metric(t, "ap_bringup_us", smp_bringup_us(), "us");
    EXPECT_EQ(t, smp_online_count(), want);
    for (unsigned c = 0; c < want; c++)
        EXPECT_TRUE(t, smp_cpu_online(c), "cpu %u is not online", c);
}

struct whoami {
    unsigned cpu;
    uint32_t apic_id;
    uint64_t ticks;
};

static void read_whoami(void *arg)
{
    struct whoami *w = arg;
    w->cpu = smp_cpu_id();
    w->apic_id = apic_id();
}

/* What each CPU says of itself, from its own IPI handler. */
static void every_cpu_answers_an_ipi_with_its_apic_id(struct test *t)
{
    struct whoami seen[SMP_MAX_CPUS];
    unsigned n = 0;
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        if (!smp_cpu_online(c))
            continue;
        memset(&seen[c], 0xff, sizeof(seen[c]));
        ASSERT_EQ(t, smp_call_on(c, read_whoami, &seen[c]), 0);
        EXPECT_EQ(t, seen[c].cpu, c);
        EXPECT_EQ(t, seen[c].apic_id, smp_apic_id(c));
        for (unsigned d = 0; d < c; d++)
            if (smp_cpu_online(d))
                EXPECT_TRUE(t, seen[d].apic_id != seen[c].apic_id, "cpus %u and %u both have APIC id %u", d, c,
                            seen[c].apic_id);
        n++;
    }
    EXPECT_EQ(t, n, smp_online_count());
}

/* Counted, not timed: a vCPU the host does not run for a while takes its
 * ticks later, not fewer of them. */
static void every_cpu_takes_timer_interrupts(struct test *t)
{
    uint64_t before[SMP_MAX_CPUS];
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        before[c] = apic_timer_ticks_on(c);
    uint64_t t0 = clock_us();
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        if (!smp_cpu_online(c))
            continue;
        int ok = WAIT_UNTIL(apic_timer_ticks_on(c) - before[c] >= MIN_TICKS, TICK_WAIT_US);
        uint64_t got = apic_timer_ticks_on(c) - before[c];
        test_diag(t, "cpu %u: %lu timer interrupts %lu us after the start", c, got, clock_us() - t0);
        EXPECT_TRUE(t, ok, "cpu %u took %lu timer interrupts in %u ms", c, got, TICK_WAIT_US / 1000);
    }
}

/* How much work the CPUs get done side by side, against the boot CPU
 * alone in a window as long: about n x 100% when the platform runs them in
 * parallel (multi-threaded TCG, hardware), about 100% when it takes turns
 * (TCG under icount). A timed figure, printed, not asserted beyond every
 * CPU making progress. */
#define PROGRESS_WINDOW_US 20000u

struct progress {
    struct barrier b;
    uint64_t count[SMP_MAX_CPUS];
};

/* The clock is read once per chunk: QEMU serialises RDTSC across vCPUs
 * (one lock keeps the virtual TSC monotonic), so a loop of clock reads
 * would measure that lock, not the CPUs. */
#define PROGRESS_CHUNK 4096u

static uint64_t spin_for_window(void)
{
    volatile uint64_t n = 0;
    struct deadline d = deadline_after_us(PROGRESS_WINDOW_US);
    /* One chunk at least: a vCPU the host kept off its CPU for the whole
     * window still shows it runs. */
    do
        for (unsigned i = 0; i < PROGRESS_CHUNK; i++)
            n++;
    while (!deadline_passed(d));
    return n;
}

static void progress_parts(struct test *t, unsigned index, void *arg)
{
    struct progress *p = arg;
    barrier_wait(t, &p->b);
    p->count[index] = spin_for_window();
}

static void cpus_make_progress_side_by_side(struct test *t)
{
    unsigned n = need_two(t);
    static struct progress p;
    memset(&p, 0, sizeof(p));
    p.b.n = n;
    uint64_t alone = spin_for_window(), together = 0;
    test_run_on_cpus(t, n, progress_parts, &p);
    for (unsigned i = 0; i < n; i++) {
        EXPECT_TRUE(t, p.count[i] > 0, "part %u made no progress in %u us", i, PROGRESS_WINDOW_US);
        together += p.count[i];
    }
    ASSERT_TRUE(t, alone > 0, "the boot CPU alone made no progress");
    test_diag(t, "%u CPUs side by side did %lu%% of one CPU's work alone in %u us (timed; platform-dependent)", n,
              together * 100 / alone, PROGRESS_WINDOW_US);
    test_metric(t, "parallel_work_percent", together * 100 / alone, "%");
}

/* ------------------------------------------------------------ locks */

/* Sized by time and progress, never a count that must fit in a time: each
 * part increments until the window has passed and it has done its
 * minimum, and the counter must come to what the parts did between them.
 * (A fixed 2 x 20000 under a FIFO lock did not finish in 10 s on a loaded
 * host: every hand-off waited for the next vCPU thread to be scheduled.) */
#define LOCK_WINDOW_US       50000u
#define LOCK_MIN_INCREMENTS  1000u

struct counter_race {
    struct barrier start;   /* every part starts counting together */
    struct spinlock lock;
    volatile uint64_t counter;
    uint64_t done[SMP_MAX_CPUS];  /* each part's own count, written once at its end */
    int locked;
};

static void increment(struct test *t, unsigned index, void *arg)
{
    struct counter_race *r = arg;
    barrier_wait(t, &r->start);
    struct deadline d = deadline_after_us(LOCK_WINDOW_US);
    uint64_t n = 0;
    while (n < LOCK_MIN_INCREMENTS || !deadline_passed(d)) {
        if (r->locked)
            spin_lock(&r->lock);
        uint64_t v = r->counter;
        for (unsigned w = 0; w < RACE_WINDOW; w++)
            cpu_relax();
        r->counter = v + 1;
        if (r->locked)
            spin_unlock(&r->lock);
        n++;
    }
    r->done[index] = n;
}

/* The increments the parts made between them; *counter what the shared
 * counter came to. */
static uint64_t race(struct test *t, unsigned n, int locked, uint64_t *counter)
{
    static struct counter_race r;
    r = (struct counter_race){ .start = { n, 0, 0 }, .lock = SPINLOCK_INIT("smp torture"), .locked = locked };
    test_run_on_cpus(t, n, increment, &r);
    uint64_t want = 0;
    for (unsigned i = 0; i < n; i++)
        want += r.done[i];
    test_diag(t, "%u CPUs, %lu increments (cpu 0: %lu) %s the lock: counter %lu, %lu lost", n, want, r.done[0],
              locked ? "under" : "without", r.counter, want - r.counter);
    test_metric(t, "lost_updates", want - r.counter, "increments");
    *counter = r.counter;
    return want;
}

static void lock_keeps_a_shared_counter_exact(struct test *t)
{
    unsigned n = need_two(t);
    uint64_t counter, want = race(t, n, 1, &counter);
    EXPECT_EQ(t, counter, want);
}

/* The negative control: the same loop without the lock loses updates, so
 * the case above can fail. Raced again until it does: on a loaded host the
 * vCPU threads may not overlap during one short race (a platform that
 * never runs them together times the case out). */
static void counter_without_the_lock_loses_updates(struct test *t)
{
    unsigned n = need_two(t);
    uint64_t counter, want, races = 0;
    do {
        want = race(t, n, 0, &counter);
        races++;
    } while (counter == want);
    test_diag(t, "updates lost in race %lu", races);
}

/* Waiters that give up while the holder releases. The holder (part 0)
 * takes the lock with spin_lock each round and holds it for a while that
 * steps around the waiter's bound: past it, so the waiter gives up (and
 * tries again, and may give up again within one hold), and right at it,
 * so a give-up meets the release. A give-up that left the lock to nobody
 * shows as the holder's next spin_lock running into the lock's limit. */
#define GIVEUP_BOUND_US      200u
#define GIVEUP_HOLD_STEP_US  (GIVEUP_BOUND_US / 2)
#define GIVEUP_HOLD_STEPS    5u     /* holds of 0 to 2 bounds */
#define GIVEUP_GAP_US        (GIVEUP_BOUND_US / 4)
#define GIVEUP_WINDOW_US     100000u
#define GIVEUP_MIN           20u    /* give-ups and takes by the waiter, each */

struct giveup {
    struct barrier start;
    struct spinlock lock;
    volatile uint64_t counter;
    uint64_t holder_takes, waiter_takes, giveups;
    unsigned stop;
};

/* Spun, not halted: a halting delay would last a whole timer tick. */
static void spin_delay_us(uint64_t us)
{
    struct deadline d = deadline_after_us(us);
    while (!deadline_passed(d))
        cpu_relax();
}

static void locked_increment(volatile uint64_t *counter)
{
    uint64_t v = *counter;
    for (unsigned w = 0; w < RACE_WINDOW; w++)
        cpu_relax();
    *counter = v + 1;
}

static void giveup_parts(struct test *t, unsigned index, void *arg)
{
    struct giveup *g = arg;
    barrier_wait(t, &g->start);
    if (index == 0) {
        struct deadline window = deadline_after_us(GIVEUP_WINDOW_US);
        for (unsigned round = 0;; round++) {
            spin_lock(&g->lock);
            locked_increment(&g->counter);
            spin_delay_us((round % GIVEUP_HOLD_STEPS) * GIVEUP_HOLD_STEP_US);
            spin_unlock(&g->lock);
            g->holder_takes++;
            /* Work outside the lock, as real holders do (the waiter too):
             * the lock is not fair, so without a gap this CPU would take
             * it back before the other's compare-exchange came round. */
            spin_delay_us(GIVEUP_GAP_US);
            int enough = READ_ONCE(g->giveups) >= GIVEUP_MIN && READ_ONCE(g->waiter_takes) >= GIVEUP_MIN;
            if (enough && deadline_passed(window))
                break;
        }
        store_release(&g->stop, 1);
        return;
    }
    if (index != 1)
        return;
    while (!load_acquire(&g->stop)) {
        if (spin_lock_bounded(&g->lock, GIVEUP_BOUND_US)) {
            WRITE_ONCE(g->giveups, g->giveups + 1);
            continue;
        }
        locked_increment(&g->counter);
        spin_unlock(&g->lock);
        WRITE_ONCE(g->waiter_takes, g->waiter_takes + 1);
        spin_delay_us(GIVEUP_GAP_US);
    }
}

static void lock_survives_waiters_giving_up_as_it_is_released(struct test *t)
{
    need_two(t);
    static struct giveup g;
    g = (struct giveup){ .start = { 2, 0, 0 }, .lock = SPINLOCK_INIT("smp give-up torture") };
    test_run_on_cpus(t, 2, giveup_parts, &g);
    test_diag(t, "holder took the lock %lu times, the waiter %lu times and gave up %lu times (bound %u us)",
              g.holder_takes, g.waiter_takes, g.giveups, GIVEUP_BOUND_US);
    EXPECT_EQ(t, g.counter, g.holder_takes + g.waiter_takes);
    EXPECT_TRUE(t, spin_trylock(&g.lock), "the lock is still taken after both parts ended");
    spin_unlock(&g.lock);
}

/* A job spinning on a held lock, recalled by NMI the way the harness
 * recalls the parts of a case that ended (settle_cpus): with interrupts
 * off, stopped at whatever instruction of the spin the NMI finds. It held
 * nothing, so it must leave nothing: the holder releases, and the AP and
 * then the boot CPU take the lock again. */
#define RECALL_ROUNDS   2u
/* Long enough that the job is spinning when the NMI comes, most times: a
 * recall before the spin began shows nothing but fails nothing either. */
#define RECALL_SPIN_US  2000u

struct recall {
    struct spinlock lock;
    unsigned stage;
};
enum { RECALL_STARTED = 1, RECALL_TOOK_IT, RECALL_TOOK_IT_AFTER };

static void spin_on_held_lock(void *arg)
{
    struct recall *r = arg;
    store_release(&r->stage, RECALL_STARTED);
    uint64_t flags = spin_lock_irqsave(&r->lock);
    store_release(&r->stage, RECALL_TOOK_IT);
    spin_unlock_irqrestore(&r->lock, flags);
}

static void take_and_release(void *arg)
{
    struct recall *r = arg;
    spin_lock(&r->lock);
    store_release(&r->stage, RECALL_TOOK_IT_AFTER);
    spin_unlock(&r->lock);
}

static void run_job_on(struct test *t, unsigned cpu, void (*fn)(void *), struct recall *r)
{
    ASSERT_EQ(t, smp_job_post(cpu, fn, r), 0);
    ASSERT_TRUE(t, WAIT_UNTIL(smp_job_state(cpu) == SMP_JOB_DONE, STAGE_WAIT_US), "cpu %u's job did not end", cpu);
    smp_job_reset(cpu);
}

static void lock_survives_a_spinner_recalled_by_nmi(struct test *t)
{
    need_two(t);
    unsigned ap = smp_last_online();
    static struct recall r;
    r = (struct recall){ .lock = SPINLOCK_INIT("smp recall torture") };
    for (unsigned round = 0; round < RECALL_ROUNDS; round++) {
        spin_lock(&r.lock);
        WRITE_ONCE(r.stage, 0);
        ASSERT_EQ(t, smp_job_post(ap, spin_on_held_lock, &r), 0);
        ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&r.stage) == RECALL_STARTED, STAGE_WAIT_US),
                    "cpu %u did not start its job", ap);
        udelay(RECALL_SPIN_US);
        smp_job_recall(ap);
        ASSERT_EQ(t, smp_job_state(ap), SMP_JOB_DONE);
        smp_job_reset(ap);
        EXPECT_EQ(t, load_acquire(&r.stage), RECALL_STARTED);
        EXPECT_EQ(t, lock_held_count(ap), 0);
        spin_unlock(&r.lock);
    }
    run_job_on(t, ap, take_and_release, &r);
    EXPECT_EQ(t, load_acquire(&r.stage), RECALL_TOOK_IT_AFTER);
    spin_lock(&r.lock);
    spin_unlock(&r.lock);
}

/* ------------------------------------------------------------ RCU */

/* An interrupt handler's read-side section, opened while the interrupted
 * code enters and leaves its own, must read as a section to a grace-period
 * waiter (the phase rcu_synchronize reads is odd). Part 1 sends the boot
 * CPU IPIs one after another; part 0 enters and leaves sections in a loop,
 * so they land at every instruction of both. */
#define RCU_IRQ_WINDOW_US 50000u
#define RCU_IRQ_MIN       200u     /* interrupts handled, at least */
/* How long the sender waits for one IPI to be handled before it sends the
 * next anyway (they are not queued: one pending is enough). */
#define RCU_IPI_WAIT_US   1000u

struct rcu_irq {
    unsigned handled, unseen, stop;
};
static struct rcu_irq ri;

static void rcu_reader_irq(struct trap_frame *f)
{
    apic_eoi();
    rcu_read_lock();
    if (!rcu_in_section(smp_cpu_id()))
        WRITE_ONCE(ri.unseen, ri.unseen + 1);
    rcu_read_unlock();
    store_release(&ri.handled, ri.handled + 1);
}

static void rcu_irq_parts(struct test *t, unsigned index, void *arg)
{
    if (index == 0) {
        struct deadline window = deadline_after_us(RCU_IRQ_WINDOW_US);
        while (!(READ_ONCE(ri.handled) >= RCU_IRQ_MIN && deadline_passed(window))) {
            rcu_read_lock();
            rcu_read_unlock();
        }
        store_release(&ri.stop, 1);
        return;
    }
    if (index != 1)
        return;
    while (!load_acquire(&ri.stop)) {
        unsigned before = load_acquire(&ri.handled);
        apic_send_ipi(smp_apic_id(SMP_BOOT_CPU), APIC_DM_FIXED, VEC_TEST);
        WAIT_UNTIL(load_acquire(&ri.handled) != before || load_acquire(&ri.stop), RCU_IPI_WAIT_US);
    }
}

static void rcu_section_in_an_interrupt_is_seen_while_the_cpu_enters_and_leaves_one(struct test *t)
{
    need_two(t);
    memset(&ri, 0, sizeof(ri));
    irq_set_handler(VEC_TEST, rcu_reader_irq);
    test_run_on_cpus(t, 2, rcu_irq_parts, NULL);
    irq_set_handler(VEC_TEST, NULL);
    test_diag(t, "%u interrupts took a read-side section on cpu 0 while it entered and left its own: %u unseen",
              ri.handled, ri.unseen);
    EXPECT_EQ(t, ri.unseen, 0);
}

/* ------------------------------------------------------------ sequence counter */

/* The writer goes on until the reader has read this often (or the stage
 * deadline passes): on a loaded host the two vCPU threads may not overlap
 * for a while, and a control that only ran while the reader was off its
 * CPU would show nothing. */
#define SEQ_WRITES       4000u
#define SEQ_TARGET_READS 20000u
/* Fewer reads than this through the counter would show nothing. */
#define SEQ_MIN_READS    100u

/* The writer keeps a == b except between its two stores; a reader that
 * sees them differ read a torn update. */
struct seq_pair {
    struct seqcount seq;
    volatile uint64_t a, b;
    unsigned reading, done;
    uint64_t writes, reads, torn;
    int use_seq;
};

static void seq_parts(struct test *t, unsigned index, void *arg)
{
    struct seq_pair *p = arg;
    if (index == 0) {
        /* Writes start once the reader reads, so the two overlap. */
        ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&p->reading), STAGE_WAIT_US), "the reader did not start");
        struct deadline d = deadline_after_us(STAGE_WAIT_US);
        for (uint64_t v = 1;; v++) {
            if (p->use_seq)
                seq_write_begin(&p->seq);
            p->a = v;
            for (unsigned w = 0; w < RACE_WINDOW; w++)
                cpu_relax();
            p->b = v;
            if (p->use_seq)
                seq_write_end(&p->seq);
            /* A pause between updates too: under icount the reader then
             * also runs while the pair is whole. */
            cpu_relax();
            /* Without the counter, until a torn read was seen: a loaded
             * host may keep the reader off while this runs for a while. */
            int enough = READ_ONCE(p->reads) >= SEQ_TARGET_READS && (p->use_seq || READ_ONCE(p->torn));
            if (v >= SEQ_WRITES && (enough || deadline_passed(d)))
                break;
            p->writes = v;
        }
        store_release(&p->done, 1);
        return;
    }
    if (index != 1)
        return;
    /* Past the writer's own deadline: it stops first. */
    struct deadline d = deadline_after_us(2 * STAGE_WAIT_US);
    store_release(&p->reading, 1);
    while (!load_acquire(&p->done) && !deadline_passed(d)) {
        uint64_t a, b;
        if (p->use_seq) {
            uint32_t s;
            do {
                s = seq_read_begin(&p->seq);
                a = p->a;
                b = p->b;
            } while (seq_read_retry(&p->seq, s));
        } else {
            a = p->a;
            b = p->b;
        }
        WRITE_ONCE(p->reads, p->reads + 1);
        WRITE_ONCE(p->torn, p->torn + (a != b));
        /* Under icount QEMU hands the host thread to the next vCPU on a
         * PAUSE: without one this loop would starve the writer there. */
        cpu_relax();
    }
}

static uint64_t torn_reads(struct test *t, int use_seq)
{
    need_two(t);
    static struct seq_pair p;
    memset(&p, 0, sizeof(p));
    p.use_seq = use_seq;
    test_run_on_cpus(t, 2, seq_parts, &p);
    test_diag(t, "%lu writes, %lu reads %s the sequence counter: %lu torn", p.writes + 1, p.reads,
              use_seq ? "through" : "without", p.torn);
    test_metric(t, "torn_reads", p.torn, "reads");
    EXPECT_TRUE(t, p.reads >= SEQ_MIN_READS, "the reader read only %lu times", p.reads);
    return p.torn;
}

static void seqcount_reader_never_sees_a_torn_update(struct test *t)
{
    EXPECT_EQ(t, torn_reads(t, 1), 0);
}


/* The negative control: the same reader without the counter does. */
static void reader_without_seqcount_sees_torn_updates(struct test *t)
{
    EXPECT_TRUE(t, torn_reads(t, 0) > 0, "no torn read of unsynchronised writes");
}

/* ------------------------------------------------------------ TLB shootdown */

struct remap {
    uint64_t va, old_pa, new_pa;
    unsigned stage;
    uint64_t before, after;
};

/* Part 1 caches the translation by reading, part 0 remaps the VA to a new
 * frame, part 1 reads again through whatever its TLB holds. */
static void remap_parts(struct test *t, unsigned index, void *arg)
{
    struct remap *r = arg;
    if (index == 1) {
        r->before = *(volatile uint64_t *)r->va;
        store_release(&r->stage, 1);
        ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&r->stage) == 2, STAGE_WAIT_US), "cpu 0 did not remap");
        r->after = *(volatile uint64_t *)r->va;
        store_release(&r->stage, 3);
        return;
    }
    if (index != 0)
        return;
    ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&r->stage) == 1, STAGE_WAIT_US), "the other CPU did not read");
    ASSERT_EQ(t, kva_unmap(r->va), 0);
    ASSERT_EQ(t, kva_map(r->va, r->new_pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    store_release(&r->stage, 2);
    ASSERT_TRUE(t, WAIT_UNTIL(load_acquire(&r->stage) == 3, STAGE_WAIT_US), "the other CPU did not read again");
}

static void remap_while_cached(struct test *t, int shootdown, struct remap *r)
{
    need_two(t);
    memset(r, 0, sizeof(*r));
    r->va = slot_va(0);
    r->old_pa = page_alloc();
    r->new_pa = page_alloc();
    ASSERT_TRUE(t, r->old_pa && r->new_pa, "out of frames");
    *(uint64_t *)phys_to_virt(r->old_pa) = OLD_VALUE;
    *(uint64_t *)phys_to_virt(r->new_pa) = NEW_VALUE;
    ASSERT_EQ(t, kva_map(r->va, r->old_pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    tlb_set_remote_shootdown(shootdown);
    test_run_on_cpus(t, 2, remap_parts, r);
    tlb_set_remote_shootdown(1);
    kva_unmap(r->va);
    page_free(r->old_pa);
    page_free(r->new_pa);
    test_diag(t, "the other CPU read 0x%lx, then 0x%lx after the remap (old frame 0x%lx, new 0x%lx)", r->before,
              r->after, OLD_VALUE, NEW_VALUE);
    EXPECT_EQ(t, r->before, OLD_VALUE);
}

/* Negative control: without the shootdown the other CPU keeps reading the
 * old frame through its TLB (QEMU's software TLB behaves like hardware
 * here: only INVLPG, a CR3 write or a global flush drops an entry). */
static void remap_without_shootdown_leaves_the_old_frame_cached(struct test *t)
{
    static struct remap r;
    remap_while_cached(t, 0, &r);
    EXPECT_EQ(t, r.after, OLD_VALUE);
}

static void remap_with_shootdown_reaches_the_new_frame(struct test *t)
{
    static struct remap r;
    uint64_t shootdowns = tlb_remote_shootdowns();
    remap_while_cached(t, 1, &r);
    EXPECT_EQ(t, r.after, NEW_VALUE);
    EXPECT_TRUE(t, tlb_remote_shootdowns() > shootdowns, "no shootdown reached another CPU");
}

/* ------------------------------------------------------------ frames */

struct frame_torture {
    struct barrier b;
    unsigned n;
    uint64_t pa[SMP_MAX_CPUS][FRAMES_PER_CPU];
    unsigned duplicates, overwritten, failed_allocs;
};

static uint64_t signature(unsigned index, unsigned round, unsigned k)
{
    return ((uint64_t)index << 32) | ((uint64_t)round << 16) | k;
}

static void frame_parts(struct test *t, unsigned index, void *arg)
{
    struct frame_torture *f = arg;
    for (unsigned round = 0; round < FRAME_ROUNDS; round++) {
        for (unsigned k = 0; k < FRAMES_PER_CPU; k++) {
            uint64_t pa = page_alloc();
            f->pa[index][k] = pa;
            if (!pa) {
                atomic_add(&f->failed_allocs, 1);
                continue;
            }
            *(volatile uint64_t *)phys_to_virt(pa) = signature(index, round, k);
        }
        barrier_wait(t, &f->b);
        /* Every CPU holds its frames now: each must be its own. */
        for (unsigned k = 0; k < FRAMES_PER_CPU; k++) {
            uint64_t pa = f->pa[index][k];
            if (!pa)
                continue;
            if (*(volatile uint64_t *)phys_to_virt(pa) != signature(index, round, k))
                atomic_add(&f->overwritten, 1);
            for (unsigned o = 0; o < f->n; o++)
                for (unsigned j = 0; j < FRAMES_PER_CPU; j++)
                    if ((o != index || j != k) && f->pa[o][j] == pa)
                        atomic_add(&f->duplicates, 1);
        }
        barrier_wait(t, &f->b);
        for (unsigned k = 0; k < FRAMES_PER_CPU; k++)
            if (f->pa[index][k])
                page_free(f->pa[index][k]);
        barrier_wait(t, &f->b);
    }
}

static void frame_allocator_hands_each_frame_once(struct test *t)
{
    unsigned n = need_two(t);
    static struct frame_torture f;
    memset(&f, 0, sizeof(f));
    f.b.n = f.n = n;
    /* Pages a deferred policy still holds would come back mid-count. */
    ASSERT_EQ(t, reclaim_drain(), 0);
    uint64_t free_before = frames_free_count();
    test_run_on_cpus(t, n, frame_parts, &f);
    test_diag(t, "%u CPUs x %u rounds x %u frames: %u handed out twice, %u overwritten, %u allocations failed", n,
              FRAME_ROUNDS, FRAMES_PER_CPU, f.duplicates, f.overwritten, f.failed_allocs);
    EXPECT_EQ(t, f.duplicates, 0);
    EXPECT_EQ(t, f.overwritten, 0);
    EXPECT_EQ(t, f.failed_allocs, 0);
    EXPECT_EQ(t, frames_free_count(), free_before);
    /* The pool's count against its own bitmap: none lost, none doubled. */
    EXPECT_EQ(t, frames_free_counted(), frames_free_count());
}

/* ------------------------------------------------------------ kva */

struct kva_torture {
    unsigned n;
    uint64_t frames[SMP_MAX_CPUS][KVA_PAGES];
    unsigned wrong_translation, wrong_data, map_errors, unmap_errors;
    unsigned rounds[SMP_MAX_CPUS];
};

/* Pages of the shared table interleave between CPUs; private ones are in a
 * 2 MiB range (own page table, shared directory) per CPU. */
static uint64_t shared_va(unsigned n, unsigned index, unsigned k) { return slot_va(1) + ((uint64_t)k * n + index) * PAGE_SIZE; }
static uint64_t private_va(unsigned index, unsigned k) { return slot_va(2) + index * MIB2 + (uint64_t)k * PAGE_SIZE; }

static void kva_parts(struct test *t, unsigned index, void *arg)
{
    struct kva_torture *k = arg;
    struct deadline window = deadline_after_us(KVA_WINDOW_US);
    unsigned round;
    for (round = 0; round < KVA_MIN_ROUNDS || !deadline_passed(window); round++) {
        for (unsigned i = 0; i < KVA_PAGES; i++) {
            uint64_t pa = k->frames[index][i];
            if (kva_map(shared_va(k->n, index, i), pa, PT_LEVEL_PT, PTE_RW | PTE_NX))
                atomic_add(&k->map_errors, 1);
            if (kva_map(private_va(index, i), pa, PT_LEVEL_PT, PTE_RW | PTE_NX))
                atomic_add(&k->map_errors, 1);
        }
        for (unsigned i = 0; i < KVA_PAGES; i++) {
            uint64_t want = signature(index, round, i), pa = k->frames[index][i];
            uint64_t vas[2] = { shared_va(k->n, index, i), private_va(index, i) };
            for (unsigned v = 0; v < 2; v++) {
                /* A table freed under this CPU would show as a translation
                 * gone or poisoned, or as a fault on the access. */
                if (virt_to_phys((void *)vas[v]) != pa)
                    atomic_add(&k->wrong_translation, 1);
                *(volatile uint64_t *)vas[v] = want + v;
                if (*(volatile uint64_t *)phys_to_virt(pa) != want + v)
                    atomic_add(&k->wrong_data, 1);
            }
        }
        for (unsigned i = 0; i < KVA_PAGES; i++) {
            if (kva_unmap(shared_va(k->n, index, i)))
                atomic_add(&k->unmap_errors, 1);
            if (kva_unmap(private_va(index, i)))
                atomic_add(&k->unmap_errors, 1);
        }
    }
    k->rounds[index] = round;
}

static void kva_tables_balance_under_concurrent_map_and_unmap(struct test *t)
{
    unsigned n = need_two(t);
    static struct kva_torture k;
    memset(&k, 0, sizeof(k));
    k.n = n;
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < KVA_PAGES; i++)
            ASSERT_TRUE(t, (k.frames[c][i] = page_alloc()) != 0, "out of frames");
    ASSERT_EQ(t, reclaim_drain(), 0);
    uint64_t tables_before = kva_table_pages();
    struct pt_page_stats s0 = pt_page_stats();
    struct reclaim_stats r0 = reclaim_stats();
    test_run_on_cpus(t, n, kva_parts, &k);
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct pt_page_stats s1 = pt_page_stats();
    struct reclaim_stats r1 = reclaim_stats();
    uint64_t tables_after = kva_table_pages();
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < KVA_PAGES; i++)
            page_free(k.frames[c][i]);
    test_diag(t, "%u CPUs (cpu 0: %u rounds, cpu %u: %u) x %u pages in a shared and a private table: "
              "%lu table pages allocated, %lu freed", n, k.rounds[0], n - 1, k.rounds[n - 1], KVA_PAGES,
              s1.allocated - s0.allocated, s1.freed - s0.freed);
    test_metric(t, "table_pages_allocated", s1.allocated - s0.allocated, "pages");
    EXPECT_EQ(t, k.map_errors, 0);
    EXPECT_EQ(t, k.unmap_errors, 0);
    EXPECT_EQ(t, k.wrong_translation, 0);
    EXPECT_EQ(t, k.wrong_data, 0);
    EXPECT_EQ(t, s1.allocated - s1.freed, s0.allocated - s0.freed);
    /* Counted by walking the tables, not by the counters above. */
    EXPECT_EQ(t, tables_after, tables_before);
    EXPECT_EQ(t, r1.double_frees, r0.double_frees);
    EXPECT_EQ(t, r1.tracked, r0.tracked);
}

/* ------------------------------------------------------------ deferred work */

#define WORK_ITEMS (SMP_MAX_CPUS * (WORK_PER_CPU + 1))

struct work_run {
    struct work w[WORK_ITEMS];
    unsigned ran[WORK_ITEMS];
    unsigned ran_on_worker;
    unsigned queued, refused;
};
static struct work_run wr;

static void work_item(struct work *w)
{
    unsigned i = (unsigned)(w - wr.w);
    spin_delay_us(WORK_DELAY_US);
    atomic_add(&wr.ran[i], 1);
    if (smp_cpu_id() == work_worker_cpu())
        atomic_add(&wr.ran_on_worker, 1);
}

/* The interrupt handler queues the item of the CPU it runs on. */
static unsigned irq_item_base;
static void queue_from_interrupt(struct trap_frame *f)
{
    if (work_queue(&wr.w[irq_item_base + smp_cpu_id()]))
        atomic_add(&wr.queued, 1);
    else
        atomic_add(&wr.refused, 1);
}

static void work_parts(struct test *t, unsigned index, void *arg)
{
    for (unsigned k = 0; k < WORK_PER_CPU; k++) {
        if (work_queue(&wr.w[index * WORK_PER_CPU + k]))
            atomic_add(&wr.queued, 1);
        else
            atomic_add(&wr.refused, 1);
    }
    __asm__ volatile("int %0" : : "i"(VEC_TEST));
}

static void deferred_work_runs_each_item_once(struct test *t)
{
    unsigned n = smp_online_count();
    memset(&wr, 0, sizeof(wr));
    unsigned items = n * WORK_PER_CPU + n;
    for (unsigned i = 0; i < items; i++)
        work_init(&wr.w[i], work_item);
    irq_item_base = n * WORK_PER_CPU;
    irq_set_handler(VEC_TEST, queue_from_interrupt);
    if (n > 1)
        test_run_on_cpus(t, n, work_parts, NULL);
    else
        work_parts(t, 0, NULL);
    irq_set_handler(VEC_TEST, NULL);
    unsigned done_before_flush = 0;
    for (unsigned i = 0; i < items; i++)
        done_before_flush += READ_ONCE(wr.ran[i]) != 0;
    ASSERT_EQ(t, work_flush(), 0);
    test_diag(t, "%u items queued from %u CPUs and their interrupts (worker cpu %u): %u had run before the flush",
              items, n, work_worker_cpu(), done_before_flush);
    EXPECT_EQ(t, wr.queued, items);
    EXPECT_EQ(t, wr.refused, 0);
    for (unsigned i = 0; i < items; i++)
        EXPECT_TRUE(t, wr.ran[i] == 1, "item %u ran %u times", i, wr.ran[i]);
    EXPECT_EQ(t, wr.ran_on_worker, items);
}

/* An item still pending is not queued again, and runs once. */
static void pending_work_is_not_queued_twice(struct test *t)
{
    memset(&wr, 0, sizeof(wr));
    work_init(&wr.w[0], work_item);
    /* The boot CPU's own queue runs only in a flush or between cases, so
     * the item is surely still pending the second time. */
    EXPECT_TRUE(t, work_queue_on(SMP_BOOT_CPU, &wr.w[0]), "the first queue_work was refused");
    EXPECT_TRUE(t, !work_queue_on(SMP_BOOT_CPU, &wr.w[0]), "a pending item was queued again");
    ASSERT_EQ(t, work_flush(), 0);
    EXPECT_EQ(t, wr.ran[0], 1);
    EXPECT_TRUE(t, work_queue_on(SMP_BOOT_CPU, &wr.w[0]), "an item that ran could not be queued again");
    ASSERT_EQ(t, work_flush(), 0);
    EXPECT_EQ(t, wr.ran[0], 2);
}

/* Items queued from two CPUs at once, each CPU onto its own queue (what
 * happens when the worker CPU changes between two work_queue calls): one
 * of them may have each item, and it runs once. Each round both CPUs
 * queue the same DQ_ITEMS items side by side, then each runs its own
 * queue. Many items a round keep the handshakes few: on a loaded host
 * each one waits for both vCPUs to be running. Rounds are sized by time. */
#define DQ_ITEMS      32u
#define DQ_WINDOW_US  100000u
#define DQ_MIN_ROUNDS 50u
#define DQ_JITTER_STEPS 8u   /* cpu_relax()es before each call: 0 to 7 */
/* A linear congruential generator (Numerical Recipes' constants), its
 * high bits used: enough to decorrelate two CPUs' pauses. */
#define DQ_LCG_MUL    1664525u
#define DQ_LCG_ADD    1013904223u
#define DQ_LCG_SHIFT  16u

struct double_queue {
    struct barrier b;
    struct work w[DQ_ITEMS];
    unsigned accepted, ran, stop;
    uint64_t rounds;
};
static struct double_queue dq;

static void dq_item(struct work *w) { atomic_add(&dq.ran, 1); }

static void dq_parts(struct test *t, unsigned index, void *arg)
{
    struct deadline window = deadline_after_us(DQ_WINDOW_US);
    uint32_t seed = index + 1;
    for (;;) {
        barrier_wait(t, &dq.b);
        if (load_acquire(&dq.stop))
            return;
        /* Each call after a pseudo-random pause, different on each CPU:
         * the lead passes back and forth, so the two calls on one item
         * meet at every offset, many times a round. */
        for (unsigned i = 0; i < DQ_ITEMS; i++) {
            seed = seed * DQ_LCG_MUL + DQ_LCG_ADD;
            for (unsigned k = 0; k < (seed >> DQ_LCG_SHIFT) % DQ_JITTER_STEPS; k++)
                cpu_relax();
            if (work_queue_on(smp_cpu_id(), &dq.w[i]))
                atomic_add(&dq.accepted, 1);
        }
        barrier_wait(t, &dq.b);
        work_run_here();
        if (index == 0) {
            dq.rounds++;
            if (dq.rounds >= DQ_MIN_ROUNDS && deadline_passed(window))
                store_release(&dq.stop, 1);
        }
    }
}

static void work_queued_from_two_cpus_at_once_lands_on_one_queue(struct test *t)
{
    need_two(t);
    memset(&dq, 0, sizeof(dq));
    dq.b.n = 2;
    for (unsigned i = 0; i < DQ_ITEMS; i++)
        work_init(&dq.w[i], dq_item);
    test_run_on_cpus(t, 2, dq_parts, NULL);
    test_diag(t, "%lu rounds of %u items queued from 2 CPUs at once: accepted %u times, ran %u times", dq.rounds,
              DQ_ITEMS, dq.accepted, dq.ran);
    EXPECT_EQ(t, dq.accepted, dq.rounds * DQ_ITEMS);
    EXPECT_EQ(t, dq.ran, dq.rounds * DQ_ITEMS);
}

TEST_SUITE(smp, 12, 0,
           TEST(cpus_online_match_madt_and_cmdline),
           TEST(every_cpu_answers_an_ipi_with_its_apic_id),
           TEST(every_cpu_takes_timer_interrupts),
           TEST(cpus_make_progress_side_by_side),
           TEST_WITH_TIMEOUT(lock_keeps_a_shared_counter_exact, TORTURE_TIMEOUT_MS),
           TEST_WITH_TIMEOUT(counter_without_the_lock_loses_updates, TORTURE_TIMEOUT_MS),
           TEST_WITH_TIMEOUT(lock_survives_waiters_giving_up_as_it_is_released, TORTURE_TIMEOUT_MS),
           TEST(lock_survives_a_spinner_recalled_by_nmi),
           TEST_WITH_TIMEOUT(rcu_section_in_an_interrupt_is_seen_while_the_cpu_enters_and_leaves_one, TORTURE_TIMEOUT_MS),
           TEST(seqcount_reader_never_sees_a_torn_update),
           TEST(reader_without_seqcount_sees_torn_updates),
           TEST(remap_without_shootdown_leaves_the_old_frame_cached),
           TEST(remap_with_shootdown_reaches_the_new_frame),
           TEST(frame_allocator_hands_each_frame_once),
           TEST_WITH_TIMEOUT(kva_tables_balance_under_concurrent_map_and_unmap, TORTURE_TIMEOUT_MS),
           TEST(deferred_work_runs_each_item_once),
           TEST(pending_work_is_not_queued_twice),
           TEST_WITH_TIMEOUT(work_queued_from_two_cpus_at_once_lands_on_one_queue, TORTURE_TIMEOUT_MS));
