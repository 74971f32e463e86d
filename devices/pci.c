#include <stdio.h>
#include <string.h>
#include "pci.h"
#include "pci_pasid.h"
#include "pci_ats.h"
#include "../lib/bits.h"
#include "../kernel/acpi.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define MCFG_MAX        4
#define PCI_BUSES       256
#define PCI_DEVS        32
#define PCI_FUNCS       8
#define BUS_SHIFT       20
#define DEV_SHIFT       15
#define FN_SHIFT        12
#define BUS_ECAM_SIZE   (1ul << BUS_SHIFT)
#define CAP_WALK_MAX    48    /* a looping capability list ends here */
#define CAP_PTR_MASK    0xfc  /* capability pointers are dword aligned; the low bits are reserved */
#define EXT_CAP_ID(h)   ((h) & 0xffff)
#define EXT_CAP_NEXT(h) (((h) >> 20) & 0xffc)

static struct pci_dev devs[PCI_MAX_DEVICES];
static unsigned ndevs;

uint32_t pci_read32(const struct pci_dev *d, uint16_t off) { return *(volatile uint32_t *)(d->cfg + off); }
uint16_t pci_read16(const struct pci_dev *d, uint16_t off) { return *(volatile uint16_t *)(d->cfg + off); }
uint8_t pci_read8(const struct pci_dev *d, uint16_t off) { return d->cfg[off]; }
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v) { *(volatile uint32_t *)(d->cfg + off) = v; }
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v) { *(volatile uint16_t *)(d->cfg + off) = v; }

unsigned pci_count(void) { return ndevs; }
struct pci_dev *pci_get(unsigned i) { return i < ndevs ? &devs[i] : NULL; }

struct pci_dev *pci_find_nth(uint16_t vendor, uint16_t device, unsigned nth)
{
    for (unsigned i = 0; i < ndevs; i++)
        if (devs[i].vendor == vendor && devs[i].device == device && nth-- == 0)
            return &devs[i];
    return NULL;
}

struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
    return pci_find_nth(vendor, device, 0);
}

static void find_caps(struct pci_dev *d)
{
    if (pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST) {
        uint8_t p = pci_read8(d, PCI_CAP_PTR) & CAP_PTR_MASK;
        for (int n = 0; p && n < CAP_WALK_MAX; n++) {
            uint8_t id = pci_read8(d, p);
            if (id == PCI_CAP_MSI) d->cap_msi = p;
            if (id == PCI_CAP_MSIX) d->cap_msix = p;
            if (id == PCI_CAP_PCIE) d->cap_pcie = p;
            p = pci_read8(d, p + 1) & CAP_PTR_MASK;
        }
    }
    if (!d->cap_pcie)
        return; /* extended space exists for PCIe functions only */
    uint16_t p = PCI_EXT_CAP_START;
    for (int n = 0; p >= PCI_EXT_CAP_START && n < CAP_WALK_MAX; n++) {
        uint32_t h = pci_read32(d, p);
        if (!h || h == UINT32_MAX)
            break;
        if (EXT_CAP_ID(h) == PCI_EXT_CAP_ATS) d->ext_ats = p;
        if (EXT_CAP_ID(h) == PCI_EXT_CAP_PRI) d->ext_pri = p;
        if (EXT_CAP_ID(h) == PCI_EXT_CAP_PASID) d->ext_pasid = p;
        p = (uint16_t)EXT_CAP_NEXT(h);
    }
}

static void scan_bus(const struct mcfg_entry *m, volatile uint8_t *ecam[PCI_BUSES], unsigned bus, unsigned depth,
                     struct pci_dev *parent)
{
    if (bus < m->bus_start || bus > m->bus_end || depth > (unsigned)(m->bus_end - m->bus_start))
        return;
    if (!ecam[bus]) {
        ecam[bus] = mmio_map(m->base + ((uint64_t)(bus - m->bus_start) << BUS_SHIFT), BUS_ECAM_SIZE);
        if (!ecam[bus])
            return;
    }
    for (unsigned dev = 0; dev < PCI_DEVS; dev++) {
        for (unsigned fn = 0; fn < PCI_FUNCS; fn++) {
            struct pci_dev probe = { .cfg = ecam[bus] + (dev << DEV_SHIFT) + (fn << FN_SHIFT) };
            uint16_t vendor = pci_read16(&probe, PCI_VENDOR_ID);
            if (vendor == PCI_VENDOR_NONE) {
                if (fn == 0)
                    break;
                continue;
            }
            if (ndevs == PCI_MAX_DEVICES) {
                printk("# pci: more than %d functions; the rest are not tracked\n", PCI_MAX_DEVICES);
                return;
            }
            struct pci_dev *d = &devs[ndevs++];
            *d = probe;
            d->segment = m->segment;
            d->bus = (uint8_t)bus;
            d->dev = (uint8_t)dev;
            d->fn = (uint8_t)fn;
            d->parent = parent;
            d->vendor = vendor;
            d->device = pci_read16(d, PCI_DEVICE_ID);
            d->class_rev = pci_read32(d, PCI_CLASS_REVISION);
            d->header_type = pci_read8(d, PCI_HEADER_TYPE);
            find_caps(d);
            if ((d->header_type & PCI_HEADER_TYPE_MASK) == PCI_HEADER_BRIDGE) {
                uint8_t secondary = pci_read8(d, PCI_SECONDARY_BUS);
                if (secondary > bus)
                    scan_bus(m, ecam, secondary, depth + 1, d);
            }
            if (fn == 0 && !(d->header_type & PCI_HEADER_MULTIFUNC))
                break;
        }
    }
}

int pci_init(void)
{
    const struct acpi_header *mcfg = acpi_find("MCFG");
    if (!mcfg)
        return -E_NOENT;
    struct mcfg_entry m[MCFG_MAX];
    size_t n = acpi_mcfg_parse(mcfg, m, MCFG_MAX);
    static volatile uint8_t *ecam[MCFG_MAX][PCI_BUSES];
    ndevs = 0;
    for (size_t i = 0; i < n && i < MCFG_MAX; i++)
        scan_bus(&m[i], ecam[i], m[i].bus_start, 0, NULL);
    return (int)ndevs;
}

volatile void *pci_map_bar(struct pci_dev *d, unsigned bar, uint64_t *size)
{
    if (bar >= PCI_BAR_COUNT)
        return NULL;
    if (d->bar_map[bar]) {
        if (size)
            *size = d->bar_size[bar];
        return d->bar_map[bar];
    }
    uint16_t off = (uint16_t)(PCI_BAR0 + sizeof(uint32_t) * bar);
    uint32_t lo = pci_read32(d, off);
    if (lo & PCI_BAR_IO)
        return NULL;
    int is64 = (lo & PCI_BAR_TYPE_MASK) == PCI_BAR_MEM64;
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
    pci_write32(d, off, UINT32_MAX);
    uint64_t mask = pci_read32(d, off) & PCI_BAR_MEM_MASK & UINT32_MAX;
    pci_write32(d, off, lo);
    uint64_t hi = 0;
    if (is64) {
        uint16_t upper = (uint16_t)(off + sizeof(uint32_t)); /* a 64-bit BAR's high half */
        hi = pci_read32(d, upper);
        pci_write32(d, upper, UINT32_MAX);
        mask |= (uint64_t)pci_read32(d, upper) << 32;
        pci_write32(d, upper, (uint32_t)hi);
    } else {
        mask |= (uint64_t)UINT32_MAX << 32; /* a 32-bit BAR decodes nothing above 4 GiB */
    }
    pci_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY);
    uint64_t base = (hi << 32) | (lo & PCI_BAR_MEM_MASK & UINT32_MAX), sz = ~mask + 1;
    if (!base || !(mask & PCI_BAR_MEM_MASK))
        return NULL;
    if (size)
        *size = sz;
    d->bar_size[bar] = sz;
    d->bar_map[bar] = mmio_map(base, sz);
    return d->bar_map[bar];
}

uint16_t pci_requester_id(const struct pci_dev *d)
{
    struct pci_hop up[PCI_BUSES];
    unsigned n = 0;
    for (const struct pci_dev *b = d->parent; b && n < PCI_BUSES; b = b->parent) {
        unsigned type = b->cap_pcie ? (unsigned)bits_get(pci_read16(b, b->cap_pcie + PCIE_CAP_FLAGS), PCIE_FLAGS_TYPE) : 0;
        up[n++] = (struct pci_hop){ pci_source_id(b), pci_read8(b, PCI_SECONDARY_BUS),
                                    pci_bridge_kind(b->cap_pcie != 0, type) };
    }
    return pci_requester_alias(pci_source_id(d), up, n);
}

int pci_pasid_enable(struct pci_dev *d, int priv)
{
    if (!d->ext_pasid)
        return -E_NOENT;
    uint16_t cap = pci_read16(d, d->ext_pasid + PCI_PASID_CAP), ctrl;
    int err = pci_pasid_control(cap, priv, &ctrl);
    if (err)
        return err;
    pci_write16(d, d->ext_pasid + PCI_PASID_CTRL, ctrl);
    uint16_t seen = pci_read16(d, d->ext_pasid + PCI_PASID_CTRL);
    if (seen != ctrl) {
        printk("# pci: %02x:%02x.%x PASID control reads 0x%04x after writing 0x%04x (firmware may lock it)\n", d->bus,
               d->dev, d->fn, seen, ctrl);
        return -E_IO;
    }
    return 0;
}

void pci_pasid_disable(struct pci_dev *d)
{
    if (d->ext_pasid)
        pci_write16(d, d->ext_pasid + PCI_PASID_CTRL, 0);
}

int pci_ats_enable(struct pci_dev *d, unsigned page_shift)
{
    if (!d->ext_ats)
        return -E_NOENT;
    uint16_t ctrl;
    int err = pci_ats_control(page_shift, &ctrl);
    if (err)
        return err;
    pci_write16(d, d->ext_ats + PCI_ATS_CTRL, ctrl);
    uint16_t seen = pci_read16(d, d->ext_ats + PCI_ATS_CTRL);
    if (seen != ctrl) {
        printk("# pci: %02x:%02x.%x ATS control reads 0x%04x after writing 0x%04x\n", d->bus, d->dev, d->fn, seen,
               ctrl);
        return -E_IO;
    }
    return 0;
}

void pci_ats_disable(struct pci_dev *d)
{
    if (d->ext_ats)
        pci_write16(d, d->ext_ats + PCI_ATS_CTRL, 0);
}

void pci_enable_bus_master(struct pci_dev *d)
{
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
}

int pci_msi_program(struct pci_dev *d, uint32_t address, uint16_t data)
{
    if (!d->cap_msi)
        return -E_NOENT;
    uint8_t c = d->cap_msi;
    uint16_t ctl = pci_read16(d, c + MSI_CONTROL);
    pci_write32(d, c + MSI_ADDRESS_LO, address);
    if (ctl & MSI_CONTROL_64BIT) {
        pci_write32(d, c + MSI_ADDRESS_HI, 0);
        pci_write16(d, c + MSI_DATA_64, data);
    } else {
        pci_write16(d, c + MSI_DATA_32, data);
    }
    pci_write16(d, c + MSI_CONTROL, ctl | MSI_CONTROL_ENABLE);
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | PCI_COMMAND_INTX_DISABLE);
    return 0;
}

int pci_msi_enable(struct pci_dev *d, uint32_t apic_id, uint8_t vector)
{
    return pci_msi_program(d, MSI_ADDRESS_BASE | (apic_id << MSI_ADDRESS_DEST_SHIFT), vector);
}
