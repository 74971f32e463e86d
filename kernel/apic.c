/* Local APIC in xAPIC (MMIO) or x2APIC (MSR) mode (SDM vol. 3, chapters 11
 * and 11.12). Register numbers are the xAPIC offsets; in x2APIC mode the
 * MSR is 0x800 + offset / 16.
 *
 * Each CPU programs its timer in xAPIC mode and only then switches to
 * x2APIC (the switch keeps the APIC's state, SDM 11.12.5): QEMU's x2APIC
 * MSRs for the timer read the virtual clock outside an I/O access, which
 * icount refuses by stopping QEMU ("Bad icount read"). */
#include "apic.h"
#include "clock.h"
#include "printk.h"
#include "smp.h"
#include "x86.h"
#include "../lib/atomic.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ul
#define APIC_BASE_ENABLE    (1ul << 11)
#define APIC_BASE_X2APIC    (1ul << 10)
#define APIC_REGS_SIZE      0x1000
#define X2APIC_MSR_BASE     0x800u
#define X2APIC_MSR_SHIFT    4
#define CPUID_ECX_X2APIC    (1u << 21)

#define APIC_ID             0x020
#define APIC_EOI            0x0b0
#define APIC_SVR            0x0f0
#define APIC_ICR_LOW        0x300
#define APIC_ICR_HIGH       0x310
#define APIC_LVT_TIMER      0x320
#define APIC_TIMER_INIT     0x380
#define APIC_TIMER_CURRENT  0x390
#define APIC_TIMER_DIVIDE   0x3e0
#define APIC_ID_SHIFT       24      /* xAPIC: ID in bits 31:24 */
#define SVR_ENABLE          (1u << 8)
#define LVT_MASKED          (1u << 16)
#define LVT_TIMER_PERIODIC  (1u << 17)
#define TIMER_DIVIDE_BY_16  0x3
/* ICR fields (SDM vol. 3, figure 11-12). */
#define ICR_DELIVERY_SHIFT  8
#define ICR_DELIVERY_PENDING (1u << 12)   /* xAPIC only */
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)
#define ICR_XAPIC_DEST_SHIFT 24           /* in ICR_HIGH */
#define ICR_X2APIC_DEST_SHIFT 32
#define ICR_IDLE_WAIT_US    1000u

#define PIC1_DATA           0x21
#define PIC2_DATA           0xa1
#define PIC_MASK_ALL        0xff

#define TIMER_CALIBRATION_US 10000u
#define US_PER_S             1000000u

static volatile uint32_t *regs;   /* the xAPIC page, the same for every CPU */
static int x2apic;                /* the CPU has it: each CPU switches */
static int in_x2apic[SMP_MAX_CPUS];
static uint64_t ticks[SMP_MAX_CPUS];
static irq_handler_t tick_hook;
static uint32_t timer_count;      /* initial count for the chosen rate */

static int mode_x2apic(void) { return in_x2apic[smp_cpu_id()]; }

static uint32_t rd(uint32_t off)
{
    return mode_x2apic() ? (uint32_t)rdmsr(X2APIC_MSR_BASE + (off >> X2APIC_MSR_SHIFT)) : regs[off / 4];
}

static void wr(uint32_t off, uint32_t v)
{
    if (mode_x2apic())
        wrmsr(X2APIC_MSR_BASE + (off >> X2APIC_MSR_SHIFT), v);
    else
        regs[off / 4] = v;
}

int apic_x2apic(void) { return mode_x2apic(); }
void apic_eoi(void) { wr(APIC_EOI, 0); }
/* x2APIC: the whole 32-bit register is the ID. */
uint32_t apic_id(void) { return mode_x2apic() ? rd(APIC_ID) : rd(APIC_ID) >> APIC_ID_SHIFT; }
uint64_t apic_timer_ticks_on(unsigned cpu) { return cpu < SMP_MAX_CPUS ? READ_ONCE(ticks[cpu]) : 0; }
uint64_t apic_timer_ticks(void) { return apic_timer_ticks_on(smp_cpu_id()); }

static void spurious(struct trap_frame *f) { }

static void timer_irq(struct trap_frame *f)
{
    ticks[smp_cpu_id()]++;
    apic_eoi();
    if (tick_hook)
        tick_hook(f);
}

/* The same steps on every CPU: globally enabled in xAPIC mode, then the
 * spurious vector register, which software-enables the APIC. */
static void enable_this_cpu(void)
{
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE);
    wr(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

/* After the timer is programmed: xAPIC to x2APIC is the one allowed
 * transition that needs no reset (SDM 11.12.5). */
static void switch_to_x2apic(void)
{
    if (!x2apic)
        return;
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    in_x2apic[smp_cpu_id()] = 1;
}

void apic_init(void)
{
    outb(PIC1_DATA, PIC_MASK_ALL);
    outb(PIC2_DATA, PIC_MASK_ALL);
    uint32_t r[4];
    cpuid(CPUID_FEATURES, 0, r);
    x2apic = (r[2] & CPUID_ECX_X2APIC) != 0;
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (base & APIC_BASE_X2APIC)
        panic("apic: the firmware left the boot CPU in x2APIC mode; only xAPIC first is handled");
    regs = mmio_map(base & APIC_BASE_ADDR_MASK, APIC_REGS_SIZE);
    if (!regs)
        panic("apic: cannot map the local APIC at 0x%lx", base & APIC_BASE_ADDR_MASK);
    irq_set_handler(VEC_SPURIOUS, spurious);
    enable_this_cpu();
}

void apic_init_ap(void) { enable_this_cpu(); }

void apic_timer_start(unsigned hz, irq_handler_t on_tick)
{
    wr(APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    wr(APIC_LVT_TIMER, LVT_MASKED);
    wr(APIC_TIMER_INIT, UINT32_MAX);
    udelay(TIMER_CALIBRATION_US);
    uint64_t per_s = (uint64_t)(UINT32_MAX - rd(APIC_TIMER_CURRENT)) * (US_PER_S / TIMER_CALIBRATION_US);
    tick_hook = on_tick;
    timer_count = (uint32_t)(per_s / hz);
    irq_set_handler(VEC_APIC_TIMER, timer_irq);
    apic_timer_start_ap();
}

void apic_timer_start_ap(void)
{
    wr(APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    wr(APIC_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_APIC_TIMER);
    wr(APIC_TIMER_INIT, timer_count);
    switch_to_x2apic();
}

static int send_icr(uint32_t dest, uint32_t low)
{
    if (mode_x2apic()) {
        /* One MSR write sends it; no delivery status to wait for. */
        wrmsr(X2APIC_MSR_BASE + (APIC_ICR_LOW >> X2APIC_MSR_SHIFT), ((uint64_t)dest << ICR_X2APIC_DEST_SHIFT) | low);
        return 0;
    }
    /* The high half and the low half are two writes: no other IPI from
     * this CPU (an interrupt handler's) may come in between. */
    uint64_t flags = irq_save();
    int ok = WAIT_UNTIL(!(rd(APIC_ICR_LOW) & ICR_DELIVERY_PENDING), ICR_IDLE_WAIT_US);
    if (ok) {
        wr(APIC_ICR_HIGH, dest << ICR_XAPIC_DEST_SHIFT);
        wr(APIC_ICR_LOW, low);
    }
    irq_restore(flags);
    return ok ? 0 : -E_TIMEDOUT;
}

int apic_send_ipi(uint32_t dest, enum apic_delivery mode, uint8_t vector)
{
    /* INIT is level-triggered (asserted); the others are edge. */
    uint32_t low = ((uint32_t)mode << ICR_DELIVERY_SHIFT) | vector | ICR_LEVEL_ASSERT |
                   (mode == APIC_DM_INIT ? ICR_TRIGGER_LEVEL : 0);
    return send_icr(dest, low);
}
