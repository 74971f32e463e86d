/* What kernel code compiled into a host test calls for its log and its
 * deadlines: printk into a buffer the test reads (`printed`), TSC
 * deadlines at an assumed 1 GHz or more (generous), and the pause between
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

struct deadline deadline_after_us(uint64_t us) { return (struct deadline){ rdtsc() + us * 1000 }; }
/* WAIT_UNTIL's gap between polls: nothing to spare on the host. */
void spin_gap(void) {}

#endif
