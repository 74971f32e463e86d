#include <stdio.h>
#include <string.h>
#include "fault.h"
#include "cap.h"
#include "../devices/pci.h"
#include "../kernel/apic.h"
#include "../kernel/traps.h"
#include "../lib/bits.h"

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
    f->at = (uint8_t)bits_get(hi, 61, 60);
    return 1;
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
    case 0x58: return "PASID table entry invalid";
    case 0x59: return "PASID entry not present";
    case 0x5b: return "PASID entry has a reserved or unsupported setting";
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
    int n = snprintf(buf, size, "%s by %02x:%02x.%x at 0x%lx: reason 0x%02x (%s)", f->is_read ? "read" : "write",
                     f->sid >> 8, (f->sid >> 3) & 0x1f, f->sid & 7, (unsigned long)f->addr, f->reason,
                     vtd_fault_reason_name(f->reason));
    if (f->pasid_present && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", PASID 0x%x%s%s", f->pasid, f->priv ? " supervisor" : "",
                 f->exe ? " execute" : "");
}

static struct vtd_unit *event_unit;

static void fault_event(struct trap_frame *fr)
{
    if (event_unit)
        event_unit->fault_events++;
    apic_eoi();
}

void vtd_fault_events_enable(struct vtd_unit *u)
{
    event_unit = u;
    irq_set_handler(VEC_VTD_FAULT, fault_event);
    /* 32-bit accesses only: QEMU aborts on a 64-bit write to FECTL. */
    vtd_write32(u, VTD_FEDATA, VEC_VTD_FAULT);
    vtd_write32(u, VTD_FEADDR, MSI_ADDRESS_BASE | (apic_id() << MSI_ADDRESS_DEST_SHIFT));
    vtd_write32(u, VTD_FEUADDR, 0);
    vtd_write32(u, VTD_FECTL, 0);
}

void vtd_fault_collect(struct vtd_unit *u, struct vtd_fault_log *log)
{
    memset(log, 0, sizeof(*log));
    unsigned n = (unsigned)CAP_NFR(u->cap);
    for (unsigned i = 0; i < n; i++) {
        uint32_t off = vtd_fault_record_offset(u, i);
        uint64_t hi = vtd_read64_at(u, off + sizeof(uint64_t));
        if (!(hi & VTD_FRCD_HI_F))
            continue;
        uint64_t lo = vtd_read64_at(u, off);
        if (log->count < VTD_FAULTS_MAX)
            vtd_fault_decode(lo, hi, &log->f[log->count++]);
        vtd_write64_at(u, off + sizeof(uint64_t), VTD_FRCD_HI_F); /* RW1C */
    }
    uint32_t fsts = vtd_read32(u, VTD_FSTS);
    log->overflow = (fsts & VTD_FSTS_PFO) != 0;
    if (log->overflow)
        vtd_write32(u, VTD_FSTS, VTD_FSTS_PFO);
}
