/* intremap: edu's MSIs through the unit's interrupt remapping table. Each
 * case raises edu's interrupt with its MSI capability in the remappable
 * format and sees, from the handler's own count per vector and CPU, which
 * vector arrived where; faults are read from the unit's fault records.
 * Translation stays off: remapping interrupts needs only IR and the queue
 * (for the interrupt-entry-cache invalidations).
 *
 * Cases decide by what the unit did, never by which platform this is: a
 * unit that caches entries (VT-d spec 6.4) is held to what a cache implies
 * the same way on vtdlab's QEMU (profile hw-model, x-iec) and on silicon;
 * one that reads the table for every interrupt skips, named, where only a
 * cache can go stale. docs/qemu.md says what each QEMU property models. */
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/entry_write.h"
#include "iommu/intremap.h"
#include "kernel/apic.h"
#include "kernel/clock.h"
#include "kernel/exit.h"
#include "kernel/smp.h"
#include "kernel/traps.h"
#include "lib/atomic.h"
#include "lib/errno.h"
#include "mm/mm.h"
#include "vtd_fixture.h"

#define IRT_ENTRIES      256
#define HANDLE           5
#define STATUS_TEST      0x1u          /* what the cases raise in edu's status */
#define ARRIVAL_US       100000u       /* an MSI QEMU delivers at once; room for hardware */
#define SILENCE_US       20000u        /* how long "nothing arrived" is watched for */
#define CFI_PROBE_US     10000u        /* a unit answers a GCMD write in microseconds */
#define FR_IR_INDEX_OVER 0x21          /* fault reasons, VT-d spec 7.1.3 */
#define FR_IR_NOT_PRESENT 0x22
#define FR_IR_COMPAT     0x25
#define FR_IR_SID        0x26
#define X2APIC_ONLY_ID   0x1234         /* sets bits the xAPIC format reserves */
#define BLOCK_FIRST      4              /* a masked invalidation's aligned block: */
#define BLOCK_IM         2              /* entries 4-7 */

/* Arrivals per vector (A, B) and CPU, counted by the handler. */
static uint32_t hits[2][SMP_MAX_CPUS];
/* The edus the handler acknowledges and restore_msis puts back: copies,
 * not the case's own structs, because the cleanup and a late interrupt run
 * after the case's stack is gone (the UBSan kernel caught restore_msis
 * reading a dead frame: docs/sanitizers.md). */
static struct edu acked[EDU_MAX];
static struct edu *acking[EDU_MAX];

static void ir_handler(struct trap_frame *f)
{
    atomic_add(&hits[f->vector - VEC_IR_A][smp_cpu_id()], 1);
    for (unsigned i = 0; i < EDU_MAX; i++)
        if (acking[i])
            edu_irq_ack(acking[i]);
    apic_eoi();
}

static uint32_t total(unsigned v)
{
    uint32_t n = 0;
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        n += READ_ONCE(hits[v][c]);
    return n;
}

struct scene {
    struct vtd_fixture fx;
    struct vtd_irt irt;
    struct edu other;      /* the second edu, when there is one */
    int have_other;
};

/* However the case ends: the edus' MSIs back to the compatibility format
 * and vector the rest of the kernel uses, no handler acknowledging them. */
static void restore_msis(uintptr_t unused)
{
    for (unsigned i = 0; i < EDU_MAX; i++) {
        if (acking[i])
            pci_msi_enable(acking[i]->pci, apic_id(), VEC_EDU);
        acking[i] = NULL;
    }
}

static void scene_up(struct test *t, struct scene *s, int eime)
{
    memset(s, 0, sizeof(*s));
    fixture_qi_alone_up(t, &s->fx);
    struct vtd_unit *u = &s->fx.u;
    if (!ECAP_IR(u->ecap))
        test_skip(t, "the unit has no interrupt remapping (ECAP.IR = 0; QEMU: intremap=off)");
    if (eime && !ECAP_EIM(u->ecap))
        test_skip(t, "the unit has no extended interrupt mode (ECAP.EIM = 0; QEMU: eim=on)");
    memset(hits, 0, sizeof(hits));
    irq_set_handler(VEC_IR_A, ir_handler);
    irq_set_handler(VEC_IR_B, ir_handler);
    s->have_other = edu_probe_nth(&s->other, 1) == 0;
    acked[0] = s->fx.edu;
    acked[1] = s->other;
    acking[0] = &acked[0];
    acking[1] = s->have_other ? &acked[1] : NULL;
    test_on_exit(t, restore_msis, 0);
    ASSERT_EQ(t, vtd_irt_init(&s->irt, u, &s->fx.qi, IRT_ENTRIES, eime), 0);
    fixture_remember_irt(&s->irt);
    ASSERT_EQ(t, vtd_irt_enable(&s->irt), 0);
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    ASSERT_TRUE(t, gsts & VTD_GCMD_IRE, "IRE is not on: GSTS 0x%08x", gsts);
}

static void scene_down(struct test *t, struct scene *s)
{
    EXPECT_EQ(t, vtd_irt_disable(&s->irt), 0);
    fixture_remember_irt(&s->irt); /* freed: nothing left for a cleanup to free */
    EXPECT_EQ(t, vtd_read32(&s->fx.u, VTD_GSTS) & VTD_GCMD_IRE, 0);
    fixture_down(t, &s->fx);
}

static uint32_t dest_of(const struct scene *s, unsigned cpu)
{
    return smp_apic_id(cpu);
}

static void set_entry(struct test *t, struct scene *s, unsigned index, unsigned vector, unsigned cpu, uint16_t sid)
{
    struct vtd_irte e;
    ASSERT_EQ(t, irte_remapped(&e, vector, dest_of(s, cpu), s->irt.eime, sid), 0);
    ASSERT_EQ(t, vtd_irte_write(&s->irt, index, &e), 0);
}

static void point_edu_at(struct test *t, struct edu *e, uint16_t handle, int shv, uint16_t subhandle)
{
    ASSERT_EQ(t, pci_msi_program(e->pci, vtd_msi_remappable_address(handle, shv), subhandle), 0);
}

/* Raises edu's interrupt and waits until `want` interrupts in all have
 * arrived (or, want 0, watches for SILENCE_US that none does). */
static void raise_and_wait(struct edu *e, uint32_t want)
{
    uint32_t before = total(0) + total(1);
    edu_raise_irq(e, STATUS_TEST);
    if (want)
        WAIT_UNTIL(total(0) + total(1) - before >= want, ARRIVAL_US);
    else
        udelay(SILENCE_US);
}

static void expect_hits(struct test *t, unsigned vector_index, unsigned cpu, uint32_t n)
{
    EXPECT_TRUE(t, READ_ONCE(hits[vector_index][cpu]) == n, "vector 0x%x on CPU %u: expected %u arrivals, saw %u",
                VEC_IR_A + vector_index, cpu, n, READ_ONCE(hits[vector_index][cpu]));
}

static void expect_no_faults(struct test *t, struct scene *s)
{
    struct vtd_fault_log log;
    fixture_faults(t, &s->fx, &log);
    EXPECT_EQ(t, log.count, 0);
}

/* ------------------------------------------------------------ delivery */

static void remapped_msi_arrives_with_the_entry_vector(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    set_entry(t, &s, HANDLE, VEC_IR_A, 0, s.fx.sid);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, 0, 1);
    EXPECT_EQ(t, total(1), 0);
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

/* With SHV the data's subhandle is added to the handle: 4 + 3 picks entry 7,
 * not entry 4 (which names the other vector). */
static void subhandle_picks_the_entry(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    set_entry(t, &s, 4, VEC_IR_A, 0, s.fx.sid);
    set_entry(t, &s, 7, VEC_IR_B, 0, s.fx.sid);
    point_edu_at(t, &s.fx.edu, 4, 1, 3);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 1, 0, 1);
    EXPECT_EQ(t, total(0), 0);
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

static void remapped_msi_reaches_another_cpu(struct test *t)
{
    if (smp_online_count() < 2)
        test_skip(t, "needs 2 CPUs, %u online", smp_online_count());
    struct scene s;
    scene_up(t, &s, 0);
    unsigned cpu = smp_last_online();
    set_entry(t, &s, HANDLE, VEC_IR_A, cpu, s.fx.sid);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, cpu, 1);
    expect_hits(t, 0, 0, 0);
    test_diag(t, "entry %u sent vector 0x%x to CPU %u (APIC id %u)", HANDLE, VEC_IR_A, cpu, dest_of(&s, cpu));
    scene_down(t, &s);
}

/* The entry's x2APIC destination format, which needs EIME. */
static void x2apic_destination_with_eim(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 1);
    set_entry(t, &s, HANDLE, VEC_IR_A, 0, s.fx.sid);
    EXPECT_EQ(t, bits_get(s.irt.e[HANDLE].lo, IRTE_DST_X2APIC), dest_of(&s, 0));
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, 0, 1);
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

/* ------------------------------------------------------------ changes and the entry cache */

/* An interrupt-entry-cache invalidation: any (all), or index-selective of
 * `index`, and with the mask `im` too when check_im is set. */
struct iec_want {
    int all, check_im;
    unsigned index, im;
};

static int iec_matches(const struct qi_desc *d, const void *arg)
{
    const struct iec_want *w = arg;
    if (qi_desc_type(d) != QI_IEC)
        return 0;
    if (w->all)
        return 1;
    return bits_get(d->qw[0], QI_IEC_G) && bits_get(d->qw[0], QI_IEC_IIDX) == w->index &&
           (!w->check_im || bits_get(d->qw[0], QI_IEC_IM) == w->im);
}

static void vector_change_with_index_invalidation_takes_effect(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    set_entry(t, &s, HANDLE, VEC_IR_A, 0, s.fx.sid);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, 0, 1);
    /* vtd_irte_write invalidates that index and waits: one such
     * descriptor, as the unit consumed it */
    unsigned from = fixture_unit_head(&s.fx.qi);
    set_entry(t, &s, HANDLE, VEC_IR_B, 0, s.fx.sid);
    const struct iec_want want = { .index = HANDLE };
    EXPECT_EQ(t, fixture_count_consumed(&s.fx.qi, from, fixture_unit_head(&s.fx.qi), iec_matches, &want), 1);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 1, 0, 1);
    expect_hits(t, 0, 0, 1);
    scene_down(t, &s);
}

/* One index-selective invalidation with a mask covers an aligned block
 * (2^im entries): as the unit consumed it, IIDX 4 and IM 2 for entries
 * 4-7; a block not aligned to its size is refused before it is queued. */
static void masked_invalidation_covers_an_aligned_block(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    unsigned from = fixture_unit_head(&s.fx.qi);
    ASSERT_EQ(t, vtd_iec_invalidate(&s.fx.qi, 1, 4, 2), 0);
    unsigned to = fixture_unit_head(&s.fx.qi);
    const struct iec_want any = { .all = 1 }, block = { .index = 4, .im = 2, .check_im = 1 };
    EXPECT_EQ(t, fixture_count_consumed(&s.fx.qi, from, to, iec_matches, &any), 1);
    EXPECT_EQ(t, fixture_count_consumed(&s.fx.qi, from, to, iec_matches, &block), 1);
    from = to;
    EXPECT_EQ(t, vtd_iec_invalidate(&s.fx.qi, 1, 5, 2), -E_RANGE);
    EXPECT_EQ(t, fixture_unit_head(&s.fx.qi), from);
    scene_down(t, &s);
}

/* Entry index's vector changed in memory alone, with no invalidation (the
 * vector is in the low half, written with one store). */
static void change_vector_behind_the_unit(struct test *t, struct scene *s, unsigned index, unsigned vector)
{
    struct vtd_irte e;
    ASSERT_EQ(t, irte_remapped(&e, vector, dest_of(s, 0), s->irt.eime, s->fx.sid), 0);
    WRITE_ONCE(s->irt.e[index].lo, e.lo);
    vtd_flush_lines(&s->fx.u, &s->irt.e[index], sizeof(e));
}

/* Raises edu's interrupt through entry index: 0 or 1 for the vector that
 * arrived (VEC_IR_A or VEC_IR_B), -1 for none. */
static int vector_through(struct test *t, struct scene *s, unsigned index)
{
    uint32_t a = total(0), b = total(1);
    point_edu_at(t, &s->fx.edu, (uint16_t)index, 0, 0);
    raise_and_wait(&s->fx.edu, 1);
    return total(1) != b ? 1 : total(0) != a ? 0 : -1;
}

static const char *const vector_words[] = { "none", "the old vector", "the new vector" };
#define VECTOR_WORD(v) vector_words[(v) + 1]

#define NO_IEC "no interrupt-entry cache observed: the unit read entry %u again for the next interrupt after it " \
               "changed with no invalidation, so nothing can go stale (VT-d 6.4 allows either; QEMU: x-iec=on)"

/* The negative control: the entry changed in memory with no invalidation.
 * A unit that caches entries (VT-d spec 6.4) keeps delivering the old
 * vector, interrupt after interrupt, through an invalidation of another
 * index, until the one index-selective invalidation of this index (the
 * positive control); one that reads the table for every interrupt uses
 * the new vector at once and skips, named. */
static void vector_change_without_invalidation(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    set_entry(t, &s, HANDLE, VEC_IR_A, 0, s.fx.sid);
    ASSERT_EQ(t, vector_through(t, &s, HANDLE), 0);
    change_vector_behind_the_unit(t, &s, HANDLE, VEC_IR_B);
    int v = vector_through(t, &s, HANDLE);
    ASSERT_TRUE(t, v >= 0, "no interrupt arrived after entry %u changed", HANDLE);
    test_characterisation(t, "interrupt_entry_cached", v == 0, "after an entry changed with no invalidation %s "
                          "arrived", VECTOR_WORD(v));
    if (v == 1) {
        scene_down(t, &s);
        test_skip(t, NO_IEC, HANDLE);
    }
    ASSERT_EQ(t, vtd_iec_invalidate(&s.fx.qi, 1, HANDLE + 1, 0), 0);
    v = vector_through(t, &s, HANDLE);
    EXPECT_TRUE(t, v == 0, "after an invalidation of entry %u only, entry %u delivered %s", HANDLE + 1, HANDLE,
                VECTOR_WORD(v));
    ASSERT_EQ(t, vtd_iec_invalidate(&s.fx.qi, 1, HANDLE, 0), 0);
    v = vector_through(t, &s, HANDLE);
    EXPECT_TRUE(t, v == 1, "after the index-selective invalidation of entry %u it delivered %s", HANDLE,
                VECTOR_WORD(v));
    expect_hits(t, 0, 0, 3);
    expect_hits(t, 1, 0, 1);
    scene_down(t, &s);
}

/* A masked index-selective invalidation (IIDX 4, IM 2) drops exactly its
 * aligned block: entries 3-8 used (cached, on a unit that caches), then
 * changed in memory with no invalidation; after the masked invalidation
 * entries 4-7 deliver the new vector and 3 and 8, just outside, the old. */
static void masked_invalidation_drops_exactly_its_block(struct test *t)
{
    const unsigned first = BLOCK_FIRST - 1, last = BLOCK_FIRST + (1u << BLOCK_IM);
    struct scene s;
    scene_up(t, &s, 0);
    for (unsigned i = first; i <= last; i++)
        set_entry(t, &s, i, VEC_IR_A, 0, s.fx.sid);
    for (unsigned i = first; i <= last; i++)
        ASSERT_EQ(t, vector_through(t, &s, i), 0);
    for (unsigned i = first; i <= last; i++)
        change_vector_behind_the_unit(t, &s, i, VEC_IR_B);
    int v = vector_through(t, &s, first);
    ASSERT_TRUE(t, v >= 0, "no interrupt arrived after entry %u changed", first);
    if (v == 1) {
        scene_down(t, &s);
        test_skip(t, NO_IEC, first);
    }
    ASSERT_EQ(t, vtd_iec_invalidate(&s.fx.qi, 1, BLOCK_FIRST, BLOCK_IM), 0);
    for (unsigned i = first; i <= last; i++) {
        int inside = i >= BLOCK_FIRST && i < BLOCK_FIRST + (1u << BLOCK_IM);
        v = vector_through(t, &s, i);
        EXPECT_TRUE(t, v == inside, "entry %u (%s the block %u-%u) delivered %s after the masked invalidation", i,
                    inside ? "inside" : "outside", BLOCK_FIRST, BLOCK_FIRST + (1u << BLOCK_IM) - 1, VECTOR_WORD(v));
    }
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

/* ------------------------------------------------------------ changing a present entry */

/* A present entry changing from X (VEC_IR_A, requester edu) to Y (VEC_IR_B,
 * another requester id), with the unit made to read the entry in every
 * state it passes through: after each store the writer makes, the entry is
 * invalidated (the unit must read it and, if it caches, caches what it
 * read) and edu raises its interrupt. edu may get VEC_IR_A (X) or be
 * blocked (Y names another requester; not present on the way); VEC_IR_B
 * in edu's handler is a torn entry, Y's low half with X's high half, which
 * neither X nor Y allows. */
struct update_probe {
    struct scene *s;
    unsigned index;
    unsigned states, x, torn, blocked, failed;
};

static void probe_the_entry(void *arg)
{
    struct update_probe *p = arg;
    struct vtd_fault_log log;
    vtd_flush_lines(&p->s->fx.u, &p->s->irt.e[p->index], sizeof(struct vtd_irte));
    if (vtd_iec_invalidate(&p->s->fx.qi, 1, p->index, 0)) {
        p->failed++;
        return;
    }
    uint32_t a = total(0), b = total(1);
    edu_raise_irq(&p->s->fx.edu, STATUS_TEST);
    WAIT_UNTIL(total(0) != a || total(1) != b || (vtd_read32(&p->s->fx.u, VTD_FSTS) & VTD_FSTS_PPF), ARRIVAL_US);
    vtd_fault_collect(&p->s->fx.u, &log);
    edu_irq_ack(&p->s->fx.edu); /* a blocked interrupt left edu's status raised */
    p->states++;
    p->x += total(0) - a;
    p->torn += total(1) - b;
    p->blocked += log.count;
}

static void expect_untorn(struct test *t, const struct update_probe *p, const char *path)
{
    EXPECT_EQ(t, p->failed, 0);
    EXPECT_TRUE(t, p->torn == 0, "%s: vector 0x%x reached edu's handler %u times in %u states of the entry: the "
                "unit read a torn entry", path, VEC_IR_B, p->torn, p->states);
    EXPECT_TRUE(t, p->x + p->blocked == p->states, "%s: %u states, %u delivered X's vector and %u were "
                "blocked", path, p->states, p->x, p->blocked);
}

static void present_entry_change_is_never_torn(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    uint16_t other = (uint16_t)(s.fx.sid + 1); /* the next function: no requester of ours */
    struct vtd_irte x, y;
    ASSERT_EQ(t, irte_remapped(&x, VEC_IR_A, dest_of(&s, 0), 0, s.fx.sid), 0);
    ASSERT_EQ(t, irte_remapped(&y, VEC_IR_B, dest_of(&s, 0), 0, other), 0);
    ASSERT_EQ(t, vtd_irte_write(&s.irt, HANDLE, &x), 0);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    static const struct { const char *name; int halves; } paths[] = {
        { "one 16-byte store (CMPXCHG16B where CPUID has it)", 0 },
        { "two 64-bit stores", 1 },
    };
    for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct update_probe p = { .s = &s, .index = HANDLE };
        struct vtd_irte_watch w = { probe_the_entry, &p, paths[i].halves };
        ASSERT_EQ(t, vtd_irte_write_watched(&s.irt, HANDLE, &y, &w), 0);
        ASSERT_EQ(t, vtd_irte_write_watched(&s.irt, HANDLE, &x, &w), 0);
        expect_untorn(t, &p, paths[i].name);
        test_diag(t, "%s: %u states read by the unit, %u delivered X's vector, %u blocked", paths[i].name,
                  p.states, p.x, p.blocked);
    }
    /* The negative control: a writer storing Y's halves one at a time, low
     * first, is seen torn by the same probe. */
    struct update_probe p = { .s = &s, .index = HANDLE };
    WRITE_ONCE(s.irt.e[HANDLE].lo, y.lo);
    probe_the_entry(&p);
    WRITE_ONCE(s.irt.e[HANDLE].hi, y.hi);
    probe_the_entry(&p);
    EXPECT_EQ(t, p.failed, 0);
    EXPECT_TRUE(t, p.torn == 1, "a writer storing the halves one at a time: vector 0x%x reached edu's handler %u "
                "times, not once", VEC_IR_B, p.torn);
    scene_down(t, &s);
}

/* ------------------------------------------------------------ faults */

/* Exactly one record, naming edu and the reason, and no interrupt. */
static void expect_one_ir_fault(struct test *t, struct scene *s, uint8_t reason, int check_index, unsigned index)
{
    struct vtd_fault_log log;
    fixture_faults(t, &s->fx, &log);
    EXPECT_EQ(t, total(0) + total(1), 0);
    ASSERT_EQ(t, log.count, 1);
    EXPECT_TRUE(t, log.f[0].is_interrupt, "the record is not an interrupt-remapping fault (reason 0x%x)",
                log.f[0].reason);
    EXPECT_EQ(t, log.f[0].reason, reason);
    EXPECT_EQ(t, log.f[0].sid, s->fx.sid);
    if (check_index)
        EXPECT_EQ(t, log.f[0].ir_index, index);
}

static void not_present_entry_faults(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    raise_and_wait(&s.fx.edu, 0);
    expect_one_ir_fault(t, &s, FR_IR_NOT_PRESENT, 1, HANDLE);
    scene_down(t, &s);
}

static void handle_beyond_the_table_faults(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    point_edu_at(t, &s.fx.edu, IRT_ENTRIES + 1, 0, 0);
    raise_and_wait(&s.fx.edu, 0);
    expect_one_ir_fault(t, &s, FR_IR_INDEX_OVER, 1, IRT_ENTRIES + 1);
    scene_down(t, &s);
}

/* The entry names another requester: edu's interrupt is blocked, the other
 * edu's, through its own entry, still arrives. */
static void source_validation_blocks_another_requester(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    if (!s.have_other)
        test_skip(t, "needs a second edu device for a second source-id");
    uint16_t other_sid = pci_requester_id(s.other.pci);
    set_entry(t, &s, HANDLE, VEC_IR_A, 0, other_sid);
    set_entry(t, &s, HANDLE + 1, VEC_IR_B, 0, other_sid);
    point_edu_at(t, &s.fx.edu, HANDLE, 0, 0);
    point_edu_at(t, &s.other, HANDLE + 1, 0, 0);
    raise_and_wait(&s.fx.edu, 0);
    expect_one_ir_fault(t, &s, FR_IR_SID, 1, HANDLE);
    raise_and_wait(&s.other, 1);
    expect_hits(t, 1, 0, 1);
    expect_hits(t, 0, 0, 0);
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

/* Compatibility-format interrupts (VT-d spec 5.1.4): with IRE on they are
 * blocked (fault 0x25) when IRTA.EIME is set, whatever CFI says, or when
 * GSTS.CFIS is clear; they pass through unremapped only with EIME clear and
 * CFIS set. A unit that implements no GCMD.CFI (GSTS.CFIS never follows
 * it, spec 11.4.4.1) and lets such an interrupt through deviates from the
 * spec in both: that is recognised from what the unit did and skipped,
 * named; a unit that implements CFI is held to the blocking. */
#define NO_CFI_DELIVERED "the unit delivered a compatibility-format interrupt that VT-d 5.1.4 blocks and implements " \
                         "no GCMD.CFI (GSTS.CFIS never set): a deviation from the spec"
#define NO_CFI           "the unit implements no GCMD.CFI (GSTS.CFIS never set after CFI was written): a deviation " \
                         "from VT-d 11.4.4.1"

/* Asks for CFI on and returns whether GSTS.CFIS followed. */
static int cfi_on(struct test *t, struct scene *s)
{
    int err = vtd_gcmd_within(&s->fx.u, VTD_GCMD_CFI, 1, CFI_PROBE_US);
    ASSERT_TRUE(t, err == 0 || err == -E_TIMEDOUT, "writing GCMD.CFI: error %d", err);
    return err == 0;
}

/* edu's MSI in compatibility format to VEC_IR_A, raised: blocked means one
 * 0x25 fault and nothing arrived. cfi says whether GSTS.CFIS followed CFI,
 * or is -1 where CFI was not asked for: then it is asked only if the
 * interrupt arrived (and left off), since only a unit without it skips. */
static void expect_compatibility_format_blocked(struct test *t, struct scene *s, int cfi)
{
    ASSERT_EQ(t, pci_msi_enable(s->fx.edu.pci, apic_id(), VEC_IR_A), 0);
    raise_and_wait(&s->fx.edu, 0);
    if (total(0) == 1) {
        if (cfi < 0 && (cfi = cfi_on(t, s)))
            ASSERT_EQ(t, vtd_gcmd(&s->fx.u, VTD_GCMD_CFI, 0), 0);
        if (!cfi) {
            struct vtd_fault_log log;
            fixture_faults(t, &s->fx, &log);
            scene_down(t, s);
            test_skip(t, NO_CFI_DELIVERED " (%u fault records)", log.count);
        }
    }
    expect_one_ir_fault(t, s, FR_IR_COMPAT, 0, 0);
}

static void compatibility_format_blocked_without_cfi(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    expect_compatibility_format_blocked(t, &s, -1);
    scene_down(t, &s);
}

/* ... and passes through untranslated with CFI on (GSTS.CFIS reports it). */
static void compatibility_format_passes_with_cfi(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    if (!cfi_on(t, &s)) {
        scene_down(t, &s);
        test_skip(t, NO_CFI);
    }
    EXPECT_TRUE(t, vtd_read32(&s.fx.u, VTD_GSTS) & VTD_GCMD_CFI, "CFI is not on: GSTS 0x%08x",
                vtd_read32(&s.fx.u, VTD_GSTS));
    ASSERT_EQ(t, pci_msi_enable(s.fx.edu.pci, apic_id(), VEC_IR_A), 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, 0, 1);
    expect_no_faults(t, &s);
    scene_down(t, &s);
}

/* ... and blocked in extended interrupt mode even with CFI on. */
static void compatibility_format_blocked_with_eime_even_with_cfi(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 1);
    expect_compatibility_format_blocked(t, &s, cfi_on(t, &s));
    scene_down(t, &s);
}

/* ------------------------------------------------------------ bad input, teardown */

static void bad_entries_and_tables_refused_before_anything_is_written(struct test *t)
{
    struct scene s;
    scene_up(t, &s, 0);
    struct vtd_irte e, before = s.irt.e[HANDLE];
    EXPECT_EQ(t, irte_remapped(&e, IRTE_VECTOR_MIN - 1, 0, 0, s.fx.sid), -E_RANGE);
    /* an x2APIC destination (one the 8-bit xAPIC field cannot hold) in a
     * table without EIME */
    ASSERT_EQ(t, irte_remapped(&e, VEC_IR_A, X2APIC_ONLY_ID, 1, s.fx.sid), 0);
    EXPECT_EQ(t, vtd_irte_write(&s.irt, HANDLE, &e), -E_RANGE);
    ASSERT_EQ(t, irte_remapped(&e, VEC_IR_A, 0, 0, s.fx.sid), 0);
    EXPECT_EQ(t, vtd_irte_write(&s.irt, IRT_ENTRIES, &e), -E_RANGE);
    EXPECT_TRUE(t, !memcmp(&before, &s.irt.e[HANDLE], sizeof(before)), "a refused entry reached the table");
    struct vtd_irt other;
    EXPECT_EQ(t, vtd_irt_init(&other, &s.fx.u, &s.fx.qi, 3, 0), -E_RANGE);
    EXPECT_EQ(t, vtd_irt_init(&other, &s.fx.u, &s.fx.qi, IRT_ENTRIES_MAX * 2, 0), -E_RANGE);
    if (!ECAP_EIM(s.fx.u.ecap))
        EXPECT_EQ(t, vtd_irt_init(&other, &s.fx.u, &s.fx.qi, IRT_ENTRIES, 1), -E_RANGE);
    scene_down(t, &s);
}

/* IRE goes off as the unit reports it, then the table's frames come back,
 * and edu's compatibility-format MSI works again. */
static void teardown_turns_remapping_off_before_freeing(struct test *t)
{
    uint64_t free0 = frames_free_count();
    struct scene s;
    scene_up(t, &s, 0);
    EXPECT_EQ(t, frames_free_count(), free0 - 1 - 2); /* the table, the queue's ring and status page */
    ASSERT_EQ(t, vtd_irt_disable(&s.irt), 0);
    fixture_remember_irt(&s.irt);
    EXPECT_EQ(t, vtd_read32(&s.fx.u, VTD_GSTS) & VTD_GCMD_IRE, 0);
    ASSERT_EQ(t, pci_msi_enable(s.fx.edu.pci, apic_id(), VEC_IR_A), 0);
    raise_and_wait(&s.fx.edu, 1);
    expect_hits(t, 0, 0, 1);
    fixture_down(t, &s.fx);
    EXPECT_EQ(t, frames_free_count(), free0);
}

TEST_SUITE(intremap, 46, 0,
           TEST(remapped_msi_arrives_with_the_entry_vector),
           TEST(subhandle_picks_the_entry),
           TEST(remapped_msi_reaches_another_cpu),
           TEST(x2apic_destination_with_eim),
           TEST(vector_change_with_index_invalidation_takes_effect),
           TEST(masked_invalidation_covers_an_aligned_block),
           TEST(vector_change_without_invalidation),
           TEST(masked_invalidation_drops_exactly_its_block),
           TEST(present_entry_change_is_never_torn),
           TEST(not_present_entry_faults),
           TEST(handle_beyond_the_table_faults),
           TEST(source_validation_blocks_another_requester),
           TEST(compatibility_format_blocked_without_cfi),
           TEST(compatibility_format_passes_with_cfi),
           TEST(compatibility_format_blocked_with_eime_even_with_cfi),
           TEST(bad_entries_and_tables_refused_before_anything_is_written),
           TEST(teardown_turns_remapping_off_before_freeing));
