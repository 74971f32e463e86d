#include <string.h>
#include "rmrr.h"
#include "cap_reg.h"
#include "iommu.h"
#include "scalable_mode.h"
#include "../devices/pci.h"
#include "scope.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

static int map_range(struct vtd_domain *dom, uint64_t base, uint64_t limit)
{
    for (uint64_t pa = base; pa <= limit; pa += PAGE_SIZE) {
        int err = vtd_domain_map(dom, pa, pa, PT_LEVEL_PT, SL_RW);
        /* Two RMRRs may share pages: already mapped 1:1 is fine. */
        if (err && err != -E_EXIST)
            return err;
    }
    return 0;
}

/* Calls attach(p, arg) for every device an RMRR of d names that this
 * unit covers (other than skip), after mapping the range 1:1 into dom
 * when there is one; stops at the first error. */
typedef int (*attach_fn)(const struct pci_dev *p, void *arg);
static int for_each_rmrr_device(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_domain *dom,
                                const struct pci_dev *skip, attach_fn attach, void *arg, unsigned *devices)
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
        if (!dmar_rmrr_aligned(rm)) {
            /* The parse reported it; its devices get no identity access
             * rather than a range rounded to what the firmware did not say. */
            printk("# rmrr: RMRR %u (0x%lx-0x%lx) skipped: not a 4 KiB aligned range\n", r, (unsigned long)rm->base,
                   (unsigned long)rm->limit);
            continue;
        }
        for (unsigned k = 0; k < rm->scopes.count; k++) {
            const struct dmar_scope *s = &rm->scopes.s[k];
            if (s->type != DMAR_SCOPE_PCI_ENDPOINT)
                continue;
            for (unsigned i = 0; i < pci_count(); i++) {
                const struct pci_dev *p = pci_get(i);
                if (p == skip || p->segment != rm->segment || !dmar_scope_covers(s, p) ||
                    dmar_unit_for(d, p->segment, dmar_scope_covers_device, p) != unit_index)
                    continue;
                int err = dom ? map_range(dom, rm->base, rm->limit) : 0;
                err = err ? err : attach(p, arg);
                if (err)
                    return err;
                (*devices)++;
            }
        }
    }
    return 0;
}

struct legacy_attach {
    struct vtd_unit *u;
    struct vtd_legacy_tables *t;
    struct vtd_domain *dom;
};

static int attach_legacy(const struct pci_dev *p, void *arg)
{
    struct legacy_attach *a = arg;
    struct vtd_context_entry ce;
    int err = vtd_context_legacy_encode(&ce, a->dom->pt.root_pa, vtd_aw_for_levels(a->dom->levels), a->dom->did,
                                        VTD_TT_UNTRANSLATED, 0);
    uint16_t rid = pci_requester_id(p);
    return err ? err : vtd_legacy_context_set(a->u, a->t, pci_sid_bus(rid), pci_sid_devfn(rid), &ce);
}

int vtd_rmrr_identity(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                      struct vtd_legacy_tables *t, struct vtd_domain *dom, const struct pci_dev *skip,
                      unsigned *devices)
{
    struct legacy_attach a = { u, t, dom };
    return for_each_rmrr_device(d, unit, dom, skip, attach_legacy, &a, devices);
}

struct sm_attach {
    struct vtd_unit *u;
    struct vtd_sm_tables *t;
    uint32_t pasid;
};

static int attach_sm(const struct pci_dev *p, void *arg)
{
    struct sm_attach *a = arg;
    uint16_t rid = pci_requester_id(p);
    return vtd_sm_context_set(a->u, a->t, pci_sid_bus(rid), pci_sid_devfn(rid), a->pasid, 0);
}

int vtd_rmrr_identity_sm(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                         struct vtd_sm_tables *t, struct vtd_domain *dom, uint16_t did, uint32_t pasid,
                         const struct pci_dev *skip, unsigned *devices)
{
    *devices = 0;
    if (!dmar_segment_has_rmrr(d, unit->segment))
        return 0;
    struct vtd_pasid_entry pe;
    memset(&pe, 0, sizeof(pe));
    int bad;
    if (dom)
        bad = pasid_entry_set_pgtt(&pe, PGTT_SECOND_STAGE) || pasid_entry_set_slptptr(&pe, dom->pt.root_pa) ||
              pasid_entry_set_aw(&pe, vtd_aw_for_levels(dom->levels));
    else if (ECAP_PT(u->ecap))
        bad = pasid_entry_set_pgtt(&pe, PGTT_PASS_THROUGH) || pasid_entry_set_aw(&pe, PE_AW_48BIT);
    else
        return -E_RANGE;
    if (bad || pasid_entry_set_did(&pe, did))
        return -E_RANGE;
    /* The entry first: a context entry never points at an absent one. */
    int err = vtd_pasid_install(u, t, pasid, &pe, 0);
    struct sm_attach a = { u, t, pasid };
    return err ? err : for_each_rmrr_device(d, unit, dom, skip, attach_sm, &a, devices);
}
