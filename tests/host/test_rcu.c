/* kernel/lock.c's grace-period wait on the host. The waiter runs as CPU 0
 * (GS points at a cpu_local of 0, as in the kernel); CPU 1 is a reader
 * whose section and timer ticks the test scripts: a reader thread, or the
 * fake tick counter the wait polls. A reader whose vCPU the host does not
 * run (a busy machine) takes no ticks and must be waited for past any
 * fixed second; a reader that runs and stays in its section, or takes no
 * tick at all for far longer, is reported. */
#include "host.h"
#include <asm/prctl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../kernel/lock.c"
#include "kernel_shims.h"

#define READER 1u
#define NS_PER_MS 1000000ul

static struct cpu_local cpu0 = { .id = 0 };

int smp_cpu_online(unsigned cpu) { return cpu <= READER; }
_Noreturn void panic(const char *fmt, ...) { fail_msg("panic: %s", fmt); abort(); }

/* The wait's clock: the host's, plus what a case skips ahead. */
static uint64_t skew_ns;
static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ul + (uint64_t)ts.tv_nsec;
}
uint64_t clock_ns(void) { return host_ns() + __atomic_load_n(&skew_ns, __ATOMIC_ACQUIRE); }

/* The reader's timer: each time the waiter looks, it took tick_step more
 * ticks and the clock moved skip_ns on. */
static struct {
    uint64_t ticks, tick_step, skip_ns;
    unsigned looks;
} reader;
uint64_t apic_timer_ticks_on(unsigned cpu)
{
    if (cpu != READER)
        return 0;
    reader.looks++;
    reader.ticks += reader.tick_step;
    __atomic_fetch_add(&skew_ns, reader.skip_ns, __ATOMIC_RELEASE);
    return reader.ticks;
}

static void enter_section(unsigned cpu)
{
    rcu_depth[cpu] = 1;
    store_release(&rcu_phase[cpu], rcu_phase[cpu] + 1);
}

static int setup(void **state)
{
    assert_int_equal(syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)&cpu0), 0);
    memset(rcu_depth, 0, sizeof(rcu_depth));
    memset(rcu_phase, 0, sizeof(rcu_phase));
    memset(&reader, 0, sizeof(reader));
    skew_ns = 0;
    return 0;
}

/* The reader's vCPU off the host's CPU for longer than the fixed second
 * the wait once allowed: the clock the wait reads moves OFF_CPU_MS on while
 * the reader takes no tick, then (a short real pause later, so the waiter
 * has seen that clock) the reader leaves its section. */
#define OFF_CPU_MS 1100u
#define REAL_PAUSE_MS 20u
static void *leave_after_off_cpu(void *arg)
{
    __atomic_fetch_add(&skew_ns, (uint64_t)OFF_CPU_MS * NS_PER_MS, __ATOMIC_RELEASE);
    struct timespec pause = { 0, REAL_PAUSE_MS * NS_PER_MS };
    nanosleep(&pause, NULL);
    rcu_depth[READER] = 0;
    store_release(&rcu_phase[READER], rcu_phase[READER] + 1);
    return NULL;
}

static void a_reader_off_its_cpu_for_over_a_second_is_waited_for(void **state)
{
    enter_section(READER);
    uint64_t t0 = clock_ns();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, leave_after_off_cpu, NULL), 0);
    unsigned stuck = UINT32_MAX;
    int err = rcu_synchronize(&stuck);
    uint64_t waited_ms = (clock_ns() - t0) / NS_PER_MS;
    pthread_join(t, NULL);
    assert_int_equal(err, 0);
    assert_true(waited_ms >= OFF_CPU_MS);
    assert_int_equal(stuck, UINT32_MAX);
}

/* The hang the wait is there to catch: a reader that keeps running (its
 * timer ticks) and never leaves its section. */
static void a_reader_running_in_one_section_is_reported(void **state)
{
    enter_section(READER);
    reader.tick_step = 1;
    unsigned stuck = UINT32_MAX;
    assert_int_equal(rcu_synchronize(&stuck), -E_TIMEDOUT);
    assert_int_equal(stuck, READER);
}

/* A reader that takes no tick at all (interrupts off, or its CPU gone) is
 * reported too, once the clock passed the longest a grace period may
 * take. */
static void a_reader_taking_no_tick_is_reported_at_the_stall_limit(void **state)
{
    enter_section(READER);
    reader.skip_ns = 100 * NS_PER_MS;
    unsigned stuck = UINT32_MAX;
    assert_int_equal(rcu_synchronize(&stuck), -E_TIMEDOUT);
    assert_int_equal(stuck, READER);
    assert_true(skew_ns >= (uint64_t)RCU_GRACE_STALL_MS * NS_PER_MS);
}

/* The controls: no reader in a section, no wait; a waiter inside one is
 * refused. */
static void no_reader_no_wait_and_a_waiter_inside_a_section_is_refused(void **state)
{
    reader.tick_step = 1;
    assert_int_equal(rcu_synchronize(NULL), 0);
    enter_section(0);
    assert_int_equal(rcu_synchronize(NULL), -E_DEADLK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_reader_off_its_cpu_for_over_a_second_is_waited_for, setup),
        cmocka_unit_test_setup(a_reader_running_in_one_section_is_reported, setup),
        cmocka_unit_test_setup(a_reader_taking_no_tick_is_reported_at_the_stall_limit, setup),
        cmocka_unit_test_setup(no_reader_no_wait_and_a_waiter_inside_a_section_is_refused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
