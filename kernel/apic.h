#ifndef VTDLAB_APIC_H
#define VTDLAB_APIC_H

#include <stdint.h>
#include "traps.h"

/* Enables the boot CPU's local APIC, in x2APIC mode when the CPU has it
 * (xAPIC otherwise), and masks the legacy PICs, so only the APIC delivers
 * interrupts. */
void apic_init(void);
/* The same on an application processor, in the mode the boot CPU chose. */
void apic_init_ap(void);
int apic_x2apic(void);
uint32_t apic_id(void);
void apic_eoi(void);
/* Periodic timer at hz on VEC_APIC_TIMER, calibrated against the TSC on
 * the boot CPU; on_tick runs in interrupt context after the EOI, on every
 * CPU. apic_timer_start_ap reuses the calibration. */
void apic_timer_start(unsigned hz, irq_handler_t on_tick);
void apic_timer_start_ap(void);
/* Timer interrupts taken by one CPU since it started its timer. */
uint64_t apic_timer_ticks_on(unsigned cpu);
uint64_t apic_timer_ticks(void);

/* Interprocessor interrupts (SDM vol. 3, 11.6). */
enum apic_delivery { APIC_DM_FIXED = 0, APIC_DM_NMI = 4, APIC_DM_INIT = 5, APIC_DM_STARTUP = 6 };
/* Sends one IPI to a physical APIC id; the vector is the start page for
 * STARTUP and ignored for NMI and INIT. -E_TIMEDOUT when an xAPIC's
 * previous IPI never left (delivery status stuck). */
int apic_send_ipi(uint32_t dest_apic_id, enum apic_delivery mode, uint8_t vector);

#endif
