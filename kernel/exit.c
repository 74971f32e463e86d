#include "exit.h"
#include "printk.h"
#include "x86.h"

/* Port of QEMU's isa-debug-exit as the profiles configure it (iobase=0xf4).
 * Only written when the hypervisor CPUID leaf says QEMU, since on hardware
 * the port may belong to something else. */
#define ISA_DEBUG_EXIT_PORT  0xf4
#define CPUID_HYPERVISOR_BIT (1u << 31)
#define CPUID_HV_LEAF        0x40000000u
/* First four bytes of the hypervisor vendor signature in EBX. */
#define HV_SIGNATURE_TCG     0x54474354u /* "TCGT" */
#define HV_SIGNATURE_KVM     0x4b4d564bu /* "KVMK" */

int platform_is_qemu(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & CPUID_HYPERVISOR_BIT))
        return 0;
    cpuid(CPUID_HV_LEAF, 0, r);
    return r[1] == HV_SIGNATURE_TCG || r[1] == HV_SIGNATURE_KVM;
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
