/* The SVA fixtures: the unit in scalable mode, the device bound to the
 * kernel's tables or to a private first-stage space. */
#include <string.h>
#include "vtd_fixture.h"
#include "fixture_live.h"
#include "case_state.h"
#include "iommu/cap_reg.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "mm/reclaim.h"

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
    case_unregister_walker_after(t, &sf->sva.walker);
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
    /* Which device the case's DMA is, found rather than assumed: the
     * expectations of a run with DSA say so by this line. */
    test_note(t, "device: %s at %02x:%02x.%x, PASID 0x%x, %s requests", dma_dev_name(&sf->dev), sf->dev.pci->bus,
              sf->dev.pci->dev, sf->dev.pci->fn, pasid, sf->dev.supervisor ? "supervisor" : "user");
    live.dev = sf->dev;
}

void fixture_sva_down(struct test *t, struct sva_fixture *sf)
{
    if (fixture_kept(t, &sf->fx))
        return;
    dma_dev_unbind(&sf->dev);
    live.dev.bound = 0;
    if (sf->dev.kind == DMA_DEV_DSA || sf->dev.edu.tags_pasid)
        test_diag(t, "%s reported %u refused access(es) in its completion records", dma_dev_name(&sf->dev),
                  sf->dev.faults_reported);
    if (sf->sva.u)
        EXPECT_EQ(t, sva_unbind(&sf->sva), 0);
    fixture_down(t, &sf->fx);
    /* fixture_down returned: translation is off (it asserts GSTS). */
    vtd_sm_tables_free(&sf->sva.tables);
}

/* The leaf probe's pages: a 1 GiB kva slot of its own, the pattern page
 * beside the target so their page table stays while the target goes. */
#define GIB                  (1ul << 30)
#define VA_PROBE_T           (KVA_BASE + 120 * GIB)
#define VA_PROBE_X           (VA_PROBE_T + PAGE_SIZE)
#define PROBE_PATTERN        0x1eaf1eaf00000000ul

static int leaf_kept = -1; /* not probed yet in this boot */

static void probe_leaf(struct test *t)
{
    static struct sva_fixture sf;
    case_set_reclaim_policy(t, RECLAIM_NONE); /* the unmap below is not flushed */
    fixture_sva_up(t, &sf, FIXTURE_PROBE_PASID, 0);
    uint64_t a = page_alloc(), x = page_alloc();
    ASSERT_TRUE(t, a && x, "out of frames");
    fill_pattern(x, PROBE_PATTERN);
    ASSERT_EQ(t, kva_map(VA_PROBE_X, x, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_PROBE_T, a, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, VA_PROBE_X, PAGE_SIZE), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_PROBE_T, PAGE_SIZE), 0);
    ASSERT_TRUE(t, where_pattern_landed(a, a, PROBE_PATTERN) == LANDED_IN_A,
                "leaf probe: the device's first write through 0x%lx did not reach its page", VA_PROBE_T);
    ASSERT_EQ(t, kva_unmap(VA_PROBE_T), 0);
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, VA_PROBE_T, PAGE_SIZE), 0);
    leaf_kept = where_pattern_landed(a, a, PROBE_PATTERN) == LANDED_IN_A;
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    test_diag(t, "leaf probe: after an unmap with no invalidation the device's write %s",
              leaf_kept ? "still reached the old page: the unit keeps first-stage leaf translations"
                        : "did not reach the old page: the unit re-walked");
    ASSERT_EQ(t, kva_unmap(VA_PROBE_X), 0);
    fixture_sva_down(t, &sf); /* its unbind invalidates the PASID whole */
    page_free(a);
    page_free(x);
}

int fixture_sva_unit_keeps_leaf(struct test *t)
{
    if (leaf_kept < 0)
        probe_leaf(t);
    return leaf_kept;
}
