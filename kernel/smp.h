/* More than one CPU: per-CPU data, application-processor bring-up, IPIs
 * ("call this function on that CPU, and wait until it has"), NMIs that dump
 * or recall a CPU, and jobs that run on an AP in process context (what the
 * harness runs a case's part on). Locks are in lock.h, deferred work in
 * work.h, TLB shootdown in mm/tlb.h.
 *
 * CPU numbers are dense (0 is the boot CPU, then the APs in MADT order as
 * they came up); APIC ids are what the hardware calls them. */
#ifndef VTDLAB_KERNEL_SMP_H
#define VTDLAB_KERNEL_SMP_H

#include <stdint.h>
#include "traps.h"
#include "../boot/boot_info.h"

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
/* Starts the APs the MADT lists as enabled, at most max_cpus CPUs in all
 * (0: every one), through the start page the loader reserved. A CPU that
 * does not come up in time, or faults on the way, is reported by APIC id
 * and left out; inject (INJECT_AP_*, cmdline.h) makes the first AP do so on
 * purpose. Returns the number of CPUs online. */
unsigned smp_start_aps(const struct boot_info *bi, unsigned max_cpus, unsigned inject);

unsigned smp_online_count(void);
int smp_cpu_online(unsigned cpu);
uint32_t smp_apic_id(unsigned cpu);
/* The CPU number of the highest online CPU, the default worker. */
unsigned smp_last_online(void);
/* What bring-up saw: CPUs the MADT lists as enabled, and how long starting
 * the APs took. */
unsigned smp_listed_count(void);
uint64_t smp_bringup_us(void);
/* Whether the running CPU is an AP still on its way up (exceptions then
 * park it instead of taking the kernel down). */
int smp_this_cpu_booting(void);
_Noreturn void smp_park_faulted_ap(const struct trap_frame *f);

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

#endif
