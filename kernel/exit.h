#ifndef VTDLAB_EXIT_H
#define VTDLAB_EXIT_H

/* Codes written to QEMU's isa-debug-exit; QEMU exits with (code << 1) | 1.
 * The host tool (tools/vtdlab) knows the same values. */
enum exit_code {
    EXIT_DONE = 0x10,        /* all selected cases ran; the log has the verdict */
    EXIT_BAD_CMDLINE = 0x11, /* the kernel refused its cmdline */
    EXIT_PANIC = 0x12,       /* the kernel could not go on */
};

/* Whether the hypervisor CPUID leaf says QEMU (TCG or KVM). */
int platform_is_qemu(void);

/* Ends the run: isa-debug-exit under QEMU; on hardware, where that port is
 * not there, prints the done marker and halts. */
_Noreturn void machine_exit(enum exit_code code);

#endif
