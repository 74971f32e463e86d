/* More than one CPU: per-CPU data, IPIs ("call this function on that CPU,
 * and wait until it has"), NMIs that dump or recall a CPU, and jobs that
 * run on an AP in process context (what the harness runs a case's part
 * on). Starting the APs is in ap_start.h, locks in lock.h, deferred work in
 * work.h, TLB shootdown in mm/tlb.h.
 *
 * CPU numbers are dense (0 is the boot CPU, then the APs in MADT order as
 * they came up); APIC ids are what the hardware calls them. */
#ifndef VTDLAB_KERNEL_SMP_H
#define VTDLAB_KERNEL_SMP_H

#include <stdint.h>
#include "traps.h"

#define SMP_MAX_CPUS 32
#define SMP_BOOT_CPU 0

/* The start of each CPU's own data, where GS base points: the CPU number
 * is one GS-relative load away. */
struct cpu_local {
    unsigned id;
};
static inline unsigned smp_cpu_id(void)
{
    unsigned id;
    __asm__ volatile("movl %%gs:0, %0" : "=r"(id));
    return id;
}

/* The boot CPU's per-CPU data; first thing after its GDT is loaded. */
void smp_init_bsp(void);
unsigned smp_online_count(void);
int smp_cpu_online(unsigned cpu);
uint32_t smp_apic_id(unsigned cpu);
/* The CPU number of the highest online CPU, the default worker. */
unsigned smp_last_online(void);

/* Runs fn(arg) on cpu in its interrupt context and waits (bounded) until it
 * returned; on the calling CPU directly. fn must be short and must not call
 * smp_call itself. Not from interrupt context. 0, -E_INVAL for an offline
 * CPU, -E_TIMEDOUT (the CPU's registers are dumped through NMI). */
int smp_call_on(unsigned cpu, void (*fn)(void *), void *arg);
/* The same on every other online CPU, all at once. */
int smp_call_others(void (*fn)(void *), void *arg);
/* Runs calls other CPUs posted here; for loops that wait with interrupts
 * off. */
void smp_poll_calls(void);
/* Wakes cpu from its idle halt (a fixed IPI whose handler does nothing). */
void smp_wake(unsigned cpu);
/* Prints cpu's registers and backtrace from its NMI handler. */
void smp_nmi_dump(unsigned cpu);

/* Jobs: fn(arg) in process context on an online AP's idle loop. */
enum smp_job_state { SMP_JOB_IDLE, SMP_JOB_POSTED, SMP_JOB_RUNNING, SMP_JOB_DONE };
int smp_job_post(unsigned cpu, void (*fn)(void *), void *arg);
enum smp_job_state smp_job_state(unsigned cpu);
/* Back to IDLE once DONE has been read. */
void smp_job_reset(unsigned cpu);
/* On the AP running a job: abandon it (from a fault handler, the harness)
 * and go back to the idle loop. */
_Noreturn void smp_job_end_self(void);
/* Whether the running CPU is running a job. */
int smp_in_job(void);
/* Makes cpu abandon its job through an NMI (it may have interrupts off),
 * a running one prints its registers first. */
void smp_job_recall(unsigned cpu);

/* For the trap path: an NMI another CPU asked for; 1 if it was one. */
int smp_handle_nmi(struct trap_frame *f);

/* AP bring-up's side of the per-CPU records (ap_start.c, nothing else):
 * a CPU's record is written by the boot CPU until it sets BOOTING, then by
 * that AP until it sets ONLINE. */
enum cpu_state { CPU_ABSENT, CPU_BOOTING, CPU_ONLINE, CPU_FAILED, CPU_LOST };
/* The call and wake IPIs' handlers, and the boot CPU's APIC id. */
void smp_init_ipis(void);
void smp_cpu_prepare(unsigned cpu, uint32_t apic_id);
enum cpu_state smp_cpu_state(unsigned cpu);
void smp_cpu_set_state(unsigned cpu, enum cpu_state s);
/* On the AP itself: GS base to its record. */
void smp_cpu_enter(unsigned cpu);
/* One more CPU online, counted by the boot CPU once it saw ONLINE. */
void smp_add_online(void);
/* Where an AP that came up waits for jobs, calls and work. */
_Noreturn void smp_idle_loop(void);

#endif
