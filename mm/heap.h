/* First-fit heap over one arena, with neighbouring free blocks merged.
 * Every block carries a header with a magic that kfree checks, so a bad or
 * double free is reported instead of corrupting the free list. Pure: the
 * caller provides the arena. */
#ifndef VTDLAB_MM_HEAP_H
#define VTDLAB_MM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_ALIGN 16

struct heap_block;

struct heap {
    struct heap_block *first;
    size_t arena_size;
    size_t used;          /* bytes handed out, headers included */
    size_t allocations;   /* live allocations */
};

void heap_init(struct heap *h, void *arena, size_t size);
void *heap_alloc(struct heap *h, size_t size);
/* 0, or -E_INVAL for a pointer that is not a live allocation. */
int heap_free(struct heap *h, void *ptr);

#endif
