/* Reserved memory regions (VT-d spec 8.4): devices the firmware set up to
 * DMA into fixed ranges (USB controllers for legacy keyboards, graphics)
 * keep identity access to them once the unit translates, or they fault. */
#ifndef VTDLAB_IOMMU_RMRR_H
#define VTDLAB_IOMMU_RMRR_H

#include "legacy_mode.h"
#include "dmar.h"
#include "second_stage.h"

struct pci_dev;

/* For every RMRR of d whose endpoint scope names a device this unit
 * covers (other than `skip`, the device the caller attaches itself), maps
 * the range 1:1 into dom, read and write, and points the device's legacy
 * context entry at dom. *devices counts the devices attached. Nothing is
 * invalidated: the caller does that (before or after turning translation
 * on). An RMRR whose range is not 4 KiB aligned is skipped with a message.
 * 0, or the first error. */
int vtd_rmrr_identity(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                      struct vtd_legacy_tables *t, struct vtd_domain *dom, const struct pci_dev *skip,
                      unsigned *devices);

/* Scalable mode: the same devices get context entries in t whose
 * RID_PASID is pasid, and pasid's entry gives identity access: second
 * stage over dom (the ranges only, mapped here) where the caller has a
 * domain (the unit has ECAP.SLTS), else pass-through (ECAP.PT: all of
 * memory 1:1, the only identity a first-stage-only unit such as QEMU's
 * x-flts=on offers without tables of its own). The PASID tables are the
 * binding's (t), so pasid must differ from the binding's own. Nothing is
 * invalidated. 0 (also when no RMRR concerns the unit); -E_RANGE for a
 * unit with neither way. did: the entry's domain (dom's own when there
 * is one). */
struct vtd_sm_tables;
int vtd_rmrr_identity_sm(const struct dmar_info *d, const struct dmar_drhd *unit, struct vtd_unit *u,
                         struct vtd_sm_tables *t, struct vtd_domain *dom, uint16_t did, uint32_t pasid,
                         const struct pci_dev *skip, unsigned *devices);

#endif
