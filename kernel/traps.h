#ifndef VTDLAB_TRAPS_H
#define VTDLAB_TRAPS_H

#include <stddef.h>
#include <stdint.h>
#include "../lib/jmp.h"

/* What kernel/entry.asm pushes, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame matches entry.asm");

enum {
    VEC_DIVIDE = 0, VEC_DEBUG = 1, VEC_NMI = 2, VEC_BREAKPOINT = 3, VEC_INVALID_OPCODE = 6,
    VEC_DOUBLE_FAULT = 8, VEC_GP = 13, VEC_PAGE_FAULT = 14, VEC_MACHINE_CHECK = 18,
    VEC_EXCEPTIONS = 32,
    VEC_APIC_TIMER = 0x40,
    VEC_TEST = 0x41,          /* free for tests that raise a software interrupt */
    VEC_EDU = 0x42,           /* edu's MSI */
    VEC_VTD_FAULT = 0x43,     /* VT-d fault events */
    VEC_IPI_CALL = 0x44,      /* run the calls other CPUs posted (smp.h) */
    VEC_IPI_WAKE = 0x45,      /* leave the idle halt: a job or work was queued */
    VEC_IR_A = 0x46,          /* the interrupt-remapping suite's two vectors */
    VEC_IR_B = 0x47,
    VEC_SPURIOUS = 0xff,
};

/* #PF error code bits (SDM vol. 3, 4.7). */
#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)

typedef void (*irq_handler_t)(struct trap_frame *f);

void idt_init(void);
/* Loads the shared IDT on the running CPU (APs). */
void idt_load(void);
void irq_set_handler(uint8_t vector, irq_handler_t fn);

/* Called for every CPU exception before the kernel panics; a test harness
 * that has a case running abandons it from here (and does not return). */
typedef void (*exception_hook_t)(struct trap_frame *f);
void trap_set_exception_hook(exception_hook_t fn);

/* Catching an exception a test provokes on purpose: TRAP_CATCH returns 0
 * when armed and 1 when an exception came back to it, with what the CPU
 * reported filled in. Disarm once the risky access is done. */
struct trap_catch {
    struct jmp_ctx ctx;
    uint64_t vector, error, cr2, rip;
};
void trap_catch_arm(struct trap_catch *c);
void trap_catch_disarm(void);
/* Back to where ctx_save saved ctx, ctx_save returning value (non-zero).
 * The frames below the one it lands in are abandoned: a KASAN build clears
 * their redzones first, or the next frames built there would trip on them
 * (docs/sanitizers.md). */
_Noreturn void ctx_restore(const struct jmp_ctx *ctx, int value);
#define TRAP_CATCH(c) (trap_catch_arm(c), ctx_save(&(c)->ctx))

/* One line in words: "#PF page fault (not-present, write, supervisor) at
 * 0x... cr2=0x...". */
void trap_describe(const struct trap_frame *f, uint64_t cr2, char *buf, size_t size);
/* Registers and backtrace, each line behind prefix (KTAP diagnostics). */
void trap_dump(const struct trap_frame *f, const char *prefix);
void backtrace_print(uint64_t rbp);
/* The frames from rbp on, one line each behind prefix, numbered from first. */
void trap_backtrace(uint64_t rbp, const char *prefix, int first);
/* A stack outside the kernel image that backtraces may walk. */
void trap_add_stack(uint64_t lo, uint64_t hi);

#endif
