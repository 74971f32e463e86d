/* The page-life checker: every kernel page-table page's life, watched from
 * outside the reclaim policies that move it along (mm/reclaim.c), so a
 * policy cannot mark its own work. A page is allocated, unlinked (no longer
 * reachable from the root, perhaps still cached by a walker), flushed (a
 * flush through every registered walker covered it, mm/walker.h), freed
 * (poisoned, then back to the frame pool). A free while a walker is
 * registered counts as freed_before_flush unless the page's flush covers
 * the walkers registered now and every one's wait is seen completed, read
 * from their status memory; a second free is refused. */
#ifndef VTDLAB_MM_PAGE_LIFE_H
#define VTDLAB_MM_PAGE_LIFE_H

#include <stdint.h>
#include "walker.h"

/* What a freed page-table page is filled with: not-present entries a stale
 * walker can recognise. */
#define PAGE_LIFE_POISON 0xdeadbeefdeadbe00ul

void page_life_allocated(uint64_t pa);
void page_life_unlinked(const uint64_t *pa, unsigned n);
/* f covered pa[0..n): those unlinked, and those flushed before whose free
 * is still to come (a failed batch's: f's waits are the ones still
 * readable). */
void page_life_flushed(const uint64_t *pa, unsigned n, const struct kva_flush *f);
/* pa is about to go back to the pool: checked, marked freed and poisoned.
 * 0, or -E_EXIST (freed already: refused, it must not be freed again). */
int page_life_freeing(uint64_t pa);

struct page_life_stats {
    uint64_t tracked;             /* page-table pages alive now */
    uint64_t unlinked, flushed, freed;
    uint64_t freed_before_flush;  /* freed while a walker could still cache them */
    uint64_t double_frees;        /* caught and refused */
};
struct page_life_stats page_life_stats(void);

#endif
