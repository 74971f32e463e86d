/* dsa: Intel DSA doing SVA DMA through the kernel's own page tables. The
 * device is brought up (capabilities, one group with one engine and one
 * dedicated WQ for a PASID, enabled as GENSTS and WQCFG report), then
 * bound by the SVA fixture, which points a PASID entry at the kernel's
 * root table: memmove, memfill and compare through kva addresses, checked
 * in memory; a copy into an unmapped VA ends with a page-fault completion
 * naming the address, and the unit's fault record names DSA, the PASID and
 * the reason; bad input (an unsupported opcode, a portal write that is not
 * 64 bytes, a descriptor to a disabled WQ, overlapping memmove buffers,
 * RCR without CRAV) reported by the device as it reports it, never a hang;
 * completion records written as CRAV and RCR ask. It runs on vtdlab's DSA model (the dsa-model
 * profile, qemu/patches/0015), written from the DSA specification, and has
 * not yet run on hardware; elsewhere under QEMU every case skips. The
 * register-level code is host-tested too (test_dsa_cmd.c). */
#include <string.h>
#include "devices/dma_dev.h"
#include "devices/pci.h"
#include "iommu/fault.h"
#include "kernel/clock.h"
#include "harness/harness.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define TEST_PASID   1
#define GENSTS_STATE 1, 0
#define GIB          (1ul << 30)
#define VA_SRC       (KVA_BASE + 40 * GIB)
#define VA_DST       (VA_SRC + PAGE_SIZE)
#define VA_UNMAPPED  (VA_SRC + 2 * PAGE_SIZE)
#define FILL_WORD    0x5a5aa5a5f00dd00dul
#define DIFF_AT      1000   /* the byte compare must find */
#define BAD_OPCODE   0x7f   /* no DSA offers it (OPCAP bit 127) */
#define PATTERN_BYTE 0xa5
#define OVERLAP_SHIFT 96   /* a memmove's destination this far into its source (not a period of the pattern) */

static struct pci_dev *dsa_or_skip(struct test *t)
{
    struct pci_dev *p = dma_dev_find_dsa();
    if (!p)
        test_skip(t, "no Intel DSA (" DSA_IDS_TEXT "); under QEMU only vtdlab's model has one (-device intel-dsa)");
    return p;
}

static void dsa_found_and_a_dedicated_wq_enabled(struct test *t)
{
    struct pci_dev *p = dsa_or_skip(t);
    struct dsa d = { 0 };
    d.bar0 = pci_map_bar(p, DSA_BAR_REGS, NULL);
    ASSERT_TRUE(t, d.bar0 != NULL, "cannot map DSA's BAR0");
    pci_enable_bus_master(p);
    int err = dsa_read_caps(&d);
    if (err == -E_NODEV)
        test_skip(t, "the DSA has no free WQ, engine or group, or no dedicated WQs");
    test_diag(t, "DSA %02x:%02x.%x version 0x%x: %u WQs (%u entries), %u groups, %u engines", p->bus, p->dev, p->fn,
              d.version, d.max_wqs, d.wq_total_size, d.max_groups, d.max_engines);
    uint64_t gencap = dsa_read64(&d, DSA_GENCAP);
    EXPECT_TRUE(t, gencap & DSA_GENCAP_CONFIG_SUPPORT, "GENCAP 0x%lx: GRPCFG and WQCFG not writable",
                (unsigned long)gencap);
    /* a WQ with a PASID needs the function's PASID capability enabled */
    ASSERT_TRUE(t, p->ext_pasid != 0, "the DSA shows no PASID capability");
    ASSERT_EQ(t, pci_pasid_enable(p, 0), 0);
    err = dsa_configure_dedicated(&d, 0, TEST_PASID, 0);
    EXPECT_TRUE(t, err == 0, "configuring a dedicated WQ: %s (CMDSTS error 0x%02x, %s)", err_name(err), d.last_error,
                dsa_cmd_error_name(d.last_error));
    if (!err) {
        EXPECT_EQ(t, bits_get(dsa_read32(&d, DSA_GENSTS), GENSTS_STATE), DSA_STATE_ENABLED);
        EXPECT_EQ(t, dsa_command(&d, DSA_CMD_DISABLE_DEVICE, 0), 0);
    }
    EXPECT_EQ(t, bits_get(dsa_read32(&d, DSA_GENSTS), GENSTS_STATE), DSA_STATE_DISABLED);
    pci_pasid_disable(p);
}

/* The SVA fixture with DSA as its device, and two kva pages. */
struct scene {
    struct sva_fixture sf;
    uint64_t src, dst;
};

static void up(struct test *t, struct scene *s)
{
    dsa_or_skip(t);
    fixture_sva_up(t, &s->sf, TEST_PASID, 0);
    if (s->sf.dev.kind != DMA_DEV_DSA) {
        fixture_sva_down(t, &s->sf);
        test_skip(t, "the DSA cannot take work here (the log says why): the fixture fell back to edu");
    }
    test_diag(t, "DSA %02x:%02x.%x bound to PASID 0x%x with %s requests", s->sf.dev.pci->bus, s->sf.dev.pci->dev,
              s->sf.dev.pci->fn, TEST_PASID, s->sf.dev.supervisor ? "supervisor" : "user");
    s->src = page_alloc();
    s->dst = page_alloc();
    ASSERT_TRUE(t, s->src && s->dst, "out of frames");
    ASSERT_EQ(t, kva_map(VA_SRC, s->src, PT_LEVEL_PT, PTE_NX), 0);
    ASSERT_EQ(t, kva_map(VA_DST, s->dst, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
}

static void down(struct test *t, struct scene *s)
{
    EXPECT_EQ(t, kva_unmap_range(VA_SRC, 2 * PAGE_SIZE), 0);
    fixture_sva_down(t, &s->sf);
    page_free(s->src);
    page_free(s->dst);
}

static int execute(struct scene *s, const struct dsa_desc *d)
{
    return dsa_execute(&s->sf.dev.dsa, d, phys_to_virt(s->sf.dev.record_pa));
}

static const struct dsa_completion *record(struct scene *s) { return phys_to_virt(s->sf.dev.record_pa); }

static void memmove_fill_and_compare_through_kernel_vas(struct test *t)
{
    static struct scene s;
    up(t, &s);
    uint8_t *src = phys_to_virt(s.src), *dst = phys_to_virt(s.dst);
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        src[i] = (uint8_t)(i * 13 + 7);
    memset(dst, 0, PAGE_SIZE);
    struct dsa_desc d;
    int priv = s.sf.dev.supervisor;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, priv, VA_SRC, VA_DST, PAGE_SIZE, DMA_DEV_DSA_RECORD_VA, 0), 0);
    ASSERT_EQ(t, execute(&s, &d), 0);
    EXPECT_TRUE(t, memcmp(src, dst, PAGE_SIZE) == 0, "the copy through kva addresses differs from its source");

    ASSERT_EQ(t, dsa_desc_compare(&d, TEST_PASID, priv, VA_SRC, VA_DST, PAGE_SIZE, DMA_DEV_DSA_RECORD_VA, 0), 0);
    ASSERT_EQ(t, execute(&s, &d), 0);
    EXPECT_EQ(t, record(&s)->result, 0);
    dst[DIFF_AT] ^= 0xff;
    ASSERT_EQ(t, execute(&s, &d), 0);
    EXPECT_EQ(t, record(&s)->result, 1);
    EXPECT_EQ(t, record(&s)->bytes_completed, DIFF_AT);

    ASSERT_EQ(t, dsa_desc_memfill(&d, TEST_PASID, priv, FILL_WORD, VA_DST, PAGE_SIZE, DMA_DEV_DSA_RECORD_VA, 0), 0);
    ASSERT_EQ(t, execute(&s, &d), 0);
    const uint64_t *w = (const uint64_t *)dst;
    unsigned wrong = 0;
    for (unsigned i = 0; i < PAGE_SIZE / sizeof(*w); i++)
        wrong += w[i] != FILL_WORD;
    EXPECT_EQ(t, wrong, 0);
    down(t, &s);
}

/* A copy into an unmapped kernel VA: DSA completes with a page fault
 * naming the address (block-on-fault off), and the unit records why. */
static void a_copy_to_an_unmapped_va_faults_in_both_records(struct test *t)
{
    static struct scene s;
    up(t, &s);
    struct dsa_desc d;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_UNMAPPED, PAGE_SIZE,
                                  DMA_DEV_DSA_RECORD_VA, 0), 0);
    EXPECT_EQ(t, execute(&s, &d), -E_FAULT);
    EXPECT_EQ(t, record(&s)->fault_addr & PAGE_MASK, VA_UNMAPPED);
    EXPECT_EQ(t, record(&s)->bytes_completed, 0);
    struct vtd_fault_log log;
    fixture_faults(t, &s.sf.fx, &log);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_EQ(t, log.f[0].reason, FR_FS_NOT_PRESENT);
    EXPECT_EQ(t, log.f[0].sid, s.sf.fx.sid);
    EXPECT_EQ(t, log.f[0].addr, VA_UNMAPPED);
    EXPECT_TRUE(t, log.f[0].pasid_present && log.f[0].pasid == TEST_PASID, "the record does not name PASID 0x%x",
                TEST_PASID);
    EXPECT_EQ(t, log.f[0].priv, s.sf.dev.supervisor);
    down(t, &s);
}

/* An opcode the device does not offer (OPCAP) completes with status 0x10,
 * and the driver turns it into -E_IO, not a hang. */
static void a_bad_opcode_completes_with_its_status(struct test *t)
{
    static struct scene s;
    up(t, &s);
    struct dsa_desc d;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, PAGE_SIZE,
                                  DMA_DEV_DSA_RECORD_VA, 0), 0);
    bits_set(&d.qw[0], DSA_DESC_OPCODE, BAD_OPCODE);
    EXPECT_EQ(t, execute(&s, &d), -E_IO);
    EXPECT_EQ(t, record(&s)->status & DSA_STATUS_MASK, DSA_COMP_BAD_OPCODE);
    down(t, &s);
}

/* A descriptor is one 64-byte write: the same descriptor written as eight
 * 8-byte stores is no descriptor (nothing moves, no record is written),
 * while the no-op that follows it through MOVDIR64B completes: the WQ
 * runs in order, so the stores were not taken late either. */
static void a_portal_write_that_is_not_64_bytes_is_no_descriptor(struct test *t)
{
    static struct scene s;
    up(t, &s);
    uint8_t *dst = phys_to_virt(s.dst);
    memset(phys_to_virt(s.src), PATTERN_BYTE, PAGE_SIZE);
    memset(dst, 0, PAGE_SIZE);
    volatile struct dsa_completion *rec = phys_to_virt(s.sf.dev.record_pa);
    memset((void *)rec, 0, sizeof(*rec));
    struct dsa_desc d;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, PAGE_SIZE,
                                  DMA_DEV_DSA_RECORD_VA, 0), 0);
    volatile uint64_t *portal = (volatile uint64_t *)(s.sf.dev.dsa.bar2 + s.sf.dev.dsa.wq * DSA_WQ_PORTAL_STRIDE);
    __asm__ volatile("sfence" ::: "memory");
    for (unsigned i = 0; i < sizeof(d.qw) / sizeof(d.qw[0]); i++)
        portal[i] = d.qw[i];
    /* a no-op whose record lands one record further on */
    struct dsa_desc noop;
    ASSERT_EQ(t, dsa_desc_memmove(&noop, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, 1,
                                  DMA_DEV_DSA_RECORD_VA + sizeof(struct dsa_completion), 0), 0);
    bits_set(&noop.qw[0], DSA_DESC_OPCODE, DSA_OP_NOOP);
    ASSERT_EQ(t, dsa_execute(&s.sf.dev.dsa, &noop, rec + 1), 0);
    EXPECT_EQ(t, rec->status, DSA_COMP_NONE);
    unsigned moved = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        moved += dst[i] != 0;
    EXPECT_EQ(t, moved, 0);
    down(t, &s);
}

/* A descriptor to a WQ that is not enabled is refused in SWERR (valid,
 * naming the WQ) and never executed. */
static void a_descriptor_to_a_disabled_wq_is_refused_in_swerr(struct test *t)
{
    static struct scene s;
    up(t, &s);
    struct dsa *dsa = &s.sf.dev.dsa;
    ASSERT_EQ(t, dsa_command(dsa, DSA_CMD_DISABLE_WQ, dsa->wq), 0);
    dsa_write64(dsa, DSA_SWERR, DSA_SWERR_ACK);
    volatile struct dsa_completion *rec = phys_to_virt(s.sf.dev.record_pa);
    memset((void *)rec, 0, sizeof(*rec));
    struct dsa_desc d;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, PAGE_SIZE,
                                  DMA_DEV_DSA_RECORD_VA, 0), 0);
    dsa_portal_write(dsa, &d);
    uint64_t swerr = 0;
    int seen = WAIT_UNTIL((swerr = dsa_read64(dsa, DSA_SWERR)) & DSA_SWERR_VALID, DSA_CMD_WAIT_US);
    EXPECT_TRUE(t, seen, "SWERR still 0x%lx %u us after a descriptor to disabled WQ %u", (unsigned long)swerr,
                DSA_CMD_WAIT_US, dsa->wq);
    EXPECT_TRUE(t, (swerr & DSA_SWERR_WQ_VALID) && bits_get(swerr, DSA_SWERR_WQ) == dsa->wq,
                "SWERR 0x%lx does not name WQ %u", (unsigned long)swerr, dsa->wq);
    EXPECT_EQ(t, rec->status, DSA_COMP_NONE);
    dsa_write64(dsa, DSA_SWERR, DSA_SWERR_ACK);
    down(t, &s);
}

/* GENCAP.overlapping_copy clear: a memmove whose buffers overlap completes
 * with status 0x16 and moves nothing (DSA spec, memory move). */
static void an_overlapping_memmove_completes_with_its_status(struct test *t)
{
    static struct scene s;
    up(t, &s);
    uint8_t *dst = phys_to_virt(s.dst);
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        dst[i] = (uint8_t)(i * 7 + 1);
    uint64_t gencap = dsa_read64(&s.sf.dev.dsa, DSA_GENCAP);
    if (gencap & DSA_GENCAP_OVERLAP_COPY) {
        down(t, &s);
        test_skip(t, "GENCAP 0x%lx offers overlapping copies", (unsigned long)gencap);
    }
    struct dsa_desc d;
    ASSERT_EQ(t, dsa_desc_memmove(&d, TEST_PASID, s.sf.dev.supervisor, VA_DST, VA_DST + OVERLAP_SHIFT,
                                  PAGE_SIZE / 2, DMA_DEV_DSA_RECORD_VA, 0), 0);
    EXPECT_EQ(t, execute(&s, &d), -E_IO);
    EXPECT_EQ(t, record(&s)->status & DSA_STATUS_MASK, DSA_COMP_OVERLAP_BUFFERS);
    unsigned moved = 0;
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        moved += dst[i] != (uint8_t)(i * 7 + 1);
    EXPECT_EQ(t, moved, 0);
    down(t, &s);
}

/* Completion records by CRAV and RCR (DSA spec, descriptor flags): with
 * CRAV and RCR clear a descriptor that fails still writes its record, one
 * that succeeds writes none; RCR without CRAV is invalid flags, in SWERR
 * since there is no record. The no-op with RCR after each runs after it
 * (one engine, in order), so a record not written by then never will be. */
static void completion_records_follow_crav_and_rcr(struct test *t)
{
    static struct scene s;
    up(t, &s);
    struct dsa *dsa = &s.sf.dev.dsa;
    volatile struct dsa_completion *rec = phys_to_virt(s.sf.dev.record_pa);
    memset((void *)rec, 0, 3 * sizeof(*rec));
    struct dsa_desc bad, ok, last;
    ASSERT_EQ(t, dsa_desc_memmove(&bad, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, PAGE_SIZE,
                                  DMA_DEV_DSA_RECORD_VA + 2 * sizeof(*rec), 0), 0);
    bits_set(&bad.qw[0], DSA_DESC_OPCODE, BAD_OPCODE);
    bits_set(&bad.qw[0], DSA_DESC_FLAGS, DSA_FLAG_CRAV);
    ASSERT_EQ(t, dsa_desc_memmove(&ok, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, 1,
                                  DMA_DEV_DSA_RECORD_VA + sizeof(*rec), 0), 0);
    bits_set(&ok.qw[0], DSA_DESC_FLAGS, DSA_FLAG_CRAV);
    ASSERT_EQ(t, dsa_desc_memmove(&last, TEST_PASID, s.sf.dev.supervisor, VA_SRC, VA_DST, 1,
                                  DMA_DEV_DSA_RECORD_VA, 0), 0);
    bits_set(&last.qw[0], DSA_DESC_OPCODE, DSA_OP_NOOP);
    dsa_portal_write(dsa, &ok);
    dsa_portal_write(dsa, &bad);
    ASSERT_EQ(t, dsa_execute(dsa, &last, rec), 0);
    EXPECT_EQ(t, rec[1].status, DSA_COMP_NONE);
    EXPECT_EQ(t, rec[2].status & DSA_STATUS_MASK, DSA_COMP_BAD_OPCODE);

    dsa_write64(dsa, DSA_SWERR, DSA_SWERR_ACK);
    bits_set(&ok.qw[0], DSA_DESC_FLAGS, DSA_FLAG_RCR);
    dsa_portal_write(dsa, &ok);
    uint64_t swerr = 0;
    int seen = WAIT_UNTIL((swerr = dsa_read64(dsa, DSA_SWERR)) & DSA_SWERR_VALID, DSA_CMD_WAIT_US);
    EXPECT_TRUE(t, seen, "SWERR still 0x%lx %u us after a descriptor with RCR and no CRAV", (unsigned long)swerr,
                DSA_CMD_WAIT_US);
    EXPECT_EQ(t, bits_get(swerr, DSA_SWERR_ERROR), DSA_COMP_INVALID_FLAGS);
    EXPECT_EQ(t, rec[1].status, DSA_COMP_NONE);
    dsa_write64(dsa, DSA_SWERR, DSA_SWERR_ACK);
    down(t, &s);
}

TEST_SUITE(dsa, 60, 0,
           TEST(dsa_found_and_a_dedicated_wq_enabled),
           TEST(memmove_fill_and_compare_through_kernel_vas),
           TEST(a_copy_to_an_unmapped_va_faults_in_both_records),
           TEST(a_bad_opcode_completes_with_its_status),
           TEST(a_portal_write_that_is_not_64_bytes_is_no_descriptor),
           TEST(a_descriptor_to_a_disabled_wq_is_refused_in_swerr),
           TEST(an_overlapping_memmove_completes_with_its_status),
           TEST(completion_records_follow_crav_and_rcr));
