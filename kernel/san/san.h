/* The sanitizers built into a kernel variant (issue 24, docs/sanitizers.md):
 * UBSan with vtdlab's own handlers (ubsan.c), the lock-order checker
 * (lockdep.c), KASAN-style memory checks (kasan.c) and KCSAN-style race
 * detection (kcsan.c) share one report path (report.c). A finding is the failure
 * of the case running on the CPU that made it, printed as KTAP diagnostics
 * with a symbolised backtrace; the run goes on with the next case.
 *
 * The normal kernel (`make kernel`) has none of them: its build defines no
 * VTDLAB_SAN_* and every hook here is an empty inline. */
#ifndef VTDLAB_KERNEL_SAN_H
#define VTDLAB_KERNEL_SAN_H

#include <stdint.h>

#if defined(VTDLAB_SAN_UBSAN) || defined(VTDLAB_SAN_LOCKDEP) || defined(VTDLAB_SAN_KASAN) || defined(VTDLAB_SAN_KCSAN)
#define VTDLAB_SANITIZED 1
#endif

/* A sanitized kernel runs each access through a call: its tortures keep
 * their shape with this many times fewer rounds, which pays for the
 * KCSAN kernel's run of them (docs/sanitizers.md). That one is on the smp
 * profile, without icount, where every wait is real time: fewer still. */
#if defined(VTDLAB_SAN_KCSAN)
#define SAN_TORTURE_DIVISOR 12u
#elif defined(VTDLAB_SANITIZED)
#define SAN_TORTURE_DIVISOR 6u
#else
#define SAN_TORTURE_DIVISOR 1u
#endif

/* A function that runs before its CPU can be told apart (an AP before its
 * GS base is set): no instrumentation, since the runtimes ask which CPU
 * they run on. */
#define SAN_BOOT_CODE __attribute__((no_sanitize("thread", "kernel-address")))

enum san_kind { SAN_UBSAN, SAN_LOCKDEP, SAN_KASAN, SAN_KCSAN, SAN_KINDS };

/* Reports one case may make before the rest are counted and dropped (a
 * storm of the same finding in a loop must not drown the log). */
#define SAN_REPORTS_PER_CASE 4
/* A report's one-line summary, which is also the case's failure reason. */
#define SAN_TEXT_MAX 160

/* What a self-test plants and then reads back: while armed, reports of
 * kind (from any CPU) land here instead of failing the running case. */
struct san_capture {
    enum san_kind kind;
    unsigned count;            /* reports made while armed */
    int ready;                 /* text holds the first one's summary */
    char text[SAN_TEXT_MAX];
};

#ifdef VTDLAB_SANITIZED
int san_built_with(enum san_kind kind);
/* The report: "# <summary>", the detail lines (each behind "# ", may be
 * NULL), the backtrace from the frame rbp; then the running case fails with
 * summary as its reason, or the kernel panics outside a case. A report from
 * inside a report (the report path itself tripping a check or faulting) is
 * one line and dropped; past SAN_REPORTS_PER_CASE in a case the rest are
 * counted, and san_case_end says how many went unprinted. */
void san_report(enum san_kind kind, const char *summary, const char *detail, uint64_t rbp);
/* Before a finding is described (reading what it is about, which may be
 * corrupt): 0 when this CPU is already reporting, which is said in one
 * line and the finding dropped; otherwise a fault from here to the report
 * is a fault inside a report (san_in_report). */
int san_describe_begin(enum san_kind kind);
/* Whether this CPU is inside a report: an exception now is the report
 * path's own (the harness says so). */
int san_in_report(void);
/* The harness, after each case: one line saying how many reports went
 * unprinted. */
void san_case_end(void);
/* Arms and disarms capture (one at a time; tests only). */
void san_capture_arm(struct san_capture *c, enum san_kind kind);
void san_capture_disarm(void);
/* The harness, before each case: per-case counts start again and a report
 * a failed case abandoned half-way (a fault inside the report path) no
 * longer counts as in progress. */
void san_case_start(void);
#else
static inline int san_built_with(enum san_kind kind) { return 0; }
static inline void san_case_start(void) {}
static inline void san_case_end(void) {}
static inline int san_in_report(void) { return 0; }
#endif

#endif
