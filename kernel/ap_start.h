/* Starting the application processors (ap_start.c); the per-CPU data,
 * IPIs and jobs they run are in smp.h. */
#ifndef VTDLAB_KERNEL_AP_START_H
#define VTDLAB_KERNEL_AP_START_H

#include <stdint.h>
#include "traps.h"
#include "../boot/boot_info.h"

/* Starts the APs the MADT lists as enabled, at most max_cpus CPUs in all
 * (0: every one), through the start page the loader reserved. A CPU that
 * does not come up in time, or faults on the way, is reported by APIC id
 * and left out; inject (INJECT_AP_*, cmdline.h) makes the first AP do so on
 * purpose. Returns the number of CPUs online. */
unsigned smp_start_aps(const struct boot_info *bi, unsigned max_cpus, unsigned inject);

/* What bring-up saw: CPUs the MADT lists as enabled, and how long starting
 * the APs took. */
unsigned smp_listed_count(void);
uint64_t smp_bringup_us(void);
/* Whether the running CPU is an AP still on its way up (exceptions then
 * park it instead of taking the kernel down). */
int smp_this_cpu_booting(void);
_Noreturn void smp_park_faulted_ap(const struct trap_frame *f);

#endif
