/* The one contract between the UEFI loader and the kernel.
 * The loader fills it in memory it allocated as EfiLoaderData, which the
 * kernel never reuses, and passes its physical address in RDI. */
#ifndef VTDLAB_BOOT_INFO_H
#define VTDLAB_BOOT_INFO_H

#include <stdint.h>

#define BOOT_INFO_MAGIC   0x6f666e69746f6f62ul /* "bootinfo" */
#define BOOT_CMDLINE_MAX  1024
/* What the loader reserves for the AP trampoline (kernel/smp.c). */
#define BOOT_TRAMPOLINE_PAGES 4
#define BOOT_TRAMPOLINE_LIMIT 0x9ffffu  /* below the EBDA and video memory */

/* Where the kernel image lives. The loader maps [KERNEL_VMA_BASE, +span)
 * to the 2 MiB aligned physical block it allocated. */
#define KERNEL_VMA_BASE   0xffffffff80000000ul
#define KERNEL_MAX_SPAN   (1ul << 30)
#define KERNEL_PHYS_ALIGN (2ul << 20)

/* UEFI memory types the kernel cares about (UEFI spec, EFI_MEMORY_TYPE). */
enum efi_memory_type {
    EFI_RESERVED = 0, EFI_LOADER_CODE, EFI_LOADER_DATA, EFI_BOOT_SERVICES_CODE,
    EFI_BOOT_SERVICES_DATA, EFI_RUNTIME_SERVICES_CODE, EFI_RUNTIME_SERVICES_DATA,
    EFI_CONVENTIONAL_MEMORY, EFI_UNUSABLE_MEMORY, EFI_ACPI_RECLAIM_MEMORY,
    EFI_ACPI_MEMORY_NVS, EFI_MEMORY_MAPPED_IO, EFI_MEMORY_MAPPED_IO_PORT_SPACE,
    EFI_PAL_CODE, EFI_PERSISTENT_MEMORY, EFI_MEMORY_TYPE_COUNT
};

/* Layout of one EFI_MEMORY_DESCRIPTOR; entries are mmap_desc_size apart,
 * which may be larger than this struct. */
struct efi_mmap_desc {
    uint32_t type;
    uint32_t pad;
    uint64_t phys_start;
    uint64_t virt_start;
    uint64_t pages;
    uint64_t attr;
};
_Static_assert(sizeof(struct efi_mmap_desc) == 40, "EFI_MEMORY_DESCRIPTOR");

struct boot_framebuffer {
    uint64_t base;          /* physical; 0 when there is no GOP */
    uint64_t size;
    uint32_t width, height;
    uint32_t pixels_per_line;
    uint32_t format;        /* EFI_GRAPHICS_PIXEL_FORMAT */
};

struct boot_info {
    uint64_t magic;
    uint64_t kernel_phys_base;   /* physical address of KERNEL_VMA_BASE */
    uint64_t kernel_span;        /* bytes mapped at KERNEL_VMA_BASE */
    uint64_t mmap_phys;          /* UEFI memory map as seen at ExitBootServices */
    uint64_t mmap_size;
    uint64_t mmap_desc_size;
    uint64_t rsdp_phys;          /* ACPI 2.0+ RSDP, 0 if none */
    uint64_t smbios_phys;        /* SMBIOS entry point (3.0 preferred), 0 if none */
    uint64_t symtab_phys;        /* kernel.elf .symtab copy, for backtraces */
    uint64_t symtab_size;
    uint64_t strtab_phys;
    uint64_t strtab_size;
    /* Pages below 1 MiB for the APs' start-up code and its identity map
     * (SIPI can only start a CPU in the first megabyte); 0 if none. */
    uint64_t trampoline_phys;
    uint64_t trampoline_pages;
    struct boot_framebuffer fb;
    char cmdline[BOOT_CMDLINE_MAX];
};

#endif
