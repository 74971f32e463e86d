/* 16550 UART on COM1, polled: the log must get out even with interrupts off
 * or the kernel half-broken. */
#include <stdint.h>
#include "serial.h"
#include "x86.h"

#define COM1        0x3f8
#define UART_THR    0       /* transmit holding (DLAB=0) */
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
#define BAUD_DIVISOR_115200 1
/* A UART that never drains (absent, or wedged) must not hang the kernel:
 * give up on a character after this many polls. */
#define THRE_SPIN_MAX 100000

void serial_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, BAUD_DIVISOR_115200);
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void put(char c)
{
    for (int i = 0; i < THRE_SPIN_MAX && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_write(const char *s, unsigned long len)
{
    for (unsigned long i = 0; i < len; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}
