#include <stdio.h>
#include "lock.h"
#include "clock.h"
#include "../lib/errno.h"
#include "printk.h"
#include "smp.h"
#include "x86.h"

#define LOCK_WHAT_MAX 96

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

static void note_taken(struct spinlock *l, unsigned cpu)
{
    WRITE_ONCE(l->owner, (int32_t)cpu);
    struct held_locks *h = &held[cpu];
    if (h->n < LOCKS_HELD_MAX)
        h->l[h->n] = l;
    h->n++;
}

static void note_released(struct spinlock *l, unsigned cpu)
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

/* The next ticket to serve after the current holder, skipping one whose
 * taker gave up. */
static void serve_next(struct spinlock *l)
{
    uint32_t s = l->serving + 1;
    if (s == READ_ONCE(l->abandoned))
        s++;
    store_release(&l->serving, s);
}

/* If the holder released to this ticket before it saw it abandoned, this
 * CPU owns the lock after all and passes it on. */
static void give_up_ticket(struct spinlock *l, uint32_t ticket)
{
    atomic_xchg(&l->abandoned, ticket);
    if (load_acquire(&l->serving) == ticket)
        serve_next(l);
}

void spin_lock(struct spinlock *l)
{
    unsigned me = smp_cpu_id();
    if (READ_ONCE(l->owner) == (int32_t)me) {
        char what[LOCK_WHAT_MAX];
        snprintf(what, sizeof(what), "taken twice by cpu %u", me);
        violation(l, what);
    }
    uint32_t ticket = atomic_fetch_add(&l->next, 1);
    if (load_acquire(&l->serving) != ticket) {
        /* A spin has a bound like every other wait: a lock held this long
         * is a bug in its holder, reported rather than hung on. */
        struct deadline d = deadline_after_us((uint64_t)LOCK_SPIN_LIMIT_MS * US_PER_MS);
        while (load_acquire(&l->serving) != ticket) {
            if (deadline_passed(d)) {
                char what[LOCK_WHAT_MAX];
                snprintf(what, sizeof(what), "cpu %u waited %u ms for it; held by cpu %d", me,
                         LOCK_SPIN_LIMIT_MS, (int)READ_ONCE(l->owner));
                give_up_ticket(l, ticket);
                violation(l, what);
            }
            cpu_relax();
        }
    }
    note_taken(l, me);
}

int spin_trylock(struct spinlock *l)
{
    uint32_t s = load_acquire(&l->serving);
    if (READ_ONCE(l->next) != s || !atomic_cmpxchg(&l->next, s, s + 1))
        return 0;
    note_taken(l, smp_cpu_id());
    return 1;
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
    note_released(l, me);
    WRITE_ONCE(l->owner, LOCK_NO_OWNER);
    serve_next(l);
}

uint64_t spin_lock_irqsave(struct spinlock *l)
{
    uint64_t flags = read_rflags();
    irq_disable();
    spin_lock(l);
    return flags;
}

void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
    spin_unlock(l);
    if (flags & RFLAGS_IF)
        irq_enable();
}

unsigned lock_held_count(unsigned cpu) { return cpu < SMP_MAX_CPUS ? held[cpu].n : 0; }

const struct spinlock *lock_held(unsigned cpu, unsigned i)
{
    return cpu < SMP_MAX_CPUS && i < held[cpu].n && i < LOCKS_HELD_MAX ? held[cpu].l[i] : NULL;
}

void lock_release_all_held(unsigned cpu)
{
    struct held_locks *h = &held[cpu];
    unsigned n = h->n < LOCKS_HELD_MAX ? h->n : LOCKS_HELD_MAX;
    for (unsigned i = n; i-- > 0;) {
        struct spinlock *l = (struct spinlock *)h->l[i];
        WRITE_ONCE(l->owner, LOCK_NO_OWNER);
        serve_next(l);
    }
    h->n = 0;
}

/* Per CPU: depth is written only by its CPU; phase is odd while the CPU is
 * inside a section and moves on every entry and exit, so a waiter that saw
 * an odd value knows the section it saw has ended once the value changes. */
static uint32_t rcu_depth[SMP_MAX_CPUS];
static uint32_t rcu_phase[SMP_MAX_CPUS];

void rcu_read_lock(void)
{
    unsigned cpu = smp_cpu_id();
    if (rcu_depth[cpu]++ == 0) {
        WRITE_ONCE(rcu_phase[cpu], rcu_phase[cpu] + 1);
        /* The phase store before any load of the protected data: pairs
         * with the fence in rcu_synchronize (an unlink, then the phase
         * read), so either the waiter sees this section or the reader
         * sees the unlink. */
        smp_mb();
    }
}

void rcu_read_unlock(void)
{
    unsigned cpu = smp_cpu_id();
    if (rcu_depth[cpu] && --rcu_depth[cpu] == 0)
        store_release(&rcu_phase[cpu], rcu_phase[cpu] + 1);
}

int rcu_in_section(unsigned cpu) { return cpu < SMP_MAX_CPUS && (READ_ONCE(rcu_phase[cpu]) & 1); }

void rcu_release(unsigned cpu)
{
    if (cpu < SMP_MAX_CPUS && rcu_depth[cpu]) {
        rcu_depth[cpu] = 0;
        store_release(&rcu_phase[cpu], rcu_phase[cpu] + 1);
    }
}

int rcu_synchronize(unsigned *stuck_cpu)
{
    unsigned self = smp_cpu_id();
    if (rcu_depth[self])
        return -E_DEADLK;
    smp_mb();
    struct deadline d = deadline_after_us((uint64_t)RCU_GRACE_TIMEOUT_MS * US_PER_MS);
    for (unsigned cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
        if (cpu == self || !smp_cpu_online(cpu))
            continue;
        uint32_t seen = load_acquire(&rcu_phase[cpu]);
        while ((seen & 1) && load_acquire(&rcu_phase[cpu]) == seen) {
            if (deadline_passed(d)) {
                if (stuck_cpu)
                    *stuck_cpu = cpu;
                return -E_TIMEDOUT;
            }
            cpu_relax();
        }
    }
    return 0;
}
