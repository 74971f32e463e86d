#include "scope.h"
#include "../devices/pci.h"

int dmar_scope_covers_device(const struct dmar_scope *s, const void *device) { return dmar_scope_covers(s, device); }

/* Follows the path from its start bus through bridges (VT-d spec 8.3.1). */
const struct pci_dev *dmar_scope_target(const struct dmar_scope *s, uint16_t segment)
{
    if (s->type != DMAR_SCOPE_PCI_ENDPOINT && s->type != DMAR_SCOPE_PCI_SUBHIERARCHY)
        return NULL;
    unsigned bus = s->start_bus;
    const struct pci_dev *hop = NULL;
    for (unsigned i = 0; i < s->path_len; i++) {
        hop = NULL;
        for (unsigned j = 0; j < pci_count(); j++) {
            const struct pci_dev *p = pci_get(j);
            if (p->segment == segment && p->bus == bus && p->dev == s->path[i].device &&
                p->fn == s->path[i].function)
                hop = p;
        }
        if (!hop)
            return NULL;
        if (i + 1 < s->path_len)
            bus = pci_read8(hop, PCI_SECONDARY_BUS);
    }
    return hop;
}

int dmar_scope_covers(const struct dmar_scope *s, const struct pci_dev *d)
{
    const struct pci_dev *target = dmar_scope_target(s, d->segment);
    if (!target)
        return 0;
    if (target == d)
        return 1;
    if (s->type != DMAR_SCOPE_PCI_SUBHIERARCHY || (target->header_type & PCI_HEADER_TYPE_MASK) != PCI_HEADER_BRIDGE)
        return 0;
    /* d is below the bridge if its bus is within the bridge's range */
    uint8_t secondary = pci_read8(target, PCI_SECONDARY_BUS), subordinate = pci_read8(target, PCI_SUBORDINATE_BUS);
    return d->bus >= secondary && d->bus <= subordinate;
}
