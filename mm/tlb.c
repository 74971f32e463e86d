#include "tlb.h"
#include "layout.h"
#include "../kernel/smp.h"
#include "../kernel/x86.h"
#include "../lib/atomic.h"

/* Past this many pages one CR3 reload is cheaper than INVLPGs. The kernel
 * maps nothing global (no PTE_G), so the reload drops everything. */
#define TLB_FLUSH_PAGES_MAX 32u

struct batch {
    const struct tlb_range *r;
    unsigned n;
};

static int remote = 1;
static uint64_t remote_count;

void tlb_set_remote_shootdown(int on) { WRITE_ONCE(remote, on); }
uint64_t tlb_remote_shootdowns(void) { return READ_ONCE(remote_count); }

static void flush_local(void *arg)
{
    const struct batch *b = arg;
    uint64_t pages = 0;
    for (unsigned i = 0; i < b->n; i++)
        pages += (b->r[i].end - b->r[i].start) >> PAGE_SHIFT;
    if (pages > TLB_FLUSH_PAGES_MAX) {
        write_cr3(read_cr3());
        return;
    }
    for (unsigned i = 0; i < b->n; i++)
        for (uint64_t va = b->r[i].start; va < b->r[i].end; va += PAGE_SIZE)
            invlpg(va);
}

int tlb_shootdown_batch(const struct tlb_range *r, unsigned n)
{
    struct batch b = { r, n };
    flush_local(&b);
    if (!READ_ONCE(remote) || smp_online_count() < 2)
        return 0;
    atomic_add(&remote_count, 1);
    return smp_call_others(flush_local, &b);
}

int tlb_shootdown(uint64_t start, uint64_t end)
{
    struct tlb_range r = { start, end };
    return tlb_shootdown_batch(&r, 1);
}
