/* DMAR device scopes (VT-d spec 8.3.1) matched against the PCI functions
 * enumeration found: which function a scope's path ends at, and whether a
 * scope covers a function. */
#ifndef VTDLAB_IOMMU_SCOPE_H
#define VTDLAB_IOMMU_SCOPE_H

#include "dmar.h"

struct pci_dev;

/* The function a PCI device scope's path ends at (bridges followed), or
 * NULL when a bus or function on it does not exist. */
const struct pci_dev *dmar_scope_target(const struct dmar_scope *s, uint16_t segment);
/* Whether a DMAR device scope covers the function: an endpoint path ends
 * at it, a sub-hierarchy path ends at a bridge above it. */
int dmar_scope_covers(const struct dmar_scope *s, const struct pci_dev *d);
/* The same as dmar_unit_for's covers() (device: a struct pci_dev). */
int dmar_scope_covers_device(const struct dmar_scope *s, const void *device);

#endif
