/* The kernel's memory: frames, its own page tables, MMIO mappings, heap. */
#ifndef VTDLAB_MM_MM_H
#define VTDLAB_MM_MM_H

#include <stddef.h>
#include <stdint.h>
#include "../boot/boot_info.h"
#include "frame.h"
#include "kva.h"
#include "layout.h"
#include "pgtable.h"

/* Takes the memory map, builds the kernel's page tables from scratch and
 * switches CR3 to them. Returns the boot_info as seen through the direct
 * map (the loader's identity map is gone afterwards). */
struct boot_info *mm_init(struct boot_info *bi_phys);

void *phys_to_virt(uint64_t pa);
uint64_t virt_to_phys(const void *va);

/* Data frames (zeroed); 0 when none is left. */
uint64_t page_alloc(void);
void page_free(uint64_t pa);
/* pages physically contiguous frames (zeroed), the first a multiple of
 * align_pages frames; 0 when there is no such run. */
uint64_t pages_alloc_contig(unsigned pages, unsigned align_pages);
/* Takes that very frame if it is free (tests that hand a just-freed frame
 * to a new owner): 0 or -E_BUSY. */
int page_take_specific(uint64_t pa);
/* Free frames as the pool counts them, and as its bitmap says. */
uint64_t frames_free_count(void);
uint64_t frames_free_counted(void);
/* A kernel stack of size bytes with an unmapped guard page below it, in
 * the MMIO region; its top, or 0. At most SMP_MAX_CPUS (kernel/smp.h). */
uint64_t kstack_alloc(uint64_t size);
/* Whether [p, p + size) touches a CPU's kernel stack: the boot CPU's (in
 * the image, its guard page included) or one kstack_alloc handed out.
 * Memory a device or a deferred drain may reach after the code that set it
 * up returned must not be there: the stack is reused at once. */
int kernel_stack_contains(const void *p, uint64_t size);
#ifdef VTDLAB_SAN_KASAN
/* The KASAN build: fresh zeroed frames mapped at [va, va + size) where no
 * page is mapped yet (the shadow of a stack); 0 or an error. */
int mm_map_shadow(uint64_t va, uint64_t size);
#endif
/* Fault injection for tests: the allocation `skip` allocations from now
 * fails once (page_alloc returns 0). */
void mm_inject_page_alloc_failure(unsigned skip);
/* Disarms it; whether one is still armed. */
void mm_cancel_page_alloc_failure(void);
int mm_page_alloc_failure_armed(void);
/* The live pool itself, unlocked: for the boot and mm suites' checks of
 * its bookkeeping, which run while no other CPU allocates. Everything else
 * goes through the locked calls above. */
struct frame_pool *mm_frames(void);

/* Page-table pages: every one the kernel allocates comes from here, and
 * every one it frees goes through the reclaim policy (mm/reclaim.h), so
 * their number and their life can be accounted. */
uint64_t pt_page_alloc(void);
struct pt_page_stats {
    uint64_t allocated, freed;
};
struct pt_page_stats pt_page_stats(void);

/* The kernel's own tables (the one CR3 every CPU uses; under SVA also the
 * IOMMU's first-stage tables). */
const struct pt_ctx *kernel_pt(void);

/* Maps physical ranges in the MMIO region: uncached for registers, write-
 * back for firmware tables. NULL when the region is exhausted. */
void *mmio_map(uint64_t pa, uint64_t size);
void *phys_map_cached(uint64_t pa, uint64_t size);

/* Whether the devices that walk the kernel's tables snoop the CPU's caches
 * (set from the registered walkers, mm/walker.h: all of them snoop); when
 * they do not, every table write and every new table is flushed from the
 * caches. */
void kva_set_walk_snooped(int snooped);
int kva_walk_snooped(void);

/* Every page-table page reachable from the kernel's root, the root
 * included, counted by walking the whole tree: with the pages reclaim
 * still holds it accounts for every page-table page allocated and not
 * freed, so a page leaked or freed twice shows as a difference. */
uint64_t kernel_table_pages(void);

void *kmalloc(size_t size);
void kfree(void *p);
struct heap_stats {
    size_t arena, used, allocations;
};
struct heap_stats heap_stats(void);

/* Facts kept from the memory map for the boot suite. */
struct mm_info {
    uint64_t ram_bytes;         /* all RAM-type regions */
    uint64_t usable_at_boot;    /* frames free when mm_init finished */
    uint64_t map_entries;
    int max_leaf_level;         /* 3 when the CPU has 1 GiB pages */
};
const struct mm_info *mm_info(void);
/* [pa, pa + len) lies inside one RAM region of the memory map (the direct
 * map's, readable through phys_to_virt). */
int mm_is_ram(uint64_t pa, uint64_t len);

#endif
