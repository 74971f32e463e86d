/* vtd_sm_ss: scalable mode with a second-stage PASID entry (PGTT=2): DMA
 * through a domain's tables found via RID_PASID, and which invalidation
 * reaches its IOTLB entries: PASID-based IOTLB invalidation is for first-
 * stage and nested translations (VT-d spec 6.5.2.4); a second-stage-only
 * PASID is invalidated by DID with the IOTLB descriptor. Needs ECAP.SLTS
 * (QEMU: x-flts=off, the sm-ss profile). */
#include <string.h>
#include "iommu/cap.h"
#include "iommu/pasid.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define RID_PASID   2
#define IOVA_SRC    FIXTURE_IOVA
#define IOVA_DST    (FIXTURE_IOVA + PAGE_SIZE)
#define IOVA_RO     (FIXTURE_IOVA + 2 * PAGE_SIZE)  /* read-only, never read: not cached */
#define FR_SS_WRITE 0x05   /* write without W, second stage */
#define SS_PATTERN  0x55aa55aa00000000ul

struct ss {
    struct vtd_fixture fx;
    struct vtd_sm_tables tables;
};

static void up(struct test *t, struct ss *s)
{
    memset(s, 0, sizeof(*s));
    fixture_find(t, &s->fx);
    struct vtd_unit *u = &s->fx.u;
    if (!ECAP_SMTS(u->ecap))
        test_skip(t, "the unit has no scalable mode (ECAP.SMTS = 0)");
    if (!ECAP_SLTS(u->ecap))
        test_skip(t, "the unit has no second stage in scalable mode (ECAP.SLTS = 0; QEMU: x-flts=on)");
    ASSERT_EQ(t, qi_enable(&s->fx.qi, u, 1), 0);
    ASSERT_EQ(t, vtd_domain_init(&s->fx.dom, u, FIXTURE_DID, 0), 0);
    vtd_domain_use_queue(&s->fx.dom, &s->fx.qi);
    ASSERT_EQ(t, vtd_sm_tables_init(&s->tables), 0);
    struct vtd_pasid_entry pe;
    memset(&pe, 0, sizeof(pe));
    ASSERT_EQ(t, pasid_entry_set_pgtt(&pe, PGTT_SECOND_STAGE), 0);
    ASSERT_EQ(t, pasid_entry_set_slptptr(&pe, s->fx.dom.pt.root_pa), 0);
    ASSERT_EQ(t, pasid_entry_set_aw(&pe, vtd_aw_for_levels(s->fx.dom.levels)), 0);
    ASSERT_EQ(t, pasid_entry_set_did(&pe, FIXTURE_DID), 0);
    fixture_translation_on_or_skip(t, u,
                                   vtd_sm_attach(u, &s->fx.qi, &s->tables, pci_sid_bus(s->fx.sid),
                                                 pci_sid_devfn(s->fx.sid), RID_PASID, &pe, 1),
                                   "attaching the second-stage PASID entry");
}

static void down(struct test *t, struct ss *s)
{
    fixture_down(t, &s->fx);
    vtd_sm_tables_free(&s->tables);
}

static void dma_through_second_stage_pasid_entry(struct test *t)
{
    struct ss s;
    up(t, &s);
    uint64_t src = page_alloc(), dst = page_alloc();
    ASSERT_TRUE(t, src && dst, "out of frames");
    uint64_t *a = phys_to_virt(src), *b = phys_to_virt(dst);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*a); i++)
        a[i] = SS_PATTERN | i;
    memset(b, 0, PAGE_SIZE);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_SRC, src, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_DST, dst, PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_SRC, 0, PAGE_SIZE, 1), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0);
    EXPECT_EQ(t, memcmp(a, b, PAGE_SIZE), 0);
    /* a write through a read-only IOVA nothing has cached yet: a second-
     * stage fault with RID_PASID reported */
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_RO, src, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_RO, 0, PAGE_SIZE, 0), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &s.fx, &log);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_EQ(t, log.f[0].reason, FR_SS_WRITE);
    EXPECT_TRUE(t, log.f[0].pasid_present && log.f[0].pasid == RID_PASID, "the fault does not name PASID %u",
                RID_PASID);
    down(t, &s);
    page_free(src);
    page_free(dst);
}

/* Remap without invalidation: stale. A PASID-based IOTLB invalidation is
 * not for second-stage-only PASIDs: still stale. The domain-selective IOTLB
 * invalidation of the DID: fresh. */
static void did_invalidation_covers_second_stage_pasid(struct test *t)
{
    struct ss s;
    up(t, &s);
    uint64_t x = page_alloc(), a = page_alloc(), b = page_alloc();
    ASSERT_TRUE(t, x && a && b, "out of frames");
    uint64_t *px = phys_to_virt(x);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*px); i++)
        px[i] = SS_PATTERN | i;
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_SRC, x, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_DST, a, PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_SRC, 0, PAGE_SIZE, 1), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0); /* caches IOVA_DST -> a */
    ASSERT_EQ(t, vtd_domain_unmap(&s.fx.dom, IOVA_DST), 0);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_DST, b, PT_LEVEL_PT, SL_RW), 0);
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    memset(phys_to_virt(b), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0);
    EXPECT_TRUE(t, !memcmp(phys_to_virt(a), px, PAGE_SIZE), "without invalidation the write did not use IOVA -> a");
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, QI_PIOTLB_PAGE, FIXTURE_DID, RID_PASID, IOVA_DST, 0, 0), 0);
    ASSERT_EQ(t, qi_sync(&s.fx.qi, &d, 1), 0);
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0);
    EXPECT_TRUE(t, !memcmp(phys_to_virt(a), px, PAGE_SIZE),
                "a PASID-based invalidation reached a second-stage-only PASID's entry");
    ASSERT_EQ(t, qi_desc_iotlb(&d, QI_IOTLB_DOMAIN, FIXTURE_DID, 0, 0, 0), 0);
    ASSERT_EQ(t, qi_sync(&s.fx.qi, &d, 1), 0);
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0);
    EXPECT_TRUE(t, !memcmp(phys_to_virt(b), px, PAGE_SIZE), "after the DID's IOTLB invalidation the write did not reach b");
    down(t, &s);
    page_free(x);
    page_free(a);
    page_free(b);
}

/* The second-stage identity for a device with a reserved memory region:
 * its ranges only, so the page past the region faults. */
static void rmrr_device_keeps_identity_access(struct test *t)
{
    struct ss s;
    up(t, &s);
    struct edu other;
    uint64_t pa;
    const struct dmar_info *d = fixture_dmar_with_rmrr(t, &other, &pa);
    int whole_memory = 1;
    EXPECT_EQ(t, fixture_rmrr_identity_sm(t, &s.fx, &s.tables, d, RID_PASID, &whole_memory), 1);
    EXPECT_EQ(t, whole_memory, 0);
    fixture_rmrr_device_checked(t, &s.fx, &other, pa, whole_memory);
    down(t, &s);
}

TEST_SUITE(vtd_sm_ss, 45, 0,
           TEST(dma_through_second_stage_pasid_entry),
           TEST(did_invalidation_covers_second_stage_pasid),
           TEST(rmrr_device_keeps_identity_access));
