#ifndef VTDLAB_SYMBOLS_H
#define VTDLAB_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* Kernel symbols from the .symtab copy the loader passed in boot_info. */
void symbols_init(const void *symtab, uint64_t symtab_size, const char *strtab, uint64_t strtab_size);
/* "name+0x1c (0xffffffff80001234)", or the bare address when unknown. */
void symbol_format(uint64_t addr, char *buf, size_t size);
/* Whether addr lies in the loaded kernel image (text, data or stacks). */
int symbol_in_kernel(uint64_t addr);

#endif
