/* The invalidation queue of one unit (VT-d spec 6.5.2). Completion is only
 * ever known from a wait descriptor that writes a sequence number into
 * per-unit status memory; head == tail says nothing (the head moves when a
 * descriptor is fetched, not when it is done). */
#ifndef VTDLAB_IOMMU_QI_H
#define VTDLAB_IOMMU_QI_H

#include <stdint.h>
#include "../mm/layout.h"
#include "qi_desc.h"
#include "unit.h"

struct vtd_qi_error {
    int valid;
    unsigned index;          /* the descriptor IQH pointed at */
    struct qi_desc desc;     /* what was there */
    uint32_t fsts;
    uint64_t iqercd;
};

/* The sequence numbers of batches a queue error kept from completing:
 * whichever CPU waits for one of them is told -E_IO, not only the one that
 * recovered. The last few errors are kept; more than that inside one wait
 * means the unit is failing anyway (and the deadline ends the wait). */
#define QI_FAILED_RANGES 8
struct qi_seq_range {
    uint32_t first, last;    /* inclusive; first > last (wrap-safe): empty */
};

#define QI_RING_PAGES_LOG2 0      /* IQA.QS: one 4 KiB page */
#define QI_RING_BYTES       (PAGE_SIZE << QI_RING_PAGES_LOG2)
/* The most descriptors a ring holds (128-bit ones). */
#define QI_RING_ENTRIES_MAX (QI_RING_BYTES / QI_DESC_128)

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
    struct qi_seq_range failed[QI_FAILED_RANGES];
    unsigned failed_next;
    /* The unit refused even the harmless descriptor put in place of a bad
     * one: the queue stays stopped (IQE left set) and every wait and submit
     * fails with -E_IO until the queue is turned off. */
    int stuck;
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
/* Waits for seq with a deadline. A queue error on the way is recovered as
 * the spec asks for its kind (VT-d spec 6.5.2.10): after IQE the refused
 * descriptor is replaced by a harmless one and the queue restarted; after
 * ITE the ring is left alone (IQH is past the descriptors the unit
 * dropped) and a fresh wait queued so the dropped waits' waiters see an
 * end; ICE is recorded and cleared. q->error is filled in each case. A
 * batch the error kept from completing ends in -E_IO, for any waiter;
 * -E_TIMEDOUT with the queue registers in the log. Errors are also
 * recovered while qi_submit waits for ring space. */
int qi_wait(struct vtd_qi *q, uint32_t seq);
/* qi_submit + qi_wait. */
int qi_sync(struct vtd_qi *q, const struct qi_desc *d, unsigned n);

/* For tests that provoke errors: write any value to IQT. */
void qi_write_tail_raw(struct vtd_qi *q, uint64_t iqt);

#endif
