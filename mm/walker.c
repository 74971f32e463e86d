#include "walker.h"
#include "kva.h"
#include "mm.h"
#include "reclaim.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"

/* Owners: the set changes with reclaim held (reclaim_hold), so no batch is
 * flushed through a walker being added or removed, and under walkers_lock,
 * so a flush outside a drain (sync's, a protect's) reads it whole. A walker
 * keeps its slot while registered; set counts the changes, so a flush
 * record names the set it went through. */
static struct spinlock walkers_lock = SPINLOCK_INIT("kva walkers");
static struct {
    struct kva_walker *slot[KVA_WALKERS_MAX];
    unsigned n;
    uint64_t set;
} walkers;

struct snapshot {
    struct kva_walker *slot[KVA_WALKERS_MAX];
    uint64_t set;
};

static void snapshot(struct snapshot *s)
{
    spin_lock(&walkers_lock);
    for (unsigned i = 0; i < KVA_WALKERS_MAX; i++)
        s->slot[i] = walkers.slot[i];
    s->set = walkers.set;
    spin_unlock(&walkers_lock);
}

unsigned kva_walker_count(void) { return READ_ONCE(walkers.n); }

static int slot_of(const struct kva_walker *w)
{
    for (int i = 0; i < KVA_WALKERS_MAX; i++)
        if (walkers.slot[i] == w)
            return i;
    return -1;
}

/* The tables as the walkers registered now need them: U/S on the kva area
 * if any makes user requests, every table write flushed from the caches if
 * any does not snoop. */
static void apply_needs(void)
{
    struct snapshot s;
    snapshot(&s);
    int user = 0, snooped = 1;
    for (unsigned i = 0; i < KVA_WALKERS_MAX; i++) {
        if (!s.slot[i])
            continue;
        user |= s.slot[i]->user;
        snooped &= s.slot[i]->snoops;
    }
    kva_set_user_access(user);
    kva_set_walk_snooped(snooped);
}

/* Adds (add) or removes w with reclaim held; 0 with the drain's result in
 * *drained, or why the set was not changed. */
static int change(struct kva_walker *w, int add, int *drained)
{
    int err = reclaim_hold(drained);
    if (err)
        return err;
    spin_lock(&walkers_lock);
    int i = slot_of(add ? NULL : w);
    if (i >= 0) {
        walkers.slot[i] = add ? w : NULL;
        walkers.n += add ? 1 : -1u;
        walkers.set++;
    }
    spin_unlock(&walkers_lock);
    reclaim_release();
    return add && i < 0 ? -E_BUSY : 0;
}

int kva_walker_register(struct kva_walker *w)
{
    if (!w->flush || !w->completed)
        return -E_INVAL;
    spin_lock(&walkers_lock);
    int err = slot_of(w) >= 0 ? -E_EXIST : walkers.n == KVA_WALKERS_MAX ? -E_BUSY : 0;
    spin_unlock(&walkers_lock);
    if (err)
        return err;
    int drained = 0;
    err = change(w, 1, &drained);
    if (err)
        return err;
    /* Before it is told where the tables are (the caller's next step): no
     * table write it could read stays in the caches. */
    apply_needs();
    return drained;
}

int kva_walker_unregister(struct kva_walker *w)
{
    int drained = 0;
    int err = change(w, 0, &drained);
    if (err)
        return err;
    apply_needs();
    return drained;
}

int kva_walkers_flush(uint64_t start, uint64_t end, int tables_freed, struct kva_flush *f)
{
    struct snapshot s;
    snapshot(&s);
    f->set = s.set;
    int first = 0;
    for (unsigned i = 0; i < KVA_WALKERS_MAX; i++) {
        struct kva_walker *w = s.slot[i];
        f->seq[i] = 0;
        if (!w)
            continue;
        int err = w->flush(w, start, end, tables_freed, &f->seq[i]);
        if (!err && !w->completed(w, f->seq[i])) {
            printk("# reclaim: %s's flush returned, but its wait (sequence %lu) has not completed\n", w->name,
                   f->seq[i]);
            err = -E_IO;
        }
        first = first ? first : err;
    }
    return first;
}

int kva_walkers_completed(const struct kva_flush *f)
{
    struct snapshot s;
    snapshot(&s);
    if (f->set != s.set)
        return 0;
    for (unsigned i = 0; i < KVA_WALKERS_MAX; i++)
        if (s.slot[i] && !s.slot[i]->completed(s.slot[i], f->seq[i]))
            return 0;
    return 1;
}

/* Caching mode (VT-d CAP.CM): the walker may have cached the not-present
 * entries a map just filled, at any level (the map may have linked new
 * tables), so the range is flushed as after a table change. */
int kva_walkers_mapped(uint64_t start, uint64_t end)
{
    struct snapshot s;
    snapshot(&s);
    int first = 0;
    for (unsigned i = 0; i < KVA_WALKERS_MAX; i++) {
        struct kva_walker *w = s.slot[i];
        uint64_t seq;
        if (w && w->caches_not_present) {
            int err = w->flush(w, start, end, 1, &seq);
            first = first ? first : err;
        }
    }
    return first;
}
