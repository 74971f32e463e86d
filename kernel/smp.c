#include <string.h>
#include "smp.h"
#include "acpi.h"
#include "apic.h"
#include "clock.h"
#include "cmdline.h"
#include "gdt.h"
#include "lock.h"
#include "printk.h"
#include "work.h"
#include "x86.h"
#include "san/san.h"
#include "../lib/errno.h"
#include "../lib/jmp.h"
#include "../mm/mm.h"

#define MSR_GS_BASE        0xc0000101u
#define AP_STACK_SIZE      (64ul << 10)
#define AP_IST_STACK_SIZE  (16ul << 10)
/* INIT-SIPI-SIPI timing (SDM vol. 3, 9.4.4.1 and 10.8.5). */
#define INIT_DELAY_US      10000u
#define SIPI_DELAY_US      200u
/* How long an AP may take from its first start-up IPI to online. */
#define AP_START_TIMEOUT_US 500000u
#define CALL_TIMEOUT_US    1000000u
#define RECALL_TIMEOUT_US  500000u
#define SIPI_MAX_PAGE      0xffu       /* the vector is the start page number */
/* Trampoline page layout: code and parameters, then the identity map. */
enum { TRAMP_CODE, TRAMP_PML4, TRAMP_PDPT, TRAMP_PD, TRAMP_PAGES };
#define CR4_TRAMPOLINE_MASK (CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT)
#define KERNEL_HALF_FIRST  (PT_ENTRIES / 2)
#define US_PER_S           1000000u

enum cpu_state { CPU_ABSENT, CPU_BOOTING, CPU_ONLINE, CPU_FAILED, CPU_LOST };
enum { NMI_DUMP = 1u << 0, NMI_RECALL = 1u << 1 };
/* What ctx_save returns in run_job: the job returned, or was abandoned. */
enum { JOB_RETURNED = 0, JOB_ABANDONED = 1 };

/* One call slot per (target, sender): only the sender writes fn/arg/req,
 * only the target writes ack, so no lock is needed and two CPUs calling
 * each other cannot deadlock (a waiting sender serves its own slots). */
struct call_slot {
    void (*fn)(void *);
    void *arg;
    uint32_t req, ack;
};

struct cpu {
    struct cpu_local local;          /* first: what GS:0 points at */
    uint32_t apic_id;
    int state;                       /* enum cpu_state */
    struct call_slot calls[SMP_MAX_CPUS];
    uint32_t nmi_request;
    /* The job this AP runs (owned by the poster until POSTED, by the AP
     * until DONE). */
    void (*job_fn)(void *);
    void *job_arg;
    int job_state;
    struct jmp_ctx job_ctx;
};

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

static struct cpu cpus[SMP_MAX_CPUS];
_Static_assert(SMP_MAX_CPUS == CMDLINE_MAX_CPUS, "cpus= and the per-CPU arrays agree");
static unsigned online_count = 1, listed_count = 1;
static uint64_t bringup_us;
static uint64_t bsp_cr4;

/* Read by ap_entry64 and ap_main for the one AP being started. */
uint64_t ap_boot_cr3, ap_boot_stack;
static unsigned ap_boot_cpu;
static unsigned ap_boot_inject;   /* INJECT_AP_*, for this AP */
static uint64_t ap_boot_ist[IST_COUNT];

static struct cpu *this_cpu(void) { return &cpus[smp_cpu_id()]; }

static void set_gs_base(struct cpu *c) { wrmsr(MSR_GS_BASE, (uint64_t)c); }

void smp_init_bsp(void)
{
    cpus[SMP_BOOT_CPU].local.id = SMP_BOOT_CPU;
    cpus[SMP_BOOT_CPU].state = CPU_ONLINE;
    set_gs_base(&cpus[SMP_BOOT_CPU]);
}

unsigned smp_online_count(void) { return READ_ONCE(online_count); }
int smp_cpu_online(unsigned cpu) { return cpu < SMP_MAX_CPUS && load_acquire(&cpus[cpu].state) == CPU_ONLINE; }
uint32_t smp_apic_id(unsigned cpu) { return cpu < SMP_MAX_CPUS ? cpus[cpu].apic_id : 0; }
unsigned smp_listed_count(void) { return listed_count; }
uint64_t smp_bringup_us(void) { return bringup_us; }
int smp_this_cpu_booting(void) { return load_acquire(&this_cpu()->state) == CPU_BOOTING; }

unsigned smp_last_online(void)
{
    for (unsigned i = SMP_MAX_CPUS; i-- > 0;)
        if (smp_cpu_online(i))
            return i;
    return SMP_BOOT_CPU;
}

/* ---------------------------------------------------------------- IPIs */

static void run_calls(struct cpu *c)
{
    for (unsigned s = 0; s < SMP_MAX_CPUS; s++) {
        struct call_slot *slot = &c->calls[s];
        uint32_t req = load_acquire(&slot->req);
        if (req != slot->ack) {
            slot->fn(slot->arg);
            store_release(&slot->ack, req);
        }
    }
}

void smp_poll_calls(void)
{
    uint64_t flags = read_rflags();
    irq_disable();
    run_calls(this_cpu());
    if (flags & RFLAGS_IF)
        irq_enable();
}

static void call_irq(struct trap_frame *f)
{
    apic_eoi();
    run_calls(this_cpu());
}

static void wake_irq(struct trap_frame *f) { apic_eoi(); }

void smp_wake(unsigned cpu)
{
    if (cpu != smp_cpu_id() && smp_cpu_online(cpu))
        apic_send_ipi(cpus[cpu].apic_id, APIC_DM_FIXED, VEC_IPI_WAKE);
}

static void post_call(unsigned cpu, void (*fn)(void *), void *arg)
{
    struct call_slot *slot = &cpus[cpu].calls[smp_cpu_id()];
    slot->fn = fn;
    slot->arg = arg;
    store_release(&slot->req, slot->req + 1);
    apic_send_ipi(cpus[cpu].apic_id, APIC_DM_FIXED, VEC_IPI_CALL);
}

/* Polls of a call's answer between two clock reads: QEMU serialises RDTSC
 * across vCPUs, so a sender reading the clock on every poll slows the CPU
 * it waits for (each TLB shootdown is such a wait). */
#define CALL_POLLS 256u

static int wait_call(unsigned cpu)
{
    struct call_slot *slot = &cpus[cpu].calls[smp_cpu_id()];
    struct deadline d = deadline_after_us(CALL_TIMEOUT_US);
    for (unsigned polls = 0; load_acquire(&slot->ack) != slot->req; polls++) {
        smp_poll_calls();
        if (polls % CALL_POLLS == 0 && deadline_passed(d)) {
            printk("# vtdlab: smp: cpu %u (APIC id %u) did not run a call from cpu %u in %u us; "
                   "its registers follow and it is left out from now on\n",
                   cpu, cpus[cpu].apic_id, smp_cpu_id(), CALL_TIMEOUT_US);
            smp_nmi_dump(cpu);
            store_release(&cpus[cpu].state, CPU_LOST);
            atomic_sub(&online_count, 1);
            return -E_TIMEDOUT;
        }
        cpu_relax();
    }
    return 0;
}

int smp_call_on(unsigned cpu, void (*fn)(void *), void *arg)
{
    if (cpu == smp_cpu_id()) {
        uint64_t flags = read_rflags();
        irq_disable();
        fn(arg);
        if (flags & RFLAGS_IF)
            irq_enable();
        return 0;
    }
    if (!smp_cpu_online(cpu))
        return -E_INVAL;
    post_call(cpu, fn, arg);
    return wait_call(cpu);
}

int smp_call_others(void (*fn)(void *), void *arg)
{
    unsigned me = smp_cpu_id();
    uint32_t posted = 0;
    _Static_assert(SMP_MAX_CPUS <= 32, "one bit per CPU in posted");
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        if (c != me && smp_cpu_online(c)) {
            post_call(c, fn, arg);
            posted |= 1u << c;
        }
    int err = 0;
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        if (posted & (1u << c)) {
            int e = wait_call(c);
            err = err ? err : e;
        }
    return err;
}

void smp_nmi_dump(unsigned cpu)
{
    if (cpu >= SMP_MAX_CPUS || cpu == smp_cpu_id())
        return;
    __atomic_fetch_or(&cpus[cpu].nmi_request, NMI_DUMP, __ATOMIC_SEQ_CST);
    apic_send_ipi(cpus[cpu].apic_id, APIC_DM_NMI, 0);
    /* Give the dump time to come out before the caller goes on printing. */
    WAIT_UNTIL(!(load_acquire(&cpus[cpu].nmi_request) & NMI_DUMP), RECALL_TIMEOUT_US);
}

int smp_handle_nmi(struct trap_frame *f)
{
    struct cpu *c = this_cpu();
    uint32_t req = atomic_xchg(&c->nmi_request, 0);
    if (!req)
        return 0;
    if (req & NMI_DUMP) {
        printk("# vtdlab: smp: cpu %u (APIC id %u) registers at the NMI:\n", c->local.id, c->apic_id);
        trap_dump(f, "#");
    }
    if ((req & NMI_RECALL) && load_acquire(&c->job_state) == SMP_JOB_RUNNING)
        smp_job_end_self();
    return 1;
}

/* ---------------------------------------------------------------- jobs */

int smp_job_post(unsigned cpu, void (*fn)(void *), void *arg)
{
    if (cpu == SMP_BOOT_CPU || !smp_cpu_online(cpu))
        return -E_INVAL;
    struct cpu *c = &cpus[cpu];
    if (load_acquire(&c->job_state) != SMP_JOB_IDLE)
        return -E_BUSY;
    c->job_fn = fn;
    c->job_arg = arg;
    store_release(&c->job_state, SMP_JOB_POSTED);
    smp_wake(cpu);
    return 0;
}

enum smp_job_state smp_job_state(unsigned cpu) { return (enum smp_job_state)load_acquire(&cpus[cpu].job_state); }
void smp_job_reset(unsigned cpu) { store_release(&cpus[cpu].job_state, SMP_JOB_IDLE); }
int smp_in_job(void) { return load_acquire(&this_cpu()->job_state) == SMP_JOB_RUNNING; }

void smp_job_end_self(void)
{
    ctx_restore(&this_cpu()->job_ctx, JOB_ABANDONED);
}

void smp_job_recall(unsigned cpu)
{
    struct cpu *c = &cpus[cpu];
    /* Not started yet: taken back before the AP claims it. */
    if (atomic_cmpxchg(&c->job_state, SMP_JOB_POSTED, SMP_JOB_IDLE))
        return;
    if (load_acquire(&c->job_state) != SMP_JOB_RUNNING)
        return;
    /* Still running when its case ended: show where it was stuck. */
    __atomic_fetch_or(&c->nmi_request, NMI_DUMP | NMI_RECALL, __ATOMIC_SEQ_CST);
    apic_send_ipi(c->apic_id, APIC_DM_NMI, 0);
    if (!WAIT_UNTIL(load_acquire(&c->job_state) != SMP_JOB_RUNNING, RECALL_TIMEOUT_US)) {
        printk("# vtdlab: smp: cpu %u did not come back from its job in %u us; left out from now on\n", cpu,
               RECALL_TIMEOUT_US);
        store_release(&c->state, CPU_LOST);
        atomic_sub(&online_count, 1);
    }
}

static void run_job(struct cpu *c)
{
    int how = ctx_save(&c->job_ctx);
    /* c is this CPU's, in a callee-saved register or reloaded: both valid
     * after ctx_restore. */
    if (how == JOB_RETURNED) {
        irq_enable();
        c->job_fn(c->job_arg);
    }
    irq_disable();
    /* An abandoned job may have been inside the console. */
    console_abandon_if_owner();
    store_release(&c->job_state, SMP_JOB_DONE);
    irq_enable();
}

static _Noreturn void idle_loop(void)
{
    struct cpu *c = this_cpu();
    for (;;) {
        irq_disable();
        /* Claimed with one compare-exchange: a recall may take it back. */
        if (atomic_cmpxchg(&c->job_state, SMP_JOB_POSTED, SMP_JOB_RUNNING)) {
            run_job(c);
            continue;
        }
        if (work_pending_here()) {
            irq_enable();
            work_run_here();
            continue;
        }
        /* STI;HLT: a wake-up IPI between the checks and the halt is taken
         * right after HLT starts, so it cannot be lost. */
        wait_for_interrupt();
    }
}

/* ---------------------------------------------------------------- bring-up */

/* An AP left out for good: interrupts off, halted; the boot CPU sends it
 * INIT next, back to wait-for-SIPI. */
static _Noreturn void park(struct cpu *c)
{
    store_release(&c->state, CPU_FAILED);
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}

_Noreturn void smp_park_faulted_ap(const struct trap_frame *f)
{
    struct cpu *c = this_cpu();
    char what[160];
    trap_describe(f, read_cr2(), what, sizeof(what));
    printk("# vtdlab: smp: cpu %u (APIC id %u) faulted during bring-up: %s; it is parked and left out\n",
           c->local.id, c->apic_id, what);
    park(c);
}

void ap_main(void);
SAN_BOOT_CODE void ap_main(void)
{
    unsigned id = ap_boot_cpu;
    struct cpu *c = &cpus[id];
    gdt_init_cpu(id, ap_boot_ist);
    set_gs_base(c);
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
    if (seen != c->apic_id) {
        printk("# vtdlab: smp: cpu %u started as APIC id %u, the MADT says %u; parked\n", id, seen, c->apic_id);
        park(c);
    }
    apic_timer_start_ap();
    store_release(&c->state, CPU_ONLINE);
    idle_loop();
}

static int setup_trampoline(uint64_t pa)
{
    size_t code = (size_t)(trampoline_end - trampoline_start);
    size_t poff = (size_t)(trampoline_params - trampoline_start);
    if (code - poff != sizeof(struct trampoline_params) || code > PAGE_SIZE)
        panic("smp: trampoline_params in trampoline.asm and smp.c disagree");
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
    struct cpu *c = &cpus[id];
    uint64_t stack = kstack_alloc(AP_STACK_SIZE);
    uint64_t ist = pages_alloc_contig((unsigned)(IST_COUNT * AP_IST_STACK_SIZE / PAGE_SIZE), 1);
    if (!stack || !ist) {
        printk("# vtdlab: smp: no memory for the stacks of APIC id %u; left out\n", apic);
        return -E_NOMEM;
    }
    trap_add_stack(stack - AP_STACK_SIZE, stack);
    for (unsigned i = 0; i < IST_COUNT; i++)
        ap_boot_ist[i] = (uint64_t)phys_to_virt(ist) + (i + 1) * AP_IST_STACK_SIZE;
    c->local.id = id;
    c->apic_id = apic;
    ap_boot_cpu = id;
    ap_boot_inject = inject;
    ap_boot_cr3 = read_cr3();
    ap_boot_stack = stack;
    store_release(&c->state, CPU_BOOTING);

    apic_send_ipi(apic, APIC_DM_INIT, 0);
    udelay(INIT_DELAY_US);
    for (int sipi = 0; sipi < 2 && load_acquire(&c->state) == CPU_BOOTING; sipi++) {
        apic_send_ipi(apic, APIC_DM_STARTUP, vector);
        WAIT_UNTIL(load_acquire(&c->state) != CPU_BOOTING, SIPI_DELAY_US);
    }
    WAIT_UNTIL(load_acquire(&c->state) != CPU_BOOTING, AP_START_TIMEOUT_US);
    int state = load_acquire(&c->state);
    if (state == CPU_ONLINE)
        return 0;
    if (state == CPU_BOOTING)
        printk("# vtdlab: smp: APIC id %u did not come up within %u ms of its start-up IPIs; left out\n", apic,
               AP_START_TIMEOUT_US / 1000);
    /* Back to wait-for-SIPI, so a late start cannot run on the next AP's
     * boot variables. */
    apic_send_ipi(apic, APIC_DM_INIT, 0);
    store_release(&c->state, CPU_ABSENT);
    return -E_TIMEDOUT;
}

unsigned smp_start_aps(const struct boot_info *bi, unsigned max_cpus, unsigned inject)
{
    irq_set_handler(VEC_IPI_CALL, call_irq);
    irq_set_handler(VEC_IPI_WAKE, wake_irq);
    cpus[SMP_BOOT_CPU].apic_id = apic_id();
    bsp_cr4 = read_cr4();
    const struct acpi_header *madt = acpi_find("APIC");
    uint32_t ids[SMP_MAX_CPUS];
    size_t listed = madt ? acpi_madt_cpu_ids(madt, ids, SMP_MAX_CPUS) : 0;
    if (!madt) {
        printk("# vtdlab: smp: no MADT: running on the boot CPU only\n");
        return online_count;
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
        return online_count;
    uint64_t tpa = bi->trampoline_phys;
    if (!tpa || bi->trampoline_pages < TRAMP_PAGES || (tpa >> PAGE_SHIFT) > SIPI_MAX_PAGE) {
        printk("# vtdlab: smp: the loader reserved no usable start page below 1 MiB (0x%lx, %lu pages): "
               "running on the boot CPU only\n", tpa, bi->trampoline_pages);
        return online_count;
    }
    uint64_t t0 = clock_us();
    setup_trampoline(tpa);
    unsigned next = 1;
    for (unsigned i = 0; i < listed_count && next < want; i++) {
        if (ids[i] == cpus[SMP_BOOT_CPU].apic_id)
            continue;
        if (inject)
            printk("# vtdlab: smp: injecting a bring-up failure (inject=0x%x) into APIC id %u\n", inject, ids[i]);
        if (!start_one(next, ids[i], (uint8_t)(tpa >> PAGE_SHIFT), inject)) {
            next++;
            atomic_add(&online_count, 1);
        }
        inject = 0; /* the first AP only */
    }
    bringup_us = clock_us() - t0;
    return online_count;
}
