/* "The device" of the SVA suites: a DMA engine that moves data between a
 * buffer of its own and addresses its requests carry, which the IOMMU
 * translates (under SVA: kernel virtual addresses). Intel DSA wherever one
 * is found (hardware, or vtdlab's model on the dsa-model profile), whose
 * requests carry a PASID and, where its PASID capability allows,
 * supervisor privilege; else QEMU's edu. One interface, so that sva,
 * sva_stale, reclaim (the torture included) and pwc run on either. */
#ifndef VTDLAB_DEVICES_DMA_DEV_H
#define VTDLAB_DEVICES_DMA_DEV_H

#include <stddef.h>
#include <stdint.h>
#include "dsa.h"
#include "edu.h"
#include "../mm/layout.h"

#define DMA_DEV_BUFFER_SIZE EDU_BUFFER_SIZE
/* Where DSA's buffer and completion record are mapped while it is bound:
 * its requests reach them through the bound PASID like any other kernel
 * VA, with user or supervisor privilege alike (the kva area carries U/S
 * when requests are user requests). A 1 GiB slot of its own, clear of the
 * suites' slots. */
#define DMA_DEV_DSA_VA      (KVA_BASE + (500ul << 30))
#define DMA_DEV_DSA_RECORD_VA (DMA_DEV_DSA_VA + PAGE_SIZE)

enum dma_dev_kind { DMA_DEV_EDU, DMA_DEV_DSA };

struct dma_dev {
    enum dma_dev_kind kind;
    struct pci_dev *pci;
    struct edu edu;              /* DMA_DEV_EDU */
    struct dsa dsa;              /* DMA_DEV_DSA */
    uint64_t buffer_pa, record_pa;  /* DSA while bound; 0 otherwise */
    uint32_t pasid;
    int supervisor;              /* requests carry supervisor privilege */
    int bind_supervisor;         /* bound with privileged mode enabled */
    int bound;
    int unusable;                /* DSA: its WQ would enable with neither privilege; until unbound */
    unsigned records_refused;    /* DSA: completion records it could not write (SWERR) */
    unsigned faults_reported;    /* accesses the device itself reported refused (DSA's page-fault status, edu-pcie's DMA status) */
    uint64_t refused_va;         /* DSA: the address it named in its last refusal (its record's, or SWERR's) */
};

const char *dma_dev_name(const struct dma_dev *d);
/* The first Intel DSA function, or NULL. */
struct pci_dev *dma_dev_find_dsa(void);
#define DSA_IDS_TEXT "PCI 8086:0b25 or 8086:11fb"
/* The device the suites use: an Intel DSA that can take work (MOVDIR64B
 * on this CPU, a PASID capability, a free dedicated WQ), else the first
 * edu. -E_NOENT when there is neither, with why in `why` (a DSA that was
 * found and not usable says what it lacks). */
int dma_dev_probe(struct dma_dev *d, char *why, size_t size);
/* Whether its requests can carry supervisor privilege: DSA or edu-pcie
 * where the PASID capability supports privileged mode; a plain edu never
 * (its requests carry no PASID, so they are user requests). */
int dma_dev_can_supervise(const struct dma_dev *d);
/* Readies the device to make requests for pasid, with supervisor
 * privilege when asked. edu: nothing to do (its requests carry no PASID:
 * the unit takes the context entry's RID_PASID). edu-pcie: the PASID
 * capability on (with privileged mode when asked), its DMA tagged with
 * pasid. DSA: the PASID capability on, its buffer and completion record
 * mapped at DMA_DEV_DSA_VA, one dedicated WQ for pasid enabled. On
 * failure the device is left disabled and nothing stays mapped. */
int dma_dev_bind(struct dma_dev *d, uint32_t pasid, int supervisor);
/* While bound: its requests from now on carry supervisor privilege or
 * not (a user request to a supervisor page must fault). DSA: its
 * dedicated WQ's WQCFG (which a dedicated WQ takes the privilege from,
 * not the descriptor), the WQ disabled and enabled around it; edu-pcie:
 * its PASID register. -E_INVAL when
 * supervisor is asked of a binding made without privileged mode; -E_NODEV
 * for a device whose requests carry no PASID (plain edu: user requests
 * only). */
int dma_dev_set_privilege(struct dma_dev *d, int supervisor);
/* Whether the device itself tells a transfer the IOMMU refused (counted
 * in faults_reported): DSA and edu-pcie, not a plain edu. */
int dma_dev_reports_refusals(const struct dma_dev *d);
/* DSA: the device disabled, its PASID capability off, the mappings gone
 * (through the reclaim policy, like any kva unmap). edu-pcie: untagged,
 * its PASID capability off. */
void dma_dev_unbind(struct dma_dev *d);
/* The device reads len bytes at va into its buffer, or writes its buffer
 * to va. 0 once the device has finished, whether or not the IOMMU refused
 * the access: edu cannot tell, DSA and edu-pcie count it in
 * faults_reported; the unit's fault record says why. -E_FAULT when DSA
 * could not write its completion record (SWERR; counted in
 * records_refused, its address in refused_va): a caller that expects the
 * record refused says so by accepting it. Negative when the device itself
 * failed (-E_TIMEDOUT, -E_IO: edu-pcie could not issue the request, with
 * its state in the log). */
int dma_dev_read(struct dma_dev *d, uint64_t va, uint32_t len);
int dma_dev_write(struct dma_dev *d, uint64_t va, uint32_t len);
/* The device writes len bytes at va and makes no request to read them
 * first: edu writes its buffer, which is on the device (dma_dev_write);
 * DSA, whose buffer is memory it reaches through the IOMMU like va, fills
 * va with DMA_DEV_FILL_PATTERN (memory fill), so the first request that
 * can be refused is the one to va. What a case uses when it asks whether
 * a write to va is refused. Returns as dma_dev_write. */
int dma_dev_fill(struct dma_dev *d, uint64_t va, uint32_t len);
#define DMA_DEV_FILL_PATTERN 0xf111f111f111f111ul

#endif
