/* Scalable-mode PASID directory entries (VT-d spec 9.5, 64 bits) and
 * PASID table entries (9.6, 512 bits). Pure encoders, host-tested. */
#ifndef VTDLAB_IOMMU_PASID_ENTRY_H
#define VTDLAB_IOMMU_PASID_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "cap_reg.h"

#define PASID_DIR_SHIFT      6       /* directory index: pasid >> 6 */
#define PASID_TABLE_ENTRIES  64      /* table index: pasid & 63 */

/* PASID directory entry */
#define PDE_P                0, 0
#define PDE_FPD              1, 1    /* decoded by the shell; never set here */
#define PDE_PASIDPTR         63, 12
struct vtd_pasid_dir_entry { uint64_t qw[1]; };
_Static_assert(sizeof(struct vtd_pasid_dir_entry) == 8, "PASID directory entry is 64 bits");
int vtd_pasid_dir_entry_encode(struct vtd_pasid_dir_entry *e, uint64_t pasid_table_pa);
extern const struct vtd_entry_field vtd_pasid_dir_entry_fields[];
extern const size_t vtd_pasid_dir_entry_field_count;

/* PASID entry (qword, hi, lo) */
struct vtd_pasid_entry { uint64_t qw[8]; };
_Static_assert(sizeof(struct vtd_pasid_entry) == 64, "PASID entry is 512 bits");
#define PE_P                 0, 0, 0
#define PE_FPD               0, 1, 1
#define PE_AW                0, 4, 2
#define PE_PGTT              0, 8, 6
#define PE_SLADE             0, 9, 9
#define PE_SLPTPTR           0, 63, 12
#define PE_DID               PE_DID_QWORD, PE_DID_HI, PE_DID_LO
#define PE_DID_QWORD         1
#define PE_DID_HI            15
#define PE_DID_LO            0
#define PE_PWSNP             1, 23, 23
#define PE_PGSNP             1, 24, 24
#define PE_SRE               2, 0, 0
#define PE_FLPM              2, 3, 2
#define PE_WPE               2, 4, 4
#define PE_EAFE              2, 7, 7
#define PE_FLPTR             2, 63, 12
enum vtd_pgtt { PGTT_FIRST_STAGE = 1, PGTT_SECOND_STAGE = 2, PGTT_NESTED = 3, PGTT_PASS_THROUGH = 4 };
enum vtd_flpm { FLPM_4LEVEL = 0, FLPM_5LEVEL = 1 };
#define PE_AW_48BIT          2

/* One setter per PASID entry field; each refuses a value that does not
 * fit its bits and leaves the entry unchanged then. */
int pasid_entry_set_present(struct vtd_pasid_entry *e, int on);
int pasid_entry_set_fpd(struct vtd_pasid_entry *e, int on);
int pasid_entry_set_aw(struct vtd_pasid_entry *e, unsigned aw);
int pasid_entry_set_pgtt(struct vtd_pasid_entry *e, enum vtd_pgtt pgtt);
int pasid_entry_set_did(struct vtd_pasid_entry *e, uint16_t did);
int pasid_entry_set_sre(struct vtd_pasid_entry *e, int on);
int pasid_entry_set_wpe(struct vtd_pasid_entry *e, int on);
int pasid_entry_set_flpm(struct vtd_pasid_entry *e, enum vtd_flpm flpm);
int pasid_entry_set_flptr(struct vtd_pasid_entry *e, uint64_t pa);
int pasid_entry_set_slptptr(struct vtd_pasid_entry *e, uint64_t pa);
int pasid_entry_set_pwsnp(struct vtd_pasid_entry *e, int on);

/* First-stage entry over the given top-level table: PGTT=1, 4-level,
 * 48-bit, with the DID; supervisor requests allowed when sre. Not present
 * yet: the caller sets P when it writes the entry into a live table. */
int pasid_entry_first_stage(struct vtd_pasid_entry *e, uint64_t flptr, uint16_t did, int sre);

extern const struct vtd_entry_field vtd_pasid_entry_fields[];     /* scalable-mode PASID entry, 8 qwords */
extern const size_t vtd_pasid_entry_field_count;

#endif
