#include "pci_bridge.h"

#define SID_BUS_SHIFT 8   /* a requester id is bus[15:8] devfn[7:0] */

enum pci_bridge_kind pci_bridge_kind(int has_pcie, unsigned port_type)
{
    if (!has_pcie)
        return PCI_BRIDGE_TAKES_OWNERSHIP;
    switch (port_type) {
    case PCIE_TYPE_PCIE_TO_PCI: return PCI_BRIDGE_PCIE_TO_PCI;
    case PCIE_TYPE_PCI_TO_PCIE: return PCI_BRIDGE_TAKES_OWNERSHIP;
    default: return PCI_BRIDGE_PCIE_PORT;
    }
}

uint16_t pci_requester_alias(uint16_t own, const struct pci_hop *up, unsigned n)
{
    uint16_t id = own;
    for (unsigned i = 0; i < n; i++) {
        if (up[i].kind == PCI_BRIDGE_PCIE_TO_PCI)
            id = (uint16_t)(up[i].secondary << SID_BUS_SHIFT);
        else if (up[i].kind == PCI_BRIDGE_TAKES_OWNERSHIP)
            id = up[i].id;
    }
    return id;
}
