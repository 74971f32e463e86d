/* Console output from every CPU. Each CPU collects its text into a line of
 * its own and writes whole lines under the console lock, so lines from
 * different CPUs never interleave. While more than one CPU is up, an AP's
 * lines name it inside the KTAP diagnostic ("# cpu1: ..."), and a line
 * that is not a diagnostic becomes one; the boot CPU's lines are written
 * as they are, since the KTAP results come from it. */
#include <string.h>
#include "printk.h"
#include "fbcon.h"
#include "serial.h"
#include "smp.h"
#include "traps.h"
#include "exit.h"
#include "x86.h"
#include "clock.h"
#include "../lib/atomic.h"
#include <stdio.h>

#define PRINTK_BUF  512
#define PRINTK_LINE_MAX 512
#define PREFIX_MAX  24
/* A console holder that does not let go in this long has died holding it
 * (an NMI'd or crashed CPU): the lock is taken over. */
#define CONSOLE_TAKEOVER_US 200000u

struct line {
    char buf[PRINTK_LINE_MAX];
    unsigned len;
};
static struct line lines[SMP_MAX_CPUS];
static int32_t console_owner = -1;
static unsigned console_depth;

static void emit(const char *s, unsigned long len)
{
    serial_write(s, len);
    fbcon_write(s, len);
}

/* Nested use by the holder itself (an exception or NMI while it prints)
 * goes through, so a report is never lost to the lock. */
static uint64_t console_lock(void)
{
    uint64_t flags = irq_save();
    int32_t me = (int32_t)smp_cpu_id();
    if (READ_ONCE(console_owner) == me) {
        console_depth++;
        return flags;
    }
    struct deadline d = deadline_after_us(CONSOLE_TAKEOVER_US);
    while (!atomic_cmpxchg(&console_owner, -1, me)) {
        if (deadline_passed(d)) {
            WRITE_ONCE(console_owner, me);
            break;
        }
        cpu_relax();
    }
    console_depth = 1;
    return flags;
}

static void console_unlock(uint64_t flags)
{
    if (--console_depth == 0)
        store_release(&console_owner, -1);
    irq_restore(flags);
}

void console_abandon_if_owner(void)
{
    if (READ_ONCE(console_owner) == (int32_t)smp_cpu_id()) {
        console_depth = 0;
        store_release(&console_owner, -1);
    }
    lines[smp_cpu_id()].len = 0;
}

static const char *line_prefix;
void console_line_prefix(const char *prefix) { line_prefix = prefix; }

/* Lines the console wrote, counted under its lock. */
static uint64_t lines_written;
uint64_t console_lines_written(void) { return READ_ONCE(lines_written); }

static void flush_line(struct line *l, unsigned cpu)
{
    uint64_t flags = console_lock();
    if (line_prefix)
        emit(line_prefix, strlen(line_prefix));
    if (cpu != SMP_BOOT_CPU && smp_online_count() > 1) {
        unsigned ws = 0;
        while (ws < l->len && l->buf[ws] == ' ')
            ws++;
        char prefix[PREFIX_MAX];
        int diag = ws < l->len && l->buf[ws] == '#';
        unsigned skip = diag ? ws + 1 + (ws + 1 < l->len && l->buf[ws + 1] == ' ') : ws;
        int n = snprintf(prefix, sizeof(prefix), "# cpu%u: ", cpu);
        emit(l->buf, ws);
        emit(prefix, (unsigned long)n);
        emit(l->buf + skip, l->len - skip);
    } else {
        emit(l->buf, l->len);
    }
    WRITE_ONCE(lines_written, lines_written + 1);
    console_unlock(flags);
    l->len = 0;
}

void console_write(const char *s, unsigned long len)
{
    unsigned cpu = smp_cpu_id();
    struct line *l = &lines[cpu];
    for (unsigned long i = 0; i < len; i++) {
        l->buf[l->len++] = s[i];
        if (s[i] == '\n' || l->len == PRINTK_LINE_MAX)
            flush_line(l, cpu);
    }
}

void console_flush(void)
{
    unsigned cpu = smp_cpu_id();
    if (lines[cpu].len)
        flush_line(&lines[cpu], cpu);
}

void vprintk(const char *fmt, va_list ap)
{
    char buf[PRINTK_BUF];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    console_write(buf, n < (int)sizeof(buf) ? (unsigned long)n : sizeof(buf) - 1);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

static void (*panic_dump)(void);

void panic_set_dump(void (*dump)(void)) { panic_dump = dump; }

void panic(const char *fmt, ...)
{
    irq_disable();
    va_list ap;
    va_start(ap, fmt);
    printk("# vtdlab: panic: ");
    vprintk(fmt, ap);
    printk("\n");
    va_end(ap);
    backtrace_print((uint64_t)__builtin_frame_address(0));
    void (*dump)(void) = panic_dump;
    panic_dump = NULL; /* a panic inside the dump must not loop */
    if (dump)
        dump();
    struct line *l = &lines[smp_cpu_id()];
    if (l->len)
        flush_line(l, smp_cpu_id());
    machine_exit(EXIT_PANIC);
}
