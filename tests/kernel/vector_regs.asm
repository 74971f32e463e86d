; Helpers for boot.traps_preserve_vector_registers. Kernel C is built
; without SSE and cannot name XMM registers, so the test's register work
; lives here.

bits 64
section .text

VEC_TEST equ 0x41               ; kernel/traps.h

; void xmm_roundtrip_across_interrupt(const void *pattern, void *xmm0_out, void *xmm15_out)
; Loads the 16-byte pattern into xmm0 and xmm15, raises VEC_TEST, and
; stores what the registers hold afterwards.
global xmm_roundtrip_across_interrupt
xmm_roundtrip_across_interrupt:
    movdqu xmm0, [rdi]
    movdqu xmm15, [rdi]
    int VEC_TEST
    movdqu [rsi], xmm0
    movdqu [rdx], xmm15
    ret

; void xmm_clobber(void): what a handler running SSE code may leave behind.
global xmm_clobber
xmm_clobber:
    pxor xmm0, xmm0
    pxor xmm15, xmm15
    ret
