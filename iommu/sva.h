/* Shared virtual addressing on the kernel's own page tables: a device's
 * requests are translated by a PASID entry whose first-stage pointer is the
 * kernel's live top-level table. */
#ifndef VTDLAB_IOMMU_SVA_H
#define VTDLAB_IOMMU_SVA_H

#include <stdint.h>
#include "../devices/pci.h"
#include "../kernel/lock.h"
#include "../mm/walker.h"
#include "scalable_mode.h"
#include "qi.h"

/* How the device's requests walk the kernel's tables, chosen in one place
 * (sva_privilege) from what the unit supports: supervisor requests (SRE)
 * when ECAP.SRS says it can honour them, else user requests, for which
 * every entry on the device's path needs U/S=1. QEMU's emulated devices
 * only ever make user requests, and QEMU has SRS=0. */
enum sva_privilege { SVA_USER, SVA_SUPERVISOR };
/* device_supervisor: whether the device can make supervisor requests at
 * all (DSA with PASID privileged mode; never QEMU's edu). */
enum sva_privilege sva_privilege(const struct vtd_unit *u, int device_supervisor);

/* Bindings that may join one binding of the kernel's tables (so that one
 * batch, their invalidations and one wait, fits the queue). */
#define SVA_SHARED_MAX 7

struct sva {
    struct vtd_unit *u;
    struct vtd_qi *qi;
    struct vtd_sm_tables tables;
    struct pci_dev *dev;
    uint32_t pasid;           /* also the context entry's RID_PASID (a joined binding's: its leader's) */
    uint16_t did;
    enum sva_privilege priv;
    int kernel;               /* the kernel's own tables (else a private space) */
    struct kva_walker walker; /* registered with mm while the kernel's tables are bound */
    /* Several bindings of the kernel's tables on distinct PASIDs sharing
     * one domain id (the shape Linux gives SVA): the first is the leader,
     * whose walker flushes every one of them in one batch; the others
     * joined it (sva_bind_kernel_shared) and have no walker or tables of
     * their own. */
    struct sva *leader;                     /* a joined binding's; NULL for a leader */
    struct spinlock members_lock;           /* a leader's: owns members and nmembers */
    struct sva *members[SVA_SHARED_MAX];
    unsigned nmembers;
    /* A leader's: the device's ATS is on (sva_ats_enable), so each flush
     * also invalidates the device-TLB of every PASID it covers. Written
     * before the device may cache anything, cleared after. */
    int ats;
};

/* Scalable-mode tables, the context entry for dev with RID_PASID = pasid,
 * the PASID entry over the kernel's root table, caches invalidated, TE on,
 * and s->walker registered with mm (mm/walker.h) first. The queue must be
 * on with 256-bit descriptors. Errors name what the unit lacks (-E_RANGE)
 * and leave no entry present and no walker registered (-E_BUSY: mm has
 * KVA_WALKERS_MAX already). override_width: use a PASID beyond ECAP.PSS
 * knowingly. The walker keeps pointers to s, u and qi until it is
 * unregistered (sva_unbind, or kva_walker_unregister after an aborted
 * case), and deferred drains use them meanwhile from any CPU: they must
 * not be on a stack (-E_INVAL, printed). */
int sva_bind_kernel(struct sva *s, struct vtd_unit *u, struct vtd_qi *qi, struct pci_dev *dev, int device_supervisor,
                    uint32_t pasid, uint16_t did, int override_width);
/* The same binding over a first-stage space that is not the kernel's (a
 * test's private tables rooted at root_pa): no walker is registered, so
 * the kernel's tables are left alone; the owner of the
 * tables flushes its writes from the caches where walks do not snoop
 * (ECAP.SMPWC = 0) and invalidates after changing them. */
int sva_bind_space(struct sva *s, struct vtd_unit *u, struct vtd_qi *qi, struct pci_dev *dev, int device_supervisor,
                   uint64_t root_pa, uint32_t pasid, uint16_t did);
/* Another binding of the kernel's tables on the leader's unit, queue,
 * tables and domain id, for pasid, from dev (the leader's device: its
 * context entry is the one there is): the PASID entry is installed after s
 * has joined the leader's flushes, so every kva change from then on is
 * flushed from it in the leader's batch. Its privilege is the leader's
 * (the tables carry what the leader's walker asked for): device_supervisor
 * must agree, else -E_INVAL. -E_INVAL: the leader is not a kernel binding
 * of its own, dev is another device, s is on the stack; -E_EXIST: pasid is
 * bound already; -E_RANGE: beyond ECAP.PSS; -E_BUSY: SVA_SHARED_MAX
 * joined. Nothing is left joined or present on error. */
int sva_bind_kernel_shared(struct sva *s, struct sva *leader, struct pci_dev *dev, int device_supervisor,
                           uint32_t pasid);
/* Unregisters the walker (draining what is pending through it), clears
 * the PASID entry, then invalidates the PASID cache, the PASID's
 * IOTLB entries and (if the unit has device-TLBs) the device's, in that
 * order. Translation stays on, so the device's next request faults; the
 * tables are freed by the caller (vtd_sm_tables_free) once TE is off. A
 * joined binding: its entry cleared and invalidated the same way while it
 * is still in its leader's flushes, then it leaves them. A leader with
 * bindings joined: -E_BUSY, nothing done. */
int sva_unbind(struct sva *s);
/* ATS for the leader's device as Linux sets it up: with a device-TLB in
 * the unit (ECAP.DT) and an ATS capability in the function, DTE set in its
 * context entry (the context cache invalidated), ATS enabled with 4 KiB
 * translations; from then on every flush of the binding invalidates the
 * device-TLB after the IOTLB (VT-d spec 6.5.2.6). -E_RANGE: the unit has
 * no device-TLB; -E_NOENT: the function no ATS capability. Disabled again
 * (the device-TLB invalidated, ATS off, DTE clear) by sva_ats_disable. */
int sva_ats_enable(struct sva *s);
int sva_ats_disable(struct sva *s);
/* What the walker's flush does, for tests that call it directly: one
 * batch of PASID-based IOTLB invalidations of [start, end), one for the
 * binding's PASID and one for each binding joined to it (page-selective
 * with the smallest covering address mask, or all-in-PASID past MAMV),
 * each followed by its PASID-based device-TLB invalidation while ATS is
 * on (sva_ats_enable), then one wait. */
int sva_flush_range(struct sva *s, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq);

#endif
