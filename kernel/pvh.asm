; The kernel's second way in: a direct boot by QEMU (`-kernel kernel.elf`)
; through the PVH entry of Xen's x86 boot ABI, which QEMU implements for any
; ELF that carries the PHYS32_ENTRY note. It skips UEFI firmware, for fast
; development runs; the UEFI loader (boot/) stays the way on real machines.
;
; QEMU loads the segments at their physical addresses (linker.ld puts them
; at KERNEL_PVH_PHYS) and enters pvh_entry in 32-bit protected mode, paging
; off, flat segments, interrupts off, EBX = physical address of struct
; hvm_start_info. This code turns on long mode with a temporary table that
; identity-maps the low 4 GiB and maps the kernel window (what the UEFI
; loader also gives kernel_entry) and goes on at kernel_entry as the loader
; does, with the start_info in place of the boot_info (kmain has pvh.c
; build one from it).

PAGE_SHIFT      equ 12
PAGE_SIZE       equ 1 << PAGE_SHIFT
ENTRIES         equ 512
LARGE_PAGE_SHIFT equ 21
PTE_P           equ 1 << 0
PTE_RW          equ 1 << 1
PTE_PS          equ 1 << 7
TABLE           equ PTE_P | PTE_RW
LEAF_2M         equ PTE_P | PTE_RW | PTE_PS
CR0_PE          equ 1 << 0
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xc0000080
EFER_LME        equ 1 << 8
IDENTITY_GIB    equ 4           ; the low 4 GiB, MMIO included, as UEFI maps it
KERNEL_PML4     equ 511         ; KERNEL_VMA_BASE = 0xffffffff80000000
KERNEL_PDPT     equ 510
CODE64          equ 0x08
DATA            equ 0x10
; Xen's public ELF note for the 32-bit physical entry point.
XEN_ELFNOTE_PHYS32_ENTRY equ 18

; Physical addresses, from linker.ld: this code runs before paging.
extern pvh_entry_phys, pvh_tables_phys, pvh_gdt_phys, pvh_gdtr_phys, pvh_long_phys, kernel_pvh_phys
extern kernel_entry

; The temporary tables, one page each: PML4, the identity PDPT and its
; IDENTITY_GIB PDs, the kernel window's PDPT and PD.
T_PML4          equ 0
T_ID_PDPT       equ 1
T_ID_PD         equ 2
T_K_PDPT        equ T_ID_PD + IDENTITY_GIB
T_K_PD          equ T_K_PDPT + 1
T_PAGES         equ T_K_PD + 1

section .note.pvh note alloc noexec nowrite align=4
    dd 4                        ; name size: "Xen" and its NUL
    dd 8                        ; descriptor size: a 64-bit address in an ELF64 note
    dd XEN_ELFNOTE_PHYS32_ENTRY
    db "Xen", 0
    dq pvh_entry_phys

section .bss align=4096
global pvh_tables
pvh_tables: resb T_PAGES * PAGE_SIZE

section .text

bits 32
global pvh_entry
pvh_entry:
    cld
    mov esi, ebx                ; keep start_info: rep stosd takes edi, ecx, eax
    ; Zero the tables: QEMU fills .bss with zeroes, but say so rather than rely on it.
    mov edi, pvh_tables_phys
    mov ecx, T_PAGES * PAGE_SIZE / 4
    xor eax, eax
    rep stosd

    ; PML4[0] -> identity PDPT, whose first IDENTITY_GIB entries -> PDs of 2 MiB leaves.
    mov edi, pvh_tables_phys
    lea eax, [edi + T_ID_PDPT * PAGE_SIZE + TABLE]
    mov [edi + T_PML4 * PAGE_SIZE], eax
    xor ecx, ecx
.id_pdpt:
    mov eax, ecx
    shl eax, PAGE_SHIFT
    lea eax, [edi + eax + T_ID_PD * PAGE_SIZE + TABLE]
    mov [edi + T_ID_PDPT * PAGE_SIZE + ecx * 8], eax
    inc ecx
    cmp ecx, IDENTITY_GIB
    jb .id_pdpt
    ; IDENTITY_GIB * ENTRIES leaves, physical 0 upward, 64-bit entries (high halves stay 0).
    xor ecx, ecx
.id_pd:
    mov eax, ecx
    shl eax, LARGE_PAGE_SHIFT
    or eax, LEAF_2M
    mov [edi + T_ID_PD * PAGE_SIZE + ecx * 8], eax
    inc ecx
    cmp ecx, IDENTITY_GIB * ENTRIES
    jb .id_pd

    ; PML4[511] -> kernel PDPT, [510] -> kernel PD: 1 GiB of 2 MiB leaves from kernel_pvh_phys.
    lea eax, [edi + T_K_PDPT * PAGE_SIZE + TABLE]
    mov [edi + T_PML4 * PAGE_SIZE + KERNEL_PML4 * 8], eax
    lea eax, [edi + T_K_PD * PAGE_SIZE + TABLE]
    mov [edi + T_K_PDPT * PAGE_SIZE + KERNEL_PDPT * 8], eax
    xor ecx, ecx
.k_pd:
    mov eax, ecx
    shl eax, LARGE_PAGE_SHIFT
    add eax, kernel_pvh_phys
    or eax, LEAF_2M
    mov [edi + T_K_PD * PAGE_SIZE + ecx * 8], eax
    inc ecx
    cmp ecx, ENTRIES
    jb .k_pd

    ; Long mode: PAE, the table, EFER.LME, then paging (SDM vol. 3, 10.8.5).
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov cr3, edi
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_PE
    mov cr0, eax
    lgdt [pvh_gdtr_phys]
    jmp CODE64:pvh_long_phys

bits 64
global pvh_long
pvh_long:
    mov eax, DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov fs, eax
    mov gs, eax
    ; Up into the kernel window, where everything is linked.
    mov rax, .high
    jmp rax
.high:
    ; kmain takes the start_info where the loader passes its boot_info,
    ; tells the two apart by their magic, and has pvh.c convert it.
    mov edi, esi
    jmp kernel_entry

; Accessed bits set, so loading a selector never writes the table.
align 8
global pvh_gdt, pvh_gdtr
pvh_gdt:
    dq 0
    dq 0x00af9b000000ffff       ; CODE64: present, DPL 0, code, long mode (L=1)
    dq 0x00cf93000000ffff       ; DATA: present, DPL 0, writable, 4 GiB
pvh_gdt_end:
pvh_gdtr:                       ; lgdt in 32-bit mode: limit and a 32-bit base
    dw pvh_gdt_end - pvh_gdt - 1
    dd pvh_gdt_phys
