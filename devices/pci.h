/* PCI through ECAM (PCIe base spec 7.2.2), enumerated from MCFG by walking
 * bridges from each segment's first bus. */
#ifndef VTDLAB_DEVICES_PCI_H
#define VTDLAB_DEVICES_PCI_H

#include <stdint.h>
#include "pci_bridge.h"

#define PCI_MAX_DEVICES 64
#define PCI_CFG_SIZE    4096

/* Configuration header (type 0 and 1) */
#define PCI_VENDOR_ID       0x00
#define PCI_DEVICE_ID       0x02
#define PCI_COMMAND         0x04
#define PCI_STATUS          0x06
#define PCI_CLASS_REVISION  0x08
#define PCI_HEADER_TYPE     0x0e
#define PCI_BAR0            0x10
#define PCI_SECONDARY_BUS   0x19
#define PCI_SUBORDINATE_BUS 0x1a
#define PCI_CAP_PTR         0x34
#define PCI_COMMAND_MEMORY  (1u << 1)
#define PCI_COMMAND_MASTER  (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_STATUS_CAP_LIST (1u << 4)
#define PCI_HEADER_TYPE_MASK  0x7f
#define PCI_HEADER_MULTIFUNC  0x80
#define PCI_HEADER_BRIDGE     1
#define PCI_VENDOR_NONE     0xffff
#define PCI_BAR_COUNT       6
#define PCI_BAR_IO          (1u << 0)
#define PCI_BAR_MEM64       (2u << 1)
#define PCI_BAR_TYPE_MASK   (3u << 1)
#define PCI_BAR_MEM_MASK    (~0xful)

/* Capability IDs (PCI local bus spec, appendix H) */
enum { PCI_CAP_MSI = 0x05, PCI_CAP_PCIE = 0x10, PCI_CAP_MSIX = 0x11 };
/* Extended capability IDs (PCIe base spec 7.6) */
enum { PCI_EXT_CAP_ATS = 0x0f, PCI_EXT_CAP_PRI = 0x13, PCI_EXT_CAP_PASID = 0x1b };
#define PCI_EXT_CAP_START 0x100

/* MSI capability (6.8.1) */
#define MSI_CONTROL        2
#define MSI_ADDRESS_LO     4
#define MSI_ADDRESS_HI     8
#define MSI_DATA_32        8
#define MSI_DATA_64        12
#define MSI_CONTROL_ENABLE (1u << 0)
#define MSI_CONTROL_64BIT  (1u << 7)
#define MSI_ADDRESS_BASE   0xfee00000u
#define MSI_ADDRESS_DEST_SHIFT 12

struct pci_dev {
    uint16_t segment;
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint32_t class_rev;
    uint8_t header_type;
    uint8_t cap_msi, cap_msix, cap_pcie;           /* 0: absent */
    uint16_t ext_ats, ext_pri, ext_pasid;          /* 0: absent */
    volatile uint8_t *cfg;                         /* its 4 KiB of ECAM */
    struct pci_dev *parent;                        /* the bridge above it; NULL on a root bus */
    volatile void *bar_map[PCI_BAR_COUNT];         /* mapped once, kept */
    uint64_t bar_size[PCI_BAR_COUNT];
};

/* Source-id (requester ID): bus[15:8] device[7:3] function[2:0]. */
#define PCI_SID_BUS_SHIFT 8
#define PCI_SID_DEV_SHIFT 3
#define PCI_SID_DEV_MASK  0x1f
#define PCI_SID_FN_MASK   0x7

static inline uint8_t pci_devfn(const struct pci_dev *d)
{
    return (uint8_t)(d->dev << PCI_SID_DEV_SHIFT | d->fn);
}

static inline uint16_t pci_source_id(const struct pci_dev *d)
{
    return (uint16_t)(d->bus << PCI_SID_BUS_SHIFT | pci_devfn(d));
}
static inline uint8_t pci_sid_bus(uint16_t sid) { return (uint8_t)(sid >> PCI_SID_BUS_SHIFT); }
static inline uint8_t pci_sid_devfn(uint16_t sid) { return (uint8_t)sid; }

/* The requester id d's DMA carries at the remapping unit: its own, or the
 * alias a bridge above it gives it (devices/pci_bridge.h). Context entries
 * and fault records use this one. */
uint16_t pci_requester_id(const struct pci_dev *d);

/* Enumerates every segment MCFG lists; returns the number of functions
 * found, or a negative error (no MCFG). */
int pci_init(void);
unsigned pci_count(void);
struct pci_dev *pci_get(unsigned i);
struct pci_dev *pci_find(uint16_t vendor, uint16_t device);
/* The nth (from 0) function with these IDs, in enumeration order. */
struct pci_dev *pci_find_nth(uint16_t vendor, uint16_t device, unsigned nth);

uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);

/* Sizes a memory BAR (decoding off while it is probed) and maps it
 * uncached, once; NULL when the BAR is absent or I/O. */
volatile void *pci_map_bar(struct pci_dev *d, unsigned bar, uint64_t *size);
void pci_enable_bus_master(struct pci_dev *d);
/* Enables the PASID capability (with privileged mode when priv): 0,
 * -E_NOENT without the capability, -E_RANGE when privileged mode is asked
 * and not supported; the control register is read back. */
int pci_pasid_enable(struct pci_dev *d, int priv);
void pci_pasid_disable(struct pci_dev *d);
/* Enables ATS with translations of at least 2^page_shift bytes (Linux
 * enables it once the IOMMU's context entry for the function allows
 * translation requests): 0, -E_NOENT without the capability, -E_RANGE for
 * a size STU cannot say; the control register is read back. */
int pci_ats_enable(struct pci_dev *d, unsigned page_shift);
void pci_ats_disable(struct pci_dev *d);
/* Fixed-delivery, edge MSI to the given APIC ID and vector. */
int pci_msi_enable(struct pci_dev *d, uint32_t apic_id, uint8_t vector);
/* Any MSI address and data, e.g. the remappable format (iommu/intremap.h). */
int pci_msi_program(struct pci_dev *d, uint32_t address, uint16_t data);

#endif
