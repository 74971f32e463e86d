/* A PVH direct boot (kernel/pvh.asm): the struct boot_info the UEFI loader
 * would have written, built from QEMU's start_info before anything else
 * reads it. Runs on pvh.asm's identity map, so physical addresses are
 * pointers, and writes only the kernel's own .bss. */
#include <string.h>
#include "pvh_info.h"
#include "printk.h"
#include "smbios.h"

/* From linker.ld: where the segments were loaded, and the image's end. */
extern char kernel_pvh_phys[], __kernel_end[];

#define PVH_MMAP_MAX 128
#define LARGE_PAGE (2ul << 20)

static struct boot_info pvh_bi;
static struct efi_mmap_desc pvh_mmap[PVH_MMAP_MAX];

static uint64_t image_phys(const void *p) { return (uint64_t)p - KERNEL_VMA_BASE + (uint64_t)kernel_pvh_phys; }
static uint64_t page_down(uint64_t v) { return v & ~0xffful; }
static uint64_t page_up(uint64_t v) { return (v + 0xfff) & ~0xffful; }

int pvh_is_start_info(const void *handoff) { return *(const uint32_t *)handoff == HVM_START_MAGIC; }

struct boot_info *pvh_boot_info(const struct hvm_start_info *si)
{
    if (si->version < HVM_START_VERSION_MEMMAP || !si->memmap_paddr || !si->memmap_entries)
        panic("PVH: start_info version %u carries no memory map", si->version);
    struct boot_info *bi = &pvh_bi;
    memset(bi, 0, sizeof(*bi));
    bi->magic = BOOT_INFO_MAGIC;
    bi->kernel_phys_base = (uint64_t)kernel_pvh_phys;
    bi->kernel_span = ((uint64_t)__kernel_end - KERNEL_VMA_BASE + LARGE_PAGE - 1) & ~(LARGE_PAGE - 1);
    bi->rsdp_phys = si->rsdp_paddr;
    /* SeaBIOS leaves the SMBIOS entry point in the BIOS area, where the
     * identity map reaches it. */
    long ep = smbios_scan((const uint8_t *)(uintptr_t)SMBIOS_SCAN_START, SMBIOS_SCAN_END - SMBIOS_SCAN_START);
    bi->smbios_phys = ep < 0 ? 0 : SMBIOS_SCAN_START + (uint64_t)ep;

    struct pvh_owned owned[PVH_OWNED_MAX];
    unsigned nowned = 0;
    owned[nowned++] = (struct pvh_owned){ bi->kernel_phys_base, bi->kernel_phys_base + bi->kernel_span };
    /* Module 0, when there is one, is kernel.elf itself (the host tool
     * passes it as -initrd): its symbol table names backtraces, as the
     * copy the UEFI loader makes does. */
    if (si->nr_modules && si->modlist_paddr) {
        const struct hvm_modlist_entry *m = (const struct hvm_modlist_entry *)si->modlist_paddr;
        uint64_t so, ss, to, ts;
        if (!pvh_find_symtab((const uint8_t *)m->paddr, m->size, &so, &ss, &to, &ts)) {
            owned[nowned++] = (struct pvh_owned){ page_down(m->paddr), page_up(m->paddr + m->size) };
            bi->symtab_phys = m->paddr + so;
            bi->symtab_size = ss;
            bi->strtab_phys = m->paddr + to;
            bi->strtab_size = ts;
        }
    }
    const struct hvm_memmap_entry *e820 = (const struct hvm_memmap_entry *)si->memmap_paddr;
    uint64_t tramp = pvh_trampoline(e820, si->memmap_entries, owned, nowned);
    if (tramp) {
        owned[nowned++] = (struct pvh_owned){ tramp, tramp + BOOT_TRAMPOLINE_PAGES * 0x1000ul };
        bi->trampoline_phys = tramp;
        bi->trampoline_pages = BOOT_TRAMPOLINE_PAGES;
    }
    int n = pvh_memory_map(e820, si->memmap_entries, owned, nowned, pvh_mmap, PVH_MMAP_MAX);
    if (n < 0)
        panic("PVH: the firmware's %u memory map entries do not fit in %u", si->memmap_entries, PVH_MMAP_MAX);
    bi->mmap_phys = image_phys(pvh_mmap);
    bi->mmap_size = (uint64_t)n * sizeof(pvh_mmap[0]);
    bi->mmap_desc_size = sizeof(pvh_mmap[0]);
    if (si->cmdline_paddr) {
        strncpy(bi->cmdline, (const char *)si->cmdline_paddr, sizeof(bi->cmdline) - 1);
        bi->cmdline[sizeof(bi->cmdline) - 1] = 0;
    }
    return (struct boot_info *)image_phys(bi);
}
