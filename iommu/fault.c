#include <string.h>
#include "fault.h"
#include "cap_reg.h"
#include "../devices/pci.h"
#include "../kernel/apic.h"
#include "../kernel/traps.h"
#include "../lib/atomic.h"

static struct vtd_unit *event_unit;

static void fault_event(struct trap_frame *fr)
{
    struct vtd_unit *u = READ_ONCE(event_unit);
    if (u)
        atomic_add(&u->fault_events, 1);
    apic_eoi();
}

void vtd_fault_events_forget(void) { WRITE_ONCE(event_unit, NULL); }

void vtd_fault_events_enable(struct vtd_unit *u)
{
    WRITE_ONCE(event_unit, u);
    irq_set_handler(VEC_VTD_FAULT, fault_event);
    /* 32-bit registers, written 32 bits wide (regs.h): QEMU, 10.0.2 and
     * 10.2.2 alike, asserts on a 64-bit write to FECTL. */
    vtd_write32(u, VTD_FEDATA, VEC_VTD_FAULT);
    vtd_write32(u, VTD_FEADDR, MSI_ADDRESS_BASE | (apic_id() << MSI_ADDRESS_DEST_SHIFT));
    vtd_write32(u, VTD_FEUADDR, 0);
    vtd_write32(u, VTD_FECTL, 0);
}

static uint64_t record_read(void *ctx, unsigned i, unsigned qword)
{
    struct vtd_unit *u = ctx;
    return vtd_read64_at(u, vtd_fault_record_offset(u, i) + qword * sizeof(uint64_t));
}

static void record_clear(void *ctx, unsigned i)
{
    struct vtd_unit *u = ctx;
    vtd_write64_at(u, vtd_fault_record_offset(u, i) + sizeof(uint64_t), VTD_FRCD_HI_F); /* RW1C */
}

void vtd_fault_collect(struct vtd_unit *u, struct vtd_fault_log *log)
{
    memset(log, 0, sizeof(*log));
    spin_lock(&u->fault_lock);
    const struct vtd_fault_records r = { u, (unsigned)CAP_NFR(u->cap), record_read, record_clear };
    vtd_fault_scan(vtd_read32(u, VTD_FSTS), &r, log);
    uint32_t fsts = vtd_read32(u, VTD_FSTS);
    log->overflow = (fsts & VTD_FSTS_PFO) != 0;
    if (log->overflow)
        vtd_write32(u, VTD_FSTS, VTD_FSTS_PFO);
    spin_unlock(&u->fault_lock);
}
