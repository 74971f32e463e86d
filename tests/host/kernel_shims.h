/* What kernel code compiled into a host test calls for its log and its
 * deadlines: printk into a buffer the test reads (`printed`), TSC
 * deadlines (HOST_TSC_PER_US), and the pause between
 * polls. Include once, after
 * the kernel source under test. */
#ifndef VTDLAB_TESTS_HOST_KERNEL_SHIMS_H
#define VTDLAB_TESTS_HOST_KERNEL_SHIMS_H

static char printed[8192];

void vprintk(const char *fmt, va_list ap)
{
    size_t len = strlen(printed);
    vsnprintf(printed + len, sizeof(printed) - len, fmt, ap);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

/* A deadline's length in TSC ticks per microsecond. The fakes behind the
 * host tests answer at once or never, so a wait's length only decides how
 * long a "never" takes to be seen: it is counted at 100 ticks a
 * microsecond, slower than any host's TSC, so each "never" costs a tenth
 * of its stated time or less (the kernel's 1 s waits took ~0.4 s each at
 * the 1 GHz once assumed here). */
#define HOST_TSC_PER_US 100u

struct deadline deadline_after_us(uint64_t us) { return (struct deadline){ rdtsc() + us * HOST_TSC_PER_US }; }

/* A wait of `us` seen to end: it ran out its deadline but not ten times
 * over (the margin is for a busy host's preemption, not a speed bound),
 * so a wait that ignores its deadline or counts it in other units fails. */
static inline int host_wait_ended(uint64_t t0, uint64_t us)
{
    uint64_t ticks = rdtsc() - t0;
    return ticks >= us * HOST_TSC_PER_US && ticks < 10 * us * HOST_TSC_PER_US;
}
/* A wait of `us` not spent: it ended before its deadline could. */
static inline int host_wait_not_spent(uint64_t t0, uint64_t us) { return rdtsc() - t0 < us * HOST_TSC_PER_US; }
/* WAIT_UNTIL's gap between polls: nothing to spare on the host. */
void spin_gap(void) {}

#endif
