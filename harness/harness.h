/* The in-kernel test harness. Suites are declared with TEST_SUITE in their
 * own file under tests/kernel/; the runner picks them up from a linker
 * section, selects cases by the cmdline's globs and prints KTAP. */
#ifndef VTDLAB_HARNESS_H
#define VTDLAB_HARNESS_H

#include <stdint.h>
#include "../kernel/cmdline.h"
#include "ktap.h"

struct test;
typedef void (*test_fn)(struct test *t);

struct test_case {
    const char *name;
    test_fn fn;
    uint32_t timeout_ms; /* 0: the cmdline's timeout_ms */
};

enum suite_flags {
    /* Runs only when a tests= glob names the suite literally: the harness
     * self-test fails on purpose and is not part of "*". */
    SUITE_EXPLICIT = 1 << 0,
};

struct test_suite {
    const char *name;
    const struct test_case *cases;
    unsigned ncases;
    unsigned flags;
};

/* order: two digits, the suite's place in a run. */
#define TEST_SUITE(sname, order, sflags, ...)                                                   \
    static const struct test_case sname##_cases[] = { __VA_ARGS__ };                             \
    static const struct test_suite sname##_suite                                                 \
        __attribute__((used, section(".test_suites." #order "_" #sname), aligned(8))) = {        \
            #sname, sname##_cases, sizeof(sname##_cases) / sizeof(sname##_cases[0]), sflags }
#define TEST(fn) { #fn, fn, 0 }
#define TEST_WITH_TIMEOUT(fn, ms) { #fn, fn, ms }

/* Called after every case that did not pass or skip, to print state that
 * explains it (the VT-d MMIO trace ring under trace=mmio). */
void harness_set_failure_dump(void (*dump)(void));

/* Prints the KTAP version line and the plan (the number of suites with a
 * selected case); boot diagnostics may follow. */
void harness_begin(const struct cmdline *cmd);
/* Runs the selected suites and prints the totals; returns the number of
 * cases that did not pass or skip. */
unsigned harness_run(const struct cmdline *cmd);
/* For the APIC timer: ends the running case if it is past its deadline. */
void harness_tick(void);

/* The status (enum ktap_status) of the case `back` places before the
 * running one in its suite, or -1. */
int harness_previous_status(unsigned back);

/* Runs fn on ncpus CPUs at once (the boot CPU and ncpus - 1 online APs),
 * index 0..ncpus-1 telling the parts apart, and returns when every part
 * has. A failure, skip, exception or lock left held on any CPU counts for
 * the case, naming the CPU; the case's deadline covers all parts. Skips
 * the case when fewer CPUs are online. */
typedef void (*test_cpu_fn)(struct test *t, unsigned index, void *arg);
void test_run_on_cpus(struct test *t, unsigned ncpus, test_cpu_fn fn, void *arg);

/* Registers what undoes a change to global state (a reclaim policy, a
 * registered hook, an injected failure): it runs after the case on every
 * exit path, failure, timeout and exception included, newest first, so the
 * next case starts clean. fn must not use the case's stack: the case may
 * have been abandoned. */
void test_on_exit(struct test *t, void (*fn)(uintptr_t arg), uintptr_t arg);

/* For the sanitizers (kernel/san/): fails the running case with msg (the
 * first reason wins), whichever CPU found it; 0 when no case runs. */
int harness_fail_running(const char *msg);
/* Ends the case running on this CPU as failed; returns when none runs. */
void harness_abort_running(void);

/* Inside a case. */
void test_fail_at(struct test *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void test_abort_at(struct test *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void test_skip(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void test_diag(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A fact a passing case's result line carries as its KTAP comment ("ok N
 * name # note"), which an expectation may name ("pass: note prefix"): the
 * device a case used, say. Also a diagnostic line. The first note stands;
 * a skip's or a failure's reason replaces it. */
void test_note(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void test_metric(struct test *t, const char *name, uint64_t value, const char *unit);
/* The unit of a timed metric in TSC cycles, naming the platform when it is
 * an emulator or a guest (where times say little about silicon). */
const char *test_timed_unit(void);
/* The same platform words for other timed units (", QEMU TCG"; "" on bare
 * metal): "unmaps/s" + this. */
const char *test_platform_suffix(void);
/* What a negative control saw where the behaviour it provokes is allowed
 * but not required (a unit need not cache): a line naming the platform
 * and a metric, 1 when observed. The case goes on; the positive control
 * beside it keeps its assertion. */
void test_characterisation(struct test *t, const char *name, int observed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const struct cmdline *test_cmdline(struct test *t);

/* What the run came to, for the screen summary (harness/summary.c): the
 * counts and the first cases that did not pass or skip, with reasons. */
#define SUMMARY_FAILED_MAX 12
#define SUMMARY_TEXT_MAX 120
struct harness_summary {
    unsigned pass, fail, skip, timeout, error;
    unsigned nfailed;                 /* all of them; the first SUMMARY_FAILED_MAX are kept */
    struct {
        char name[SUMMARY_TEXT_MAX];  /* suite.case */
        char reason[SUMMARY_TEXT_MAX];
        int status;                   /* KTAP_FAIL, KTAP_TIMEOUT, KTAP_ERROR */
    } failed[SUMMARY_FAILED_MAX];
};
const struct harness_summary *harness_summary(void);
/* The running case's number among all selected cases of this run (what
 * resume= counts). */
unsigned test_number(struct test *t);
/* The run's last selected case (keep=1 leaves its fixtures up). */
int test_is_last(struct test *t);

#define EXPECT_TRUE(t, cond, ...) \
    do { if (!(cond)) test_fail_at(t, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define ASSERT_TRUE(t, cond, ...) \
    do { if (!(cond)) test_abort_at(t, __FILE__, __LINE__, __VA_ARGS__); } while (0)
/* Compares as 64-bit values and reports both, in hex and decimal. */
#define CHECK_EQ_(report, t, seen, expected)                                                  \
    do {                                                                                      \
        uint64_t _s = (uint64_t)(seen), _e = (uint64_t)(expected);                            \
        if (_s != _e)                                                                         \
            report(t, __FILE__, __LINE__, "%s: expected %s = 0x%lx (%lu), saw 0x%lx (%lu)",   \
                   #seen, #expected, _e, _e, _s, _s);                                         \
    } while (0)
#define EXPECT_EQ(t, seen, expected) CHECK_EQ_(test_fail_at, t, seen, expected)
#define ASSERT_EQ(t, seen, expected) CHECK_EQ_(test_abort_at, t, seen, expected)

#endif
