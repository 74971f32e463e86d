/* KASAN-style memory checks (kasan.c): the hooks the heap and the frame
 * allocator call, and the annotation for an access that is wrong on
 * purpose. Identity in a kernel built without it. */
#ifndef VTDLAB_KERNEL_SAN_KASAN_H
#define VTDLAB_KERNEL_SAN_KASAN_H

#include <stddef.h>
#include <stdint.h>

struct frame_pool;

#ifdef VTDLAB_SAN_KASAN
/* After the heap and the direct map exist: the heap's shadow, and the
 * frames' (taken from pool; without room the frames go unchecked, said
 * once on the console). */
void kasan_init(struct frame_pool *pool, void *heap_arena, size_t heap_size);
/* The bytes kmalloc asks the heap for an object of size (room for who
 * allocated and freed it before, a redzone after). */
size_t kasan_heap_size(size_t size);
/* The object inside the block the heap gave; site: who asked. */
void *kasan_heap_alloc(void *block, size_t size, uintptr_t site);
/* The block to give back to the heap for object p, or NULL when p is not
 * a live object (reported: a double or invalid free; nothing is freed). */
void *kasan_heap_free(void *p, uintptr_t site);
/* Frames [pa, pa + n pages) allocated (addressable) or freed (poisoned
 * until allocated again). */
void kasan_frames_alloc(uint64_t pa, uint64_t pages, uintptr_t site);
void kasan_frames_free(uint64_t pa, uint64_t pages, uintptr_t site);
/* Around an access that is wrong on purpose (a negative control that
 * reads what it freed): not reported on this CPU. Nest. */
void kasan_disable_current(void);
void kasan_enable_current(void);
/* Before each case (san_case_start). */
void kasan_case_start(void);
#else
static inline void kasan_init(struct frame_pool *pool, void *heap_arena, size_t heap_size) {}
static inline size_t kasan_heap_size(size_t size) { return size; }
static inline void *kasan_heap_alloc(void *block, size_t size, uintptr_t site) { return block; }
static inline void *kasan_heap_free(void *p, uintptr_t site) { return p; }
static inline void kasan_frames_alloc(uint64_t pa, uint64_t pages, uintptr_t site) {}
static inline void kasan_frames_free(uint64_t pa, uint64_t pages, uintptr_t site) {}
static inline void kasan_disable_current(void) {}
static inline void kasan_enable_current(void) {}
#endif

#endif
