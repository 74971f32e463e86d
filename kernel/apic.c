/* Local APIC in xAPIC mode (SDM vol. 3, chapter 11). */
#include "apic.h"
#include "clock.h"
#include "printk.h"
#include "x86.h"
#include "../mm/mm.h"

#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ul
#define APIC_BASE_ENABLE    (1ul << 11)
#define APIC_REGS_SIZE      0x1000

#define APIC_ID             0x020
#define APIC_EOI            0x0b0
#define APIC_SVR            0x0f0
#define APIC_LVT_TIMER      0x320
#define APIC_TIMER_INIT     0x380
#define APIC_TIMER_CURRENT  0x390
#define APIC_TIMER_DIVIDE   0x3e0
#define APIC_ID_SHIFT       24
#define SVR_ENABLE          (1u << 8)
#define LVT_MASKED          (1u << 16)
#define LVT_TIMER_PERIODIC  (1u << 17)
#define TIMER_DIVIDE_BY_16  0x3

#define PIC1_DATA           0x21
#define PIC2_DATA           0xa1
#define PIC_MASK_ALL        0xff

#define TIMER_CALIBRATION_US 10000u
#define US_PER_S             1000000u

static volatile uint32_t *regs;
static volatile uint64_t ticks;
static irq_handler_t tick_hook;

static uint32_t rd(uint32_t off) { return regs[off / 4]; }
static void wr(uint32_t off, uint32_t v) { regs[off / 4] = v; }

void apic_eoi(void) { wr(APIC_EOI, 0); }
uint32_t apic_id(void) { return rd(APIC_ID) >> APIC_ID_SHIFT; }
uint64_t apic_timer_ticks(void) { return ticks; }

static void spurious(struct trap_frame *f) { }

static void timer_irq(struct trap_frame *f)
{
    ticks++;
    apic_eoi();
    if (tick_hook)
        tick_hook(f);
}

void apic_init(void)
{
    outb(PIC1_DATA, PIC_MASK_ALL);
    outb(PIC2_DATA, PIC_MASK_ALL);
    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    regs = mmio_map(base & APIC_BASE_ADDR_MASK, APIC_REGS_SIZE);
    if (!regs)
        panic("apic: cannot map the local APIC at 0x%lx", base & APIC_BASE_ADDR_MASK);
    irq_set_handler(VEC_SPURIOUS, spurious);
    wr(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

void apic_timer_start(unsigned hz, irq_handler_t on_tick)
{
    wr(APIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    wr(APIC_LVT_TIMER, LVT_MASKED);
    wr(APIC_TIMER_INIT, UINT32_MAX);
    udelay(TIMER_CALIBRATION_US);
    uint64_t per_s = (uint64_t)(UINT32_MAX - rd(APIC_TIMER_CURRENT)) * (US_PER_S / TIMER_CALIBRATION_US);
    tick_hook = on_tick;
    irq_set_handler(VEC_APIC_TIMER, timer_irq);
    wr(APIC_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_APIC_TIMER);
    wr(APIC_TIMER_INIT, (uint32_t)(per_s / hz));
}
