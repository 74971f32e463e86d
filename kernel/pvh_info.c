#include "pvh_info.h"

#define PAGE 4096ull

static uint64_t round_down(uint64_t v) { return v & ~(PAGE - 1); }
static uint64_t round_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

static uint32_t efi_type(uint32_t e820)
{
    switch (e820) {
    case E820_RAM: return EFI_CONVENTIONAL_MEMORY;
    case E820_ACPI: return EFI_ACPI_RECLAIM_MEMORY;
    case E820_NVS: return EFI_ACPI_MEMORY_NVS;
    case E820_UNUSABLE: return EFI_UNUSABLE_MEMORY;
    case E820_PMEM: return EFI_PERSISTENT_MEMORY;
    default: return EFI_RESERVED;
    }
}

static int put(struct efi_mmap_desc *out, unsigned max, unsigned *n, uint32_t type, uint64_t start, uint64_t end)
{
    if (end <= start)
        return 0;
    if (*n == max)
        return -1;
    out[(*n)++] = (struct efi_mmap_desc){ .type = type, .phys_start = start, .pages = (end - start) / PAGE };
    return 0;
}

int pvh_memory_map(const struct hvm_memmap_entry *e820, unsigned n, const struct pvh_owned *owned,
                   unsigned nowned, struct efi_mmap_desc *out, unsigned max)
{
    unsigned count = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct hvm_memmap_entry *e = &e820[i];
        if (e->size == 0 || e->addr + e->size < e->addr)
            continue;
        if (e->type != E820_RAM) {
            if (put(out, max, &count, efi_type(e->type), round_down(e->addr), round_up(e->addr + e->size)))
                return -1;
            continue;
        }
        /* RAM: walk it from the bottom, cutting out the lowest owned range
         * left in it each time. */
        uint64_t at = round_up(e->addr), end = round_down(e->addr + e->size);
        while (at < end) {
            const struct pvh_owned *next = NULL;
            for (unsigned k = 0; k < nowned; k++)
                if (owned[k].end > at && owned[k].start < end && (!next || owned[k].start < next->start))
                    next = &owned[k];
            if (!next)
                break;
            uint64_t cut_start = next->start > at ? next->start : at;
            uint64_t cut_end = next->end < end ? next->end : end;
            if (put(out, max, &count, EFI_CONVENTIONAL_MEMORY, at, cut_start) ||
                put(out, max, &count, EFI_LOADER_DATA, cut_start, cut_end))
                return -1;
            at = cut_end;
        }
        if (put(out, max, &count, EFI_CONVENTIONAL_MEMORY, at, end))
            return -1;
    }
    return (int)count;
}

/* ELF64 layouts (System V gABI), only what is read here. */
struct elf64_ehdr_part {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};
_Static_assert(sizeof(struct elf64_ehdr_part) == 64, "Elf64_Ehdr");
_Static_assert(sizeof(struct elf64_shdr) == 64, "Elf64_Shdr");
#define ELF_MAGIC "\177ELF"
#define ELFCLASS64 2
#define SHT_SYMTAB 2

static int within(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

int pvh_find_symtab(const uint8_t *elf, uint64_t size, uint64_t *sym_off, uint64_t *sym_size,
                    uint64_t *str_off, uint64_t *str_size)
{
    const struct elf64_ehdr_part *eh = (const struct elf64_ehdr_part *)elf;
    if (size < sizeof(*eh) || eh->ident[0] != ELF_MAGIC[0] || eh->ident[1] != ELF_MAGIC[1] ||
        eh->ident[2] != ELF_MAGIC[2] || eh->ident[3] != ELF_MAGIC[3] || eh->ident[4] != ELFCLASS64 ||
        eh->shentsize != sizeof(struct elf64_shdr) ||
        !within(eh->shoff, (uint64_t)eh->shnum * sizeof(struct elf64_shdr), size))
        return -1;
    const struct elf64_shdr *sh = (const struct elf64_shdr *)(elf + eh->shoff);
    for (unsigned i = 0; i < eh->shnum; i++) {
        if (sh[i].type != SHT_SYMTAB || sh[i].link >= eh->shnum)
            continue;
        const struct elf64_shdr *st = &sh[sh[i].link];
        if (!within(sh[i].offset, sh[i].size, size) || !within(st->offset, st->size, size))
            return -1;
        *sym_off = sh[i].offset;
        *sym_size = sh[i].size;
        *str_off = st->offset;
        *str_size = st->size;
        return 0;
    }
    return -1;
}

uint64_t pvh_trampoline(const struct hvm_memmap_entry *e820, unsigned n, const struct pvh_owned *owned,
                        unsigned nowned)
{
    const uint64_t need = BOOT_TRAMPOLINE_PAGES * PAGE, limit = (BOOT_TRAMPOLINE_LIMIT + 1) & ~(PAGE - 1);
    uint64_t best = 0;
    for (unsigned i = 0; i < n; i++) {
        if (e820[i].type != E820_RAM)
            continue;
        uint64_t lo = round_up(e820[i].addr), hi = round_down(e820[i].addr + e820[i].size);
        if (lo < PAGE)
            lo = PAGE;
        if (hi > limit)
            hi = limit;
        /* From the top of this entry down, below every owned range in the way. */
        for (uint64_t at = hi; at >= lo + need && at - need > best;) {
            uint64_t start = at - need, clash = 0;
            for (unsigned k = 0; k < nowned; k++)
                if (owned[k].start < at && owned[k].end > start && owned[k].start >= clash)
                    clash = owned[k].start + 1;
            if (!clash) {
                best = start;
                break;
            }
            at = round_down(clash - 1);
        }
    }
    return best;
}
