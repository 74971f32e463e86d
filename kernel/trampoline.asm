; Application-processor start-up code (SDM vol. 3, 9.4 and 10.8.5).
;
; ap_start.c copies [trampoline_start, trampoline_end) to the start page the
; loader reserved below 1 MiB, fills in trampoline_params, and sends
; INIT-SIPI-SIPI with that page's number as the vector. The AP starts in
; real mode at CS = page << 8, IP = 0, and goes straight to long mode
; (PE and PG set together) on the small identity map ap_start.c builds in the
; pages after this one. The 64-bit part jumps to ap_entry64 in the kernel
; image, which switches to the kernel's own tables.
;
; This code never runs where it is linked, only from its copy: every
; address inside it is an offset from trampoline_start, and the two
; absolute ones (the GDT base, the long-mode target) are patched.

bits 16
default abs

EFER_MSR  equ 0xc0000080
KERNEL_CS equ 0x08           ; the kernel's own selectors (kernel/gdt.h)
KERNEL_DS equ 0x10

%define TR(label) ((label) - trampoline_start)

section .rodata
align 16
global trampoline_start, trampoline_params, trampoline_end
trampoline_start:
    cli
    cld
    mov ax, cs
    mov ds, ax
    o32 lgdt [TR(tp_gdtr)]      ; o32: all 32 bits of the base
    mov eax, [TR(tp_cr4)]
    mov cr4, eax
    mov eax, [TR(tp_cr3)]
    mov cr3, eax
    mov ecx, EFER_MSR
    mov eax, [TR(tp_efer)]
    xor edx, edx
    wrmsr
    mov eax, [TR(tp_cr0)]
    mov cr0, eax
    ; Now in long mode's compatibility submode on the real-mode CS: a far
    ; jump through the 64-bit code descriptor enters 64-bit mode.
    o32 jmp far [TR(tp_far)]

bits 64
trampoline_long:
    mov ax, KERNEL_DS
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rax, [rel tp_entry]
    jmp rax

; Layout shared with struct trampoline_params in ap_start.c.
align 8
trampoline_params:
tp_gdt:   dq 0, 0, 0        ; null, 64-bit code, data: as the kernel's
tp_gdtr:  dw 0              ; limit
          dd 0              ; base: physical address of tp_gdt
tp_far:   dd 0              ; physical address of trampoline_long
          dw 0              ; KERNEL_CS
tp_cr4:   dd 0
tp_cr3:   dd 0              ; the identity map, below 4 GiB
tp_efer:  dd 0
tp_cr0:   dd 0
tp_entry: dq 0              ; ap_entry64
trampoline_end:

; Where the 64-bit part starts, for the far pointer (not copied).
align 8
global trampoline_long_offset
trampoline_long_offset: dq TR(trampoline_long)
