/* The UEFI loader's checks of kernel.elf (boot/elf_check.c), on the host:
 * the corrupt files the boot tests once put on the ESP (tests/tool/
 * test_boot.py keeps one firmware boot, the missing kernel, for the
 * refusal's path to the tool) and one bad field at a time of an otherwise
 * good executable, which passes. */
#include <elf.h>

#include "host.h"
#include "boot/boot_info.h"
#include "boot/elf_check.h"

#define NOT_ELF     "kernel.elf is not an ELF file"
#define NOT_X86_64  "kernel.elf is not an x86-64 executable"
#define TRUNCATED   "kernel.elf program headers are truncated"
#define OUTSIDE     "kernel.elf segment lies outside the file"
#define OFF_WINDOW  "kernel.elf segment lies outside the kernel window"
#define BAD_ENTRY   "kernel.elf entry point lies outside the kernel window"

/* What the linker makes of the kernel, in small: a header, a PT_LOAD
 * segment of the whole file at the window's base with more in memory than
 * in the file (.bss), and a PT_NOTE the loader does not map. */
struct image {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[2];
    uint8_t text[64];
};

static struct image good(void)
{
    struct image im;
    memset(&im, 0, sizeof(im));
    memcpy(im.eh.e_ident, ELFMAG, SELFMAG);
    im.eh.e_ident[EI_CLASS] = ELFCLASS64;
    im.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    im.eh.e_ident[EI_VERSION] = EV_CURRENT;
    im.eh.e_type = ET_EXEC;
    im.eh.e_machine = EM_X86_64;
    im.eh.e_version = EV_CURRENT;
    im.eh.e_entry = KERNEL_VMA_BASE + offsetof(struct image, text);
    im.eh.e_phoff = offsetof(struct image, ph);
    im.eh.e_ehsize = sizeof(Elf64_Ehdr);
    im.eh.e_phentsize = sizeof(Elf64_Phdr);
    im.eh.e_phnum = ARRAY_SIZE(im.ph);
    im.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0,
                             .p_vaddr = KERNEL_VMA_BASE, .p_paddr = 0, .p_filesz = sizeof(im),
                             .p_memsz = sizeof(im) + 4096, .p_align = 4096 };
    im.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = ~0ull, .p_filesz = 1 };
    return im;
}

/* A refusal with this reason (a pass is NULL: named, not a crash). */
#define assert_refused(why, reason)          \
    do {                                     \
        const char *why_ = (why);            \
        assert_non_null(why_);               \
        assert_string_equal(why_, reason);   \
    } while (0)

static const char *check(const struct image *im) { return elf_check((const uint8_t *)im, sizeof(*im)); }

static void a_good_executable_passes(void **state)
{
    struct image im = good();
    assert_null(check(&im));
    /* the last byte of the window for the entry, a segment ending at the
     * window's end */
    im.eh.e_entry = KERNEL_VMA_BASE + KERNEL_MAX_SPAN - 1;
    im.ph[0].p_vaddr = KERNEL_VMA_BASE + KERNEL_MAX_SPAN - im.ph[0].p_memsz;
    assert_null(check(&im));
}

/* The two files tests/tool/test_boot.py put on the ESP, byte for byte. */
static void the_boot_tests_corrupt_kernels_are_refused(void **state)
{
    _Alignas(Elf64_Ehdr) uint8_t text[4 * 30];
    for (int i = 0; i < 4; i++)
        memcpy(text + 30 * i, "this is not an ELF file at all", 30);
    assert_refused(elf_check(text, sizeof(text)), NOT_ELF);

    _Alignas(Elf64_Ehdr) uint8_t header[64] = { 0x7f, 'E', 'L', 'F', 0x02, 0x01, 0x01 };
    header[16] = 0x02;      /* ET_EXEC */
    header[18] = 0x3e;      /* EM_X86_64 */
    assert_refused(elf_check(header, sizeof(header)), TRUNCATED);
}

static void not_an_elf_file(void **state)
{
    struct image im = good();
    assert_refused(elf_check((const uint8_t *)&im, sizeof(Elf64_Ehdr) - 1), NOT_ELF);
    assert_refused(elf_check((const uint8_t *)&im, 0), NOT_ELF);
    for (int i = 0; i < SELFMAG; i++) {
        im = good();
        im.eh.e_ident[i] ^= 0x20;
        assert_refused(check(&im), NOT_ELF);
    }
}

static void not_an_x86_64_executable(void **state)
{
    struct image im = good();
    im.eh.e_ident[EI_CLASS] = ELFCLASS32;
    assert_refused(check(&im), NOT_X86_64);
    im = good();
    im.eh.e_machine = EM_386;
    assert_refused(check(&im), NOT_X86_64);
    im = good();
    im.eh.e_type = ET_DYN;
    assert_refused(check(&im), NOT_X86_64);
}

static void program_headers_outside_the_file(void **state)
{
    struct image im = good();
    im.eh.e_phnum = 0;
    assert_refused(check(&im), TRUNCATED);
    im = good();
    im.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
    assert_refused(check(&im), TRUNCATED);
    im = good();
    im.eh.e_phoff = sizeof(im) - sizeof(Elf64_Phdr) + 1;
    im.eh.e_phnum = 1;
    assert_refused(check(&im), TRUNCATED);
    im = good();
    im.eh.e_phoff = ~0ull;       /* would wrap past the end */
    assert_refused(check(&im), TRUNCATED);
    im = good();
    im.eh.e_phnum = 0xffff;
    assert_refused(check(&im), TRUNCATED);
}

static void a_segment_outside_the_file(void **state)
{
    struct image im = good();
    im.ph[0].p_filesz = sizeof(im) + 1;
    assert_refused(check(&im), OUTSIDE);
    im = good();
    im.ph[0].p_offset = 1;      /* the same size, one byte further */
    assert_refused(check(&im), OUTSIDE);
    im = good();
    im.ph[0].p_offset = ~0ull;
    im.ph[0].p_filesz = 2;      /* offset + size wraps to 1 */
    assert_refused(check(&im), OUTSIDE);
    im = good();
    im.ph[0].p_memsz = im.ph[0].p_filesz - 1;
    assert_refused(check(&im), OUTSIDE);
}

static void a_segment_outside_the_kernel_window(void **state)
{
    struct image im = good();
    im.ph[0].p_vaddr = KERNEL_VMA_BASE - 4096;
    assert_refused(check(&im), OFF_WINDOW);
    im = good();
    im.ph[0].p_memsz = KERNEL_MAX_SPAN + 1;
    assert_refused(check(&im), OFF_WINDOW);
    im = good();
    im.ph[0].p_vaddr = KERNEL_VMA_BASE + KERNEL_MAX_SPAN - im.ph[0].p_memsz + 1;
    assert_refused(check(&im), OFF_WINDOW);
    im = good();
    im.ph[0].p_vaddr = ~0ull - 4096;     /* past the window; vaddr + memsz wraps */
    assert_refused(check(&im), OFF_WINDOW);
}

static void an_entry_point_outside_the_kernel_window(void **state)
{
    struct image im = good();
    im.eh.e_entry = KERNEL_VMA_BASE - 1;
    assert_refused(check(&im), BAD_ENTRY);
    im.eh.e_entry = KERNEL_VMA_BASE + KERNEL_MAX_SPAN;
    assert_refused(check(&im), BAD_ENTRY);
    im.eh.e_entry = 0;
    assert_refused(check(&im), BAD_ENTRY);
}

static void range_ok_takes_the_whole_file_and_no_byte_more(void **state)
{
    assert_true(elf_range_ok(0, 10, 10));
    assert_true(elf_range_ok(10, 0, 10));
    assert_false(elf_range_ok(11, 0, 10));
    assert_false(elf_range_ok(1, 10, 10));
    assert_false(elf_range_ok(2, ~0ull, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_good_executable_passes),
        cmocka_unit_test(the_boot_tests_corrupt_kernels_are_refused),
        cmocka_unit_test(not_an_elf_file),
        cmocka_unit_test(not_an_x86_64_executable),
        cmocka_unit_test(program_headers_outside_the_file),
        cmocka_unit_test(a_segment_outside_the_file),
        cmocka_unit_test(a_segment_outside_the_kernel_window),
        cmocka_unit_test(an_entry_point_outside_the_kernel_window),
        cmocka_unit_test(range_ok_takes_the_whole_file_and_no_byte_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
