#include <stdio.h>
#include "iommu.h"
#include "../kernel/acpi.h"
#include "../devices/pci.h"
#include "../kernel/printk.h"

static struct dmar_info dmar;
static int have_dmar;

const struct dmar_info *iommu_dmar(void) { return have_dmar ? &dmar : NULL; }

static void report_line(const char *l) { printk("# vtdlab: %s\n", l); }

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
    dmar_describe(&dmar, report_line);
}

const struct dmar_drhd *iommu_unit_for(const struct pci_dev *d)
{
    const struct dmar_info *info = iommu_dmar();
    int i = info ? dmar_unit_for(info, d->segment, pci_scope_covers_device, d) : -1;
    return i < 0 ? NULL : &info->drhd[i];
}
