/* kernel.elf's checks (elf_check.h): the ELF header of an x86-64
 * executable, program headers and PT_LOAD segments inside the file, and
 * everything the loader maps inside the kernel window. */
#include <elf.h>
#include <stddef.h>

#include "boot_info.h"
#include "elf_check.h"

const char *elf_check(const uint8_t *img, uint64_t size)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    if (size < sizeof(*eh) || eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 ||
        eh->e_ident[EI_MAG2] != ELFMAG2 || eh->e_ident[EI_MAG3] != ELFMAG3)
        return "kernel.elf is not an ELF file";
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
        return "kernel.elf is not an x86-64 executable";
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
        !elf_range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
        return "kernel.elf program headers are truncated";
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (!elf_range_ok(ph[i].p_offset, ph[i].p_filesz, size) || ph[i].p_filesz > ph[i].p_memsz)
            return "kernel.elf segment lies outside the file";
        if (ph[i].p_vaddr < KERNEL_VMA_BASE || ph[i].p_memsz > KERNEL_MAX_SPAN ||
            ph[i].p_vaddr - KERNEL_VMA_BASE > KERNEL_MAX_SPAN - ph[i].p_memsz)
            return "kernel.elf segment lies outside the kernel window";
    }
    if (eh->e_entry < KERNEL_VMA_BASE || eh->e_entry - KERNEL_VMA_BASE >= KERNEL_MAX_SPAN)
        return "kernel.elf entry point lies outside the kernel window";
    return NULL;
}
