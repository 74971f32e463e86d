/* Interrupt-remapping encoders (iommu/irt_entry.c) and the decoding of
 * interrupt-remapping fault records, against literal values worked out
 * from the VT-d spec's layouts (9.10 IRTE, 5.1.5.2 MSI address, 11.4.10
 * IRTA, 11.4.7.6 fault record), not from the encoders' own constants. */
#include "host.h"
#include "iommu/fault_record.h"
#include "iommu/irt_entry.h"
#include "lib/bits.h"
#include "lib/errno.h"

static void remapped_entry_in_xapic_and_x2apic_format(void **state)
{
    struct vtd_irte e;
    /* P=1, fixed, edge, physical; vector 0x46 at 23:16; APIC id 1 at 47:40;
     * SID 00:04.0 (0x0020) with SVT=1 (bits 83:82 -> hi bit 18), SQ=0 */
    assert_int_equal(irte_remapped(&e, 0x46, 1, 0, 0x0020), 0);
    assert_int_equal(e.lo, 0x0000010000460001ul);
    assert_int_equal(e.hi, 0x0000000000040020ul);
    assert_int_equal(irte_check(&e, 0), 0);
    /* EIME: the 32-bit x2APIC id at 63:32 */
    assert_int_equal(irte_remapped(&e, 0x46, 0x1234, 1, 0x0020), 0);
    assert_int_equal(e.lo, 0x0000123400460001ul);
    assert_int_equal(irte_check(&e, 1), 0);
    /* ... which a table without EIME refuses: 39:32 are reserved there */
    assert_int_equal(irte_check(&e, 0), -E_RANGE);
}

static void setters_refuse_what_does_not_fit(void **state)
{
    struct vtd_irte e = { 0, 0 };
    assert_int_equal(irte_set_vector(&e, 15), -E_RANGE);   /* exceptions' vectors */
    assert_int_equal(irte_set_vector(&e, 256), -E_RANGE);
    assert_int_equal(irte_set_vector(&e, 16), 0);
    assert_int_equal(e.lo, 0x100000ul);
    assert_int_equal(irte_set_delivery_mode(&e, 8), -E_RANGE);
    assert_int_equal(irte_set_dest_xapic(&e, 256), -E_RANGE);
    assert_int_equal(irte_set_source(&e, 3, 0, 0), -E_RANGE);  /* SVT 3 is reserved */
    assert_int_equal(irte_set_source(&e, 1, 4, 0), -E_RANGE);  /* SQ is 2 bits */
    assert_int_equal(irte_set_source(&e, 2, 3, 0x0103), 0);    /* buses 1..3 */
    assert_int_equal(e.hi, 0x00000000000b0103ul);
    /* each flag in its bit: FPD 1, DM 2, RH 3, TM 4; DLM lowest priority at 7:5 */
    struct vtd_irte f = { 0, 0 };
    irte_set_fpd(&f, 1);
    irte_set_dest_mode(&f, 1);
    irte_set_redirection_hint(&f, 1);
    irte_set_trigger_mode(&f, 1);
    irte_set_delivery_mode(&f, IRTE_DLM_LOWEST);
    assert_int_equal(f.lo, 0x3eul);
}

static void check_refuses_reserved_bits(void **state)
{
    struct vtd_irte e;
    irte_remapped(&e, 0x46, 1, 0, 0x0020);
    struct vtd_irte bad = e;
    bad.lo |= 1ul << 12;                 /* 14:12 reserved */
    assert_int_equal(irte_check(&bad, 0), -E_RANGE);
    bad = e;
    bad.lo |= 1ul << 15;                 /* IM: a posted entry */
    assert_int_equal(irte_check(&bad, 0), -E_RANGE);
    bad = e;
    bad.hi |= 1ul << 20;                 /* 127:84 reserved */
    assert_int_equal(irte_check(&bad, 0), -E_RANGE);
    /* a cleared entry is always fine */
    struct vtd_irte zero = { 0, 0 };
    assert_int_equal(irte_check(&zero, 0), 0);
}

static void remappable_msi_address(void **state)
{
    /* 0xfee in 31:20, handle[14:0] in 19:5, format bit 4, SHV bit 3, handle[15] in bit 2 */
    assert_int_equal(vtd_msi_remappable_address(5, 0), 0xfee000b0u);
    assert_int_equal(vtd_msi_remappable_address(0x8001, 1), 0xfee0003cu);
    assert_int_equal(vtd_msi_remappable_address(0x7fff, 0), 0xfeeffff0u);
}

static void irta_value(void **state)
{
    uint64_t v;
    /* base 63:12, EIME bit 11, S in 3:0 with 2^(S+1) entries */
    assert_int_equal(vtd_irta_encode(0x12345000, 256, 1, &v), 0);
    assert_int_equal(v, 0x12345807ul);
    assert_int_equal(vtd_irta_encode(0x1000, 2, 0, &v), 0);
    assert_int_equal(v, 0x1000ul);
    assert_int_equal(vtd_irta_encode(0x1000, 65536, 0, &v), 0);
    assert_int_equal(v, 0x100ful);
    assert_int_equal(vtd_irta_encode(0x1000, 3, 0, &v), -E_RANGE);
    assert_int_equal(vtd_irta_encode(0x1000, 1, 0, &v), -E_RANGE);
    assert_int_equal(vtd_irta_encode(0x1000, 131072, 0, &v), -E_RANGE);
    assert_int_equal(vtd_irta_encode(0x1800, 256, 0, &v), -E_RANGE);
}

/* A fault record as QEMU writes one for interrupt index 5 from 00:04.0:
 * F (127), reason 0x22 at 103:96, SID at 79:64, the index in FI[63:48]. */
static void interrupt_fault_record_decoded(void **state)
{
    struct vtd_fault f;
    assert_int_equal(vtd_fault_decode(0x0005000000000000ul, 0x8000002200000020ul, &f), 1);
    assert_true(f.is_interrupt);
    assert_int_equal(f.ir_index, 5);
    assert_int_equal(f.reason, 0x22);
    assert_int_equal(f.sid, 0x20);
    char text[160];
    vtd_fault_describe(&f, text, sizeof(text));
    assert_string_equal(text, "interrupt request by 00:04.0, index 0x5: reason 0x22 (interrupt remapping table "
                              "entry not present)");
    /* a DMA fault keeps its address */
    assert_int_equal(vtd_fault_decode(0x12345000ul, 0x8000000500000020ul, &f), 1);
    assert_false(f.is_interrupt);
    assert_int_equal(f.addr, 0x12345000ul);
}

/* A fake of the CPU's stores and the unit's view: every store and sync is
 * recorded in order; replaying them gives each state the unit could read
 * between two of them. */
#define EVENTS_MAX 16
enum event_kind { STORE_LO, STORE_HI, STORE_128, SYNC };
struct store_log {
    struct vtd_irte *slot;
    struct { enum event_kind kind; struct vtd_irte after; } ev[EVENTS_MAX];
    unsigned n;
    int sync_err;   /* what sync returns */
};

static void record(struct store_log *l, enum event_kind k)
{
    assert_true(l->n < EVENTS_MAX);
    l->ev[l->n].kind = k;
    l->ev[l->n].after = *l->slot;
    l->n++;
}

static void fake_store64(void *ctx, uint64_t *word, uint64_t v)
{
    struct store_log *l = ctx;
    *word = v;
    record(l, word == &l->slot->lo ? STORE_LO : STORE_HI);
}

static void fake_store128(void *ctx, struct vtd_irte *slot, const struct vtd_irte *e)
{
    *slot = *e;
    record(ctx, STORE_128);
}

static int fake_sync(void *ctx)
{
    struct store_log *l = ctx;
    record(l, SYNC);
    return l->sync_err;
}

static int is_present(const struct vtd_irte *e) { return bits_get(e->lo, IRTE_P) != 0; }
static int same(const struct vtd_irte *a, const struct vtd_irte *b) { return a->lo == b->lo && a->hi == b->hi; }

/* Every state the unit can read after a store is not present, the old
 * entry or the new one: never a present mix of the two. */
static void assert_never_torn(const struct store_log *l, const struct vtd_irte *old, const struct vtd_irte *new)
{
    for (unsigned i = 0; i < l->n; i++) {
        const struct vtd_irte *s = &l->ev[i].after;
        if (is_present(s) && !same(s, old) && !same(s, new))
            fail_msg("after store %u the unit can read a present entry mixing old and new halves: "
                     "lo 0x%016lx (%s), hi 0x%016lx (%s)", i, (unsigned long)s->lo, s->lo == new->lo ? "new" : "old",
                     (unsigned long)s->hi, s->hi == new->hi ? "new" : "old");
    }
    assert_true(l->n > 0 && l->ev[l->n - 1].kind == SYNC);
    assert_true(same(&l->ev[l->n - 1].after, new));
}

/* Two present entries differing in both halves: vector/destination (lo)
 * and source id (hi). */
static void two_present_entries(struct vtd_irte *a, struct vtd_irte *b)
{
    assert_int_equal(irte_remapped(a, 0x46, 1, 0, 0x0020), 0);
    assert_int_equal(irte_remapped(b, 0x47, 2, 0, 0x0028), 0);
    assert_true(a->lo != b->lo && a->hi != b->hi);
}

static void present_to_present_is_never_seen_torn_without_16_byte_stores(void **state)
{
    struct vtd_irte old, new;
    two_present_entries(&old, &new);
    struct vtd_irte slot = old;
    struct store_log l = { .slot = &slot };
    struct irte_store_ops ops = { fake_store64, NULL, fake_sync, &l };
    assert_int_equal(irte_update(&slot, &new, &ops), 0);
    assert_never_torn(&l, &old, &new);
    /* the entry went not present and its cached copy was dropped before
     * the new halves went in */
    assert_int_equal(l.ev[0].kind, STORE_LO);
    assert_false(is_present(&l.ev[0].after));
    assert_int_equal(l.ev[1].kind, SYNC);
}

static void present_to_present_is_one_16_byte_store_where_the_cpu_has_it(void **state)
{
    struct vtd_irte old, new;
    two_present_entries(&old, &new);
    struct vtd_irte slot = old;
    struct store_log l = { .slot = &slot };
    struct irte_store_ops ops = { fake_store64, fake_store128, fake_sync, &l };
    assert_int_equal(irte_update(&slot, &new, &ops), 0);
    assert_never_torn(&l, &old, &new);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ev[0].kind, STORE_128);
}

static void one_half_changing_is_one_store(void **state)
{
    struct vtd_irte old, new;
    two_present_entries(&old, &new);
    new.hi = old.hi;   /* only the vector and destination change */
    struct vtd_irte slot = old;
    struct store_log l = { .slot = &slot };
    struct irte_store_ops ops = { fake_store64, NULL, fake_sync, &l };
    assert_int_equal(irte_update(&slot, &new, &ops), 0);
    assert_never_torn(&l, &old, &new);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.ev[0].kind, STORE_LO);
}

static void present_bit_goes_last_on_and_first_off(void **state)
{
    struct vtd_irte zero = { 0, 0 }, e, slot = zero;
    assert_int_equal(irte_remapped(&e, 0x46, 1, 0, 0x0020), 0);
    struct store_log l = { .slot = &slot };
    struct irte_store_ops ops = { fake_store64, NULL, fake_sync, &l };
    assert_int_equal(irte_update(&slot, &e, &ops), 0);
    assert_never_torn(&l, &zero, &e);
    assert_int_equal(l.ev[l.n - 2].kind, STORE_LO);
    l.n = 0;
    assert_int_equal(irte_update(&slot, &zero, &ops), 0);
    assert_never_torn(&l, &e, &zero);
    assert_int_equal(l.ev[0].kind, STORE_LO);
}

/* The invalidation after P went off fails: the error comes back and the
 * entry stays not present (no new half is written behind a cached copy). */
static void a_failed_invalidation_leaves_the_entry_not_present(void **state)
{
    struct vtd_irte old, new;
    two_present_entries(&old, &new);
    struct vtd_irte slot = old;
    struct store_log l = { .slot = &slot, .sync_err = -E_IO };
    struct irte_store_ops ops = { fake_store64, NULL, fake_sync, &l };
    assert_int_equal(irte_update(&slot, &new, &ops), -E_IO);
    assert_false(is_present(&slot));
    assert_int_equal(slot.hi, old.hi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remapped_entry_in_xapic_and_x2apic_format),
        cmocka_unit_test(setters_refuse_what_does_not_fit),
        cmocka_unit_test(check_refuses_reserved_bits),
        cmocka_unit_test(remappable_msi_address),
        cmocka_unit_test(irta_value),
        cmocka_unit_test(interrupt_fault_record_decoded),
        cmocka_unit_test(present_to_present_is_never_seen_torn_without_16_byte_stores),
        cmocka_unit_test(present_to_present_is_one_16_byte_store_where_the_cpu_has_it),
        cmocka_unit_test(one_half_changing_is_one_store),
        cmocka_unit_test(present_bit_goes_last_on_and_first_off),
        cmocka_unit_test(a_failed_invalidation_leaves_the_entry_not_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
