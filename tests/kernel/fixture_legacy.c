/* The legacy-mode fixtures: tables, a second-stage domain and TE on
 * through vtd_legacy_attach, the queue, and the straddled remap the
 * stale-translation cases share. */
#include <string.h>
#include "vtd_fixture.h"
#include "fixture_live.h"
#include "iommu/cap_reg.h"
#include "iommu/iommu.h"
#include "lib/errno.h"
#include "mm/mm.h"

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
