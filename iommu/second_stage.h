/* Second-stage paging (VT-d spec 3.7, 9.8): a domain, a DID and its
 * second-stage page tables, built by the same walker as the kernel's own
 * tables. */
#ifndef VTDLAB_IOMMU_SECOND_STAGE_H
#define VTDLAB_IOMMU_SECOND_STAGE_H

#include <stdint.h>
#include "../mm/pgtable.h"
#include "unit.h"

/* Second-stage entry bits: R and W make an entry present. */
#define SL_R   (1ul << 0)
#define SL_W   (1ul << 1)
#define SL_RW  (SL_R | SL_W)

/* Tables held between an unmap and the domain's flush: a few unmaps'
 * worth (one unmap unlinks at most levels - 1). */
#define VTD_DOMAIN_UNLINKED_MAX 12

extern const struct pt_format vtd_sl_format_3level, vtd_sl_format_4level;

/* Tables unmaps unlinked: the unit may still walk them through a cached
 * entry, so they stay out of the pool until vtd_domain_flush's
 * invalidation completed. Kept off the domain (on the heap), so a copy of
 * the domain, like a fixture's record for the take-down after a case that
 * aborted between an unmap and its flush, reaches the same tables. */
struct vtd_held_tables {
    uint64_t pa[VTD_DOMAIN_UNLINKED_MAX];
    unsigned n;
};

struct vtd_domain {
    struct vtd_unit *u;
    uint16_t did;
    int levels;
    struct pt_ctx pt;
    uint64_t tables;    /* table pages the domain holds */
    /* The unit's queue once it is on: invalidations the capability rules
     * ask for go through it (register-based ones are not allowed then). */
    struct vtd_qi *qi;
    struct vtd_held_tables *held;
};
struct vtd_qi;

/* levels 3 or 4 when the unit's SAGAW has that width, 0 for the widest it
 * has; -E_RANGE when it has none that fits. */
int vtd_domain_init(struct vtd_domain *d, struct vtd_unit *u, uint16_t did, int levels);
/* leaf_level 2/3 need CAP.SLLPS; -E_RANGE names a missing capability. */
/* Maps a leaf and does what the unit's capabilities ask after a
 * not-present to present change: CAP.RWBF, a write-buffer flush; CAP.CM
 * (caching mode, as a virtual IOMMU has), a page-selective IOTLB
 * invalidation of the leaf, since such a unit may cache not-present
 * entries (VT-d spec 6.1). */
int vtd_domain_map(struct vtd_domain *d, uint64_t iova, uint64_t pa, int leaf_level, uint64_t access);
void vtd_domain_use_queue(struct vtd_domain *d, struct vtd_qi *qi);
int vtd_domain_protect(struct vtd_domain *d, uint64_t iova, uint64_t access);
/* Clears the leaf and unlinks the tables that emptied, without any
 * invalidation (the stale-translation cases rely on that): the unlinked
 * tables are held until vtd_domain_flush. -E_BUSY, nothing changed, when
 * the held tables could not take this unmap's: flush first. */
int vtd_domain_unmap(struct vtd_domain *d, uint64_t iova);
/* A domain-selective IOTLB invalidation (which also drops the domain's
 * paging-structure-cache entries, VT-d spec 6.5.1.2 and 6.5.2.3) through
 * the queue or the registers, waited for; then the tables unmaps unlinked
 * go back to the pool. On an error they stay held. */
int vtd_domain_flush(struct vtd_domain *d);
/* Frees every table, held ones included, and the held list. Only once the
 * unit no longer translates through the domain and its caches were
 * invalidated (translation off, or the domain detached, then an IOTLB
 * invalidation that covers it). */
void vtd_domain_destroy(struct vtd_domain *d);

#endif
