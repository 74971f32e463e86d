#ifndef VTDLAB_EXIT_H
#define VTDLAB_EXIT_H

/* Codes written to QEMU's isa-debug-exit; QEMU exits with (code << 1) | 1.
 * The host tool (tools/vtdlab) knows the same values. */
enum exit_code {
    EXIT_DONE = 0x10,        /* all selected cases ran; the log has the verdict */
    EXIT_BAD_CMDLINE = 0x11, /* the kernel refused its cmdline */
    EXIT_PANIC = 0x12,       /* the kernel could not go on */
};

/* What runs the kernel, from the CPUID hypervisor bit and vendor leaf:
 * timed figures name it, and the negative controls that rely on QEMU's
 * emulated intel-iommu caching translations expect that only where the
 * unit is QEMU's (under TCG, or under KVM with QEMU as the VMM). */
enum platform { PLATFORM_BARE_METAL, PLATFORM_QEMU_TCG, PLATFORM_KVM, PLATFORM_OTHER_HYPERVISOR };
enum platform platform_kind(void);
const char *platform_name(enum platform p);
/* QEMU's TCG or a KVM guest (QEMU's devices, isa-debug-exit among them). */
int platform_is_qemu(void);

/* Ends the run: isa-debug-exit under QEMU; on hardware, where that port is
 * not there, prints the done marker and halts. */
_Noreturn void machine_exit(enum exit_code code);

#endif
