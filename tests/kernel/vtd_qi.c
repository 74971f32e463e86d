/* vtd_qi: the invalidation queue, 128-bit descriptors (legacy mode). */
#include "lib/bits.h"
#include "lib/errno.h"
#include "mm/layout.h"
#include "iommu/cap_reg.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define BATCH 64

static void expect_sync(struct test *t, struct vtd_fixture *fx, const struct qi_desc *d, const char *what)
{
    int err = qi_sync(&fx->qi, d, 1);
    EXPECT_TRUE(t, err == 0, "%s: %s", what, err_name(err));
}

/* Every type legacy mode knows, each behind its own wait. */
static void each_descriptor_type_accepted(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_GLOBAL }), 0);
    expect_sync(t, &fx, &d, "context-cache global");
    ASSERT_EQ(t, qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_DOMAIN, .did = FIXTURE_DID }), 0);
    expect_sync(t, &fx, &d, "context-cache domain");
    ASSERT_EQ(t, qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_DEVICE, .did = FIXTURE_DID,
                                                                      .sid = fx.sid }), 0);
    expect_sync(t, &fx, &d, "context-cache device");
    ASSERT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL }), 0);
    expect_sync(t, &fx, &d, "IOTLB global");
    ASSERT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = FIXTURE_DID }), 0);
    expect_sync(t, &fx, &d, "IOTLB domain");
    ASSERT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = FIXTURE_DID,
                                                      .addr = FIXTURE_IOVA }), 0);
    expect_sync(t, &fx, &d, "IOTLB page");
    ASSERT_EQ(t, qi_desc_device_tlb(&d, (struct qi_device_tlb){ .sid = fx.sid, .addr = FIXTURE_IOVA }), 0);
    expect_sync(t, &fx, &d, "device-TLB");
    ASSERT_EQ(t, qi_desc_iec(&d, (struct qi_iec){ 0 }), 0);
    expect_sync(t, &fx, &d, "interrupt-entry-cache global");
    ASSERT_EQ(t, qi_desc_iec(&d, (struct qi_iec){ .index_selective = 1, .iidx = 5 }), 0);
    expect_sync(t, &fx, &d, "interrupt-entry-cache index");
    EXPECT_EQ(t, fx.qi.error.valid, 0);
    test_metric(t, "descriptors", fx.qi.descriptors, "descriptors");
    fixture_down(t, &fx);
}

/* Recovery leaves the queue usable: the next batch completes. */
static void expect_still_works(struct test *t, struct vtd_fixture *fx)
{
    struct qi_desc d;
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    EXPECT_EQ(t, qi_sync(&fx->qi, &d, 1), 0);
}

/* bad, then a good descriptor and the wait: the bad one is named, the
 * rest completes. */
static void expect_iqe(struct test *t, struct vtd_fixture *fx, const struct qi_desc *bad, const char *what)
{
    struct qi_desc batch[2];
    batch[0] = *bad;
    qi_desc_context_cache(&batch[1], (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    unsigned at = fx->qi.tail;
    uint32_t seq;
    ASSERT_EQ(t, qi_submit(&fx->qi, batch, 2, &seq), 0);
    int err = qi_wait(&fx->qi, seq);
    EXPECT_TRUE(t, err == -E_IO, "%s: expected a queue error, got %s", what, err_name(err));
    EXPECT_TRUE(t, fx->qi.error.valid, "%s: no error recorded", what);
    EXPECT_EQ(t, fx->qi.error.index, at);
    EXPECT_EQ(t, fx->qi.error.desc.qw[0], bad->qw[0]);
    EXPECT_TRUE(t, fx->qi.error.fsts & VTD_FSTS_IQE, "%s: FSTS 0x%x has no IQE", what, fx->qi.error.fsts);
    EXPECT_TRUE(t, qi_wait_ran(&fx->qi, seq), "%s: the wait after the bad descriptor never ran", what);
    EXPECT_TRUE(t, !qi_completed(&fx->qi, seq), "%s: the refused batch reads as completed", what);
    EXPECT_EQ(t, vtd_read32(&fx->u, VTD_FSTS) & VTD_FSTS_IQE, 0);
    expect_still_works(t, fx);
}

static void pasid_descriptors_refused_in_128_bit_queue(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = FIXTURE_DID,
                                                                  .pasid = 1 }), 0);
    expect_iqe(t, &fx, &d, "PASID-IOTLB in a 128-bit queue");
    ASSERT_EQ(t, qi_desc_pasid_device_tlb(&d, (struct qi_pasid_device_tlb){ .sid = fx.sid, .pasid = 1, .global = 1 }),
        0);
    expect_iqe(t, &fx, &d, "PASID-device-TLB in a 128-bit queue");
    fixture_down(t, &fx);
}

static void unknown_type_raises_iqe(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    const unsigned unknown_type = 0xf;
    struct qi_desc d = { { 0 } };
    bits_set(&d.qw[0], QI_TYPE_LO, unknown_type);
    expect_iqe(t, &fx, &d, "type 0xf");
    fixture_down(t, &fx);
}

static void reserved_bit_raises_iqe(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    const unsigned reserved_bit = 8; /* IOTLB qword 0 bits 15:8 are reserved */
    struct qi_desc d;
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    d.qw[0] |= 1ul << reserved_bit;
    expect_iqe(t, &fx, &d, "IOTLB with a reserved bit");
    fixture_down(t, &fx);
}

static void granularity_zero_raises_iqe(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d;
    EXPECT_EQ(t, qi_desc_iotlb(&d, (struct qi_iotlb){ .did = FIXTURE_DID }), -E_RANGE); /* the builder refuses it */
    bits_set(&d.qw[0], QI_GRAN, 0);
    expect_iqe(t, &fx, &d, "IOTLB with granularity 0");
    fixture_down(t, &fx);
}

static void wait_without_status_or_interrupt_raises_iqe(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d;
    ASSERT_EQ(t, qi_desc_wait(&d, (struct qi_wait){ .status_addr = fx.qi.status_pa }), 0);
    expect_iqe(t, &fx, &d, "wait with neither SW nor IF");
    fixture_down(t, &fx);
}

/* A wait may ask for a status write and the completion interrupt at once
 * (VT-d spec 6.5.2.8): the status lands and ICS.IWC sets. With the
 * interrupt masked (IECTL.IM, its reset value, set again here) nothing is
 * delivered and IECTL.IP records it. The control: the same wait without
 * IF writes its status and leaves IWC clear. (vtdlab's own waits are
 * SW only: it polls the status, iommu/qi.c.) */
static void wait_with_status_write_and_interrupt(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    uint64_t pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    volatile uint32_t *status = phys_to_virt(pa);
    vtd_write32(&fx.u, VTD_IECTL, VTD_ECTL_IM);
    vtd_write32(&fx.u, VTD_ICS, VTD_ICS_IWC);
    const uint32_t data = 0x5157a700; /* any value the page does not hold */
    for (int iflag = 0; iflag <= 1; iflag++) {
        *status = 0;
        struct qi_desc w;
        ASSERT_EQ(t, qi_desc_wait(&w, (struct qi_wait){ .status_addr = pa, .status_data = data + iflag, .sw = 1,
                                                          .iflag = iflag }), 0);
        int err = qi_sync(&fx.qi, &w, 1);
        EXPECT_TRUE(t, err == 0, "SW%s: %s", iflag ? "+IF" : " alone", err_name(err));
        EXPECT_TRUE(t, *status == data + iflag, "SW%s: the status reads 0x%x, not 0x%x", iflag ? "+IF" : " alone",
                    *status, data + iflag);
        uint32_t ics = vtd_read32(&fx.u, VTD_ICS), iectl = vtd_read32(&fx.u, VTD_IECTL);
        EXPECT_TRUE(t, (ics & VTD_ICS_IWC) == (iflag ? VTD_ICS_IWC : 0u), "SW%s: ICS 0x%x", iflag ? "+IF" : " alone",
                    ics);
        EXPECT_TRUE(t, (iectl & VTD_ECTL_IP) == (iflag ? VTD_ECTL_IP : 0u), "SW%s: IECTL 0x%x",
                    iflag ? "+IF" : " alone", iectl);
        vtd_write32(&fx.u, VTD_ICS, VTD_ICS_IWC);
        EXPECT_EQ(t, vtd_read32(&fx.u, VTD_ICS) & VTD_ICS_IWC, 0);
    }
    EXPECT_EQ(t, fx.qi.error.valid, 0);
    fixture_down(t, &fx);
    page_free(pa);
}

/* A wait with FN alone (no status write, no interrupt) is a valid
 * descriptor (VT-d spec 6.5.2.8: it only fences the descriptors behind
 * it): the batch behind it completes without a queue error. A unit that
 * refuses it with IQE is characterised by a skip naming that. */
static void wait_with_fence_alone_is_accepted(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d[2];
    ASSERT_EQ(t, qi_desc_wait(&d[0], (struct qi_wait){ .fn = 1 }), 0);
    ASSERT_EQ(t, qi_desc_iotlb(&d[1], (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL }), 0);
    int err = qi_sync(&fx.qi, d, 2);
    if (err == -E_IO && fx.qi.error.valid && (fx.qi.error.fsts & VTD_FSTS_IQE) &&
        fx.qi.error.desc.qw[0] == d[0].qw[0]) {
        expect_still_works(t, &fx);
        fixture_down(t, &fx);
        test_skip(t, "the unit refuses a wait with FN alone (IQE), which VT-d spec 6.5.2.8 allows");
    }
    EXPECT_TRUE(t, err == 0, "FN-only wait, then an IOTLB global: %s", err_name(err));
    EXPECT_EQ(t, fx.qi.error.valid, 0);
    EXPECT_EQ(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_IQE, 0);
    fixture_down(t, &fx);
}

/* QEMU gives no IQERCD.IQEI (it reads 0), and the submit below rewrites
 * IQT before anyone recovers; software still knows it wrote a tail past
 * the ring, so the valid descriptor at IQH is not blamed: it stays, and
 * its batch completes. (A unit that names the tail: the host test.) */
static void tail_past_the_queue_raises_iqe(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    qi_write_tail_raw(&fx.qi, (uint64_t)fx.qi.entries << fx.qi.shift);
    uint32_t fsts = vtd_read32(&fx.u, VTD_FSTS);
    EXPECT_TRUE(t, fsts & VTD_FSTS_IQE, "IQT past the ring: FSTS 0x%x has no IQE", fsts);
    struct qi_desc d;
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    unsigned at = fx.qi.tail;
    uint32_t seq;
    ASSERT_EQ(t, qi_submit(&fx.qi, &d, 1, &seq), 0);
    int err = qi_wait(&fx.qi, seq);
    EXPECT_TRUE(t, err == 0, "the batch behind the bad tail: %s", err_name(err));
    EXPECT_TRUE(t, fx.qi.error.valid && (fx.qi.error.fsts & VTD_FSTS_IQE), "the IQE was not recovered");
    const struct qi_desc *left = (const struct qi_desc *)(fx.qi.ring + (size_t)at * fx.qi.desc_size);
    EXPECT_EQ(t, left->qw[0], d.qw[0]);
    EXPECT_TRUE(t, qi_completed(&fx.qi, seq), "the batch behind the bad tail does not read as completed");
    expect_still_works(t, &fx);
    fixture_down(t, &fx);
}

static void batch_behind_one_wait(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d[BATCH];
    for (unsigned i = 0; i < BATCH; i++)
        ASSERT_EQ(t, qi_desc_iotlb(&d[i], (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = FIXTURE_DID,
                                                             .addr = FIXTURE_IOVA + i * PAGE_SIZE }), 0);
    uint64_t waits = fx.qi.waits, descs = fx.qi.descriptors;
    ASSERT_EQ(t, qi_sync(&fx.qi, d, BATCH), 0);
    EXPECT_EQ(t, fx.qi.waits - waits, 1);
    EXPECT_EQ(t, fx.qi.descriptors - descs, BATCH + 1);
    test_metric(t, "descriptors_per_wait", fx.qi.descriptors - descs, "descriptors");
    fixture_down(t, &fx);
}

/* Batches complete in order: once the last one's wait has written its
 * status, every earlier sequence reads as completed. */
static void async_batches_complete_in_order(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc d;
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = FIXTURE_DID });
    uint32_t seq[3];
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(t, qi_submit(&fx.qi, &d, 1, &seq[i]), 0);
    EXPECT_TRUE(t, seq[0] < seq[1] && seq[1] < seq[2], "sequences %u %u %u do not grow", seq[0], seq[1], seq[2]);
    ASSERT_EQ(t, qi_wait(&fx.qi, seq[2]), 0);
    EXPECT_TRUE(t, qi_completed(&fx.qi, seq[0]) && qi_completed(&fx.qi, seq[1]), "an earlier batch is pending");
    EXPECT_TRUE(t, !qi_completed(&fx.qi, seq[2] + 1), "a sequence never submitted reads as completed");
    fixture_down(t, &fx);
}

/* A refused descriptor stops the head; a submitter that then needs more
 * room than is left holds the queue's lock while it waits for it, so it
 * must recover the error itself (a waiter could not). */
static void a_stopped_head_is_recovered_while_waiting_for_room(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    struct qi_desc bad = { { 0 } };
    bad.qw[0] = 0xf; /* a type the spec does not define */
    uint32_t seq_bad, seq_fill, seq_more;
    ASSERT_EQ(t, qi_submit(&fx.qi, &bad, 1, &seq_bad), 0);
    uint32_t fsts = vtd_read32(&fx.u, VTD_FSTS);
    ASSERT_TRUE(t, fsts & VTD_FSTS_IQE, "the bad descriptor raised no IQE: FSTS 0x%x", fsts);
    /* Two thirds of the ring behind the stopped head, then a third more. */
    unsigned fill = fx.qi.entries * 2 / 3, more = fx.qi.entries / 3;
    struct qi_desc d;
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    static struct qi_desc many[QI_RING_ENTRIES_MAX];
    for (unsigned i = 0; i < fill; i++)
        many[i] = d;
    ASSERT_EQ(t, qi_submit(&fx.qi, many, fill, &seq_fill), 0);
    ASSERT_TRUE(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_IQE, "the head moved on by itself");
    int err = qi_submit(&fx.qi, many, more, &seq_more);
    EXPECT_TRUE(t, err == 0, "submitting behind the stopped head: %s", err_name(err));
    EXPECT_EQ(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_IQE, 0);
    err = qi_wait(&fx.qi, seq_bad);
    EXPECT_TRUE(t, err == -E_IO, "the refused batch: expected -E_IO, got %s", err_name(err));
    EXPECT_EQ(t, qi_wait(&fx.qi, seq_fill), 0);
    if (!err)
        EXPECT_EQ(t, qi_wait(&fx.qi, seq_more), 0);
    fixture_down(t, &fx);
}

/* After qi_force_off: the unit says (GSTS) the queue is off, and the
 * queue comes back on over the same ring and works. */
static void expect_forced_off_and_back(struct test *t, struct vtd_fixture *fx, const char *what)
{
    int err = qi_force_off(&fx->u);
    EXPECT_TRUE(t, err == 0, "%s: qi_force_off: %s", what, err_name(err));
    uint32_t gsts = vtd_read32(&fx->u, VTD_GSTS);
    ASSERT_TRUE(t, !(gsts & VTD_GCMD_QIE), "%s: the queue is still on (GSTS 0x%08x)", what, gsts);
    fx->qi.tail = 0;
    vtd_write64(&fx->u, VTD_IQT, 0);
    ASSERT_EQ(t, vtd_gcmd(&fx->u, VTD_GCMD_QIE, 1), 0);
    expect_still_works(t, fx);
}

/* The clean-up after an aborted case turns off a queue left with IQT
 * past the ring, or with a refused descriptor at IQH: the unit turns the
 * queue off only once IQH == IQT and the last descriptor it carried out
 * was a wait (QEMU: vtd_queued_inv_disable_check). */
static void force_off_after_a_bad_tail_or_a_refused_descriptor(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    qi_write_tail_raw(&fx.qi, (uint64_t)fx.qi.entries << fx.qi.shift);
    ASSERT_TRUE(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_IQE, "IQT past the ring raised no IQE");
    expect_forced_off_and_back(t, &fx, "IQT past the ring");
    struct qi_desc bad = { { 0 } };
    bad.qw[0] = 0xf; /* a type the spec does not define */
    ASSERT_EQ(t, qi_submit(&fx.qi, &bad, 1, NULL), 0);
    ASSERT_TRUE(t, vtd_read32(&fx.u, VTD_FSTS) & VTD_FSTS_IQE, "the bad descriptor raised no IQE");
    expect_forced_off_and_back(t, &fx, "a refused descriptor at IQH");
    fixture_down(t, &fx);
}

/* A page-selective IOTLB invalidation of *iova for the fixture's domain. */
static int iotlb_page_of(const struct qi_desc *d, const void *iova)
{
    return qi_desc_type(d) == QI_IOTLB && bits_get(d->qw[0], QI_GRAN) == QI_IOTLB_PAGE &&
           bits_get(d->qw[0], QI_DID) == FIXTURE_DID &&
           (bits_get(d->qw[1], QI_ADDR_QW1) << PAGE_SHIFT) == *(const uint64_t *)iova;
}

/* Maps a page at a fresh IOVA and counts the invalidations of it the unit
 * consumed for the map; the device then reads through it. */
static unsigned map_and_count(struct test *t, struct vtd_fixture *fx, uint64_t iova, uint64_t pa)
{
    unsigned from = fixture_unit_head(&fx->qi);
    ASSERT_EQ(t, vtd_domain_map(&fx->dom, iova, pa, PT_LEVEL_PT, SL_RW), 0);
    unsigned n = fixture_count_consumed(&fx->qi, from, fixture_unit_head(&fx->qi), iotlb_page_of, &iova);
    ASSERT_EQ(t, fixture_dma_to_device(fx, iova, PAGE_SIZE), 0);
    struct vtd_fault_log log;
    fixture_faults(t, fx, &log);
    EXPECT_EQ(t, log.count, 0);
    return n;
}

/* A fresh page mapped (and the device reading through it), then the
 * fixture down: how many invalidations of it the map made. */
static unsigned invalidations_for_a_fresh_map(struct test *t, struct vtd_fixture *fx)
{
    uint64_t pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    unsigned n = map_and_count(t, fx, FIXTURE_IOVA + 7 * PAGE_SIZE, pa);
    fixture_down(t, fx);
    page_free(pa);
    return n;
}

/* CAP.CM: a unit in caching mode (a virtual IOMMU) may cache not-present
 * entries, so a map is followed by a page-selective invalidation of it. */
static void caching_mode_map_is_invalidated(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    if (!CAP_CM(fx.u.cap))
        test_skip(t, "the unit has no caching mode (CAP.CM = 0; QEMU: caching-mode=on)");
    EXPECT_EQ(t, invalidations_for_a_fresh_map(t, &fx), 1);
}

/* ... and a unit without it is not sent one (the other side of the rule). */
static void map_without_caching_mode_is_not_invalidated(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    if (CAP_CM(fx.u.cap))
        test_skip(t, "the unit is in caching mode (CAP.CM = 1): every map is invalidated");
    EXPECT_EQ(t, invalidations_for_a_fresh_map(t, &fx), 0);
}

static void trace_restore(uintptr_t was) { vtd_mmio_trace_enable((int)was); }

/* CAP.RWBF: the unit may hold table writes in a write buffer, so a map is
 * followed by exactly one GCMD write with WBF (read from the MMIO trace,
 * not from the driver), after which GSTS.WBFS reads clear; a unit without
 * RWBF is sent none. */
static void write_buffer_flushed_only_where_required(struct test *t)
{
    struct vtd_fixture fx;
    fixture_qi_up(t, &fx);
    test_on_exit(t, trace_restore, (uintptr_t)vtd_mmio_trace_enabled());
    vtd_mmio_trace_enable(1);
    uint64_t pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    unsigned mark = vtd_mmio_trace_mark(), flushes = 0;
    ASSERT_EQ(t, vtd_domain_map(&fx.dom, FIXTURE_IOVA + 9 * PAGE_SIZE, pa, PT_LEVEL_PT, SL_RW), 0);
    ASSERT_EQ(t, vtd_mmio_trace_writes_since(mark, VTD_GCMD, VTD_GCMD_WBF, &flushes), 0);
    test_diag(t, "CAP.RWBF %lu: %u write-buffer flush(es) after the map", (unsigned long)CAP_RWBF(fx.u.cap), flushes);
    EXPECT_EQ(t, flushes, CAP_RWBF(fx.u.cap) ? 1 : 0);
    EXPECT_EQ(t, vtd_read32(&fx.u, VTD_GSTS) & VTD_GCMD_WBF, 0);
    fixture_down(t, &fx);
    page_free(pa);
}

TEST_SUITE(vtd_qi, 41, 0,
           TEST(each_descriptor_type_accepted),
           TEST(batch_behind_one_wait),
           TEST(async_batches_complete_in_order),
           TEST(pasid_descriptors_refused_in_128_bit_queue),
           TEST(unknown_type_raises_iqe),
           TEST(reserved_bit_raises_iqe),
           TEST(granularity_zero_raises_iqe),
           TEST(wait_without_status_or_interrupt_raises_iqe),
           TEST(wait_with_status_write_and_interrupt),
           TEST(wait_with_fence_alone_is_accepted),
           TEST(tail_past_the_queue_raises_iqe),
           TEST(a_stopped_head_is_recovered_while_waiting_for_room),
           TEST(force_off_after_a_bad_tail_or_a_refused_descriptor),
           TEST(caching_mode_map_is_invalidated),
           TEST(map_without_caching_mode_is_not_invalidated),
           TEST(write_buffer_flushed_only_where_required));
