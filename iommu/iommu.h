/* VT-d discovery: the DMAR table parsed and reported; nothing is enabled
 * until a suite asks. */
#ifndef VTDLAB_IOMMU_IOMMU_H
#define VTDLAB_IOMMU_IOMMU_H

#include "dmar.h"

/* Parses the DMAR table, if there is one, and reports it in words. */
void iommu_init(void);
/* NULL when the platform has no (valid) DMAR table. */
const struct dmar_info *iommu_dmar(void);
struct pci_dev;
/* The unit that remaps d (dmar_unit_for over the PCI topology), or NULL. */
const struct dmar_drhd *iommu_unit_for(const struct pci_dev *d);

#endif
