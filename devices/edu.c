#include <string.h>
#include "edu.h"
#include "../kernel/apic.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../kernel/traps.h"
#include "../kernel/x86.h"
#include "../lib/errno.h"

/* BAR0 registers (hw/misc/edu.c). Those below 0x80 take 32-bit accesses. */
#define EDU_ID           0x00
#define EDU_LIVENESS     0x04
#define EDU_IRQ_STATUS   0x24
#define EDU_IRQ_RAISE    0x60
#define EDU_IRQ_ACK      0x64
#define EDU_DMA_SRC      0x80
#define EDU_DMA_DST      0x88
#define EDU_DMA_COUNT    0x90
#define EDU_DMA_CMD      0x98
#define EDU_PASID        0xa0      /* edu-pcie */
#define EDU_DMA_STATUS   0xa4      /* edu-pcie, read-only */
#define EDU_PASID_MASK   0xfffffu  /* PASID[19:0] */
#define EDU_PASID_PRIV   (1u << 30)
#define EDU_PASID_EN     (1u << 31)
#define EDU_ATS_CTRL     0xa8      /* edu-pcie with ats=on */
#define EDU_ATS_CTRL_DMA        (1u << 0)   /* DMA made of translated requests */
#define EDU_ATS_CTRL_IGNORE_INV (1u << 1)   /* device-TLB invalidations left unanswered */
#define EDU_ATC_COUNT    0xac      /* valid address-translation cache entries */
#define EDU_ID_MAGIC     0x00edu   /* low half of the ID; major/minor above */
#define EDU_ID_MAGIC_MASK 0xffffu
#define EDU_DMA_START    (1u << 0)
#define EDU_DMA_FROM_DEV (1u << 1)
#define EDU_DMA_IRQ      (1u << 2)
#define EDU_IRQ_DMA      0x100u
/* The device-side address of its buffer, in edu's own DMA address space. */
#define EDU_BUFFER_ADDR  0x40000u
#define EDU_LIVENESS_PROBE 0x5a5a1234u
/* edu starts a transfer 100 ms (virtual) after the command, or what
 * vtdlab's QEMU sets (x-dma-delay-ms: 1 ms in vtdlab's profiles); leave
 * room for TCG without icount, where that is wall time. */
#define EDU_DMA_TIMEOUT_US 2000000u

static uint32_t rd32(struct edu *e, uint32_t off) { return *(volatile uint32_t *)(e->bar0 + off); }
static void wr32(struct edu *e, uint32_t off, uint32_t v) { *(volatile uint32_t *)(e->bar0 + off) = v; }
static void wr64(struct edu *e, uint32_t off, uint64_t v) { *(volatile uint64_t *)(e->bar0 + off) = v; }
static uint64_t rd64(struct edu *e, uint32_t off) { return *(volatile uint64_t *)(e->bar0 + off); }

/* Every edu shares one vector; the handler acknowledges all of them
 * through their BAR mappings, which outlive any struct edu. */
static volatile uint8_t *probed_bar[EDU_MAX];

static void edu_irq(struct trap_frame *f)
{
    for (unsigned i = 0; i < EDU_MAX; i++)
        if (probed_bar[i])
            *(volatile uint32_t *)(probed_bar[i] + EDU_IRQ_ACK) = *(volatile uint32_t *)(probed_bar[i] + EDU_IRQ_STATUS);
    apic_eoi();
}

int edu_probe_nth(struct edu *e, unsigned nth)
{
    memset(e, 0, sizeof(*e));
    if (nth >= EDU_MAX)
        return -E_INVAL;
    e->pci = pci_find_nth(EDU_VENDOR, EDU_DEVICE, nth);
    if (!e->pci)
        return -E_NOENT;
    e->bar0 = pci_map_bar(e->pci, 0, NULL);
    if (!e->bar0)
        return -E_IO;
    if ((rd32(e, EDU_ID) & EDU_ID_MAGIC_MASK) != EDU_ID_MAGIC)
        return -E_IO;
    wr32(e, EDU_LIVENESS, EDU_LIVENESS_PROBE);
    if (rd32(e, EDU_LIVENESS) != ~EDU_LIVENESS_PROBE)
        return -E_IO;
    e->tags_pasid = e->pci->ext_pasid != 0;
    if (e->tags_pasid)
        edu_untag(e);
    if (e->tags_pasid && e->pci->ext_ats) {
        /* untranslated requests, as a case that ended early may not have left it */
        edu_ats_set(e, 0, 0);
        pci_ats_disable(e->pci);
    }
    pci_enable_bus_master(e->pci);
    irq_set_handler(VEC_EDU, edu_irq);
    probed_bar[nth] = e->bar0;
    return pci_msi_enable(e->pci, apic_id(), VEC_EDU);
}

int edu_dma(struct edu *e, uint64_t bus_addr, uint32_t buf_offset, uint32_t len, int to_device)
{
    if (!len || buf_offset > EDU_BUFFER_SIZE || len > EDU_BUFFER_SIZE - buf_offset)
        return -E_INVAL;
    uint64_t dev_addr = EDU_BUFFER_ADDR + buf_offset;
    wr64(e, EDU_DMA_SRC, to_device ? bus_addr : dev_addr);
    wr64(e, EDU_DMA_DST, to_device ? dev_addr : bus_addr);
    wr64(e, EDU_DMA_COUNT, len);
    uint64_t start = clock_us();
    struct deadline d = deadline_after_us(EDU_DMA_TIMEOUT_US);
    uint64_t flags = read_rflags();
    wr64(e, EDU_DMA_CMD, EDU_DMA_START | EDU_DMA_IRQ | (to_device ? 0 : EDU_DMA_FROM_DEV));
    /* Halting lets QEMU's icount skip straight to the transfer; the MSI
     * (or the 100 Hz timer) wakes the CPU to look again. The check runs
     * with interrupts off and STI;HLT is atomic, so a completion between
     * the check and the halt is not slept through. */
    for (;;) {
        irq_disable();
        if (!(rd64(e, EDU_DMA_CMD) & EDU_DMA_START) || deadline_passed(d))
            break;
        wait_for_interrupt();
    }
    irq_restore(flags);
    uint64_t cmd = rd64(e, EDU_DMA_CMD);
    if (cmd & EDU_DMA_START) {
        printk("# edu: DMA %s 0x%lx did not finish in %u us: cmd=0x%lx src=0x%lx dst=0x%lx count=0x%lx "
               "irq status=0x%x\n", to_device ? "from" : "to", bus_addr, EDU_DMA_TIMEOUT_US, cmd,
               rd64(e, EDU_DMA_SRC), rd64(e, EDU_DMA_DST), rd64(e, EDU_DMA_COUNT), rd32(e, EDU_IRQ_STATUS));
        return -E_TIMEDOUT;
    }
    e->dmas++;
    e->wait_us_total += clock_us() - start;
    return 0;
}

void edu_raise_irq(struct edu *e, uint32_t status) { wr32(e, EDU_IRQ_RAISE, status); }

uint32_t edu_irq_ack(struct edu *e)
{
    uint32_t status = rd32(e, EDU_IRQ_STATUS);
    wr32(e, EDU_IRQ_ACK, status);
    return status;
}

int edu_tag_pasid(struct edu *e, uint32_t pasid, int priv)
{
    if (!e->tags_pasid)
        return -E_NODEV;
    if (pasid & ~EDU_PASID_MASK)
        return -E_RANGE;
    wr32(e, EDU_PASID, EDU_PASID_EN | (priv ? EDU_PASID_PRIV : 0) | pasid);
    return 0;
}

void edu_untag(struct edu *e)
{
    if (e->tags_pasid)
        wr32(e, EDU_PASID, 0);
}

enum edu_dma_status edu_last_dma_status(struct edu *e) { return (enum edu_dma_status)rd32(e, EDU_DMA_STATUS); }

int edu_ats_set(struct edu *e, int translated, int ignore_invalidations)
{
    if (!e->tags_pasid || !e->pci->ext_ats)
        return -E_NODEV;
    wr32(e, EDU_ATS_CTRL, (translated ? EDU_ATS_CTRL_DMA : 0) | (ignore_invalidations ? EDU_ATS_CTRL_IGNORE_INV : 0));
    return 0;
}

unsigned edu_atc_entries(struct edu *e) { return e->pci->ext_ats ? rd32(e, EDU_ATC_COUNT) : 0; }
