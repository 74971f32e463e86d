/* selftest: the harness proves it can report failure. Each of the first
 * cases fails on purpose in one way; the fifth checks that each was
 * recorded as that kind of failure and that the run went on. Then one case
 * resets the machine and the last proves the host tool resumed after it.
 * The host tool
 * holds the expected outcomes (tests/expected/selftest.json); this suite
 * runs only when named (tests=selftest.*). */
#include "kernel/harness.h"
#include "kernel/x86.h"

#define SELFTEST_TIMEOUT_MS 200
/* An address no mapping covers (the bottom of the kernel half). */
#define UNMAPPED_ADDRESS    0xffff800000000000ul

static void fails_on_purpose(struct test *t)
{
    EXPECT_EQ(t, 1 + 1, 3);
}

static void times_out_on_purpose(struct test *t)
{
    for (;;)
        cpu_relax();
}

static void faults_on_purpose(struct test *t)
{
    (void)*(volatile uint64_t *)UNMAPPED_ADDRESS;
}

/* Far deeper than the 64 KiB boot stack allows; the bound only keeps the
 * compiler from calling the recursion infinite. */
#define RECURSION_LIMIT (1u << 30)

static unsigned recurse(volatile unsigned depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    return depth > RECURSION_LIMIT ? 0 : recurse(depth + 1) + frame[0];
}

/* Runs off the stack into the guard page: the #PF cannot be delivered on
 * the dead stack, so the CPU raises #DF, which runs on its own IST stack. */
static void overflows_stack_on_purpose(struct test *t)
{
    recurse(0);
}

static void run_went_on_and_recorded_each(struct test *t)
{
    EXPECT_EQ(t, harness_previous_status(4), KTAP_FAIL);
    EXPECT_EQ(t, harness_previous_status(3), KTAP_TIMEOUT);
    EXPECT_EQ(t, harness_previous_status(2), KTAP_ERROR);
    EXPECT_EQ(t, harness_previous_status(1), KTAP_ERROR);
}

/* Leaves the CPU no way to deliver an exception: with an empty IDT the
 * breakpoint becomes #GP, then #DF, then a triple fault, and the machine
 * resets. Nothing in the kernel can report this; the host tool sees the
 * reset, records this case as crashed and boots again to go on after it. */
static void resets_machine_on_purpose(struct test *t)
{
    const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty_idt = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(empty_idt));
}

/* Runs in the boot after the reset: resume= must point right at it. */
static void resumed_after_the_reset(struct test *t)
{
    EXPECT_EQ(t, test_cmdline(t)->resume, test_number(t));
}

TEST_SUITE(selftest, 90, SUITE_EXPLICIT,
           TEST(fails_on_purpose),
           TEST_WITH_TIMEOUT(times_out_on_purpose, SELFTEST_TIMEOUT_MS),
           TEST(faults_on_purpose),
           TEST(overflows_stack_on_purpose),
           TEST(run_went_on_and_recorded_each),
           TEST(resets_machine_on_purpose),
           TEST(resumed_after_the_reset));
