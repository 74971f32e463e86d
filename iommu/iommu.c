#include <stdio.h>
#include "iommu.h"
#include "../kernel/acpi.h"
#include "../devices/pci.h"
#include "scope.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"
#include "unit.h"
#include "cap_reg.h"

static struct dmar_info dmar;
static int have_dmar;
static uint8_t unit_answers[DMAR_MAX_UNITS];

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
    iommu_report_absent_scopes(&dmar, report_line);
    for (unsigned i = 0; i < dmar.ndrhd; i++) {
        char why[128];
        unit_answers[i] = iommu_unit_check(&dmar.drhd[i], why, sizeof(why)) == 0;
        if (!unit_answers[i])
            printk("# vtdlab:   DRHD %u does not answer: %s; left alone, its devices are not remapped here\n", i, why);
    }
}

int iommu_unit_check(const struct dmar_drhd *d, char *why, size_t size)
{
    struct vtd_unit u;
    int err = vtd_unit_init(&u, d);
    if (err == -E_IO)
        snprintf(why, size, "its registers at 0x%lx read VER 0x%08x, CAP 0x%016lx", (unsigned long)d->base, u.ver,
                 (unsigned long)u.cap);
    else if (err)
        snprintf(why, size, "its registers at 0x%lx cannot be mapped: %s", (unsigned long)d->base, err_name(err));
    return err;
}

int iommu_unit_answers(const struct dmar_drhd *u)
{
    return have_dmar && u >= dmar.drhd && u < dmar.drhd + dmar.ndrhd && unit_answers[u - dmar.drhd];
}

static unsigned absent_in(const char *what, unsigned idx, uint16_t segment, const struct dmar_scopes *scopes,
                          void (*line)(const char *))
{
    unsigned n = 0;
    for (unsigned k = 0; k < scopes->count; k++) {
        const struct dmar_scope *s = &scopes->s[k];
        if ((s->type != DMAR_SCOPE_PCI_ENDPOINT && s->type != DMAR_SCOPE_PCI_SUBHIERARCHY) ||
            dmar_scope_target(s, segment))
            continue;
        char buf[160];
        int len = snprintf(buf, sizeof(buf), "  %s %u: scope on bus %u, path", what, idx, s->start_bus);
        for (unsigned h = 0; h < s->path_len && len > 0 && (size_t)len < sizeof(buf); h++)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %02x.%x", s->path[h].device, s->path[h].function);
        if (len > 0 && (size_t)len < sizeof(buf))
            snprintf(buf + len, sizeof(buf) - (size_t)len, ": no such PCI function (a bus or device that does not "
                     "exist): ignored");
        line(buf);
        n++;
    }
    return n;
}

unsigned iommu_report_absent_scopes(const struct dmar_info *d, void (*line)(const char *))
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->ndrhd; i++)
        n += absent_in("DRHD", i, d->drhd[i].segment, &d->drhd[i].scopes, line);
    for (unsigned i = 0; i < d->nrmrr; i++)
        n += absent_in("RMRR", i, d->rmrr[i].segment, &d->rmrr[i].scopes, line);
    return n;
}

const struct dmar_drhd *iommu_unit_for(const struct pci_dev *d)
{
    const struct dmar_info *info = iommu_dmar();
    int i = info ? dmar_unit_for(info, d->segment, dmar_scope_covers_device, d) : -1;
    return i < 0 ? NULL : &info->drhd[i];
}

void iommu_unit_describe(unsigned i, char *text, size_t size)
{
    const struct dmar_drhd *d = &dmar.drhd[i];
    struct vtd_unit u;
    if (vtd_unit_init(&u, d) == -E_NOMEM) {
        snprintf(text, size, "  unit %u at 0x%lx: registers cannot be mapped", i, d->base);
        return;
    }
    /* a unit whose registers do not answer is described by what they read */
    uint64_t cap = u.cap, ecap = u.ecap;
    snprintf(text, size, "  unit %u at 0x%lx, segment %u:%s%s%s%s%s%s%s%s", i, d->base, d->segment,
             ECAP_SMTS(ecap) ? " scalable" : " legacy only", ECAP_FLTS(ecap) ? ", first stage" : "",
             ECAP_SLTS(ecap) || !ECAP_SMTS(ecap) ? ", second stage" : "", ECAP_PASID(ecap) ? ", PASID" : "",
             ECAP_QI(ecap) ? ", queue" : ", no queue", ECAP_IR(ecap) ? ", interrupt remapping" : "",
             CAP_CM(cap) ? ", caching mode" : "", ECAP_C(ecap) ? ", coherent" : ", walks not coherent");
}
