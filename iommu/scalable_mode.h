/* Scalable mode (VT-d spec 9.4-9.6): root entries with two context-table
 * pointers, 256-bit context entries pointing at a PASID directory, 64-bit
 * directory entries, 512-bit PASID entries. Encoders are pure; the tables
 * of one unit are built in pasid.c. */
#ifndef VTDLAB_IOMMU_SCALABLE_MODE_H
#define VTDLAB_IOMMU_SCALABLE_MODE_H

#include <stdint.h>
#include "unit.h"

struct vtd_sm_root_entry { uint64_t qw[2]; };
struct vtd_sm_context_entry { uint64_t qw[4]; };
struct vtd_pasid_dir_entry { uint64_t qw[1]; };
struct vtd_pasid_entry { uint64_t qw[8]; };
_Static_assert(sizeof(struct vtd_sm_root_entry) == 16, "scalable root entry is 128 bits");
_Static_assert(sizeof(struct vtd_sm_context_entry) == 32, "scalable context entry is 256 bits");
_Static_assert(sizeof(struct vtd_pasid_dir_entry) == 8, "PASID directory entry is 64 bits");
_Static_assert(sizeof(struct vtd_pasid_entry) == 64, "PASID entry is 512 bits");

/* Scalable root entry: lower half for devfn 0-127, upper for 128-255. */
#define SM_ROOT_LP           0, 0    /* qword 0 */
#define SM_ROOT_LCTP         63, 12
#define SM_ROOT_UP           0, 0    /* qword 1 */
#define SM_ROOT_UCTP         63, 12
#define SM_CONTEXTS_PER_TABLE 128
#define SM_DEVFN_UPPER       0x80

/* Scalable context entry */
#define SM_CTX_P             0, 0    /* qword 0 */
#define SM_CTX_FPD           1, 1
#define SM_CTX_DTE           2, 2
#define SM_CTX_PASIDE        3, 3
#define SM_CTX_PRE           4, 4
#define SM_CTX_PDTS          11, 9   /* directory has 2^(PDTS+7) entries */
#define SM_CTX_PASIDDIRPTR   63, 12
#define SM_CTX_RID_PASID     19, 0   /* qword 1 */
#define SM_CTX_PDTS_BASE     7

/* PASID directory entry */
#define PDE_P                0, 0
#define PDE_FPD              1, 1
#define PDE_PASIDPTR         63, 12
#define PASID_DIR_SHIFT      6       /* directory index: pasid >> 6 */
#define PASID_TABLE_ENTRIES  64      /* table index: pasid & 63 */

/* PASID entry (qword, hi, lo) */
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

int vtd_sm_root_entry_encode(struct vtd_sm_root_entry *e, uint64_t lower_ctp, uint64_t upper_ctp);
/* paside: accept requests that carry a PASID (ECAP.PASID); DTE and PRE
 * stay off, vtdlab has no device-TLB or page-request user. */
int vtd_sm_context_encode(struct vtd_sm_context_entry *e, uint64_t pasid_dir_pa, unsigned pdts, uint32_t rid_pasid,
                          int fpd, int paside);
int vtd_pasid_dir_entry_encode(struct vtd_pasid_dir_entry *e, uint64_t pasid_table_pa);

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



/* The scalable-mode tables of one unit, with one PASID directory (one
 * page: 512 entries, PASIDs below 2^15) that every device here shares. */
#define SM_DIR_ENTRIES  512
#define SM_DIR_PDTS     2       /* 2^(2+7) = 512 entries */

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
