/* Locks shared by every CPU: spinlocks that know their owner, with
 * interrupt-safe variants, a sequence counter for readers that must not
 * block writers, and RCU-style read-side sections with a grace-period wait
 * for readers that take no lock at all. All SMP locking primitives live
 * here; IPIs, per-CPU data and bring-up are in smp.h.
 *
 * The spinlock is a test-and-set lock on its owner field, not a ticket
 * lock. Why: this kernel is a test bench whose contract is "a lock past
 * its limit fails the case and the run goes on", so a waiter must be able
 * to leave at any instant (its limit passed, the case ended under it, an
 * NMI recalled the job it ran) and leave nothing behind. A ticket is a
 * promise to take the lock when served: a waiter that leaves must hand its
 * ticket on, and every way of doing that races the holder's release (the
 * lock this replaced wedged so). Here a waiter owns nothing until its
 * compare-exchange wins, so leaving is just not trying again. The price is
 * fairness, which the kernel does not rely on; and under a hypervisor that
 * preempts vCPUs (QEMU threads on a busy host) a FIFO hand-off waits for
 * the next waiter's vCPU to be scheduled at every release, where any
 * running CPU takes a free test-and-set lock (Linux falls back to the
 * same kind of lock in guests for that reason: virt_spin_lock).
 *
 * Debug checks (always on; this kernel is a test bench): a lock taken again
 * by the CPU that holds it, a single hold that outlasts LOCK_SPIN_LIMIT_MS
 * while another CPU waits, and locks still held when a test case ends are
 * reported through the violation hook (the harness fails the running case
 * with the lock's name; outside a case the kernel panics). */
#ifndef VTDLAB_KERNEL_LOCK_H
#define VTDLAB_KERNEL_LOCK_H

#include <stdint.h>
#include "../lib/atomic.h"
#include "x86.h"

#define LOCK_NO_OWNER      (-1)
/* How long a waiter lets one holder keep the lock before it calls that a
 * bug. Counted from the last time the lock changed hands, not from when
 * the waiter began: the holders' progress restarts it, so a queue of
 * waiters on a slow or busy host never adds up to a violation; only one
 * hold this long does. Critical sections here last microseconds (a few
 * milliseconds for the longest reclaim batch); the rest of a hold is the
 * host not running the holder's vCPU, which a loaded scheduler does for
 * tens of milliseconds at a time, not seconds. */
#define LOCK_SPIN_LIMIT_MS 2000u
/* Locks one CPU may hold or be taking at once (nesting depth). */
#define LOCKS_HELD_MAX     8

struct spinlock {
    /* The lock itself: CPU number of the holder, LOCK_NO_OWNER when free;
     * taken by one compare-exchange from LOCK_NO_OWNER. */
    int32_t owner;
    /* Times taken, bumped by each new holder: waiters watch it to tell
     * holders that make progress from one that is stuck. */
    uint32_t takes;
    const char *name;
};
#define SPINLOCK_INIT(lname) { LOCK_NO_OWNER, 0, lname }

void spin_lock_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
/* Waits until it takes the lock (0) or no CPU took it for limit_us
 * (-E_TIMEDOUT: the waiter leaves and the lock is as if it never came).
 * spin_lock is this with LOCK_SPIN_LIMIT_MS and a violation on time-out. */
int spin_lock_bounded(struct spinlock *l, uint64_t limit_us);
/* The same for a lock whose holder waits for hardware or a grace period:
 * after spin_us without it the waiter halts between tries when interrupts
 * are on (a timer tick or an IPI wakes it), so it neither burns the host
 * CPU nor, under QEMU's icount, the virtual time the holder waits out. */
int spin_lock_bounded_idle(struct spinlock *l, uint64_t limit_us, uint64_t spin_us);
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
 * was failed), so the run can go on, and forgets the ones it was taking
 * when it was stopped. The caller must know cpu is idle. */
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
/* 0, -E_DEADLK when called inside a section, or -E_TIMEDOUT with the CPU
 * still inside one in *stuck_cpu. How long a reader may stay is counted in
 * its own timer ticks (kernel/apic.h), not the waiter's clock: a reader's
 * vCPU the host does not run takes no ticks and is waited for, while one
 * that runs and stays in its section is reported once it took
 * RCU_GRACE_READER_TICKS (a second of its own time at the kernel's
 * 100 Hz). A reader that takes no tick at all (interrupts off, a CPU that
 * stopped) is reported once the wait reached RCU_GRACE_STALL_MS, which also
 * bounds the whole wait. */
int rcu_synchronize(unsigned *stuck_cpu);
#define RCU_GRACE_READER_TICKS 100u
#define RCU_GRACE_STALL_MS     5000u
/* How many rcu_synchronize calls wait for cpu's section to end now: a
 * reader that must outlast a grace period (the reclaim suite's lock-free
 * walker) holds its section until one waits for it, not for a fixed time. */
unsigned rcu_waiting_on(unsigned cpu);
/* Whether cpu is inside a section now (for the end-of-case check). */
int rcu_in_section(unsigned cpu);
/* Ends a section a failed case left open on cpu (the caller knows cpu is
 * idle), as lock_release_all_held does for locks. */
void rcu_release(unsigned cpu);

#endif
