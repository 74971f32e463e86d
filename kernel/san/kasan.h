/* KASAN-style memory checks (kasan.c): the hooks the heap and the frame
 * allocator call, and the annotation for an access that is wrong on
 * purpose. Identity in a kernel built without it. */
#ifndef VTDLAB_KERNEL_SAN_KASAN_H
#define VTDLAB_KERNEL_SAN_KASAN_H

#include <stddef.h>
#include <stdint.h>

struct frame_pool;

/* The image window [KERNEL_VMA_BASE, + this) has its shadow in the image,
 * right above the window (linker.ld: KASAN_IMAGE_WINDOW, the same value). */
#define KASAN_IMAGE_WINDOW (8ul << 20)

#ifdef VTDLAB_SAN_KASAN
/* Where the compiler's inline stack poisoning and this runtime find an
 * address's shadow byte (Makefile: -fasan-shadow-offset, the same value
 * as VTDLAB_KASAN_SHADOW_OFFSET). */
#define KASAN_SHADOW_OF(a) (((uint64_t)(a) >> 3) + VTDLAB_KASAN_SHADOW_OFFSET)

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
/* A kernel stack [lo, hi) outside the image (an AP's): its shadow mapped
 * (mm_map_shadow), before any frame lives there; 0 or an error, and then
 * the stack must not be used. */
int kasan_stack_shadow(uint64_t lo, uint64_t hi);
/* That stack recorded as shadowed; the caller holds mm.c's region_lock
 * (kstack_alloc, which records no more than SMP_MAX_CPUS). */
void kasan_stack_add(uint64_t lo, uint64_t hi);
/* A jump to a frame whose stack pointer is sp (ctx_restore): the frames
 * below it on its stack are abandoned, their redzones unpoisoned. */
void kasan_unpoison_stack_below(uint64_t sp);
/* What memcpy, memset and memmove are in instrumented code (Makefile:
 * objcopy --redefine-sym): both ranges checked, then the real one. */
void *kasan_memcpy(void *dst, const void *src, size_t n);
void *kasan_memmove(void *dst, const void *src, size_t n);
void *kasan_memset(void *dst, int c, size_t n);
#else
static inline void kasan_init(struct frame_pool *pool, void *heap_arena, size_t heap_size) {}
static inline size_t kasan_heap_size(size_t size) { return size; }
static inline void *kasan_heap_alloc(void *block, size_t size, uintptr_t site) { return block; }
static inline void *kasan_heap_free(void *p, uintptr_t site) { return p; }
static inline void kasan_frames_alloc(uint64_t pa, uint64_t pages, uintptr_t site) {}
static inline void kasan_frames_free(uint64_t pa, uint64_t pages, uintptr_t site) {}
static inline void kasan_disable_current(void) {}
static inline void kasan_enable_current(void) {}
static inline int kasan_stack_shadow(uint64_t lo, uint64_t hi) { return 0; }
static inline void kasan_stack_add(uint64_t lo, uint64_t hi) {}
static inline void kasan_unpoison_stack_below(uint64_t sp) {}
#endif

#endif
