/* boot: what the kernel took over from the firmware is sane. */
#include <string.h>
#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/clock.h"
#include "kernel/fbcon.h"
#include "kernel/fbcon_font.h"
#include "harness/harness.h"
#include "kernel/traps.h"
#include "mm/mm.h"

#define MIN_TSC_HZ          100000000ul    /* 100 MHz */
#define MAX_TSC_HZ          20000000000ul  /* 20 GHz */
/* Two calibrations against different counters agree this closely even
 * under TCG, where the guest can be descheduled mid-measurement. */
#define CROSSCHECK_PERCENT  10
#define CROSSCHECK_TRIES    8
#define CROSSCHECK_GAP_US   10000   /* between tries: the host may run another thread meanwhile */
#define MONOTONIC_READS     10000
/* Ticks waited for, and how long before none arriving is a failure: a
 * deadline for a dead timer, not a rate (a vCPU the host preempts gets one
 * interrupt for all the periods it missed). */
#define TIMER_MIN_TICKS     3
#define TICK_DEADLINE_US    5000000
#define TICK_POLL_US        1000

static void memory_map(struct test *t)
{
    const struct mm_info *mi = mm_info();
    EXPECT_TRUE(t, mi->map_entries > 0, "the memory map is empty");
    EXPECT_TRUE(t, mi->ram_bytes >= mi->usable_at_boot, "more frames free (%lu) than RAM (%lu)",
                mi->usable_at_boot, mi->ram_bytes);
    EXPECT_TRUE(t, mi->usable_at_boot > 0, "no free frame after boot");
    test_diag(t, "%lu map entries, %lu KiB RAM, %lu KiB free", mi->map_entries, mi->ram_bytes >> 10,
              mi->usable_at_boot >> 10);
    /* The frames the kernel itself occupies are never free. */
    extern char __text_start[], __kernel_end[];
    for (char *p = __text_start; p < __kernel_end; p += PAGE_SIZE)
        EXPECT_TRUE(t, !frame_is_free(mm_frames(), virt_to_phys(p) >> PAGE_SHIFT),
                    "kernel page %p (pa 0x%lx) is in the free pool", p, virt_to_phys(p));
}

static void acpi_tables_checksummed(struct test *t)
{
    ASSERT_TRUE(t, acpi_table_count() > 0, "no ACPI tables were found (is there an RSDP?)");
    for (unsigned i = 0; i < acpi_table_count(); i++) {
        const struct acpi_table_ref *r = acpi_table(i);
        EXPECT_TRUE(t, r->table != NULL, "table %u (%s at 0x%lx) rejected: %s", i, r->signature, r->phys,
                    r->problem);
    }
    const char *required[] = { "FACP", "APIC", "MCFG" };
    for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        EXPECT_TRUE(t, acpi_find(required[i]) != NULL, "no valid %s table", required[i]);
}

static void madt_lists_this_cpu(struct test *t)
{
    const struct acpi_header *madt = acpi_find("APIC");
    if (!madt)
        test_skip(t, "no MADT");
    struct madt_summary m;
    acpi_madt_parse(madt, &m);
    test_diag(t, "MADT: %u CPUs, %u I/O APICs, %u overrides, LAPIC at 0x%x", m.cpus_enabled, m.io_apics,
              m.overrides, m.lapic_address);
    EXPECT_TRUE(t, m.cpus_enabled >= 1, "MADT lists no usable CPU");
    EXPECT_EQ(t, m.malformed, 0);
}

static void mcfg_has_segment_zero(struct test *t)
{
    const struct acpi_header *mcfg = acpi_find("MCFG");
    if (!mcfg)
        test_skip(t, "no MCFG: no ECAM");
    struct mcfg_entry e[4];
    size_t n = acpi_mcfg_parse(mcfg, e, 4);
    ASSERT_TRUE(t, n >= 1, "MCFG has no allocation");
    test_diag(t, "ECAM: segment %u buses %u-%u at 0x%lx", e[0].segment, e[0].bus_start, e[0].bus_end, e[0].base);
    EXPECT_EQ(t, e[0].segment, 0);
    EXPECT_TRUE(t, e[0].bus_end >= e[0].bus_start, "bus range %u-%u is empty", e[0].bus_start, e[0].bus_end);
    EXPECT_TRUE(t, e[0].base && !(e[0].base & (PAGE_SIZE - 1)), "ECAM base 0x%lx is not page aligned", e[0].base);
}

static void clock_calibrated(struct test *t)
{
    uint64_t hz = clock_tsc_hz();
    test_diag(t, "TSC %lu Hz against the %s", hz, clock_source_name(clock_source()));
    EXPECT_TRUE(t, hz >= MIN_TSC_HZ && hz <= MAX_TSC_HZ, "TSC rate %lu Hz is implausible", hz);
    enum clock_source other = clock_source() == CLOCK_HPET ? CLOCK_PIT : CLOCK_HPET;
    /* Several tries, apart: a vCPU thread the host preempts near the end
     * of a window stretches that measurement (on a loaded host, several in
     * a row); a wrong calibration disagrees every time. */
    uint64_t hz2 = 0, diff = UINT64_MAX;
    for (unsigned i = 0; i < CROSSCHECK_TRIES && diff * 100 > hz * CROSSCHECK_PERCENT; i++) {
        hz2 = clock_measure_tsc_hz(other);
        if (!hz2)
            test_skip(t, "no second counter (%s) to cross-check against", clock_source_name(other));
        diff = hz > hz2 ? hz - hz2 : hz2 - hz;
        test_diag(t, "against the %s: %lu Hz", clock_source_name(other), hz2);
        if (diff * 100 > hz * CROSSCHECK_PERCENT)
            udelay(CROSSCHECK_GAP_US);
    }
    EXPECT_TRUE(t, diff * 100 <= hz * CROSSCHECK_PERCENT, "%s says %lu Hz, %s says %lu Hz in %u tries",
                clock_source_name(clock_source()), hz, clock_source_name(other), hz2, CROSSCHECK_TRIES);
}

static void clock_monotonic(struct test *t)
{
    uint64_t prev = clock_ns(), backwards = 0;
    for (int i = 0; i < MONOTONIC_READS; i++) {
        uint64_t now = clock_ns();
        backwards += now < prev;
        prev = now;
    }
    EXPECT_EQ(t, backwards, 0);
    uint64_t before = clock_ns();
    udelay(1000);
    EXPECT_TRUE(t, clock_ns() - before >= 1000 * 1000, "udelay(1000) took %lu ns", clock_ns() - before);
}

static void timer_interrupts_arrive(struct test *t)
{
    uint64_t before = apic_timer_ticks(), start = clock_ns();
    struct deadline d = deadline_after_us(TICK_DEADLINE_US);
    /* udelay halts between ticks: no spinning, which icount would charge. */
    while (apic_timer_ticks() - before < TIMER_MIN_TICKS && !deadline_passed(d))
        udelay(TICK_POLL_US);
    uint64_t ticks = apic_timer_ticks() - before;
    int ok = ticks >= TIMER_MIN_TICKS;
    test_diag(t, "%lu timer interrupts in %lu us", ticks, (clock_ns() - start) / 1000);
    EXPECT_TRUE(t, ok, "only %lu timer interrupts in %u us", ticks, TICK_DEADLINE_US);
}

/* A character drawn on the framebuffer console reads back as its glyph. */
static void framebuffer_console_draws_glyphs(struct test *t)
{
    if (!fbcon_active())
        test_skip(t, "no GOP framebuffer (the firmware gave none; the profile may have no display device)");
    test_diag(t, "framebuffer console: %u x %u characters", fbcon_columns(), fbcon_rows());
    const unsigned c_col = fbcon_columns() - 1, c_row = fbcon_rows() - 1;
    const char c = 'V';
    fbcon_draw_char(c_col, c_row, c);
    unsigned wrong = 0;
    for (unsigned y = 0; y < FONT_HEIGHT; y++)
        for (unsigned x = 0; x < FONT_WIDTH; x++) {
            int lit = (fbcon_font[c - FONT_FIRST][y] >> (FONT_WIDTH - 1 - x)) & 1;
            uint32_t px = fbcon_read_pixel(c_col * FONT_WIDTH + x, c_row * FONT_HEIGHT + y);
            wrong += px != (lit ? FBCON_FOREGROUND : FBCON_BACKGROUND);
        }
    EXPECT_EQ(t, wrong, 0);
    fbcon_draw_char(c_col, c_row, ' ');
}

void xmm_roundtrip_across_interrupt(const void *pattern, void *xmm0_out, void *xmm15_out);
void xmm_clobber(void);

/* What an interrupt handler may do to vector registers: picolibc routines
 * (used by printk) are compiled with SSE. */
static void clobber_vector_registers(struct trap_frame *f) { xmm_clobber(); }

/* The interrupted code's XMM registers come back intact: the trap path
 * saves and restores them around every handler. */
static void traps_preserve_vector_registers(struct test *t)
{
    static const uint8_t pattern[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                         0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };
    uint8_t xmm0[16], xmm15[16];
    irq_set_handler(VEC_TEST, clobber_vector_registers);
    xmm_roundtrip_across_interrupt(pattern, xmm0, xmm15);
    irq_set_handler(VEC_TEST, NULL);
    EXPECT_TRUE(t, !memcmp(xmm0, pattern, sizeof(pattern)), "xmm0 changed across an interrupt");
    EXPECT_TRUE(t, !memcmp(xmm15, pattern, sizeof(pattern)), "xmm15 changed across an interrupt");
}

TEST_SUITE(boot, 10, 0,
           TEST(memory_map),
           TEST(acpi_tables_checksummed),
           TEST(madt_lists_this_cpu),
           TEST(mcfg_has_segment_zero),
           TEST(clock_calibrated),
           TEST(clock_monotonic),
           TEST(timer_interrupts_arrive),
           TEST(traps_preserve_vector_registers),
           TEST(framebuffer_console_draws_glyphs));
