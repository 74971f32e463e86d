/* The fixtures' core: finding the unit that covers a device and starting
 * from a clean unit, the record of what the case set up and the take-down
 * after a case that ended early, the orderly take-down, faults, DMA. The
 * set-ups themselves: fixture_legacy.c, fixture_sva.c, fixture_rmrr.c. */
#include <string.h>
#include "vtd_fixture.h"
#include "fixture_live.h"
#include "case_state.h"
#include "iommu/cap_reg.h"
#include "iommu/intremap.h"
#include "iommu/inv_reg.h"
#include "iommu/iommu.h"
#include "kernel/printk.h"
#include "lib/errno.h"
#include "mm/mm.h"

struct fixture_live live;

void remember(const struct vtd_fixture *fx, const struct vtd_sm_tables *sm)
{
    live.active = 1;
    live.u = fx->u;
    live.ring_pa = fx->qi.ring_pa;
    live.status_pa = fx->qi.status_pa;
    live.tables = fx->tables;
    live.dom = fx->dom;
    live.rmrr_dom = fx->rmrr_dom;
    live.sva = sm != NULL;
    if (sm)
        live.sm = *sm;
}

static void take_down_after_abort(uintptr_t unused)
{
    if (!live.active)
        return;
    live.active = 0;
    struct vtd_unit *u = &live.u;
    /* The device stops making requests before the unit goes down. */
    dma_dev_unbind(&live.dev);
    /* The unit's own view of what is on, not the copy's. */
    u->gcmd = vtd_read32(u, VTD_GSTS) & VTD_GCMD_PERSISTENT;
    if (u->gcmd & VTD_GCMD_IRE)
        vtd_gcmd(u, VTD_GCMD_IRE, 0);
    if (live.irt_pa && !(vtd_read32(u, VTD_GSTS) & VTD_GCMD_IRE)) {
        for (unsigned i = 0; i < live.irt_pages; i++)
            page_free(live.irt_pa + (uint64_t)i * PAGE_SIZE);
        live.irt_pa = 0;
    }
    if (u->gcmd & VTD_GCMD_TE)
        vtd_gcmd(u, VTD_GCMD_TE, 0);
    if (u->gcmd & VTD_GCMD_QIE)
        qi_force_off(u);
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    if (gsts & (VTD_GCMD_TE | VTD_GCMD_QIE)) {
        printk("# fixture: after the case that ended early the unit still has%s%s on (GSTS 0x%08x): its tables and queue "
               "stay allocated\n", gsts & VTD_GCMD_TE ? " translation" : "", gsts & VTD_GCMD_QIE ? " the queue" : "",
               gsts);
        return;
    }
    /* Translation is off, so the unit walks none of the tables; what it
     * cached through tables an unmap unlinked and the case never flushed
     * goes with a global IOTLB invalidation (which drops the
     * paging-structure caches too, VT-d spec 6.5.1.2) before they go back:
     * through the registers, as the legacy-mode attach invalidates, now
     * that the queue is off. In scalable mode, where a unit need not take
     * register-based invalidations (VT-d spec 6.5), the global
     * invalidations every set-up makes before translation goes on again
     * are the ones that cover them. */
    int scalable = (vtd_read64(u, VTD_RTADDR) & VTD_RTADDR_TTM_SCALABLE) != 0;
    int inv = scalable ? 0 : vtd_reg_invalidate_iotlb(u, VTD_INV_GLOBAL, 0, 0, 0);
    if (inv) {
        printk("# fixture: after the case that ended early the global IOTLB invalidation failed (%s): its tables "
               "stay allocated\n", err_name(inv));
        return;
    }
    if (live.ring_pa)
        page_free(live.ring_pa);
    if (live.status_pa)
        page_free(live.status_pa);
    vtd_domain_destroy(&live.dom);
    if (live.rmrr_dom.u)
        vtd_domain_destroy(&live.rmrr_dom);
    vtd_legacy_tables_free(&live.tables);
    vtd_sm_tables_free(&live.sm);
    printk("# fixture: the case ended early (failed, faulted or skipped); its unit is off (GSTS 0x%08x), its tables "
           "and queue are freed\n", gsts);
}

/* A unit that does not take GCMD.TE has no DMA translation to test. */
void fixture_translation_on_or_skip(struct test *t, struct vtd_unit *u, int err, const char *what)
{
    if (err == -E_NODEV)
        test_skip(t, "the unit does not turn DMA translation on (GCMD.TE not acknowledged, CAP.SAGAW 0x%lx; "
                  "QEMU: dma-translation=off)", (unsigned long)CAP_SAGAW(u->cap));
    ASSERT_TRUE(t, err == 0, "%s failed: %s", what, err_name(err));
}

void skip_without_unit(struct test *t)
{
    const struct dmar_info *d = iommu_dmar();
    if (!d || !d->ndrhd)
        test_skip(t, "no VT-d unit (no DMAR table)");
}

void fixture_find(struct test *t, struct vtd_fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    skip_without_unit(t);
    if (edu_probe(&fx->edu))
        test_skip(t, "no edu device to do DMA with");
    fixture_find_for(t, fx, fx->edu.pci);
}

void fixture_find_for(struct test *t, struct vtd_fixture *fx, struct pci_dev *dev)
{
    skip_without_unit(t);
    /* The unit that covers the device; the others are left as they are. */
    const struct dmar_drhd *unit = iommu_unit_for(dev);
    if (!unit)
        test_skip(t, "no remapping unit covers %04x:%04x at %02x:%02x.%x", dev->vendor, dev->device, dev->bus,
                  dev->dev, dev->fn);
    if (!iommu_unit_answers(unit))
        test_skip(t, "the unit at 0x%lx that covers %02x:%02x.%x does not answer (the boot log says what it read)",
                  (unsigned long)unit->base, dev->bus, dev->dev, dev->fn);
    int err = vtd_unit_init(&fx->u, unit);
    ASSERT_EQ(t, err, 0);
    fx->sid = pci_requester_id(dev);
    /* Leftovers of an earlier case, as the unit reports them (GSTS):
     * translation and the queue off, old faults cleared. */
    uint32_t gsts = vtd_read32(&fx->u, VTD_GSTS);
    if (gsts & VTD_GCMD_IRE)
        ASSERT_EQ(t, vtd_gcmd(&fx->u, VTD_GCMD_IRE, 0), 0);
    if (gsts & VTD_GCMD_TE)
        ASSERT_EQ(t, vtd_gcmd(&fx->u, VTD_GCMD_TE, 0), 0);
    if (gsts & VTD_GCMD_QIE)
        ASSERT_EQ(t, qi_force_off(&fx->u), 0);
    vtd_write32(&fx->u, VTD_FSTS, VTD_FSTS_ERRORS);
    struct vtd_fault_log old;
    vtd_fault_collect(&fx->u, &old);
    case_fault_events(t, &fx->u);
    memset(&live, 0, sizeof(live));
    test_on_exit(t, take_down_after_abort, 0);
    remember(fx, NULL);
}

void fixture_remember_irt(const struct vtd_irt *irt)
{
    live.irt_pa = irt->pa;
    live.irt_pages = irt->pages;
}

int fixture_kept(struct test *t, const struct vtd_fixture *fx)
{
    if (!test_cmdline(t)->keep || !test_is_last(t))
        return 0;
    test_diag(t, "keep=1: unit at 0x%lx left up for the shell (translation, queue and tables as the case left "
              "them)", fx->u.drhd->base);
    live.active = 0;   /* nor taken down after the case */
    return 1;
}

void fixture_down(struct test *t, struct vtd_fixture *fx)
{
    if (fixture_kept(t, fx))
        return;
    live.active = 0;
    struct vtd_fault_log left;
    fixture_faults(t, fx, &left);
    EXPECT_TRUE(t, left.count == 0 && !left.overflow, "%u fault(s) the case did not expect (see above)", left.count);
    if (vtd_read32(&fx->u, VTD_GSTS) & VTD_GCMD_TE)
        vtd_gcmd(&fx->u, VTD_GCMD_TE, 0);
    if (fx->qi.ring_pa)
        EXPECT_EQ(t, qi_disable(&fx->qi), 0);
    /* Tables the unit may still walk are never freed. */
    ASSERT_TRUE(t, !(vtd_read32(&fx->u, VTD_GSTS) & VTD_GCMD_TE), "translation did not turn off: tables kept");
    vtd_domain_destroy(&fx->dom);
    if (fx->rmrr_dom.u)
        vtd_domain_destroy(&fx->rmrr_dom);
    vtd_legacy_tables_free(&fx->tables);
}

void fixture_faults(struct test *t, struct vtd_fixture *fx, struct vtd_fault_log *log)
{
    vtd_fault_collect(&fx->u, log);
    for (unsigned i = 0; i < log->count; i++) {
        char text[160];
        vtd_fault_describe(&log->f[i], text, sizeof(text));
        test_diag(t, "fault: %s", text);
    }
    if (log->overflow)
        test_diag(t, "fault: primary fault overflow (PFO)");
}

int fixture_dma_to_device(struct vtd_fixture *fx, uint64_t iova, uint32_t len)
{
    return edu_dma(&fx->edu, iova, 0, len, 1);
}

int fixture_dma_from_device(struct vtd_fixture *fx, uint64_t iova, uint32_t len)
{
    return edu_dma(&fx->edu, iova, 0, len, 0);
}
