; Kernel entry and trap stubs.
;
; The loader jumps to kernel_entry with interrupts off, RDI = physical
; address of struct boot_info, and a temporary page table that maps the
; kernel window and identity-maps low memory.

bits 64
default rel

BOOT_STACK_SIZE equ 65536

PAGE_SIZE       equ 4096
CR0_MP          equ 1 << 1
CR0_EM          equ 1 << 2
CR4_OSFXSR      equ 1 << 9
CR4_OSXMMEXCPT  equ 1 << 10
FXSAVE_SIZE     equ 512

section .bss align=4096
; The page below the stack is left unmapped by mm/ (a guard page), so an
; overflow faults (and ends on the double-fault IST stack) instead of
; silently overwriting .bss.
global boot_stack_guard
boot_stack_guard: resb PAGE_SIZE
boot_stack:     resb BOOT_STACK_SIZE
global boot_stack_top
boot_stack_top:

section .text.entry
global kernel_entry
extern kmain
kernel_entry:
    lea rsp, [boot_stack_top]
    ; SSE on for picolibc (UEFI leaves it on; say so rather than rely on it):
    ; CR0.EM=0, CR0.MP=1, CR4.OSFXSR=1, CR4.OSXMMEXCPT=1.
    mov rax, cr0
    and rax, ~CR0_EM
    or rax, CR0_MP
    mov cr0, rax
    mov rax, cr4
    or rax, CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, rax
    xor ebp, ebp                ; ends the frame-pointer chain for backtraces
    call kmain
.halt:
    cli
    hlt
    jmp .halt

; Application processors arrive here from the trampoline (trampoline.asm)
; in 64-bit mode on its identity map; ap_start.c set the three ap_boot_ values
; for this one CPU before it sent the start-up IPIs.
global ap_entry64
extern ap_boot_cr3, ap_boot_stack, ap_main
ap_entry64:
    mov rax, [ap_boot_cr3]
    mov cr3, rax
    mov rsp, [ap_boot_stack]
    xor ebp, ebp
    call ap_main
.halt:
    cli
    hlt
    jmp .halt

section .text

; Vectors that push an error code (SDM vol. 3, table 6-1).
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro TRAP_STUB 1
trap_stub_%1:
%if HAS_ERROR(%1) == 0
    push 0
%endif
    push %1
    jmp trap_common
%endmacro

%assign v 0
%rep 256
TRAP_STUB v
%assign v v+1
%endrep

; Saves the general registers as struct trap_frame (kernel/traps.h), and the
; x87/SSE state below it (the interrupted code may be inside a vectorised
; picolibc routine, and handlers call picolibc too), then calls
; trap_dispatch(frame). The handler may not return (a test case that
; faulted is abandoned through longjmp).
extern trap_dispatch
trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    mov rbx, rsp
    sub rsp, FXSAVE_SIZE
    and rsp, -16
    fxsave [rsp]
    call trap_dispatch
    fxrstor [rsp]
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

section .rodata
align 8
global trap_stub_table
trap_stub_table:
%assign v 0
%rep 256
    dq trap_stub_ %+ v
%assign v v+1
%endrep

section .text
; void gdt_load(const struct gdtr *gdtr, uint16_t code, uint16_t data, uint16_t tss)
global gdt_load
gdt_load:
    lgdt [rdi]
    mov ds, dx
    mov es, dx
    mov ss, dx
    xor eax, eax
    mov fs, ax
    mov gs, ax
    ltr cx
    ; reload CS with a far return
    push rsi
    lea rax, [.reloaded]
    push rax
    retfq
.reloaded:
    ret
