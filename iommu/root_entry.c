/* Root entry encoders, legacy and scalable mode: pure, host-tested. */
#include <string.h>
#include "root_entry.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

#define PAGE_ALIGNED(pa) (((pa) & ~PAGE_MASK) == 0)

int vtd_root_entry_encode(struct vtd_root_entry *e, uint64_t ctp)
{
    memset(e, 0, sizeof(*e));
    if (ctp & ~PAGE_MASK)
        return -E_INVAL;
    bits_set(&e->qw[0], ROOT_CTP, ctp >> PAGE_SHIFT);
    bits_set(&e->qw[0], ROOT_P, 1);
    return 0;
}

int vtd_sm_root_entry_encode(struct vtd_sm_root_entry *e, uint64_t lower_ctp, uint64_t upper_ctp)
{
    memset(e, 0, sizeof(*e));
    if (!PAGE_ALIGNED(lower_ctp) || !PAGE_ALIGNED(upper_ctp))
        return -E_INVAL;
    if (lower_ctp) {
        bits_set(&e->qw[0], SM_ROOT_LCTP, lower_ctp >> PAGE_SHIFT);
        bits_set(&e->qw[0], SM_ROOT_LP, 1);
    }
    if (upper_ctp) {
        bits_set(&e->qw[1], SM_ROOT_UCTP, upper_ctp >> PAGE_SHIFT);
        bits_set(&e->qw[1], SM_ROOT_UP, 1);
    }
    return 0;
}

const struct vtd_entry_field vtd_root_entry_fields[] = {
    { "P", 0, ROOT_P, "present" },
    { "CTP", 0, ROOT_CTP, "context table, page frame" },
};
const size_t vtd_root_entry_field_count = sizeof(vtd_root_entry_fields) / sizeof(vtd_root_entry_fields[0]);

const struct vtd_entry_field vtd_sm_root_entry_fields[] = {
    { "LP", 0, SM_ROOT_LP, "lower half present (devfn 00-7f)" },
    { "LCTP", 0, SM_ROOT_LCTP, "lower context table, page frame" },
    { "UP", 1, SM_ROOT_UP, "upper half present (devfn 80-ff)" },
    { "UCTP", 1, SM_ROOT_UCTP, "upper context table, page frame" },
};
const size_t vtd_sm_root_entry_field_count = sizeof(vtd_sm_root_entry_fields) / sizeof(vtd_sm_root_entry_fields[0]);
