#include <string.h>
#include "smp.h"
#include "apic.h"
#include "clock.h"
#include "cmdline.h"
#include "lock.h"
#include "printk.h"
#include "traps.h"
#include "work.h"
#include "x86.h"
#include "san/san.h"
#include "../lib/errno.h"
#include "../lib/jmp.h"

#define MSR_GS_BASE        0xc0000101u
#define CALL_TIMEOUT_US    1000000u
#define RECALL_TIMEOUT_US  500000u

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

static struct cpu cpus[SMP_MAX_CPUS];
_Static_assert(SMP_MAX_CPUS == CMDLINE_MAX_CPUS, "cpus= and the per-CPU arrays agree");
static unsigned online_count = 1;

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

_Noreturn void smp_idle_loop(void)
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

/* ---------------------------------------------------------------- AP bring-up's side */

void smp_init_ipis(void)
{
    irq_set_handler(VEC_IPI_CALL, call_irq);
    irq_set_handler(VEC_IPI_WAKE, wake_irq);
    cpus[SMP_BOOT_CPU].apic_id = apic_id();
}

void smp_cpu_prepare(unsigned cpu, uint32_t apic)
{
    cpus[cpu].local.id = cpu;
    cpus[cpu].apic_id = apic;
}

enum cpu_state smp_cpu_state(unsigned cpu) { return (enum cpu_state)load_acquire(&cpus[cpu].state); }
void smp_cpu_set_state(unsigned cpu, enum cpu_state s) { store_release(&cpus[cpu].state, s); }
void smp_cpu_enter(unsigned cpu) { set_gs_base(&cpus[cpu]); }
void smp_add_online(void) { atomic_add(&online_count, 1); }
