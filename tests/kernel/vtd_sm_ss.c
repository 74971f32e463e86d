/* vtd_sm_ss: scalable mode with a second-stage PASID entry (PGTT=2): DMA
 * through a domain's tables found via RID_PASID, and which invalidation
 * reaches its IOTLB entries: PASID-based IOTLB invalidation is for first-
 * stage and nested translations (VT-d spec 6.5.2.4); a second-stage-only
 * PASID is invalidated by DID with the IOTLB descriptor. Needs ECAP.SLTS
 * (QEMU: x-flts=off, the sm-ss profile). */
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/scalable_mode.h"
#include "mm/mm.h"
#include "vtd_fixture.h"
#include "fixture_live.h"

#define RID_PASID   2
#define IOVA_SRC    FIXTURE_IOVA
#define IOVA_DST    (FIXTURE_IOVA + PAGE_SIZE)
#define IOVA_RO     (FIXTURE_IOVA + 2 * PAGE_SIZE)  /* read-only, never read: not cached */
#define IOVA_PAIR   (FIXTURE_IOVA + (4ul << 20))  /* STRADDLE_PAGES pages, aligned to them */
#define PAIR_AM     1                             /* 2^1 pages: the pair */
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
    /* For the take-down after a case that ends early: the queue, the
     * domain (with the tables its unmaps hold) and the PASID tables. */
    remember(&s->fx, &s->tables);
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
    fill_pattern(src, SS_PATTERN);
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

/* Which page the device's write through IOVA_DST reached: a (the old
 * mapping), b (the new one) or neither. */
static enum landed write_dst(struct test *t, struct ss *s, uint64_t a, uint64_t b)
{
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    memset(phys_to_virt(b), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(&s->fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0);
    return where_pattern_landed(a, b, SS_PATTERN);
}

/* Remap without invalidation: stale on a unit that keeps the leaf it
 * used (QEMU's IOTLB does), fresh on one that re-walks; either is allowed,
 * and which one the device showed is characterised. Only after a stale
 * write is there anything for an invalidation to drop: a unit that
 * re-walked ends the case there. Then a PASID-based IOTLB invalidation:
 * the spec makes it cover first-stage and nested translations (6.5.2.4)
 * and says nothing of it leaving a second-stage-only PASID's entries (a
 * unit may always invalidate more), so where the write lands is reported
 * as a characterisation, either page being correct. The domain-selective
 * IOTLB invalidation of the DID must reach it (6.5.2.3): fresh. */
static void did_invalidation_covers_second_stage_pasid(struct test *t)
{
    struct ss s;
    up(t, &s);
    uint64_t x = page_alloc(), a = page_alloc(), b = page_alloc();
    ASSERT_TRUE(t, x && a && b, "out of frames");
    fill_pattern(x, SS_PATTERN);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_SRC, x, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_DST, a, PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_SRC, 0, PAGE_SIZE, 1), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_DST, 0, PAGE_SIZE, 0), 0); /* caches IOVA_DST -> a */
    ASSERT_EQ(t, vtd_domain_unmap(&s.fx.dom, IOVA_DST), 0);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_DST, b, PT_LEVEL_PT, SL_RW), 0);
    enum landed l = write_dst(t, &s, a, b);
    ASSERT_TRUE(t, l != LANDED_NOWHERE, "without invalidation the write reached neither mapping");
    test_characterisation(t, "stale_translation_used", l == LANDED_IN_A, "without invalidation the %s",
                          l == LANDED_IN_A ? "device used the cached IOVA -> a" : "unit re-walked the tables");
    if (l == LANDED_IN_A) {
        struct qi_desc d;
        ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = FIXTURE_DID,
                                                                      .pasid = RID_PASID, .addr = IOVA_DST }), 0);
        ASSERT_EQ(t, qi_sync(&s.fx.qi, &d, 1), 0);
        l = write_dst(t, &s, a, b);
        ASSERT_TRUE(t, l != LANDED_NOWHERE, "after a PASID-based invalidation the write reached neither mapping");
        test_characterisation(t, "pasid_invalidation_reaches_second_stage", l == LANDED_IN_B,
                              "a PASID-based IOTLB invalidation %s the second-stage-only PASID's cached entry (the "
                              "write landed in %s)", l == LANDED_IN_B ? "dropped" : "left", landed_name[l]);
        ASSERT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = FIXTURE_DID }), 0);
        ASSERT_EQ(t, qi_sync(&s.fx.qi, &d, 1), 0);
        l = write_dst(t, &s, a, b);
        EXPECT_TRUE(t, l == LANDED_IN_B, "after the DID's IOTLB invalidation the write landed in %s", landed_name[l]);
    }
    down(t, &s);
    page_free(x);
    page_free(a);
    page_free(b);
}

/* Two pages cached by the device, remapped, one page-selective IOTLB
 * invalidation (the descriptor for second-stage-only mappings, VT-d spec
 * 6.5.2.3) with the mask covering both: the device uses the new
 * mapping of each, the last page included. */
static void page_selective_invalidation_covers_every_page_of_its_mask(struct test *t)
{
    struct ss s;
    up(t, &s);
    if (!CAP_PSI(s.fx.u.cap) || CAP_MAMV(s.fx.u.cap) < PAIR_AM)
        test_skip(t, "the unit has no page-selective invalidation of %u pages (CAP.PSI %lu, CAP.MAMV %lu)",
                  1u << PAIR_AM, (unsigned long)CAP_PSI(s.fx.u.cap), (unsigned long)CAP_MAMV(s.fx.u.cap));
    uint64_t x = page_alloc();
    ASSERT_TRUE(t, x, "out of frames");
    fill_pattern(x, SS_PATTERN);
    ASSERT_EQ(t, vtd_domain_map(&s.fx.dom, IOVA_SRC, x, PT_LEVEL_PT, SL_R), 0);
    ASSERT_EQ(t, edu_dma(&s.fx.edu, IOVA_SRC, 0, PAGE_SIZE, 1), 0);
    enum landed l[STRADDLE_PAGES];
    fixture_straddled_remap(t, &s.fx, IOVA_PAIR, fixture_qi_iotlb_page, PAIR_AM, l);
    for (unsigned i = 0; i < STRADDLE_PAGES; i++)
        EXPECT_TRUE(t, l[i] == LANDED_IN_B, "after a page-selective invalidation of %u pages (am %u) page %u's write "
                    "landed in %s", 1u << PAIR_AM, PAIR_AM, i, landed_name[l[i]]);
    down(t, &s);
    page_free(x);
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
           TEST(page_selective_invalidation_covers_every_page_of_its_mask),
           TEST(rmrr_device_keeps_identity_access));
