/* TLB shootdown: after the kernel's tables change, every CPU drops what it
 * cached of the old entries before the VA or its frames are reused. The
 * local flush is INVLPG per page (which also drops paging-structure
 * caches, SDM vol. 3 4.10.4.1) or a CR3 reload for long ranges; the other
 * CPUs do the same from an IPI (kernel/smp.h), and the call returns once
 * all of them have. */
#ifndef VTDLAB_MM_TLB_H
#define VTDLAB_MM_TLB_H

#include <stdint.h>

struct tlb_range {
    uint64_t start, end;  /* [start, end), page aligned */
};

/* Not with a lock held that another CPU may spin on with interrupts off:
 * it could not answer. 0, or -E_TIMEDOUT naming the CPU that did not. */
int tlb_shootdown(uint64_t start, uint64_t end);
int tlb_shootdown_batch(const struct tlb_range *r, unsigned n);
/* The negative control of the shootdown test: with 0, only this CPU
 * flushes. Restored to 1 by the test that clears it. */
void tlb_set_remote_shootdown(int on);
/* Shootdowns that reached other CPUs since boot, for metrics. */
uint64_t tlb_remote_shootdowns(void);
/* Tests only: the next shootdown that reaches other CPUs returns
 * -E_TIMEDOUT although they all flushed, as when a target is declared lost
 * (its caller must then treat the pages as still reachable). */
void tlb_inject_unacknowledged(void);
/* What the last shootdown handed another CPU, as that CPU received it: for
 * the test that it does not point into the initiator's stack. */
const void *tlb_last_remote_batch(void);

#endif
