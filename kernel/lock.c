#include <stdio.h>
#include "lock.h"
#include "apic.h"
#include "clock.h"
#include "../lib/errno.h"
#include "printk.h"
#include "smp.h"
#include "x86.h"
#include "san/lockdep.h"

#define LOCK_WHAT_MAX 96

/* The locks a CPU holds, and the one it is taking (pushed before its
 * compare-exchange, so a CPU stopped at any instruction, by an NMI recall
 * or the end of a case, has every lock it may own listed: the owner field
 * tells held from being taken). */
struct held_locks {
    const struct spinlock *l[LOCKS_HELD_MAX];
    unsigned n;
};
/* Per CPU: only that CPU writes its own entry (the harness reads another
 * CPU's only once that CPU is idle). */
static struct held_locks held[SMP_MAX_CPUS];
static lock_violation_hook_t violation_hook;

void lock_set_violation_hook(lock_violation_hook_t hook) { violation_hook = hook; }

void spin_lock_init(struct spinlock *l, const char *name)
{
    *l = (struct spinlock)SPINLOCK_INIT(name);
}

static void violation(const struct spinlock *l, const char *what)
{
    if (violation_hook)
        violation_hook(l, what);
    panic("lock '%s': %s", l->name, what);
}

static void push_held(struct spinlock *l, unsigned cpu)
{
    struct held_locks *h = &held[cpu];
    if (h->n < LOCKS_HELD_MAX)
        h->l[h->n] = l;
    h->n++;
}

static void pop_held(struct spinlock *l, unsigned cpu)
{
    struct held_locks *h = &held[cpu];
    unsigned n = h->n < LOCKS_HELD_MAX ? h->n : LOCKS_HELD_MAX;
    for (unsigned i = n; i-- > 0;)
        if (h->l[i] == l) {
            for (unsigned j = i + 1; j < n; j++)
                h->l[j - 1] = h->l[j];
            break;
        }
    if (h->n)
        h->n--;
}

/* Test, then test-and-set: the compare-exchange only when the lock looks
 * free, so waiters spin on a shared cache line without writing it. */
static int try_take(struct spinlock *l, unsigned cpu)
{
    if (READ_ONCE(l->owner) != LOCK_NO_OWNER || !atomic_cmpxchg(&l->owner, LOCK_NO_OWNER, (int32_t)cpu))
        return 0;
    /* Only the holder writes takes. */
    WRITE_ONCE(l->takes, l->takes + 1);
    return 1;
}

static void check_not_mine(struct spinlock *l, unsigned me)
{
    if (READ_ONCE(l->owner) == (int32_t)me) {
        char what[LOCK_WHAT_MAX];
        snprintf(what, sizeof(what), "taken twice by cpu %u", me);
        violation(l, what);
    }
}

/* Spins until this CPU takes l (1) or nobody took it for limit_us (0).
 * The bound restarts whenever the lock changed hands: it measures one
 * holder, not the queue (lock.h, LOCK_SPIN_LIMIT_MS). The clock is read
 * once per LOCK_POLLS polls: QEMU serialises RDTSC across vCPUs, so a
 * waiter reading it on every poll would slow the holder it waits for. */
#define LOCK_POLLS 256u

/* spin_us: after this long, halt between rounds of polls when interrupts
 * are on (0: never). */
static int spin_until_taken(struct spinlock *l, unsigned me, uint64_t limit_us, uint64_t spin_us)
{
    if (try_take(l, me))
        return 1;
    uint32_t seen = READ_ONCE(l->takes);
    struct deadline d = deadline_after_us(limit_us), spin = deadline_after_us(spin_us);
    int can_halt = spin_us && (read_rflags() & RFLAGS_IF), halting = 0;
    for (;;) {
        /* Halting, one try per wake-up. */
        for (unsigned i = 0; i < (halting ? 1 : LOCK_POLLS); i++) {
            cpu_relax();
            if (try_take(l, me))
                return 1;
        }
        uint32_t now = READ_ONCE(l->takes);
        if (now != seen) {
            seen = now;
            d = deadline_after_us(limit_us);
        } else if (deadline_passed(d)) {
            return 0;
        }
        halting = halting || (can_halt && deadline_passed(spin));
        if (halting)
            wait_for_interrupt();
    }
}

static int take_bounded(struct spinlock *l, uint64_t limit_us, uint64_t spin_us)
{
    unsigned me = smp_cpu_id();
    check_not_mine(l, me);
    lockdep_acquire(l, held[me].l, held[me].n, 0);
    push_held(l, me);
    if (spin_until_taken(l, me, limit_us, spin_us))
        return 0;
    pop_held(l, me);
    return -E_TIMEDOUT;
}

int spin_lock_bounded(struct spinlock *l, uint64_t limit_us) { return take_bounded(l, limit_us, 0); }

int spin_lock_bounded_idle(struct spinlock *l, uint64_t limit_us, uint64_t spin_us)
{
    return take_bounded(l, limit_us, spin_us);
}

void spin_lock(struct spinlock *l)
{
    if (!spin_lock_bounded(l, (uint64_t)LOCK_SPIN_LIMIT_MS * US_PER_MS))
        return;
    /* A hold this long is a bug in its holder, reported rather than hung
     * on; this CPU has left the lock as it found it. */
    char what[LOCK_WHAT_MAX];
    snprintf(what, sizeof(what), "cpu %u waited %u ms without it changing hands; held by cpu %d", smp_cpu_id(),
             LOCK_SPIN_LIMIT_MS, (int)READ_ONCE(l->owner));
    violation(l, what);
}

int spin_trylock(struct spinlock *l)
{
    unsigned me = smp_cpu_id();
    push_held(l, me);
    if (try_take(l, me)) {
        lockdep_acquire(l, NULL, 0, 1);
        return 1;
    }
    pop_held(l, me);
    return 0;
}

void spin_unlock(struct spinlock *l)
{
    unsigned me = smp_cpu_id();
    if (READ_ONCE(l->owner) != (int32_t)me) {
        char what[LOCK_WHAT_MAX];
        snprintf(what, sizeof(what), "released by cpu %u, which does not hold it (owner %d)", me,
                 (int)READ_ONCE(l->owner));
        violation(l, what);
    }
    /* Released before it leaves the list: stopped in between, the entry
     * names a lock this CPU no longer owns, which the harness skips. */
    store_release(&l->owner, LOCK_NO_OWNER);
    pop_held(l, me);
}

uint64_t spin_lock_irqsave(struct spinlock *l)
{
    uint64_t flags = irq_save();
    spin_lock(l);
    return flags;
}

void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
    spin_unlock(l);
    irq_restore(flags);
}

/* The i-th entry of cpu's list that it owns now (one it was only taking
 * is not held). */
static const struct spinlock *owned(unsigned cpu, unsigned i)
{
    const struct held_locks *h = &held[cpu];
    unsigned n = h->n < LOCKS_HELD_MAX ? h->n : LOCKS_HELD_MAX;
    for (unsigned k = 0; k < n; k++)
        if (READ_ONCE(h->l[k]->owner) == (int32_t)cpu && i-- == 0)
            return h->l[k];
    return NULL;
}

unsigned lock_held_count(unsigned cpu)
{
    unsigned n = 0;
    while (cpu < SMP_MAX_CPUS && owned(cpu, n))
        n++;
    return n;
}

const struct spinlock *lock_held(unsigned cpu, unsigned i) { return cpu < SMP_MAX_CPUS ? owned(cpu, i) : NULL; }

void lock_release_all_held(unsigned cpu)
{
    struct held_locks *h = &held[cpu];
    unsigned n = h->n < LOCKS_HELD_MAX ? h->n : LOCKS_HELD_MAX;
    /* Only where cpu is the owner: a lock it was still taking may be
     * another CPU's by now. */
    for (unsigned i = n; i-- > 0;)
        atomic_cmpxchg(&((struct spinlock *)h->l[i])->owner, (int32_t)cpu, LOCK_NO_OWNER);
    h->n = 0;
}

/* Per CPU: depth is written only by its CPU; phase is odd while the CPU is
 * inside a section and moves on every entry and exit, so a waiter that saw
 * an odd value knows the section it saw has ended once the value changes.
 * The two change together with interrupts off: a handler that opens its
 * own section between the depth change and the phase store would
 * otherwise find the depth already moved and the phase not (on entry: it
 * leaves the phase even, its section unseen; on exit: it moves an odd
 * phase to even while it reads). */
static uint32_t rcu_depth[SMP_MAX_CPUS];
static uint32_t rcu_phase[SMP_MAX_CPUS];

void rcu_read_lock(void)
{
    uint64_t flags = irq_save();
    unsigned cpu = smp_cpu_id();
    if (rcu_depth[cpu]++ == 0) {
        WRITE_ONCE(rcu_phase[cpu], rcu_phase[cpu] + 1);
        /* The phase store before any load of the protected data: pairs
         * with the fence in rcu_synchronize (an unlink, then the phase
         * read), so either the waiter sees this section or the reader
         * sees the unlink. */
        smp_mb();
    }
    irq_restore(flags);
}

void rcu_read_unlock(void)
{
    uint64_t flags = irq_save();
    unsigned cpu = smp_cpu_id();
    if (rcu_depth[cpu] && --rcu_depth[cpu] == 0)
        store_release(&rcu_phase[cpu], rcu_phase[cpu] + 1);
    irq_restore(flags);
}

int rcu_in_section(unsigned cpu) { return cpu < SMP_MAX_CPUS && (READ_ONCE(rcu_phase[cpu]) & 1); }

void rcu_release(unsigned cpu)
{
    if (cpu < SMP_MAX_CPUS && rcu_depth[cpu]) {
        rcu_depth[cpu] = 0;
        store_release(&rcu_phase[cpu], rcu_phase[cpu] + 1);
    }
}

/* The reader's ticks and the clock are read once per RCU_POLLS polls of
 * its phase (QEMU serialises RDTSC across vCPUs, spin_until_taken). */
#define RCU_POLLS 256u
/* Per CPU: the grace periods waiting for the section it is in now. */
static uint32_t rcu_waiters[SMP_MAX_CPUS];

unsigned rcu_waiting_on(unsigned cpu) { return cpu < SMP_MAX_CPUS ? load_acquire(&rcu_waiters[cpu]) : 0; }

int rcu_synchronize(unsigned *stuck_cpu)
{
    unsigned self = smp_cpu_id();
    if (rcu_depth[self])
        return -E_DEADLK;
    smp_mb();
    uint64_t start_ns = clock_ns();
    for (unsigned cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
        if (cpu == self || !smp_cpu_online(cpu))
            continue;
        uint32_t seen = load_acquire(&rcu_phase[cpu]);
        if (!(seen & 1))
            continue;
        atomic_add(&rcu_waiters[cpu], 1);
        uint64_t ticks = apic_timer_ticks_on(cpu);
        for (unsigned polls = 1; load_acquire(&rcu_phase[cpu]) == seen; polls++) {
            cpu_relax();
            if (polls % RCU_POLLS)
                continue;
            int ran_in_it = apic_timer_ticks_on(cpu) - ticks >= RCU_GRACE_READER_TICKS;
            if (ran_in_it || clock_ns() - start_ns >= (uint64_t)RCU_GRACE_STALL_MS * US_PER_MS * NS_PER_US) {
                atomic_sub(&rcu_waiters[cpu], 1);
                if (stuck_cpu)
                    *stuck_cpu = cpu;
                return -E_TIMEDOUT;
            }
        }
        atomic_sub(&rcu_waiters[cpu], 1);
    }
    return 0;
}
