#ifndef VTDLAB_GDT_H
#define VTDLAB_GDT_H

#include <stdint.h>

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
/* IST slots (1-based in the IDT gate, as the CPU counts them). */
enum { IST_DOUBLE_FAULT = 1, IST_NMI = 2, IST_MACHINE_CHECK = 3, IST_COUNT = 3 };
/* Null, code and data: what the AP trampoline needs to reach long mode. */
#define GDT_BOOT_DESCRIPTORS 3

/* The boot CPU's GDT and TSS, with IST stacks in the image. */
void gdt_init(void);
/* cpu's own GDT and TSS, with the IST stacks whose tops are given. */
void gdt_init_cpu(unsigned cpu, const uint64_t ist_top[IST_COUNT]);
void gdt_boot_descriptors(uint64_t out[GDT_BOOT_DESCRIPTORS]);

#endif
