#include <string.h>
#include "frame.h"
#include "../lib/errno.h"

#define BITS_PER_WORD 64

static int bit(const struct frame_pool *p, uint64_t pfn) { return (p->bitmap[pfn / BITS_PER_WORD] >> (pfn % BITS_PER_WORD)) & 1; }
static void set(struct frame_pool *p, uint64_t pfn) { p->bitmap[pfn / BITS_PER_WORD] |= 1ul << (pfn % BITS_PER_WORD); }
static void clear(struct frame_pool *p, uint64_t pfn) { p->bitmap[pfn / BITS_PER_WORD] &= ~(1ul << (pfn % BITS_PER_WORD)); }

void frame_pool_init(struct frame_pool *p, uint64_t *bitmap, uint64_t nframes)
{
    p->bitmap = bitmap;
    p->nframes = nframes;
    p->free_count = 0;
    p->hint = 0;
    memset(bitmap, 0xff, frame_bitmap_words(nframes) * sizeof(uint64_t));
}

void frame_pool_add(struct frame_pool *p, uint64_t pfn, uint64_t count)
{
    for (uint64_t f = pfn; f < pfn + count && f < p->nframes; f++) {
        if (bit(p, f)) {
            clear(p, f);
            p->free_count++;
        }
    }
}

void frame_pool_reserve(struct frame_pool *p, uint64_t pfn, uint64_t count)
{
    for (uint64_t f = pfn; f < pfn + count && f < p->nframes; f++) {
        if (!bit(p, f)) {
            set(p, f);
            p->free_count--;
        }
    }
}

int frame_is_free(const struct frame_pool *p, uint64_t pfn)
{
    return pfn < p->nframes && !bit(p, pfn);
}

uint64_t frame_alloc(struct frame_pool *p)
{
    if (!p->free_count)
        return FRAME_NONE;
    uint64_t words = frame_bitmap_words(p->nframes);
    for (uint64_t n = 0; n <= words; n++) {
        uint64_t w = (p->hint / BITS_PER_WORD + n) % words;
        if (p->bitmap[w] == UINT64_MAX)
            continue;
        uint64_t pfn = w * BITS_PER_WORD + (uint64_t)__builtin_ctzll(~p->bitmap[w]);
        if (pfn >= p->nframes)
            continue;
        set(p, pfn);
        p->free_count--;
        p->hint = pfn + 1 < p->nframes ? pfn + 1 : 0;
        return pfn;
    }
    return FRAME_NONE;
}

uint64_t frame_alloc_contig(struct frame_pool *p, uint64_t count, uint64_t align)
{
    if (!count || !align || count > p->free_count)
        return FRAME_NONE;
    for (uint64_t start = 0; start + count <= p->nframes; start += align) {
        uint64_t f = start;
        while (f < start + count && !bit(p, f))
            f++;
        if (f == start + count) {
            for (f = start; f < start + count; f++)
                set(p, f);
            p->free_count -= count;
            return start;
        }
    }
    return FRAME_NONE;
}

int frame_alloc_specific(struct frame_pool *p, uint64_t pfn)
{
    if (!frame_is_free(p, pfn))
        return -E_BUSY;
    set(p, pfn);
    p->free_count--;
    return 0;
}

int frame_free(struct frame_pool *p, uint64_t pfn)
{
    if (pfn >= p->nframes)
        return -E_INVAL;
    if (!bit(p, pfn))
        return -E_EXIST;
    clear(p, pfn);
    p->free_count++;
    return 0;
}

uint64_t frame_pool_count_free(const struct frame_pool *p)
{
    uint64_t n = 0;
    for (uint64_t pfn = 0; pfn < p->nframes; pfn++)
        n += frame_is_free(p, pfn);
    return n;
}
