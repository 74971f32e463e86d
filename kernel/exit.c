#include <string.h>
#include "exit.h"
#include "printk.h"
#include "x86.h"

/* Port of QEMU's isa-debug-exit as the profiles configure it (iobase=0xf4).
 * Only written when the hypervisor CPUID leaf says QEMU, since on hardware
 * the port may belong to something else. */
#define ISA_DEBUG_EXIT_PORT  0xf4
#define CPUID_HYPERVISOR_BIT (1u << 31)
#define CPUID_HV_LEAF        0x40000000u

/* The hypervisor vendor signature, EBX ECX EDX of leaf 0x40000000. */
static int signature_is(const uint32_t r[4], const char want[12])
{
    char got[12];
    memcpy(got, &r[1], 4);
    memcpy(got + 4, &r[2], 4);
    memcpy(got + 8, &r[3], 4);
    return !memcmp(got, want, 12);
}

enum platform platform_kind(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & CPUID_HYPERVISOR_BIT))
        return PLATFORM_BARE_METAL;
    cpuid(CPUID_HV_LEAF, 0, r);
    if (signature_is(r, "TCGTCGTCGTCG"))
        return PLATFORM_QEMU_TCG;
    if (signature_is(r, "KVMKVMKVM\0\0\0"))
        return PLATFORM_KVM;
    return PLATFORM_OTHER_HYPERVISOR;
}

const char *platform_name(enum platform p)
{
    switch (p) {
    case PLATFORM_BARE_METAL: return "bare metal";
    case PLATFORM_QEMU_TCG: return "QEMU TCG";
    case PLATFORM_KVM: return "KVM guest";
    default: return "a hypervisor guest (not QEMU's TCG or KVM)";
    }
}

int platform_is_qemu(void)
{
    enum platform p = platform_kind();
    return p == PLATFORM_QEMU_TCG || p == PLATFORM_KVM;
}

void machine_exit(enum exit_code code)
{
    printk("# vtdlab: done (exit code 0x%x)\n", code);
    if (platform_is_qemu())
        outl(ISA_DEBUG_EXIT_PORT, code);
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}
