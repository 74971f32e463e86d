/* movdir64b: the CPU instruction DSA's dedicated work queues are fed with
 * (docs/dsa.md), checked on its own before any device sees it. MOVDIR64B
 * (66 0F 38 F8 /r, SDM Vol. 2B) reads 64 bytes from its memory source, at
 * any alignment, and writes them as one direct store to the address in its
 * register operand, which must be 64-byte aligned (#GP(0) otherwise); a
 * register source is #UD. Cases skip naming CPUID.(7,0):ECX[28] where the
 * CPU does not advertise it (vtdlab's QEMU: -cpu max,movdir64b=on). */
#include <string.h>
#include "devices/dsa.h"
#include "harness/harness.h"
#include "kernel/traps.h"

#define STORE_SIZE  64
#define GUARD       STORE_SIZE            /* bytes checked on either side of the destination */
#define GUARD_BYTE  0xe7
#define SRC_OFFSET  3                     /* the source needs no alignment */
#define MISALIGN    8

static void movdir64b_or_skip(struct test *t)
{
    if (!dsa_cpu_can_submit())
        test_skip(t, "no MOVDIR64B: CPUID.(7,0):ECX[28] is clear on this CPU");
}

static void movdir64b(void *dst, const void *src)
{
    __asm__ volatile("movdir64b (%[src]), %[dst]" : : [dst] "r"(dst), [src] "r"(src) : "memory");
}

/* guard | 64-byte destination | guard, all 64-byte aligned */
static uint8_t area[GUARD + STORE_SIZE + GUARD] __attribute__((aligned(STORE_SIZE)));
static uint8_t source[STORE_SIZE + SRC_OFFSET];

static void fill(void)
{
    memset(area, GUARD_BYTE, sizeof(area));
    for (unsigned i = 0; i < sizeof(source); i++)
        source[i] = (uint8_t)(i * 29 + 1);
}

/* Bytes of the area outside [from, from + STORE_SIZE) that lost GUARD_BYTE. */
static unsigned guard_damage(unsigned from)
{
    unsigned bad = 0;
    for (unsigned i = 0; i < sizeof(area); i++)
        bad += (i < from || i >= from + STORE_SIZE) && area[i] != GUARD_BYTE;
    return bad;
}

static void copies_64_bytes_to_ram(struct test *t)
{
    movdir64b_or_skip(t);
    fill();
    movdir64b(area + GUARD, source + SRC_OFFSET);
    unsigned wrong = 0, first = STORE_SIZE;
    for (unsigned i = 0; i < STORE_SIZE; i++) {
        if (area[GUARD + i] != source[SRC_OFFSET + i]) {
            wrong++;
            first = first < i ? first : i;
        }
    }
    EXPECT_TRUE(t, wrong == 0, "%u of the 64 bytes differ from the source, the first at byte %u", wrong, first);
    EXPECT_EQ(t, guard_damage(GUARD), 0);
}

/* #GP(0) at the instruction, and nothing written. */
static void a_misaligned_destination_raises_gp(struct test *t)
{
    movdir64b_or_skip(t);
    fill();
    struct trap_catch c;
    if (TRAP_CATCH(&c) == 0) {
        movdir64b(area + GUARD + MISALIGN, source);
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "MOVDIR64B to %p (8 bytes past 64-byte alignment) did not fault",
                     (void *)(area + GUARD + MISALIGN));
    }
    EXPECT_EQ(t, c.vector, VEC_GP);
    EXPECT_EQ(t, c.error, 0);
    EXPECT_EQ(t, guard_damage(sizeof(area)), 0);
}

/* 66 0F 38 F8 C0: ModRM.mod = 3 names a register as the source. */
static void a_register_source_is_undefined(struct test *t)
{
    movdir64b_or_skip(t);
    struct trap_catch c;
    if (TRAP_CATCH(&c) == 0) {
        __asm__ volatile(".byte 0x66, 0x0f, 0x38, 0xf8, 0xc0" ::: "memory");
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "MOVDIR64B with a register source (ModRM 0xc0) did not fault");
    }
    EXPECT_EQ(t, c.vector, VEC_INVALID_OPCODE);
}

TEST_SUITE(movdir64b, 59, 0,
           TEST(copies_64_bytes_to_ram),
           TEST(a_misaligned_destination_raises_gp),
           TEST(a_register_source_is_undefined));
