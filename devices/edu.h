/* QEMU's edu teaching device (hw/misc/edu.c, PCI 1234:11e8): a 4 KiB
 * buffer inside the device and a DMA engine that copies between it and a
 * bus address. Under an IOMMU that address is an IOVA (or, under SVA, a
 * kernel virtual address).
 *
 * edu-pcie (vtdlab's QEMU, qemu/patches/0007) is the same device as a PCIe
 * function, found as an edu with a PASID capability: its DMA can carry a
 * PASID, with privileged mode (a supervisor request) where the capability
 * enables it, and it says how each DMA ended (the IOMMU refused it, or the
 * function could not issue it). */
#ifndef VTDLAB_DEVICES_EDU_H
#define VTDLAB_DEVICES_EDU_H

#include <stdint.h>
#include "pci.h"

#define EDU_VENDOR      0x1234
#define EDU_DEVICE      0x11e8
#define EDU_BUFFER_SIZE 4096

struct edu {
    struct pci_dev *pci;
    volatile uint8_t *bar0;
    int tags_pasid;          /* edu-pcie: PASID register and DMA status */
    uint64_t dmas;           /* completed transfers */
    uint64_t wait_us_total;  /* time spent waiting for them */
};

/* How edu-pcie's last DMA ended (its DMA status register). */
enum edu_dma_status {
    EDU_DMA_DONE = 0,
    EDU_DMA_REFUSED_BY_IOMMU = 1,   /* an error completion, or a write the unit dropped */
    EDU_DMA_NOT_ISSUED = 2,         /* the function may not make it: PASID, privileged mode or ATS not enabled */
    EDU_DMA_ATS_NO_ACCESS = 3,      /* the translation request's answer grants no such access (R=W=0 if unmapped) */
    EDU_DMA_ATS_FAILED = 4,         /* the translation request failed (Unsupported Request) */
};

#define EDU_MAX 2

/* Finds and sets up the nth edu (BAR, bus master, MSI); -E_NOENT if there
 * is no such device. The struct must stay alive while DMA can complete. */
int edu_probe_nth(struct edu *e, unsigned nth);
static inline int edu_probe(struct edu *e) { return edu_probe_nth(e, 0); }
/* The device's buffer is reachable only by its DMA engine, so tests move
 * data in and out again and compare. One DMA, waited for with the CPU halted until edu's MSI or the deadline.
 * to_device: bus address -> device buffer; else device buffer -> bus
 * address. Returns 0 or -E_TIMEDOUT (with edu's registers in the log). */
int edu_dma(struct edu *e, uint64_t bus_addr, uint32_t buf_offset, uint32_t len, int to_device);

/* Sets bits in edu's interrupt status, which raises its MSI (whatever
 * address and data its MSI capability holds); and acknowledges what is
 * pending, returning it. For tests of interrupt delivery. */
void edu_raise_irq(struct edu *e, uint32_t status);
uint32_t edu_irq_ack(struct edu *e);

/* edu-pcie: its DMA from now on carries pasid, with privileged mode when
 * priv (the PASID capability must enable both, pci_pasid_enable, or the
 * function does not issue it); -E_NODEV on a plain edu. Untagged again
 * after edu_untag. */
int edu_tag_pasid(struct edu *e, uint32_t pasid, int priv);
void edu_untag(struct edu *e);
/* edu-pcie: how the last DMA ended, read from the device. */
enum edu_dma_status edu_last_dma_status(struct edu *e);

/* edu-pcie with an ATS capability (ats=on, qemu/patches/0009): with
 * translated set, its tagged DMA is made of translated requests, each page
 * from its address-translation cache or from a translation request that
 * fills it (pci_ats_enable first); with ignore_invalidations it leaves the
 * unit's device-TLB invalidations unanswered and keeps what they cover.
 * -E_NODEV without the capability. */
int edu_ats_set(struct edu *e, int translated, int ignore_invalidations);
/* The translations its cache holds, read from the device (0 without ATS). */
unsigned edu_atc_entries(struct edu *e);

#endif
