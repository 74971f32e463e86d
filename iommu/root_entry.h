/* Root entries, both modes: legacy (VT-d spec 9.1), one context-table
 * pointer per bus; scalable mode (9.2), two, for devfn 0-127 and 128-255.
 * Pure encoders, host-tested. */
#ifndef VTDLAB_IOMMU_ROOT_ENTRY_H
#define VTDLAB_IOMMU_ROOT_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "cap_reg.h"

#define VTD_ROOT_ENTRIES     256

/* Legacy root entry, qword 0 */
#define ROOT_P               0, 0
#define ROOT_CTP             63, 12
#define ROOT_RSVD0_MASK      0xffeul
struct vtd_root_entry { uint64_t qw[2]; };
_Static_assert(sizeof(struct vtd_root_entry) == 16, "root entry is 128 bits");
int vtd_root_entry_encode(struct vtd_root_entry *e, uint64_t context_table_pa);

/* Scalable root entry: lower half for devfn 0-127, upper for 128-255. */
struct vtd_sm_root_entry { uint64_t qw[2]; };
_Static_assert(sizeof(struct vtd_sm_root_entry) == 16, "scalable root entry is 128 bits");
#define SM_ROOT_LP           0, 0    /* qword 0 */
#define SM_ROOT_LCTP         63, 12
#define SM_ROOT_UP           0, 0    /* qword 1 */
#define SM_ROOT_UCTP         63, 12
#define SM_CONTEXTS_PER_TABLE 128
#define SM_DEVFN_UPPER       0x80

int vtd_sm_root_entry_encode(struct vtd_sm_root_entry *e, uint64_t lower_ctp, uint64_t upper_ctp);

/* Their fields, for the shell's and the decoder's descriptions. */
extern const struct vtd_entry_field vtd_root_entry_fields[];
extern const size_t vtd_root_entry_field_count;
extern const struct vtd_entry_field vtd_sm_root_entry_fields[];
extern const size_t vtd_sm_root_entry_field_count;

#endif
