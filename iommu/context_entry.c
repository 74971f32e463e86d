/* Context entry encoders, legacy and scalable mode: pure, host-tested. */
#include <string.h>
#include "context_entry.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

int vtd_context_legacy_encode(struct vtd_context_entry *e, uint64_t slptptr, unsigned aw, uint16_t did,
                              enum vtd_tt tt, int fpd)
{
    memset(e, 0, sizeof(*e));
    if ((slptptr & ~PAGE_MASK) || bits_set(&e->qw[0], CTX_TT, tt) || bits_set(&e->qw[1], CTX_AW, aw) ||
        bits_set(&e->qw[1], CTX_DID, did))
        return -E_INVAL;
    bits_set(&e->qw[0], CTX_SLPTPTR, slptptr >> PAGE_SHIFT);
    bits_set(&e->qw[0], CTX_FPD, fpd ? 1 : 0);
    bits_set(&e->qw[0], CTX_P, 1);
    return 0;
}

int vtd_sm_context_encode(struct vtd_sm_context_entry *e, uint64_t pasid_dir_pa, unsigned pdts, uint32_t rid_pasid,
                          int fpd, int paside)
{
    memset(e, 0, sizeof(*e));
    if ((pasid_dir_pa & ~PAGE_MASK) || bits_set(&e->qw[0], SM_CTX_PDTS, pdts) ||
        bits_set(&e->qw[1], SM_CTX_RID_PASID, rid_pasid))
        return -E_INVAL;
    bits_set(&e->qw[0], SM_CTX_PASIDDIRPTR, pasid_dir_pa >> PAGE_SHIFT);
    bits_set(&e->qw[0], SM_CTX_FPD, fpd ? 1 : 0);
    bits_set(&e->qw[0], SM_CTX_PASIDE, paside ? 1 : 0);
    bits_set(&e->qw[0], SM_CTX_P, 1);
    return 0; /* qwords 2 and 3 stay zero: reserved (QEMU faults 0x0b otherwise) */
}

/* Legacy-mode context entry (VT-d spec 9.3). */
const struct vtd_entry_field vtd_context_entry_fields[] = {
    { "P", 0, CTX_P, "present" },
    { "FPD", 0, CTX_FPD, "fault processing disable" },
    { "TT", 0, CTX_TT, "translation type: 0 untranslated only, 1 all, 2 pass-through" },
    { "SLPTPTR", 0, CTX_SLPTPTR, "second-stage table, page frame" },
    { "AW", 1, CTX_AW, "address width: 1 39-bit, 2 48-bit, 3 57-bit" },
    { "DID", 1, CTX_DID, "domain id" },
};
const size_t vtd_context_entry_field_count = sizeof(vtd_context_entry_fields) / sizeof(vtd_context_entry_fields[0]);

const struct vtd_entry_field vtd_sm_context_entry_fields[] = {
    { "P", 0, SM_CTX_P, "present" },
    { "FPD", 0, SM_CTX_FPD, "fault processing disable" },
    { "DTE", 0, SM_CTX_DTE, "device-TLB enable" },
    { "PASIDE", 0, SM_CTX_PASIDE, "requests with a PASID accepted" },
    { "PRE", 0, SM_CTX_PRE, "page requests enable" },
    { "PDTS", 0, SM_CTX_PDTS, "PASID directory: 2^(PDTS+7) entries" },
    { "PASIDDIRPTR", 0, SM_CTX_PASIDDIRPTR, "PASID directory, page frame" },
    { "RID_PASID", 1, SM_CTX_RID_PASID, "PASID of requests without one" },
};
const size_t vtd_sm_context_entry_field_count =
    sizeof(vtd_sm_context_entry_fields) / sizeof(vtd_sm_context_entry_fields[0]);
