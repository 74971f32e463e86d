/* Scalable mode (VT-d spec 3.4.3): the root, context, PASID directory and
 * PASID tables of one unit and the bring-up of a device through them. The
 * entries are encoded in root_entry.c, context_entry.c and pasid_entry.c. */
#ifndef VTDLAB_IOMMU_SCALABLE_MODE_H
#define VTDLAB_IOMMU_SCALABLE_MODE_H

#include <stdint.h>
#include "context_entry.h"
#include "pasid_entry.h"
#include "root_entry.h"
#include "unit.h"

/* The scalable-mode tables of one unit, with one PASID directory (one
 * page: 512 entries, PASIDs below 2^15) that every device here shares. */
#define SM_DIR_ENTRIES  512
#define SM_DIR_PDTS     2       /* 2^(2+7) = 512 entries */
_Static_assert(1u << (SM_DIR_PDTS + SM_CTX_PDTS_BASE) == SM_DIR_ENTRIES,
               "the context entry's PDTS names the directory's size");

struct vtd_sm_tables {
    uint64_t root_pa;
    uint64_t context_pa[256][2];          /* per bus: lower, upper */
    uint64_t pasid_dir_pa;
    uint64_t pasid_table_pa[SM_DIR_ENTRIES];
};

/* PASIDs the unit supports: 2^(ECAP.PSS + 1). */
uint32_t vtd_pasid_limit(const struct vtd_unit *u);

int vtd_sm_tables_init(struct vtd_sm_tables *t);
/* The context entry for bus:devfn pointing at the shared directory, with
 * requests without PASID translated through rid_pasid. */
int vtd_sm_context_set(const struct vtd_unit *u, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn,
                       uint32_t rid_pasid, int fpd);
/* Sets or clears DTE (device-TLB enable, VT-d spec 9.4) in the present
 * context entry for bus:devfn with one store: whether the unit answers
 * the function's translation requests (ECAP.DT). The caller invalidates
 * the context cache. -E_NOENT without a present entry. */
int vtd_sm_context_set_dte(const struct vtd_unit *u, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn, int dte);
/* Installs e at pasid (table made on demand), present word last. A PASID
 * at or above vtd_pasid_limit is refused unless override_width is set, for
 * tests that knowingly exceed what the unit advertises. */
int vtd_pasid_install(const struct vtd_unit *u, struct vtd_sm_tables *t, uint32_t pasid,
                      const struct vtd_pasid_entry *e, int override_width);
void vtd_pasid_clear(const struct vtd_unit *u, struct vtd_sm_tables *t, uint32_t pasid);
void vtd_sm_tables_free(struct vtd_sm_tables *t);

struct vtd_qi;
/* The one scalable-mode bring-up for a device: e installed at pasid (the
 * device's RID_PASID, so its requests without PASID use it), the context
 * entry, the root table set in scalable mode, every context, PASID and
 * IOTLB cache of the entry's DID/PASID invalidated through the (256-bit)
 * queue, translation on. */
int vtd_sm_attach(struct vtd_unit *u, struct vtd_qi *qi, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn,
                  uint32_t pasid, const struct vtd_pasid_entry *e, int override_width);
#endif
