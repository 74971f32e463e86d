/* Interrupt-remapping encoders: pure, host-tested. */
#include "irt_entry.h"
#include "../devices/pci.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/layout.h"

static int set(uint64_t *w, unsigned hi, unsigned lo, uint64_t v) { return bits_set(w, hi, lo, v) ? -E_RANGE : 0; }

int irte_set_present(struct vtd_irte *e, int present) { return set(&e->lo, IRTE_P, present ? 1 : 0); }
int irte_set_fpd(struct vtd_irte *e, int fpd) { return set(&e->lo, IRTE_FPD, fpd ? 1 : 0); }
int irte_set_dest_mode(struct vtd_irte *e, int logical) { return set(&e->lo, IRTE_DM, logical ? 1 : 0); }
int irte_set_redirection_hint(struct vtd_irte *e, int rh) { return set(&e->lo, IRTE_RH, rh ? 1 : 0); }
int irte_set_trigger_mode(struct vtd_irte *e, int level) { return set(&e->lo, IRTE_TM, level ? 1 : 0); }
int irte_set_delivery_mode(struct vtd_irte *e, unsigned dlm) { return set(&e->lo, IRTE_DLM, dlm); }

int irte_set_vector(struct vtd_irte *e, unsigned vector)
{
    return vector < IRTE_VECTOR_MIN ? -E_RANGE : set(&e->lo, IRTE_V, vector);
}

int irte_set_dest_xapic(struct vtd_irte *e, uint32_t apic_id)
{
    /* The whole destination field, so no x2APIC bits stay behind. */
    e->lo &= ~bits_mask(IRTE_DST_X2APIC);
    return set(&e->lo, IRTE_DST_XAPIC, apic_id);
}

int irte_set_dest_x2apic(struct vtd_irte *e, uint32_t x2apic_id) { return set(&e->lo, IRTE_DST_X2APIC, x2apic_id); }

int irte_set_source(struct vtd_irte *e, unsigned svt, unsigned sq, uint16_t sid)
{
    if (svt > IRTE_SVT_BUS)
        return -E_RANGE; /* 3 is reserved */
    int err = set(&e->hi, IRTE_SVT_HI, svt);
    err = err ? err : set(&e->hi, IRTE_SQ_HI, sq);
    return err ? err : set(&e->hi, IRTE_SID_HI, sid);
}

int irte_remapped(struct vtd_irte *e, unsigned vector, uint32_t dest, int eime, uint16_t sid)
{
    e->lo = e->hi = 0;
    int err = irte_set_vector(e, vector);
    err = err ? err : irte_set_delivery_mode(e, IRTE_DLM_FIXED);
    err = err ? err : eime ? irte_set_dest_x2apic(e, dest) : irte_set_dest_xapic(e, dest);
    err = err ? err : irte_set_source(e, IRTE_SVT_RID, 0, sid);
    return err ? err : irte_set_present(e, 1);
}

int irte_check(const struct vtd_irte *e, int eime)
{
    if ((e->lo & IRTE_LO_RESERVED) || (e->hi & IRTE_HI_RESERVED))
        return -E_RANGE;
    if (!bits_get(e->lo, IRTE_P))
        return 0; /* nothing else of a not-present entry is read */
    if (bits_get(e->lo, IRTE_V) < IRTE_VECTOR_MIN || bits_get(e->hi, IRTE_SVT_HI) > IRTE_SVT_BUS)
        return -E_RANGE;
    if (!eime && (e->lo & IRTE_DST_XAPIC_RESERVED))
        return -E_RANGE; /* an x2APIC destination needs EIME */
    return 0;
}

int irte_update(struct vtd_irte *slot, const struct vtd_irte *e, const struct irte_store_ops *ops)
{
    struct vtd_irte old = *slot;
    int was_present = (int)bits_get(old.lo, IRTE_P), present = (int)bits_get(e->lo, IRTE_P);
    if (ops->store128) {
        ops->store128(ops->ctx, slot, e);
        return ops->sync(ops->ctx);
    }
    /* Two 64-bit stores: between them the unit could read one half of
     * each entry. Where both halves change, the entry goes not present
     * and the unit's cached copy is dropped before either new half is
     * written (an interrupt then arriving faults instead of going to a
     * mixed destination). */
    if (was_present && present && old.lo != e->lo && old.hi != e->hi) {
        uint64_t off = old.lo;
        bits_set(&off, IRTE_P, 0);
        ops->store64(ops->ctx, &slot->lo, off);
        int err = ops->sync(ops->ctx);
        if (err)
            return err;
        old.lo = off;
    }
    /* The half holding P goes last when the entry becomes present, first
     * when it stops; a half that does not change is not written. */
    if (present) {
        if (old.hi != e->hi)
            ops->store64(ops->ctx, &slot->hi, e->hi);
        if (old.lo != e->lo)
            ops->store64(ops->ctx, &slot->lo, e->lo);
    } else {
        if (old.lo != e->lo)
            ops->store64(ops->ctx, &slot->lo, e->lo);
        if (old.hi != e->hi)
            ops->store64(ops->ctx, &slot->hi, e->hi);
    }
    return ops->sync(ops->ctx);
}

/* Address bits (5.1.5.2): handle[14:0] at 19:5, handle[15] at 2. */
#define MSI_HANDLE_LOW   19, 5
#define MSI_HANDLE_15    2, 2
#define MSI_REMAPPABLE   4, 4
#define MSI_SHV          3, 3

uint32_t vtd_msi_remappable_address(uint16_t handle, int shv)
{
    uint64_t a = MSI_ADDRESS_BASE;
    bits_set(&a, MSI_HANDLE_LOW, handle & 0x7fff);
    bits_set(&a, MSI_HANDLE_15, handle >> 15);
    bits_set(&a, MSI_REMAPPABLE, 1);
    bits_set(&a, MSI_SHV, shv ? 1 : 0);
    return (uint32_t)a;
}


int vtd_irta_encode(uint64_t table_pa, unsigned entries, int eime, uint64_t *irta)
{
    if (entries < 2 || entries > IRT_ENTRIES_MAX || (entries & (entries - 1)) || (table_pa & ~PAGE_MASK))
        return -E_RANGE;
    unsigned s = 0;
    while ((2u << s) < entries)
        s++;
    uint64_t v = table_pa;
    bits_set(&v, IRTA_EIME, eime ? 1 : 0);
    bits_set(&v, IRTA_S, s);
    *irta = v;
    return 0;
}

const struct vtd_entry_field vtd_irte_fields[] = {
    { "P", 0, IRTE_P, "present" },
    { "FPD", 0, IRTE_FPD, "fault processing disable" },
    { "DM", 0, IRTE_DM, "destination mode: 1 logical" },
    { "RH", 0, IRTE_RH, "redirection hint" },
    { "TM", 0, IRTE_TM, "trigger mode: 1 level" },
    { "DLM", 0, IRTE_DLM, "delivery mode: 0 fixed, 1 lowest priority, 4 NMI" },
    { "IM", 0, IRTE_IM, "posted (IRTE mode)" },
    { "V", 0, IRTE_V, "vector" },
    { "DST", 0, IRTE_DST_X2APIC, "destination (x2APIC id; bits 15:8 the APIC id without EIME)" },
    { "SID", 1, IRTE_SID_HI, "source-id checked" },
    { "SQ", 1, IRTE_SQ_HI, "source-id qualifier" },
    { "SVT", 1, IRTE_SVT_HI, "source validation: 0 none, 1 requester id, 2 bus range" },
};
const size_t vtd_irte_field_count = sizeof(vtd_irte_fields) / sizeof(vtd_irte_fields[0]);
