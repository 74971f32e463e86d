/* The kernel's cmdline: space-separated key=value pairs from \vtdlab\cmdline
 * or the host tool. Pure: host-tested. */
#ifndef VTDLAB_CMDLINE_H
#define VTDLAB_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

#define CMDLINE_VALUE_MAX 256

struct cmdline {
    char tests[CMDLINE_VALUE_MAX]; /* comma-separated globs over suite.case */
    uint64_t timeout_ms;           /* a case's deadline unless it sets its own */
    uint64_t seed;                 /* for tests that randomise */
    uint64_t resume;               /* first case number to run (after a crash) */
    uint64_t trace;                /* TRACE_* bits */
    uint64_t reclaim;              /* RECLAIM_CHOICE_*: the policy for freeing page-table pages */
    uint64_t reclaim_flush;        /* RECLAIM_FLUSH_CHOICE_*: what a deferred batch flushes */
    uint64_t cpus;                 /* CPUs to bring up, boot CPU included; 0: every one listed */
    uint64_t inject;               /* INJECT_* bits: bring-up failures on purpose, for bad-input tests */
    uint64_t bench_iters;          /* repetitions of each benchmark measurement */
    uint64_t torture_rounds;       /* the reclaim torture's rounds a policy; 0: the build's */
    uint64_t bench_policies;       /* BENCH_POLICY(RECLAIM_CHOICE_*) bits; 0: every policy */
    uint64_t console;              /* CONSOLE_*: where the log goes */
    uint64_t console_addr;         /* its I/O port or MMIO address */
    uint64_t screen_hold_ms;       /* keep the screen summary up this long before exiting */
    uint64_t shell;                /* SHELL_*: a command shell on the serial console after the run */
    uint64_t keep;                 /* 1: the run's last case leaves its unit and tables up (for the shell) */
    uint64_t shell_wait_ms;        /* shell=auto: how long a key is waited for after the run */
};
/* shell=0|1|auto: none (the default), a prompt after the run, or a few
 * seconds' wait for a key after it (for images written to a USB stick). */
enum { SHELL_OFF, SHELL_ON, SHELL_AUTO };
/* shell_wait_ms=MS: shell=auto's wait for a key (1..SHELL_WAIT_MAX_MS). */
#define CMDLINE_DEFAULT_SHELL_WAIT_MS 5000u
#define SHELL_WAIT_MAX_MS 60000u
#define SCREEN_HOLD_MAX_MS 60000u
/* The line after which the summary is on the screen (the host tool's
 * --screendump waits for it). */
#define SCREEN_SUMMARY_MARK "vtdlab: summary on screen"


/* console=com1|com2|io:PORT|mmio:ADDR|gop|none. Without it the ACPI SPCR
 * table's port is used when there is one, else COM1. gop and none turn the
 * serial console off (the framebuffer console draws wherever there is one). */
enum { CONSOLE_FIRMWARE, CONSOLE_IO, CONSOLE_MMIO, CONSOLE_GOP, CONSOLE_NONE };
#define CONSOLE_COM1 0x3f8
#define CONSOLE_COM2 0x2f8

/* reclaim=none|sync|async|async-percpu|rcu, reclaim_flush=range|all
 * (mm/reclaim.h has what each means; the values are its enums'). The one
 * place the names are written: cmdline.c parses reclaim=, reclaim_flush=
 * and bench_policies= with these lists, mm/reclaim.c prints its names from
 * them, and tools/vtdlabtool/bench.py reads the policies from this file. */
#define RECLAIM_POLICY_LIST(X)                                                                   \
    X(RECLAIM_CHOICE_NONE, "none") X(RECLAIM_CHOICE_SYNC, "sync") X(RECLAIM_CHOICE_ASYNC, "async") \
    X(RECLAIM_CHOICE_ASYNC_PERCPU, "async-percpu") X(RECLAIM_CHOICE_RCU, "rcu")
#define RECLAIM_FLUSH_LIST(X) X(RECLAIM_FLUSH_CHOICE_RANGE, "range") X(RECLAIM_FLUSH_CHOICE_ALL, "all")
#define RECLAIM_CHOICE_ENUM(choice, name) choice,
enum { RECLAIM_POLICY_LIST(RECLAIM_CHOICE_ENUM) RECLAIM_CHOICES };
enum { RECLAIM_FLUSH_LIST(RECLAIM_CHOICE_ENUM) RECLAIM_FLUSH_CHOICES };
#define CMDLINE_DEFAULT_RECLAIM RECLAIM_CHOICE_SYNC

/* trace=qi,mmio: log every invalidation descriptor submitted; keep a ring
 * of every VT-d register access, dumped when a case fails or on panic. */
#define TRACE_QI   (1u << 0)
#define TRACE_MMIO (1u << 1)

/* The most CPUs cpus= may ask for (SMP_MAX_CPUS, kernel/smp.h). */
#define CMDLINE_MAX_CPUS 32

/* inject=ap-fault,ap-hang: the first AP faults during bring-up, or never
 * reports in (the kernel must report it and go on without it). */
#define INJECT_AP_FAULT (1u << 0)
#define INJECT_AP_HANG  (1u << 1)

/* torture_rounds=N: the reclaim torture's victim rounds under each policy
 * (tests/kernel/reclaim_torture.c), for a run that pays for a device's
 * rounds elsewhere; at least 2, since a fix must get its frame back in half
 * of them. Unset, the kernel build's own count. */
#define TORTURE_ROUNDS_MIN 2u
#define TORTURE_ROUNDS_MAX 1000u

/* bench_iters=N (1..BENCH_ITERS_MAX), bench_policies=sync,async,...: what
 * the bench_* suites measure. */
#define BENCH_ITERS_MAX         10000u
#define CMDLINE_DEFAULT_BENCH_ITERS 100u
#define BENCH_POLICY(choice)    (1u << (choice))

#define CMDLINE_DEFAULT_TESTS      "*"
#define CMDLINE_DEFAULT_TIMEOUT_MS 10000

void cmdline_defaults(struct cmdline *c);
/* Fills c from s. On error returns -E_INVAL with a one-line reason in err
 * and leaves c with the defaults. */
int cmdline_parse(const char *s, struct cmdline *c, char *err, size_t errlen);

#endif
