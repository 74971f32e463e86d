#include <stdio.h>
#include "iommu.h"
#include "../kernel/acpi.h"
#include "../devices/pci.h"
#include "../kernel/printk.h"

static struct dmar_info dmar;
static int have_dmar;

const struct dmar_info *iommu_dmar(void) { return have_dmar ? &dmar : NULL; }

static void report_scopes(const struct dmar_scopes *sc)
{
    for (unsigned i = 0; i < sc->count; i++) {
        const struct dmar_scope *s = &sc->s[i];
        printk("# vtdlab:     scope: %s, enumeration id %u, bus %u, path", dmar_scope_type_name(s->type),
               s->enumeration_id, s->start_bus);
        for (unsigned h = 0; h < s->path_len; h++)
            printk(" %02x.%x", s->path[h].device, s->path[h].function);
        printk("\n");
    }
}

void iommu_init(void)
{
    const struct acpi_header *t = acpi_find("DMAR");
    if (!t) {
        printk("# vtdlab: DMAR: none (no VT-d unit reported by the firmware)\n");
        return;
    }
    if (dmar_parse(t, t->length, &dmar)) {
        printk("# vtdlab: DMAR: rejected: %u bytes cannot hold its header\n", t->length);
        return;
    }
    have_dmar = 1;
    printk("# vtdlab: DMAR: host address width %u bits;%s%s%s %u unit(s)\n", dmar.host_address_width,
           dmar.flags & DMAR_FLAG_INTR_REMAP ? " interrupt remapping;" : "",
           dmar.flags & DMAR_FLAG_X2APIC_OPT_OUT ? " x2APIC opt-out;" : "",
           dmar.flags & DMAR_FLAG_DMA_CTRL_OPT_IN ? " DMA control opt-in;" : "", dmar.ndrhd);
    for (unsigned i = 0; i < dmar.ndrhd; i++) {
        const struct dmar_drhd *u = &dmar.drhd[i];
        printk("# vtdlab:   DRHD %u: registers at 0x%lx (%u pages), segment %u%s\n", i, u->base, 1u << u->size,
               u->segment, u->flags & DMAR_DRHD_INCLUDE_PCI_ALL ? ", all PCI devices not listed elsewhere" : "");
        report_scopes(&u->scopes);
    }
    for (unsigned i = 0; i < dmar.nrmrr; i++) {
        printk("# vtdlab:   RMRR %u: reserved memory 0x%lx-0x%lx, segment %u\n", i, dmar.rmrr[i].base,
               dmar.rmrr[i].limit, dmar.rmrr[i].segment);
        report_scopes(&dmar.rmrr[i].scopes);
    }
    for (unsigned i = 0; i < dmar.natsr; i++) {
        printk("# vtdlab:   ATSR %u: ATS on segment %u%s\n", i, dmar.atsr[i].segment,
               dmar.atsr[i].flags & DMAR_ATSR_ALL_PORTS ? ", all root ports" : "");
        report_scopes(&dmar.atsr[i].scopes);
    }
    for (unsigned i = 0; i < dmar.nsatc; i++) {
        printk("# vtdlab:   SATC %u: SoC-integrated ATC on segment %u%s\n", i, dmar.satc[i].segment,
               dmar.satc[i].flags & DMAR_SATC_ATC_REQUIRED ? ", ATC required" : "");
        report_scopes(&dmar.satc[i].scopes);
    }
    for (unsigned i = 0; i < dmar.nrhsa; i++)
        printk("# vtdlab:   RHSA %u: unit 0x%lx in proximity domain %u\n", i, dmar.rhsa[i].base,
               dmar.rhsa[i].proximity_domain);
    for (unsigned i = 0; i < dmar.nandd; i++)
        printk("# vtdlab:   ANDD %u: ACPI device %u is %s\n", i, dmar.andd[i].device_number, dmar.andd[i].name);
    for (unsigned i = 0; i < dmar.nproblems; i++)
        printk("# vtdlab:   problem: %s\n", dmar.problems[i]);
}

static int pci_covers(const struct dmar_scope *s, const void *device) { return pci_scope_covers(s, device); }

const struct dmar_drhd *iommu_unit_for(const struct pci_dev *d)
{
    const struct dmar_info *info = iommu_dmar();
    int i = info ? dmar_unit_for(info, d->segment, pci_covers, d) : -1;
    return i < 0 ? NULL : &info->drhd[i];
}
