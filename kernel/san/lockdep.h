/* The lock-order checker (lockdep.c): the hooks kernel/lock.c and the
 * interrupt path call. Empty in a kernel built without it. */
#ifndef VTDLAB_KERNEL_SAN_LOCKDEP_H
#define VTDLAB_KERNEL_SAN_LOCKDEP_H

#include <stdint.h>

struct spinlock;

#ifdef VTDLAB_SAN_LOCKDEP
/* Before this CPU waits for l (trylock 0) or once it took l without
 * waiting (trylock 1); held: the locks it holds now, oldest first. */
void lockdep_acquire(const struct spinlock *l, const struct spinlock *const *held, unsigned nheld, int trylock);
/* Around an interrupt handler: frame is its trap frame, on the stack it
 * interrupted; returns what lockdep_irq_exit puts back (nesting). */
uintptr_t lockdep_irq_enter(const void *frame);
void lockdep_irq_exit(uintptr_t outer);
/* Before each case (san_case_start): no CPU is inside a handler. */
void lockdep_case_start(void);
/* For a test that fills the tables on purpose, with every other CPU idle:
 * the graph as it is now, and back to it (what was added since
 * forgotten, the checker on again). */
struct lockdep_mark {
    unsigned classes, edges;
};
struct lockdep_mark lockdep_mark(void);
void lockdep_rewind(struct lockdep_mark m);
#else
static inline void lockdep_acquire(const struct spinlock *l, const struct spinlock *const *held, unsigned nheld,
                                   int trylock) {}
static inline uintptr_t lockdep_irq_enter(const void *frame) { return 0; }
static inline void lockdep_irq_exit(uintptr_t outer) {}
#endif

#endif
