/* Freeing kernel page-table pages while a device may cache translations
 * through them. Every page-table page has a tracked life: allocated,
 * unlinked (no longer reachable from the root, perhaps still cached),
 * flushed (an IOMMU flush covering it completed, with its sequence number),
 * freed (poisoned and back in the frame pool). The policy decides what
 * happens between unlinked and freed:
 *   none: freed at once, no flush: the negative control, reproduces the bug;
 *   sync: the registered hook flushes every bound PASID and waits, then the
 *         pages are freed.
 * The hook is the one place mm calls into whoever caches kernel VAs (the
 * shape of Linux's iommu_sva_invalidate_kva_range). */
#ifndef VTDLAB_MM_RECLAIM_H
#define VTDLAB_MM_RECLAIM_H

#include <stdint.h>
#include "pgtable.h"

enum reclaim_policy { RECLAIM_NONE, RECLAIM_SYNC };

/* Flush [start, end) from every cache that may hold it; tables_freed: page-
 * table pages were unlinked, so paging-structure caches must go too. 0 and
 * the sequence number of the completed flush in *seq, or an error. */
typedef int (*kva_flush_hook_t)(uint64_t start, uint64_t end, int tables_freed, uint64_t *seq);

void reclaim_set_policy(enum reclaim_policy p);
enum reclaim_policy reclaim_get_policy(void);
const char *reclaim_policy_name(enum reclaim_policy p);
/* NULL when nothing caches kernel VAs (no device bound). */
void reclaim_set_flush_hook(kva_flush_hook_t hook);
kva_flush_hook_t reclaim_flush_hook(void);

struct reclaim_stats {
    uint64_t tracked;             /* page-table pages alive now */
    uint64_t unlinked, flushed, freed;
    uint64_t flushes;             /* hook calls */
    uint64_t freed_before_flush;  /* freed while a device could still cache them */
    uint64_t double_frees;        /* caught and refused */
};
struct reclaim_stats reclaim_stats(void);

/* mm's side: a page-table page was allocated; the kernel VA range changed
 * and these tables were unlinked (the caller has flushed the CPU's TLB). */
void reclaim_track_alloc(uint64_t pa);
int reclaim_kva_changed(uint64_t start, uint64_t end, const struct pt_unlinked *unlinked);
/* Poisons and frees one page-table page, checking its life; 0 or -E_EXIST
 * (already freed: refused). */
int reclaim_free_table(uint64_t pa);

/* What a freed page-table page is filled with: not-present entries a stale
 * walker can recognise. */
#define RECLAIM_POISON 0xdeadbeefdeadbe00ul

#endif
