/* The shell's words: a line split into arguments, numbers and PCI
 * addresses parsed with a reason for what does not parse. Pure:
 * host-tested (tests/host/test_shell_args.c). */
#ifndef VTDLAB_SHELL_ARGS_H
#define VTDLAB_SHELL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define SHELL_ARGS_MAX 8

/* Splits line in place at spaces and tabs: the number of words, or
 * -E_RANGE when there are more than max (argv then holds the first max). */
int shell_split(char *line, char **argv, int max);
/* Decimal, or hexadecimal with 0x; the whole word. -E_INVAL otherwise,
 * -E_RANGE past 64 bits. */
int shell_number(const char *s, uint64_t *v);
/* BB:DD.F in hexadecimal, as lspci prints it (device 0..1f, function
 * 0..7). -E_INVAL otherwise. */
int shell_bdf(const char *s, uint8_t *bus, uint8_t *dev, uint8_t *fn);

#endif
