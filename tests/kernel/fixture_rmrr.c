/* Reserved memory regions (RMRRs) in the fixtures: identity access for
 * their devices in both modes, a DMAR with one added, and the check that
 * a device reaches its region and nothing past it. */
#include <string.h>
#include "vtd_fixture.h"
#include "fixture_live.h"
#include "iommu/cap_reg.h"
#include "iommu/iommu.h"
#include "iommu/rmrr.h"
#include "lib/errno.h"
#include "mm/mm.h"

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
