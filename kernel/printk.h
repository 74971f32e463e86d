#ifndef VTDLAB_PRINTK_H
#define VTDLAB_PRINTK_H

#include <stdarg.h>

/* Console output: COM1, and the framebuffer console when there is one.
 * Lines are written whole; no prefix is added, so KTAP lines stay exact. */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
void console_write(const char *s, unsigned long len);

/* State a panic prints before it stops (one hook: the VT-d MMIO trace). */
void panic_set_dump(void (*dump)(void));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
