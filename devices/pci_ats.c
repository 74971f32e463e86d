#include "pci_ats.h"
#include "../lib/bits.h"
#include "../lib/errno.h"

int pci_ats_control(unsigned page_shift, uint16_t *ctrl)
{
    uint64_t v = 0;
    if (page_shift < ATS_STU_BASE_SHIFT || bits_set(&v, ATS_CTRL_STU, page_shift - ATS_STU_BASE_SHIFT))
        return -E_RANGE;
    bits_set(&v, ATS_CTRL_ENABLE, 1);
    *ctrl = (uint16_t)v;
    return 0;
}
