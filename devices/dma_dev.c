#include <stdio.h>
#include <string.h>
#include "dma_dev.h"
#include "pci.h"
#include "pci_pasid.h"
#include "../kernel/printk.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

/* DSA functions (Sapphire Rapids; Granite Rapids and later). */
static const uint16_t dsa_device_ids[] = { DSA_DEVICE_SPR, DSA_DEVICE_GNR };
#define DSA_WQ 0   /* the one dedicated WQ the suites use */

const char *dma_dev_name(const struct dma_dev *d)
{
    return d->kind == DMA_DEV_DSA ? "Intel DSA" : d->edu.tags_pasid ? "edu-pcie" : "edu";
}

struct pci_dev *dma_dev_find_dsa(void)
{
    for (size_t i = 0; i < sizeof(dsa_device_ids) / sizeof(dsa_device_ids[0]); i++) {
        struct pci_dev *p = pci_find(DSA_VENDOR, dsa_device_ids[i]);
        if (p)
            return p;
    }
    return NULL;
}

/* 0 when the DSA at p can take work from this kernel, else why not. */
static int dsa_usable(struct dma_dev *d, struct pci_dev *p, char *why, size_t size)
{
    memset(d, 0, sizeof(*d));
    d->kind = DMA_DEV_DSA;
    d->pci = p;
    if (!dsa_cpu_can_submit()) {
        snprintf(why, size, "the CPU has no MOVDIR64B to submit to DSA's dedicated WQ");
        return -E_NODEV;
    }
    if (!p->ext_pasid) {
        snprintf(why, size, "DSA at %02x:%02x.%x shows no PASID capability (disabled by the firmware?)", p->bus, p->dev,
                 p->fn);
        return -E_NODEV;
    }
    d->dsa.bar0 = pci_map_bar(p, DSA_BAR_REGS, NULL);
    d->dsa.bar2 = pci_map_bar(p, DSA_BAR_PORTALS, NULL);
    if (!d->dsa.bar0 || !d->dsa.bar2) {
        snprintf(why, size, "DSA at %02x:%02x.%x has no memory BAR%s", p->bus, p->dev, p->fn,
                 d->dsa.bar0 ? "2 (portals)" : "0 (registers)");
        return -E_NODEV;
    }
    pci_enable_bus_master(p);
    if (dsa_read_caps(&d->dsa)) {
        snprintf(why, size, "DSA at %02x:%02x.%x has no free dedicated WQ, engine or group", p->bus, p->dev, p->fn);
        return -E_NODEV;
    }
    return 0;
}

int dma_dev_probe(struct dma_dev *d, char *why, size_t size)
{
    snprintf(why, size, "no device to do DMA with (neither an Intel DSA nor QEMU's edu)");
    struct pci_dev *p = dma_dev_find_dsa();
    if (p && !dsa_usable(d, p, why, size))
        return 0;
    if (p)
        printk("# dma_dev: %s; trying edu\n", why);
    memset(d, 0, sizeof(*d));
    d->kind = DMA_DEV_EDU;
    if (edu_probe(&d->edu))
        return -E_NOENT;
    d->pci = d->edu.pci;
    return 0;
}

/* Whether its requests can carry a PASID of their own. */
static int tags_pasid(const struct dma_dev *d) { return d->kind == DMA_DEV_DSA || d->edu.tags_pasid; }

int dma_dev_can_supervise(const struct dma_dev *d)
{
    return tags_pasid(d) && pci_pasid_priv_supported(pci_read16(d->pci, d->pci->ext_pasid + PCI_PASID_CAP));
}

static void dsa_unmap_buffers(struct dma_dev *d)
{
    if (d->record_pa)
        kva_unmap_free(DMA_DEV_DSA_RECORD_VA);
    if (d->buffer_pa)
        kva_unmap_free(DMA_DEV_DSA_VA);
    d->buffer_pa = d->record_pa = 0;
}

/* Maps one new frame at va; its address, or 0 with nothing left behind. */
static uint64_t map_new_frame(uint64_t va)
{
    uint64_t pa = page_alloc();
    if (pa && kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX)) {
        page_free(pa);
        pa = 0;
    }
    return pa;
}

int dma_dev_bind(struct dma_dev *d, uint32_t pasid, int supervisor)
{
    d->pasid = pasid;
    d->supervisor = d->bind_supervisor = supervisor;
    if (!tags_pasid(d)) {
        d->bound = 1;
        return 0;
    }
    int err = pci_pasid_enable(d->pci, supervisor);
    if (err) {
        printk("# dma_dev: enabling %s's PASID capability%s: %s\n", dma_dev_name(d),
               supervisor ? " with privileged mode" : "", err_name(err));
        return err;
    }
    if (d->kind == DMA_DEV_EDU) {
        err = edu_tag_pasid(&d->edu, pasid, supervisor);
        if (err) {
            printk("# dma_dev: tagging edu-pcie's DMA with PASID 0x%x: %s\n", pasid, err_name(err));
            pci_pasid_disable(d->pci);
            return err;
        }
        d->bound = 1;
        return 0;
    }
    d->buffer_pa = map_new_frame(DMA_DEV_DSA_VA);
    d->record_pa = d->buffer_pa ? map_new_frame(DMA_DEV_DSA_RECORD_VA) : 0;
    err = d->record_pa ? dsa_configure_dedicated(&d->dsa, DSA_WQ, pasid, supervisor) : -E_NOMEM;
    if (err) {
        printk("# dma_dev: binding DSA to PASID 0x%x: %s\n", pasid, err_name(err));
        dsa_unmap_buffers(d);
        pci_pasid_disable(d->pci);
        return err;
    }
    d->bound = 1;
    return 0;
}

int dma_dev_set_privilege(struct dma_dev *d, int supervisor)
{
    if (!tags_pasid(d))
        return -E_NODEV;
    if (!d->bound || (supervisor && !d->bind_supervisor))
        return -E_INVAL;
    if (d->unusable)
        return -E_NODEV;
    int err = d->kind == DMA_DEV_EDU ? edu_tag_pasid(&d->edu, d->pasid, supervisor)
                                     : dsa_wq_set_privilege(&d->dsa, supervisor);
    if (err == -E_NODEV && d->kind == DMA_DEV_DSA) {
        d->unusable = 1;
        printk("# dma_dev: %s is unusable until unbound: its WQ would not enable with either privilege\n",
               dma_dev_name(d));
    }
    if (err)
        return err;
    d->supervisor = supervisor;
    return 0;
}

int dma_dev_reports_refusals(const struct dma_dev *d) { return tags_pasid(d); }

void dma_dev_unbind(struct dma_dev *d)
{
    if (!d->bound)
        return;
    d->bound = 0;
    d->unusable = 0;
    if (d->kind == DMA_DEV_EDU) {
        if (d->edu.tags_pasid) {
            edu_untag(&d->edu);
            pci_pasid_disable(d->pci);
        }
        return;
    }
    dsa_command(&d->dsa, DSA_CMD_DISABLE_DEVICE, 0);
    pci_pasid_disable(d->pci);
    dsa_unmap_buffers(d);
}

/* One descriptor run; a refused access counted, with the address DSA named.
 * A record the device could not write is no refused access of the
 * descriptor's: counted apart and returned, for the caller to expect. */
static int dsa_run(struct dma_dev *d, const struct dsa_desc *desc)
{
    if (d->unusable)
        return -E_NODEV;
    int err = dsa_execute(&d->dsa, desc, phys_to_virt(d->record_pa));
    if (err == -E_FAULT) {
        d->refused_va = d->dsa.fault_addr;
        if (d->dsa.record_refused) {
            d->records_refused++;
            return -E_FAULT;
        }
        d->faults_reported++;
        return 0;
    }
    return err;
}

static int dsa_move(struct dma_dev *d, uint64_t src, uint64_t dst, uint32_t len)
{
    struct dsa_desc desc;
    int err = dsa_desc_memmove(&desc, d->pasid, d->supervisor, src, dst, len, DMA_DEV_DSA_RECORD_VA, 0);
    return err ? err : dsa_run(d, &desc);
}

/* to_device: va into the device's buffer; else the buffer to va. */
/* edu: the transfer, and what edu-pcie says of it: a refusal by the
 * IOMMU is counted like DSA's; a request the function could not issue is
 * the device failing. */
static int edu_transfer(struct dma_dev *d, uint64_t va, uint32_t len, int to_device)
{
    int err = edu_dma(&d->edu, va, 0, len, to_device);
    if (err || !d->edu.tags_pasid)
        return err;
    enum edu_dma_status st = edu_last_dma_status(&d->edu);
    if (st == EDU_DMA_REFUSED_BY_IOMMU)
        d->faults_reported++;
    else if (st == EDU_DMA_ATS_NO_ACCESS || st == EDU_DMA_ATS_FAILED) {
        /* translated requests (edu_ats_set): nothing moved */
        printk("# dma_dev: edu-pcie's translation request for its DMA %s 0x%lx %s\n", to_device ? "from" : "to", va,
               st == EDU_DMA_ATS_FAILED ? "failed (Unsupported Request)"
                                        : "was answered without the access (R=W=0 for an unmapped page)");
        d->faults_reported++;
    } else if (st != EDU_DMA_DONE) {
        printk("# dma_dev: edu-pcie did not issue its DMA %s 0x%lx (status %u: PASID or privileged mode not "
               "enabled)\n", to_device ? "from" : "to", va, (unsigned)st);
        return -E_IO;
    }
    return 0;
}

static int transfer(struct dma_dev *d, uint64_t va, uint32_t len, int to_device)
{
    if (d->kind == DMA_DEV_EDU)
        return edu_transfer(d, va, len, to_device);
    if (!d->bound || !len || len > DMA_DEV_BUFFER_SIZE)
        return -E_INVAL;
    return to_device ? dsa_move(d, va, DMA_DEV_DSA_VA, len) : dsa_move(d, DMA_DEV_DSA_VA, va, len);
}

int dma_dev_read(struct dma_dev *d, uint64_t va, uint32_t len) { return transfer(d, va, len, 1); }
int dma_dev_write(struct dma_dev *d, uint64_t va, uint32_t len) { return transfer(d, va, len, 0); }

int dma_dev_fill(struct dma_dev *d, uint64_t va, uint32_t len)
{
    if (d->kind == DMA_DEV_EDU)
        return edu_transfer(d, va, len, 0);
    if (!d->bound || !len || len > DMA_DEV_BUFFER_SIZE)
        return -E_INVAL;
    struct dsa_desc desc;
    int err = dsa_desc_memfill(&desc, d->pasid, d->supervisor, DMA_DEV_FILL_PATTERN, va, len, DMA_DEV_DSA_RECORD_VA, 0);
    return err ? err : dsa_run(d, &desc);
}
