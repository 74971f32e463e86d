#include "tlb.h"
#include "layout.h"
#include "../kernel/smp.h"
#include "../kernel/x86.h"
#include "../lib/atomic.h"
#include "../lib/errno.h"

/* Past this many pages one CR3 reload is cheaper than INVLPGs. The kernel
 * maps nothing global (kva_map refuses PTE_G), so the reload drops
 * everything. */
#define TLB_FLUSH_PAGES_MAX 32u
/* Ranges a shootdown hands over one by one; a longer batch is sent as
 * "everything" (a CR3 reload on every CPU). */
#define TLB_BATCH_RANGES 8u

/* What the other CPUs are handed: the initiating CPU's own slot, never its
 * stack. A CPU declared lost (kernel/smp.h) may still run the call after
 * the initiator gave up on it and returned: it then reads this slot, which
 * outlives the call (at worst a later batch of the same initiator, or one
 * being written: any range it reads flushes only what is named or, when it
 * reads an impossible count, everything, which is harmless). The initiator
 * rewrites its slot only in its next shootdown, after every target of this
 * one acknowledged or was declared lost. */
struct batch {
    struct tlb_range r[TLB_BATCH_RANGES];
    unsigned n;      /* ranges in r; past TLB_BATCH_RANGES: everything */
};
static struct batch batches[SMP_MAX_CPUS];

static int remote = 1;
static uint64_t remote_count;
static int inject_unacknowledged;
static const void *last_remote_arg;

void tlb_set_remote_shootdown(int on) { WRITE_ONCE(remote, on); }
uint64_t tlb_remote_shootdowns(void) { return READ_ONCE(remote_count); }
void tlb_inject_unacknowledged(void) { WRITE_ONCE(inject_unacknowledged, 1); }
const void *tlb_last_remote_batch(void) { return READ_ONCE(last_remote_arg); }

static void flush_local(void *arg)
{
    /* One read of the slot: a lost CPU may read it while its owner writes
     * the next batch, and must not loop over a range it reads twice. */
    const struct batch *b = arg;
    struct tlb_range r[TLB_BATCH_RANGES];
    unsigned n = READ_ONCE(b->n);
    uint64_t pages = 0;
    for (unsigned i = 0; i < n && i < TLB_BATCH_RANGES; i++) {
        r[i].start = READ_ONCE(b->r[i].start);
        r[i].end = READ_ONCE(b->r[i].end);
        pages += r[i].end > r[i].start ? (r[i].end - r[i].start) >> PAGE_SHIFT : TLB_FLUSH_PAGES_MAX + 1;
    }
    if (n > TLB_BATCH_RANGES || pages > TLB_FLUSH_PAGES_MAX) {
        write_cr3(read_cr3());
        return;
    }
    for (unsigned i = 0; i < n; i++)
        for (uint64_t va = r[i].start; va < r[i].end; va += PAGE_SIZE)
            invlpg(va);
}

static void flush_remote(void *arg)
{
    WRITE_ONCE(last_remote_arg, arg);
    flush_local(arg);
}

int tlb_shootdown_batch(const struct tlb_range *r, unsigned n)
{
    struct batch *b = &batches[smp_cpu_id()];
    WRITE_ONCE(b->n, n);
    for (unsigned i = 0; i < n && i < TLB_BATCH_RANGES; i++)
        b->r[i] = r[i];
    flush_local(b);
    if (!READ_ONCE(remote) || smp_online_count() < 2)
        return 0;
    atomic_add(&remote_count, 1);
    int err = smp_call_others(flush_remote, b);
    if (!err && READ_ONCE(inject_unacknowledged)) {
        WRITE_ONCE(inject_unacknowledged, 0);
        err = -E_TIMEDOUT;
    }
    return err;
}

int tlb_shootdown(uint64_t start, uint64_t end)
{
    struct tlb_range r = { start, end };
    return tlb_shootdown_batch(&r, 1);
}
