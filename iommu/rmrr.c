#include "rmrr.h"
#include "iommu.h"
#include "../devices/pci.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

static int map_range(struct vtd_domain *dom, uint64_t base, uint64_t limit)
{
    if ((base & ~PAGE_MASK) || ((limit + 1) & ~PAGE_MASK) || limit < base)
        return -E_INVAL;
    for (uint64_t pa = base; pa <= limit; pa += PAGE_SIZE) {
        int err = vtd_domain_map(dom, pa, pa, PT_LEVEL_PT, SL_RW);
        /* Two RMRRs may share pages: already mapped 1:1 is fine. */
        if (err && err != -E_EXIST)
            return err;
    }
    return 0;
}

int vtd_rmrr_identity(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                      struct vtd_legacy_tables *t, struct vtd_domain *dom, const struct pci_dev *skip,
                      unsigned *devices)
{
    *devices = 0;
    /* unit may come from another copy of the table: find it by address */
    int unit_index = -1;
    for (unsigned i = 0; i < d->ndrhd; i++)
        if (d->drhd[i].base == unit->base && d->drhd[i].segment == unit->segment)
            unit_index = (int)i;
    if (unit_index < 0)
        return -E_NOENT;
    for (unsigned r = 0; r < d->nrmrr; r++) {
        const struct dmar_rmrr *rm = &d->rmrr[r];
        if (rm->segment != unit->segment)
            continue;
        for (unsigned k = 0; k < rm->scopes.count; k++) {
            const struct dmar_scope *s = &rm->scopes.s[k];
            if (s->type != DMAR_SCOPE_PCI_ENDPOINT)
                continue;
            for (unsigned i = 0; i < pci_count(); i++) {
                const struct pci_dev *p = pci_get(i);
                if (p == skip || p->segment != rm->segment || !pci_scope_covers(s, p) ||
                    dmar_unit_for(d, p->segment, pci_scope_covers_device, p) != unit_index)
                    continue;
                int err = map_range(dom, rm->base, rm->limit);
                struct vtd_context_entry ce;
                err = err ? err : vtd_context_legacy_encode(&ce, dom->pt.root_pa, vtd_aw_for_levels(dom->levels),
                                                            dom->did, VTD_TT_UNTRANSLATED, 0);
                uint16_t rid = pci_requester_id(p);
                err = err ? err : vtd_legacy_context_set(u, t, pci_sid_bus(rid), pci_sid_devfn(rid), &ce);
                if (err)
                    return err;
                (*devices)++;
            }
        }
    }
    return 0;
}
