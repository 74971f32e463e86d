/* sva: edu's DMA translated by the kernel's own page tables through a
 * PASID entry (first stage), in the kva area. */
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/entry_write.h"
#include "iommu/qi.h"
#include "iommu/regs.h"
#include "iommu/scalable_mode.h"
#include "kernel/exit.h"
#include "kernel/x86.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "vtd_fixture.h"
#include "case_state.h"

#define SVA_PASID        1           /* within QEMU's 1-bit PASID space */
#define SVA_WIDE_PASID   0x123       /* directory 4, table slot 0x23 */
#define SVA_SHARED_PASID 2           /* a second binding beside SVA_PASID */
#define GIB              (1ul << 30)
#define SVA_SLOT(n)      (KVA_BASE + (uint64_t)(16 + (n)) * GIB)  /* clear of the mm suite's slots */
#define WORDS            (DMA_DEV_BUFFER_SIZE / sizeof(uint64_t))
#define NON_CANONICAL_VA 0x0000800000000000ul
#define RO_FILL          0x5a   /* what a read-only page holds; a device write would change it */

static void fill(uint64_t *p, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++)
        p[i] = seed * 0x9e3779b97f4a7c15ul + i;
}

/* src at va_src read by the device, written back to dst at va_dst. */
static void roundtrip(struct test *t, struct dma_dev *dev, uint64_t va_src, uint64_t src_pa, uint64_t va_dst,
                      uint64_t dst_pa)
{
    fill(phys_to_virt(src_pa), va_src);
    memset(phys_to_virt(dst_pa), 0, PAGE_SIZE);
    ASSERT_EQ(t, dma_dev_read(dev, va_src, DMA_DEV_BUFFER_SIZE), 0);
    ASSERT_EQ(t, dma_dev_write(dev, va_dst, DMA_DEV_BUFFER_SIZE), 0);
    const uint64_t *a = phys_to_virt(src_pa), *b = phys_to_virt(dst_pa);
    unsigned wrong = 0;
    for (size_t i = 0; i < WORDS; i++)
        if (a[i] != b[i] && wrong++ < 4)
            test_diag(t, "word %zu: expected 0x%lx, saw 0x%lx", i, a[i], b[i]);
    EXPECT_EQ(t, wrong, 0);
}

/* How many of the kernel's entries on va's path, from the PML4E to the
 * leaf, carry U/S, read from the tables the unit walks; and how many
 * there are. */
static unsigned path_user_entries(uint64_t va, unsigned *levels)
{
    const uint64_t *table = phys_to_virt(kernel_pt()->root_pa);
    unsigned user = 0;
    *levels = 0;
    for (int level = PT_LEVEL_PML4; level >= PT_LEVEL_PT; level--) {
        uint64_t e = table[pt_index(va, level)];
        if (!(e & PTE_P))
            break;
        ++*levels;
        user += (e & PTE_US) != 0;
        if (pte_is_leaf(e, level))
            break;
        table = phys_to_virt(pte_addr(e));
    }
    return user;
}

static void dma_through_kernel_va_4k(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    test_diag(t, "requests walk with %s privilege", sf.sva.priv == SVA_USER ? "user" : "supervisor");
    uint64_t src = page_alloc(), dst = page_alloc(), va_src = SVA_SLOT(0), va_dst = SVA_SLOT(0) + PAGE_SIZE;
    ASSERT_TRUE(t, src && dst, "out of frames");
    ASSERT_EQ(t, kva_map(va_src, src, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(va_dst, dst, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, va_src, src, va_dst, dst);
    /* User requests need U/S on every entry of their path; supervisor
     * requests walk the kernel's tables as the CPU has them, U/S clear. */
    unsigned levels, user = path_user_entries(va_dst, &levels);
    test_diag(t, "U/S set in %u of the %u kernel entries on the path", user, levels);
    EXPECT_EQ(t, levels, PT_LEVELS);
    EXPECT_EQ(t, user, sf.sva.priv == SVA_USER ? levels : 0);
    /* The unit sets A (and D for writes) in the kernel's own entries. */
    uint64_t e_src = pt_lookup(kernel_pt(), va_src, NULL), e_dst = pt_lookup(kernel_pt(), va_dst, NULL);
    test_diag(t, "kernel PTEs after DMA: src 0x%lx, dst 0x%lx", e_src, e_dst);
    EXPECT_TRUE(t, e_src & PTE_A, "the read page's PTE has no Accessed bit");
    EXPECT_TRUE(t, (e_dst & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "the written page's PTE lacks A or D");
    EXPECT_TRUE(t, !(e_src & PTE_D), "the page only read shows Dirty");
    ASSERT_EQ(t, kva_unmap(va_src), 0);
    ASSERT_EQ(t, kva_unmap(va_dst), 0);
    fixture_sva_down(t, &sf);
    page_free(src);
    page_free(dst);
}

static void dma_through_kernel_va_2m(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    const uint64_t frames = pt_leaf_size(PT_LEVEL_PD) / PAGE_SIZE;
    uint64_t pfn = pages_alloc_contig((unsigned)frames, (unsigned)frames) >> PAGE_SHIFT;
    ASSERT_TRUE(t, pfn, "no 2 MiB of aligned free frames");
    uint64_t base = pfn << PAGE_SHIFT, va = SVA_SLOT(1), off = pt_leaf_size(PT_LEVEL_PD) - 2 * PAGE_SIZE;
    ASSERT_EQ(t, kva_map(va, base, PT_LEVEL_PD, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, va + off, base + off, va + off + PAGE_SIZE, base + off + PAGE_SIZE);
    ASSERT_EQ(t, kva_unmap(va), 0);
    fixture_sva_down(t, &sf);
    for (uint64_t i = 0; i < frames; i++)
        page_free((pfn + i) << PAGE_SHIFT);
}

static void dma_through_kernel_va_1g(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    if (!CAP_FL1GP(sf.fx.u.cap))
        test_skip(t, "the unit has no first-stage 1 GiB pages (CAP.FL1GP = 0)");
    if (mm_info()->max_leaf_level < PT_LEVEL_PDPT)
        test_skip(t, "the CPU has no 1 GiB pages, so the shared tables cannot hold one");
    uint64_t src = page_alloc(), dst = page_alloc(), va = SVA_SLOT(2);
    ASSERT_TRUE(t, src && dst && src < GIB && dst < GIB, "no frames below 1 GiB");
    ASSERT_EQ(t, kva_map(va, 0, PT_LEVEL_PDPT, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, va + src, src, va + dst, dst);
    ASSERT_EQ(t, kva_unmap(va), 0);
    fixture_sva_down(t, &sf);
    page_free(src);
    page_free(dst);
}

/* One access the unit must refuse: its fault record names the reason,
 * the requester, the page, the direction, the PASID and the request's
 * privilege; a device that tells refusals apart (DSA, edu-pcie) reports
 * this one. */
/* record_refused: DSA's completion record, a kernel page reached through
 * the same binding with the same privilege, is refused like va (a user
 * request in a supervisor binding; a supervisor request with SRE clear):
 * the device names the record in SWERR instead, and the unit may record
 * that refusal too, after va's. */
static void expect_fs_fault_with(struct test *t, struct sva_fixture *sf, uint64_t va, int write, uint8_t reason,
                                 int record_refused)
{
    unsigned reported = sf->dev.faults_reported, records = sf->dev.records_refused;
    record_refused = record_refused && sf->dev.kind == DMA_DEV_DSA;
    /* A write is a fill: DSA reads no buffer of its own first, so the
     * request to va is the first it makes (dma_dev_fill). */
    ASSERT_EQ(t, write ? dma_dev_fill(&sf->dev, va, PAGE_SIZE) : dma_dev_read(&sf->dev, va, PAGE_SIZE),
              record_refused ? -E_FAULT : 0);
    struct vtd_fault_log log;
    fixture_faults(t, &sf->fx, &log);
    ASSERT_TRUE(t, log.count == 1 || (record_refused && log.count == 2), "%u fault records for one refused access",
                log.count);
    if (log.count == 2)
        EXPECT_EQ(t, log.f[1].addr, DMA_DEV_DSA_RECORD_VA);
    if (sf->dev.kind == DMA_DEV_DSA) {
        uint64_t named = record_refused ? DMA_DEV_DSA_RECORD_VA : va;
        test_diag(t, "%s named 0x%lx in its %s", dma_dev_name(&sf->dev), sf->dev.refused_va,
                  record_refused ? "software error register (its record refused too)" : "page-fault completion record");
        EXPECT_EQ(t, sf->dev.refused_va, named);
    }
    EXPECT_EQ(t, log.f[0].reason, reason);
    EXPECT_EQ(t, log.f[0].sid, sf->fx.sid);
    EXPECT_EQ(t, log.f[0].addr, va & PAGE_MASK);
    EXPECT_EQ(t, log.f[0].is_read, !write);
    EXPECT_TRUE(t, log.f[0].pasid_present, "the record carries no PASID");
    EXPECT_EQ(t, log.f[0].pasid, sf->sva.pasid);
    EXPECT_EQ(t, log.f[0].priv, sf->dev.supervisor);
    /* a refused record stands in for the page-fault record that would
     * have named va */
    if (dma_dev_reports_refusals(&sf->dev))
        EXPECT_EQ(t, sf->dev.faults_reported - reported + sf->dev.records_refused - records, 1);
    EXPECT_EQ(t, sf->dev.records_refused - records, record_refused);
}

static void expect_fs_fault(struct test *t, struct sva_fixture *sf, uint64_t va, int write, uint8_t reason)
{
    expect_fs_fault_with(t, sf, va, write, reason, !sf->dev.supervisor && sf->sva.priv == SVA_SUPERVISOR);
}

static void first_stage_faults_name_reason_and_pasid(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    uint64_t ro = page_alloc(), va_ro = SVA_SLOT(3);
    ASSERT_TRUE(t, ro, "out of frames");
    ASSERT_EQ(t, kva_map(va_ro, ro, PT_LEVEL_PT, PTE_NX), 0);
    expect_fs_fault(t, &sf, va_ro + PAGE_SIZE, 1, FR_FS_NOT_PRESENT);
    expect_fs_fault(t, &sf, va_ro, 1, FR_FS_WRITE_READ_ONLY);
    if (sf.sva.priv == SVA_USER) /* the direct map has U/S clear on its path */
        expect_fs_fault(t, &sf, (uint64_t)phys_to_virt(ro), 0, FR_FS_USER_TO_SUPERVISOR);
    expect_fs_fault(t, &sf, NON_CANONICAL_VA, 0, FR_FS_NON_CANONICAL);
    ASSERT_EQ(t, kva_unmap(va_ro), 0);
    fixture_sva_down(t, &sf);
    page_free(ro);
}

/* A PASID past the first directory entry and table slot 0, so both levels
 * of PASID indexing are used; QEMU advertises 1-bit PASIDs yet translates
 * through any RID_PASID, hence the knowing override. */
static void wide_rid_pasid_walks_directory_and_table(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_WIDE_PASID, 1);
    uint64_t src = page_alloc(), dst = page_alloc(), va = SVA_SLOT(4);
    ASSERT_TRUE(t, src && dst, "out of frames");
    ASSERT_EQ(t, kva_map(va, src, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(va + PAGE_SIZE, dst, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, va, src, va + PAGE_SIZE, dst);
    /* a fault names the wide PASID */
    expect_fs_fault(t, &sf, va + 2 * PAGE_SIZE, 1, FR_FS_NOT_PRESENT);
    ASSERT_EQ(t, kva_unmap(va), 0);
    ASSERT_EQ(t, kva_unmap(va + PAGE_SIZE), 0);
    fixture_sva_down(t, &sf);
    page_free(src);
    page_free(dst);
}

static void bind_refuses_what_the_unit_cannot_do(struct test *t)
{
    struct vtd_fixture fx;
    fixture_find(t, &fx);
    struct sva s;
    if (!ECAP_SMTS(fx.u.ecap) || !ECAP_FLTS(fx.u.ecap) || !ECAP_PASID(fx.u.ecap)) {
        EXPECT_EQ(t, sva_bind_kernel(&s, &fx.u, &fx.qi, fx.edu.pci, 0, SVA_PASID, FIXTURE_DID, 0), -E_RANGE);
        test_diag(t, "bind refused: ECAP.SMTS %lu, FLTS %lu, PASID %lu", (unsigned long)ECAP_SMTS(fx.u.ecap),
                  (unsigned long)ECAP_FLTS(fx.u.ecap), (unsigned long)ECAP_PASID(fx.u.ecap));
        EXPECT_EQ(t, vtd_read32(&fx.u, VTD_GSTS) & VTD_GCMD_TE, 0); /* TES, from the unit */
        fixture_down(t, &fx);
        return;
    }
    ASSERT_EQ(t, qi_enable(&fx.qi, &fx.u, 1), 0);
    uint32_t limit = vtd_pasid_limit(&fx.u);
    EXPECT_EQ(t, sva_bind_kernel(&s, &fx.u, &fx.qi, fx.edu.pci, 0, limit, FIXTURE_DID, 0), -E_RANGE);
    EXPECT_EQ(t, sva_bind_kernel(&s, &fx.u, &fx.qi, NULL, 0, SVA_PASID, FIXTURE_DID, 0), -E_INVAL);
    EXPECT_EQ(t, vtd_read32(&fx.u, VTD_GSTS) & VTD_GCMD_TE, 0); /* TES, from the unit */
    fixture_down(t, &fx);
}

/* After unbind the entry is gone and flushed: the device's next request
 * faults instead of using the old translation. */
static void dma_after_unbind_faults(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    uint64_t pa = page_alloc(), va = SVA_SLOT(5);
    ASSERT_TRUE(t, pa, "out of frames");
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, va, PAGE_SIZE), 0); /* cached now */
    unsigned tail = sf.fx.qi.tail;
    ASSERT_EQ(t, sva_unbind(&sf.sva), 0);
    /* What VT-d spec 6.5.3.3 asks for a PASID entry going from present to
     * not present: PASID cache, PASID-based IOTLB, (PASID-based
     * device-TLB), then the wait; no context-cache invalidation (the
     * context entry did not change). The fault below is the device's
     * account that this was enough. */
    static const unsigned order[] = { QI_PASID_CACHE, QI_PASID_IOTLB, QI_WAIT };
    unsigned n = sizeof(order) / sizeof(order[0]) + (ECAP_DT(sf.fx.u.ecap) ? 1 : 0), k = 0;
    EXPECT_EQ(t, (sf.fx.qi.tail + sf.fx.qi.entries - tail) % sf.fx.qi.entries, n);
    for (unsigned i = 0; i < n; i++) {
        const struct qi_desc *d = (const struct qi_desc *)(sf.fx.qi.ring + (size_t)((tail + i) % sf.fx.qi.entries) *
                                                           sf.fx.qi.desc_size);
        unsigned type = qi_desc_type(d);
        if (type == QI_PASID_DEVICE_TLB)
            continue;
        EXPECT_TRUE(t, k < sizeof(order) / sizeof(order[0]) && type == order[k],
                    "unbind descriptor %u is %s, expected %s", i, qi_type_name(type),
                    k < sizeof(order) / sizeof(order[0]) ? qi_type_name(order[k]) : "nothing");
        k++;
    }
    uint64_t *p = phys_to_virt(pa);
    memset(p, 0, PAGE_SIZE);
    /* DSA's completion record is reached through the PASID just unbound
     * too: the device names it in SWERR instead of writing it */
    int record_refused = sf.dev.kind == DMA_DEV_DSA;
    ASSERT_EQ(t, dma_dev_write(&sf.dev, va, PAGE_SIZE), record_refused ? -E_FAULT : 0);
    if (record_refused)
        EXPECT_EQ(t, sf.dev.refused_va, DMA_DEV_DSA_RECORD_VA);
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    EXPECT_EQ(t, log.count, 1);
    unsigned written = 0;
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        written += p[i] != 0;
    EXPECT_EQ(t, written, 0);
    sf.sva.u = NULL; /* unbound already */
    ASSERT_EQ(t, kva_unmap(va), 0);
    fixture_sva_down(t, &sf);
    page_free(pa);
}

/* A PASID table that cannot be allocated: the bind fails with a clear
 * error, translation stays off, nothing is registered, no entry is left. */
static void pasid_table_allocation_failure_leaves_nothing(struct test *t)
{
    /* Off the stack, as a kernel binding must be (sva_bind_kernel). */
    static struct vtd_fixture fx;
    fixture_find(t, &fx);
    if (!ECAP_SMTS(fx.u.ecap) || !ECAP_FLTS(fx.u.ecap) || !ECAP_PASID(fx.u.ecap))
        test_skip(t, "the unit cannot bind (no scalable mode, first stage or PASIDs)");
    ASSERT_EQ(t, qi_enable(&fx.qi, &fx.u, 1), 0);
    static struct sva s;
    struct reclaim_stats before = reclaim_stats();
    /* sva_bind_kernel allocates the root table, the directory, then the
     * PASID table: the third allocation fails */
    case_inject_page_alloc_failure(t, 2);
    int err = sva_bind_kernel(&s, &fx.u, &fx.qi, fx.edu.pci, 0, SVA_PASID, FIXTURE_DID, 0);
    EXPECT_EQ(t, err, -E_NOMEM);
    EXPECT_EQ(t, vtd_read32(&fx.u, VTD_GSTS) & VTD_GCMD_TE, 0); /* TES, from the unit */
    EXPECT_EQ(t, s.tables.root_pa, 0);
    /* no flush hook: an unmap now flushes nothing */
    uint64_t pa = page_alloc(), va = SVA_SLOT(6);
    ASSERT_TRUE(t, pa, "out of frames");
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_unmap(va), 0);
    EXPECT_EQ(t, reclaim_stats().flushes, before.flushes);
    page_free(pa);
    fixture_down(t, &fx);
}

/* Pass-through (PGTT=4): the device's addresses are physical. */
static void pass_through_pasid_entry_uses_physical_addresses(struct test *t)
{
    struct vtd_fixture fx;
    fixture_find(t, &fx);
    if (!ECAP_SMTS(fx.u.ecap) || !ECAP_PT(fx.u.ecap))
        test_skip(t, "the unit has no scalable-mode pass-through (ECAP.SMTS %lu, PT %lu)",
                  (unsigned long)ECAP_SMTS(fx.u.ecap), (unsigned long)ECAP_PT(fx.u.ecap));
    ASSERT_EQ(t, qi_enable(&fx.qi, &fx.u, 1), 0);
    struct vtd_sm_tables tables;
    ASSERT_EQ(t, vtd_sm_tables_init(&tables), 0);
    struct vtd_pasid_entry pe;
    memset(&pe, 0, sizeof(pe));
    ASSERT_EQ(t, pasid_entry_set_pgtt(&pe, PGTT_PASS_THROUGH), 0);
    ASSERT_EQ(t, pasid_entry_set_aw(&pe, PE_AW_48BIT), 0);
    ASSERT_EQ(t, pasid_entry_set_did(&pe, FIXTURE_DID), 0);
    fixture_translation_on_or_skip(t, &fx.u,
                                   vtd_sm_attach(&fx.u, &fx.qi, &tables, pci_sid_bus(fx.sid), pci_sid_devfn(fx.sid),
                                                 SVA_PASID, &pe, 0),
                                   "attaching the pass-through PASID entry");
    uint64_t src = page_alloc(), dst = page_alloc();
    ASSERT_TRUE(t, src && dst, "out of frames");
    struct dma_dev edu = { .kind = DMA_DEV_EDU, .pci = fx.edu.pci, .edu = fx.edu };  /* untagged, so RID_PASID's entry */
    roundtrip(t, &edu, src, src, dst, dst);
    fixture_down(t, &fx);
    vtd_sm_tables_free(&tables);
    page_free(src);
    page_free(dst);
}

static uint64_t pe_field(const struct vtd_pasid_entry *e, unsigned qw, unsigned hi, unsigned lo)
{
    return bits_get(e->qw[qw], hi, lo);
}

/* The PASID entry as the unit reads it, from the PASID table in memory:
 * supervisor requests with WPE following CR0.WP (so a device cannot write
 * read-only kernel pages the CPU cannot), page-walk snooping only where the
 * unit has it (ECAP.SMPWC), and the kernel's table writes flushed from the
 * caches where it does not. A DMA through a table made after the bind must
 * see it: on a unit that does not snoop, that is the flush at work. */
static void pasid_entry_follows_cr0_wp_and_walk_coherency(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    const struct vtd_pasid_entry *pe =
        (const struct vtd_pasid_entry *)phys_to_virt(sf.sva.tables.pasid_table_pa[SVA_PASID >> PASID_DIR_SHIFT]) +
        (SVA_PASID & ((1u << PASID_DIR_SHIFT) - 1));
    int supervisor = sf.sva.priv == SVA_SUPERVISOR, wp = (read_cr0() & CR0_WP) != 0;
    unsigned smpwc = (unsigned)ECAP_SMPWC(sf.fx.u.ecap);
    test_diag(t, "PASID entry: SRE %lu, WPE %lu, PWSNP %lu; CR0.WP %d, ECAP.SMPWC %u; kernel table writes %s",
              pe_field(pe, PE_SRE), pe_field(pe, PE_WPE), pe_field(pe, PE_PWSNP), wp, smpwc,
              kva_walk_snooped() ? "left in the caches (walks snoop)" : "flushed from the caches");
    EXPECT_EQ(t, pe_field(pe, PE_SRE), (uint64_t)supervisor);
    EXPECT_EQ(t, pe_field(pe, PE_WPE), (uint64_t)(supervisor && wp));
    EXPECT_EQ(t, pe_field(pe, PE_PWSNP), (uint64_t)smpwc);
    EXPECT_EQ(t, kva_walk_snooped(), (int)smpwc);
    uint64_t src = page_alloc(), dst = page_alloc();
    ASSERT_TRUE(t, src && dst, "out of frames");
    ASSERT_EQ(t, kva_map(SVA_SLOT(6), src, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(SVA_SLOT(6) + PAGE_SIZE, dst, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, SVA_SLOT(6), src, SVA_SLOT(6) + PAGE_SIZE, dst);
    ASSERT_EQ(t, kva_unmap_range(SVA_SLOT(6), 2 * PAGE_SIZE), 0);
    page_free(src);
    page_free(dst);
    fixture_sva_down(t, &sf);
    EXPECT_TRUE(t, kva_walk_snooped(), "table writes are still flushed after the unbind");
}

/* sf bound with supervisor requests, or the case skips: the unit takes
 * none (ECAP.SRS), or the device makes none (edu never does; DSA without
 * PASID privileged mode), so what the case checks does not apply. */
static void supervisor_fixture_up(struct test *t, struct sva_fixture *sf, const char *consequence)
{
    fixture_sva_up(t, sf, SVA_PASID, 0);
    if (sf->sva.priv == SVA_SUPERVISOR)
        return;
    int unit_can = ECAP_SRS(sf->fx.u.ecap) != 0;
    fixture_sva_down(t, sf);
    if (!unit_can)
        test_skip(t, "the unit takes no supervisor requests (ECAP.SRS = 0): %s", consequence);
    test_skip(t, "%s makes no supervisor requests: %s", dma_dev_name(&sf->dev), consequence);
}

/* With supervisor requests and WPE, a device write to a read-only kernel
 * page faults and leaves the page alone, as a CPU write would (CR0.WP). */
static void supervisor_write_to_read_only_kernel_page_faults(struct test *t)
{
    static struct sva_fixture sf;
    supervisor_fixture_up(t, &sf, "WPE does not apply");
    uint64_t ro = page_alloc();
    ASSERT_TRUE(t, ro, "out of frames");
    memset(phys_to_virt(ro), RO_FILL, PAGE_SIZE);
    ASSERT_EQ(t, kva_map(SVA_SLOT(7), ro, PT_LEVEL_PT, PTE_NX), 0);
    expect_fs_fault(t, &sf, SVA_SLOT(7), 1, FR_FS_WRITE_READ_ONLY);
    const uint8_t *p = phys_to_virt(ro);
    unsigned changed = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        changed += p[i] != RO_FILL;
    EXPECT_EQ(t, changed, 0);
    ASSERT_EQ(t, kva_unmap(SVA_SLOT(7)), 0);
    page_free(ro);
    fixture_sva_down(t, &sf);
}

/* Supervisor SVA keeps U/S clear in the kernel's tables: the same
 * binding's user request to a kernel page faults (0x81) and leaves the
 * page alone, while its supervisor request reads the page (the control:
 * the page is mapped and readable, only the privilege differs). */
static void user_request_to_supervisor_kernel_page_faults(struct test *t)
{
    static struct sva_fixture sf;
    supervisor_fixture_up(t, &sf, "every page the device reaches is a user page");
    uint64_t frame = page_alloc(), va = SVA_SLOT(9);
    ASSERT_TRUE(t, frame, "out of frames");
    memset(phys_to_virt(frame), RO_FILL, PAGE_SIZE);
    ASSERT_EQ(t, kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    unsigned levels;
    EXPECT_EQ(t, path_user_entries(va, &levels), 0);
    ASSERT_EQ(t, dma_dev_set_privilege(&sf.dev, 0), 0);
    expect_fs_fault(t, &sf, va, 1, FR_FS_USER_TO_SUPERVISOR);
    const uint8_t *p = phys_to_virt(frame);
    unsigned changed = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        changed += p[i] != RO_FILL;
    EXPECT_EQ(t, changed, 0);
    ASSERT_EQ(t, dma_dev_set_privilege(&sf.dev, 1), 0);
    unsigned reported = sf.dev.faults_reported;
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    EXPECT_EQ(t, log.count, 0);
    EXPECT_EQ(t, sf.dev.faults_reported, reported);
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(frame);
    fixture_sva_down(t, &sf);
}

/* The binding's PASID entry re-installed with SRE as asked, as software
 * changes a present entry: cleared, its PASID cache and IOTLB entries
 * (and QEMU's context-cache copy) invalidated, installed again, its PASID
 * cache invalidated (VT-d spec 6.5.2.5, 6.5.2.4). */
static void reinstall_with_sre(struct test *t, struct sva_fixture *sf, int sre)
{
    const struct vtd_pasid_entry *live =
        (const struct vtd_pasid_entry *)phys_to_virt(sf->sva.tables.pasid_table_pa[SVA_PASID >> PASID_DIR_SHIFT]) +
        (SVA_PASID & ((1u << PASID_DIR_SHIFT) - 1));
    struct vtd_pasid_entry pe = *live;
    ASSERT_EQ(t, pasid_entry_set_sre(&pe, sre), 0);
    struct qi_desc d[3];
    qi_desc_pasid_cache(&d[0], (struct qi_pasid_cache){ .gran = QI_PC_PASID, .did = sf->sva.did, .pasid = SVA_PASID });
    qi_desc_pasid_iotlb(&d[1], (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = sf->sva.did,
                                                        .pasid = SVA_PASID });
    qi_desc_context_cache(&d[2], (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    vtd_pasid_clear(&sf->fx.u, &sf->sva.tables, SVA_PASID);
    ASSERT_EQ(t, qi_sync(&sf->fx.qi, d, 3), 0);
    ASSERT_EQ(t, vtd_pasid_install(&sf->fx.u, &sf->sva.tables, SVA_PASID, &pe, 0), 0);
    ASSERT_EQ(t, qi_sync(&sf->fx.qi, d, 1), 0);
    EXPECT_EQ(t, pe_field(live, PE_SRE), (uint64_t)sre);
}

/* Supervisor requests the spec refuses: to a PASID entry with SRE clear
 * the unit answers with fault 0x5D (recorded with PRIV) and the page is
 * left alone, while with SRE set again the same write lands (the
 * control); and a function whose PASID capability does not enable
 * privileged mode does not issue a privileged request at all (PCIe base
 * spec 6.20.2): edu-pcie says so, and the unit records nothing. */
static void supervisor_request_refused_by_sre_or_the_function(struct test *t)
{
    static struct sva_fixture sf;
    supervisor_fixture_up(t, &sf, "SRE does not apply");
    uint64_t frame = page_alloc(), va = SVA_SLOT(10);
    ASSERT_TRUE(t, frame, "out of frames");
    uint8_t *p = phys_to_virt(frame);
    ASSERT_EQ(t, kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    fill(phys_to_virt(frame), va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);   /* its buffer holds the pattern: a write shows */
    memset(p, RO_FILL, PAGE_SIZE);
    reinstall_with_sre(t, &sf, 0);
    expect_fs_fault_with(t, &sf, va, 1, FR_SM_SRE_CLEAR, 1);
    unsigned changed = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        changed += p[i] != RO_FILL;
    EXPECT_EQ(t, changed, 0);
    reinstall_with_sre(t, &sf, 1);
    ASSERT_EQ(t, dma_dev_write(&sf.dev, va, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    EXPECT_EQ(t, log.count, 0);
    changed = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        changed += p[i] != RO_FILL;
    EXPECT_TRUE(t, changed, "the supervisor write with SRE set did not land");
    if (sf.dev.kind == DMA_DEV_EDU) {
        memset(p, RO_FILL, PAGE_SIZE);
        ASSERT_EQ(t, pci_pasid_enable(sf.dev.pci, 0), 0);
        EXPECT_EQ(t, dma_dev_write(&sf.dev, va, PAGE_SIZE), -E_IO);
        fixture_faults(t, &sf.fx, &log);
        EXPECT_EQ(t, log.count, 0);
        changed = 0;
        for (unsigned i = 0; i < PAGE_SIZE; i++)
            changed += p[i] != RO_FILL;
        EXPECT_EQ(t, changed, 0);
        ASSERT_EQ(t, pci_pasid_enable(sf.dev.pci, 1), 0);
    } else {
        test_diag(t, "%s: a privileged request without privileged mode is not provoked here", dma_dev_name(&sf.dev));
    }
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(frame);
    fixture_sva_down(t, &sf);
}

/* A page-selective PASID-based invalidation of exactly this VA with IH=0,
 * for this PASID. */
struct flush_of {
    uint64_t va;
    uint32_t pasid;
};

static int is_flush_of(const struct qi_desc *d, const void *arg)
{
    const struct flush_of *f = arg;
    return qi_desc_type(d) == QI_PASID_IOTLB && bits_get(d->qw[0], QI_GRAN) == QI_PIOTLB_PAGE &&
           bits_get(d->qw[0], QI_PASID) == f->pasid && bits_get(d->qw[1], QI_ADDR_QW1) << PAGE_SHIFT == f->va &&
           bits_get(d->qw[1], QI_AM_QW1) == 0 && bits_get(d->qw[1], QI_IH_QW1) == 0;
}

/* CAP.CM under SVA: the unit may cache the not-present entries a kva map
 * fills (at any level: the map may link new tables), so the map is
 * followed by one PASID-based invalidation of the page with IH=0; a unit
 * without caching mode is sent nothing. Read from the ring. */
static void kva_map_invalidated_only_in_caching_mode(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    uint64_t frame = page_alloc(), va = SVA_SLOT(7);
    ASSERT_TRUE(t, frame, "out of frames");
    unsigned head = fixture_unit_head(&sf.fx.qi);
    ASSERT_EQ(t, kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    struct flush_of f = { va, SVA_PASID };
    unsigned seen = fixture_count_consumed(&sf.fx.qi, head, fixture_unit_head(&sf.fx.qi), is_flush_of, &f);
    test_diag(t, "CAP.CM %lu: %u invalidation(s) of the new mapping", (unsigned long)CAP_CM(sf.fx.u.cap), seen);
    EXPECT_EQ(t, seen, CAP_CM(sf.fx.u.cap) ? 1 : 0);
    roundtrip(t, &sf.dev, va, frame, va, frame);   /* and the mapping works */
    ASSERT_EQ(t, kva_unmap(va), 0);
    fixture_sva_down(t, &sf);
    page_free(frame);
}

/* The kernel's leaf entry for va (a 4 KiB page), for a test that changes
 * it behind mm's back: written with one store, flushed from the caches
 * where the unit's walks do not snoop them. */
static uint64_t *kernel_leaf(uint64_t va)
{
    uint64_t *table = phys_to_virt(kernel_pt()->root_pa);
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--)
        table = phys_to_virt(pte_addr(table[pt_index(va, level)]));
    return &table[pt_index(va, PT_LEVEL_PT)];
}

static void repoint(struct sva_fixture *sf, uint64_t va, uint64_t pa)
{
    uint64_t *leaf = kernel_leaf(va);
    WRITE_ONCE(*leaf, (*leaf & ~PTE_ADDR_MASK) | pa);
    vtd_flush_first_stage_lines(&sf->fx.u, leaf, sizeof(*leaf));
    invlpg(va);
}

/* The device's write to va through pasid: which of a and b it landed in
 * (1: a, 2: b, 0: neither), both cleared before. */
static int landed(struct test *t, struct sva_fixture *sf, uint32_t pasid, uint64_t va, uint64_t a, uint64_t b)
{
    memset(phys_to_virt(a), 0, PAGE_SIZE);
    memset(phys_to_virt(b), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_tag_pasid(&sf->dev.edu, pasid, sf->dev.supervisor), 0);
    int err = dma_dev_write(&sf->dev, va, PAGE_SIZE);
    ASSERT_EQ(t, edu_tag_pasid(&sf->dev.edu, sf->sva.pasid, sf->dev.supervisor), 0);
    ASSERT_EQ(t, err, 0);
    uint64_t in_a = 0, in_b = 0;
    for (size_t i = 0; i < WORDS; i++) {
        in_a |= ((const uint64_t *)phys_to_virt(a))[i];
        in_b |= ((const uint64_t *)phys_to_virt(b))[i];
    }
    return in_a ? 1 : in_b ? 2 : 0;
}

/* Two bindings of the kernel's tables on distinct PASIDs sharing one
 * domain id, as Linux binds several PASIDs of one device: the device's
 * translation of a page through each is cached; the page is repointed
 * behind mm's back. A flush of one PASID alone leaves the other's stale
 * translation in use (the control: the device still writes the old
 * frame through it); the walker's flush, what every kva change goes
 * through, is one batch (an invalidation for each PASID and one wait, read
 * from the ring) after which neither PASID reaches the old frame. Then
 * unbinding the second leaves the first working and the second faulting
 * (its PASID entry is gone). */
static void bindings_sharing_a_domain_flush_in_one_batch(struct test *t)
{
    static struct sva_fixture sf;
    static struct sva second;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    if (sf.dev.kind != DMA_DEV_EDU || !sf.dev.edu.tags_pasid) {
        fixture_sva_down(t, &sf);
        test_skip(t, "%s cannot tag one transfer with one PASID and the next with another (edu: no PASID at all; "
                  "DSA: a WQ per PASID)", dma_dev_name(&sf.dev));
    }
    ASSERT_EQ(t, sva_bind_kernel_shared(&second, &sf.sva, sf.dev.pci, sf.sva.priv == SVA_SUPERVISOR,
                                        SVA_SHARED_PASID), 0);
    EXPECT_EQ(t, sva_bind_kernel_shared(&second, &sf.sva, sf.dev.pci, sf.sva.priv == SVA_SUPERVISOR,
                                        SVA_SHARED_PASID), -E_EXIST);
    uint64_t a = page_alloc(), b = page_alloc(), va = SVA_SLOT(11);
    ASSERT_TRUE(t, a && b, "out of frames");
    fill(phys_to_virt(a), va);
    ASSERT_EQ(t, kva_map(va, a, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);   /* its buffer holds a's words: a write shows */
    EXPECT_EQ(t, landed(t, &sf, SVA_PASID, va, a, b), 1);
    EXPECT_EQ(t, landed(t, &sf, SVA_SHARED_PASID, va, a, b), 1);

    repoint(&sf, va, b);
    struct qi_desc one;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&one, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = sf.sva.did,
                                                                    .pasid = SVA_PASID }), 0);
    ASSERT_EQ(t, qi_sync(&sf.fx.qi, &one, 1), 0);
    EXPECT_EQ(t, landed(t, &sf, SVA_PASID, va, a, b), 2);
    int stale = landed(t, &sf, SVA_SHARED_PASID, va, a, b);
    test_diag(t, "after a flush of PASID %u alone, PASID %u's write landed in %s", SVA_PASID, SVA_SHARED_PASID,
              stale == 1 ? "the old frame" : stale == 2 ? "the new frame" : "neither");
    EXPECT_EQ(t, stale, 1);

    unsigned head = fixture_unit_head(&sf.fx.qi);
    struct kva_flush f;
    ASSERT_EQ(t, kva_walkers_flush(va, va + PAGE_SIZE, 1, &f), 0);
    unsigned tail = fixture_unit_head(&sf.fx.qi);
    struct vtd_consumed c;
    fixture_read_consumed(&sf.fx.qi, head, tail, &c);
    struct flush_of first = { va, SVA_PASID }, other = { va, SVA_SHARED_PASID };
    test_diag(t, "the walkers' flush: %u descriptors, %u PASID-based invalidations, %u waits", c.descriptors,
              c.pasid_iotlb, c.waits);
    EXPECT_EQ(t, fixture_count_consumed(&sf.fx.qi, head, tail, is_flush_of, &first), 1);
    EXPECT_EQ(t, fixture_count_consumed(&sf.fx.qi, head, tail, is_flush_of, &other), 1);
    EXPECT_EQ(t, c.descriptors, 3);
    EXPECT_EQ(t, c.waits, 1);
    EXPECT_EQ(t, landed(t, &sf, SVA_PASID, va, a, b), 2);
    EXPECT_EQ(t, landed(t, &sf, SVA_SHARED_PASID, va, a, b), 2);

    repoint(&sf, va, a);
    ASSERT_EQ(t, kva_walkers_flush(va, va + PAGE_SIZE, 1, &f), 0);
    ASSERT_EQ(t, sva_unbind(&second), 0);
    EXPECT_EQ(t, landed(t, &sf, SVA_PASID, va, a, b), 1);
    unsigned reported = sf.dev.faults_reported;
    EXPECT_EQ(t, landed(t, &sf, SVA_SHARED_PASID, va, a, b), 0);
    EXPECT_EQ(t, sf.dev.faults_reported - reported, 1);
    struct vtd_fault_log log;
    fixture_faults(t, &sf.fx, &log);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_EQ(t, log.f[0].reason, FR_SM_PASID_NOT_PRESENT);
    test_diag(t, "the unbound PASID's fault: PASID %s0x%x", log.f[0].pasid_present ? "" : "not recorded, ",
              log.f[0].pasid);
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(a);
    page_free(b);
    fixture_sva_down(t, &sf);
}

/* Requests-with-PASID for which the unit has no entry: a PASID past
 * ECAP.PSS (software must not enable it; the unit walks what its
 * directory holds, here a directory entry not present: 0x51) and one past
 * the directory the context entry's PDTS sizes (refused without a walk:
 * 0x46). Each recorded with its PASID, reported by the device, the page
 * left alone; the binding's own PASID still works after them. */
static void pasid_beyond_the_unit_or_the_directory_faults(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    if (sf.dev.kind != DMA_DEV_EDU || !sf.dev.edu.tags_pasid) {
        fixture_sva_down(t, &sf);
        test_skip(t, "%s cannot tag a transfer with a PASID it was not bound to", dma_dev_name(&sf.dev));
    }
    const struct { uint32_t pasid; uint8_t reason; const char *what; } bad[] = {
        { vtd_pasid_limit(&sf.fx.u), FR_SM_PASID_DIR_NOT_PRESENT, "the first PASID past ECAP.PSS" },
        { SM_DIR_ENTRIES << PASID_DIR_SHIFT, FR_SM_PASID_BEYOND_PDTS, "the first PASID past the directory" },
    };
    uint64_t frame = page_alloc(), va = SVA_SLOT(12);
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    uint8_t *p = phys_to_virt(frame);
    fill(phys_to_virt(frame), va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);   /* its buffer holds the pattern: a write shows */
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        memset(p, RO_FILL, PAGE_SIZE);
        if (edu_tag_pasid(&sf.dev.edu, bad[k].pasid, sf.dev.supervisor)) {
            test_diag(t, "%s (0x%x) is wider than the device's PASIDs: not sent", bad[k].what, bad[k].pasid);
            continue;
        }
        unsigned reported = sf.dev.faults_reported;
        int err = dma_dev_write(&sf.dev, va, PAGE_SIZE);
        ASSERT_EQ(t, edu_tag_pasid(&sf.dev.edu, SVA_PASID, sf.dev.supervisor), 0);
        ASSERT_EQ(t, err, 0);
        struct vtd_fault_log log;
        fixture_faults(t, &sf.fx, &log);
        test_diag(t, "%s (0x%x): %u fault(s), reason 0x%x", bad[k].what, bad[k].pasid, log.count,
                  log.count ? log.f[0].reason : 0);
        ASSERT_EQ(t, log.count, 1);
        EXPECT_EQ(t, log.f[0].reason, bad[k].reason);
        EXPECT_TRUE(t, log.f[0].pasid_present, "the record carries no PASID");
        EXPECT_EQ(t, log.f[0].pasid, bad[k].pasid);
        EXPECT_EQ(t, sf.dev.faults_reported - reported, 1);
        unsigned changed = 0;
        for (unsigned i = 0; i < PAGE_SIZE; i++)
            changed += p[i] != RO_FILL;
        EXPECT_EQ(t, changed, 0);
    }
    ASSERT_EQ(t, dma_dev_write(&sf.dev, va, PAGE_SIZE), 0);   /* the binding's own PASID: lands */
    unsigned changed = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        changed += p[i] != RO_FILL;
    EXPECT_TRUE(t, changed, "the bound PASID's write did not land");
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(frame);
    fixture_sva_down(t, &sf);
}

/* ATS for the bound device as Linux sets it up where the unit has a
 * device-TLB (ECAP.DT) and the function an ATS capability: DTE in its
 * context entry (the context cache invalidated), ATS enabled with 4 KiB
 * translations, and edu-pcie's DMA made of translated requests through
 * its address-translation cache. Skips naming what is missing. */
static void ats_up(struct test *t, struct sva_fixture *sf)
{
    if (!ECAP_DT(sf->fx.u.ecap)) {
        fixture_sva_down(t, sf);
        test_skip(t, "the unit has no device-TLB (ECAP.DT = 0): it answers no translation requests");
    }
    if (sf->dev.kind != DMA_DEV_EDU || !sf->dev.pci->ext_ats || !sf->dev.edu.tags_pasid) {
        fixture_sva_down(t, sf);
        test_skip(t, "%s has no ATS capability", dma_dev_name(&sf->dev));
    }
    ASSERT_EQ(t, sva_ats_enable(&sf->sva), 0);
    ASSERT_EQ(t, edu_ats_set(&sf->dev.edu, 1, 0), 0);
}

/* A PASID-based device-TLB invalidation of the binding's PASID: of the
 * page at va, or (va 0) of every address. */
static struct qi_desc devtlb_inv(struct sva_fixture *sf, uint64_t va)
{
    struct qi_desc d;
    qi_desc_pasid_device_tlb(&d, (struct qi_pasid_device_tlb){ .sid = pci_requester_id(sf->dev.pci),
                                                               .pasid = sf->sva.pasid,
                                                               .addr = va ? va : QI_DEVTLB_ALL_ADDR,
                                                               .size = va == 0 });
    return d;
}

/* Undoes ats_up: the device's cache emptied by an invalidation it
 * answers, ATS off, DTE clear again; the device's cache read empty. */
static void ats_down(struct test *t, struct sva_fixture *sf)
{
    EXPECT_EQ(t, edu_ats_set(&sf->dev.edu, 0, 0), 0);
    EXPECT_EQ(t, sva_ats_disable(&sf->sva), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf->dev.edu), 0);
}

/* An ATS case's set-up: sf bound, ATS up (or the case skips), and a fresh
 * frame mapped at va; the frame is returned. */
static uint64_t ats_page_up(struct test *t, struct sva_fixture *sf, uint64_t va)
{
    fixture_sva_up(t, sf, SVA_PASID, 0);
    ats_up(t, sf);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(va, frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    return frame;
}

/* Undoes ats_page_up. */
static void ats_page_down(struct test *t, struct sva_fixture *sf, uint64_t va, uint64_t frame)
{
    ats_down(t, sf);
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(frame);
    fixture_sva_down(t, sf);
}

/* A device-TLB invalidation the device leaves unanswered times out in the
 * unit (VT-d spec 6.5.2.10): FSTS.ITE with IQERCD.ITESID naming the
 * device, and the wait of that batch is not carried out, so its waiter is
 * told -E_IO and its status slot never says done; the queue goes on: the
 * next batch completes. The control first: the same invalidation answered
 * completes and empties the device's cache (read from the device), where
 * the ignored one leaves the translation in it. */
static void device_tlb_invalidation_unanswered_raises_ite(struct test *t)
{
    static struct sva_fixture sf;
    struct vtd_qi *q = &sf.fx.qi;
    uint64_t va = SVA_SLOT(13), frame = ats_page_up(t, &sf, va);
    fill(phys_to_virt(frame), va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_last_dma_status(&sf.dev.edu), EDU_DMA_DONE);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    struct qi_desc inv = devtlb_inv(&sf, va);
    unsigned errors = q->errors;
    ASSERT_EQ(t, qi_sync(q, &inv, 1), 0);            /* answered: the control */
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);
    EXPECT_EQ(t, q->errors, errors);

    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    ASSERT_EQ(t, edu_ats_set(&sf.dev.edu, 1, 1), 0);  /* the device stops answering */
    uint32_t seq;
    ASSERT_EQ(t, qi_submit(q, &inv, 1, &seq), 0);
    int err = qi_wait(q, seq);
    test_diag(t, "the unanswered batch's wait: %s; queue errors %u -> %u, FSTS 0x%x, IQERCD 0x%lx", err_name(err),
              errors, q->errors, q->error.fsts, (unsigned long)q->error.iqercd);
    EXPECT_EQ(t, err, -E_IO);
    EXPECT_TRUE(t, !qi_wait_ran(q, seq), "the timed-out batch reads as completed");
    EXPECT_EQ(t, q->errors, errors + 1);
    EXPECT_TRUE(t, q->error.fsts & VTD_FSTS_ITE, "FSTS 0x%x at the error has no ITE", q->error.fsts);
    EXPECT_EQ(t, bits_get(q->error.iqercd, VTD_IQERCD_ITESID), pci_requester_id(sf.dev.pci));
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);    /* the device kept it */

    ASSERT_EQ(t, edu_ats_set(&sf.dev.edu, 1, 0), 0);
    EXPECT_EQ(t, qi_sync(q, &inv, 1), 0);            /* the queue went on */
    EXPECT_EQ(t, vtd_read32(&sf.fx.u, VTD_FSTS) & VTD_FSTS_ITE, 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);
    ats_page_down(t, &sf, va, frame);
}

static const struct qi_desc *ring_at(const struct vtd_qi *q, unsigned idx)
{
    return (const struct qi_desc *)(q->ring + (size_t)idx * q->desc_size);
}

/* One batch of harmless descriptors (all-in-PASID IOTLB invalidations of
 * the binding) that leaves the ring, as the unit's IQH sees it, with
 * exactly room free slots; the unit stopped by ITE fetches none of it. */
static void fill_ring(struct test *t, struct sva_fixture *sf, unsigned room)
{
    struct vtd_qi *q = &sf->fx.qi;
    static struct qi_desc filler[QI_RING_ENTRIES_MAX];
    unsigned head = fixture_unit_head(q), space = (head + q->entries - q->tail - 1) % q->entries;
    ASSERT_TRUE(t, space >= room + 2, "only %u free slots (IQH %u, tail %u): no batch fits before %u", space, head,
                q->tail, room);
    unsigned n = space - room - 1;   /* and its wait */
    for (unsigned i = 0; i < n; i++)
        ASSERT_EQ(t, qi_desc_pasid_iotlb(&filler[i], (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID,
                                                                              .did = sf->sva.did,
                                                                              .pasid = sf->sva.pasid }), 0);
    uint32_t seq;
    ASSERT_EQ(t, qi_submit(q, filler, n, &seq), 0);
    EXPECT_EQ(t, fixture_unit_head(q), head);   /* nothing fetched behind the ITE */
}

/* What the unit did for the batch of seq, a device-TLB invalidation of the
 * device's one cached translation and its wait, queued from ring index
 * from on: it reads as completed before it ran when its status slot says
 * done while the device still caches the translation the batch drops, or
 * when the unit fetched a wait writing seq ahead of the batch's own (read
 * from the ring). Each finding named; how many. */
static unsigned completions_before_the_batch(struct test *t, struct sva_fixture *sf, unsigned from, uint32_t seq)
{
    struct vtd_qi *q = &sf->fx.qi;
    unsigned found = 0, waits = 0, last = q->entries;
    for (unsigned i = from; i != q->tail; i = (i + 1) % q->entries)
        if (qi_desc_type(ring_at(q, i)) == QI_WAIT && bits_get(ring_at(q, i)->qw[0], QI_WAIT_SW) &&
            (uint32_t)bits_get(ring_at(q, i)->qw[0], QI_WAIT_DATA) == seq) {
            waits++;
            last = i;
        }
    if (waits != 1 || (last + 1) % q->entries != q->tail) {
        found++;
        test_diag(t, "%u wait(s) from ring index %u to the tail %u write sequence %u, the last at %u (IQH %u)", waits,
                  from, q->tail, seq, last, fixture_unit_head(q));
    }
    uint32_t status = q->status[seq % QI_STATUS_SLOTS];
    unsigned cached = edu_atc_entries(&sf->dev.edu);
    if (status == seq && cached) {
        found++;
        test_diag(t, "sequence %u's status slot reads done while the device still caches %u translation(s) its "
                  "batch invalidates", seq, cached);
    }
    return found;
}

/* Issue 19's queue defect, against the unit: a batch submitted while the
 * ring is full and an ITE stops the unit goes in only after its
 * submitter recovered the ITE (qi_submit waiting for room), and its wait
 * is the only one writing its number, so it reads as completed only once
 * the unit ran it (VT-d spec 6.5.2.10, 6.5.2.11: no wait completes past a
 * timed-out device-TLB invalidation). The ITE batch's waiter is told
 * -E_IO. Twice: B, itself unanswered, never reads as completed (the old
 * code queued a wait of B's number at the recovery, which wrote it before
 * B's invalidation timed out); C, answered, completes with the device's
 * cache empty. In between, the control: the wait the old code put ahead
 * of a batch, built here in the ring, is caught by the same check. */
static void batch_submitted_across_an_ite_completes_only_after_it_ran(struct test *t)
{
    static struct sva_fixture sf;
    struct vtd_qi *q = &sf.fx.qi;
    uint64_t va = SVA_SLOT(13), frame = ats_page_up(t, &sf, va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    ASSERT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    struct qi_desc inv = devtlb_inv(&sf, va);
    ASSERT_EQ(t, edu_ats_set(&sf.dev.edu, 1, 1), 0);  /* the device stops answering */

    /* A times out; the ring fills behind it; B's submitter waits for room. */
    uint32_t a, b, c;
    ASSERT_EQ(t, qi_submit(q, &inv, 1, &a), 0);
    ASSERT_TRUE(t, vtd_read32(&sf.fx.u, VTD_FSTS) & VTD_FSTS_ITE, "no ITE for an unanswered invalidation");
    fill_ring(t, &sf, 1);
    unsigned errors = q->errors, from = q->tail;
    ASSERT_EQ(t, qi_submit(q, &inv, 1, &b), 0);
    EXPECT_EQ(t, q->errors, errors + 1);             /* A's ITE recovered by B's submitter */
    EXPECT_TRUE(t, vtd_read32(&sf.fx.u, VTD_FSTS) & VTD_FSTS_ITE, "B's invalidation did not time out");
    EXPECT_EQ(t, fixture_unit_head(q), q->tail);     /* the unit fetched B and its wait */
    EXPECT_EQ(t, completions_before_the_batch(t, &sf, from, b), 0);
    EXPECT_EQ(t, qi_wait(q, a), -E_IO);
    EXPECT_EQ(t, qi_wait(q, b), -E_IO);
    EXPECT_TRUE(t, !qi_wait_ran(q, a) && !qi_wait_ran(q, b), "a timed-out batch's wait wrote its status");

    /* The control: a wait of the batch's number ahead of it, as the old
     * recovery queued one, then the batch, unanswered. */
    ASSERT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    uint32_t n = q->seq + 1;
    struct qi_desc early[3] = { [1] = inv };
    ASSERT_EQ(t, qi_desc_wait(&early[0], (struct qi_wait){ .status_addr = q->status_pa +
                                                                          (n % QI_STATUS_SLOTS) * sizeof(*q->status),
                                                            .status_data = n, .sw = 1 }), 0);
    early[2] = early[0];
    from = q->tail;
    for (unsigned i = 0; i < 3; i++) {
        memcpy(q->ring + (size_t)q->tail * q->desc_size, &early[i], q->desc_size);
        q->tail = (q->tail + 1) % q->entries;
    }
    q->seq = n;
    q->waits += 2;
    qi_write_tail_raw(q, (uint64_t)q->tail << q->shift);
    unsigned caught = completions_before_the_batch(t, &sf, from, n);
    int told = qi_wait(q, n);   /* recovers the control's ITE */
    test_diag(t, "the control: %u finding(s); its waiter is told %s", caught, err_name(told));
    EXPECT_EQ(t, caught, 2);

    /* Again with C answered: it completes, after its invalidation ran. */
    ASSERT_EQ(t, qi_submit(q, &inv, 1, &a), 0);
    fill_ring(t, &sf, 1);
    ASSERT_EQ(t, edu_ats_set(&sf.dev.edu, 1, 0), 0);
    from = q->tail;
    ASSERT_EQ(t, qi_submit(q, &inv, 1, &c), 0);
    EXPECT_EQ(t, completions_before_the_batch(t, &sf, from, c), 0);
    EXPECT_EQ(t, qi_wait(q, a), -E_IO);
    EXPECT_EQ(t, qi_wait(q, c), 0);
    EXPECT_EQ(t, q->status[c % QI_STATUS_SLOTS], c);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);
    EXPECT_EQ(t, vtd_read32(&sf.fx.u, VTD_FSTS) & VTD_FSTS_ITE, 0);

    ats_page_down(t, &sf, va, frame);
}

/* Unbinding a PASID whose translations the device cached (an address
 * other than 0) leaves none in its cache (VT-d spec 6.5.3.3: the device-TLB
 * invalidated with the PASID entry gone), read from the device. */
static void unbind_empties_the_device_tlb(struct test *t)
{
    static struct sva_fixture sf;
    uint64_t va = SVA_SLOT(13), frame = ats_page_up(t, &sf, va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    ASSERT_EQ(t, sva_unbind(&sf.sva), 0);
    unsigned left = edu_atc_entries(&sf.dev.edu);
    test_diag(t, "after the unbind the device caches %u translation(s)", left);
    EXPECT_EQ(t, left, 0);
    sf.sva.u = NULL; /* unbound already */
    EXPECT_EQ(t, edu_ats_set(&sf.dev.edu, 0, 0), 0);
    pci_ats_disable(sf.dev.pci);
    ASSERT_EQ(t, kva_unmap(va), 0);
    fixture_sva_down(t, &sf);
    page_free(frame);
}

/* A device-TLB invalidation of exactly one 4 KiB page (S clear) for this
 * PASID. */
static int is_devtlb_flush_of(const struct qi_desc *d, const void *arg)
{
    const struct flush_of *f = arg;
    return qi_desc_type(d) == QI_PASID_DEVICE_TLB && bits_get(d->qw[0], QI_PASID) == f->pasid &&
           bits_get(d->qw[1], QI_ADDR_QW1) << PAGE_SHIFT == f->va && !bits_get(d->qw[1], QI_PDEVTLB_S_QW1);
}

/* With ATS on, the walker's flush of a page (what reclaim and every kva
 * change go through) invalidates the device-TLB after the IOTLB, in one
 * batch: PASID-based IOTLB, PASID-based device-TLB, wait, read from the
 * ring; and the device's cache no longer holds the page (read from the
 * device). The control: an IOTLB invalidation alone leaves the device's
 * translation in its cache. */
static void reclaim_flush_invalidates_the_device_tlb_after_the_iotlb(struct test *t)
{
    static struct sva_fixture sf;
    uint64_t va = SVA_SLOT(13), frame = ats_page_up(t, &sf, va);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);
    struct qi_desc one;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&one, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = sf.sva.did,
                                                                    .pasid = SVA_PASID }), 0);
    ASSERT_EQ(t, qi_sync(&sf.fx.qi, &one, 1), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 1);   /* the control */

    unsigned head = fixture_unit_head(&sf.fx.qi);
    struct kva_flush f;
    ASSERT_EQ(t, kva_walkers_flush(va, va + PAGE_SIZE, 1, &f), 0);
    unsigned tail = fixture_unit_head(&sf.fx.qi), n = (tail + sf.fx.qi.entries - head) % sf.fx.qi.entries;
    struct flush_of page = { va, SVA_PASID };
    static const unsigned order[] = { QI_PASID_IOTLB, QI_PASID_DEVICE_TLB, QI_WAIT };
    EXPECT_EQ(t, n, sizeof(order) / sizeof(order[0]));
    for (unsigned i = 0; i < n && i < sizeof(order) / sizeof(order[0]); i++) {
        const struct qi_desc *d = (const struct qi_desc *)(sf.fx.qi.ring + (size_t)((head + i) % sf.fx.qi.entries) *
                                                           sf.fx.qi.desc_size);
        EXPECT_TRUE(t, qi_desc_type(d) == order[i], "flush descriptor %u is %s, expected %s", i,
                    qi_type_name(qi_desc_type(d)), qi_type_name(order[i]));
    }
    EXPECT_EQ(t, fixture_count_consumed(&sf.fx.qi, head, tail, is_flush_of, &page), 1);
    EXPECT_EQ(t, fixture_count_consumed(&sf.fx.qi, head, tail, is_devtlb_flush_of, &page), 1);
    unsigned left = edu_atc_entries(&sf.dev.edu);
    test_diag(t, "the walkers' flush: %u descriptors; the device caches %u translation(s) after it", n, left);
    EXPECT_EQ(t, left, 0);
    ats_page_down(t, &sf, va, frame);
}

/* Translation requests the unit does not grant (VT-d spec 4.2.3, 7.1.2
 * and 7.1.3's table of fault conditions): for an unmapped page (SFS.2), a
 * successful completion with R=W=U=S=0 and no fault record, a recoverable
 * fault the device reports itself (the device says it got no access);
 * from a function whose scalable-mode context entry (9.4) has DTE clear
 * (SCT.5), Unsupported Request with fault 0x44 recorded (the device says
 * the request failed). Nothing is cached or moved either way; the
 * control: with DTE set, the mapped page's read goes through. */
static void translation_request_refused_without_dte_or_mapping(struct test *t)
{
    static struct sva_fixture sf;
    uint64_t va = SVA_SLOT(14), unmapped = SVA_SLOT(15), frame = ats_page_up(t, &sf, va);
    struct vtd_fault_log log;
    unsigned reported = sf.dev.faults_reported;
    ASSERT_EQ(t, dma_dev_read(&sf.dev, unmapped, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_last_dma_status(&sf.dev.edu), EDU_DMA_ATS_NO_ACCESS);
    EXPECT_EQ(t, sf.dev.faults_reported - reported, 1);
    fixture_faults(t, &sf.fx, &log);
    test_diag(t, "unmapped page: device status %u, %u fault record(s)", (unsigned)edu_last_dma_status(&sf.dev.edu),
              log.count);
    EXPECT_EQ(t, log.count, 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);   /* the control */
    EXPECT_EQ(t, edu_last_dma_status(&sf.dev.edu), EDU_DMA_DONE);
    struct qi_desc d[2] = { devtlb_inv(&sf, 0) };
    qi_desc_context_cache(&d[1], (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    ASSERT_EQ(t, qi_sync(&sf.fx.qi, d, 1), 0);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);

    uint16_t rid = pci_requester_id(sf.dev.pci);
    ASSERT_EQ(t, vtd_sm_context_set_dte(&sf.fx.u, &sf.sva.tables, pci_sid_bus(rid), pci_sid_devfn(rid), 0), 0);
    ASSERT_EQ(t, qi_sync(&sf.fx.qi, &d[1], 1), 0);
    reported = sf.dev.faults_reported;
    ASSERT_EQ(t, dma_dev_read(&sf.dev, va, PAGE_SIZE), 0);
    EXPECT_EQ(t, edu_last_dma_status(&sf.dev.edu), EDU_DMA_ATS_FAILED);
    EXPECT_EQ(t, sf.dev.faults_reported - reported, 1);
    fixture_faults(t, &sf.fx, &log);
    test_diag(t, "DTE clear: device status %u, %u fault record(s), reason 0x%x",
              (unsigned)edu_last_dma_status(&sf.dev.edu), log.count, log.count ? log.f[0].reason : 0);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_EQ(t, log.f[0].reason, FR_SM_DTE_CLEAR);
    EXPECT_EQ(t, log.f[0].sid, rid);
    EXPECT_EQ(t, edu_atc_entries(&sf.dev.edu), 0);
    ats_page_down(t, &sf, va, frame);
}

/* Scalable mode with SVA bound: a device with a reserved memory region
 * (added to a copy of the DMAR for the second edu) keeps identity access
 * to it through its own RID_PASID. A unit with first-stage translation
 * alone (QEMU's x-flts=on) gives it pass-through; vtd_sm_ss checks the
 * second-stage identity, which also refuses the page past the region. */
static void rmrr_device_keeps_identity_access(struct test *t)
{
    static struct sva_fixture sf;
    fixture_sva_up(t, &sf, SVA_PASID, 0);
    struct edu other;
    uint64_t pa;
    const struct dmar_info *d = fixture_dmar_with_rmrr(t, &other, &pa);
    int whole_memory = 0;
    EXPECT_EQ(t, fixture_rmrr_identity_sm(t, &sf.fx, &sf.sva.tables, d, SVA_PASID, &whole_memory), 1);
    fixture_rmrr_device_checked(t, &sf.fx, &other, pa, whole_memory);
    /* the bound device is untouched by it */
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(SVA_SLOT(8), frame, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    roundtrip(t, &sf.dev, SVA_SLOT(8), frame, SVA_SLOT(8), frame);
    ASSERT_EQ(t, kva_unmap(SVA_SLOT(8)), 0);
    fixture_sva_down(t, &sf);
    page_free(frame);
}

TEST_SUITE(sva, 50, 0,
           TEST(pasid_entry_follows_cr0_wp_and_walk_coherency),
           TEST(supervisor_write_to_read_only_kernel_page_faults),
           TEST(user_request_to_supervisor_kernel_page_faults),
           TEST(supervisor_request_refused_by_sre_or_the_function),
           TEST(bind_refuses_what_the_unit_cannot_do),
           TEST(dma_through_kernel_va_4k),
           TEST(dma_through_kernel_va_2m),
           TEST(dma_through_kernel_va_1g),
           TEST(first_stage_faults_name_reason_and_pasid),
           TEST(wide_rid_pasid_walks_directory_and_table),
           TEST(dma_after_unbind_faults),
           TEST(pasid_table_allocation_failure_leaves_nothing),
           TEST(pass_through_pasid_entry_uses_physical_addresses),
           TEST(kva_map_invalidated_only_in_caching_mode),
           TEST(bindings_sharing_a_domain_flush_in_one_batch),
           TEST(pasid_beyond_the_unit_or_the_directory_faults),
           TEST(rmrr_device_keeps_identity_access),
           TEST(device_tlb_invalidation_unanswered_raises_ite),
           TEST(batch_submitted_across_an_ite_completes_only_after_it_ran),
           TEST(unbind_empties_the_device_tlb),
           TEST(reclaim_flush_invalidates_the_device_tlb_after_the_iotlb),
           TEST(translation_request_refused_without_dte_or_mapping));
