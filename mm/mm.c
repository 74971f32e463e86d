/* The kernel's own page tables: built at boot over the memory map (the
 * direct map and the image), shared by every CPU and by every walker of
 * them (mm/walker.h); the MMIO region and AP stacks mapped into them; the
 * page-table page count; the heap. The frame pool is page_alloc.c's, the
 * kva area kva.c's. */
#include <string.h>
#include "mm.h"
#include "heap.h"
#include "kva.h"
#include "page_life.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../kernel/smp.h"
#include "../kernel/san/kasan.h"
#include "../kernel/x86.h"
#include "../lib/errno.h"

#define LOW_MEMORY_END       (1ul << 20)   /* kept out: real-mode leftovers, AP trampolines */
#define HEAP_SIZE            (4ul << 20)
#define CPUID_EXT_FEATURES   0x80000001u
#define CPUID_EDX_PAGE1GB    (1u << 26)

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[], boot_stack_guard[], boot_stack_top[];

/* Owners: heap_lock the heap, region_lock the MMIO/stack region's next
 * address and its tables (the kva area's are kva.c's), and the stacks
 * handed out. */
static struct spinlock heap_lock = SPINLOCK_INIT("heap");
static struct spinlock region_lock = SPINLOCK_INIT("mmio region");
/* Every kernel stack kstack_alloc handed out (one per AP; never freed),
 * for kernel_stack_contains. */
struct stack_range {
    uint64_t lo, hi;
};
static struct stack_range kstacks[SMP_MAX_CPUS];
static unsigned nkstacks;
static struct pt_ctx kpt;
static uint64_t pt_allocated;
static struct heap heap;
static struct mm_info info;
static uint64_t kernel_phys_base;
static int direct_map_live;     /* 0 while the loader's identity map is in use */
static uint64_t mmio_next = MMIO_BASE;

void *phys_to_virt(uint64_t pa)
{
    return (void *)(pa + (direct_map_live ? DIRECT_MAP_BASE : 0));
}

uint64_t virt_to_phys(const void *p)
{
    uint64_t va = (uint64_t)p;
    if (va >= KERNEL_VMA_BASE)
        return va - KERNEL_VMA_BASE + kernel_phys_base;
    if (va >= DIRECT_MAP_BASE && va < KVA_BASE)
        return va - DIRECT_MAP_BASE;
    int level;
    uint64_t pte = pt_lookup(&kpt, va, &level);
    return pte ? pte_addr(pte) + (va & (pt_leaf_size(level) - 1)) : 0;
}

const struct pt_ctx *kernel_pt(void) { return &kpt; }
const struct mm_info *mm_info(void) { return &info; }
struct pt_page_stats pt_page_stats(void)
{
    return (struct pt_page_stats){ READ_ONCE(pt_allocated), page_life_stats().freed };
}

uint64_t pt_page_alloc(void)
{
    uint64_t pa = page_alloc();
    if (pa) {
        atomic_add(&pt_allocated, 1);
        page_life_allocated(pa);
    }
    return pa;
}

/* 0 while a device walks the kernel's tables without snooping the CPU's
 * caches (VT-d ECAP.SMPWC = 0): every table write is then flushed to
 * memory before the unit can be told to look. */
static int walks_snooped = 1;

void kva_set_walk_snooped(int snooped)
{
    int was = READ_ONCE(walks_snooped);
    WRITE_ONCE(walks_snooped, snooped);
    /* What was written to the tables before is in memory too from now on. */
    if (!snooped && was)
        wbinvd();
}
int kva_walk_snooped(void) { return READ_ONCE(walks_snooped); }

static void flush_lines(const void *p, uint64_t size)
{
    for (uint64_t off = 0; off < size; off += CACHE_LINE_SIZE)
        clflush_sync((const char *)p + off);
}

static uint64_t kpt_alloc(void *owner)
{
    uint64_t pa = pt_page_alloc();
    /* Its zeroes, not what the frame held before, are what a walk reads. */
    if (pa && !kva_walk_snooped())
        flush_lines(phys_to_virt(pa), PAGE_SIZE);
    return pa;
}
static void *kpt_ptr(void *owner, uint64_t pa) { return phys_to_virt(pa); }
static void kpt_written(void *owner, uint64_t *e)
{
    if (!kva_walk_snooped())
        clflush_sync(e);
}

static const struct efi_mmap_desc *mmap_entry(const struct boot_info *bi, uint64_t i)
{
    return (const struct efi_mmap_desc *)(bi->mmap_phys + i * bi->mmap_desc_size);
}

static int type_is_ram(uint32_t type)
{
    switch (type) {
    case EFI_LOADER_CODE: case EFI_LOADER_DATA: case EFI_BOOT_SERVICES_CODE:
    case EFI_BOOT_SERVICES_DATA: case EFI_RUNTIME_SERVICES_CODE: case EFI_RUNTIME_SERVICES_DATA:
    case EFI_CONVENTIONAL_MEMORY: case EFI_ACPI_RECLAIM_MEMORY: case EFI_ACPI_MEMORY_NVS:
    case EFI_PERSISTENT_MEMORY:
        return 1;
    default:
        return 0;
    }
}

/* The RAM regions of the memory map, adjacent ones merged: what the direct
 * map covers, and all the shell's `mem` reads. A map with more separate
 * regions than this keeps the first ones (the rest read as not RAM). */
#define RAM_RANGES_MAX 64
static struct { uint64_t start, end; } ram[RAM_RANGES_MAX];
static unsigned nram;

static void note_ram(uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < nram; i++) {
        if (ram[i].end == start) { ram[i].end = end; return; }
        if (ram[i].start == end) { ram[i].start = start; return; }
    }
    if (nram < RAM_RANGES_MAX)
        ram[nram++].start = start, ram[nram - 1].end = end;
}

int mm_is_ram(uint64_t pa, uint64_t len)
{
    if (!len || pa + len < pa)
        return 0;
    for (unsigned i = 0; i < nram; i++)
        if (pa >= ram[i].start && pa + len <= ram[i].end)
            return 1;
    return 0;
}

static void map_or_panic(uint64_t va, uint64_t pa, uint64_t size, uint64_t attrs, int max_level, const char *what)
{
    int err = pt_map_range(&kpt, va, pa, size, attrs, max_level);
    if (err)
        panic("mm: mapping %s (pa 0x%lx, 0x%lx bytes): %s", what, pa, size, err_name(err));
}

/* The direct map covers RAM only; the kernel image's frames are mapped
 * read-only there so no alias makes its text writable. */
static void map_direct(uint64_t start, uint64_t end, uint64_t kstart, uint64_t kend)
{
    const uint64_t rw = PTE_RW | PTE_NX, ro = PTE_NX;
    uint64_t cuts[4] = { start, end, end, end };
    if (kstart < end && kend > start) {
        cuts[1] = kstart > start ? kstart : start;
        cuts[2] = kend < end ? kend : end;
    }
    const uint64_t attrs[3] = { rw, ro, rw };
    for (int i = 0; i < 3; i++)
        if (cuts[i + 1] > cuts[i])
            map_or_panic(DIRECT_MAP_BASE + cuts[i], cuts[i], cuts[i + 1] - cuts[i], attrs[i],
                         info.max_leaf_level, "the direct map");
}

static void map_image_part(const char *start, const char *end, uint64_t attrs, const char *what)
{
    uint64_t va = (uint64_t)start;
    map_or_panic(va, va - KERNEL_VMA_BASE + kernel_phys_base, (uint64_t)(end - start), attrs, PT_LEVEL_PT, what);
}

struct boot_info *mm_init(struct boot_info *bi)
{
    struct frame_pool *frames = mm_frames();
    uint32_t r[4];
    cpuid(CPUID_EXT_FEATURES, 0, r);
    info.max_leaf_level = (r[3] & CPUID_EDX_PAGE1GB) ? PT_LEVEL_PDPT : PT_LEVEL_PD;
    kernel_phys_base = bi->kernel_phys_base;
    uint64_t n = bi->mmap_size / bi->mmap_desc_size, max_pfn = 0;
    info.map_entries = n;
    for (uint64_t i = 0; i < n; i++) {
        const struct efi_mmap_desc *d = mmap_entry(bi, i);
        if (!type_is_ram(d->type))
            continue;
        info.ram_bytes += d->pages * PAGE_SIZE;
        note_ram(d->phys_start, d->phys_start + d->pages * PAGE_SIZE);
        uint64_t end = (d->phys_start >> PAGE_SHIFT) + d->pages;
        if (end > max_pfn)
            max_pfn = end;
    }

    /* The bitmap goes at the start of the first conventional region above
     * low memory that holds it. */
    uint64_t bitmap_bytes = frame_bitmap_words(max_pfn) * sizeof(uint64_t);
    uint64_t bitmap_pages = (bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE, bitmap_pa = 0;
    for (uint64_t i = 0; i < n && !bitmap_pa; i++) {
        const struct efi_mmap_desc *d = mmap_entry(bi, i);
        if (d->type == EFI_CONVENTIONAL_MEMORY && d->phys_start >= LOW_MEMORY_END && d->pages >= bitmap_pages)
            bitmap_pa = d->phys_start;
    }
    if (!bitmap_pa)
        panic("mm: no conventional region holds the %lu-byte frame bitmap", bitmap_bytes);
    frame_pool_init(frames, (uint64_t *)bitmap_pa, max_pfn);
    for (uint64_t i = 0; i < n; i++) {
        const struct efi_mmap_desc *d = mmap_entry(bi, i);
        if (d->type == EFI_CONVENTIONAL_MEMORY)
            frame_pool_add(frames, d->phys_start >> PAGE_SHIFT, d->pages);
    }
    frame_pool_reserve(frames, bitmap_pa >> PAGE_SHIFT, bitmap_pages);
    frame_pool_reserve(frames, 0, LOW_MEMORY_END >> PAGE_SHIFT);

    kpt.alloc_table = kpt_alloc;
    kpt.table_ptr = kpt_ptr;
    kpt.entry_written = kpt_written;
    kpt.fmt = &pt_format_x86;
    /* PML4 entries of the kernel half never change after boot: every
     * region's top table is made now and never unlinked. */
    kpt.keep_level = PT_LEVEL_PDPT;
    kpt.root_pa = pt_page_alloc();
    if (!kpt.root_pa)
        panic("mm: no frame for the root page table");
    kva_init();

    uint64_t kstart = kernel_phys_base, kend = kernel_phys_base + bi->kernel_span;
    for (uint64_t i = 0; i < n; i++) {
        const struct efi_mmap_desc *d = mmap_entry(bi, i);
        if (type_is_ram(d->type))
            map_direct(d->phys_start, d->phys_start + d->pages * PAGE_SIZE, kstart, kend);
    }
    map_image_part(__text_start, __text_end, 0, "kernel text");
    map_image_part(__rodata_start, __rodata_end, PTE_NX, "kernel rodata");
    map_image_part(__data_start, boot_stack_guard, PTE_RW | PTE_NX, "kernel data");
    map_image_part(boot_stack_guard + PAGE_SIZE, __data_end, PTE_RW | PTE_NX, "kernel data");

    /* The top tables of the on-demand regions, so their PML4 entries exist
     * from the start. */
    uint64_t *root = phys_to_virt(kpt.root_pa);
    const uint64_t regions[] = { KVA_BASE, MMIO_BASE,
#ifdef VTDLAB_SAN_KASAN
                                 /* the shadow of the stacks mapped there (kasan_stack_add) */
                                 KASAN_SHADOW_OF(MMIO_BASE),
#endif
    };
    for (unsigned i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
        uint64_t pdpt = pt_page_alloc();
        if (!pdpt)
            panic("mm: no frame for a region's top table");
        root[pt_index(regions[i], PT_LEVEL_PML4)] = pdpt | kpt.fmt->table_flags;
    }

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr0(read_cr0() | CR0_WP);
    write_cr3(kpt.root_pa);
    direct_map_live = 1;
    frames->bitmap = phys_to_virt(bitmap_pa);
    bi = phys_to_virt((uint64_t)bi);

    /* The firmware's page tables and pools are dead now. */
    for (uint64_t i = 0; i < n; i++) {
        const struct efi_mmap_desc *d = phys_to_virt(bi->mmap_phys + i * bi->mmap_desc_size);
        if (d->type == EFI_BOOT_SERVICES_CODE || d->type == EFI_BOOT_SERVICES_DATA)
            frame_pool_add(frames, d->phys_start >> PAGE_SHIFT, d->pages);
    }
    frame_pool_reserve(frames, 0, LOW_MEMORY_END >> PAGE_SHIFT);

    uint64_t heap_pfn = frame_alloc_contig(frames, HEAP_SIZE / PAGE_SIZE, 1);
    if (heap_pfn == FRAME_NONE)
        panic("mm: no %lu contiguous bytes for the heap", HEAP_SIZE);
    heap_init(&heap, phys_to_virt(heap_pfn << PAGE_SHIFT), HEAP_SIZE);
    kasan_init(frames, phys_to_virt(heap_pfn << PAGE_SHIFT), HEAP_SIZE);
    info.usable_at_boot = frames->free_count * PAGE_SIZE;
    return bi;
}

static void *map_phys(uint64_t pa, uint64_t size, uint64_t attrs)
{
    uint64_t off = pa & ~PAGE_MASK;
    uint64_t len = (off + size + PAGE_SIZE - 1) & PAGE_MASK;
    spin_lock(&region_lock);
    void *p = NULL;
    if (size && len <= MMIO_BASE + MMIO_SIZE - mmio_next) {
        uint64_t va = mmio_next;
        if (!pt_map_range(&kpt, va, pa - off, len, attrs, PT_LEVEL_PT)) {
            /* An unmapped page between mappings catches overruns, and is
             * the guard page below a stack mapped here. */
            mmio_next += len + PAGE_SIZE;
            p = (void *)(va + off);
        }
    }
    spin_unlock(&region_lock);
    return p;
}

uint64_t kstack_alloc(uint64_t size)
{
    /* Only a stack kernel_stack_contains knows of is handed out. */
    if (READ_ONCE(nkstacks) == SMP_MAX_CPUS)
        return 0;
    uint64_t pa = pages_alloc_contig((unsigned)(size / PAGE_SIZE), 1);
    if (!pa)
        return 0;
    uint8_t *va = map_phys(pa, size, PTE_RW | PTE_NX);
    /* KASAN: the shadow mapped before the stack is recorded or handed
     * out, since the first frame with redzones writes it. */
    int shadowed = va && !kasan_stack_shadow((uint64_t)va, (uint64_t)va + size);
    if (va && !shadowed)
        printk("# vtdlab: kasan: no shadow for the stack at 0x%lx: not handed out\n", (uint64_t)va);
    spin_lock(&region_lock);
    int recorded = shadowed && nkstacks < SMP_MAX_CPUS;
    if (recorded) {
        kstacks[nkstacks++] = (struct stack_range){ (uint64_t)va, (uint64_t)va + size };
        kasan_stack_add((uint64_t)va, (uint64_t)va + size);   /* appended under region_lock, like kstacks */
    }
    spin_unlock(&region_lock);
    if (!recorded) {
        /* Mapped but not recorded (no shadow, or the table filled
         * meanwhile): the frames stay with the mapping, whose addresses
         * are never reused. */
        for (uint64_t off = 0; !va && off < size; off += PAGE_SIZE)
            page_free(pa + off);
        return 0;
    }
    return (uint64_t)va + size;
}

#ifdef VTDLAB_SAN_KASAN
int mm_map_shadow(uint64_t va, uint64_t size)
{
    int err = 0;
    spin_lock(&region_lock);
    for (uint64_t page = va & PAGE_MASK; page < va + size && !err; page += PAGE_SIZE) {
        int level;
        if (pt_lookup(&kpt, page, &level))
            continue; /* a neighbouring stack's shadow shares the page */
        uint64_t pa = page_alloc();
        err = pa ? pt_map_range(&kpt, page, pa, PAGE_SIZE, PTE_RW | PTE_NX, PT_LEVEL_PT) : -E_NOMEM;
        if (err && pa)
            page_free(pa);
    }
    spin_unlock(&region_lock);
    return err;
}
#endif

static int overlaps(uint64_t a, uint64_t size, uint64_t lo, uint64_t hi) { return a < hi && a + size > lo; }

int kernel_stack_contains(const void *p, uint64_t size)
{
    uint64_t a = (uint64_t)p;
    if (overlaps(a, size, (uint64_t)boot_stack_guard, (uint64_t)boot_stack_top))
        return 1;
    spin_lock(&region_lock);
    int found = 0;
    for (unsigned i = 0; i < nkstacks && !found; i++)
        found = overlaps(a, size, kstacks[i].lo, kstacks[i].hi);
    spin_unlock(&region_lock);
    return found;
}

void *mmio_map(uint64_t pa, uint64_t size) { return map_phys(pa, size, PTE_RW | PTE_NX | PTE_PCD | PTE_PWT); }
void *phys_map_cached(uint64_t pa, uint64_t size) { return map_phys(pa, size, PTE_NX); }

uint64_t kernel_table_pages(void)
{
    /* Every path that writes the tables after boot holds one of these two. */
    spin_lock(&region_lock);
    kva_lock_tables();
    uint64_t n = 1 + pt_count_tables(&kpt, kpt.root_pa, PT_LEVEL_PML4);
    kva_unlock_tables();
    spin_unlock(&region_lock);
    return n;
}

void *kmalloc(size_t size)
{
    spin_lock(&heap_lock);
    void *p = kasan_heap_alloc(heap_alloc(&heap, kasan_heap_size(size)), size,
                               (uintptr_t)__builtin_return_address(0));
    spin_unlock(&heap_lock);
    return p;
}

void kfree(void *p)
{
    void *block = kasan_heap_free(p, (uintptr_t)__builtin_return_address(0));
    if (p && !block)
        return; /* reported: not a live object, and nothing to free */
    spin_lock(&heap_lock);
    int err = heap_free(&heap, block);
    spin_unlock(&heap_lock);
    if (err)
        panic("kfree(%p): not a live allocation", p);
}

struct heap_stats heap_stats(void)
{
    spin_lock(&heap_lock);
    struct heap_stats s = { heap.arena_size, heap.used, heap.allocations };
    spin_unlock(&heap_lock);
    return s;
}
