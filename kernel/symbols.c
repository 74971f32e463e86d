#include <stdint.h>
#include <string.h>
#include "symbols.h"
#include <stdio.h>

/* ELF64 symbol (System V gABI). */
struct elf64_sym {
    uint32_t name;
    uint8_t info, other;
    uint16_t shndx;
    uint64_t value, size;
};
_Static_assert(sizeof(struct elf64_sym) == 24, "Elf64_Sym");
#define STT_FUNC 2
#define ELF_ST_TYPE(i) ((i) & 0xf)

extern char __text_start[], __kernel_end[];

static const struct elf64_sym *syms;
static uint64_t nsyms;
static const char *strs;
static uint64_t strs_size;

void symbols_init(const void *symtab, uint64_t symtab_size, const char *strtab, uint64_t strtab_size)
{
    syms = symtab;
    nsyms = symtab_size / sizeof(struct elf64_sym);
    strs = strtab;
    strs_size = strtab_size;
}

int symbol_in_kernel(uint64_t addr)
{
    return addr >= (uint64_t)__text_start && addr < (uint64_t)__kernel_end;
}

void symbol_format(uint64_t addr, char *buf, size_t size)
{
    const struct elf64_sym *best = NULL;
    for (uint64_t i = 0; syms && i < nsyms; i++) {
        const struct elf64_sym *s = &syms[i];
        if (ELF_ST_TYPE(s->info) != STT_FUNC || s->value > addr || s->name >= strs_size)
            continue;
        if (!best || s->value > best->value)
            best = s;
    }
    if (best && (addr < best->value + best->size || !best->size))
        snprintf(buf, size, "%s+0x%lx (0x%lx)", strs + best->name, addr - best->value, addr);
    else
        snprintf(buf, size, "0x%lx", addr);
}
