#include <string.h>
#include "second_stage.h"
#include "cap_reg.h"
#include "entry_write.h"
#include "inv_reg.h"
#include "qi.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define SL_SNP (1ul << 11)

/* R or W makes an entry present, at every level (VT-d spec 9.8). */
#define SL_FORMAT(desc, depth)                                              \
    {                                                                       \
        .name = desc, .levels = depth, .present_mask = SL_RW, .leaf_flags = 0, \
        .table_flags = SL_RW, .attr_mask = SL_RW | SL_SNP, .canonical = 0,  \
    }

const struct pt_format vtd_sl_format_3level = SL_FORMAT("VT-d second stage, 3-level", PT_LEVEL_PDPT);
const struct pt_format vtd_sl_format_4level = SL_FORMAT("VT-d second stage, 4-level", PT_LEVEL_PML4);

static uint64_t table_alloc(void *owner)
{
    struct vtd_domain *d = owner;
    uint64_t pa = page_alloc();
    if (pa) {
        d->tables++;
        vtd_flush_lines(d->u, phys_to_virt(pa), PAGE_SIZE);
    }
    return pa;
}

static void *table_ptr(void *owner, uint64_t pa) { return phys_to_virt(pa); }

int vtd_domain_init(struct vtd_domain *d, struct vtd_unit *u, uint16_t did, int levels)
{
    memset(d, 0, sizeof(*d));
    d->u = u;
    d->did = did;
    uint64_t sagaw = CAP_SAGAW(u->cap);
    int four = (sagaw & SAGAW_48_4LEVEL) && levels != PT_LEVEL_PDPT;
    int three = (sagaw & SAGAW_39_3LEVEL) && levels != PT_LEVEL_PML4;
    const struct pt_format *f = four ? &vtd_sl_format_4level : three ? &vtd_sl_format_3level : NULL;
    if (!f)
        return -E_RANGE;
    d->levels = f->levels;
    d->pt = (struct pt_ctx){ .fmt = f, .alloc_table = table_alloc, .table_ptr = table_ptr, .owner = d };
    d->held = kmalloc(sizeof(*d->held));
    if (!d->held)
        return -E_NOMEM;
    memset(d->held, 0, sizeof(*d->held));
    d->pt.root_pa = table_alloc(d);
    if (!d->pt.root_pa) {
        kfree(d->held);
        d->held = NULL;
        return -E_NOMEM;
    }
    return 0;
}

/* The held tables back to the pool. */
static void free_held(struct vtd_domain *d)
{
    for (unsigned i = 0; d->held && i < d->held->n; i++) {
        page_free(d->held->pa[i]);
        d->tables--;
    }
    if (d->held)
        d->held->n = 0;
}

/* The entries on iova's path, flushed for a unit that does not snoop. */
static void flush_path(struct vtd_domain *d, uint64_t iova)
{
    uint64_t pa = d->pt.root_pa;
    for (int level = d->levels; level >= PT_LEVEL_PT && pa; level--) {
        uint64_t *e = (uint64_t *)phys_to_virt(pa) + pt_index(iova, level);
        vtd_flush_lines(d->u, e, sizeof(*e));
        if (!(*e & SL_RW) || pte_is_leaf(*e, level))
            break;
        pa = pte_addr(*e);
    }
}

void vtd_domain_use_queue(struct vtd_domain *d, struct vtd_qi *qi) { d->qi = qi; }

/* After a not-present entry became present. */
static int capability_rules(struct vtd_domain *d, uint64_t iova, int leaf_level)
{
    int err = 0;
    if (CAP_RWBF(d->u->cap))
        err = vtd_gcmd(d->u, VTD_GCMD_WBF, 1);
    if (err || !CAP_CM(d->u->cap))
        return err;
    /* The leaf's 4 KiB pages as one naturally aligned block. */
    unsigned am = (unsigned)__builtin_ctzl(pt_leaf_size(leaf_level) >> PAGE_SHIFT);
    if (d->qi) {
        struct qi_desc q;
        err = qi_desc_iotlb(&q, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = d->did, .addr = iova, .am = am });
        return err ? err : qi_sync(d->qi, &q, 1);
    }
    return vtd_reg_invalidate_iotlb(d->u, VTD_INV_DEVICE_OR_PAGE, d->did, iova, am);
}

int vtd_domain_map(struct vtd_domain *d, uint64_t iova, uint64_t pa, int leaf_level, uint64_t access)
{
    uint64_t sllps = CAP_SLLPS(d->u->cap);
    if ((leaf_level == PT_LEVEL_PD && !(sllps & SLLPS_2M)) || (leaf_level == PT_LEVEL_PDPT && !(sllps & SLLPS_1G)))
        return -E_RANGE;
    int err = pt_map_page(&d->pt, iova, pa, leaf_level, access);
    if (err)
        return err;
    flush_path(d, iova);
    return capability_rules(d, iova, leaf_level);
}

int vtd_domain_protect(struct vtd_domain *d, uint64_t iova, uint64_t access)
{
    int err = pt_protect(&d->pt, iova, access);
    if (!err)
        flush_path(d, iova);
    return err;
}

int vtd_domain_unmap(struct vtd_domain *d, uint64_t iova)
{
    /* Room for the most one unmap can unlink, checked before anything
     * changes. */
    if (d->held->n + (unsigned)(d->levels - 1) > VTD_DOMAIN_UNLINKED_MAX)
        return -E_BUSY;
    struct pt_unlinked un;
    int err = pt_unmap_page(&d->pt, iova, NULL, &un);
    if (err)
        return err;
    flush_path(d, iova);
    /* A unit may hold the cleared path in its IOTLB or paging-structure
     * caches and keep walking the unlinked tables until an invalidation
     * drops them (VT-d spec 6.5.1): held, not freed. */
    for (int i = 0; i < un.count; i++)
        d->held->pa[d->held->n++] = un.pa[i];
    return 0;
}

int vtd_domain_flush(struct vtd_domain *d)
{
    /* The unmaps' cleared entries reach memory the unit reads first. */
    int err = CAP_RWBF(d->u->cap) ? vtd_gcmd(d->u, VTD_GCMD_WBF, 1) : 0;
    if (err)
        return err;
    if (d->qi) {
        struct qi_desc q;
        err = qi_desc_iotlb(&q, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = d->did });
        err = err ? err : qi_sync(d->qi, &q, 1);
    } else {
        err = vtd_reg_invalidate_iotlb(d->u, VTD_INV_DOMAIN, d->did, 0, 0);
    }
    if (err)
        return err;
    free_held(d);
    return 0;
}

static void free_tree(struct vtd_domain *d, uint64_t pa, int level)
{
    uint64_t *t = phys_to_virt(pa);
    for (int i = 0; level > PT_LEVEL_PT && i < PT_ENTRIES; i++)
        if ((t[i] & SL_RW) && !pte_is_leaf(t[i], level))
            free_tree(d, pte_addr(t[i]), level - 1);
    page_free(pa);
    d->tables--;
}

void vtd_domain_destroy(struct vtd_domain *d)
{
    free_held(d);
    if (d->held)
        kfree(d->held);
    d->held = NULL;
    if (d->pt.root_pa)
        free_tree(d, d->pt.root_pa, d->levels);
    d->pt.root_pa = 0;
}
