#ifndef VTDLAB_GDT_H
#define VTDLAB_GDT_H

#define KERNEL_CS 0x08
/* IST slots (1-based in the IDT gate, as the CPU counts them). */
enum { IST_DOUBLE_FAULT = 1, IST_NMI = 2, IST_MACHINE_CHECK = 3, IST_COUNT = 3 };

void gdt_init(void);

#endif
