/* AP bring-up (SDM vol. 3, 9.4 "Multiple-Processor (MP) Initialization"):
 * the start page and its identity map, INIT-SIPI-SIPI to each AP the MADT
 * lists, and the AP's first steps until it reports in and idles. The
 * per-CPU records it fills are smp.c's. */
#include <string.h>
#include "ap_start.h"
#include "acpi.h"
#include "apic.h"
#include "clock.h"
#include "cmdline.h"
#include "gdt.h"
#include "printk.h"
#include "smp.h"
#include "x86.h"
#include "san/san.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define AP_STACK_SIZE      (64ul << 10)
#define AP_IST_STACK_SIZE  (16ul << 10)
/* INIT-SIPI-SIPI timing (SDM vol. 3, 9.4.4.1 and 10.8.5). */
#define INIT_DELAY_US      10000u
#define SIPI_DELAY_US      200u
/* How long an AP may take from its first start-up IPI to online. */
#define AP_START_TIMEOUT_US 500000u
#define SIPI_MAX_PAGE      0xffu       /* the vector is the start page number */
/* Trampoline page layout: code and parameters, then the identity map. */
enum { TRAMP_CODE, TRAMP_PML4, TRAMP_PDPT, TRAMP_PD, TRAMP_PAGES };
#define CR4_TRAMPOLINE_MASK (CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT)
#define KERNEL_HALF_FIRST  (PT_ENTRIES / 2)

/* The layout of trampoline_params in trampoline.asm. */
struct trampoline_params {
    uint64_t gdt[GDT_BOOT_DESCRIPTORS];
    uint16_t gdtr_limit;
    uint32_t gdtr_base;
    uint32_t far_offset;
    uint16_t far_selector;
    uint32_t cr4, cr3, efer, cr0;
    uint64_t entry;
} __attribute__((packed));
_Static_assert(sizeof(struct trampoline_params) == 60, "trampoline_params in trampoline.asm: 3 dq, dw+dd, dd+dw, 4 dd, dq");

extern const char trampoline_start[], trampoline_params[], trampoline_end[];
extern const uint64_t trampoline_long_offset;
extern char ap_entry64[];

static unsigned listed_count = 1;
static uint64_t bringup_us;
static uint64_t bsp_cr4;

/* Read by ap_entry64 and ap_main for the one AP being started. */
uint64_t ap_boot_cr3, ap_boot_stack;
static unsigned ap_boot_cpu;
static unsigned ap_boot_inject;   /* INJECT_AP_*, for this AP */
static uint64_t ap_boot_ist[IST_COUNT];

unsigned smp_listed_count(void) { return listed_count; }
uint64_t smp_bringup_us(void) { return bringup_us; }
int smp_this_cpu_booting(void) { return smp_cpu_state(smp_cpu_id()) == CPU_BOOTING; }

/* An AP left out for good: interrupts off, halted; the boot CPU sends it
 * INIT next, back to wait-for-SIPI. */
static _Noreturn void park(unsigned cpu)
{
    smp_cpu_set_state(cpu, CPU_FAILED);
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}

_Noreturn void smp_park_faulted_ap(const struct trap_frame *f)
{
    unsigned cpu = smp_cpu_id();
    char what[160];
    trap_describe(f, read_cr2(), what, sizeof(what));
    printk("# vtdlab: smp: cpu %u (APIC id %u) faulted during bring-up: %s; it is parked and left out\n",
           cpu, smp_apic_id(cpu), what);
    park(cpu);
}

void ap_main(void);
SAN_BOOT_CODE void ap_main(void)
{
    unsigned id = ap_boot_cpu;
    gdt_init_cpu(id, ap_boot_ist);
    smp_cpu_enter(id);
    write_cr4(bsp_cr4);
    idt_load();
    if (ap_boot_inject & INJECT_AP_FAULT)
        (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
    if (ap_boot_inject & INJECT_AP_HANG)
        for (;;) {
            irq_disable();
            __asm__ volatile("hlt"); /* never reports in: not even CPU_FAILED */
        }
    apic_init_ap();
    uint32_t seen = apic_id();
    if (seen != smp_apic_id(id)) {
        printk("# vtdlab: smp: cpu %u started as APIC id %u, the MADT says %u; parked\n", id, seen, smp_apic_id(id));
        park(id);
    }
    apic_timer_start_ap();
    smp_cpu_set_state(id, CPU_ONLINE);
    smp_idle_loop();
}

static int setup_trampoline(uint64_t pa)
{
    size_t code = (size_t)(trampoline_end - trampoline_start);
    size_t poff = (size_t)(trampoline_params - trampoline_start);
    if (code - poff != sizeof(struct trampoline_params) || code > PAGE_SIZE)
        panic("smp: trampoline_params in trampoline.asm and ap_start.c disagree");
    uint8_t *page = phys_to_virt(pa);
    memset(page, 0, TRAMP_PAGES * PAGE_SIZE);
    memcpy(page, trampoline_start, code);
    struct trampoline_params *p = (struct trampoline_params *)(page + poff);
    uint64_t gdt[GDT_BOOT_DESCRIPTORS];
    gdt_boot_descriptors(gdt);
    memcpy(p->gdt, gdt, sizeof(gdt));
    p->gdtr_limit = sizeof(p->gdt) - 1;
    p->gdtr_base = (uint32_t)(pa + poff + offsetof(struct trampoline_params, gdt));
    p->far_offset = (uint32_t)(pa + trampoline_long_offset);
    p->far_selector = KERNEL_CS;
    p->cr4 = (uint32_t)(bsp_cr4 & CR4_TRAMPOLINE_MASK);
    p->cr3 = (uint32_t)(pa + TRAMP_PML4 * PAGE_SIZE);
    p->efer = (uint32_t)(EFER_LME | EFER_NXE);
    p->cr0 = (uint32_t)read_cr0();
    p->entry = (uint64_t)ap_entry64;

    /* The identity map: the first 2 MiB (the start page is below 1 MiB)
     * as one large page, and the kernel half shared with the kernel's
     * tables, whose top-level entries never change after boot. */
    uint64_t *pml4 = (uint64_t *)(page + TRAMP_PML4 * PAGE_SIZE);
    uint64_t *pdpt = (uint64_t *)(page + TRAMP_PDPT * PAGE_SIZE);
    uint64_t *pd = (uint64_t *)(page + TRAMP_PD * PAGE_SIZE);
    const uint64_t *kroot = phys_to_virt(kernel_pt()->root_pa);
    pml4[0] = (pa + TRAMP_PDPT * PAGE_SIZE) | PTE_P | PTE_RW;
    pdpt[0] = (pa + TRAMP_PD * PAGE_SIZE) | PTE_P | PTE_RW;
    pd[0] = PTE_P | PTE_RW | PTE_PS;
    for (unsigned i = KERNEL_HALF_FIRST; i < PT_ENTRIES; i++)
        pml4[i] = kroot[i];
    return 0;
}

static int start_one(unsigned id, uint32_t apic, uint8_t vector, unsigned inject)
{
    uint64_t stack = kstack_alloc(AP_STACK_SIZE);
    uint64_t ist = pages_alloc_contig((unsigned)(IST_COUNT * AP_IST_STACK_SIZE / PAGE_SIZE), 1);
    if (!stack || !ist) {
        printk("# vtdlab: smp: no memory for the stacks of APIC id %u; left out\n", apic);
        return -E_NOMEM;
    }
    trap_add_stack(stack - AP_STACK_SIZE, stack);
    for (unsigned i = 0; i < IST_COUNT; i++)
        ap_boot_ist[i] = (uint64_t)phys_to_virt(ist) + (i + 1) * AP_IST_STACK_SIZE;
    smp_cpu_prepare(id, apic);
    ap_boot_cpu = id;
    ap_boot_inject = inject;
    ap_boot_cr3 = read_cr3();
    ap_boot_stack = stack;
    smp_cpu_set_state(id, CPU_BOOTING);

    apic_send_ipi(apic, APIC_DM_INIT, 0);
    udelay(INIT_DELAY_US);
    for (int sipi = 0; sipi < 2 && smp_cpu_state(id) == CPU_BOOTING; sipi++) {
        apic_send_ipi(apic, APIC_DM_STARTUP, vector);
        WAIT_UNTIL(smp_cpu_state(id) != CPU_BOOTING, SIPI_DELAY_US);
    }
    WAIT_UNTIL(smp_cpu_state(id) != CPU_BOOTING, AP_START_TIMEOUT_US);
    enum cpu_state state = smp_cpu_state(id);
    if (state == CPU_ONLINE)
        return 0;
    if (state == CPU_BOOTING)
        printk("# vtdlab: smp: APIC id %u did not come up within %u ms of its start-up IPIs; left out\n", apic,
               AP_START_TIMEOUT_US / 1000);
    /* Back to wait-for-SIPI, so a late start cannot run on the next AP's
     * boot variables. */
    apic_send_ipi(apic, APIC_DM_INIT, 0);
    smp_cpu_set_state(id, CPU_ABSENT);
    return -E_TIMEDOUT;
}

unsigned smp_start_aps(const struct boot_info *bi, unsigned max_cpus, unsigned inject)
{
    smp_init_ipis();
    bsp_cr4 = read_cr4();
    const struct acpi_header *madt = acpi_find("APIC");
    uint32_t ids[SMP_MAX_CPUS];
    size_t listed = madt ? acpi_madt_cpu_ids(madt, ids, SMP_MAX_CPUS) : 0;
    if (!madt) {
        printk("# vtdlab: smp: no MADT: running on the boot CPU only\n");
        return smp_online_count();
    }
    listed_count = listed > SMP_MAX_CPUS ? SMP_MAX_CPUS : (unsigned)listed;
    if (listed > SMP_MAX_CPUS)
        printk("# vtdlab: smp: the MADT lists %zu CPUs; this kernel runs at most %u\n", listed, SMP_MAX_CPUS);
    unsigned want = max_cpus ? max_cpus : listed_count;
    if (want > listed_count) {
        printk("# vtdlab: smp: cpus=%u asked for, the MADT lists %u enabled: starting %u\n", want, listed_count,
               listed_count);
        want = listed_count;
    }
    if (want <= 1)
        return smp_online_count();
    uint64_t tpa = bi->trampoline_phys;
    if (!tpa || bi->trampoline_pages < TRAMP_PAGES || (tpa >> PAGE_SHIFT) > SIPI_MAX_PAGE) {
        printk("# vtdlab: smp: the loader reserved no usable start page below 1 MiB (0x%lx, %lu pages): "
               "running on the boot CPU only\n", tpa, bi->trampoline_pages);
        return smp_online_count();
    }
    uint64_t t0 = clock_us();
    setup_trampoline(tpa);
    unsigned next = 1;
    for (unsigned i = 0; i < listed_count && next < want; i++) {
        if (ids[i] == smp_apic_id(SMP_BOOT_CPU))
            continue;
        if (inject)
            printk("# vtdlab: smp: injecting a bring-up failure (inject=0x%x) into APIC id %u\n", inject, ids[i]);
        if (!start_one(next, ids[i], (uint8_t)(tpa >> PAGE_SHIFT), inject)) {
            next++;
            smp_add_online();
        }
        inject = 0; /* the first AP only */
    }
    bringup_us = clock_us() - t0;
    return smp_online_count();
}
