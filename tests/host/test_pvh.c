/* The PVH direct boot's conversion of QEMU's start_info (kernel/pvh_info.c):
 * E820 maps as SeaBIOS reports them for q35 with 256 MiB, owned ranges cut
 * out of RAM, the trampoline's place, and kernel.elf's symbol table. */
#include "host.h"
#include "kernel/pvh_info.h"

#define MIB (1ull << 20)

/* SeaBIOS's map for q35 -m 256M, as QEMU's pvh.bin passes it on. */
static const struct hvm_memmap_entry q35_256m[] = {
    { 0x0000000000000000, 0x000000000009fc00, E820_RAM, 0 },
    { 0x000000000009fc00, 0x0000000000000400, E820_RESERVED, 0 },
    { 0x00000000000f0000, 0x0000000000010000, E820_RESERVED, 0 },
    { 0x0000000000100000, 0x000000000fee0000, E820_RAM, 0 },
    { 0x000000000ffe0000, 0x0000000000020000, E820_RESERVED, 0 },
    { 0x00000000b0000000, 0x0000000010000000, E820_RESERVED, 0 },
    { 0x00000000fed1c000, 0x0000000000004000, E820_RESERVED, 0 },
    { 0x00000000feffc000, 0x0000000000004000, E820_RESERVED, 0 },
    { 0x00000000fffc0000, 0x0000000000040000, E820_RESERVED, 0 },
};
#define Q35_N ARRAY_SIZE(q35_256m)

static uint64_t pages_of(const struct efi_mmap_desc *d, int n, uint32_t type)
{
    uint64_t p = 0;
    for (int i = 0; i < n; i++)
        if (d[i].type == type)
            p += d[i].pages;
    return p;
}

static void ram_is_split_around_what_the_kernel_owns(void **state)
{
    const struct pvh_owned owned[] = {
        { 16 * MIB, 18 * MIB },                 /* the kernel image */
        { 0xfe00000, 0xff00000 },               /* kernel.elf as module 0, near the top */
        { 0x9b000, 0x9f000 },                   /* the trampoline */
    };
    struct efi_mmap_desc out[32];
    int n = pvh_memory_map(q35_256m, Q35_N, owned, ARRAY_SIZE(owned), out, ARRAY_SIZE(out));
    assert_int_equal(n, 14);
    /* low RAM: up to the trampoline, the trampoline, after it up to 0x9f000 */
    assert_int_equal(out[0].type, EFI_CONVENTIONAL_MEMORY);
    assert_int_equal(out[0].phys_start, 0);
    assert_int_equal(out[0].pages, 0x9b);
    assert_int_equal(out[1].type, EFI_LOADER_DATA);
    assert_int_equal(out[1].phys_start, 0x9b000);
    assert_int_equal(out[1].pages, 4);
    /* 0x9fc00 is not page aligned: RAM rounded in, so nothing after it */
    assert_int_equal(out[2].type, EFI_RESERVED);
    assert_int_equal(out[2].phys_start, 0x9f000);
    assert_int_equal(out[2].pages, 1);
    /* high RAM: 1 MiB .. kernel, kernel, .. module, module, .. the end */
    assert_int_equal(out[4].phys_start, MIB);
    assert_int_equal(out[4].pages, 15 * MIB / 4096);
    assert_int_equal(out[5].type, EFI_LOADER_DATA);
    assert_int_equal(out[5].phys_start, 16 * MIB);
    assert_int_equal(out[7].type, EFI_LOADER_DATA);
    assert_int_equal(out[7].phys_start, 0xfe00000);
    assert_int_equal(out[8].type, EFI_CONVENTIONAL_MEMORY);
    assert_int_equal(out[8].phys_start, 0xff00000);
    assert_int_equal(out[8].pages, 0xe0);
    /* nothing lost or made up: RAM pages in = conventional + loader data out */
    uint64_t ram = 0x9f + 0xfee0;
    assert_int_equal(pages_of(out, n, EFI_CONVENTIONAL_MEMORY) + pages_of(out, n, EFI_LOADER_DATA), ram);
    assert_int_equal(pages_of(out, n, EFI_LOADER_DATA), 512 + 256 + 4);
    /* the MMCONFIG window stays reserved */
    assert_int_equal(out[10].phys_start, 0xb0000000);
    assert_int_equal(out[10].type, EFI_RESERVED);
}

static void other_types_get_their_uefi_counterparts(void **state)
{
    const struct hvm_memmap_entry e[] = {
        { 0x1000, 0x1000, E820_ACPI, 0 }, { 0x2000, 0x1000, E820_NVS, 0 },
        { 0x3000, 0x1000, E820_UNUSABLE, 0 }, { 0x4000, 0x1000, E820_PMEM, 0 }, { 0x5000, 0x1000, 12, 0 },
        { 0x6000, 0, E820_RAM, 0 }, /* empty: dropped */
    };
    struct efi_mmap_desc out[8];
    assert_int_equal(pvh_memory_map(e, ARRAY_SIZE(e), NULL, 0, out, ARRAY_SIZE(out)), 5);
    assert_int_equal(out[0].type, EFI_ACPI_RECLAIM_MEMORY);
    assert_int_equal(out[1].type, EFI_ACPI_MEMORY_NVS);
    assert_int_equal(out[2].type, EFI_UNUSABLE_MEMORY);
    assert_int_equal(out[3].type, EFI_PERSISTENT_MEMORY);
    assert_int_equal(out[4].type, EFI_RESERVED);
}

static void a_map_too_long_is_refused(void **state)
{
    struct efi_mmap_desc out[4];
    assert_int_equal(pvh_memory_map(q35_256m, Q35_N, NULL, 0, out, ARRAY_SIZE(out)), -1);
}

static void the_trampoline_goes_high_in_low_memory_around_owned_ranges(void **state)
{
    assert_int_equal(pvh_trampoline(q35_256m, Q35_N, NULL, 0), 0x9f000 - 4 * 4096);
    /* something owned at the top of low RAM: just below it */
    const struct pvh_owned top = { 0x9d000, 0x9e000 };
    assert_int_equal(pvh_trampoline(q35_256m, Q35_N, &top, 1), 0x9d000 - 4 * 4096);
    /* no low RAM at all: none */
    assert_int_equal(pvh_trampoline(&q35_256m[3], 1, NULL, 0), 0);
    /* never page 0: RAM of 4 pages from 0 leaves too little */
    const struct hvm_memmap_entry tiny = { 0, 4 * 4096, E820_RAM, 0 };
    assert_int_equal(pvh_trampoline(&tiny, 1, NULL, 0), 0);
}

/* An ELF64 with a section table of three: null, .symtab linked to .strtab. */
static void symtab_found_in_kernel_elf(void **state)
{
    uint8_t elf[512];
    memset(elf, 0, sizeof(elf));
    memcpy(elf, "\177ELF\002\001\001", 7);
    const uint64_t shoff = 256;
    memcpy(elf + 0x28, &shoff, 8);         /* e_shoff */
    const uint16_t shentsize = 64, shnum = 3;
    memcpy(elf + 0x3a, &shentsize, 2);
    memcpy(elf + 0x3c, &shnum, 2);
    uint8_t *sym = elf + shoff + 64, *str = elf + shoff + 128;
    const uint32_t symtab = 2, strtab = 3, link = 2;
    const uint64_t sym_off = 100, sym_size = 48, str_off = 160, str_size = 20;
    memcpy(sym + 4, &symtab, 4);
    memcpy(sym + 24, &sym_off, 8);
    memcpy(sym + 32, &sym_size, 8);
    memcpy(sym + 40, &link, 4);
    memcpy(str + 4, &strtab, 4);
    memcpy(str + 24, &str_off, 8);
    memcpy(str + 32, &str_size, 8);
    uint64_t so, ss, to, ts;
    assert_int_equal(pvh_find_symtab(elf, sizeof(elf), &so, &ss, &to, &ts), 0);
    assert_int_equal(so, 100);
    assert_int_equal(ss, 48);
    assert_int_equal(to, 160);
    assert_int_equal(ts, 20);
    /* cut short: the section table lies past the end */
    assert_int_equal(pvh_find_symtab(elf, 300, &so, &ss, &to, &ts), -1);
    /* a string table past the end */
    const uint64_t far = 4096;
    memcpy(str + 24, &far, 8);
    assert_int_equal(pvh_find_symtab(elf, sizeof(elf), &so, &ss, &to, &ts), -1);
    /* not an ELF at all */
    assert_int_equal(pvh_find_symtab((const uint8_t *)"hello, world, this is not an ELF", 32, &so, &ss, &to, &ts),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ram_is_split_around_what_the_kernel_owns),
        cmocka_unit_test(other_types_get_their_uefi_counterparts),
        cmocka_unit_test(a_map_too_long_is_refused),
        cmocka_unit_test(the_trampoline_goes_high_in_low_memory_around_owned_ranges),
        cmocka_unit_test(symtab_found_in_kernel_elf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
