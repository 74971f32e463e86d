#include "page_life.h"
#include "mm.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"

#define LIFE_SLOTS 4096    /* power of two: page-table pages alive at once */

enum life { LIFE_EMPTY, LIFE_ALLOCATED, LIFE_UNLINKED, LIFE_FLUSHED, LIFE_FREED };

struct page_life {
    uint64_t pa;
    uint8_t state;
    struct kva_flush flush;
};

/* life_lock owns the table and the statistics. It is taken on every
 * policy's path alike, so it is not what the policy comparison measures,
 * and nothing else is taken or waited for while it is held. */
static struct spinlock life_lock = SPINLOCK_INIT("page life");
static struct page_life lives[LIFE_SLOTS];
static struct page_life_stats stats;

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
        panic("page life: more than %d page-table pages alive at once", LIFE_SLOTS);
    reusable->pa = pa;
    return reusable;
}

void page_life_allocated(uint64_t pa)
{
    spin_lock(&life_lock);
    struct page_life *l = find(pa, 1);
    l->state = LIFE_ALLOCATED;
    stats.tracked++;
    spin_unlock(&life_lock);
}

void page_life_unlinked(const uint64_t *pa, unsigned n)
{
    spin_lock(&life_lock);
    for (unsigned i = 0; i < n; i++) {
        struct page_life *l = find(pa[i], 1);
        l->state = LIFE_UNLINKED;
        stats.unlinked++;
    }
    spin_unlock(&life_lock);
}

void page_life_flushed(const uint64_t *pa, unsigned n, const struct kva_flush *f)
{
    spin_lock(&life_lock);
    for (unsigned i = 0; i < n; i++) {
        struct page_life *l = find(pa[i], 0);
        if (l && l->state == LIFE_UNLINKED) {
            l->state = LIFE_FLUSHED;
            l->flush = *f;
            stats.flushed++;
        } else if (l && l->state == LIFE_FLUSHED) {
            /* Still pending from a batch that failed after its flush: this
             * flush covers it too, and its waits are the ones whose status
             * can still be read (an old one's slot gets reused). */
            l->flush = *f;
        }
    }
    spin_unlock(&life_lock);
}

int page_life_freeing(uint64_t pa)
{
    spin_lock(&life_lock);
    struct page_life *l = find(pa, 0);
    if (l && l->state == LIFE_FREED) {
        stats.double_frees++;
        spin_unlock(&life_lock);
        return -E_EXIST;
    }
    /* Marked freed first, so a second free racing this one is refused;
     * the flush record it was freed under is kept to check below. */
    int flushed = l && l->state == LIFE_FLUSHED;
    struct kva_flush f = flushed ? l->flush : (struct kva_flush){ 0 };
    if (l)
        l->state = LIFE_FREED;
    stats.freed++;
    stats.tracked--;
    spin_unlock(&life_lock);
    /* The check reads each walker's queue under that queue's lock (and
     * the walker set under its own): with life_lock dropped first, the
     * page-life lock is never held across another subsystem's lock or
     * wait. */
    if (kva_walker_count() && !(flushed && kva_walkers_completed(&f))) {
        spin_lock(&life_lock);
        stats.freed_before_flush++;
        spin_unlock(&life_lock);
    }
    /* Nobody can reach the page any more while it is poisoned. */
    uint64_t *p = phys_to_virt(pa);
    for (unsigned i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        WRITE_ONCE(p[i], PAGE_LIFE_POISON);
    return 0;
}

struct page_life_stats page_life_stats(void)
{
    spin_lock(&life_lock);
    struct page_life_stats s = stats;
    spin_unlock(&life_lock);
    return s;
}
