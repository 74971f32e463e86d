#ifndef VTDLAB_SERIAL_H
#define VTDLAB_SERIAL_H

#include <stdint.h>

#define SERIAL_COM1 0x3f8
#define SERIAL_DEFAULT_BAUD 115200u

enum serial_kind { SERIAL_IO, SERIAL_MMIO, SERIAL_OFF };
struct serial_port {
    enum serial_kind kind;
    uint64_t addr;        /* I/O port, or physical MMIO address */
    unsigned stride;      /* bytes between registers (MMIO) */
    unsigned access;      /* bytes per register access, 1 or 4 (MMIO) */
    uint32_t baud;        /* 0: as the firmware left it */
    const char *source;   /* what chose it, for the log */
};

/* COM1 at 115200 8N1: the console from the first line. */
void serial_init(void);
/* From now on the log goes to p (registers: its mapping, for MMIO), or
 * nowhere for SERIAL_OFF. */
void serial_use(const struct serial_port *p, volatile void *registers);
const struct serial_port *serial_port(void);
void serial_write(const char *s, unsigned long len);
/* A received byte, or -1 when none waits (polled: the shell's input). */
int serial_getc(void);

#endif
