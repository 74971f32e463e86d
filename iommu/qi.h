/* The invalidation queue of one unit (VT-d spec 6.5.2). Completion is only
 * ever known from a wait descriptor that writes a sequence number into
 * per-unit status memory; head == tail says nothing (the head moves when a
 * descriptor is fetched, not when it is done). */
#ifndef VTDLAB_IOMMU_QI_H
#define VTDLAB_IOMMU_QI_H

#include <stdint.h>
#include "qi_desc.h"
#include "unit.h"

struct vtd_qi_error {
    int valid;
    unsigned index;          /* the descriptor IQH pointed at */
    struct qi_desc desc;     /* what was there */
    uint32_t fsts;
    uint64_t iqercd;
};

struct vtd_qi {
    /* The sequence number, the ring, the tail write and error recovery:
     * one CPU at a time. Waiting for a sequence needs no lock. */
    struct spinlock lock;
    struct vtd_unit *u;
    uint8_t *ring;
    uint64_t ring_pa;
    unsigned entries, desc_size, shift;
    unsigned tail;
    volatile uint32_t *status;   /* where wait descriptors write */
    uint64_t status_pa;
    uint32_t seq;                /* the last sequence number handed out */
    uint64_t descriptors, waits; /* submitted, for metrics */
    int trace;
    struct vtd_qi_error error;   /* the last queue error recovered from */
};

/* Allocates the ring (one page) and status memory and sets QIE.
 * wide: 256-bit descriptors (scalable mode only; needs ECAP.SMTS). */
int qi_enable(struct vtd_qi *q, struct vtd_unit *u, int wide);
/* Drains the queue with a wait descriptor, then clears QIE: the spec wants
 * nothing pending, and QEMU refuses unless the last descriptor was a wait. */
int qi_disable(struct vtd_qi *q);
/* The same for a queue someone else left on (an aborted case, firmware):
 * the ring is found through IQA, a wait appended at IQT. */
int qi_force_off(struct vtd_unit *u);

/* Queues n descriptors and one wait descriptor behind them; *seq is what
 * that wait writes. Does not wait. */
int qi_submit(struct vtd_qi *q, const struct qi_desc *d, unsigned n, uint32_t *seq);
/* Whether the wait carrying seq has written its status (wrap-safe). */
int qi_completed(const struct vtd_qi *q, uint32_t seq);
/* Waits for seq with a deadline. A queue error on the way is recovered
 * (the bad descriptor replaced by a harmless one, IQE cleared, the queue
 * restarted) and reported as -E_IO with q->error filled; -E_TIMEDOUT with
 * the queue registers in the log. */
int qi_wait(struct vtd_qi *q, uint32_t seq);
/* qi_submit + qi_wait. */
int qi_sync(struct vtd_qi *q, const struct qi_desc *d, unsigned n);

/* For tests that provoke errors: write any value to IQT. */
void qi_write_tail_raw(struct vtd_qi *q, uint64_t iqt);

#endif
