; Non-local jumps for the test harness: a case that faults or times out is
; abandoned by jumping back to the point saved before it ran.
; struct jmp_ctx { rbx, rbp, r12, r13, r14, r15, rsp, rip }  (lib/jmp.h)

bits 64
section .text

; int ctx_save(struct jmp_ctx *ctx): returns 0 now, and the value passed to
; ctx_jump when that jumps back.
global ctx_save
ctx_save:
    mov [rdi + 0*8], rbx
    mov [rdi + 1*8], rbp
    mov [rdi + 2*8], r12
    mov [rdi + 3*8], r13
    mov [rdi + 4*8], r14
    mov [rdi + 5*8], r15
    lea rdx, [rsp + 8]          ; caller's RSP after our return
    mov [rdi + 6*8], rdx
    mov rdx, [rsp]              ; our return address
    mov [rdi + 7*8], rdx
    xor eax, eax
    ret

; void ctx_jump(const struct jmp_ctx *ctx, int value)  -- value must be non-zero
global ctx_jump
ctx_jump:
    mov rbx, [rdi + 0*8]
    mov rbp, [rdi + 1*8]
    mov r12, [rdi + 2*8]
    mov r13, [rdi + 3*8]
    mov r14, [rdi + 4*8]
    mov r15, [rdi + 5*8]
    mov rsp, [rdi + 6*8]
    mov eax, esi
    jmp [rdi + 7*8]
