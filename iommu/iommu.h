/* VT-d discovery: the DMAR table parsed and reported; nothing is enabled
 * until a suite asks. */
#ifndef VTDLAB_IOMMU_IOMMU_H
#define VTDLAB_IOMMU_IOMMU_H

#include <stddef.h>
#include "dmar.h"

/* Parses the DMAR table, if there is one, and reports it in words. */
void iommu_init(void);
/* NULL when the platform has no (valid) DMAR table. */
const struct dmar_info *iommu_dmar(void);
struct pci_dev;
/* The unit that remaps d (dmar_unit_for over the PCI topology), or NULL. */
const struct dmar_drhd *iommu_unit_for(const struct pci_dev *d);
/* Whether the unit's registers answer (checked once at boot): a unit
 * whose VER reads all ones or whose CAP reads 0 is left alone. */
int iommu_unit_answers(const struct dmar_drhd *u);
/* 0 when the unit at u answers, else -E_IO with what its registers read
 * in why. */
int iommu_unit_check(const struct dmar_drhd *u, char *why, size_t size);
/* One line for every PCI device scope of d (DRHD and RMRR) whose path
 * names no function: a bus or device that does not exist. Returns how
 * many. */
unsigned iommu_report_absent_scopes(const struct dmar_info *d, void (*line)(const char *));
/* The run summary's line for DRHD i: its base, segment and the key
 * capabilities its CAP and ECAP advertise. */
void iommu_unit_describe(unsigned i, char *text, size_t size);

#endif
