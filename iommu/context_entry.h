/* Context entries, both modes: legacy (VT-d spec 9.3, 128 bits, pointing
 * at second-stage tables) and scalable mode (9.4, 256 bits, pointing at a
 * PASID directory). Pure encoders, host-tested. */
#ifndef VTDLAB_IOMMU_CONTEXT_ENTRY_H
#define VTDLAB_IOMMU_CONTEXT_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "cap_reg.h"

#define VTD_CONTEXT_ENTRIES  256

/* Legacy context entry */
struct vtd_context_entry { uint64_t qw[2]; };
_Static_assert(sizeof(struct vtd_context_entry) == 16, "legacy context entry is 128 bits");
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
int vtd_context_legacy_encode(struct vtd_context_entry *e, uint64_t slptptr, unsigned aw, uint16_t did,
                              enum vtd_tt tt, int fpd);
extern const struct vtd_entry_field vtd_context_entry_fields[];   /* legacy context entry, 2 qwords */
extern const size_t vtd_context_entry_field_count;

/* Scalable context entry */
struct vtd_sm_context_entry { uint64_t qw[4]; };
_Static_assert(sizeof(struct vtd_sm_context_entry) == 32, "scalable context entry is 256 bits");
#define SM_CTX_P             0, 0    /* qword 0 */
#define SM_CTX_FPD           1, 1
#define SM_CTX_DTE           2, 2    /* device-TLB enable: translation requests answered */
#define SM_CTX_PASIDE        3, 3
#define SM_CTX_PRE           4, 4    /* decoded by the shell; no page-request user */
#define SM_CTX_PDTS          11, 9   /* directory has 2^(PDTS+7) entries */
#define SM_CTX_PASIDDIRPTR   63, 12
#define SM_CTX_RID_PASID     19, 0   /* qword 1 */
#define SM_CTX_PDTS_BASE     7       /* PDTS = log2(directory entries) - 7 */

/* paside: accept requests that carry a PASID (ECAP.PASID); DTE (bit 2)
 * starts off (vtd_sm_context_set_dte turns it on for a function using
 * ATS) and PRE (bit 4) stays off, vtdlab has no page-request user. */
int vtd_sm_context_encode(struct vtd_sm_context_entry *e, uint64_t pasid_dir_pa, unsigned pdts, uint32_t rid_pasid,
                          int fpd, int paside);
extern const struct vtd_entry_field vtd_sm_context_entry_fields[];   /* scalable context entry, 4 qwords */
extern const size_t vtd_sm_context_entry_field_count;

#endif
