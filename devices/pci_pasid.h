/* The PCIe PASID extended capability (PCIe base spec 7.8.8): whether a
 * function may tag its requests with a PASID, and with privileged
 * (supervisor) mode. Pure encoders over the two 16-bit registers:
 * host-tested; devices/pci.c reads and writes them. */
#ifndef VTDLAB_DEVICES_PCI_PASID_H
#define VTDLAB_DEVICES_PCI_PASID_H

#include <stdint.h>

#define PCI_PASID_CAP          4       /* offsets in the capability */
#define PCI_PASID_CTRL         6
#define PASID_CAP_EXEC         1, 1
#define PASID_CAP_PRIV         2, 2
#define PASID_CAP_WIDTH        12, 8
#define PASID_CTRL_ENABLE      0, 0
#define PASID_CTRL_EXEC        1, 1
#define PASID_CTRL_PRIV        2, 2

/* The control value that enables PASIDs, with privileged mode when
 * asked: -E_RANGE when privileged mode is asked of a function that does
 * not support it, or when the function supports no PASID bits. */
int pci_pasid_control(uint16_t cap, int priv, uint16_t *ctrl);
unsigned pci_pasid_width(uint16_t cap);
int pci_pasid_priv_supported(uint16_t cap);

#endif
