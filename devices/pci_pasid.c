#include "pci_pasid.h"
#include "../lib/bits.h"
#include "../lib/errno.h"

unsigned pci_pasid_width(uint16_t cap) { return (unsigned)bits_get(cap, PASID_CAP_WIDTH); }
int pci_pasid_priv_supported(uint16_t cap) { return (int)bits_get(cap, PASID_CAP_PRIV); }

int pci_pasid_control(uint16_t cap, int priv, uint16_t *ctrl)
{
    if (!pci_pasid_width(cap) || (priv && !pci_pasid_priv_supported(cap)))
        return -E_RANGE;
    uint64_t v = 0;
    bits_set(&v, PASID_CTRL_ENABLE, 1);
    bits_set(&v, PASID_CTRL_PRIV, priv != 0);
    *ctrl = (uint16_t)v;
    return 0;
}
