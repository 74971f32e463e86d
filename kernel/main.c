#include <stdint.h>
#include "../boot/boot_info.h"
#include "../devices/pci.h"
#include "../harness/harness.h"
#include "../harness/summary.h"
#include "../iommu/iommu.h"
#include "../iommu/unit.h"
#include "../mm/mm.h"
#include "../mm/reclaim.h"
#include "acpi.h"
#include "acpi_tables.h"
#include "apic.h"
#include "clock.h"
#include "cmdline.h"
#include "exit.h"
#include "fbcon.h"
#include "gdt.h"
#include "ap_start.h"
#include "smp.h"
#include "printk.h"
#include "pvh_info.h"
#include "serial.h"
#include "../shell/shell.h"
#include "smbios.h"
#include "symbols.h"
#include "traps.h"

#define TIMER_HZ       100
#define MIB            (1ul << 20)
#define CMDLINE_ERR_MAX 192

static void timer_tick(struct trap_frame *f) { harness_tick(); }

/* What the machine calls itself (SMBIOS) and its ACPI OEM ids: the first
 * line of a hardware report (tools/vtdlab parse --report hw). */
static void report_machine(const struct boot_info *bi)
{
    struct smbios_system sys = { 0 };
    struct smbios_entry e;
    const char *why = "the firmware gave no SMBIOS entry point";
    const uint8_t *ep = bi->smbios_phys ? phys_map_cached(bi->smbios_phys, SMBIOS_EP_MAX) : NULL;
    if (ep && !smbios_entry_parse(ep, SMBIOS_EP_MAX, &e, &why)) {
        const uint8_t *table = e.table_len ? phys_map_cached(e.table, e.table_len) : NULL;
        why = !table ? "the SMBIOS structure table could not be mapped"
              : smbios_system(table, e.table_len, &sys) ? "the SMBIOS structure table is malformed" : NULL;
    }
    if (why)
        printk("# vtdlab: machine: unnamed (%s)\n", why);
    else
        printk("# vtdlab: machine: %s %s; firmware %s %s (SMBIOS %u.%u)\n", sys.manufacturer, sys.product,
               sys.bios_vendor, sys.bios_version, e.major, e.minor);
    const struct acpi_header *fadt = acpi_find("FACP");
    if (fadt)
        printk("# vtdlab: ACPI OEM: %.6s %.8s revision 0x%x\n", fadt->oem_id, fadt->oem_table_id,
               fadt->oem_revision);
}

static void report_platform(const struct boot_info *bi, const char *acpi_problem)
{
    const struct mm_info *mi = mm_info();
    printk("# vtdlab: memory: %lu MiB RAM in %lu map entries, %lu MiB free, kernel at 0x%lx\n",
           mi->ram_bytes / MIB, mi->map_entries, mi->usable_at_boot / MIB, bi->kernel_phys_base);
    if (acpi_problem) {
        printk("# vtdlab: ACPI: %s\n", acpi_problem);
    } else {
        printk("# vtdlab: ACPI tables:");
        for (unsigned i = 0; i < acpi_table_count(); i++) {
            const struct acpi_table_ref *t = acpi_table(i);
            printk(" %s%s", t->signature[0] ? t->signature : "????", t->problem ? "(rejected)" : "");
        }
        printk("\n");
    }
    printk("# vtdlab: platform: %s\n", platform_name(platform_kind()));
    report_machine(bi);
    printk("# vtdlab: clock: TSC %lu kHz, calibrated against the %s\n", clock_tsc_hz() / 1000,
           clock_source_name(clock_source()));
}

#define UART_REGISTERS_SIZE 0x1000   /* one page maps any 16550's eight registers */
#define GAS_ACCESS_DWORD 3
#define BITS_PER_BYTE 8

/* What needs the memory map and ACPI: an MMIO UART from the cmdline, or
 * without console= the port the firmware's SPCR names. NULL, or why the
 * SPCR's port is not used (the console stays COM1). */
static const char *console_from_mmio_or_spcr(const struct cmdline *cmd)
{
    if (cmd->console == CONSOLE_MMIO) {
        volatile void *regs = mmio_map(cmd->console_addr, UART_REGISTERS_SIZE);
        if (!regs)
            return "cannot map the cmdline's MMIO UART";
        /* MMIO 16550s on x86 space their registers 32 bits apart */
        serial_use(&(struct serial_port){ SERIAL_MMIO, cmd->console_addr, 4, 4, SERIAL_DEFAULT_BAUD, "the cmdline" },
                   regs);
        return NULL;
    }
    if (cmd->console != CONSOLE_FIRMWARE)
        return NULL;
    const struct acpi_header *h = acpi_find("SPCR");
    if (!h)
        return NULL;
    struct spcr_info sp;
    const char *why = acpi_spcr_parse(h, &sp);
    if (why)
        return why;
    struct serial_port p = { .addr = sp.address, .baud = sp.baud, .source = "the ACPI SPCR" };
    if (sp.space == GAS_SYSTEM_IO) {
        p.kind = SERIAL_IO;
        serial_use(&p, NULL);
        return NULL;
    }
    volatile void *regs = mmio_map(sp.address, UART_REGISTERS_SIZE);
    if (!regs)
        return "cannot map the SPCR's MMIO UART";
    p.kind = SERIAL_MMIO;
    p.access = sp.access_size == GAS_ACCESS_DWORD ? 4 : 1;
    p.stride = sp.bit_width >= 32 ? sp.bit_width / BITS_PER_BYTE : 1;
    serial_use(&p, regs);
    return NULL;
}

static void report_console(const char *problem)
{
    const struct serial_port *p = serial_port();
    if (p->kind == SERIAL_OFF)
        printk("# vtdlab: console: serial off (%s); the framebuffer console only\n", p->source);
    else if (p->baud)
        printk("# vtdlab: console: %s 0x%lx at %u baud (%s)\n", p->kind == SERIAL_IO ? "I/O port" : "MMIO UART at",
               p->addr, p->baud, p->source ? p->source : "the default, COM1");
    else
        printk("# vtdlab: console: %s 0x%lx at the firmware's baud rate (%s)\n",
               p->kind == SERIAL_IO ? "I/O port" : "MMIO UART at", p->addr, p->source);
    if (problem)
        printk("# vtdlab: console: the SPCR's port is not used: %s\n", problem);
}

/* handoff: the UEFI loader's struct boot_info, or QEMU's PVH start_info
 * (kernel/pvh.asm), both by physical address on an identity map. */
/* linker.ld: what the compiler asked to run before main (a sanitized
 * build's module constructors; none in the normal kernel). */
extern void (*const __init_array_start[])(void), (*const __init_array_end[])(void);

static void run_constructors(void)
{
    for (void (*const *c)(void) = __init_array_start; c < __init_array_end; c++)
        (*c)();
}

void kmain(void *handoff)
{
    serial_init();
    gdt_init();
    smp_init_bsp(); /* before anything takes a lock or prints */
    run_constructors();
    idt_init();
    struct boot_info *bi_phys = pvh_is_start_info(handoff) ? pvh_boot_info(handoff) : handoff;
    if (bi_phys->magic != BOOT_INFO_MAGIC)
        panic("boot_info at %p has a bad magic: the loader and kernel do not match", (void *)bi_phys);

    struct cmdline cmd;
    char err[CMDLINE_ERR_MAX];
    if (cmdline_parse(bi_phys->cmdline, &cmd, err, sizeof(err))) {
        printk("# vtdlab: cmdline error: %s\n", err);
        machine_exit(EXIT_BAD_CMDLINE);
    }

    if (cmd.console == CONSOLE_IO)
        serial_use(&(struct serial_port){ SERIAL_IO, cmd.console_addr, 1, 1, SERIAL_DEFAULT_BAUD, "the cmdline" },
                   NULL);
    else if (cmd.console == CONSOLE_GOP || cmd.console == CONSOLE_NONE)
        serial_use(&(struct serial_port){ .kind = SERIAL_OFF, .source = "the cmdline" }, NULL);

    struct boot_info *bi = mm_init(bi_phys);
    fbcon_init(&bi->fb);
    symbols_init(bi->symtab_phys ? phys_to_virt(bi->symtab_phys) : NULL, bi->symtab_size,
                 bi->strtab_phys ? phys_to_virt(bi->strtab_phys) : NULL, bi->strtab_size);

    const char *acpi_problem = acpi_init(bi->rsdp_phys);
    const char *console_problem = console_from_mmio_or_spcr(&cmd);
    harness_begin(&cmd);
    printk("# vtdlab: cmdline: %s\n", bi->cmdline);
    report_console(console_problem);
    clock_init();
    apic_init();
    apic_timer_start(TIMER_HZ, timer_tick);
    report_platform(bi, acpi_problem);
    unsigned ncpu = smp_start_aps(bi, (unsigned)cmd.cpus, (unsigned)cmd.inject);
    printk("# vtdlab: smp: %u of %u listed CPUs online, %s, APs started in %lu us\n", ncpu, smp_listed_count(),
           apic_x2apic() ? "x2APIC" : "xAPIC", smp_bringup_us());
    int npci = pci_init();
    if (npci < 0)
        printk("# vtdlab: PCI: no MCFG, so no ECAM: PCI devices are not enumerated\n");
    else
        printk("# vtdlab: PCI: %d functions\n", npci);
    iommu_init();
    _Static_assert((int)RECLAIM_CHOICE_RCU == (int)RECLAIM_RCU &&
                   (int)RECLAIM_CHOICE_ASYNC_PERCPU == (int)RECLAIM_ASYNC_PERCPU &&
                   (int)RECLAIM_FLUSH_CHOICE_ALL == (int)RECLAIM_FLUSH_ALL, "the cmdline's reclaim choices are mm's enums");
    reclaim_set_policy((enum reclaim_policy)cmd.reclaim);
    reclaim_set_flush_mode((enum reclaim_flush)cmd.reclaim_flush);
    printk("# vtdlab: page-table reclaim policy: %s, deferred batches flush %s\n",
           reclaim_policy_name(reclaim_get_policy()), reclaim_flush_name(reclaim_get_flush_mode()));
    if (cmd.trace & TRACE_MMIO) {
        vtd_mmio_trace_enable(1);
        harness_set_failure_dump(vtd_mmio_trace_dump);
        panic_set_dump(vtd_mmio_trace_dump);
    }

    harness_run(&cmd);
    summary_show();
    if (cmd.screen_hold_ms && fbcon_active()) {
        printk("# " SCREEN_SUMMARY_MARK ", held %lu ms\n", cmd.screen_hold_ms);
        udelay(cmd.screen_hold_ms * US_PER_MS);
    }
    shell_after_run(&cmd);
    machine_exit(EXIT_DONE);
}
