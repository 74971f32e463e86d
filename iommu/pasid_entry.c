/* PASID directory and PASID table entry encoders: pure, host-tested. */
#include <string.h>
#include "pasid_entry.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

#define PAGE_ALIGNED(pa) (((pa) & ~PAGE_MASK) == 0)

int vtd_pasid_dir_entry_encode(struct vtd_pasid_dir_entry *e, uint64_t pasid_table_pa)
{
    e->qw[0] = 0;
    if (!PAGE_ALIGNED(pasid_table_pa))
        return -E_INVAL;
    bits_set(&e->qw[0], PDE_PASIDPTR, pasid_table_pa >> PAGE_SHIFT);
    bits_set(&e->qw[0], PDE_P, 1);
    return 0;
}

static int set_field(struct vtd_pasid_entry *e, unsigned qw, unsigned hi, unsigned lo, uint64_t v)
{
    return bits_set(&e->qw[qw], hi, lo, v) ? -E_RANGE : 0;
}

int pasid_entry_set_present(struct vtd_pasid_entry *e, int on) { return set_field(e, PE_P, on ? 1 : 0); }
int pasid_entry_set_fpd(struct vtd_pasid_entry *e, int on) { return set_field(e, PE_FPD, on ? 1 : 0); }
int pasid_entry_set_aw(struct vtd_pasid_entry *e, unsigned aw) { return set_field(e, PE_AW, aw); }
int pasid_entry_set_pgtt(struct vtd_pasid_entry *e, enum vtd_pgtt pgtt) { return set_field(e, PE_PGTT, pgtt); }
int pasid_entry_set_did(struct vtd_pasid_entry *e, uint16_t did) { return set_field(e, PE_DID, did); }
int pasid_entry_set_sre(struct vtd_pasid_entry *e, int on) { return set_field(e, PE_SRE, on ? 1 : 0); }
int pasid_entry_set_wpe(struct vtd_pasid_entry *e, int on) { return set_field(e, PE_WPE, on ? 1 : 0); }
int pasid_entry_set_flpm(struct vtd_pasid_entry *e, enum vtd_flpm flpm) { return set_field(e, PE_FLPM, flpm); }
int pasid_entry_set_pwsnp(struct vtd_pasid_entry *e, int on) { return set_field(e, PE_PWSNP, on ? 1 : 0); }

int pasid_entry_set_flptr(struct vtd_pasid_entry *e, uint64_t pa)
{
    return PAGE_ALIGNED(pa) ? set_field(e, PE_FLPTR, pa >> PAGE_SHIFT) : -E_INVAL;
}

int pasid_entry_set_slptptr(struct vtd_pasid_entry *e, uint64_t pa)
{
    return PAGE_ALIGNED(pa) ? set_field(e, PE_SLPTPTR, pa >> PAGE_SHIFT) : -E_INVAL;
}

int pasid_entry_first_stage(struct vtd_pasid_entry *e, uint64_t flptr, uint16_t did, int sre)
{
    memset(e, 0, sizeof(*e));
    int err = pasid_entry_set_pgtt(e, PGTT_FIRST_STAGE);
    err = err ? err : pasid_entry_set_aw(e, PE_AW_48BIT);
    err = err ? err : pasid_entry_set_flpm(e, FLPM_4LEVEL);
    err = err ? err : pasid_entry_set_flptr(e, flptr);
    err = err ? err : pasid_entry_set_did(e, did);
    err = err ? err : pasid_entry_set_sre(e, sre);
    if (err)
        memset(e, 0, sizeof(*e));
    return err;
}

/* Scalable-mode PASID table entry (VT-d spec 9.6). */
const struct vtd_entry_field vtd_pasid_entry_fields[] = {
    { "P", PE_P, "present" },
    { "FPD", PE_FPD, "fault processing disable" },
    { "AW", PE_AW, "address width: 1 39-bit, 2 48-bit" },
    { "PGTT", PE_PGTT, "translation type: 1 first stage, 2 second stage, 3 nested, 4 pass-through" },
    { "SLADE", PE_SLADE, "second-stage accessed/dirty enable" },
    { "SLPTPTR", PE_SLPTPTR, "second-stage table, page frame" },
    { "DID", PE_DID, "domain id" },
    { "PWSNP", PE_PWSNP, "page-walk snoop" },
    { "PGSNP", PE_PGSNP, "page snoop" },
    { "SRE", PE_SRE, "supervisor requests enable" },
    { "FLPM", PE_FLPM, "first-stage paging mode: 0 4-level, 1 5-level" },
    { "WPE", PE_WPE, "write protect enable (as CR0.WP)" },
    { "EAFE", PE_EAFE, "extended accessed flag enable" },
    { "FLPTR", PE_FLPTR, "first-stage table, page frame" },
};
const size_t vtd_pasid_entry_field_count = sizeof(vtd_pasid_entry_fields) / sizeof(vtd_pasid_entry_fields[0]);

const struct vtd_entry_field vtd_pasid_dir_entry_fields[] = {
    { "P", 0, PDE_P, "present" },
    { "FPD", 0, PDE_FPD, "fault processing disable" },
    { "SMPTBLPTR", 0, PDE_PASIDPTR, "PASID table, page frame" },
};
const size_t vtd_pasid_dir_entry_field_count =
    sizeof(vtd_pasid_dir_entry_fields) / sizeof(vtd_pasid_dir_entry_fields[0]);
