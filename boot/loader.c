/* vtdlab UEFI loader (GNU-EFI).
 *
 * Reads \vtdlab\kernel.elf and \vtdlab\cmdline from the volume it was
 * loaded from, places the kernel's PT_LOAD segments in one 2 MiB aligned
 * block, collects the memory map, the ACPI 2.0 RSDP, the GOP framebuffer and
 * the cmdline into struct boot_info, exits boot services and jumps to the
 * kernel through a temporary page table: UEFI's identity map for the low
 * half plus the kernel window at KERNEL_VMA_BASE. The kernel replaces that
 * table with its own at once.
 *
 * Every error before the jump is printed on ConOut and COM1 with the prefix
 * "vtdlab-boot: error:" (the host tool stops on it) and the loader returns
 * to the firmware after a pause, so the screen can be read. */
#include <efi.h>
#include <efilib.h>
#include <elf.h>

#include "boot_info.h"
#include "elf_check.h"

#define KERNEL_PATH     L"\\vtdlab\\kernel.elf"
#define CMDLINE_PATH    L"\\vtdlab\\cmdline"
#define ERROR_PAUSE_US  (5 * 1000 * 1000)
#define PAGE_SIZE       4096ull
#define LARGE_PAGE_SIZE (2ull << 20)

/* x86 paging bits the temporary table needs (SDM vol. 3, 4.5). */
#define PTE_P      (1ull << 0)
#define PTE_RW     (1ull << 1)
#define PTE_PS     (1ull << 7)
#define PTE_ADDR   0x000ffffffffff000ull
#define CR4_LA57   (1ull << 12)

/* COM1, written directly so errors reach the serial log even on machines
 * whose ConOut is the screen only. */
#define COM1_PORT      0x3f8
#define COM1_LSR       5
#define COM1_LSR_THRE  0x20
#define COM1_SPIN_MAX  100000

static inline void outb(UINT16 port, UINT8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline UINT8 inb(UINT16 port) { UINT8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void com1_puts(const char *s)
{
    for (; *s; s++) {
        for (int i = 0; i < COM1_SPIN_MAX && !(inb(COM1_PORT + COM1_LSR) & COM1_LSR_THRE); i++)
            ;
        outb(COM1_PORT, (UINT8)*s);
    }
}

static void fail(const char *what, EFI_STATUS status)
{
    char line[256];
    CHAR16 wide[256];
    int n = 0;
    const char *prefix = "vtdlab-boot: error: ";
    for (const char *p = prefix; *p && n < 200; p++) line[n++] = *p;
    for (const char *p = what; *p && n < 230; p++) line[n++] = *p;
    if (EFI_ERROR(status)) {
        const char *hex = "0123456789abcdef";
        for (const char *p = " (EFI status 0x"; *p; p++) line[n++] = *p;
        for (int sh = 60; sh >= 0; sh -= 4) line[n++] = hex[(status >> sh) & 0xf];
        line[n++] = ')';
    }
    line[n++] = '\r';
    line[n++] = '\n';
    line[n] = 0;
    com1_puts(line);
    for (int i = 0; i <= n; i++) wide[i] = (CHAR16)line[i];
    uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, wide);
    uefi_call_wrapper(BS->Stall, 1, ERROR_PAUSE_US);
}

static EFI_STATUS read_file(EFI_FILE_HANDLE root, CHAR16 *path, void **data, UINTN *size)
{
    EFI_FILE_HANDLE f;
    EFI_STATUS st = uefi_call_wrapper(root->Open, 5, root, &f, path, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st))
        return st;
    EFI_FILE_INFO *info = LibFileInfo(f);
    if (!info) {
        uefi_call_wrapper(f->Close, 1, f);
        return EFI_DEVICE_ERROR;
    }
    *size = info->FileSize;
    FreePool(info);
    st = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, *size + 1, data);
    if (!EFI_ERROR(st)) {
        UINTN got = *size;
        st = uefi_call_wrapper(f->Read, 3, f, &got, *data);
        if (!EFI_ERROR(st) && got != *size)
            st = EFI_END_OF_FILE;
        ((char *)*data)[*size] = 0;
    }
    uefi_call_wrapper(f->Close, 1, f);
    return st;
}

static void *alloc_pages(UINTN pages, EFI_STATUS *st)
{
    EFI_PHYSICAL_ADDRESS pa = 0;
    *st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, pages, &pa);
    if (EFI_ERROR(*st))
        return NULL;
    SetMem((void *)pa, pages * PAGE_SIZE, 0);
    return (void *)pa;
}

/* Start-up IPIs start a CPU in the first megabyte: the kernel's AP
 * trampoline needs pages there, taken out of the map before the kernel
 * sees it. Without them the kernel runs on the boot CPU alone. */
static void reserve_trampoline(struct boot_info *bi)
{
    EFI_PHYSICAL_ADDRESS pa = BOOT_TRAMPOLINE_LIMIT;
    EFI_STATUS st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress, EfiLoaderData,
                                      BOOT_TRAMPOLINE_PAGES, &pa);
    if (EFI_ERROR(st)) {
        com1_puts("vtdlab-boot: warning: no pages below 1 MiB for the AP start-up code; one CPU only\r\n");
        return;
    }
    bi->trampoline_phys = pa;
    bi->trampoline_pages = BOOT_TRAMPOLINE_PAGES;
}

static UINT64 elf_span(const UINT8 *img)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
    UINT64 end = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz - KERNEL_VMA_BASE > end)
            end = ph[i].p_vaddr + ph[i].p_memsz - KERNEL_VMA_BASE;
    return (end + LARGE_PAGE_SIZE - 1) & ~(LARGE_PAGE_SIZE - 1);
}

/* Copies .symtab and its string table into loader data so the kernel can
 * symbolise backtraces. Missing symbols are not an error. */
static void elf_copy_symbols(const UINT8 *img, UINTN size, struct boot_info *bi)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !elf_range_ok(eh->e_shoff, (UINT64)eh->e_shnum * sizeof(Elf64_Shdr), size))
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (!elf_range_ok(sh[i].sh_offset, sh[i].sh_size, size) || !elf_range_ok(str->sh_offset, str->sh_size, size))
            return;
        EFI_STATUS st;
        UINT8 *sym = alloc_pages((sh[i].sh_size + PAGE_SIZE - 1) / PAGE_SIZE, &st);
        UINT8 *strs = alloc_pages((str->sh_size + PAGE_SIZE - 1) / PAGE_SIZE, &st);
        if (!sym || !strs)
            return;
        CopyMem(sym, img + sh[i].sh_offset, sh[i].sh_size);
        CopyMem(strs, img + str->sh_offset, str->sh_size);
        bi->symtab_phys = (UINT64)sym;
        bi->symtab_size = sh[i].sh_size;
        bi->strtab_phys = (UINT64)strs;
        bi->strtab_size = str->sh_size;
        return;
    }
}

static UINT64 config_table(EFI_GUID guid)
{
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++)
        if (!CompareGuid(&ST->ConfigurationTable[i].VendorGuid, &guid))
            return (UINT64)ST->ConfigurationTable[i].VendorTable;
    return 0;
}

/* The firmware tables the kernel reads: ACPI, and SMBIOS to name the
 * machine (the 64-bit 3.0 entry point where the firmware has one). */
static void find_firmware_tables(struct boot_info *bi)
{
    bi->rsdp_phys = config_table((EFI_GUID)ACPI_20_TABLE_GUID);
    bi->smbios_phys = config_table((EFI_GUID)SMBIOS3_TABLE_GUID);
    if (!bi->smbios_phys)
        bi->smbios_phys = config_table((EFI_GUID)SMBIOS_TABLE_GUID);
}

static void find_framebuffer(struct boot_info *bi)
{
    EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
    EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &gop_guid, NULL, (void **)&gop)) || !gop)
        return;
    bi->fb.base = gop->Mode->FrameBufferBase;
    bi->fb.size = gop->Mode->FrameBufferSize;
    bi->fb.width = gop->Mode->Info->HorizontalResolution;
    bi->fb.height = gop->Mode->Info->VerticalResolution;
    bi->fb.pixels_per_line = gop->Mode->Info->PixelsPerScanLine;
    bi->fb.format = gop->Mode->Info->PixelFormat;
}

/* Temporary table: low half copied from the firmware's (identity map, so
 * this code keeps running), top slot mapping the kernel with 2 MiB pages. */
static UINT64 build_boot_page_table(UINT64 phys_base, UINT64 span, EFI_STATUS *st)
{
    UINT64 *pml4 = alloc_pages(1, st), *pdpt = alloc_pages(1, st), *pd = alloc_pages(1, st);
    if (!pml4 || !pdpt || !pd)
        return 0;
    UINT64 cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    const UINT64 *fw_pml4 = (const UINT64 *)(cr3 & PTE_ADDR);
    for (int i = 0; i < 256; i++)
        pml4[i] = fw_pml4[i];
    const int pml4_index = (KERNEL_VMA_BASE >> 39) & 511, pdpt_index = (KERNEL_VMA_BASE >> 30) & 511;
    pml4[pml4_index] = (UINT64)pdpt | PTE_P | PTE_RW;
    pdpt[pdpt_index] = (UINT64)pd | PTE_P | PTE_RW;
    for (UINT64 off = 0; off < span; off += LARGE_PAGE_SIZE)
        pd[off / LARGE_PAGE_SIZE] = (phys_base + off) | PTE_P | PTE_RW | PTE_PS;
    return (UINT64)pml4;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    EFI_STATUS st;
    InitializeLib(image, systab);

    EFI_LOADED_IMAGE *li = NULL;
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &li_guid, (void **)&li);
    if (EFI_ERROR(st)) { fail("no loaded-image protocol", st); return st; }
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (!root) { fail("cannot open the boot volume", EFI_NOT_FOUND); return EFI_NOT_FOUND; }

    UINT8 *elf;
    UINTN elf_size;
    st = read_file(root, KERNEL_PATH, (void **)&elf, &elf_size);
    if (EFI_ERROR(st)) { fail("cannot read \\vtdlab\\kernel.elf", st); return st; }
    const char *why = elf_check(elf, elf_size);
    if (why) { fail(why, EFI_LOAD_ERROR); return EFI_LOAD_ERROR; }

    struct boot_info *bi = alloc_pages((sizeof(*bi) + PAGE_SIZE - 1) / PAGE_SIZE, &st);
    if (!bi) { fail("out of memory for boot_info", st); return st; }
    bi->magic = BOOT_INFO_MAGIC;

    char *cmd;
    UINTN cmd_size;
    if (!EFI_ERROR(read_file(root, CMDLINE_PATH, (void **)&cmd, &cmd_size))) {
        if (cmd_size >= BOOT_CMDLINE_MAX) { fail("\\vtdlab\\cmdline is longer than 1023 bytes", EFI_BAD_BUFFER_SIZE); return EFI_BAD_BUFFER_SIZE; }
        for (UINTN i = 0; i < cmd_size; i++)
            bi->cmdline[i] = (cmd[i] == '\n' || cmd[i] == '\r') ? ' ' : cmd[i];
    }

    UINT64 span = elf_span(elf);
    UINT8 *block = alloc_pages((span + KERNEL_PHYS_ALIGN) / PAGE_SIZE, &st);
    if (!block) { fail("out of memory for the kernel image", st); return st; }
    UINT64 phys_base = ((UINT64)block + KERNEL_PHYS_ALIGN - 1) & ~(KERNEL_PHYS_ALIGN - 1);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD)
            CopyMem((void *)(phys_base + ph[i].p_vaddr - KERNEL_VMA_BASE), elf + ph[i].p_offset, ph[i].p_filesz);
    bi->kernel_phys_base = phys_base;
    bi->kernel_span = span;
    elf_copy_symbols(elf, elf_size, bi);
    find_firmware_tables(bi);
    reserve_trampoline(bi);
    find_framebuffer(bi);

    UINT64 cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    if (cr4 & CR4_LA57) { fail("firmware runs with 5-level paging; not supported", EFI_UNSUPPORTED); return EFI_UNSUPPORTED; }
    UINT64 pml4 = build_boot_page_table(phys_base, span, &st);
    if (!pml4) { fail("out of memory for the boot page table", st); return st; }

    /* The map buffer gets slack for the descriptors its own allocation and
     * ExitBootServices' retries may add. */
    UINTN map_size = 0, map_key, desc_size;
    UINT32 desc_version;
    uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, NULL, &map_key, &desc_size, &desc_version);
    map_size += 16 * desc_size;
    UINTN map_cap = map_size;
    void *map = alloc_pages((map_cap + PAGE_SIZE - 1) / PAGE_SIZE, &st);
    if (!map) { fail("out of memory for the memory map", st); return st; }
    for (int tries = 0;; tries++) {
        map_size = map_cap;
        st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, map, &map_key, &desc_size, &desc_version);
        if (EFI_ERROR(st)) { fail("GetMemoryMap failed", st); return st; }
        st = uefi_call_wrapper(BS->ExitBootServices, 2, image, map_key);
        if (!EFI_ERROR(st))
            break;
        /* EFI_INVALID_PARAMETER: the map changed under us; fetch it again.
         * No console output from here on: boot services may be half gone. */
        if (tries == 8)
            return st;
    }
    bi->mmap_phys = (UINT64)map;
    bi->mmap_size = map_size;
    bi->mmap_desc_size = desc_size;

    UINT64 entry = eh->e_entry;
    __asm__ volatile("cli\n\t"
                     "mov %0, %%cr3\n\t"
                     "mov %1, %%rdi\n\t"
                     "jmp *%2"
                     : : "r"(pml4), "r"((UINT64)bi), "r"(entry) : "rdi", "memory");
    __builtin_unreachable();
}
