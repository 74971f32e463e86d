/* The requester id a function's DMA carries when it reaches the root
 * complex (PCIe base spec 2.2.6.2; PCI Express to PCI/PCI-X Bridge spec
 * 2.3): bridges between a conventional PCI bus and PCIe take ownership of
 * the requests they forward, so a remapping unit sees the bridge's id, or
 * (secondary bus, 00.0), not the function's own. Context entries and fault
 * records are keyed by that id. Pure: host-tested. */
#ifndef VTDLAB_DEVICES_PCI_BRIDGE_H
#define VTDLAB_DEVICES_PCI_BRIDGE_H

#include <stdint.h>

/* What a bridge does to the requester id of what it forwards upstream. */
enum pci_bridge_kind {
    PCI_BRIDGE_PCIE_PORT,       /* root or switch port: PCIe on both sides, ids kept */
    PCI_BRIDGE_PCIE_TO_PCI,     /* PCIe-to-PCI/PCI-X: (secondary bus, 00.0) */
    PCI_BRIDGE_TAKES_OWNERSHIP, /* conventional PCI-to-PCI, or PCI-to-PCIe: the bridge's own id */
};

/* From the bridge's PCI Express capability (has_pcie, and its
 * device/port type, PCIe capabilities register [7:4]). */
#define PCIE_CAP_FLAGS        2       /* offset in the PCI Express capability */
#define PCIE_FLAGS_TYPE       7, 4
enum { PCIE_TYPE_ROOT_PORT = 4, PCIE_TYPE_UPSTREAM = 5, PCIE_TYPE_DOWNSTREAM = 6, PCIE_TYPE_PCIE_TO_PCI = 7,
       PCIE_TYPE_PCI_TO_PCIE = 8 };
enum pci_bridge_kind pci_bridge_kind(int has_pcie, unsigned port_type);

/* One bridge above a function, nearest first. */
struct pci_hop {
    uint16_t id;                 /* the bridge's own bus/device/function */
    uint8_t secondary;           /* its secondary bus number */
    enum pci_bridge_kind kind;
};

/* The id the root complex sees for a function whose own id is `own`,
 * with bridges up[0..n) above it (nearest first): every aliasing bridge
 * on the way replaces it, so the topmost one decides. */
uint16_t pci_requester_alias(uint16_t own, const struct pci_hop *up, unsigned n);

#endif
