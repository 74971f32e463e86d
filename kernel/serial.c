/* 16550 UART, polled: the log must get out even with interrupts off or the
 * kernel half-broken. COM1 from the first line on; then the port the
 * cmdline or the firmware's ACPI SPCR table names, through I/O ports or
 * MMIO registers of the width it gives. */
#include <stdint.h>
#include "serial.h"
#include "x86.h"

#define UART_THR    0       /* transmit holding (DLAB=0) */
#define UART_RBR    0       /* receive buffer (DLAB=0), read */
#define UART_DLL    0       /* divisor low (DLAB=1) */
#define UART_IER    1
#define UART_DLM    1
#define UART_FCR    2
#define UART_LCR    3
#define UART_MCR    4
#define UART_LSR    5
#define LCR_8N1     0x03
#define LCR_DLAB    0x80
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS 0x03
#define LSR_THRE    0x20
#define LSR_DR      0x01    /* a received byte waits in RBR */
#define UART_CLOCK_DIVIDEND 115200u   /* the 1.8432 MHz clock over 16 */
/* A UART that never drains (absent, or wedged) must not hang the kernel:
 * give up on a character after this many polls. */
#define THRE_SPIN_MAX 100000

static struct serial_port port = { .kind = SERIAL_IO, .addr = SERIAL_COM1, .stride = 1, .access = 1,
                                   .baud = SERIAL_DEFAULT_BAUD };
static volatile uint8_t *mapped;

static uint8_t rd(unsigned reg)
{
    if (port.kind == SERIAL_IO)
        return inb((uint16_t)(port.addr + reg));
    const volatile uint8_t *p = mapped + (uint64_t)reg * port.stride;
    return port.access == 4 ? (uint8_t)*(const volatile uint32_t *)p : *p;
}

static void wr(unsigned reg, uint8_t v)
{
    if (port.kind == SERIAL_IO) {
        outb((uint16_t)(port.addr + reg), v);
        return;
    }
    volatile uint8_t *p = mapped + (uint64_t)reg * port.stride;
    if (port.access == 4)
        *(volatile uint32_t *)p = v;
    else
        *p = v;
}

static void program(void)
{
    wr(UART_IER, 0);
    if (port.baud) {
        uint32_t div = UART_CLOCK_DIVIDEND / port.baud;
        wr(UART_LCR, LCR_DLAB);
        wr(UART_DLL, (uint8_t)div);
        wr(UART_DLM, (uint8_t)(div >> 8));
    }
    wr(UART_LCR, LCR_8N1);
    wr(UART_FCR, FCR_ENABLE_CLEAR);
    wr(UART_MCR, MCR_DTR_RTS);
}

void serial_init(void) { program(); }

void serial_use(const struct serial_port *p, volatile void *registers)
{
    port = *p;
    mapped = registers;
    if (port.kind != SERIAL_OFF)
        program();
}

const struct serial_port *serial_port(void) { return &port; }

static void put(char c)
{
    for (int i = 0; i < THRE_SPIN_MAX && !(rd(UART_LSR) & LSR_THRE); i++)
        ;
    wr(UART_THR, (uint8_t)c);
}

void serial_write(const char *s, unsigned long len)
{
    if (port.kind == SERIAL_OFF)
        return;
    for (unsigned long i = 0; i < len; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}

int serial_getc(void)
{
    if (port.kind == SERIAL_OFF || !(rd(UART_LSR) & LSR_DR))
        return -1;
    return rd(UART_RBR);
}
