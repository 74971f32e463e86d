/* The kernel's virtual address regions (one PML4 slot or more each). */
#ifndef VTDLAB_MM_LAYOUT_H
#define VTDLAB_MM_LAYOUT_H

#include "../boot/boot_info.h"

#define PAGE_SHIFT       12
#define PAGE_SIZE        (1ul << PAGE_SHIFT)
#define PAGE_MASK        (~(PAGE_SIZE - 1))

#define DIRECT_MAP_BASE  0xffff888000000000ul /* all RAM, RW NX */
#define KVA_BASE         0xffffa00000000000ul /* map/unmap area for tests */
#define KVA_SIZE         (1ul << 39)          /* one PML4 slot */
#define MMIO_BASE        0xffffc90000000000ul /* device and table mappings */
#define MMIO_SIZE        (1ul << 39)
/* The bottom of the kernel half: no region maps it, so an access there
 * faults (the self-test and injected faults use it). */
#define VA_NEVER_MAPPED  0xffff800000000000ul
/* KERNEL_VMA_BASE (boot_info.h): the image, text RX / rodata R / data RW */

#endif
