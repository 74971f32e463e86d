/* Root and legacy-mode context entries (VT-d spec 9.1, 9.3) and the legacy
 * root/context tables of one unit. */
#ifndef VTDLAB_IOMMU_LEGACY_MODE_H
#define VTDLAB_IOMMU_LEGACY_MODE_H

#include <stdint.h>
#include "entry_write.h"
#include "unit.h"

struct vtd_root_entry { uint64_t qw[2]; };
struct vtd_context_entry { uint64_t qw[2]; };
_Static_assert(sizeof(struct vtd_root_entry) == 16, "root entry is 128 bits");
_Static_assert(sizeof(struct vtd_context_entry) == 16, "legacy context entry is 128 bits");

#define VTD_ROOT_ENTRIES     256
#define VTD_CONTEXT_ENTRIES  256
/* Root entry, qword 0 */
#define ROOT_P               0, 0
#define ROOT_CTP             63, 12
#define ROOT_RSVD0_MASK      0xffeul
/* Legacy context entry */
#define CTX_P                0, 0
#define CTX_FPD              1, 1
#define CTX_TT               3, 2
#define CTX_SLPTPTR          63, 12
#define CTX_AW               2, 0   /* qword 1 */
#define CTX_DID              23, 8  /* qword 1 */
#define CTX_RSVD0_MASK       0xff0ul
#define CTX_RSVD1_MASK       0xffffffffff000080ul
enum vtd_tt { VTD_TT_UNTRANSLATED = 0, VTD_TT_DEVICE_TLB = 1, VTD_TT_PASS_THROUGH = 2 };
/* AW: 1 = 39-bit 3-level, 2 = 48-bit 4-level second-stage tables. */
static inline unsigned vtd_aw_for_levels(int levels) { return (unsigned)(levels - 2); }

int vtd_root_entry_encode(struct vtd_root_entry *e, uint64_t context_table_pa);
int vtd_context_legacy_encode(struct vtd_context_entry *e, uint64_t slptptr, unsigned aw, uint16_t did,
                              enum vtd_tt tt, int fpd);

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
