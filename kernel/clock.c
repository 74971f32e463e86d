#include "clock.h"
#include "acpi.h"
#include "printk.h"
#include "../mm/mm.h"

#define CALIBRATION_US     10000u
#define NS_PER_S           1000000000ul
#define US_PER_S           1000000ul
#define FS_PER_NS          1000000ul

/* HPET registers (IA-PC HPET spec 2.3). */
#define HPET_GCAP_ID       0x000
#define HPET_GEN_CONF      0x010
#define HPET_MAIN_COUNTER  0x0f0
#define HPET_REGS_SIZE     0x400
#define HPET_ENABLE_CNF    (1ul << 0)
#define HPET_PERIOD_SHIFT  32
#define HPET_MAX_PERIOD_FS 100000000ul /* the spec's upper bound: 100 ns */

/* PIT channel 2, gated through port 0x61 (8254 datasheet; PC AT wiring). */
#define PIT_HZ             1193182u
#define PIT_CH2_DATA       0x42
#define PIT_MODE_CMD       0x43
#define PIT_CH2_MODE0_LOHI 0xb0
#define PORT_61            0x61
#define PORT_61_GATE2      0x01
#define PORT_61_SPEAKER    0x02
#define PORT_61_OUT2       0x20

/* Bounds for calibration loops, which run before the TSC rate is known:
 * a dead counter must not hang the boot. */
#define CALIBRATION_SPIN_MAX 50000000u

/* Plain loop iterations between two reads of a clock in a loop that spins
 * (calibration, udelay with interrupts off). Under QEMU's TCG every counter
 * read (an MMIO or port access), every RDTSC under icount and every PAUSE
 * leaves the translated code, and under icount a stretch of virtual time is
 * a fixed count of guest instructions: reading back to back, each boot's
 * three 10 ms spins (the TSC's calibration, the APIC timer's, the INIT
 * delay before a start-up IPI) cost ~0.1 s of host time each; with the gap
 * they take ~40 times fewer reads. On hardware the gap is well under a
 * microsecond. A calibration's bracket of TSC reads around a counter read
 * is as narrow as before and its window's length comes from the counter
 * values read, so the rate is as exact; the PIT's rising edge is bracketed
 * a gap wider; a delay ends at most a gap late. */
#define SPIN_GAP 64u

void spin_gap(void)
{
    for (volatile unsigned i = 0; i < SPIN_GAP; i++)
        ;
}

static uint64_t tsc_hz, tsc_at_boot;
static enum clock_source source;
static volatile uint64_t *hpet;

static uint64_t hpet_period_fs(void) { return hpet[HPET_GCAP_ID / 8] >> HPET_PERIOD_SHIFT; }

static void hpet_setup(void)
{
    const struct acpi_header *t = acpi_find("HPET");
    if (!t || t->length < HPET_TABLE_MIN_LENGTH)
        return;
    uint64_t base;
    __builtin_memcpy(&base, (const uint8_t *)t + HPET_TABLE_ADDRESS_OFFSET, sizeof(base));
    hpet = mmio_map(base, HPET_REGS_SIZE);
    if (!hpet)
        return;
    uint64_t period = hpet_period_fs();
    if (!period || period > HPET_MAX_PERIOD_FS) {
        printk("# clock: HPET at 0x%lx reports period %lu fs; not using it\n", base, period);
        hpet = NULL;
        return;
    }
    hpet[HPET_GEN_CONF / 8] |= HPET_ENABLE_CNF;
}

/* One calibration window: the TSC ticks between its start and its end lie
 * in [min, max]. Each end is known only between two TSC reads around the
 * counter access that saw it, so a vCPU the host preempted there (under
 * TCG the TSC and the counters run on in host time meanwhile) shows up as
 * a wide bracket rather than as a silently wrong rate. */
struct tsc_window {
    uint64_t min, max;
};

/* A window whose two ends together are uncertain by more than this part
 * of it is discarded (1/WINDOW_SPREAD_DIV: 0.5 %, where an undisturbed
 * window is off by a few counter accesses, microseconds in 10 ms). */
#define WINDOW_SPREAD_DIV 200u
/* Windows tried before the narrowest one is taken as it is: enough for a
 * busy host to let the vCPU run undisturbed for 10 ms at least once. */
#define WINDOW_TRIES      16u

static int measure_hpet(struct tsc_window *w)
{
    uint64_t ticks = CALIBRATION_US * NS_PER_US * FS_PER_NS / hpet_period_fs();
    uint64_t a0 = rdtsc(), h0 = hpet[HPET_MAIN_COUNTER / 8], b0 = rdtsc();
    for (uint32_t i = 0; i < CALIBRATION_SPIN_MAX; i++) {
        uint64_t a = rdtsc(), h = hpet[HPET_MAIN_COUNTER / 8], b = rdtsc();
        if (h - h0 >= ticks) {
            /* ~1e7 ns elapsed and ~1e7..1e8 TSC ticks: the products
             * stay far below 2^64. Scaled to exactly CALIBRATION_US. */
            uint64_t elapsed_ns = (h - h0) * hpet_period_fs() / FS_PER_NS;
            w->min = (a - b0) * CALIBRATION_US * NS_PER_US / elapsed_ns;
            w->max = (b - a0) * CALIBRATION_US * NS_PER_US / elapsed_ns;
            return 1;
        }
        spin_gap();
    }
    return 0;
}

static int measure_pit(struct tsc_window *w)
{
    uint16_t count = (uint16_t)((uint64_t)PIT_HZ * CALIBRATION_US / US_PER_S);
    uint8_t p61 = inb(PORT_61);
    int done = 0;
    outb(PORT_61, (p61 & ~PORT_61_SPEAKER) | PORT_61_GATE2);
    outb(PIT_MODE_CMD, PIT_CH2_MODE0_LOHI);
    outb(PIT_CH2_DATA, count & 0xff);
    /* The count starts with its high byte. */
    uint64_t a0 = rdtsc();
    outb(PIT_CH2_DATA, count >> 8);
    uint64_t b0 = rdtsc(), low = b0;
    for (uint32_t i = 0; i < CALIBRATION_SPIN_MAX; i++) {
        uint64_t a = rdtsc();
        if (inb(PORT_61) & PORT_61_OUT2) {
            /* OUT2 rose after the last read that saw it low began and
             * before this one ended. */
            w->min = low - b0;
            w->max = rdtsc() - a0;
            done = 1;
            break;
        }
        low = a;
        spin_gap();
    }
    outb(PORT_61, p61);
    return done;
}

static int measure_window(enum clock_source s, struct tsc_window *w)
{
    switch (s) {
    case CLOCK_HPET: return hpet && measure_hpet(w);
    case CLOCK_PIT: return measure_pit(w);
    default: return 0;
    }
}

uint64_t clock_measure_tsc_hz(enum clock_source s)
{
    struct tsc_window best = { 0, UINT64_MAX }, w;
    for (unsigned i = 0; i < WINDOW_TRIES; i++) {
        if (!measure_window(s, &w))
            return 0;
        if (w.max - w.min < best.max - best.min)
            best = w;
        if ((best.max - best.min) * WINDOW_SPREAD_DIV <= best.min)
            break;
    }
    return (best.min + best.max) / 2 * (US_PER_S / CALIBRATION_US);
}

void clock_init(void)
{
    tsc_at_boot = rdtsc();
    hpet_setup();
    const enum clock_source order[] = { CLOCK_HPET, CLOCK_PIT };
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]) && !tsc_hz; i++) {
        tsc_hz = clock_measure_tsc_hz(order[i]);
        source = order[i];
    }
    if (!tsc_hz)
        panic("clock: neither HPET nor PIT ticked; cannot calibrate the TSC");
}

uint64_t clock_tsc_hz(void) { return tsc_hz; }
enum clock_source clock_source(void) { return source; }

const char *clock_source_name(enum clock_source s)
{
    return s == CLOCK_HPET ? "HPET" : s == CLOCK_PIT ? "PIT" : "none";
}

uint64_t clock_ns(void)
{
    uint64_t t = rdtsc() - tsc_at_boot;
    return t / tsc_hz * NS_PER_S + (t % tsc_hz) * NS_PER_S / tsc_hz;
}

struct deadline deadline_after_us(uint64_t us)
{
    return (struct deadline){ rdtsc() + us * (tsc_hz / 1000) / 1000 };
}

/* With interrupts on, the CPU halts between timer ticks instead of
 * spinning: under QEMU's icount every spun instruction costs virtual time,
 * a halt does not. The 100 Hz tick bounds the overshoot. */
void udelay(uint64_t us)
{
    struct deadline d = deadline_after_us(us);
    int can_halt = (read_rflags() & RFLAGS_IF) != 0;
    while (!deadline_passed(d)) {
        if (can_halt)
            wait_for_interrupt();
        else
            spin_gap();
    }
}
