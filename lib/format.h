#ifndef VTDLAB_LIB_FORMAT_H
#define VTDLAB_LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* printf-style formatting: %d %i %u %x %X %o %p %s %c %%, flags - 0 + space,
 * width and precision (also *), length hh h l ll z j t. No floating point:
 * the kernel is built without SSE. Returns the length the full output would
 * have had; the buffer always ends in NUL when size > 0. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
