#include <stdint.h>
#include "../boot/boot_info.h"
#include "exit.h"
#include "gdt.h"
#include "printk.h"
#include "serial.h"
#include "symbols.h"
#include "traps.h"

void kmain(struct boot_info *bi)
{
    serial_init();
    gdt_init();
    idt_init();
    symbols_init((void *)bi->symtab_phys, bi->symtab_size, (const char *)bi->strtab_phys, bi->strtab_size);
    printk("KTAP version 1\n1..0\n# cmdline: %s\n", bi->cmdline);
    machine_exit(EXIT_DONE);
}
