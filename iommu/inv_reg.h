/* Register-based invalidation (VT-d spec 6.5.1): CCMD and the IOTLB
 * registers. Only while queued invalidation is off; QEMU leaves ICC/IVT set
 * for ever otherwise, so these refuse when QIE is on. */
#ifndef VTDLAB_IOMMU_INV_REG_H
#define VTDLAB_IOMMU_INV_REG_H

#include <stdint.h>
#include "unit.h"

int vtd_reg_invalidate_context(struct vtd_unit *u, enum vtd_inv_granularity g, uint16_t did, uint16_t sid);
/* addr/am only for page granularity (am: 2^am pages, aligned). */
int vtd_reg_invalidate_iotlb(struct vtd_unit *u, enum vtd_inv_granularity g, uint16_t did, uint64_t addr,
                             unsigned am);

#endif
