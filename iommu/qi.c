#include <string.h>
#include "qi.h"
#include "cap.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define QI_RING_PAGES_LOG2 0      /* IQA.QS: one 4 KiB page */
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
    q->desc_size = wide ? QI_DESC_256 : QI_DESC_128;
    q->shift = wide ? VTD_IQ_INDEX_SHIFT_256 : VTD_IQ_INDEX_SHIFT_128;
    q->entries = (unsigned)(PAGE_SIZE << QI_RING_PAGES_LOG2) / q->desc_size;
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

static int append(struct vtd_qi *q, const struct qi_desc *d, unsigned n)
{
    if (n >= q->entries)
        return -E_INVAL;
    if (!WAIT_UNTIL(space(q) >= n, VTD_WAIT_US)) {
        printk("# qi: no room for %u descriptors in %u us: IQH %u IQT %u\n", n, VTD_WAIT_US, head_index(q), q->tail);
        return -E_TIMEDOUT;
    }
    for (unsigned i = 0; i < n; i++) {
        trace_desc(q, q->tail, &d[i]);
        memcpy(q->ring + (size_t)q->tail * q->desc_size, &d[i], q->desc_size);
        q->tail = (q->tail + 1) % q->entries;
    }
    q->descriptors += n;
    return 0;
}

static void kick(struct vtd_qi *q)
{
    __asm__ volatile("sfence" ::: "memory"); /* descriptors before the tail moves */
    vtd_write64(q->u, VTD_IQT, (uint64_t)q->tail << q->shift);
}

void qi_write_tail_raw(struct vtd_qi *q, uint64_t iqt)
{
    spin_lock(&q->lock);
    vtd_write64(q->u, VTD_IQT, iqt);
    spin_unlock(&q->lock);
}

/* Status write only: QEMU 10.0.2 aborts on SW and IF together. */
static int qi_wait_desc_for(struct qi_desc *d, const struct vtd_qi *q, uint32_t seq)
{
    return qi_desc_wait(d, q->status_pa, seq, 1, 0, 0);
}

int qi_submit(struct vtd_qi *q, const struct qi_desc *d, unsigned n, uint32_t *seq)
{
    if (n + 1 >= q->entries)
        return -E_INVAL; /* more than the ring holds; also bounds the array below */
    struct qi_desc batch[n + 1];
    if (n)
        memcpy(batch, d, n * sizeof(*d));
    spin_lock(&q->lock);
    uint32_t s = q->seq + 1;
    int err = qi_wait_desc_for(&batch[n], q, s);
    if (!err)
        err = append(q, batch, n + 1);
    if (!err) {
        q->seq = s;
        q->waits++;
        kick(q);
    }
    spin_unlock(&q->lock);
    if (!err && seq)
        *seq = s;
    return err;
}

int qi_force_off(struct vtd_unit *u)
{
    uint64_t iqa = vtd_read64(u, VTD_IQA), scratch = page_alloc();
    if (!scratch)
        return -E_NOMEM;
    int wide = (iqa & VTD_IQA_DW_256) != 0;
    unsigned size = wide ? QI_DESC_256 : QI_DESC_128, shift = wide ? VTD_IQ_INDEX_SHIFT_256 : VTD_IQ_INDEX_SHIFT_128;
    unsigned entries = (unsigned)((PAGE_SIZE << (iqa & VTD_IQA_QS_MASK)) / size);
    unsigned tail = (unsigned)((vtd_read64(u, VTD_IQT) & VTD_IQ_INDEX_MASK) >> shift);
    uint8_t *ring = phys_to_virt(iqa & PAGE_MASK);
    volatile uint32_t *status = phys_to_virt(scratch);
    const uint32_t done = 1;
    struct qi_desc w;
    qi_desc_wait(&w, scratch, done, 1, 0, 0);
    memcpy(ring + (size_t)tail * size, &w, size);
    __asm__ volatile("sfence" ::: "memory");
    vtd_write32(u, VTD_FSTS, VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE);
    vtd_write64(u, VTD_IQT, (uint64_t)((tail + 1) % entries) << shift);
    int err = WAIT_UNTIL(*status == done, VTD_WAIT_US) ? vtd_gcmd(u, VTD_GCMD_QIE, 0) : -E_TIMEDOUT;
    page_free(scratch);
    return err;
}

int qi_completed(const struct vtd_qi *q, uint32_t seq)
{
    return (int32_t)(*q->status - seq) >= 0;
}

/* IQH rests on the descriptor the unit refused (VT-d spec 6.5.2.10). It is
 * replaced by a global context-cache invalidation, valid in every mode and
 * harmless, IQE is cleared and the tail written again to restart. */
static void recover(struct vtd_qi *q, uint32_t fsts)
{
    unsigned idx = head_index(q);
    q->error.valid = 1;
    q->error.index = idx;
    q->error.fsts = fsts;
    q->error.iqercd = vtd_read64(q->u, VTD_IQERCD);
    memcpy(&q->error.desc, q->ring + (size_t)idx * q->desc_size, q->desc_size);
    char text[QI_TEXT];
    qi_desc_describe(&q->error.desc, text, sizeof(text));
    printk("# qi: queue error (FSTS 0x%x, IQERCD 0x%lx) at descriptor %u: %016lx %016lx %s\n", fsts,
           q->error.iqercd, idx, q->error.desc.qw[0], q->error.desc.qw[1], text);
    struct qi_desc harmless;
    qi_desc_context_cache(&harmless, QI_CC_GLOBAL, 0, 0, 0);
    memcpy(q->ring + (size_t)idx * q->desc_size, &harmless, q->desc_size);
    vtd_write32(q->u, VTD_FSTS, VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE);
    kick(q);
}

int qi_wait(struct vtd_qi *q, uint32_t seq)
{
    struct deadline d = deadline_after_us(VTD_WAIT_US);
    int recovered = 0;
    for (;;) {
        if (qi_completed(q, seq))
            return recovered ? -E_IO : 0;
        uint32_t fsts = vtd_read32(q->u, VTD_FSTS);
        if (fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE)) {
            /* Several CPUs may see the error: the first to take the lock
             * recovers, the others find it cleared. */
            spin_lock(&q->lock);
            fsts = vtd_read32(q->u, VTD_FSTS);
            if (fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE)) {
                recover(q, fsts);
                recovered = 1;
            }
            spin_unlock(&q->lock);
            continue;
        }
        if (deadline_passed(d))
            break;
        cpu_relax();
    }
    printk("# qi: sequence %u not reached in %u us: status %u, IQH %u, IQT %u, FSTS 0x%x\n", seq, VTD_WAIT_US,
           *q->status, head_index(q), q->tail, vtd_read32(q->u, VTD_FSTS));
    return -E_TIMEDOUT;
}

int qi_sync(struct vtd_qi *q, const struct qi_desc *d, unsigned n)
{
    uint32_t seq;
    int err = qi_submit(q, d, n, &seq);
    return err ? err : qi_wait(q, seq);
}
