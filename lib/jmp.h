#ifndef VTDLAB_LIB_JMP_H
#define VTDLAB_LIB_JMP_H

#include <stdint.h>

/* Callee-saved state of the x86-64 SysV ABI, laid out as lib/jmp.asm
 * expects. */
struct jmp_ctx {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};
_Static_assert(sizeof(struct jmp_ctx) == 64, "jmp_ctx layout is shared with jmp.asm");

int ctx_save(struct jmp_ctx *ctx) __attribute__((returns_twice));
/* The jump itself. The kernel jumps through ctx_restore (kernel/traps.h),
 * which also clears a KASAN build's abandoned frames first. */
_Noreturn void ctx_jump(const struct jmp_ctx *ctx, int value);

#endif
