/* KASAN-style memory checks (issue 24 item 2; docs/sanitizers.md): gcc's
 * -fsanitize=kernel-address in outline mode calls __asan_load<N> and
 * __asan_store<N> before every load and store of instrumented code; this
 * runtime answers from its own shadow:
 *
 * - the heap: a shadow byte per 8 bytes of the arena, as ASan encodes it
 *   (0: all 8 addressable, 1..7: the first k, else why not). Each object
 *   sits between a record of who allocated and freed it and a redzone; a
 *   freed object stays poisoned until the heap hands its bytes out again.
 * - frames, through the direct map: a state per frame. A frame page_free
 *   gave back (a freed page-table page among them) is poisoned until
 *   allocated again, with who allocated and who freed it.
 *
 * Everything else (the image, stacks, MMIO, the kva area) has no shadow and
 * is not checked. The device side needs nothing: the unit and the devices
 * do not go through the instrumentation, and what they own (rings, tables,
 * DMA buffers) is allocated memory, so the CPU's accesses to it are
 * checked like any other.
 *
 * Never instrumented (Makefile: SAN_EXEMPT). */
#include <stdio.h>
#include <string.h>
#include "kasan.h"
#include "san.h"
#include "../printk.h"
#include "../smp.h"
#include "../symbols.h"
#include "../../boot/boot_info.h"
#include "../../lib/atomic.h"
#include "../../mm/frame.h"
#include "../../mm/layout.h"
#include "../../mm/mm.h"

#define GRANULE_SHIFT 3
#define GRANULE       (1u << GRANULE_SHIFT)
/* Shadow values beyond 0..7 (ASan's own meanings). */
#define SHADOW_HEAP_FREE_SPACE 0xfe  /* never handed out, or a block header */
#define SHADOW_HEAP_META       0xfc  /* the record before an object */
#define SHADOW_HEAP_REDZONE    0xfa  /* after an object */
#define SHADOW_HEAP_FREED      0xfd  /* an object kfree gave back */

/* The record before each heap object (the object stays 16-byte aligned). */
struct heap_meta {
    uint64_t size;
    uintptr_t alloc_site, free_site;
    uint64_t magic;
};
#define META_MAGIC   0x6b6173616e6f626aull /* "kasanobj" */
#define HEAP_ALIGN_K 16u
/* After each object, past its rounding: one past the end of an array of
 * any element up to this size lands in it. */
#define REDZONE      16u
/* Frame states. */
enum { FRAME_UNTRACKED = 0, FRAME_ALLOCATED, FRAME_FREED };

struct frame_shadow {
    uint8_t state;
    uint32_t alloc_site, free_site; /* offsets from KERNEL_VMA_BASE */
} __attribute__((packed));

static uint8_t *heap_shadow;
static uintptr_t heap_base;
static size_t heap_bytes;
static struct frame_shadow *frame_shadow;
static uint64_t nframes;
/* Per CPU, that CPU's: kasan_disable_current depth. */
static unsigned disabled[SMP_MAX_CPUS];
static int ready;

void kasan_init(struct frame_pool *pool, void *heap_arena, size_t heap_size)
{
    /* The heap's shadow comes out of the arena's own frames' neighbours:
     * taken from the pool like any early allocation. */
    uint64_t heap_pages = (heap_size / GRANULE + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t frame_pages = (pool->nframes * sizeof(struct frame_shadow) + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t hpfn = frame_alloc_contig(pool, heap_pages, 1);
    uint64_t fpfn = frame_alloc_contig(pool, frame_pages, 1);
    if (hpfn == FRAME_NONE || fpfn == FRAME_NONE) {
        printk("# vtdlab: kasan: no room for the shadow (%lu + %lu pages): memory goes unchecked\n", heap_pages,
               frame_pages);
        return;
    }
    heap_shadow = phys_to_virt(hpfn << PAGE_SHIFT);
    memset(heap_shadow, SHADOW_HEAP_FREE_SPACE, heap_size / GRANULE);
    heap_base = (uintptr_t)heap_arena;
    heap_bytes = heap_size;
    frame_shadow = phys_to_virt(fpfn << PAGE_SHIFT);
    memset(frame_shadow, 0, pool->nframes * sizeof(struct frame_shadow));
    nframes = pool->nframes;
    store_release(&ready, 1);
    printk("# vtdlab: kasan: shadow for the %lu KiB heap and %lu frames (%lu KiB)\n", heap_size / 1024, nframes,
           (heap_pages + frame_pages) * PAGE_SIZE / 1024);
}

void kasan_case_start(void)
{
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        WRITE_ONCE(disabled[c], 0);
}

void kasan_disable_current(void) { disabled[smp_cpu_id()]++; }
void kasan_enable_current(void) { disabled[smp_cpu_id()]--; }

static uint32_t site_offset(uintptr_t site) { return (uint32_t)(site - KERNEL_VMA_BASE); }

static void site_format(uintptr_t site, char *buf, size_t size)
{
    if (site)
        symbol_format(site, buf, size);
    else
        snprintf(buf, size, "?");
}

/* ------------------------------------------------------------------ heap */

static void poison(uintptr_t addr, size_t size, uint8_t value)
{
    memset(heap_shadow + (addr - heap_base) / GRANULE, value, size / GRANULE);
}

static size_t round_up(size_t v, size_t to) { return (v + to - 1) & ~(to - 1); }

size_t kasan_heap_size(size_t size)
{
    /* 0 and sizes no heap holds stay as they are: the heap refuses them. */
    if (!size || size > SIZE_MAX / 2)
        return size;
    return sizeof(struct heap_meta) + round_up(size, HEAP_ALIGN_K) + REDZONE;
}

void *kasan_heap_alloc(void *block, size_t size, uintptr_t site)
{
    if (!block)
        return NULL;
    struct heap_meta *m = block;
    *m = (struct heap_meta){ size, site, 0, META_MAGIC };
    uintptr_t obj = (uintptr_t)(m + 1);
    if (!heap_shadow)
        return (void *)obj;
    poison((uintptr_t)m, sizeof(*m), SHADOW_HEAP_META);
    poison(obj, size & ~(size_t)(GRANULE - 1), 0);
    size_t tail = obj + (size & ~(size_t)(GRANULE - 1));
    size_t rest = obj + round_up(size, HEAP_ALIGN_K) + REDZONE - tail;
    poison(tail, rest, SHADOW_HEAP_REDZONE);
    if (size % GRANULE)
        heap_shadow[(tail - heap_base) / GRANULE] = (uint8_t)(size % GRANULE);
    return (void *)obj;
}

static int in_heap(uintptr_t a) { return heap_shadow && a - heap_base < heap_bytes; }

void *kasan_heap_free(void *p, uintptr_t site)
{
    if (!p)
        return NULL;
    uintptr_t obj = (uintptr_t)p;
    struct heap_meta *m = (struct heap_meta *)p - 1;
    if (!heap_shadow)
        return m;
    char summary[SAN_TEXT_MAX], detail[3 * 112];
    if (!in_heap(obj) || obj % HEAP_ALIGN_K || heap_shadow[((uintptr_t)m - heap_base) / GRANULE] !=
        SHADOW_HEAP_META || m->magic != META_MAGIC) {
        snprintf(summary, sizeof(summary), "invalid free of 0x%lx, which is not a heap object", obj);
        san_report(SAN_KASAN, summary, NULL, (uint64_t)__builtin_frame_address(0));
        return NULL;
    }
    if (m->free_site) {
        char a[96], f[96];
        site_format(m->alloc_site, a, sizeof(a));
        site_format(m->free_site, f, sizeof(f));
        snprintf(summary, sizeof(summary), "double free of the %lu-byte heap object at 0x%lx", m->size, obj);
        snprintf(detail, sizeof(detail), "allocated at %s\nfreed before at %s", a, f);
        san_report(SAN_KASAN, summary, detail, (uint64_t)__builtin_frame_address(0));
        return NULL;
    }
    m->free_site = site;
    poison(obj, round_up(m->size, HEAP_ALIGN_K), SHADOW_HEAP_FREED);
    /* The record stays: it names the object's owners until the heap reuses
     * the bytes (kasan_heap_alloc rewrites it). */
    return m;
}

/* The object an access at a in the arena was about: its record, found by
 * walking the shadow back to it (NULL in free space or a header). */
static const struct heap_meta *heap_object(uintptr_t a)
{
    size_t i = (a - heap_base) / GRANULE;
    while (i > 0 && heap_shadow[i] != SHADOW_HEAP_META && heap_shadow[i] != SHADOW_HEAP_FREE_SPACE)
        i--;
    if (heap_shadow[i] != SHADOW_HEAP_META)
        return NULL;
    while (i > 0 && heap_shadow[i - 1] == SHADOW_HEAP_META)
        i--;
    const struct heap_meta *m = (const struct heap_meta *)(heap_base + i * GRANULE);
    return m->magic == META_MAGIC ? m : NULL;
}

/* Whether [a, a + size) is addressable heap: the first and last byte's
 * granules, and every one between (accesses are at most 16 bytes, or a
 * struct copy the compiler sized). */
static int heap_bad(uintptr_t a, size_t size, uintptr_t *bad)
{
    for (uintptr_t p = a; p < a + size; p = (p | (GRANULE - 1)) + 1) {
        uint8_t s = heap_shadow[(p - heap_base) / GRANULE];
        uintptr_t last = a + size - 1 < (p | (GRANULE - 1)) ? a + size - 1 : (p | (GRANULE - 1));
        if (s && (s >= GRANULE || (last & (GRANULE - 1)) >= s)) {
            *bad = s >= GRANULE ? p : (p & ~(uintptr_t)(GRANULE - 1)) + s;
            return 1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- frames */

void kasan_frames_alloc(uint64_t pa, uint64_t pages, uintptr_t site)
{
    for (uint64_t pfn = pa >> PAGE_SHIFT; frame_shadow && pages-- && pfn < nframes; pfn++) {
        frame_shadow[pfn].alloc_site = site_offset(site);
        frame_shadow[pfn].free_site = 0;
        WRITE_ONCE(frame_shadow[pfn].state, FRAME_ALLOCATED);
    }
}

void kasan_frames_free(uint64_t pa, uint64_t pages, uintptr_t site)
{
    for (uint64_t pfn = pa >> PAGE_SHIFT; frame_shadow && pages-- && pfn < nframes; pfn++) {
        frame_shadow[pfn].free_site = site_offset(site);
        WRITE_ONCE(frame_shadow[pfn].state, FRAME_FREED);
    }
}

/* ---------------------------------------------------------------- checks */

static void report_access(uintptr_t a, size_t size, int write, uintptr_t bad, uint64_t rbp)
{
    char summary[SAN_TEXT_MAX], detail[3 * 112] = "", s1[96], s2[96];
    const char *rw = write ? "write" : "read";
    if (in_heap(bad)) {
        const struct heap_meta *m = heap_object(bad);
        uint8_t s = heap_shadow[(bad - heap_base) / GRANULE];
        if (!m) {
            snprintf(summary, sizeof(summary), "out-of-bounds: %s of %zu bytes at 0x%lx, outside any heap object",
                     rw, size, a);
        } else {
            uintptr_t obj = (uintptr_t)(m + 1);
            site_format(m->alloc_site, s1, sizeof(s1));
            if (s == SHADOW_HEAP_FREED) {
                site_format(m->free_site, s2, sizeof(s2));
                snprintf(summary, sizeof(summary), "use-after-free: %s of %zu bytes at 0x%lx, %lu bytes into a "
                         "freed %lu-byte heap object", rw, size, a, (uint64_t)(a - obj), m->size);
                snprintf(detail, sizeof(detail), "allocated at %s\nfreed at %s", s1, s2);
            } else if (a >= obj + m->size || bad >= obj + m->size) {
                uint64_t past = a >= obj + m->size ? a - obj - m->size : 0;
                snprintf(summary, sizeof(summary), "out-of-bounds: %s of %zu bytes at 0x%lx, %lu bytes past a "
                         "%lu-byte heap object", rw, size, a, past, m->size);
                snprintf(detail, sizeof(detail), "allocated at %s", s1);
            } else {
                snprintf(summary, sizeof(summary), "out-of-bounds: %s of %zu bytes at 0x%lx, before a %lu-byte "
                         "heap object", rw, size, a, m->size);
                snprintf(detail, sizeof(detail), "allocated at %s", s1);
            }
        }
    } else {
        uint64_t pfn = (bad - DIRECT_MAP_BASE) >> PAGE_SHIFT;
        site_format(frame_shadow[pfn].alloc_site ? KERNEL_VMA_BASE + frame_shadow[pfn].alloc_site : 0, s1,
                    sizeof(s1));
        site_format(KERNEL_VMA_BASE + frame_shadow[pfn].free_site, s2, sizeof(s2));
        snprintf(summary, sizeof(summary), "use-after-free: %s of %zu bytes at 0x%lx in freed frame 0x%lx", rw,
                 size, a, pfn << PAGE_SHIFT);
        snprintf(detail, sizeof(detail), "allocated at %s\nfreed at %s", s1, s2);
    }
    san_report(SAN_KASAN, summary, detail, rbp);
}

static inline void check(uintptr_t a, size_t size, int write, uint64_t rbp)
{
    if (!READ_ONCE(ready) || !size)
        return;
    uintptr_t bad = 0;
    if (in_heap(a) || in_heap(a + size - 1)) {
        if (!heap_bad(a, size, &bad))
            return;
    } else if (a - DIRECT_MAP_BASE < nframes * PAGE_SIZE) {
        uint64_t first = (a - DIRECT_MAP_BASE) >> PAGE_SHIFT, last = (a + size - 1 - DIRECT_MAP_BASE) >> PAGE_SHIFT;
        for (uint64_t pfn = first; pfn <= last && pfn < nframes && !bad; pfn++)
            if (READ_ONCE(frame_shadow[pfn].state) == FRAME_FREED)
                bad = pfn == first ? a : DIRECT_MAP_BASE + (pfn << PAGE_SHIFT);
        if (!bad)
            return;
    } else {
        return;
    }
    if (disabled[smp_cpu_id()])
        return;
    report_access(a, size, write, bad, rbp);
}

/* The compiler's entry points (outline mode, recoverable: _noabort). The
 * backtrace starts at the instrumented function. */
#define CHECKS(n)                                                                                     \
    void __asan_load##n##_noabort(uintptr_t a);                                                       \
    void __asan_load##n##_noabort(uintptr_t a) { check(a, n, 0, (uint64_t)__builtin_frame_address(0)); } \
    void __asan_store##n##_noabort(uintptr_t a);                                                      \
    void __asan_store##n##_noabort(uintptr_t a) { check(a, n, 1, (uint64_t)__builtin_frame_address(0)); }
CHECKS(1)
CHECKS(2)
CHECKS(4)
CHECKS(8)
CHECKS(16)

void __asan_loadN_noabort(uintptr_t a, size_t size);
void __asan_loadN_noabort(uintptr_t a, size_t size) { check(a, size, 0, (uint64_t)__builtin_frame_address(0)); }
void __asan_storeN_noabort(uintptr_t a, size_t size);
void __asan_storeN_noabort(uintptr_t a, size_t size) { check(a, size, 1, (uint64_t)__builtin_frame_address(0)); }

/* Before a call that does not return: ASan unpoisons the stack there; with
 * no stack instrumentation (Makefile: asan-stack=0) there is nothing to
 * undo, so an abandoned case's stack is never left poisoned. */
void __asan_handle_no_return(void);
void __asan_handle_no_return(void) {}
