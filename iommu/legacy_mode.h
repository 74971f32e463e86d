/* Legacy mode (VT-d spec 3.4.2): the root and context tables of one unit
 * and the bring-up of a device through them. The entries are encoded in
 * root_entry.c and context_entry.c. */
#ifndef VTDLAB_IOMMU_LEGACY_MODE_H
#define VTDLAB_IOMMU_LEGACY_MODE_H

#include <stdint.h>
#include "context_entry.h"
#include "root_entry.h"
#include "unit.h"

struct vtd_legacy_tables {
    uint64_t root_pa;
    uint64_t context_pa[VTD_ROOT_ENTRIES];
};

int vtd_legacy_tables_init(struct vtd_legacy_tables *t);
/* Installs the context entry for bus:devfn, making its context table on
 * first use. */
int vtd_legacy_context_set(const struct vtd_unit *u, struct vtd_legacy_tables *t, uint8_t bus, uint8_t devfn,
                           const struct vtd_context_entry *e);
void vtd_legacy_tables_free(struct vtd_legacy_tables *t);
/* The one legacy-mode bring-up for a device: e installed for bus:devfn,
 * the root table set in legacy mode, every context and IOTLB cache
 * invalidated through the registers (after SRTP nothing cached may
 * survive, VT-d spec 6.5), translation on. Other devices' entries (e.g.
 * the RMRR identity ones) go into t before it. -E_NODEV: the unit does
 * not take GCMD.TE. */
int vtd_legacy_attach(struct vtd_unit *u, struct vtd_legacy_tables *t, uint8_t bus, uint8_t devfn,
                      const struct vtd_context_entry *e);

#endif
