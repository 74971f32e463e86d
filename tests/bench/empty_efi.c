/* The baseline for `make bench-boot`: an EFI application that does nothing
 * but end QEMU through isa-debug-exit, so the difference to a vtdlab run is
 * what vtdlab itself costs. QEMU only. */
#include <efi.h>
#include <efilib.h>

#define ISA_DEBUG_EXIT_PORT 0xf4
#define EXIT_DONE           0x10

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    __asm__ volatile("outl %0, %1" : : "a"((UINT32)EXIT_DONE), "Nd"((UINT16)ISA_DEBUG_EXIT_PORT));
    for (;;)
        __asm__ volatile("hlt");
}
