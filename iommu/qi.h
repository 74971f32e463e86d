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
/* What an unused entry holds: a zeroed one would be {0, 0}, sequence 0
 * failed, met once the numbers wrap. */
#define QI_SEQ_RANGE_EMPTY { 1, 0 }

/* Each wait descriptor writes its own sequence number into its own slot
 * of the status page (seq % QI_STATUS_SLOTS), so a batch reads as
 * completed only once its own wait ran, never because a later wait wrote
 * a larger number. A sequence QI_STATUS_SLOTS or more waits old has its
 * slot reused: a later number of the same slot there says the unit went
 * past its wait (waits are carried out in ring order), and the failed
 * ranges say whether its batch failed on the way; once those no longer
 * reach back to it (more errors since than QI_FAILED_RANGES), it does not
 * read as completed. */
#define QI_STATUS_SLOTS (PAGE_SIZE / sizeof(uint32_t))
/* What the wait of a batch the unit refused part of writes instead of its
 * number: seq + QI_STATUS_REFUSED, a number of another slot, so the slot
 * never reads as that batch (or any batch of the slot) completed, however
 * many errors later, and its waiter is told -E_IO. A slot's initial value
 * (slot + 1) is neither kind. */
#define QI_STATUS_REFUSED (QI_STATUS_SLOTS / 2)

/* IQERCD.IQEI: why the unit set FSTS.IQE (VT-d spec, Invalidation Queue
 * Error Record Register). Only the descriptor kinds blame the descriptor
 * at IQH; 0 (an older unit, or QEMU) leaves it the only candidate. */
#define VTD_IQERCD_IQEI_MASK 0xful
/* IQERCD.ITESID: the source-id of the device whose device-TLB
 * invalidation timed out (FSTS.ITE). */
#define VTD_IQERCD_ITESID    47, 32
enum qi_iqei {
    QI_IQEI_NOT_AVAILABLE = 0,
    QI_IQEI_TAIL = 1,        /* an invalid tail pointer */
    QI_IQEI_FETCH = 2,       /* fetching a descriptor failed */
    QI_IQEI_TYPE = 3,        /* an invalid descriptor type */
    QI_IQEI_RESERVED = 4,    /* a reserved field set in a valid type */
    QI_IQEI_WIDTH = 5,       /* an invalid descriptor width in IQA */
};

#define QI_RING_PAGES_LOG2 0      /* IQA.QS: one 4 KiB page */
#define QI_RING_BYTES       (PAGE_SIZE << QI_RING_PAGES_LOG2)
/* The most descriptors a ring holds (128-bit ones). */
#define QI_RING_ENTRIES_MAX (QI_RING_BYTES / QI_DESC_128)

struct vtd_qi {
    /* The sequence number, the ring, the tail write, error recovery and
     * the failed ranges: one CPU at a time. Waiting for a sequence reads
     * its status slot without the lock. */
    struct spinlock lock;
    struct vtd_unit *u;
    uint8_t *ring;
    uint64_t ring_pa;
    unsigned entries, desc_size, shift;
    unsigned tail;
    volatile uint32_t *status;   /* QI_STATUS_SLOTS slots, one per sequence */
    uint64_t status_pa;
    uint32_t seq;                /* the last sequence number handed out */
    uint64_t descriptors, waits; /* submitted, for metrics */
    int trace;
    struct vtd_qi_error error;   /* the last queue error recovered from */
    struct qi_seq_range failed[QI_FAILED_RANGES];
    unsigned failed_next;
    /* The newest sequence of a failed range overwritten since (valid once
     * one was): at or before it, an old batch may have failed unrecorded. */
    int forgotten_valid;
    uint32_t forgotten_last;
    unsigned errors;             /* queue errors recovered: a waiter looks at failed[] again when it moves */
    /* qi_write_tail_raw wrote a tail outside the ring since the last IQE
     * was recovered: without IQERCD.IQEI, software's own record that an
     * IQE may be the tail's (the next submit rewrites IQT and hides it). */
    int bad_tail_written;
    /* The last IQE recovered without blaming a descriptor: where IQH was
     * and how many descriptors had been submitted then. The same IQE with
     * neither changed means its cause persists. */
    int kept_valid;
    unsigned kept_head;
    uint64_t kept_descriptors;
    /* The unit refused even the harmless descriptor put in place of a bad
     * one, or raised an IQE that blames no descriptor again without IQH
     * moving: the queue stays stopped (IQE left set) and every wait and
     * submit fails with -E_IO until the queue is turned off. */
    int stuck;
};

/* Allocates the ring (one page) and status memory and sets QIE.
 * wide: 256-bit descriptors (scalable mode only; needs ECAP.SMTS). */
int qi_enable(struct vtd_qi *q, struct vtd_unit *u, int wide);
/* Drains the queue with a wait descriptor, then clears QIE: the spec wants
 * nothing pending, and QEMU refuses unless the last descriptor was a wait. */
int qi_disable(struct vtd_qi *q);
/* The same for a queue someone else left on (an aborted case, firmware):
 * the ring is found through IQA, a wait appended at IQT, or put at IQH in
 * place of a descriptor the unit refused, when IQT is not in the ring, or
 * when the ring is full. Nothing is written outside the ring IQA
 * describes. */
int qi_force_off(struct vtd_unit *u);

/* Queues n descriptors and one wait descriptor behind them; *seq is what
 * that wait writes. The number is taken only once there is room for the
 * batch, with the lock held until its wait is in the ring, so no other
 * wait ever carries it. Does not wait. */
int qi_submit(struct vtd_qi *q, const struct qi_desc *d, unsigned n, uint32_t *seq);
/* Whether the batch of seq completed, read from memory the unit wrote:
 * its own wait wrote seq into its own status slot (a refused batch's
 * wait writes another number), and no queue error kept the batch from
 * completing (not in a failed range). Independent of what qi_wait
 * returned. */
int qi_completed(struct vtd_qi *q, uint32_t seq);
/* Whether the wait of seq itself ran (its slot holds seq, or seq +
 * QI_STATUS_REFUSED), whatever happened to the descriptors before it. */
int qi_wait_ran(const struct vtd_qi *q, uint32_t seq);
/* Waits for seq with a deadline. A queue error on the way is recovered as
 * the spec asks for its kind (VT-d spec 6.5.2.10): after IQE the refused
 * descriptor is replaced by a harmless one, its batch's wait made to write
 * QI_STATUS_REFUSED past its number, and the queue restarted (only when
 * neither IQERCD.IQEI nor a bad tail software wrote names the tail, a
 * fetch or the set-up instead; such an IQE again with IQH not moved marks
 * the queue stuck); after ITE the ring is left alone (IQH is past the
 * descriptors the unit dropped) and the dropped waits' batches are marked
 * failed; ICE is recorded and cleared. q->error is filled in each case. A
 * batch the error kept from completing ends in -E_IO, for any waiter;
 * -E_TIMEDOUT with the queue registers in the log. Errors are also
 * recovered while qi_submit waits for ring space. */
int qi_wait(struct vtd_qi *q, uint32_t seq);
/* qi_submit + qi_wait. */
int qi_sync(struct vtd_qi *q, const struct qi_desc *d, unsigned n);

/* For tests that provoke errors: write any value to IQT (one outside the
 * ring is remembered, so the IQE it raises is not blamed on the
 * descriptor at IQH). */
void qi_write_tail_raw(struct vtd_qi *q, uint64_t iqt);

#endif
