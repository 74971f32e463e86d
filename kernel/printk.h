#ifndef VTDLAB_PRINTK_H
#define VTDLAB_PRINTK_H

#include <stdarg.h>
#include <stdint.h>

/* Console output: COM1, and the framebuffer console when there is one.
 * Lines are written whole, never interleaved between CPUs; the boot CPU's
 * get no prefix, so KTAP lines stay exact (printk.c). */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
void console_write(const char *s, unsigned long len);
/* This CPU's partial line out now, without its newline (a prompt, the
 * shell's echo). */
void console_flush(void);
/* Every line from now on starts with prefix (NULL: none): the shell's
 * `run` keeps the KTAP it prints apart from the run's own. */
void console_line_prefix(const char *prefix);
/* For a CPU whose code was abandoned (a recalled job, an ended case): lets
 * go of the console if it held it and drops its unfinished line. */
void console_abandon_if_owner(void);
/* Lines written to the console since boot, from every CPU. */
uint64_t console_lines_written(void);

/* State a panic prints before it stops (one hook: the VT-d MMIO trace). */
void panic_set_dump(void (*dump)(void));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
