/* Fault recording registers decoded: pure, host-tested. */
#include <stdio.h>
#include <string.h>
#include "fault_record.h"
#include "../devices/pci.h"

int vtd_fault_decode(uint64_t lo, uint64_t hi, struct vtd_fault *f)
{
    memset(f, 0, sizeof(*f));
    if (!(hi & VTD_FRCD_HI_F))
        return 0;
    f->addr = lo & VTD_FRCD_LO_FI_MASK;
    f->sid = (uint16_t)(hi & VTD_FRCD_HI_SID_MASK);
    f->reason = (uint8_t)((hi >> VTD_FRCD_HI_FR_SHIFT) & VTD_FRCD_HI_FR_MASK);
    f->is_read = (hi & VTD_FRCD_HI_T1) != 0;
    f->pasid_present = (hi & VTD_FRCD_HI_PP) != 0;
    f->pasid = (uint32_t)((hi >> VTD_FRCD_HI_PV_SHIFT) & VTD_FRCD_HI_PV_MASK);
    f->exe = (hi & VTD_FRCD_HI_EXE) != 0;
    f->priv = (hi & VTD_FRCD_HI_PRIV) != 0;
    f->at = (uint8_t)((hi >> VTD_FRCD_HI_AT_SHIFT) & VTD_FRCD_HI_AT_MASK);
    if (f->reason >= VTD_FR_IR_FIRST && f->reason <= VTD_FR_IR_LAST) {
        f->is_interrupt = 1;
        f->ir_index = (uint16_t)(lo >> VTD_FRCD_LO_IR_INDEX_SHIFT);
        f->addr = 0;
    }
    return 1;
}

/* Where the oldest pending fault is: the unit fills its records as a ring
 * and FSTS.FRI names the record of the first pending fault, valid only
 * while FSTS.PPF is set (VT-d spec 7.2.1, 11.4.7.1). An FRI past the
 * records cannot be right: the scan then starts at 0. */
static unsigned first_record(uint32_t fsts, unsigned count)
{
    unsigned fri = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT;
    return (fsts & VTD_FSTS_PPF) && fri < count ? fri : 0;
}

void vtd_fault_scan(uint32_t fsts, const struct vtd_fault_records *r, struct vtd_fault_log *log)
{
    unsigned from = first_record(fsts, r->count);
    for (unsigned k = 0; k < r->count; k++) {
        unsigned i = (from + k) % r->count;
        uint64_t hi = r->read(r->ctx, i, 1);
        if (!(hi & VTD_FRCD_HI_F))
            continue;
        uint64_t lo = r->read(r->ctx, i, 0);
        if (log->count < VTD_FAULTS_MAX)
            vtd_fault_decode(lo, hi, &log->f[log->count++]);
        r->clear(r->ctx, i);
    }
}

/* Fault reasons (VT-d spec appendix A), legacy and scalable mode. */
const char *vtd_fault_reason_name(uint8_t r)
{
    switch (r) {
    case 0x01: return "root entry not present";
    case 0x02: return "context entry not present";
    case 0x03: return "context entry invalid";
    case 0x04: return "address beyond the guest address width";
    case 0x05: return "write to a page without write permission";
    case 0x06: return "read from a page without read permission";
    case 0x07: return "second-stage paging entry not accessible";
    case 0x08: return "root table not accessible";
    case 0x09: return "context table not accessible";
    case 0x0a: return "reserved bit set in a root entry";
    case 0x0b: return "reserved bit set in a context entry";
    case 0x0c: return "reserved bit set in a second-stage paging entry";
    case 0x0d: return "request blocked by the context entry's translation type";
    case 0x20: return "reserved field set in a remappable interrupt request";
    case 0x21: return "interrupt index beyond the remapping table's size";
    case 0x22: return "interrupt remapping table entry not present";
    case 0x23: return "interrupt remapping table not accessible";
    case 0x24: return "reserved field set in a present interrupt remapping table entry";
    case 0x25: return "compatibility-format interrupt blocked";
    case 0x26: return "interrupt requester failed source-id validation";
    case 0x27: return "posted-interrupt descriptor not accessible";
    case 0x44: return "translation request with the context entry's device-TLB enable clear";
    case 0x46: return "PASID beyond the PASID directory the context entry sizes";
    case 0x51: return "PASID directory entry not present";
    case 0x58: return "PASID table entry invalid";
    case 0x59: return "PASID entry not present";
    case 0x5b: return "PASID entry has a reserved or unsupported setting";
    case 0x5d: return "supervisor request, SRE clear in the PASID entry";
    case 0x71: return "first-stage entry not present";
    case 0x72: return "reserved bit set in a first-stage entry";
    case 0x80: return "address not canonical";
    case 0x81: return "user request to a supervisor page";
    case 0x85: return "write to a read-only first-stage page";
    case 0x87: return "translation into the interrupt address range";
    case 0x91: return "accessed/dirty update failed";
    default: return "unknown fault reason";
    }
}

void vtd_fault_describe(const struct vtd_fault *f, char *buf, size_t size)
{
    if (f->is_interrupt) {
        snprintf(buf, size, "interrupt request by %02x:%02x.%x, index 0x%x: reason 0x%02x (%s)",
                 f->sid >> PCI_SID_BUS_SHIFT, (f->sid >> PCI_SID_DEV_SHIFT) & PCI_SID_DEV_MASK,
                 f->sid & PCI_SID_FN_MASK, f->ir_index, f->reason, vtd_fault_reason_name(f->reason));
        return;
    }
    int n = snprintf(buf, size, "%s by %02x:%02x.%x at 0x%lx: reason 0x%02x (%s)", f->is_read ? "read" : "write",
                     f->sid >> PCI_SID_BUS_SHIFT, (f->sid >> PCI_SID_DEV_SHIFT) & PCI_SID_DEV_MASK,
                     f->sid & PCI_SID_FN_MASK, (unsigned long)f->addr, f->reason,
                     vtd_fault_reason_name(f->reason));
    if (f->pasid_present && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", PASID 0x%x%s%s", f->pasid, f->priv ? " supervisor" : "",
                 f->exe ? " execute" : "");
}
