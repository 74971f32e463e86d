#ifndef VTDLAB_APIC_H
#define VTDLAB_APIC_H

#include <stdint.h>
#include "traps.h"

/* Maps and enables this CPU's local APIC (xAPIC mode) and masks the legacy
 * PICs, so only the APIC delivers interrupts. */
void apic_init(void);
uint32_t apic_id(void);
void apic_eoi(void);
/* Periodic timer at hz on VEC_APIC_TIMER, calibrated against the TSC;
 * on_tick runs in interrupt context after the EOI. */
void apic_timer_start(unsigned hz, irq_handler_t on_tick);
uint64_t apic_timer_ticks(void);

#endif
