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
 * - the image and the kernel stacks: a shadow byte per 8 bytes at
 *   KASAN_SHADOW_OF(address), where the compiler's own code writes it too:
 *   each instrumented function poisons the redzones around its address-
 *   taken locals on entry and clears them on return, and each instrumented
 *   file's constructor registers its globals, each followed by a redzone
 *   (__asan_register_globals). The image window's shadow sits in the image
 *   (linker.ld: .kasan_shadow), so it exists before the first instrumented
 *   function runs; an AP stack's is mapped when the stack is allocated.
 *   A case abandoned half-way leaves its frames' redzones behind: the jump
 *   back (ctx_restore) clears everything below the frame it lands in.
 * - memcpy, memset and memmove, which the compiler calls rather than
 *   instruments: in instrumented code they are kasan_memcpy and the like
 *   (Makefile: objcopy --redefine-sym), which check both ranges first.
 *
 * Everything else (MMIO, the kva area) has no shadow and is not checked.
 * The device side needs nothing: the unit and the devices do not go
 * through the instrumentation, and what they own (rings, tables, DMA
 * buffers) is allocated memory, so the CPU's accesses to it are checked
 * like any other.
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

/* Globals, as gcc describes each one it registers. */
struct global_location {
    const char *file;
    int line, column;
};
struct global {
    uintptr_t beg;
    size_t size, size_with_redzone;
    const char *name, *module;
    uintptr_t has_dynamic_init;
    const struct global_location *location;
    uintptr_t odr_indicator;
};
/* Each instrumented file's table of them, for naming the global a report
 * is about. */
#define GLOBAL_TABLES_MAX 512
static struct {
    const struct global *g;
    size_t n;
} global_tables[GLOBAL_TABLES_MAX];
static unsigned nglobal_tables, global_tables_dropped;

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
    printk("# vtdlab: kasan: shadow for the %lu KiB heap and %lu frames (%lu KiB), the image and the stacks\n",
           heap_size / 1024, nframes, (heap_pages + frame_pages) * PAGE_SIZE / 1024);
    if (global_tables_dropped)
        printk("# vtdlab: kasan: %u files' globals past the first %u are checked but go unnamed in reports\n",
               global_tables_dropped, GLOBAL_TABLES_MAX);
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

/* ------------------------------------------------- the image and the stacks */

/* Shadow values the compiler writes (ASan's). */
#define SHADOW_STACK_LEFT   0xf1 /* below a frame's first variable */
#define SHADOW_STACK_MID    0xf2 /* between two variables */
#define SHADOW_STACK_RIGHT  0xf3 /* above the last */
#define SHADOW_STACK_SCOPE  0xf8 /* a variable out of its scope */
#define SHADOW_GLOBAL       0xf9 /* after a global */
/* A poisoned frame's first 8 bytes (its left redzone): this magic, then
 * the frame's description ("<n> <offset> <size> <name length> <name> ..."
 * of each variable) and the function's address. */
#define FRAME_MAGIC         0x41b58ab3
#define FRAME_SCAN_MAX      4096 /* bytes back from a bad access to a frame's start */

_Static_assert(VTDLAB_KASAN_SHADOW_OFFSET + (KERNEL_VMA_BASE >> GRANULE_SHIFT) == KERNEL_VMA_BASE + KASAN_IMAGE_WINDOW,
               "the image window's shadow sits right above the window (linker.ld)");
/* The image window's shadow (linker.ld places it at KERNEL_VMA_BASE +
 * KASAN_IMAGE_WINDOW, which is KASAN_SHADOW_OF(KERNEL_VMA_BASE)). */
static uint8_t image_shadow[KASAN_IMAGE_WINDOW / GRANULE] __attribute__((used, section(".kasan_shadow"), aligned(4096)));

/* The stacks whose shadow is mapped: the boot CPU's (in the image) and
 * each AP's. Appended under mm.c's region_lock (kstack_alloc), each entry
 * before the count that publishes it; read without a lock. */
extern char boot_stack_guard[], boot_stack_top[];
struct stack_range {
    uint64_t lo, hi;
};
static struct stack_range stacks[SMP_MAX_CPUS];
static unsigned nstacks;


static uint8_t *shadow_of(uintptr_t a) { return (uint8_t *)KASAN_SHADOW_OF(a); }

/* Whether a's shadow byte is at KASAN_SHADOW_OF(a): in the image window
 * or on a stack whose shadow is mapped. */
static int linear_shadowed(uintptr_t a)
{
    if (a - KERNEL_VMA_BASE < KASAN_IMAGE_WINDOW)
        return 1;
    if (a - MMIO_BASE >= MMIO_SIZE)
        return 0;
    for (unsigned i = 0; i < READ_ONCE(nstacks); i++)
        if (a - stacks[i].lo < stacks[i].hi - stacks[i].lo)
            return 1;
    return 0;
}

/* Poisons [addr, addr + size) with value (addr granule-aligned; a partial
 * last granule addressable when value is 0). */
static void linear_poison(uintptr_t addr, size_t size, uint8_t value)
{
    memset(shadow_of(addr), value, size / GRANULE);
    if (size % GRANULE)
        *shadow_of(addr + size - size % GRANULE) = value ? value : (uint8_t)(size % GRANULE);
}

int kasan_stack_shadow(uint64_t lo, uint64_t hi) { return mm_map_shadow(KASAN_SHADOW_OF(lo), (hi - lo) / GRANULE); }

void kasan_stack_add(uint64_t lo, uint64_t hi)
{
    /* kstack_alloc records no more stacks than this holds */
    stacks[nstacks] = (struct stack_range){ lo, hi };
    store_release(&nstacks, nstacks + 1);
}

void kasan_unpoison_stack_below(uint64_t sp)
{
    uint64_t lo = (uint64_t)boot_stack_guard + PAGE_SIZE, hi = (uint64_t)boot_stack_top;
    for (unsigned i = 0; !(sp > lo && sp <= hi) && i < READ_ONCE(nstacks); i++)
        lo = stacks[i].lo, hi = stacks[i].hi;
    if (sp > lo && sp <= hi)
        linear_poison(lo, (sp - lo) & ~(uint64_t)(GRANULE - 1), 0);
}

void __asan_register_globals(const struct global *g, size_t n);
void __asan_register_globals(const struct global *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uintptr_t tail = g[i].beg + (g[i].size & ~(size_t)(GRANULE - 1));
        linear_poison(tail, g[i].beg + g[i].size_with_redzone - tail, SHADOW_GLOBAL);
        if (g[i].size % GRANULE)
            *shadow_of(tail) = (uint8_t)(g[i].size % GRANULE);
    }
    if (nglobal_tables < GLOBAL_TABLES_MAX)
        global_tables[nglobal_tables++] = (typeof(global_tables[0])){ g, n };
    else
        global_tables_dropped++;
}

/* The destructors that would call it never run (linker.ld discards
 * them); what it would do is still this. */
void __asan_unregister_globals(const struct global *g, size_t n);
void __asan_unregister_globals(const struct global *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        linear_poison(g[i].beg, g[i].size_with_redzone, 0);
}

/* Whether [a, a + size) is addressable by the linear shadow; *bad the
 * first byte that is not. */
static int linear_bad(uintptr_t a, size_t size, uintptr_t *bad)
{
    for (uintptr_t p = a; p < a + size; p = (p | (GRANULE - 1)) + 1) {
        uint8_t s = *shadow_of(p);
        uintptr_t last = a + size - 1 < (p | (GRANULE - 1)) ? a + size - 1 : (p | (GRANULE - 1));
        if (s && (s >= GRANULE || (last & (GRANULE - 1)) >= s)) {
            *bad = s >= GRANULE ? (p > a ? p : a) : (p & ~(uintptr_t)(GRANULE - 1)) + s;
            return 1;
        }
    }
    return 0;
}

/* Reads "<number> " from *p. */
static uint64_t descr_number(const char **p)
{
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    while (**p == ' ')
        (*p)++;
    return v;
}

/* A stack access at a (bad: its first poisoned byte): which variable of
 * which function it missed, from the frame's description. */
static void describe_stack(uintptr_t a, uintptr_t bad, char *what, size_t size)
{
    uintptr_t g = bad & ~(uintptr_t)(GRANULE - 1);
    /* Back to the left redzone's first granule: the frame's start. */
    for (unsigned n = 0; n < FRAME_SCAN_MAX / GRANULE && *shadow_of(g) != SHADOW_STACK_LEFT; n++)
        g -= GRANULE;
    while (*shadow_of(g) == SHADOW_STACK_LEFT && *shadow_of(g - GRANULE) == SHADOW_STACK_LEFT)
        g -= GRANULE;
    const uint64_t *frame = (const uint64_t *)g;
    if (*shadow_of(g) != SHADOW_STACK_LEFT || frame[0] != FRAME_MAGIC) {
        snprintf(what, size, "in a stack redzone");
        return;
    }
    const char *d = (const char *)frame[1];
    char fn[96];
    symbol_format(frame[2], fn, sizeof(fn));
    char *plus = strchr(fn, '+');
    if (plus)
        *plus = 0;
    /* The variable the access is nearest after (or, below the first, the first). */
    uint64_t nvars = descr_number(&d), best_off = 0, best_size = 0, best_len = 0;
    const char *best_name = "?";
    for (uint64_t i = 0; i < nvars; i++) {
        uint64_t off = descr_number(&d), vsize = descr_number(&d), len = descr_number(&d);
        const char *name = d;
        d += len;
        while (*d == ' ')
            d++;
        if (i == 0 || g + off <= a) {
            best_off = off, best_size = vsize, best_len = len, best_name = name;
        }
    }
    /* The name may carry ":<line>"; the line is not said. */
    for (uint64_t i = 0; i < best_len; i++)
        if (best_name[i] == ':')
            best_len = i;
    uintptr_t var = g + best_off;
    if (a >= var + best_size)
        snprintf(what, size, "%lu bytes past the %lu-byte '%.*s' in the frame of %s", (uint64_t)(a - var - best_size),
                 best_size, (int)best_len, best_name, fn);
    else if (a < var)
        snprintf(what, size, "%lu bytes before the %lu-byte '%.*s' in the frame of %s", (uint64_t)(var - a), best_size,
                 (int)best_len, best_name, fn);
    else
        snprintf(what, size, "reaching past the %lu-byte '%.*s' in the frame of %s", best_size, (int)best_len,
                 best_name, fn);
}

static void describe_global(uintptr_t a, char *what, size_t size)
{
    for (unsigned t = 0; t < nglobal_tables; t++)
        for (size_t i = 0; i < global_tables[t].n; i++) {
            const struct global *g = &global_tables[t].g[i];
            if (a - g->beg >= g->size_with_redzone)
                continue;
            const char *file = g->location ? g->location->file : g->module;
            int line = g->location ? g->location->line : 0;
            if (a >= g->beg + g->size)
                snprintf(what, size, "%lu bytes past the %lu-byte global '%s' (%s:%d)", (uint64_t)(a - g->beg - g->size),
                         g->size, g->name, file, line);
            else
                snprintf(what, size, "reaching past the %lu-byte global '%s' (%s:%d)", g->size, g->name, file, line);
            return;
        }
    snprintf(what, size, "in a global's redzone%s", global_tables_dropped ? " (its global unnamed: too many "
             "instrumented files for the table)" : "");
}

/* ---------------------------------------------------------------- checks */

/* via: the function that made the access for its caller (memcpy), or NULL. */
static void report_access(uintptr_t a, size_t size, int write, uintptr_t bad, uint64_t rbp, const char *via)
{
    if (!san_describe_begin(SAN_KASAN))
        return;
    char summary[SAN_TEXT_MAX], detail[3 * 112] = "", s1[96], s2[96], rw[24];
    snprintf(rw, sizeof(rw), "%s%s%s", via ? via : "", via ? " " : "", write ? "write" : "read");
    if (linear_shadowed(bad)) {
        char what[SAN_TEXT_MAX];
        int global = *shadow_of(bad) == SHADOW_GLOBAL || (*shadow_of(bad) < GRANULE &&
                                                          *shadow_of(bad + GRANULE) == SHADOW_GLOBAL);
        if (global)
            describe_global(a, what, sizeof(what));
        else
            describe_stack(a, bad, what, sizeof(what));
        snprintf(summary, sizeof(summary), "%s-out-of-bounds: %s of %zu bytes at 0x%lx, %s", global ? "global" :
                 "stack", rw, size, a, what);
    } else if (in_heap(bad)) {
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
            } else if (a >= obj + m->size) {
                snprintf(summary, sizeof(summary), "out-of-bounds: %s of %zu bytes at 0x%lx, %lu bytes past a "
                         "%lu-byte heap object", rw, size, a, (uint64_t)(a - obj - m->size), m->size);
                snprintf(detail, sizeof(detail), "allocated at %s", s1);
            } else if (bad >= obj + m->size) {
                snprintf(summary, sizeof(summary), "out-of-bounds: %s of %zu bytes at 0x%lx, reaching %lu bytes "
                         "past a %lu-byte heap object", rw, size, a, (uint64_t)(a + size - obj - m->size), m->size);
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

static inline void check(uintptr_t a, size_t size, int write, uint64_t rbp, const char *via)
{
    if (!READ_ONCE(ready) || !size)
        return;
    uintptr_t bad = 0;
    if (linear_shadowed(a)) {
        if (!linear_bad(a, size, &bad))
            return;
    } else if (in_heap(a) || in_heap(a + size - 1)) {
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
    report_access(a, size, write, bad, rbp, via);
}

/* The compiler's entry points (outline mode, recoverable: _noabort). The
 * backtrace starts at the instrumented function. */
#define CHECKS(n)                                                                                     \
    void __asan_load##n##_noabort(uintptr_t a);                                                       \
    void __asan_load##n##_noabort(uintptr_t a) { check(a, n, 0, (uint64_t)__builtin_frame_address(0), NULL); } \
    void __asan_store##n##_noabort(uintptr_t a);                                                      \
    void __asan_store##n##_noabort(uintptr_t a) { check(a, n, 1, (uint64_t)__builtin_frame_address(0), NULL); }
CHECKS(1)
CHECKS(2)
CHECKS(4)
CHECKS(8)
CHECKS(16)

void __asan_loadN_noabort(uintptr_t a, size_t size);
void __asan_loadN_noabort(uintptr_t a, size_t size) { check(a, size, 0, (uint64_t)__builtin_frame_address(0), NULL); }
void __asan_storeN_noabort(uintptr_t a, size_t size);
void __asan_storeN_noabort(uintptr_t a, size_t size) { check(a, size, 1, (uint64_t)__builtin_frame_address(0), NULL); }

void *kasan_memcpy(void *dst, const void *src, size_t n)
{
    check((uintptr_t)src, n, 0, (uint64_t)__builtin_frame_address(0), "memcpy");
    check((uintptr_t)dst, n, 1, (uint64_t)__builtin_frame_address(0), "memcpy");
    return memcpy(dst, src, n);
}

void *kasan_memmove(void *dst, const void *src, size_t n)
{
    check((uintptr_t)src, n, 0, (uint64_t)__builtin_frame_address(0), "memmove");
    check((uintptr_t)dst, n, 1, (uint64_t)__builtin_frame_address(0), "memmove");
    return memmove(dst, src, n);
}

void *kasan_memset(void *dst, int c, size_t n)
{
    check((uintptr_t)dst, n, 1, (uint64_t)__builtin_frame_address(0), "memset");
    return memset(dst, c, n);
}

/* Before a call that does not return. Nothing to do here: the frames a
 * non-local jump abandons are cleared where it lands
 * (kasan_unpoison_stack_below, from ctx_restore in kernel/traps.c). */
void __asan_handle_no_return(void);
void __asan_handle_no_return(void) {}
