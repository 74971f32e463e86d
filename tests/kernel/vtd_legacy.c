/* vtd_legacy: DMA translated through legacy-mode second-stage tables. */
#include <string.h>
#include "iommu/cap_reg.h"
#include "mm/mm.h"
#include "iommu/inv_reg.h"
#include "iommu/iommu.h"
#include "vtd_fixture.h"

#define WORDS (EDU_BUFFER_SIZE / sizeof(uint64_t))
#define GIB   (1ul << 30)

static void fill(uint64_t *p, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++)
        p[i] = seed * 0x9e3779b97f4a7c15ul + i;
}

static unsigned count_differences(struct test *t, const uint64_t *want, const uint64_t *got)
{
    unsigned wrong = 0;
    for (size_t i = 0; i < WORDS; i++)
        if (want[i] != got[i] && wrong++ < 4)
            test_diag(t, "word %zu: expected 0x%lx, saw 0x%lx", i, want[i], got[i]);
    return wrong;
}

/* One leaf of the given size maps src (read) and dst (write) pages at the
 * far end of the leaf; the data must go through both translations. */
static void roundtrip(struct test *t, struct vtd_fixture *fx, int level, uint64_t src_pa, uint64_t dst_pa,
                      uint64_t leaf_pa)
{
    const uint64_t leaf = pt_leaf_size(level), iova = FIXTURE_IOVA + (uint64_t)level * GIB;
    fill(phys_to_virt(src_pa), (uint64_t)level);
    memset(phys_to_virt(dst_pa), 0, PAGE_SIZE);
    if (level == PT_LEVEL_PT) {
        ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova, src_pa, level, SL_R), 0);
        ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova + PAGE_SIZE, dst_pa, level, SL_RW), 0);
        ASSERT_EQ(t, fixture_dma_to_device(fx, iova, EDU_BUFFER_SIZE), 0);
        ASSERT_EQ(t, fixture_dma_from_device(fx, iova + PAGE_SIZE, EDU_BUFFER_SIZE), 0);
    } else {
        ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova, leaf_pa, level, SL_RW), 0);
        ASSERT_EQ(t, fixture_dma_to_device(fx, iova + (src_pa - leaf_pa), EDU_BUFFER_SIZE), 0);
        ASSERT_EQ(t, fixture_dma_from_device(fx, iova + (dst_pa - leaf_pa), EDU_BUFFER_SIZE), 0);
    }
    struct vtd_fault_log log;
    fixture_faults(t, fx, &log);
    EXPECT_EQ(t, log.count, 0);
    EXPECT_EQ(t, count_differences(t, phys_to_virt(src_pa), phys_to_virt(dst_pa)), 0);
    test_diag(t, "%lu KiB leaf at IOVA 0x%lx: %lu DMAs so far", leaf >> 10, iova, fx->edu.dmas);
}

/* A roundtrip through two fresh frames (below 1 GiB, which a 1 GiB leaf
 * over physical 0 needs). */
static void roundtrip_fresh_pages(struct test *t, struct vtd_fixture *fx, int level)
{
    uint64_t src = page_alloc(), dst = page_alloc();
    ASSERT_TRUE(t, src && dst && src < GIB && dst < GIB, "no frames below 1 GiB");
    roundtrip(t, fx, level, src, dst, 0);
    fixture_down(t, fx);
    page_free(src);
    page_free(dst);
}

static void dma_through_4k_leaves(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    roundtrip_fresh_pages(t, &fx, PT_LEVEL_PT);
}

static void dma_through_a_2m_leaf(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    if (!(CAP_SLLPS(fx.u.cap) & SLLPS_2M))
        test_skip(t, "the unit has no 2 MiB second-stage pages (CAP.SLLPS bit 0)");
    const uint64_t frames = pt_leaf_size(PT_LEVEL_PD) / PAGE_SIZE;
    uint64_t pfn = pages_alloc_contig((unsigned)frames, (unsigned)frames) >> PAGE_SHIFT;
    ASSERT_TRUE(t, pfn, "no 2 MiB of aligned free frames");
    uint64_t base = pfn << PAGE_SHIFT;
    /* the last two pages of the leaf: offsets above 1 MiB must translate too */
    roundtrip(t, &fx, PT_LEVEL_PD, base + pt_leaf_size(PT_LEVEL_PD) - 2 * PAGE_SIZE,
              base + pt_leaf_size(PT_LEVEL_PD) - PAGE_SIZE, base);
    fixture_down(t, &fx);
    for (uint64_t i = 0; i < frames; i++)
        page_free((pfn + i) << PAGE_SHIFT);
}

/* A 1 GiB leaf over physical 0-1 GiB: the pages DMA'd are ordinary frames
 * inside it, found at their physical offset. */
static void dma_through_a_1g_leaf(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    if (!(CAP_SLLPS(fx.u.cap) & SLLPS_1G))
        test_skip(t, "the unit has no 1 GiB second-stage pages (CAP.SLLPS bit 1)");
    roundtrip_fresh_pages(t, &fx, PT_LEVEL_PDPT);
}

/* The narrower table format a unit may offer: 39-bit, 3 levels. */
static void dma_through_3_level_tables(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up_levels(t, &fx, PT_LEVEL_PDPT);
    EXPECT_EQ(t, fx.dom.levels, PT_LEVEL_PDPT);
    roundtrip_fresh_pages(t, &fx, PT_LEVEL_PT);
}

/* A device with a reserved memory region keeps identity access to it once
 * translation is on, and to nothing else. QEMU's DMAR has no RMRR, so the
 * case adds one to a copy of it: two pages for the second edu. The device
 * reads page 0 and writes page 1 through their own physical addresses;
 * its write just past the region faults, naming it. */
static void rmrr_device_keeps_identity_access(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    struct edu other;
    uint64_t pa;
    const struct dmar_info *d = fixture_dmar_with_rmrr(t, &other, &pa);
    EXPECT_EQ(t, fixture_rmrr_identity(t, &fx, d), 1);
    /* Translation is on already: what the unit cached goes. */
    ASSERT_EQ(t, vtd_reg_invalidate_context(&fx.u, VTD_INV_GLOBAL, 0, 0), 0);
    ASSERT_EQ(t, vtd_reg_invalidate_iotlb(&fx.u, VTD_INV_GLOBAL, 0, 0, 0), 0);
    fixture_rmrr_device_checked(t, &fx, &other, pa, 0);
    fixture_down(t, &fx);
}

/* An RMRR whose range is not 4 KiB aligned is skipped with a message: its
 * device gets no identity access and nothing else changes. */
static void misaligned_rmrr_is_skipped(struct test *t)
{
    struct vtd_fixture fx;
    fixture_legacy_up(t, &fx);
    struct edu other;
    uint64_t pa;
    struct dmar_info *d = fixture_dmar_with_rmrr(t, &other, &pa);
    const uint64_t half_page = PAGE_SIZE / 2;
    d->rmrr[d->nrmrr - 1].base += half_page;
    EXPECT_EQ(t, fixture_rmrr_identity(t, &fx, d), 0);
    EXPECT_TRUE(t, !fx.rmrr_dom.u || fx.rmrr_dom.tables == 1, "the skipped range was mapped anyway");
    roundtrip_fresh_pages(t, &fx, PT_LEVEL_PT);   /* the fixture's own device is unaffected */
    fixture_down(t, &fx);
    for (unsigned i = 0; i <= RMRR_PAGES; i++)
        page_free(pa + i * PAGE_SIZE);
}

TEST_SUITE(vtd_legacy, 40, 0,
           TEST(dma_through_4k_leaves),
           TEST(dma_through_a_2m_leaf),
           TEST(dma_through_a_1g_leaf),
           TEST(dma_through_3_level_tables),
           TEST(rmrr_device_keeps_identity_access),
           TEST(misaligned_rmrr_is_skipped));
