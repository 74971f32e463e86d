#include "inv_reg.h"
#include "cap_reg.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"

static int qi_on(struct vtd_unit *u) { return (u->gcmd & VTD_GCMD_QIE) != 0; }

int vtd_reg_invalidate_context(struct vtd_unit *u, enum vtd_inv_granularity g, uint16_t did, uint16_t sid)
{
    if (qi_on(u))
        return -E_BUSY;
    vtd_write64(u, VTD_CCMD, VTD_CCMD_ICC | ((uint64_t)g << VTD_CCMD_CIRG_SHIFT) |
                                ((uint64_t)sid << VTD_CCMD_SID_SHIFT) | did);
    if (WAIT_UNTIL(!(vtd_read64(u, VTD_CCMD) & VTD_CCMD_ICC), VTD_WAIT_US))
        return 0;
    printk("# vtd: context-cache invalidation (granularity %u) not done in %u us: CCMD 0x%lx\n", g, VTD_WAIT_US,
           vtd_read64(u, VTD_CCMD));
    return -E_TIMEDOUT;
}

int vtd_reg_invalidate_iotlb(struct vtd_unit *u, enum vtd_inv_granularity g, uint16_t did, uint64_t addr,
                             unsigned am)
{
    if (qi_on(u))
        return -E_BUSY;
    if (g == VTD_INV_DEVICE_OR_PAGE && (!CAP_PSI(u->cap) || am > CAP_MAMV(u->cap)))
        return -E_RANGE;
    uint32_t off = vtd_iotlb_offset(u);
    if (g == VTD_INV_DEVICE_OR_PAGE)
        vtd_write64_at(u, off, addr | (am & VTD_IVA_AM_MASK));
    vtd_write64_at(u, off + sizeof(uint64_t), VTD_IOTLB_IVT | ((uint64_t)g << VTD_IOTLB_IIRG_SHIFT) |
                                                  VTD_IOTLB_DR | VTD_IOTLB_DW | ((uint64_t)did << VTD_IOTLB_DID_SHIFT));
    if (WAIT_UNTIL(!(vtd_read64_at(u, off + sizeof(uint64_t)) & VTD_IOTLB_IVT), VTD_WAIT_US))
        return 0;
    printk("# vtd: IOTLB invalidation (granularity %u) not done in %u us: IOTLB 0x%lx\n", g, VTD_WAIT_US,
           vtd_read64_at(u, off + sizeof(uint64_t)));
    return -E_TIMEDOUT;
}
