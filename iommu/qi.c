#include <string.h>
#include "qi.h"
#include "cap_reg.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define QI_TEXT 160

static void trace_desc(struct vtd_qi *q, unsigned idx, const struct qi_desc *d)
{
    if (!q->trace)
        return;
    char text[QI_TEXT];
    qi_desc_describe(d, text, sizeof(text));
    printk("# qi: [%3u] %016lx %016lx  %s\n", idx, d->qw[0], d->qw[1], text);
}

int qi_enable(struct vtd_qi *q, struct vtd_unit *u, int wide)
{
    int trace = q->trace;
    memset(q, 0, sizeof(*q));
    spin_lock_init(&q->lock, "vtd queue");
    q->trace = trace;
    q->u = u;
    if (!ECAP_QI(u->ecap))
        return -E_RANGE;
    if (wide && !ECAP_SMTS(u->ecap))
        return -E_RANGE;
    q->ring_pa = page_alloc();
    q->status_pa = page_alloc();
    if (!q->ring_pa || !q->status_pa)
        return -E_NOMEM;
    q->ring = phys_to_virt(q->ring_pa);
    q->status = phys_to_virt(q->status_pa);
    /* Each slot starts with a value no wait for it writes (those write
     * numbers equal to the slot modulo QI_STATUS_SLOTS, or QI_STATUS_REFUSED
     * past it): a zeroed page would read as sequence 0 completed once the
     * numbers wrap. */
    for (unsigned i = 0; i < QI_STATUS_SLOTS; i++)
        q->status[i] = i + 1;
    for (unsigned i = 0; i < QI_FAILED_RANGES; i++)
        q->failed[i] = (struct qi_seq_range)QI_SEQ_RANGE_EMPTY;
    q->desc_size = wide ? QI_DESC_256 : QI_DESC_128;
    q->shift = wide ? VTD_IQ_INDEX_SHIFT_256 : VTD_IQ_INDEX_SHIFT_128;
    q->entries = (unsigned)QI_RING_BYTES / q->desc_size;
    vtd_write64(u, VTD_IQT, 0);
    vtd_write64(u, VTD_IQA, q->ring_pa | (wide ? VTD_IQA_DW_256 : 0) | QI_RING_PAGES_LOG2);
    return vtd_gcmd(u, VTD_GCMD_QIE, 1);
}

int qi_disable(struct vtd_qi *q)
{
    int err = qi_sync(q, NULL, 0);
    if (!err)
        err = vtd_gcmd(q->u, VTD_GCMD_QIE, 0);
    /* A unit that still has the queue on may still fetch from the ring. */
    if (vtd_read32(q->u, VTD_GSTS) & VTD_GCMD_QIE) {
        printk("# qi: the queue is still on (GSTS.QIES = 1): its ring and status page are kept\n");
        return err ? err : -E_BUSY;
    }
    if (q->ring_pa)
        page_free(q->ring_pa);
    if (q->status_pa)
        page_free(q->status_pa);
    q->ring_pa = q->status_pa = 0;
    return err;
}

static unsigned head_index(struct vtd_qi *q)
{
    return (unsigned)((vtd_read64(q->u, VTD_IQH) & VTD_IQ_INDEX_MASK) >> q->shift);
}

/* Free slots between tail and head, one always kept empty. */
static unsigned space(struct vtd_qi *q)
{
    return (head_index(q) + q->entries - q->tail - 1) % q->entries;
}

static const uint32_t queue_errors = VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE;
static void recover(struct vtd_qi *q, uint32_t fsts);
static int tail_outside(uint64_t iqt, unsigned shift, unsigned entries);

/* Waits for room for n descriptors; called with q->lock held, so it is
 * also the one to recover a queue error that stops the head meanwhile
 * (a waiter in qi_wait could not: it would need the lock). */
static int wait_for_space(struct vtd_qi *q, unsigned n)
{
    struct deadline d = deadline_after_us(VTD_WAIT_US);
    for (;;) {
        if (q->stuck)
            return -E_IO;
        if (space(q) >= n)
            return 0;
        uint32_t fsts = vtd_read32(q->u, VTD_FSTS);
        if (fsts & queue_errors)
            recover(q, fsts);
        else
            cpu_relax();
        /* Errors that keep coming end the wait too. */
        if (deadline_passed(d))
            break;
    }
    printk("# qi: no room for %u descriptors in %u us: IQH %u IQT %u FSTS 0x%x\n", n, VTD_WAIT_US, head_index(q),
           q->tail, vtd_read32(q->u, VTD_FSTS));
    return -E_TIMEDOUT;
}

static void put(struct vtd_qi *q, const struct qi_desc *d)
{
    trace_desc(q, q->tail, d);
    memcpy(q->ring + (size_t)q->tail * q->desc_size, d, q->desc_size);
    q->tail = (q->tail + 1) % q->entries;
    q->descriptors++;
}

static void kick(struct vtd_qi *q)
{
    __asm__ volatile("sfence" ::: "memory"); /* descriptors before the tail moves */
    vtd_write64(q->u, VTD_IQT, (uint64_t)q->tail << q->shift);
}

void qi_write_tail_raw(struct vtd_qi *q, uint64_t iqt)
{
    spin_lock(&q->lock);
    if (tail_outside(iqt, q->shift, q->entries))
        q->bad_tail_written = 1;
    vtd_write64(q->u, VTD_IQT, iqt);
    spin_unlock(&q->lock);
}

static unsigned status_slot(uint32_t seq) { return seq % QI_STATUS_SLOTS; }

static uint64_t status_addr(const struct vtd_qi *q, uint32_t seq)
{
    return q->status_pa + status_slot(seq) * sizeof(*q->status);
}

/* Status write only: qi_wait polls the status, so no completion interrupt
 * is asked for. (Debian's QEMU 10.0.2, the default-stock control, also
 * asserts on SW and IF together; 10.2.2 does both, as VT-d spec 6.5.2.8
 * says: vtd_qi.wait_with_status_write_and_interrupt.) */
static int qi_wait_desc_for(struct qi_desc *d, const struct vtd_qi *q, uint32_t seq)
{
    return qi_desc_wait(d, (struct qi_wait){ .status_addr = status_addr(q, seq), .status_data = seq, .sw = 1 });
}

int qi_submit(struct vtd_qi *q, const struct qi_desc *d, unsigned n, uint32_t *seq)
{
    if (n + 1 >= q->entries)
        return -E_INVAL; /* more than the ring holds */
    spin_lock(&q->lock);
    /* Waiting for room may recover a queue error; only after it is the
     * sequence number taken, and the lock is held until its wait is in
     * the ring, so no other wait can carry the same number. */
    int err = wait_for_space(q, n + 1);
    uint32_t s = q->seq + 1;
    struct qi_desc w;
    if (!err)
        err = qi_wait_desc_for(&w, q, s);
    if (!err) {
        for (unsigned i = 0; i < n; i++)
            put(q, &d[i]);
        put(q, &w);
        q->seq = s;
        q->waits++;
        kick(q);
    }
    spin_unlock(&q->lock);
    if (!err && seq)
        *seq = s;
    return err;
}

/* Whether an IQE is the descriptor's at IQH: an invalid type or reserved
 * field in IQERCD.IQEI says so; the tail, a failed fetch or the width in
 * IQA say not. With no information (0), a tail outside the ring software
 * knows it wrote (bad_tail_written) is the cause the unit raised IQE for
 * when it was written (VT-d spec, Invalidation Queue Tail Register);
 * otherwise, as for a reason this code does not know, the descriptor at
 * IQH is the only candidate. */
static int iqe_blames_descriptor(uint64_t iqercd, int bad_tail_written)
{
    switch (iqercd & VTD_IQERCD_IQEI_MASK) {
    case QI_IQEI_TAIL:
    case QI_IQEI_FETCH:
    case QI_IQEI_WIDTH:
        return 0;
    case QI_IQEI_NOT_AVAILABLE:
        return !bad_tail_written;
    default:
        return 1;
    }
}

/* IQT that a descriptor cannot be at: past the ring, or between two
 * descriptors (VT-d spec 6.5.2: the tail indexes whole descriptors). */
static int tail_outside(uint64_t iqt, unsigned shift, unsigned entries)
{
    return (iqt & ~VTD_IQ_INDEX_MASK) || (iqt & ((1ul << shift) - 1)) || (iqt >> shift) >= entries;
}

int qi_force_off(struct vtd_unit *u)
{
    uint64_t iqa = vtd_read64(u, VTD_IQA), scratch = page_alloc();
    if (!scratch)
        return -E_NOMEM;
    int wide = (iqa & VTD_IQA_DW_256) != 0;
    unsigned size = wide ? QI_DESC_256 : QI_DESC_128, shift = wide ? VTD_IQ_INDEX_SHIFT_256 : VTD_IQ_INDEX_SHIFT_128;
    unsigned entries = (unsigned)((PAGE_SIZE << (iqa & VTD_IQA_QS_MASK)) / size);
    uint64_t iqh = vtd_read64(u, VTD_IQH), iqt = vtd_read64(u, VTD_IQT);
    uint32_t fsts = vtd_read32(u, VTD_FSTS);
    if (tail_outside(iqh, shift, entries)) {
        printk("# qi: the queue left on has IQH 0x%lx outside its ring of %u descriptors: it is not touched\n", iqh,
               entries);
        page_free(scratch);
        return -E_IO;
    }
    unsigned head = (unsigned)(iqh >> shift), at;
    if (tail_outside(iqt, shift, entries)) {
        /* Nothing can be queued at such a tail (a case may have set it on
         * purpose): the wait goes at IQH and IQT is written afresh. */
        printk("# qi: the queue left on has IQT 0x%lx outside its ring of %u descriptors: the wait goes at IQH %u\n",
               iqt, entries, head);
        at = head;
    } else if ((fsts & VTD_FSTS_IQE) && iqe_blames_descriptor(vtd_read64(u, VTD_IQERCD), 0)) {
        /* The unit would refuse the descriptor at IQH again and never get
         * to a wait: the wait takes its place. QEMU turns the queue off
         * only once IQH == IQT and the last descriptor it carried out was
         * a wait (vtd_queued_inv_disable_check). */
        at = head;
    } else if (((iqt >> shift) + 1) % entries == head) {
        /* A full ring (a queue error stopped the head with the ring full,
         * e.g. an ITE): a wait at IQT would move the tail onto IQH, the
         * ring would read empty and the wait never run. */
        printk("# qi: the queue left on is full (IQH %u, IQT %u): the wait goes at IQH\n", head,
               (unsigned)(iqt >> shift));
        at = head;
    } else {
        at = (unsigned)(iqt >> shift);
    }
    uint8_t *ring = phys_to_virt(iqa & PAGE_MASK);
    volatile uint32_t *status = phys_to_virt(scratch);
    const uint32_t done = 1;
    struct qi_desc w;
    qi_desc_wait(&w, (struct qi_wait){ .status_addr = scratch, .status_data = done, .sw = 1 });
    memcpy(ring + (size_t)at * size, &w, size);
    __asm__ volatile("sfence" ::: "memory");
    /* The tail goes behind the wait before the error is cleared, so a unit
     * that resumes on the clear stops at the wait; QEMU resumes only on an
     * IQT write made with IQE clear (vtd_handle_iqt_write), hence the
     * second write. What was queued past a wait put at IQH is dropped:
     * translation is off and the queue is going away. */
    uint64_t new_tail = (uint64_t)((at + 1) % entries) << shift;
    vtd_write64(u, VTD_IQT, new_tail);
    vtd_write32(u, VTD_FSTS, queue_errors);
    vtd_write64(u, VTD_IQT, new_tail);
    int err = WAIT_UNTIL(*status == done, VTD_WAIT_US) ? vtd_gcmd(u, VTD_GCMD_QIE, 0) : -E_TIMEDOUT;
    if (err == -E_TIMEDOUT) {
        /* The unit may still write the status page: it is never freed. */
        printk("# qi: the queue left on did not drain in %u us (IQH 0x%lx IQT 0x%lx FSTS 0x%x): "
               "its status page is kept\n", VTD_WAIT_US, vtd_read64(u, VTD_IQH), vtd_read64(u, VTD_IQT),
               vtd_read32(u, VTD_FSTS));
        return err;
    }
    page_free(scratch);
    return err;
}

static uint32_t refused_status(uint32_t seq) { return seq + QI_STATUS_REFUSED; }

int qi_wait_ran(const struct vtd_qi *q, uint32_t seq)
{
    uint32_t status = q->status[status_slot(seq)];
    return status == seq || status == refused_status(seq);
}

static int seq_in(const struct qi_seq_range *r, uint32_t seq)
{
    return (int32_t)(r->last - r->first) >= 0 && (int32_t)(seq - r->first) >= 0 && (int32_t)(r->last - seq) >= 0;
}

static void mark_failed(struct vtd_qi *q, uint32_t first, uint32_t last)
{
    if ((int32_t)(last - first) < 0)
        return;
    const struct qi_seq_range *gone = &q->failed[q->failed_next];
    if ((int32_t)(gone->last - gone->first) >= 0 &&
        (!q->forgotten_valid || (int32_t)(gone->last - q->forgotten_last) > 0)) {
        q->forgotten_valid = 1;
        q->forgotten_last = gone->last;
    }
    q->failed[q->failed_next] = (struct qi_seq_range){ first, last };
    q->failed_next = (q->failed_next + 1) % QI_FAILED_RANGES;
}

/* Whether an error kept seq's batch from completing; with the queue stuck
 * every wait not yet run counts too. */
static int seq_failed(struct vtd_qi *q, uint32_t seq, int stuck_counts)
{
    spin_lock(&q->lock);
    int failed = stuck_counts && q->stuck;
    for (unsigned i = 0; i < QI_FAILED_RANGES && !failed; i++)
        failed = seq_in(&q->failed[i], seq);
    spin_unlock(&q->lock);
    return failed;
}

/* Whether status, read from seq's slot, is what a later wait of the same
 * slot wrote (its number, or its refused one), among the numbers handed
 * out: the unit carried that wait out, so it went past seq's. */
static int later_wait_ran(const struct vtd_qi *q, uint32_t status, uint32_t seq)
{
    const uint32_t written[] = { status, status - QI_STATUS_REFUSED };
    for (unsigned i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        uint32_t ahead = written[i] - seq;
        if ((int32_t)ahead > 0 && ahead % QI_STATUS_SLOTS == 0 && (int32_t)(READ_ONCE(q->seq) - written[i]) >= 0)
            return 1;
    }
    return 0;
}

/* For a batch whose slot a later wait reused: whether an error may have
 * kept it from completing, recorded (a failed range) or no longer (at or
 * before a range overwritten since). */
static int old_seq_may_have_failed(struct vtd_qi *q, uint32_t seq)
{
    spin_lock(&q->lock);
    int forgotten = q->forgotten_valid && (int32_t)(q->forgotten_last - seq) >= 0;
    spin_unlock(&q->lock);
    return forgotten || seq_failed(q, seq, 0);
}

int qi_completed(struct vtd_qi *q, uint32_t seq)
{
    uint32_t status = q->status[status_slot(seq)];
    if (status == seq)
        return !seq_failed(q, seq, 0);
    return later_wait_ran(q, status, seq) && !old_seq_may_have_failed(q, seq);
}

static struct qi_desc *ring_desc(const struct vtd_qi *q, unsigned idx)
{
    return (struct qi_desc *)(q->ring + (size_t)idx * q->desc_size);
}

/* The sequence number of the batch a wait descriptor of this queue at idx
 * ends: the number it writes into that number's slot, or one recovery
 * made it write QI_STATUS_REFUSED past it. */
static int our_wait_at(const struct vtd_qi *q, unsigned idx, uint32_t *seq)
{
    const struct qi_desc *d = ring_desc(q, idx);
    if (qi_desc_type(d) != QI_WAIT || !bits_get(d->qw[0], QI_WAIT_SW))
        return 0;
    uint32_t data = (uint32_t)bits_get(d->qw[0], QI_WAIT_DATA);
    uint64_t addr = bits_get(d->qw[1], QI_WAIT_ADDR_QW1) << 2;
    if (addr == status_addr(q, data)) {
        *seq = data;
        return 1;
    }
    *seq = data - QI_STATUS_REFUSED;
    return addr == status_addr(q, *seq);
}

/* The nearest of our waits from idx on (step 1) or before idx (step
 * entries - 1), within the descriptors software has queued: its batch's
 * number and where it is. */
static int nearest_wait(const struct vtd_qi *q, unsigned idx, unsigned step, uint32_t *seq, unsigned *at)
{
    for (unsigned i = 0; i < q->entries - 1; i++, idx = (idx + step) % q->entries) {
        if (step == 1 && idx == q->tail)
            return 0;
        if (our_wait_at(q, idx, seq)) {
            *at = idx;
            return 1;
        }
    }
    return 0;
}

/* The first of the waits an ITE dropped, last being the latest: waits
 * complete in order, so they are the ones back from last whose own slot
 * was never written (no more than the ring holds). */
static uint32_t first_dropped(const struct vtd_qi *q, uint32_t last)
{
    uint32_t first = last;
    for (unsigned k = 1; k < q->entries && k < q->waits && !qi_wait_ran(q, last - k); k++)
        first = last - k;
    return first;
}

/* The wait at idx, not yet fetched, writes QI_STATUS_REFUSED past seq
 * instead of seq: its batch can then never read as completed, whatever
 * becomes of the failed ranges. One store of the qword the data is in. */
static void make_wait_refused(struct vtd_qi *q, unsigned idx, uint32_t seq)
{
    volatile uint64_t *qw0 = &ring_desc(q, idx)->qw[0];
    uint64_t v = *qw0;
    bits_set(&v, QI_WAIT_DATA, refused_status(seq));
    *qw0 = v;
}

/* Called with q->lock held, FSTS showing a queue error. */
static void recover(struct vtd_qi *q, uint32_t fsts)
{
    unsigned idx = head_index(q);
    q->error.valid = 1;
    q->error.index = idx;
    q->error.fsts = fsts;
    q->error.iqercd = vtd_read64(q->u, VTD_IQERCD);
    struct qi_desc at = { { 0 } };
    memcpy(&at, ring_desc(q, idx), q->desc_size);
    q->error.desc = at;
    char text[QI_TEXT];
    qi_desc_describe(&at, text, sizeof(text));
    printk("# qi: queue error (FSTS 0x%x, IQERCD 0x%lx) with IQH at %u: %016lx %016lx %s\n", fsts,
           q->error.iqercd, idx, at.qw[0], at.qw[1], text);
    /* The IQE before this one left the queue as it was, and neither IQH
     * nor what was submitted changed since (so IQH did not go round). */
    int kept_before = q->kept_valid && q->kept_head == idx && q->kept_descriptors == q->descriptors;
    int bad_tail = q->bad_tail_written;
    q->kept_valid = 0;
    if (fsts & VTD_FSTS_IQE)
        q->bad_tail_written = 0; /* this IQE is the one it raised */
    uint32_t seq;
    unsigned wait_at;
    struct qi_desc harmless;
    /* A global context-cache invalidation: valid in every mode. */
    qi_desc_context_cache(&harmless, (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    if ((fsts & VTD_FSTS_IQE) && !iqe_blames_descriptor(q->error.iqercd, bad_tail)) {
        if (kept_before && !bad_tail) {
            /* Restarting changed nothing: the cause (a fetch that keeps
             * failing, the queue's set-up) persists, and recovering again
             * would only loop until the deadline. */
            printk("# qi: IQE again with IQH still at %u and nothing queued since (IQERCD.IQEI %lu): "
                   "the queue stays stopped\n", idx, (unsigned long)(q->error.iqercd & VTD_IQERCD_IQEI_MASK));
            q->stuck = 1;
            return;
        }
        /* The tail, a fetch or the queue's set-up, not the descriptor at
         * IQH: it stays, and so does its batch (the kick below writes the
         * tail software keeps). */
        printk("# qi: IQE not the descriptor's at %u (IQERCD.IQEI %lu%s): it is left in place\n", idx,
               (unsigned long)(q->error.iqercd & VTD_IQERCD_IQEI_MASK),
               bad_tail ? ", a tail outside the ring was written" : "");
        q->kept_valid = 1;
        q->kept_head = idx;
        q->kept_descriptors = q->descriptors;
    } else if (fsts & VTD_FSTS_IQE) {
        /* IQH rests on the refused descriptor; the batch it belongs to is
         * the one whose wait follows it. */
        if (!memcmp(&at, &harmless, q->desc_size)) {
            printk("# qi: the unit refused the harmless descriptor put in place of a bad one at %u: "
                   "the queue stays stopped\n", idx);
            q->stuck = 1;
            return;
        }
        /* The unit stopped at IQH, so that wait is not fetched yet (VT-d
         * spec 6.5.2.10): it is made to write a number that says refused,
         * and the failed range tells its waiters meanwhile. (Were the
         * refused descriptor the wait itself, the replacement overwrites
         * it and only the failed range says so.) */
        if (nearest_wait(q, idx, 1, &seq, &wait_at)) {
            mark_failed(q, seq, seq);
            make_wait_refused(q, wait_at, seq);
        }
        memcpy(ring_desc(q, idx), &harmless, q->desc_size);
    }
    if (fsts & VTD_FSTS_ITE) {
        /* A device-TLB invalidation timed out: the unit dropped the waits
         * it had fetched and not completed (before IQH, their own status
         * slots never written, and never to be: no number of theirs can
         * read as completed). IQH points at the next unfetched
         * descriptor, which is good: the ring is not touched. */
        if (nearest_wait(q, (idx + q->entries - 1) % q->entries, q->entries - 1, &seq, &wait_at) &&
            !qi_wait_ran(q, seq))
            mark_failed(q, first_dropped(q, seq), seq);
    }
    vtd_write32(q->u, VTD_FSTS, fsts & queue_errors);
    /* The dropped waits never write their slots: their waiters learn of
     * the failure from the failed range. */
    q->errors++;
    kick(q);
}

int qi_wait(struct vtd_qi *q, uint32_t seq)
{
    struct deadline d = deadline_after_us(VTD_WAIT_US);
    /* One look at the failed ranges first (an error recovered before this
     * call may have dropped the wait), then one after each recovery. */
    unsigned errors_seen = READ_ONCE(q->errors) - 1;
    for (;;) {
        uint32_t status = q->status[status_slot(seq)];
        if (READ_ONCE(q->stuck))
            return -E_IO;
        /* Read even when done, so an error the batch raised on its way
         * (ICE leaves the queue running) is recorded and cleared. */
        uint32_t fsts = vtd_read32(q->u, VTD_FSTS);
        if (fsts & queue_errors) {
            /* Several CPUs may see the error: the first to take the lock
             * recovers, the others find it cleared. */
            spin_lock(&q->lock);
            fsts = vtd_read32(q->u, VTD_FSTS);
            if ((fsts & queue_errors) && !q->stuck)
                recover(q, fsts);
            spin_unlock(&q->lock);
        }
        /* What the batch's own wait wrote decides, whatever the failed
         * ranges still hold. */
        if (status == refused_status(seq))
            return -E_IO;
        if (status == seq)
            return seq_failed(q, seq, 1) ? -E_IO : 0;
        /* A wait for a batch so old that a later wait reused its slot. */
        if (later_wait_ran(q, status, seq))
            return old_seq_may_have_failed(q, seq) ? -E_IO : 0;
        /* Once no error is pending (this waiter recovers any first). */
        unsigned errors = READ_ONCE(q->errors);
        if (!(fsts & queue_errors) && errors != errors_seen) {
            errors_seen = errors;
            if (seq_failed(q, seq, 1))
                return -E_IO;
        }
        if (deadline_passed(d))
            break;
        cpu_relax();
    }
    printk("# qi: sequence %u not reached in %u us: its status slot %u, IQH %u, IQT %u, FSTS 0x%x\n", seq,
           VTD_WAIT_US, q->status[status_slot(seq)], head_index(q), q->tail, vtd_read32(q->u, VTD_FSTS));
    return -E_TIMEDOUT;
}

int qi_sync(struct vtd_qi *q, const struct qi_desc *d, unsigned n)
{
    uint32_t seq;
    int err = qi_submit(q, d, n, &seq);
    return err ? err : qi_wait(q, seq);
}
