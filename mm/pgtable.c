#include <stddef.h>
#include "pgtable.h"
#include "../lib/atomic.h"
#include "../lib/errno.h"

/* Entries other CPUs and devices walk are read and written whole: one
 * 64-bit load or store each, never torn or split by the compiler. */

const struct pt_format pt_format_x86 = {
    .name = "x86 4-level",
    .levels = PT_LEVEL_PML4,
    .present_mask = PTE_P,
    .leaf_flags = PTE_P,
    .table_flags = PTE_P | PTE_RW,
    .attr_mask = PTE_ATTR_MASK,
    .canonical = 1,
};

const struct pt_format pt_format_x86_user_tables = {
    .name = "x86 4-level, user-walkable tables",
    .levels = PT_LEVEL_PML4,
    .present_mask = PTE_P,
    .leaf_flags = PTE_P,
    .table_flags = PTE_P | PTE_RW | PTE_US,
    .attr_mask = PTE_ATTR_MASK,
    .canonical = 1,
};

static int present(const struct pt_ctx *pt, uint64_t e) { return (e & pt->fmt->present_mask) != 0; }
static int is_leaf(uint64_t e, int level) { return pte_is_leaf(e, level); }

static int va_ok(const struct pt_ctx *pt, uint64_t va)
{
    if (pt->fmt->canonical)
        return va_is_canonical(va);
    return (va >> (PAGE_BITS + PT_INDEX_BITS * pt->fmt->levels)) == 0;
}

static uint64_t *table_at(const struct pt_ctx *pt, uint64_t pa)
{
    return pt->table_ptr(pt->owner, pa);
}

static int table_is_empty(const uint64_t *t)
{
    for (int i = 0; i < PT_ENTRIES; i++)
        if (READ_ONCE(t[i]))
            return 0;
    return 1;
}

static void written(const struct pt_ctx *pt, uint64_t *e)
{
    if (pt->entry_written)
        pt->entry_written(pt->owner, e);
}

/* A leaf may sit in the root table itself: a 3-level VT-d second stage
 * maps 1 GiB pages from its top table (VT-d spec 9.8); x86's 4-level root
 * never holds one, as no leaf is above PT_LEVEL_PDPT. */
int pt_map_page(const struct pt_ctx *pt, uint64_t va, uint64_t pa, int leaf_level, uint64_t attrs)
{
    uint64_t size = pt_leaf_size(leaf_level);
    if (leaf_level < PT_LEVEL_PT || leaf_level > PT_LEVEL_PDPT || leaf_level > pt->fmt->levels ||
        (va & (size - 1)) || (pa & (size - 1)) || (pa & ~PTE_ADDR_MASK) || (attrs & ~pt->fmt->attr_mask) ||
        !va_ok(pt, va))
        return -E_INVAL;
    uint64_t *t = table_at(pt, pt->root_pa);
    for (int level = pt->fmt->levels; level > leaf_level; level--) {
        uint64_t *e = &t[pt_index(va, level)];
        uint64_t cur = READ_ONCE(*e);
        if (!present(pt, cur)) {
            uint64_t npa = pt->alloc_table(pt->owner);
            if (!npa)
                return -E_NOMEM;
            cur = npa | pt->fmt->table_flags;
            /* The zeroed table is visible before the entry that links it. */
            store_release(e, cur);
            written(pt, e);
        } else if (is_leaf(cur, level)) {
            return -E_EXIST;
        }
        t = table_at(pt, pte_addr(cur));
    }
    uint64_t *leaf = &t[pt_index(va, leaf_level)];
    if (present(pt, READ_ONCE(*leaf)))
        return -E_EXIST;
    uint64_t e = pa | attrs | pt->fmt->leaf_flags | (leaf_level > PT_LEVEL_PT ? PTE_PS : 0);
    if (!present(pt, e))
        return -E_INVAL; /* a leaf nobody could use: no access bit asked for */
    store_release(leaf, e);
    written(pt, leaf);
    return 0;
}

int pt_map_range(const struct pt_ctx *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t attrs,
                 int max_leaf_level)
{
    while (size) {
        int level = max_leaf_level;
        while (level > PT_LEVEL_PT &&
               (((va | pa) & (pt_leaf_size(level) - 1)) || size < pt_leaf_size(level)))
            level--;
        int err = pt_map_page(pt, va, pa, level, attrs);
        if (err)
            return err;
        uint64_t step = pt_leaf_size(level);
        if (size < step)
            return -E_INVAL; /* not a multiple of 4 KiB */
        va += step;
        pa += step;
        size -= step;
    }
    return 0;
}

/* Walks to the leaf for va, remembering each table on the way. */
static int walk(const struct pt_ctx *pt, uint64_t va, uint64_t *tables[PT_LEVELS + 1], int *leaf_level)
{
    uint64_t *t = table_at(pt, pt->root_pa);
    for (int level = pt->fmt->levels; level >= PT_LEVEL_PT; level--) {
        tables[level] = t;
        uint64_t e = READ_ONCE(t[pt_index(va, level)]);
        if (!present(pt, e))
            return -E_NOENT;
        if (is_leaf(e, level)) {
            *leaf_level = level;
            return 0;
        }
        t = table_at(pt, pte_addr(e));
    }
    return -E_NOENT;
}

uint64_t pt_lookup(const struct pt_ctx *pt, uint64_t va, int *level)
{
    uint64_t *tables[PT_LEVELS + 1];
    int leaf;
    if (!va_ok(pt, va) || walk(pt, va, tables, &leaf))
        return 0;
    if (level)
        *level = leaf;
    return READ_ONCE(tables[leaf][pt_index(va, leaf)]);
}

int pt_protect(const struct pt_ctx *pt, uint64_t va, uint64_t attrs)
{
    uint64_t *tables[PT_LEVELS + 1];
    int leaf;
    if ((attrs & ~pt->fmt->attr_mask) || !va_ok(pt, va))
        return -E_INVAL;
    int err = walk(pt, va, tables, &leaf);
    if (err)
        return err;
    uint64_t *e = &tables[leaf][pt_index(va, leaf)];
    uint64_t n = (READ_ONCE(*e) & ~pt->fmt->attr_mask) | attrs;
    if (!present(pt, n))
        return -E_INVAL;
    WRITE_ONCE(*e, n);
    written(pt, e);
    return 0;
}

int pt_unmap_page(const struct pt_ctx *pt, uint64_t va, int *leaf_level, struct pt_unlinked *unlinked)
{
    uint64_t *tables[PT_LEVELS + 1];
    int leaf;
    unlinked->count = 0;
    if (!va_ok(pt, va))
        return -E_INVAL;
    int err = walk(pt, va, tables, &leaf);
    if (err)
        return err;
    WRITE_ONCE(tables[leaf][pt_index(va, leaf)], 0);
    written(pt, &tables[leaf][pt_index(va, leaf)]);
    if (leaf_level)
        *leaf_level = leaf;
    /* Unlink tables bottom-up while they are empty; the root and kept
     * levels stay. */
    for (int level = leaf; level < pt->fmt->levels; level++) {
        if (pt->keep_level && level >= pt->keep_level)
            break;
        if (!table_is_empty(tables[level]))
            break;
        uint64_t *parent = &tables[level + 1][pt_index(va, level + 1)];
        unlinked->pa[unlinked->count] = pte_addr(READ_ONCE(*parent));
        unlinked->level[unlinked->count] = level;
        unlinked->count++;
        WRITE_ONCE(*parent, 0);
        written(pt, parent);
    }
    return 0;
}

/* The bits of a leaf that are neither its address nor the large-page bit:
 * what every smaller leaf of a split keeps, and what a collapse needs the
 * same in all of them. (No PAT is used, so bit 12 of a large leaf is 0.) */
static uint64_t leaf_attrs(uint64_t e) { return e & ~(PTE_ADDR_MASK | PTE_PS); }

int pt_split_leaf(const struct pt_ctx *pt, uint64_t va)
{
    uint64_t *tables[PT_LEVELS + 1];
    int leaf;
    if (!va_ok(pt, va) || walk(pt, va, tables, &leaf))
        return -E_NOENT;
    if (leaf != PT_LEVEL_PD)
        return -E_INVAL;
    uint64_t *e = &tables[PT_LEVEL_PD][pt_index(va, PT_LEVEL_PD)];
    uint64_t big = READ_ONCE(*e);
    uint64_t npa = pt->alloc_table(pt->owner);
    if (!npa)
        return -E_NOMEM;
    uint64_t *t = table_at(pt, npa);
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        t[i] = (pte_addr(big) + (uint64_t)i * pt_leaf_size(PT_LEVEL_PT)) | leaf_attrs(big);
        written(pt, &t[i]);
    }
    /* The filled table before the entry that replaces the large leaf. */
    store_release(e, npa | pt->fmt->table_flags | (big & PTE_US));
    written(pt, e);
    return 0;
}

int pt_collapse_table(const struct pt_ctx *pt, uint64_t va, struct pt_unlinked *unlinked)
{
    uint64_t *tables[PT_LEVELS + 1];
    int leaf;
    unlinked->count = 0;
    if (!va_ok(pt, va) || walk(pt, va, tables, &leaf))
        return -E_NOENT;
    if (leaf != PT_LEVEL_PT)
        return -E_INVAL;
    const uint64_t *t = tables[PT_LEVEL_PT];
    uint64_t first = READ_ONCE(t[0]);
    if (pte_addr(first) & (pt_leaf_size(PT_LEVEL_PD) - 1))
        return -E_INVAL;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        uint64_t e = READ_ONCE(t[i]);
        /* A and D may differ between the small leaves; nothing else. */
        uint64_t mask = ~(uint64_t)(PTE_A | PTE_D);
        if (!present(pt, e) || pte_addr(e) != pte_addr(first) + (uint64_t)i * pt_leaf_size(PT_LEVEL_PT) ||
            (leaf_attrs(e) & mask) != (leaf_attrs(first) & mask))
            return -E_INVAL;
    }
    uint64_t *parent = &tables[PT_LEVEL_PD][pt_index(va, PT_LEVEL_PD)];
    unlinked->pa[0] = pte_addr(READ_ONCE(*parent));
    unlinked->level[0] = PT_LEVEL_PT;
    unlinked->count = 1;
    store_release(parent, pte_addr(first) | leaf_attrs(first) | PTE_PS);
    written(pt, parent);
    return 0;
}

uint64_t pt_count_tables(const struct pt_ctx *pt, uint64_t table_pa, int level)
{
    const uint64_t *t = table_at(pt, table_pa);
    uint64_t n = 0;
    for (unsigned i = 0; i < PT_ENTRIES && level > PT_LEVEL_PT; i++) {
        uint64_t e = READ_ONCE(t[i]);
        if (present(pt, e) && !is_leaf(e, level))
            n += 1 + pt_count_tables(pt, pte_addr(e), level - 1);
    }
    return n;
}
