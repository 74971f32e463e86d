/* The C side of the non-local jump (lib/jmp.asm does the jump). */
#include "jmp.h"
#include "../kernel/san/kasan.h"

void ctx_jump(const struct jmp_ctx *ctx, int value) __attribute__((noreturn));

void ctx_restore(const struct jmp_ctx *ctx, int value)
{
    /* The frames below the one it lands in are abandoned: a KASAN build
     * clears their redzones, or the next frames there would trip on them. */
    kasan_unpoison_stack_below(ctx->rsp);
    ctx_jump(ctx, value);
}
