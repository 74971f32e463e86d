/* What a PVH direct boot hands the kernel (Xen's public x86 boot ABI,
 * arch-x86/hvm/start_info.h, which QEMU implements for `-kernel` with an
 * ELF carrying the PHYS32_ENTRY note), and the pure conversion of it into
 * the struct boot_info the UEFI loader would have written. Pure, so the
 * host tests run it on literal start_info values. */
#ifndef VTDLAB_KERNEL_PVH_INFO_H
#define VTDLAB_KERNEL_PVH_INFO_H

#include <stddef.h>
#include <stdint.h>
#include "../boot/boot_info.h"

#define HVM_START_MAGIC 0x336ec578u
/* Version 1 added the memory map; QEMU's pvh.bin writes version 1. */
#define HVM_START_VERSION_MEMMAP 1

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;      /* version 1 */
    uint32_t memmap_entries;
    uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");

struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");

/* The E820 types (ACPI 6.5, table 15.1). */
enum e820_type { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3, E820_NVS = 4, E820_UNUSABLE = 5, E820_PMEM = 7 };

struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_table_entry");

/* A range the kernel owns that the firmware's map calls RAM: the kernel
 * image, the module holding kernel.elf, the AP trampoline. Each becomes
 * EFI_LOADER_DATA in the converted map, as the UEFI loader's own would. */
struct pvh_owned {
    uint64_t start, end;        /* page aligned, end exclusive */
};
#define PVH_OWNED_MAX 4

/* The UEFI memory map for the E820 entries: each RAM entry split around
 * the owned ranges, every other type given its UEFI counterpart. Entries
 * are page-rounded inwards for RAM, outwards for everything else. Returns
 * the number of descriptors, or -1 when out would overflow. */
int pvh_memory_map(const struct hvm_memmap_entry *e820, unsigned n, const struct pvh_owned *owned,
                   unsigned nowned, struct efi_mmap_desc *out, unsigned max);

/* Where .symtab and its string table lie inside an ELF64 image of size
 * bytes (kernel.elf passed as module 0): 0 and the offsets and sizes, or
 * -1 when the image has none or its section headers are out of bounds. */
int pvh_find_symtab(const uint8_t *elf, uint64_t size, uint64_t *sym_off, uint64_t *sym_size,
                    uint64_t *str_off, uint64_t *str_size);

/* The highest BOOT_TRAMPOLINE_PAGES of RAM below BOOT_TRAMPOLINE_LIMIT,
 * above the first page, that no owned range covers; 0 if none. */
uint64_t pvh_trampoline(const struct hvm_memmap_entry *e820, unsigned n, const struct pvh_owned *owned,
                        unsigned nowned);

/* In the kernel (kernel/pvh.c): whether kmain was handed a start_info
 * (a PVH boot) rather than a boot_info, and the boot_info built from it,
 * by its physical address as the loader would pass it. */
int pvh_is_start_info(const void *handoff);
struct boot_info *pvh_boot_info(const struct hvm_start_info *si);

#endif
