#include <stddef.h>
#include <string.h>
#include "sva.h"
#include "cap_reg.h"
#include "scalable_mode.h"
#include "../kernel/printk.h"
#include "../kernel/x86.h"
#include "../lib/errno.h"
#include "../mm/mm.h"
#include "../mm/walker.h"

enum sva_privilege sva_privilege(const struct vtd_unit *u, int device_supervisor)
{
    return ECAP_SRS(u->ecap) && device_supervisor ? SVA_SUPERVISOR : SVA_USER;
}

/* The PASID-based IOTLB invalidation of [start, end) for one PASID. */
static int flush_desc(const struct sva *s, uint32_t pasid, uint64_t start, uint64_t end, int tables_freed,
                      struct qi_desc *d)
{
    uint64_t addr = 0;
    unsigned am = 0;
    int all = end == KVA_FLUSH_ALL;
    if (!all)
        qi_range_to_mask(start, end, &addr, &am);
    /* IH=1 would let the unit keep paging-structure entries: only allowed
     * when no table was freed. */
    return !all && am <= CAP_MAMV(s->u->cap)
               ? qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = s->did,
                                                                 .pasid = pasid, .addr = addr, .am = am,
                                                                 .ih = !tables_freed })
               : qi_desc_pasid_iotlb(d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = s->did,
                                                                 .pasid = pasid });
}

/* The PASID-based device-TLB invalidation of [start, end) for one PASID
 * (VT-d spec 6.5.2.6): one page with S clear, else S set and the size in
 * the address's low ones (2^(k+1) pages for k trailing ones), or every
 * address. */
static int devtlb_flush_desc(const struct sva *s, uint32_t pasid, uint64_t start, uint64_t end, struct qi_desc *d)
{
    uint64_t addr = QI_DEVTLB_ALL_ADDR;
    unsigned am = 0;
    if (end != KVA_FLUSH_ALL) {
        qi_range_to_mask(start, end, &addr, &am);
        if (am)
            addr |= ((1ul << (am - 1)) - 1) << PAGE_SHIFT;
    }
    return qi_desc_pasid_device_tlb(d, (struct qi_pasid_device_tlb){ .sid = pci_source_id(s->dev), .pasid = pasid,
                                                                     .addr = addr,
                                                                     .size = end == KVA_FLUSH_ALL || am });
}

/* The IOTLB of one PASID, then (ATS on) the device's: a device that
 * missed in its own cache asks the unit, which must not answer from
 * what it has yet to drop. */
static int flush_pasid(const struct sva *s, uint32_t pasid, uint64_t start, uint64_t end, int tables_freed,
                       struct qi_desc *d, unsigned *n)
{
    int err = flush_desc(s, pasid, start, end, tables_freed, &d[(*n)++]);
    if (!err && s->ats)
        err = devtlb_flush_desc(s, pasid, start, end, &d[(*n)++]);
    return err;
}

int sva_flush_range(struct sva *s, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    struct qi_desc d[2 * (1 + SVA_SHARED_MAX)];
    unsigned n = 0;
    int err = flush_pasid(s, s->pasid, start, end, tables_freed, d, &n);
    /* Every binding joined now; one that joins later is not present yet,
     * one that leaves meanwhile is invalidated for nothing. */
    spin_lock(&s->members_lock);
    for (unsigned i = 0; i < s->nmembers && !err; i++)
        err = flush_pasid(s, s->members[i]->pasid, start, end, tables_freed, d, &n);
    spin_unlock(&s->members_lock);
    if (err)
        return err;
    uint32_t sq;
    err = qi_submit(s->qi, d, n, &sq);
    if (!err)
        err = qi_wait(s->qi, sq);
    if (!err && seq)
        *seq = sq;
    return err;
}

/* The binding as a walker of the kernel's tables (mm/walker.h). */
static struct sva *sva_of(struct kva_walker *w) { return (struct sva *)((char *)w - offsetof(struct sva, walker)); }

static int walker_flush(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    return sva_flush_range(sva_of(w), start, end, tables_freed, seq);
}

static int walker_completed(struct kva_walker *w, uint64_t seq) { return qi_completed(sva_of(w)->qi, (uint32_t)seq); }

/* One flush: qi_submit may wait for ring space, then qi_wait for the wait
 * descriptor, each bounded by VTD_WAIT_US; reclaim allows a flush no more. */
_Static_assert(2ul * VTD_WAIT_US <= KVA_FLUSH_WAIT_MAX_US, "a flush may outlast what reclaim allows it");

/* The first-stage PASID entry over root_pa for s, as its binding needs it. */
static int kernel_pasid_entry(const struct sva *s, uint64_t root_pa, struct vtd_pasid_entry *pe)
{
    int err = pasid_entry_first_stage(pe, root_pa, s->did, s->priv == SVA_SUPERVISOR);
    /* Supervisor requests honour read-only kernel pages only when WPE
     * follows the CPU's CR0.WP; walks snoop the caches only where the unit
     * says it can (ECAP.SMPWC), else mm flushes every table write. */
    err = err ? err : pasid_entry_set_wpe(pe, s->priv == SVA_SUPERVISOR && (read_cr0() & CR0_WP));
    return err ? err : pasid_entry_set_pwsnp(pe, ECAP_SMPWC(s->u->ecap));
}

static int bind(struct sva *s, struct vtd_unit *u, struct vtd_qi *qi, struct pci_dev *dev, int device_supervisor,
                uint64_t root_pa, int kernel, uint32_t pasid, uint16_t did, int override_width)
{
    memset(s, 0, sizeof(*s));
    if (!ECAP_SMTS(u->ecap) || !ECAP_FLTS(u->ecap) || !ECAP_PASID(u->ecap))
        return -E_RANGE;
    if (!dev || !qi->ring_pa || qi->desc_size != QI_DESC_256)
        return -E_INVAL;
    if (pasid >= vtd_pasid_limit(u) && !override_width)
        return -E_RANGE;
    /* What the registered walker dereferences must outlive every drain
     * that may call it, an aborted case's included: not stack memory. */
    if (kernel && (kernel_stack_contains(s, sizeof(*s)) || kernel_stack_contains(u, sizeof(*u)) ||
                   kernel_stack_contains(qi, sizeof(*qi)))) {
        printk("# sva: refusing to bind the kernel's tables with the binding, its unit or its queue on the stack "
               "(at %p, %p, %p): deferred drains would flush through them after the frame is gone\n",
               (void *)s, (void *)u, (void *)qi);
        return -E_INVAL;
    }
    spin_lock_init(&s->members_lock, "sva members");
    s->u = u;
    s->qi = qi;
    s->dev = dev;
    s->pasid = pasid;
    s->did = did;
    s->kernel = kernel;
    s->priv = sva_privilege(u, device_supervisor);
    /* Registered before the unit is told where the kernel's tables are:
     * its needs (U/S for user requests; every table write flushed from the
     * caches unless walks snoop them, ECAP.SMPWC) are in the tables by
     * then, and every change from then on is flushed from it. Pages an
     * earlier binding left pending are drained first. Caching mode
     * (CAP.CM): the unit may cache not-present entries, so maps are
     * flushed too. */
    s->walker = (struct kva_walker){ .name = "sva", .user = s->priv == SVA_USER, .snoops = ECAP_SMPWC(u->ecap) != 0,
                                     .caches_not_present = CAP_CM(u->cap) != 0, .flush = walker_flush,
                                     .completed = walker_completed };
    if (kernel) {
        int derr = kva_walker_register(&s->walker);
        if (derr == -E_EXIST || derr == -E_BUSY || derr == -E_TIMEDOUT)
            return derr;
        if (derr)
            printk("# sva: pages left pending before the bind could not be drained: %s\n", err_name(derr));
    }

    struct vtd_pasid_entry pe;
    int err = vtd_sm_tables_init(&s->tables);
    err = err ? err : kernel_pasid_entry(s, root_pa, &pe);
    uint16_t rid = pci_requester_id(dev);
    err = err ? err : vtd_sm_attach(u, qi, &s->tables, pci_sid_bus(rid), pci_sid_devfn(rid), pasid, &pe, override_width);
    if (err) {
        if (kernel)
            kva_walker_unregister(&s->walker);
        vtd_sm_tables_free(&s->tables);
        return err;
    }
    return 0;
}

int sva_bind_kernel(struct sva *s, struct vtd_unit *u, struct vtd_qi *qi, struct pci_dev *dev, int device_supervisor,
                    uint32_t pasid, uint16_t did, int override_width)
{
    return bind(s, u, qi, dev, device_supervisor, kernel_pt()->root_pa, 1, pasid, did, override_width);
}

int sva_bind_space(struct sva *s, struct vtd_unit *u, struct vtd_qi *qi, struct pci_dev *dev, int device_supervisor,
                   uint64_t root_pa, uint32_t pasid, uint16_t did)
{
    return bind(s, u, qi, dev, device_supervisor, root_pa, 0, pasid, did, 0);
}

static void leave(struct sva *s)
{
    struct sva *l = s->leader;
    spin_lock(&l->members_lock);
    for (unsigned i = 0; i < l->nmembers; i++)
        if (l->members[i] == s) {
            l->members[i] = l->members[--l->nmembers];
            l->members[l->nmembers] = NULL;
            break;
        }
    spin_unlock(&l->members_lock);
}

int sva_bind_kernel_shared(struct sva *s, struct sva *leader, struct pci_dev *dev, int device_supervisor,
                           uint32_t pasid)
{
    memset(s, 0, sizeof(*s));
    if (!leader || !leader->kernel || leader->leader || !dev || dev != leader->dev || kernel_stack_contains(s, sizeof(*s)) ||
        sva_privilege(leader->u, device_supervisor) != leader->priv)
        return -E_INVAL;
    if (pasid >= vtd_pasid_limit(leader->u))
        return -E_RANGE;
    *s = (struct sva){ .u = leader->u, .qi = leader->qi, .dev = dev, .pasid = pasid, .did = leader->did,
                       .priv = leader->priv, .kernel = 1, .leader = leader };
    spin_lock_init(&s->members_lock, "sva members");
    spin_lock(&leader->members_lock);
    int err = pasid == leader->pasid ? -E_EXIST : leader->nmembers == SVA_SHARED_MAX ? -E_BUSY : 0;
    for (unsigned i = 0; i < leader->nmembers && !err; i++)
        if (leader->members[i]->pasid == pasid)
            err = -E_EXIST;
    if (!err)
        leader->members[leader->nmembers++] = s;
    spin_unlock(&leader->members_lock);
    if (err)
        return err;
    /* In the leader's flushes from here: present only now. */
    struct vtd_pasid_entry pe;
    err = kernel_pasid_entry(s, kernel_pt()->root_pa, &pe);
    err = err ? err : vtd_pasid_install(s->u, &leader->tables, pasid, &pe, 0);
    struct qi_desc d;
    qi_desc_pasid_cache(&d, (struct qi_pasid_cache){ .gran = QI_PC_PASID, .did = s->did, .pasid = pasid });
    err = err ? err : qi_sync(s->qi, &d, 1);
    if (err) {
        vtd_pasid_clear(s->u, &leader->tables, pasid);
        leave(s);
    }
    return err;
}

int sva_unbind(struct sva *s)
{
    if (s->nmembers)
        return -E_BUSY;
    if (s->kernel && !s->leader) {
        /* What is pending is flushed through this binding before it goes. */
        int err = kva_walker_unregister(&s->walker);
        if (err)
            printk("# sva: pages pending reclaim could not be flushed before the unbind: %s\n", err_name(err));
    }
    vtd_pasid_clear(s->u, s->leader ? &s->leader->tables : &s->tables, s->pasid);
    /* VT-d spec 6.5.3.3: a PASID entry made not present needs the PASID
     * cache, the PASID-based IOTLB and (ECAP.DT) the device-TLB invalidated;
     * its context entry did not change, so the context cache keeps nothing
     * stale. */
    struct qi_desc d[3];
    unsigned n = 0;
    qi_desc_pasid_cache(&d[n++], (struct qi_pasid_cache){ .gran = QI_PC_PASID, .did = s->did, .pasid = s->pasid });
    qi_desc_pasid_iotlb(&d[n++], (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = s->did,
                                                          .pasid = s->pasid });
    if (ECAP_DT(s->u->ecap))
        qi_desc_pasid_device_tlb(&d[n++], (struct qi_pasid_device_tlb){ .sid = pci_source_id(s->dev),
                                                                        .pasid = s->pasid, .addr = QI_DEVTLB_ALL_ADDR,
                                                                        .size = 1, .global = 1 });
    /* Translation stays on: the device's next request must fault, not slip
     * through untranslated. The tables stay until translation is off. */
    int err = qi_sync(s->qi, d, n);
    /* A joined binding leaves its leader's flushes only now: its entry is
     * gone and nothing it cached is left. */
    if (s->leader)
        leave(s);
    return err;
}

/* DTE in the leader's context entry for its device, the context cache
 * invalidated (the entry changed; VT-d spec 6.5.3.1). */
static int set_dte(struct sva *s, int dte)
{
    uint16_t rid = pci_requester_id(s->dev);
    int err = vtd_sm_context_set_dte(s->u, &s->tables, pci_sid_bus(rid), pci_sid_devfn(rid), dte);
    struct qi_desc cc;
    qi_desc_context_cache(&cc, (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    return err ? err : qi_sync(s->qi, &cc, 1);
}

int sva_ats_enable(struct sva *s)
{
    if (s->leader || !s->dev)
        return -E_INVAL;
    if (!ECAP_DT(s->u->ecap))
        return -E_RANGE;
    if (!s->dev->ext_ats)
        return -E_NOENT;
    int err = set_dte(s, 1);
    if (!err)
        err = pci_ats_enable(s->dev, PAGE_SHIFT);
    if (!err)
        WRITE_ONCE(s->ats, 1);
    return err;
}

int sva_ats_disable(struct sva *s)
{
    if (s->leader || !s->dev || !s->ats)
        return -E_INVAL;
    /* What the device cached goes first, then its right to cache more. */
    struct qi_desc d[1 + SVA_SHARED_MAX];
    unsigned n = 0;
    int err = devtlb_flush_desc(s, s->pasid, 0, KVA_FLUSH_ALL, &d[n++]);
    spin_lock(&s->members_lock);
    for (unsigned i = 0; i < s->nmembers && !err; i++)
        err = devtlb_flush_desc(s, s->members[i]->pasid, 0, KVA_FLUSH_ALL, &d[n++]);
    spin_unlock(&s->members_lock);
    err = err ? err : qi_sync(s->qi, d, n);
    pci_ats_disable(s->dev);
    WRITE_ONCE(s->ats, 0);
    int derr = set_dte(s, 0);
    return err ? err : derr;
}
