#include <stdarg.h>
#include <string.h>
#include "harness.h"
#include "../kernel/exit.h"
#include "../kernel/clock.h"
#include "../kernel/lock.h"
#include "../kernel/smp.h"
#include "../kernel/work.h"
#include "../kernel/printk.h"
#include "../kernel/traps.h"
#include "../kernel/x86.h"
#include "../kernel/san/san.h"
#include <stdio.h>
#include "../lib/glob.h"
#include "../lib/jmp.h"

#define CASE_NAME_MAX  128
#define REASON_MAX     192

/* ctx_restore values: how a case ended early. */
enum case_exit { CASE_RETURNED = 0, CASE_ABORTED, CASE_SKIPPED, CASE_TIMED_OUT, CASE_EXCEPTION };

#define CLEANUPS_MAX 32  /* a case that sets a fixture up once per policy registers its cleanups each time */
/* How long the end of a case waits for a CPU still running deferred work. */
#define WORK_SETTLE_US 100000u

struct cleanup {
    void (*fn)(uintptr_t arg);
    uintptr_t arg;
};

struct test {
    const struct test_suite *suite;
    const struct test_case *tc;
    const struct cmdline *cmd;
    unsigned number;
    /* Written by every CPU that runs a part of the case, under
     * result_lock; the first reason wins. */
    int failed;
    int crashed;     /* an exception on an AP: the case is an ERROR */
    int skipped;     /* an AP's part skipped */
    int noted;       /* reason holds a passing case's note (test_note) */
    char reason[REASON_MAX];
    /* Undone after the case however it ended (test_on_exit), newest first. */
    struct cleanup cleanups[CLEANUPS_MAX];
    unsigned ncleanups;
};

/* One CPU's part of a case run by test_run_on_cpus. */
struct cpu_part {
    struct test *t;
    test_cpu_fn fn;
    void *arg;
    unsigned index;
};

extern const struct test_suite __test_suites_start[], __test_suites_end[];

static void console_sink(void *arg, const char *s, size_t n) { console_write(s, n); }
static const struct ktap out = { console_sink, NULL };

/* The running case; the timer and exception paths read these. Written by
 * the boot CPU only, which runs every case; APs run parts of it. */
static struct test *current;
static struct spinlock result_lock = SPINLOCK_INIT("harness result");
static void (*failure_dump)(void);

void harness_set_failure_dump(void (*dump)(void)) { failure_dump = dump; }
static struct jmp_ctx case_ctx;
static volatile uint64_t deadline_tsc;
/* Outcomes of the cases run so far in the current suite, for the harness's
 * own self-test. */
#define HISTORY_MAX 32
static enum ktap_status history[HISTORY_MAX];
static unsigned history_len;

int harness_previous_status(unsigned back)
{
    return back && back <= history_len ? (int)history[history_len - back] : -1;
}

static int suite_selected(const struct test_suite *s, const char *globs, const struct test_case *c)
{
    char full[CASE_NAME_MAX];
    snprintf(full, sizeof(full), "%s.%s", s->name, c->name);
    if (!glob_list_match(globs, full))
        return 0;
    /* Explicit suites need a pattern that names them. */
    return !(s->flags & SUITE_EXPLICIT) || glob_list_names(globs, s->name);
}

static unsigned selected_cases(const struct test_suite *s, const char *globs)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->ncases; i++)
        n += suite_selected(s, globs, &s->cases[i]);
    return n;
}

static _Noreturn void end_case(enum case_exit how)
{
    trap_catch_disarm();
    if (smp_cpu_id() != SMP_BOOT_CPU)
        smp_job_end_self(); /* this CPU's part only; the boot CPU decides the case */
    WRITE_ONCE(current, NULL);
    deadline_tsc = 0;
    ctx_restore(&case_ctx, how);
}

/* The case an AP's part belongs to, or NULL outside one. */
static struct test *case_on_this_cpu(void)
{
    if (smp_cpu_id() == SMP_BOOT_CPU)
        return current;
    return smp_in_job() ? READ_ONCE(current) : NULL;
}

/* Records the first reason a case failed, from any CPU; crashed: it was
 * an exception (the case is an ERROR). */
static void record(struct test *t, const char *msg, int crashed)
{
    uint64_t flags = spin_lock_irqsave(&result_lock);
    if (!t->failed)
        snprintf(t->reason, sizeof(t->reason), "%s", msg);
    t->failed = 1;
    t->crashed |= crashed;
    spin_unlock_irqrestore(&result_lock, flags);
}

void harness_tick(void)
{
    if (smp_cpu_id() != SMP_BOOT_CPU)
        return;
    if (current && deadline_tsc && rdtsc() >= deadline_tsc) {
        snprintf(current->reason, sizeof(current->reason), "deadline of %u ms passed",
                  current->tc->timeout_ms ? current->tc->timeout_ms : (unsigned)current->cmd->timeout_ms);
        end_case(CASE_TIMED_OUT);
    }
}

/* A CPU exception while a case runs ends that case as ERROR, with the
 * exception decoded, and the run goes on with the next case. */
static void on_exception(struct trap_frame *f)
{
    struct test *t = case_on_this_cpu();
    if (!t)
        return;
    char what[REASON_MAX];
    /* A sanitizer's report path faulting (on what it read about a
     * finding) says so: the finding is what went wrong first. */
    int n = san_in_report() ? snprintf(what, sizeof(what), "inside a sanitizer's report: ") : 0;
    trap_describe(f, read_cr2(), what + n, sizeof(what) - (size_t)n);
    unsigned cpu = smp_cpu_id();
    if (cpu == SMP_BOOT_CPU) {
        current = NULL; /* a second exception while reporting is a panic */
        snprintf(t->reason, sizeof(t->reason), "%s", what);
        ktap_diag(&out, 1, "exception: %s", t->reason);
        trap_dump(f, "    #");
        end_case(CASE_EXCEPTION);
    }
    char msg[REASON_MAX];
    snprintf(msg, sizeof(msg), "cpu %u: %s", cpu, what);
    record(t, msg, 1);
    ktap_diag(&out, 1, "exception: %s", what);
    trap_dump(f, "    #");
    end_case(CASE_EXCEPTION);
}

/* A lock taken twice or spun on too long inside a case fails the case with
 * the lock's name; outside one, the lock code panics. */
static void on_lock_violation(const struct spinlock *l, const char *what)
{
    struct test *t = case_on_this_cpu();
    if (!t)
        return;
    char msg[REASON_MAX];
    snprintf(msg, sizeof(msg), "lock '%s' %s", l->name, what);
    ktap_diag(&out, 1, "%s", msg);
    record(t, msg, 0);
    end_case(CASE_ABORTED);
}

static void vreason(struct test *t, const char *file, int line, const char *fmt, va_list ap)
{
    char msg[REASON_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    ktap_diag(&out, 1, "%s:%d: %s", file, line, msg);
    if (smp_cpu_id() != SMP_BOOT_CPU) {
        char named[REASON_MAX];
        snprintf(named, sizeof(named), "cpu %u: %s", smp_cpu_id(), msg);
        record(t, named, 0);
    } else {
        record(t, msg, 0);
    }
}

int harness_fail_running(const char *msg)
{
    /* Any CPU's finding while a case runs is the case's: an AP's IPI
     * handler runs on the case's behalf without a part of its own. */
    struct test *t = READ_ONCE(current);
    if (!t)
        return 0;
    char named[REASON_MAX];
    if (smp_cpu_id() != SMP_BOOT_CPU)
        snprintf(named, sizeof(named), "cpu %u: %s", smp_cpu_id(), msg);
    record(t, smp_cpu_id() != SMP_BOOT_CPU ? named : msg, 0);
    return 1;
}

void harness_abort_running(void)
{
    if (case_on_this_cpu())
        end_case(CASE_ABORTED);
}

void test_fail_at(struct test *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreason(t, file, line, fmt, ap);
    va_end(ap);
}

void test_abort_at(struct test *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreason(t, file, line, fmt, ap);
    va_end(ap);
    end_case(CASE_ABORTED);
}

void test_skip(struct test *t, const char *fmt, ...)
{
    char msg[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t flags = spin_lock_irqsave(&result_lock);
    if (!t->failed && !t->skipped)
        snprintf(t->reason, sizeof(t->reason), "%s", msg);
    t->skipped = 1;
    spin_unlock_irqrestore(&result_lock, flags);
    end_case(CASE_SKIPPED);
}

void test_on_exit(struct test *t, void (*fn)(uintptr_t arg), uintptr_t arg)
{
    uint64_t flags = spin_lock_irqsave(&result_lock);
    int room = t->ncleanups < CLEANUPS_MAX;
    if (room)
        t->cleanups[t->ncleanups++] = (struct cleanup){ fn, arg };
    spin_unlock_irqrestore(&result_lock, flags);
    if (!room) {
        fn(arg); /* undo now rather than leave it behind */
        test_abort_at(t, __FILE__, __LINE__, "more than %d cleanups in one case", CLEANUPS_MAX);
    }
}

static void run_cleanups(struct test *t)
{
    while (t->ncleanups) {
        const struct cleanup *c = &t->cleanups[--t->ncleanups];
        c->fn(c->arg);
    }
}

static void run_part(void *arg)
{
    struct cpu_part *p = arg;
    p->fn(p->t, p->index, p->arg);
}

void test_run_on_cpus(struct test *t, unsigned ncpus, test_cpu_fn fn, void *arg)
{
    unsigned online = smp_online_count();
    if (ncpus < 1 || ncpus > SMP_MAX_CPUS)
        test_abort_at(t, __FILE__, __LINE__, "test_run_on_cpus: %u CPUs asked for", ncpus);
    if (online < ncpus)
        test_skip(t, "needs %u CPUs, %u online", ncpus, online);
    static struct cpu_part parts[SMP_MAX_CPUS]; /* outlive an abandoned case */
    unsigned cpu_of[SMP_MAX_CPUS], n = 1;
    for (unsigned c = SMP_BOOT_CPU + 1; c < SMP_MAX_CPUS && n < ncpus; c++) {
        if (!smp_cpu_online(c))
            continue;
        parts[n] = (struct cpu_part){ t, fn, arg, n };
        cpu_of[n] = c;
        if (smp_job_post(c, run_part, &parts[n]))
            test_abort_at(t, __FILE__, __LINE__, "cpu %u could not take a part of the case", c);
        n++;
    }
    fn(t, 0, arg);
    /* The case's deadline bounds this wait: the timer ends the case and
     * the harness recalls the parts still running. */
    for (unsigned i = 1; i < n; i++) {
        while (smp_job_state(cpu_of[i]) != SMP_JOB_DONE)
            cpu_relax();
        smp_job_reset(cpu_of[i]);
    }
    if (t->crashed)
        end_case(CASE_EXCEPTION);
}

/* A diagnostic line of the case's, formatted into msg (len bytes). */
static void diag_into(char *msg, size_t len, const char *fmt, va_list ap)
{
    vsnprintf(msg, len, fmt, ap);
    ktap_diag(&out, 1, "%s", msg);
}

void test_diag(struct test *t, const char *fmt, ...)
{
    char msg[KTAP_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    diag_into(msg, sizeof(msg), fmt, ap);
    va_end(ap);
}

void test_note(struct test *t, const char *fmt, ...)
{
    char msg[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    diag_into(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t flags = spin_lock_irqsave(&result_lock);
    if (!t->failed && !t->skipped && !t->noted)
        snprintf(t->reason, sizeof(t->reason), "%s", msg);
    t->noted = 1;
    spin_unlock_irqrestore(&result_lock, flags);
}

void test_metric(struct test *t, const char *name, uint64_t value, const char *unit)
{
    ktap_diag(&out, 1, "metric %s.%s.%s=%lu %s", t->suite->name, t->tc->name, name, value, unit);
}

const struct cmdline *test_cmdline(struct test *t) { return t->cmd; }
unsigned test_number(struct test *t) { return t->number; }
static unsigned selected_total;
int test_is_last(struct test *t) { return t->number == selected_total; }

/* After every case, however it ended: parts still running on APs are
 * recalled, and a lock any CPU still holds, or a read-side section it left
 * open, fails the case (and is let go, so the run goes on). */
static void settle_cpus(struct test *t)
{
    for (unsigned c = SMP_BOOT_CPU + 1; c < SMP_MAX_CPUS; c++) {
        enum smp_job_state st = smp_job_state(c);
        if (st == SMP_JOB_IDLE)
            continue;
        if (st == SMP_JOB_RUNNING)
            ktap_diag(&out, 1, "cpu %u was still running its part when the case ended: recalled by NMI", c);
        smp_job_recall(c);
        smp_job_reset(c);
    }
    /* Deferred work the case queued (a reclaim batch) runs to its end
     * first: a worker holding a lock while it runs has left nothing held. */
    if (work_flush())
        ktap_diag(&out, 1, "deferred work the case queued did not finish");
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        if (!WAIT_UNTIL(!work_running_on(c), WORK_SETTLE_US))
            ktap_diag(&out, 1, "cpu %u was still running deferred work %u us after the case", c, WORK_SETTLE_US);
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        if (c != SMP_BOOT_CPU && !smp_cpu_online(c))
            continue; /* absent, or lost: its locks are not safe to touch */
        for (unsigned i = 0; i < lock_held_count(c); i++) {
            const struct spinlock *l = lock_held(c, i);
            char msg[REASON_MAX];
            snprintf(msg, sizeof(msg), "lock '%s' still held by cpu %u at the end of the case",
                     l ? l->name : "?", c);
            ktap_diag(&out, 1, "%s", msg);
            record(t, msg, 0);
        }
        lock_release_all_held(c);
        if (rcu_in_section(c)) {
            char msg[REASON_MAX];
            snprintf(msg, sizeof(msg), "cpu %u was still inside an RCU read-side section at the end of the case", c);
            ktap_diag(&out, 1, "%s", msg);
            record(t, msg, 0);
            rcu_release(c);
        }
    }
    console_abandon_if_owner();
}

static enum ktap_status run_case(const struct test_suite *s, const struct test_case *c, const struct cmdline *cmd,
                                 unsigned number, char *reason, size_t reason_size)
{
    static struct test t; /* static: it outlives a case abandoned by ctx_restore */
    memset(&t, 0, sizeof(t));
    t.suite = s;
    t.tc = c;
    t.cmd = cmd;
    t.number = number;
    uint64_t timeout_ms = c->timeout_ms ? c->timeout_ms : cmd->timeout_ms;
    uint64_t start = clock_ns();

    san_case_start();
    irq_disable();
    int how = ctx_save(&case_ctx);
    if (how == CASE_RETURNED) {
        deadline_tsc = deadline_after_us(timeout_ms * US_PER_MS).tsc;
        current = &t;
        irq_enable();
        c->fn(&t);
        irq_disable();
        current = NULL;
        deadline_tsc = 0;
    }
    /* Whatever the case did, the harness goes on with interrupts on. */
    irq_enable();
    settle_cpus(&t);
    san_case_end();
    run_cleanups(&t);
    /* Work a case left on the boot CPU's queue runs now, not in the next. */
    work_run_here();
    ktap_diag(&out, 1, "duration_us: %lu", (clock_ns() - start) / 1000);
    snprintf(reason, reason_size, "%s", t.reason);
    switch (how) {
    case CASE_TIMED_OUT: return KTAP_TIMEOUT;
    case CASE_EXCEPTION: return KTAP_ERROR;
    case CASE_SKIPPED: return t.failed ? KTAP_FAIL : KTAP_SKIP;
    default: return t.crashed ? KTAP_ERROR : t.failed ? KTAP_FAIL : t.skipped ? KTAP_SKIP : KTAP_PASS;
    }
}

void harness_begin(const struct cmdline *cmd)
{
    unsigned nsuites = 0;
    for (const struct test_suite *s = __test_suites_start; s < __test_suites_end; s++)
        nsuites += selected_cases(s, cmd->tests) > 0;
    ktap_version(&out, 0);
    ktap_plan(&out, 0, nsuites);
    if (!nsuites) {
        char explicit[CASE_NAME_MAX] = "";
        size_t len = 0;
        for (const struct test_suite *s = __test_suites_start; s < __test_suites_end && len < sizeof(explicit); s++)
            if (s->flags & SUITE_EXPLICIT)
                len += (size_t)snprintf(explicit + len, sizeof(explicit) - len, "%s%s", len ? ", " : "", s->name);
        ktap_diag(&out, 0, "vtdlab: no test case matches tests=%s (suites that run only when a pattern starts "
                  "with their name: %s)", cmd->tests, explicit);
    }
}

static struct harness_summary summary;
const struct harness_summary *harness_summary(void) { return &summary; }

static void summarise(const char *suite, const char *name, enum ktap_status st, const char *reason)
{
    if (st == KTAP_PASS || st == KTAP_SKIP)
        return;
    if (summary.nfailed < SUMMARY_FAILED_MAX) {
        snprintf(summary.failed[summary.nfailed].name, SUMMARY_TEXT_MAX, "%s.%s", suite, name);
        snprintf(summary.failed[summary.nfailed].reason, SUMMARY_TEXT_MAX, "%s", reason);
        summary.failed[summary.nfailed].status = st;
    }
    summary.nfailed++;
}

unsigned harness_run(const struct cmdline *cmd)
{
    unsigned counts[KTAP_ERROR + 1] = { 0 }, global = 0;
    trap_set_exception_hook(on_exception);
    lock_set_violation_hook(on_lock_violation);

    unsigned suite_no = 0;
    selected_total = 0;   /* the shell's run command runs the harness again */
    for (const struct test_suite *s = __test_suites_start; s < __test_suites_end; s++)
        selected_total += selected_cases(s, cmd->tests);
    for (const struct test_suite *s = __test_suites_start; s < __test_suites_end; s++) {
        unsigned n = selected_cases(s, cmd->tests), case_no = 0, suite_failed = 0, suite_skipped = 0;
        if (!n)
            continue;
        history_len = 0;
        ktap_version(&out, 1);
        ktap_subtest(&out, 1, s->name);
        ktap_plan(&out, 1, n);
        for (unsigned i = 0; i < s->ncases; i++) {
            const struct test_case *c = &s->cases[i];
            if (!suite_selected(s, cmd->tests, c))
                continue;
            case_no++;
            global++;
            char reason[REASON_MAX];
            enum ktap_status st;
            if (global < cmd->resume) {
                /* Ran in an earlier boot that crashed later; the host tool
                 * keeps that boot's result. */
                st = KTAP_SKIP;
                snprintf(reason, sizeof(reason), "resumed: case %u ran in an earlier boot", global);
            } else {
                ktap_diag(&out, 1, "running: %s.%s", s->name, c->name);
                st = run_case(s, c, cmd, global, reason, sizeof(reason));
            }
            if (st != KTAP_PASS && st != KTAP_SKIP && failure_dump)
                failure_dump();
            /* a failure's reasons are already printed as diagnostics */
            ktap_result(&out, 1, case_no, c->name, st, st == KTAP_FAIL ? NULL : reason);
            counts[st]++;
            summarise(s->name, c->name, st, reason);
            if (history_len < HISTORY_MAX)
                history[history_len++] = st;
            suite_failed += st != KTAP_PASS && st != KTAP_SKIP;
            suite_skipped += st == KTAP_SKIP;
        }
        suite_no++;
        ktap_result(&out, 0, suite_no, s->name,
                    suite_failed ? KTAP_FAIL : suite_skipped == n ? KTAP_SKIP : KTAP_PASS,
                    suite_skipped == n ? "every case skipped" : "");
    }
    trap_set_exception_hook(NULL);
    lock_set_violation_hook(NULL);
    summary.pass = counts[KTAP_PASS];
    summary.fail = counts[KTAP_FAIL];
    summary.skip = counts[KTAP_SKIP];
    summary.timeout = counts[KTAP_TIMEOUT];
    summary.error = counts[KTAP_ERROR];
    unsigned bad = counts[KTAP_FAIL] + counts[KTAP_TIMEOUT] + counts[KTAP_ERROR];
    ktap_diag(&out, 0, "vtdlab: totals: pass=%u fail=%u skip=%u timeout=%u error=%u", counts[KTAP_PASS],
              counts[KTAP_FAIL], counts[KTAP_SKIP], counts[KTAP_TIMEOUT], counts[KTAP_ERROR]);
    return bad;
}

const char *test_platform_suffix(void)
{
    switch (platform_kind()) {
    case PLATFORM_QEMU_TCG: return ", QEMU TCG";
    case PLATFORM_KVM: return ", KVM guest";
    case PLATFORM_OTHER_HYPERVISOR: return ", hypervisor guest";
    default: return "";
    }
}

const char *test_timed_unit(void)
{
    switch (platform_kind()) {
    case PLATFORM_QEMU_TCG: return "TSC cycles, QEMU TCG";
    case PLATFORM_KVM: return "TSC cycles, KVM guest";
    case PLATFORM_OTHER_HYPERVISOR: return "TSC cycles, hypervisor guest";
    default: return "TSC cycles";
    }
}

void test_characterisation(struct test *t, const char *name, int observed, const char *fmt, ...)
{
    char msg[KTAP_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ktap_diag(&out, 1, "characterisation (%s): %s", platform_name(platform_kind()), msg);
    test_metric(t, name, observed ? 1 : 0, "observed");
}
