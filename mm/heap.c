#include "heap.h"
#include "../lib/errno.h"

#define BLOCK_MAGIC_USED 0x55534544u /* "USED" */
#define BLOCK_MAGIC_FREE 0x46524545u /* "FREE" */

struct heap_block {
    struct heap_block *next;  /* next block in address order */
    size_t size;              /* bytes after the header */
    uint32_t magic;
    uint32_t pad;
    uint64_t pad2;
};
_Static_assert(sizeof(struct heap_block) % HEAP_ALIGN == 0, "headers keep payloads aligned");

void heap_init(struct heap *h, void *arena, size_t size)
{
    uintptr_t start = ((uintptr_t)arena + HEAP_ALIGN - 1) & ~(uintptr_t)(HEAP_ALIGN - 1);
    size -= start - (uintptr_t)arena;
    size &= ~(size_t)(HEAP_ALIGN - 1);
    h->first = (struct heap_block *)start;
    h->first->next = NULL;
    h->first->size = size - sizeof(struct heap_block);
    h->first->magic = BLOCK_MAGIC_FREE;
    h->arena_size = size;
    h->used = 0;
    h->allocations = 0;
}

void *heap_alloc(struct heap *h, size_t size)
{
    if (!size || size > h->arena_size)
        return NULL;
    size = (size + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
    for (struct heap_block *b = h->first; b; b = b->next) {
        if (b->magic != BLOCK_MAGIC_FREE || b->size < size)
            continue;
        if (b->size >= size + sizeof(struct heap_block) + HEAP_ALIGN) {
            struct heap_block *rest = (struct heap_block *)((char *)(b + 1) + size);
            rest->next = b->next;
            rest->size = b->size - size - sizeof(struct heap_block);
            rest->magic = BLOCK_MAGIC_FREE;
            b->next = rest;
            b->size = size;
        }
        b->magic = BLOCK_MAGIC_USED;
        h->used += b->size + sizeof(struct heap_block);
        h->allocations++;
        return b + 1;
    }
    return NULL;
}

int heap_free(struct heap *h, void *ptr)
{
    if (!ptr)
        return 0;
    struct heap_block *prev = NULL, *b = h->first;
    /* Walk to the block so a foreign pointer is caught, not trusted. */
    while (b && (void *)(b + 1) != ptr) {
        prev = b;
        b = b->next;
    }
    if (!b || b->magic != BLOCK_MAGIC_USED)
        return -E_INVAL;
    b->magic = BLOCK_MAGIC_FREE;
    h->used -= b->size + sizeof(struct heap_block);
    h->allocations--;
    if (b->next && b->next->magic == BLOCK_MAGIC_FREE) {
        b->size += sizeof(struct heap_block) + b->next->size;
        b->next = b->next->next;
    }
    if (prev && prev->magic == BLOCK_MAGIC_FREE) {
        prev->size += sizeof(struct heap_block) + b->size;
        prev->next = b->next;
    }
    return 0;
}
