/* Locks shared by every CPU: ticket spinlocks that know their owner, with
 * interrupt-safe variants, a sequence counter for readers that must not
 * block writers, and RCU-style read-side sections with a grace-period wait
 * for readers that take no lock at all. All SMP locking primitives live
 * here; IPIs, per-CPU
 * data and bring-up are in smp.h.
 *
 * Debug checks (always on; this kernel is a test bench): a lock taken again
 * by the CPU that holds it, a spin that lasts longer than LOCK_SPIN_LIMIT_MS,
 * and locks still held when a test case ends are reported through the
 * violation hook (the harness fails the running case with the lock's name;
 * outside a case the kernel panics). */
#ifndef VTDLAB_KERNEL_LOCK_H
#define VTDLAB_KERNEL_LOCK_H

#include <stdint.h>
#include "../lib/atomic.h"
#include "x86.h"

#define LOCK_NO_OWNER      (-1)
#define LOCK_SPIN_LIMIT_MS 2000u
/* Locks one CPU may hold at once (nesting depth). */
#define LOCKS_HELD_MAX     8

struct spinlock {
    uint32_t next;       /* the ticket the next taker draws */
    uint32_t serving;    /* the ticket that holds the lock */
    int32_t owner;       /* CPU number of the holder, LOCK_NO_OWNER when free */
    /* A ticket whose taker gave up after LOCK_SPIN_LIMIT_MS: unlock skips
     * it, so one stuck taker does not wedge the lock for everyone after. */
    uint32_t abandoned;
    const char *name;
};
#define LOCK_TICKET_NONE UINT32_MAX
#define SPINLOCK_INIT(lname) { 0, 0, LOCK_NO_OWNER, LOCK_TICKET_NONE, lname }

void spin_lock_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
/* 1 when taken, 0 when another CPU holds it. */
int spin_trylock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
/* With interrupts off on this CPU while held: for locks an interrupt
 * handler also takes. */
uint64_t spin_lock_irqsave(struct spinlock *l);
void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags);

/* The locks a CPU holds now, for the harness's end-of-case check. */
unsigned lock_held_count(unsigned cpu);
const struct spinlock *lock_held(unsigned cpu, unsigned i);
/* Releases every lock cpu still holds (after a case that left them held
 * was failed), so the run can go on. The caller must know cpu is idle. */
void lock_release_all_held(unsigned cpu);

/* what: "taken twice by cpu 1", "spun 2000 ms ...". Does not return when
 * the hook ends the running case. */
typedef void (*lock_violation_hook_t)(const struct spinlock *l, const char *what);
void lock_set_violation_hook(lock_violation_hook_t hook);

/* Sequence counter: a writer (serialised by its own lock) makes the count
 * odd while it changes the data; a reader retries while the count was odd
 * or moved. */
struct seqcount {
    uint32_t seq;
};
static inline uint32_t seq_read_begin(const struct seqcount *s)
{
    uint32_t v;
    while ((v = load_acquire(&s->seq)) & 1)
        cpu_relax();
    return v;
}
static inline int seq_read_retry(const struct seqcount *s, uint32_t start)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return READ_ONCE(s->seq) != start;
}
static inline void seq_write_begin(struct seqcount *s)
{
    WRITE_ONCE(s->seq, s->seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void seq_write_end(struct seqcount *s)
{
    store_release(&s->seq, s->seq + 1);
}

/* Read-side sections for lock-free readers (a walker of the kernel's page
 * tables): between rcu_read_lock and rcu_read_unlock a reader may hold
 * pointers to memory another CPU unlinks; rcu_synchronize returns once
 * every other online CPU has been outside a section since the call began
 * (a grace period), so memory unlinked before it may be freed. Sections
 * nest, must not wait for a grace period themselves, and end on the CPU
 * that began them (nothing here migrates). */
void rcu_read_lock(void);
void rcu_read_unlock(void);
/* 0, -E_DEADLK when called inside a section, or -E_TIMEDOUT after
 * RCU_GRACE_TIMEOUT_MS with the CPU still inside one in *stuck_cpu. */
int rcu_synchronize(unsigned *stuck_cpu);
#define RCU_GRACE_TIMEOUT_MS 1000u
/* Whether cpu is inside a section now (for the end-of-case check). */
int rcu_in_section(unsigned cpu);
/* Ends a section a failed case left open on cpu (the caller knows cpu is
 * idle), as lock_release_all_held does for locks. */
void rcu_release(unsigned cpu);

#endif
