/* Physical frame pool: one bit per 4 KiB frame, set while the frame is
 * unavailable (allocated, reserved, or not RAM). Pure bookkeeping: the
 * caller owns the bitmap memory, so the pool is host-testable. */
#ifndef VTDLAB_MM_FRAME_H
#define VTDLAB_MM_FRAME_H

#include <stdint.h>

#define FRAME_NONE UINT64_MAX

struct frame_pool {
    uint64_t *bitmap;
    uint64_t nframes;      /* frames the bitmap covers, from pfn 0 */
    uint64_t free_count;
    uint64_t hint;         /* where the next search starts */
};

static inline uint64_t frame_bitmap_words(uint64_t nframes) { return (nframes + 63) / 64; }

/* Every frame starts unavailable. */
void frame_pool_init(struct frame_pool *p, uint64_t *bitmap, uint64_t nframes);
/* Makes [pfn, pfn+count) available; frames past the pool are ignored. */
void frame_pool_add(struct frame_pool *p, uint64_t pfn, uint64_t count);
/* Takes [pfn, pfn+count) out of the pool whatever their state. */
void frame_pool_reserve(struct frame_pool *p, uint64_t pfn, uint64_t count);
uint64_t frame_alloc(struct frame_pool *p);
/* count contiguous frames whose first pfn is a multiple of align. */
uint64_t frame_alloc_contig(struct frame_pool *p, uint64_t count, uint64_t align);
/* Takes that very frame if it is free: 0, or -E_BUSY. For tests that hand a
 * just-freed frame to a new owner. */
int frame_alloc_specific(struct frame_pool *p, uint64_t pfn);
/* -E_INVAL for a frame outside the pool, -E_EXIST for one already free. */
int frame_free(struct frame_pool *p, uint64_t pfn);
int frame_is_free(const struct frame_pool *p, uint64_t pfn);
/* Free frames counted from the bitmap itself, independently of free_count:
 * the two disagree only when the bookkeeping is broken. */
uint64_t frame_pool_count_free(const struct frame_pool *p);

#endif
