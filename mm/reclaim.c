#include <string.h>
#include "reclaim.h"
#include "mm.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"

#define LIFE_SLOTS 4096    /* power of two: page-table pages alive at once */

enum life { LIFE_EMPTY, LIFE_ALLOCATED, LIFE_UNLINKED, LIFE_FLUSHED, LIFE_FREED };

struct page_life {
    uint64_t pa;
    uint8_t state;
    uint64_t flush_seq;
};

static struct page_life lives[LIFE_SLOTS];
static enum reclaim_policy policy = RECLAIM_SYNC;
static kva_flush_hook_t flush_hook;
static struct reclaim_stats stats;

void reclaim_set_policy(enum reclaim_policy p) { policy = p; }
enum reclaim_policy reclaim_get_policy(void) { return policy; }
void reclaim_set_flush_hook(kva_flush_hook_t hook) { flush_hook = hook; }
struct reclaim_stats reclaim_stats(void) { return stats; }

const char *reclaim_policy_name(enum reclaim_policy p)
{
    return p == RECLAIM_NONE ? "none" : p == RECLAIM_SYNC ? "sync" : "?";
}

/* Open addressing on the frame number. A freed frame's record stays as a
 * tombstone (so probe chains stay whole and a second free of it is caught)
 * until a new frame needs the slot. */
static struct page_life *find(uint64_t pa, int create)
{
    uint64_t h = (pa >> PAGE_SHIFT) & (LIFE_SLOTS - 1);
    struct page_life *reusable = NULL;
    for (unsigned n = 0; n < LIFE_SLOTS; n++, h = (h + 1) & (LIFE_SLOTS - 1)) {
        struct page_life *l = &lives[h];
        if (l->state == LIFE_EMPTY) {
            if (!reusable)
                reusable = l;
            break;
        }
        if (l->pa == pa)
            return l;
        if (l->state == LIFE_FREED && !reusable)
            reusable = l;
    }
    if (!create)
        return NULL;
    if (!reusable)
        panic("reclaim: more than %d page-table pages alive at once", LIFE_SLOTS);
    reusable->pa = pa;
    return reusable;
}

void reclaim_track_alloc(uint64_t pa)
{
    struct page_life *l = find(pa, 1);
    l->state = LIFE_ALLOCATED;
    l->flush_seq = 0;
    stats.tracked++;
}

int reclaim_kva_changed(uint64_t start, uint64_t end, const struct pt_unlinked *unlinked)
{
    for (int i = 0; unlinked && i < unlinked->count; i++) {
        struct page_life *l = find(unlinked->pa[i], 1);
        l->state = LIFE_UNLINKED;
        stats.unlinked++;
    }
    if (policy == RECLAIM_SYNC && flush_hook) {
        uint64_t seq = 0;
        int err = flush_hook(start, end, unlinked && unlinked->count > 0, &seq);
        stats.flushes++;
        if (err)
            return err; /* the tables stay unlinked, never freed unflushed */
        for (int i = 0; unlinked && i < unlinked->count; i++) {
            struct page_life *l = find(unlinked->pa[i], 0);
            l->state = LIFE_FLUSHED;
            l->flush_seq = seq;
            stats.flushed++;
        }
    }
    for (int i = 0; unlinked && i < unlinked->count; i++)
        reclaim_free_table(unlinked->pa[i]);
    return 0;
}

int reclaim_free_table(uint64_t pa)
{
    struct page_life *l = find(pa, 0);
    if (l && l->state == LIFE_FREED) {
        stats.double_frees++;
        return -E_EXIST;
    }
    /* With a device bound, only a flushed page may go back to the pool. */
    if (flush_hook && (!l || l->state != LIFE_FLUSHED))
        stats.freed_before_flush++;
    uint64_t *p = phys_to_virt(pa);
    for (unsigned i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = RECLAIM_POISON;
    if (l)
        l->state = LIFE_FREED;
    stats.freed++;
    stats.tracked--;
    page_free(pa);
    return 0;
}
