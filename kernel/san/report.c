/* The sanitizers' one report path (san.h). Never instrumented (Makefile:
 * SAN_EXEMPT): a check tripping inside it would report from the report. */
#include <stdio.h>
#include "san.h"
#include "kasan.h"
#include "lockdep.h"
#include "../../harness/harness.h"
#include "../printk.h"
#include "../smp.h"
#include "../traps.h"
#include "../../lib/atomic.h"

static const char *const kind_names[SAN_KINDS] = { [SAN_UBSAN] = "ubsan", [SAN_LOCKDEP] = "lockdep",
                                                 [SAN_KASAN] = "kasan",
                                                 [SAN_KCSAN] = "kcsan" };

int san_built_with(enum san_kind kind)
{
    switch (kind) {
#ifdef VTDLAB_SAN_UBSAN
    case SAN_UBSAN: return 1;
#endif
#ifdef VTDLAB_SAN_LOCKDEP
    case SAN_LOCKDEP: return 1;
#endif
#ifdef VTDLAB_SAN_KASAN
    case SAN_KASAN: return 1;
#endif
#ifdef VTDLAB_SAN_KCSAN
    case SAN_KCSAN: return 1;
#endif
    default: return 0;
    }
}

/* Per CPU, written by that CPU only (san_case_start runs with every AP
 * idle): where it is in a report. */
enum { REPORT_IDLE, REPORT_DESCRIBING, REPORT_PRINTING };
static int reporting[SMP_MAX_CPUS];
/* Reports in the running case, from every CPU, and their kind's name once
 * one went unprinted. */
static unsigned case_reports;
static const char *unprinted_kind;
static struct san_capture *capture;

void san_case_start(void)
{
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        WRITE_ONCE(reporting[c], REPORT_IDLE);
    WRITE_ONCE(case_reports, 0);
    WRITE_ONCE(unprinted_kind, NULL);
#ifdef VTDLAB_SAN_LOCKDEP
    lockdep_case_start();
#endif
#ifdef VTDLAB_SAN_KASAN
    kasan_case_start();
#endif
}

void san_capture_arm(struct san_capture *c, enum san_kind kind)
{
    c->kind = kind;
    c->count = 0;
    c->ready = 0;
    c->text[0] = 0;
    store_release(&capture, c);
}

void san_capture_disarm(void) { store_release(&capture, NULL); }

/* A captured report: the first one's summary is kept, the rest counted. */
static int captured(enum san_kind kind, const char *summary)
{
    struct san_capture *c = load_acquire(&capture);
    if (!c || c->kind != kind)
        return 0;
    if (atomic_fetch_add(&c->count, 1) == 0) {
        snprintf(c->text, sizeof(c->text), "%s", summary);
        store_release(&c->ready, 1);
    }
    return 1;
}

void san_case_end(void)
{
    unsigned n = READ_ONCE(case_reports);
    if (n > SAN_REPORTS_PER_CASE)
        printk("    # %s: %u more reports in this case were not printed\n", READ_ONCE(unprinted_kind),
               n - SAN_REPORTS_PER_CASE);
}

int san_in_report(void) { return READ_ONCE(reporting[smp_cpu_id()]) != REPORT_IDLE; }

int san_describe_begin(enum san_kind kind)
{
    unsigned cpu = smp_cpu_id();
    if (READ_ONCE(reporting[cpu]) != REPORT_IDLE) {
        printk("    # %s: a finding while this CPU was reporting one, dropped\n", kind_names[kind]);
        return 0;
    }
    WRITE_ONCE(reporting[cpu], REPORT_DESCRIBING);
    return 1;
}

void san_report(enum san_kind kind, const char *summary, const char *detail, uint64_t rbp)
{
    unsigned cpu = smp_cpu_id();
    if (READ_ONCE(reporting[cpu]) == REPORT_PRINTING) {
        printk("    # %s: a report inside a report, dropped: %s\n", kind_names[kind], summary);
        return;
    }
    WRITE_ONCE(reporting[cpu], REPORT_PRINTING);
    if (captured(kind, summary)) {
        WRITE_ONCE(reporting[cpu], REPORT_IDLE);
        return;
    }
    unsigned n = atomic_fetch_add(&case_reports, 1);
    if (n < SAN_REPORTS_PER_CASE) {
        printk("    # %s: %s\n", kind_names[kind], summary);
        for (const char *line = detail; line && *line;) {
            const char *end = line;
            while (*end && *end != '\n')
                end++;
            printk("    #   %.*s\n", (int)(end - line), line);
            line = *end ? end + 1 : end;
        }
        trap_backtrace(rbp, "    #", 0);
    } else if (n == SAN_REPORTS_PER_CASE) {
        /* How many went unprinted is said once, when the case ends
         * (san_case_end). */
        WRITE_ONCE(unprinted_kind, kind_names[kind]);
    }
    char reason[SAN_TEXT_MAX + 16];
    snprintf(reason, sizeof(reason), "%s: %s", kind_names[kind], summary);
    if (!harness_fail_running(reason))
        panic("%s outside any test case", reason);
    WRITE_ONCE(reporting[cpu], REPORT_IDLE);
}
