/* Walkers of the kernel's tables: devices that walk the CPU's page tables
 * themselves and cache what they read (an IOMMU's first stage under SVA,
 * iommu/sva.c). This registration is all mm/ knows of them, and the one way
 * they change what mm/ does: what each needs from the tables (U/S on the
 * kva area, cache-line flushes of every table write), and how to flush a
 * range from it and check the flush completed. Several may be registered
 * at once (several bindings, on several units); a flush goes through every
 * one, and is complete when every one's is. The shape of Linux's
 * iommu_sva_invalidate_kva_range. */
#ifndef VTDLAB_MM_WALKER_H
#define VTDLAB_MM_WALKER_H

#include <stdint.h>

#define KVA_WALKERS_MAX 4
/* end for a flush of everything a walker may cache for kernel VAs. */
#define KVA_FLUSH_ALL UINT64_MAX
/* The longest one call of a walker's flush may take (its waits are bounded
 * by it): a drain waiting for a drain in progress allows it. */
#define KVA_FLUSH_WAIT_MAX_US 2000000ul

struct kva_walker {
    const char *name;           /* for messages */
    /* What it needs from the tables. */
    int user;                   /* its requests have user privilege: U/S on every kva entry on their path */
    int snoops;                 /* its walks snoop the CPU's caches (else every table write is flushed from them) */
    int caches_not_present;     /* it may cache not-present entries (VT-d CAP.CM): a map is flushed like a change */
    /* Flushes [start, end) from every cache of it that may hold it and waits
     * for the flush's wait; tables_freed: page-table pages were unlinked, so
     * its paging-structure caches must go too. 0 with the wait's sequence
     * number in *seq, or an error. */
    int (*flush)(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq);
    /* Whether the wait carrying seq has written its status, read from the
     * walker's status memory: how a flush is checked rather than trusted. */
    int (*completed)(struct kva_walker *w, uint64_t seq);
};

/* Registers w before it may walk the tables: its needs are in the tables
 * when this returns. Pages pending reclaim are drained first through the
 * walkers registered until now (they were queued while only those could
 * cache them). w must stay where it is until unregistered: deferred drains
 * flush through it from any CPU. 0, or the drain's error (w is registered
 * all the same; the pages stay pending and the next drain flushes them
 * through every walker, w included); not registered: -E_INVAL (no flush or
 * completed), -E_EXIST (already), -E_BUSY (KVA_WALKERS_MAX registered),
 * -E_TIMEDOUT (a drain in progress outlasted what it may take).
 * Registering and unregistering are not called concurrently. */
int kva_walker_register(struct kva_walker *w);
/* Drains what is pending through every walker, w included, then forgets w
 * (also when the drain failed: its error is returned; -E_TIMEDOUT as for
 * registering) and takes its needs out of the tables. A walker that is not
 * registered is only drained for: 0 or the drain's error. */
int kva_walker_unregister(struct kva_walker *w);
unsigned kva_walker_count(void);

/* mm's side. */
/* One flush through every registered walker: each one's wait, and the set
 * of walkers it went through (a set changed since is not covered by it). */
struct kva_flush {
    uint64_t set;
    uint64_t seq[KVA_WALKERS_MAX];
};
/* Flushes [start, end) from every walker and checks every one's wait in
 * its status memory: 0, or the first error (-E_IO for a wait that returned
 * but is not seen completed); every walker is flushed either way. */
int kva_walkers_flush(uint64_t start, uint64_t end, int tables_freed, struct kva_flush *f);
/* Whether f covers the walkers registered now and every one's wait is seen
 * completed. */
int kva_walkers_completed(const struct kva_flush *f);
/* A kva map made [start, end) present: walkers that may have cached it
 * not-present forget it. 0 or the first flush's error. */
int kva_walkers_mapped(uint64_t start, uint64_t end);

#endif
