/* x86-64 4-level paging entries (SDM vol. 3, 4.5). Pure helpers: no
 * globals, host-testable. Under SVA the IOMMU's first stage walks these
 * same entries (VT-d spec 3.6, first-stage paging entries). */
#ifndef VTDLAB_MM_PTE_H
#define VTDLAB_MM_PTE_H

#include <stdint.h>

#define PTE_P       (1ul << 0)
#define PTE_RW      (1ul << 1)
#define PTE_US      (1ul << 2)
#define PTE_PWT     (1ul << 3)
#define PTE_PCD     (1ul << 4)
#define PTE_A       (1ul << 5)
#define PTE_D       (1ul << 6)
#define PTE_PS      (1ul << 7)   /* in PDPT/PD entries: this entry is a leaf */
#define PTE_G       (1ul << 8)
#define PTE_NX      (1ul << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ul /* bits 51:12 */
/* Attribute bits a caller may ask for; the walker adds P and PS itself. */
#define PTE_ATTR_MASK (PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_G | PTE_NX)

enum pt_level { PT_LEVEL_PT = 1, PT_LEVEL_PD = 2, PT_LEVEL_PDPT = 3, PT_LEVEL_PML4 = 4 };
#define PT_LEVELS       4
#define PT_ENTRIES      512
#define PT_INDEX_BITS   9
#define PAGE_BITS       12

static inline unsigned pt_index(uint64_t va, int level)
{
    return (unsigned)(va >> (PAGE_BITS + PT_INDEX_BITS * (level - 1))) & (PT_ENTRIES - 1);
}

/* Bytes mapped by one leaf at this level: 4 KiB, 2 MiB, 1 GiB. */
static inline uint64_t pt_leaf_size(int level)
{
    return 1ul << (PAGE_BITS + PT_INDEX_BITS * (level - 1));
}

static inline uint64_t pte_addr(uint64_t pte) { return pte & PTE_ADDR_MASK; }
static inline int pte_present(uint64_t pte) { return (pte & PTE_P) != 0; }
static inline int pte_is_leaf(uint64_t pte, int level)
{
    return level == PT_LEVEL_PT || (level <= PT_LEVEL_PDPT && (pte & PTE_PS));
}

/* Bits 47:63 of a 4-level address must copy bit 47. */
static inline int va_is_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

#endif
