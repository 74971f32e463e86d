/* The monotonic clock: the TSC, calibrated at boot against the HPET (from
 * ACPI) or, without one, the PIT. Every hardware wait uses a deadline from
 * here, so none spins forever. */
#ifndef VTDLAB_CLOCK_H
#define VTDLAB_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include "x86.h"

#define US_PER_MS 1000u
#define NS_PER_US 1000u

enum clock_source { CLOCK_NONE, CLOCK_HPET, CLOCK_PIT };

void clock_init(void);
uint64_t clock_tsc_hz(void);
enum clock_source clock_source(void);
const char *clock_source_name(enum clock_source s);
/* Measures the TSC rate against one source now; 0 if it is not there or
 * did not tick within its bound. */
uint64_t clock_measure_tsc_hz(enum clock_source s);

uint64_t clock_ns(void);
static inline uint64_t clock_us(void) { return clock_ns() / 1000; }

struct deadline {
    uint64_t tsc;
};
struct deadline deadline_after_us(uint64_t us);
static inline bool deadline_passed(struct deadline d) { return rdtsc() >= d.tsc; }
/* At least us microseconds; with interrupts on, up to one timer tick more. */
void udelay(uint64_t us);

/* A few plain instructions between two polls of a spinning loop
 * (kernel/clock.c says why). */
void spin_gap(void);

/* Polls cond until it holds or timeout_us passes; true if it held. The
 * caller reports what it saw on false. Between polls a gap (fewer device
 * reads for the same wait under TCG), then PAUSE (which under TCG's
 * round-robin also lets the other vCPU run). */
#define WAIT_UNTIL(cond, timeout_us)                                         \
    ({                                                                       \
        struct deadline _d = deadline_after_us(timeout_us);                  \
        bool _ok;                                                            \
        while (!(_ok = (cond)) && !deadline_passed(_d)) {                    \
            spin_gap();                                                      \
            cpu_relax();                                                     \
        }                                                                    \
        _ok || (cond);                                                       \
    })

#endif
