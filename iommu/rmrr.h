/* Reserved memory regions (VT-d spec 8.4): devices the firmware set up to
 * DMA into fixed ranges (USB controllers for legacy keyboards, graphics)
 * keep identity access to them once the unit translates, or they fault. */
#ifndef VTDLAB_IOMMU_RMRR_H
#define VTDLAB_IOMMU_RMRR_H

#include "context.h"
#include "dmar.h"
#include "domain.h"

struct pci_dev;

/* For every RMRR of d whose endpoint scope names a device this unit
 * covers (other than `skip`, the device the caller attaches itself), maps
 * the range 1:1 into dom, read and write, and points the device's legacy
 * context entry at dom. *devices counts the devices attached. Nothing is
 * invalidated: the caller does that (before or after turning translation
 * on). 0, or the first error (-E_INVAL for a range not 4 KiB aligned). */
int vtd_rmrr_identity(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                      struct vtd_legacy_tables *t, struct vtd_domain *dom, const struct pci_dev *skip,
                      unsigned *devices);

#endif
