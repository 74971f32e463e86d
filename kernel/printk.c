#include <string.h>
#include "printk.h"
#include "fbcon.h"
#include "serial.h"
#include "traps.h"
#include "exit.h"
#include "x86.h"
#include <stdio.h>

#define PRINTK_BUF 512

void console_write(const char *s, unsigned long len)
{
    serial_write(s, len);
    fbcon_write(s, len);
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
    machine_exit(EXIT_PANIC);
}
