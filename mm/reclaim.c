#include <string.h>
#include "reclaim.h"
#include "mm.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"

#define LIFE_SLOTS 4096    /* power of two: page-table pages alive at once */

enum life { LIFE_EMPTY, LIFE_ALLOCATED, LIFE_UNLINKED, LIFE_FLUSHED, LIFE_FREED };

struct page_life {
    uint64_t pa;
    uint8_t state;
    uint64_t flush_seq;
};

/* life_lock owns the page-life table and the statistics; the policy and
 * the hook are single words set between cases. */
static struct spinlock life_lock = SPINLOCK_INIT("page life");
static struct page_life lives[LIFE_SLOTS];
static enum reclaim_policy policy = RECLAIM_SYNC;
static kva_flush_hook_t flush_hook;
static struct reclaim_stats stats;

void reclaim_set_policy(enum reclaim_policy p) { WRITE_ONCE(policy, p); }
enum reclaim_policy reclaim_get_policy(void) { return READ_ONCE(policy); }
void reclaim_set_flush_hook(kva_flush_hook_t hook) { WRITE_ONCE(flush_hook, hook); }
kva_flush_hook_t reclaim_flush_hook(void) { return READ_ONCE(flush_hook); }

struct reclaim_stats reclaim_stats(void)
{
    spin_lock(&life_lock);
    struct reclaim_stats s = stats;
    spin_unlock(&life_lock);
    return s;
}

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
    spin_lock(&life_lock);
    struct page_life *l = find(pa, 1);
    l->state = LIFE_ALLOCATED;
    l->flush_seq = 0;
    stats.tracked++;
    spin_unlock(&life_lock);
}

int reclaim_kva_changed(uint64_t start, uint64_t end, const struct pt_unlinked *unlinked)
{
    spin_lock(&life_lock);
    for (int i = 0; unlinked && i < unlinked->count; i++) {
        struct page_life *l = find(unlinked->pa[i], 1);
        l->state = LIFE_UNLINKED;
        stats.unlinked++;
    }
    spin_unlock(&life_lock);
    kva_flush_hook_t hook = READ_ONCE(flush_hook);
    if (reclaim_get_policy() == RECLAIM_SYNC && hook) {
        uint64_t seq = 0;
        /* Outside life_lock: the flush waits on the unit. */
        int err = hook(start, end, unlinked && unlinked->count > 0, &seq);
        spin_lock(&life_lock);
        stats.flushes++;
        for (int i = 0; !err && unlinked && i < unlinked->count; i++) {
            struct page_life *l = find(unlinked->pa[i], 0);
            l->state = LIFE_FLUSHED;
            l->flush_seq = seq;
            stats.flushed++;
        }
        spin_unlock(&life_lock);
        if (err)
            return err; /* the tables stay unlinked, never freed unflushed */
    }
    for (int i = 0; unlinked && i < unlinked->count; i++)
        reclaim_free_table(unlinked->pa[i]);
    return 0;
}

int reclaim_free_table(uint64_t pa)
{
    spin_lock(&life_lock);
    struct page_life *l = find(pa, 0);
    if (l && l->state == LIFE_FREED) {
        stats.double_frees++;
        spin_unlock(&life_lock);
        return -E_EXIST;
    }
    /* With a device bound, only a flushed page may go back to the pool. */
    if (READ_ONCE(flush_hook) && (!l || l->state != LIFE_FLUSHED))
        stats.freed_before_flush++;
    if (l)
        l->state = LIFE_FREED;
    stats.freed++;
    stats.tracked--;
    spin_unlock(&life_lock);
    /* Marked freed first, so a second free racing this one is refused;
     * nobody can reach the page any more while it is poisoned. */
    uint64_t *p = phys_to_virt(pa);
    for (unsigned i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        WRITE_ONCE(p[i], RECLAIM_POISON);
    page_free(pa);
    return 0;
}
