/* The loader's checks of kernel.elf before it touches memory for it: pure,
 * so the host tests (tests/host/test_elf_check.c) run them on bad files
 * without booting the firmware. */
#ifndef VTDLAB_BOOT_ELF_CHECK_H
#define VTDLAB_BOOT_ELF_CHECK_H

#include <stdint.h>

/* [off, off + len) lies inside a file of size bytes (no overflow). */
static inline int elf_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* NULL when the image is an x86-64 executable whose program headers and
 * PT_LOAD segments lie inside the file and inside the kernel window
 * (boot_info.h), with its entry point there too; else the reason, as the
 * loader prints it. */
const char *elf_check(const uint8_t *img, uint64_t size);

#endif
