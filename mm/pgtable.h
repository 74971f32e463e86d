/* Page-table walker shared by every user of the kernel's tables. It knows
 * nothing of where table pages come from: the owner supplies allocation and
 * address translation, so it runs on the host in unit tests too. */
#ifndef VTDLAB_MM_PGTABLE_H
#define VTDLAB_MM_PGTABLE_H

#include <stdint.h>
#include "pte.h"

/* What differs between the formats this walker serves: x86 paging (the CPU,
 * and the IOMMU's first stage under SVA) and VT-d second-stage tables. Bit
 * 7 is the large-page bit and bits 51:12 the address in both. */
struct pt_format {
    const char *name;
    int levels;              /* 4, or 3 for a 39-bit second stage */
    uint64_t present_mask;   /* an entry is present when any of these is set */
    uint64_t leaf_flags;     /* added to every leaf */
    uint64_t table_flags;    /* every non-leaf entry: present and access */
    uint64_t attr_mask;      /* what a caller may ask for in a leaf */
    int canonical;           /* addresses sign-extend bit 47 (x86) or are plain */
};
extern const struct pt_format pt_format_x86;
/* The same, with U/S on every table entry, for paths a user-privilege
 * request must be able to walk. */
extern const struct pt_format pt_format_x86_user_tables;

struct pt_ctx {
    uint64_t root_pa;
    const struct pt_format *fmt;
    /* Tables at this level and above are never unlinked (0: none kept). */
    int keep_level;
    uint64_t (*alloc_table)(void *owner);      /* zeroed page or 0 */
    void *(*table_ptr)(void *owner, uint64_t pa);
    /* Called after every entry the walker writes (NULL: nothing to do):
     * for tables a device walks without snooping the CPU's caches. */
    void (*entry_written)(void *owner, uint64_t *entry);
    void *owner;
};

/* Table pages unlinked by an unmap: no longer reachable from the root, but
 * still possibly cached by a TLB or IOMMU until flushed. The caller flushes
 * and only then frees them. */
struct pt_unlinked {
    int count;
    uint64_t pa[PT_LEVELS];
    int level[PT_LEVELS];
};

int pt_map_page(const struct pt_ctx *pt, uint64_t va, uint64_t pa, int leaf_level, uint64_t attrs);
/* Maps [va, va+size) to [pa, ...) with the largest leaves alignment and
 * max_leaf_level allow. On error nothing is rolled back. */
int pt_map_range(const struct pt_ctx *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t attrs,
                 int max_leaf_level);
/* Clears the leaf mapping va and unlinks the tables that became empty. */
int pt_unmap_page(const struct pt_ctx *pt, uint64_t va, int *leaf_level, struct pt_unlinked *unlinked);
/* The leaf entry for va (0 when unmapped); its level in *level. */
uint64_t pt_lookup(const struct pt_ctx *pt, uint64_t va, int *level);
/* Replaces the 2 MiB leaf mapping va with a page table of 512 4 KiB
 * leaves over the same frames and attributes (to change one page's
 * attributes, as x86's CPA does). */
int pt_split_leaf(const struct pt_ctx *pt, uint64_t va);
/* The reverse: when the page table under va holds 512 present leaves over
 * one aligned 2 MiB run with the same attributes, one 2 MiB leaf replaces
 * it and the table is unlinked (the caller flushes, then frees it). */
int pt_collapse_table(const struct pt_ctx *pt, uint64_t va, struct pt_unlinked *unlinked);
/* Changes the attribute bits of the leaf mapping va. */
int pt_protect(const struct pt_ctx *pt, uint64_t va, uint64_t attrs);
/* Tables reachable below the table at table_pa (a table at level), counted
 * by walking them: independent of any allocation counter. */
uint64_t pt_count_tables(const struct pt_ctx *pt, uint64_t table_pa, int level);

#endif
