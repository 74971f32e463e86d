#include <string.h>
#include "vtd_fixture.h"
#include "case_state.h"
#include "iommu/cap_reg.h"
#include "iommu/intremap.h"
#include "iommu/rmrr.h"
#include "iommu/iommu.h"
#include "kernel/printk.h"
#include "lib/errno.h"
#include "mm/mm.h"

/* What the running case's fixture set up, kept off the case's stack: if
 * the case ends without its fixture_down (an assertion, a fault, a
 * timeout), the cleanup after it takes the unit down in the safe order and
 * frees the memory only once the unit says (GSTS) it no longer reads it. */
static struct {
    int active, sva;
    struct vtd_unit u;
    uint64_t ring_pa, status_pa;
    struct vtd_legacy_tables tables;
    struct vtd_domain dom, rmrr_dom;
    struct vtd_sm_tables sm;
    struct dma_dev dev;          /* a device bound for SVA (DSA: disabled first) */
    uint64_t irt_pa;             /* an interrupt remapping table, its pages */
    unsigned irt_pages;
} live;

static void remember(const struct vtd_fixture *fx, const struct vtd_sm_tables *sm)
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
    if (live.sva)
        sva_forget();
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

static void skip_without_unit(struct test *t)
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

void fixture_legacy_up_levels(struct test *t, struct vtd_fixture *fx, int levels)
{
    fixture_find(t, fx);
    ASSERT_EQ(t, vtd_legacy_tables_init(&fx->tables), 0);
    int err = vtd_domain_init(&fx->dom, &fx->u, FIXTURE_DID, levels);
    if (err)
        test_skip(t, "the unit has no %s second-stage tables (CAP.SAGAW 0x%lx)",
                  levels == PT_LEVEL_PDPT ? "3-level (39-bit)" : levels == PT_LEVEL_PML4 ? "4-level (48-bit)" : "usable",
                  (unsigned long)CAP_SAGAW(fx->u.cap));
    struct vtd_context_entry ce;
    ASSERT_EQ(t, vtd_context_legacy_encode(&ce, fx->dom.pt.root_pa, vtd_aw_for_levels(fx->dom.levels),
                                           FIXTURE_DID, VTD_TT_UNTRANSLATED, 0), 0);
    unsigned rmrr_devices = fixture_rmrr_identity(t, fx, iommu_dmar());
    if (rmrr_devices)
        test_diag(t, "%u device(s) with reserved memory keep identity access to it", rmrr_devices);
    fixture_translation_on_or_skip(t, &fx->u, vtd_legacy_attach(&fx->u, &fx->tables, pci_sid_bus(fx->sid),
                                                                pci_sid_devfn(fx->sid), &ce),
                                   "the legacy-mode attach (context entry, SRTP, invalidation, TE)");
    remember(fx, NULL);
}

unsigned fixture_rmrr_identity(struct test *t, struct vtd_fixture *fx, const struct dmar_info *d)
{
    if (!dmar_segment_has_rmrr(d, fx->u.drhd->segment))
        return 0;
    if (!fx->rmrr_dom.u)
        ASSERT_EQ(t, vtd_domain_init(&fx->rmrr_dom, &fx->u, FIXTURE_RMRR_DID, fx->dom.levels), 0);
    remember(fx, NULL);
    unsigned n;
    int err = vtd_rmrr_identity(d, fx->u.drhd, &fx->u, &fx->tables, &fx->rmrr_dom, fx->edu.pci, &n);
    ASSERT_TRUE(t, err == 0, "mapping the reserved memory regions: %s", err_name(err));
    return n;
}

unsigned fixture_rmrr_identity_sm(struct test *t, struct vtd_fixture *fx, struct vtd_sm_tables *tables,
                                  const struct dmar_info *d, uint32_t binding_pasid, int *whole_memory)
{
    if (!dmar_segment_has_rmrr(d, fx->u.drhd->segment))
        return 0;
    int second_stage = ECAP_SLTS(fx->u.ecap) != 0;
    if (second_stage && !fx->rmrr_dom.u)
        ASSERT_EQ(t, vtd_domain_init(&fx->rmrr_dom, &fx->u, FIXTURE_RMRR_DID, 0), 0);
    remember(fx, tables);
    unsigned n;
    uint32_t pasid = binding_pasid == FIXTURE_RMRR_PASID ? FIXTURE_RMRR_PASID + 1 : FIXTURE_RMRR_PASID;
    int err = vtd_rmrr_identity_sm(d, fx->u.drhd, &fx->u, tables, second_stage ? &fx->rmrr_dom : NULL,
                                   FIXTURE_RMRR_DID, pasid, NULL, &n);
    if (err == -E_RANGE)
        test_skip(t, "the unit has neither second-stage translation nor pass-through (ECAP.SLTS 0, PT 0) to give the "
                  "reserved memory regions' devices identity access");
    ASSERT_TRUE(t, err == 0, "giving the reserved memory regions' devices identity access: %s", err_name(err));
    struct qi_desc inv[3];
    qi_desc_context_cache(&inv[0], (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    qi_desc_pasid_cache(&inv[1], (struct qi_pasid_cache){ .gran = QI_PC_GLOBAL });
    qi_desc_iotlb(&inv[2], (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    ASSERT_EQ(t, qi_sync(&fx->qi, inv, 3), 0);
    if (n)
        test_diag(t, "%u device(s) with reserved memory keep identity access through PASID %u (%s)", n, pasid,
                  second_stage ? "second stage, the ranges only" : "pass-through: all of memory 1:1");
    if (whole_memory)
        *whole_memory = !second_stage;
    return n;
}

struct dmar_info *fixture_dmar_with_rmrr(struct test *t, struct edu *other, uint64_t *pa)
{
    if (edu_probe_nth(other, 1))
        test_skip(t, "needs a second edu device to own the reserved region");
    if (other->pci->bus != 0)
        test_skip(t, "the second edu is behind a bridge: the scope built here names root-bus devices only");
    *pa = pages_alloc_contig(RMRR_PAGES + 1, 1);
    ASSERT_TRUE(t, *pa, "no %u contiguous frames", RMRR_PAGES + 1);
    static struct dmar_info d;
    d = *iommu_dmar();
    ASSERT_TRUE(t, d.nrmrr < DMAR_MAX_RMRR, "no room for one more RMRR");
    struct dmar_rmrr *r = &d.rmrr[d.nrmrr++];
    *r = (struct dmar_rmrr){ .segment = other->pci->segment, .base = *pa, .limit = *pa + RMRR_PAGES * PAGE_SIZE - 1 };
    r->scopes.count = 1;
    r->scopes.s[0] = (struct dmar_scope){ DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, { { other->pci->dev, other->pci->fn } } };
    return &d;
}

void fixture_rmrr_device_checked(struct test *t, struct vtd_fixture *fx, struct edu *other, uint64_t pa,
                                 int whole_memory)
{
    const uint64_t pattern = 0x7e7e000000000000ul;
    fill_pattern(pa, pattern);
    memset(phys_to_virt(pa + PAGE_SIZE), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(other, pa, 0, EDU_BUFFER_SIZE, 1), 0);
    ASSERT_EQ(t, edu_dma(other, pa + PAGE_SIZE, 0, EDU_BUFFER_SIZE, 0), 0);
    EXPECT_TRUE(t, where_pattern_landed(pa + PAGE_SIZE, pa, pattern) == LANDED_IN_A,
                "the device's copy through the region's physical addresses did not arrive");
    struct vtd_fault_log log;
    fixture_faults(t, fx, &log);
    EXPECT_EQ(t, log.count, 0);
    if (whole_memory) {
        test_diag(t, "pass-through: the page past the region is reachable too, so no fault is expected there");
    } else {
        /* Just past the region: not mapped, so the unit refuses it. */
        ASSERT_EQ(t, edu_dma(other, pa + RMRR_PAGES * PAGE_SIZE, 0, EDU_BUFFER_SIZE, 0), 0);
        fixture_faults(t, fx, &log);
        ASSERT_EQ(t, log.count, 1);
        EXPECT_EQ(t, log.f[0].sid, pci_requester_id(other->pci));
        EXPECT_EQ(t, log.f[0].addr, pa + RMRR_PAGES * PAGE_SIZE);
    }
    for (unsigned i = 0; i <= RMRR_PAGES; i++)
        page_free(pa + i * PAGE_SIZE);
}

void fixture_qi_up(struct test *t, struct vtd_fixture *fx)
{
    fixture_legacy_up(t, fx);
    if (!ECAP_QI(fx->u.ecap))
        test_skip(t, "the unit has no queued invalidation (ECAP.QI = 0)");
    fx->qi.trace = (test_cmdline(t)->trace & TRACE_QI) != 0;
    ASSERT_EQ(t, qi_enable(&fx->qi, &fx->u, 0), 0);
    vtd_domain_use_queue(&fx->dom, &fx->qi);
    remember(fx, NULL);
}

void fixture_qi_alone_up(struct test *t, struct vtd_fixture *fx)
{
    fixture_find(t, fx);
    if (!ECAP_QI(fx->u.ecap))
        test_skip(t, "the unit has no queued invalidation (ECAP.QI = 0)");
    fx->qi.trace = (test_cmdline(t)->trace & TRACE_QI) != 0;
    ASSERT_EQ(t, qi_enable(&fx->qi, &fx->u, 0), 0);
    remember(fx, NULL);
}

void fixture_remember_irt(const struct vtd_irt *irt)
{
    live.irt_pa = irt->pa;
    live.irt_pages = irt->pages;
}

void fixture_down(struct test *t, struct vtd_fixture *fx)
{
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

static void first_stage_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, int override_width,
                           uint64_t space_root);

void fixture_sva_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, int override_width)
{
    first_stage_up(t, sf, pasid, override_width, 0);
}

void fixture_space_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, uint64_t root_pa)
{
    first_stage_up(t, sf, pasid, 0, root_pa);
}

/* space_root 0: the kernel's own tables. */
static void first_stage_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, int override_width,
                           uint64_t space_root)
{
    memset(sf, 0, sizeof(*sf));
    skip_without_unit(t);
    char why[128];
    if (dma_dev_probe(&sf->dev, why, sizeof(why)))
        test_skip(t, "%s", why);
    fixture_find_for(t, &sf->fx, sf->dev.pci);
    struct vtd_unit *u = &sf->fx.u;
    if (!ECAP_SMTS(u->ecap))
        test_skip(t, "the unit has no scalable mode (ECAP.SMTS = 0)");
    if (!ECAP_FLTS(u->ecap))
        test_skip(t, "the unit has no first-stage translation (ECAP.FLTS = 0)");
    if (!ECAP_QI(u->ecap))
        test_skip(t, "the unit has no queued invalidation (ECAP.QI = 0)");
    /* The binding's requests are tagged (RID_PASID) and its flushes are
     * PASID-based: both need the unit's PASID support. */
    if (!ECAP_PASID(u->ecap))
        test_skip(t, "the unit has no PASID support (ECAP.PASID = 0; QEMU: x-pasid-mode=off)");
    sf->fx.qi.trace = (test_cmdline(t)->trace & TRACE_QI) != 0;
    ASSERT_EQ(t, qi_enable(&sf->fx.qi, u, 1), 0);
    if (override_width && pasid >= vtd_pasid_limit(u))
        test_diag(t, "PASID 0x%x is beyond the %u PASIDs the unit advertises (ECAP.PSS %lu): used knowingly",
                  pasid, vtd_pasid_limit(u), (unsigned long)ECAP_PSS(u->ecap));
    case_forget_flusher_after(t);
    remember(&sf->fx, NULL);
    int supervise = dma_dev_can_supervise(&sf->dev);
    int err = space_root ? sva_bind_space(&sf->sva, u, &sf->fx.qi, sf->dev.pci, supervise, space_root, pasid,
                                          FIXTURE_DID)
                         : sva_bind_kernel(&sf->sva, u, &sf->fx.qi, sf->dev.pci, supervise, pasid, FIXTURE_DID,
                                           override_width);
    fixture_translation_on_or_skip(t, u, err, "binding the kernel's tables");
    remember(&sf->fx, &sf->sva.tables);
    fixture_rmrr_identity_sm(t, &sf->fx, &sf->sva.tables, iommu_dmar(), pasid, NULL);
    /* A device that will not take the PASID (a WQ that refuses it, a PASID
     * capability the firmware locked) is one the case cannot use: it is
     * left disabled, and the case skips saying why (the log has the rest). */
    err = dma_dev_bind(&sf->dev, pasid, sf->sva.priv == SVA_SUPERVISOR);
    if (err)
        test_skip(t, "%s could not be readied for PASID 0x%x (%s): see the dsa/dma_dev lines above",
                  dma_dev_name(&sf->dev), pasid, err_name(err));
    live.dev = sf->dev;
}

void fixture_sva_down(struct test *t, struct sva_fixture *sf)
{
    dma_dev_unbind(&sf->dev);
    live.dev.bound = 0;
    if (sf->dev.kind == DMA_DEV_DSA)
        test_diag(t, "%s reported %u refused access(es) in its completion records", dma_dev_name(&sf->dev),
                  sf->dev.faults_reported);
    if (sf->sva.u)
        EXPECT_EQ(t, sva_unbind(&sf->sva), 0);
    fixture_down(t, &sf->fx);
    /* fixture_down returned: translation is off (it asserts GSTS). */
    vtd_sm_tables_free(&sf->sva.tables);
}

uint64_t sink_entry(uint64_t sink) { return sink | PTE_P | PTE_RW | PTE_US; }

void fill_words(uint64_t pa, uint64_t word)
{
    uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = word;
}

int words_intact(uint64_t pa, uint64_t word)
{
    const uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        if (READ_ONCE(p[i]) != word)
            return 0;
    return 1;
}

const char *const landed_name[] = { "nowhere", "the old page A", "the new page B" };

void fill_pattern(uint64_t pa, uint64_t pattern)
{
    uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = pattern | i;
}

static int has_pattern(uint64_t pa, uint64_t pattern)
{
    const uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        if (p[i] != (pattern | i))
            return 0;
    return 1;
}

enum landed where_pattern_landed(uint64_t a, uint64_t b, uint64_t pattern)
{
    return has_pattern(a, pattern) ? LANDED_IN_A : has_pattern(b, pattern) ? LANDED_IN_B : LANDED_NOWHERE;
}

unsigned fixture_unit_head(struct vtd_qi *q)
{
    return (unsigned)((vtd_read64(q->u, VTD_IQH) & VTD_IQ_INDEX_MASK) >> q->shift);
}

static const struct qi_desc *ring_at(const struct vtd_qi *q, unsigned i)
{
    return (const struct qi_desc *)(q->ring + (size_t)i * q->desc_size);
}

unsigned fixture_count_consumed(const struct vtd_qi *q, unsigned from, unsigned to,
                                int (*match)(const struct qi_desc *d, const void *arg), const void *arg)
{
    unsigned n = 0;
    for (unsigned i = from; i != to; i = (i + 1) % q->entries)
        n += match(ring_at(q, i), arg) != 0;
    return n;
}

void fixture_read_consumed(struct vtd_qi *q, unsigned from, unsigned to, struct vtd_consumed *c)
{
    memset(c, 0, sizeof(*c));
    c->last_ih = -1;
    for (unsigned i = from; i != to; i = (i + 1) % q->entries) {
        const struct qi_desc *d = ring_at(q, i);
        unsigned type = qi_desc_type(d);
        c->descriptors++;
        c->waits += type == QI_WAIT;
        if (type != QI_PASID_IOTLB)
            continue;
        c->pasid_iotlb++;
        int page = bits_get(d->qw[0], QI_GRAN) == QI_PIOTLB_PAGE;
        c->pasid_page += page;
        c->pasid_all += bits_get(d->qw[0], QI_GRAN) == QI_PIOTLB_ALL_IN_PASID;
        c->last_ih = page ? (int)bits_get(d->qw[1], QI_IH_QW1) : -1;
        c->ih_set += c->last_ih == 1;
    }
}

int fixture_qi_iotlb_page(struct vtd_fixture *fx, uint64_t iova, unsigned am)
{
    struct qi_desc d;
    int err = qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = FIXTURE_DID, .addr = iova, .am = am });
    return err ? err : qi_sync(&fx->qi, &d, 1);
}

/* Whether any word of a page's half (upper or lower) was written. */
static int half_written(uint64_t pa, int upper)
{
    const size_t words = PAGE_SIZE / 2 / sizeof(uint64_t);
    const uint64_t *w = (const uint64_t *)phys_to_virt(pa) + (upper ? words : 0);
    for (size_t i = 0; i < words; i++)
        if (w[i])
            return 1;
    return 0;
}

/* One device write from the middle of the first page to the middle of
 * the second: QEMU translates it page by page, so it uses (and caches)
 * both pages' translations; page i got the upper half of page 0 or the
 * lower half of page 1. */
static void straddling_write(struct test *t, struct vtd_fixture *fx, uint64_t iova, const uint64_t *frames[2])
{
    for (unsigned set = 0; set < 2; set++)
        for (unsigned i = 0; i < STRADDLE_PAGES; i++)
            memset(phys_to_virt(frames[set][i]), 0, PAGE_SIZE);
    ASSERT_EQ(t, fixture_dma_from_device(fx, iova + PAGE_SIZE / 2, PAGE_SIZE), 0);
}

void fixture_straddled_remap(struct test *t, struct vtd_fixture *fx, uint64_t iova, fixture_invalidate_fn invalidate,
                             unsigned am, enum landed landed[STRADDLE_PAGES])
{
    uint64_t old[STRADDLE_PAGES], new[STRADDLE_PAGES];
    const uint64_t *frames[2] = { old, new };
    for (unsigned i = 0; i < STRADDLE_PAGES; i++) {
        old[i] = page_alloc();
        new[i] = page_alloc();
        ASSERT_TRUE(t, old[i] && new[i], "out of frames");
        ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova + i * PAGE_SIZE, old[i], PT_LEVEL_PT, SL_RW), 0);
    }
    straddling_write(t, fx, iova, frames);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        ASSERT_TRUE(t, half_written(old[i], i == 0), "before any change the write did not reach page %u's frame", i);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++) {
        ASSERT_EQ(t, vtd_domain_unmap(&fx->dom, iova + i * PAGE_SIZE), 0);
        ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova + i * PAGE_SIZE, new[i], PT_LEVEL_PT, SL_RW), 0);
    }
    ASSERT_EQ(t, invalidate(fx, iova, am), 0);
    straddling_write(t, fx, iova, frames);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        landed[i] = half_written(new[i], i == 0) ? LANDED_IN_B
                    : half_written(old[i], i == 0) ? LANDED_IN_A : LANDED_NOWHERE;
    /* The frames go only after an invalidation that covers every page. */
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        ASSERT_EQ(t, vtd_domain_unmap(&fx->dom, iova + i * PAGE_SIZE), 0);
    ASSERT_EQ(t, vtd_domain_flush(&fx->dom), 0);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++) {
        page_free(old[i]);
        page_free(new[i]);
    }
}
