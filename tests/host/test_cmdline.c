#include "host.h"
#include "kernel/cmdline.h"
#include "lib/errno.h"

static char err[256];

static void defaults_when_empty(void **state)
{
    struct cmdline c;
    assert_int_equal(cmdline_parse("", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tests, CMDLINE_DEFAULT_TESTS);
    assert_int_equal(c.timeout_ms, CMDLINE_DEFAULT_TIMEOUT_MS);
    assert_int_equal(c.resume, 0);
    assert_int_equal(cmdline_parse("   \t ", &c, err, sizeof(err)), 0);
}

static void known_keys_are_parsed(void **state)
{
    struct cmdline c;
    assert_int_equal(cmdline_parse("tests=mm.*,boot.* timeout_ms=250  seed=0x1F resume=7", &c, err, sizeof(err)), 0);
    assert_string_equal(c.tests, "mm.*,boot.*");
    assert_int_equal(c.timeout_ms, 250);
    assert_int_equal(c.seed, 31);
    assert_int_equal(c.resume, 7);
    assert_int_equal(cmdline_parse("trace=mmio,qi", &c, err, sizeof(err)), 0);
    assert_int_equal(c.trace, TRACE_QI | TRACE_MMIO);
    assert_int_equal(cmdline_parse("trace=", &c, err, sizeof(err)), 0);
    assert_int_equal(c.trace, 0);
    assert_int_equal(c.reclaim, CMDLINE_DEFAULT_RECLAIM);
    assert_int_equal(cmdline_parse("reclaim=none", &c, err, sizeof(err)), 0);
    assert_int_equal(c.reclaim, RECLAIM_CHOICE_NONE);
    assert_int_equal(cmdline_parse("reclaim=async-percpu reclaim_flush=all", &c, err, sizeof(err)), 0);
    assert_int_equal(c.reclaim, RECLAIM_CHOICE_ASYNC_PERCPU);
    assert_int_equal(c.reclaim_flush, RECLAIM_FLUSH_CHOICE_ALL);
    assert_int_equal(cmdline_parse("reclaim=rcu", &c, err, sizeof(err)), 0);
    assert_int_equal(c.reclaim, RECLAIM_CHOICE_RCU);
    assert_int_equal(c.reclaim_flush, RECLAIM_FLUSH_CHOICE_RANGE);
    assert_int_equal(c.bench_iters, CMDLINE_DEFAULT_BENCH_ITERS);
    assert_int_equal(cmdline_parse("bench_iters=7 bench_policies=sync,rcu", &c, err, sizeof(err)), 0);
    assert_int_equal(c.bench_iters, 7);
    assert_int_equal(c.bench_policies, BENCH_POLICY(RECLAIM_CHOICE_SYNC) | BENCH_POLICY(RECLAIM_CHOICE_RCU));
    assert_int_equal(c.cpus, 0); /* every CPU the MADT lists */
    assert_int_equal(cmdline_parse("cpus=1", &c, err, sizeof(err)), 0);
    assert_int_equal(c.cpus, 1);
    assert_int_equal(cmdline_parse("cpus=32", &c, err, sizeof(err)), 0);
    assert_int_equal(c.cpus, 32);
    assert_int_equal(c.torture_rounds, 0); /* the kernel build's count */
    assert_int_equal(cmdline_parse("torture_rounds=4", &c, err, sizeof(err)), 0);
    assert_int_equal(c.torture_rounds, 4);
}

static void expect_error(const char *line, const char *fragment)
{
    struct cmdline c;
    err[0] = 0;
    assert_int_equal(cmdline_parse(line, &c, err, sizeof(err)), -E_INVAL);
    if (!strstr(err, fragment))
        fail_msg("cmdline '%s': error '%s' does not mention '%s'", line, err, fragment);
    /* a rejected cmdline leaves nothing half-set */
    assert_string_equal(c.tests, CMDLINE_DEFAULT_TESTS);
    assert_int_equal(c.timeout_ms, CMDLINE_DEFAULT_TIMEOUT_MS);
}

static void shell_is_off_unless_asked_for(void **state)
{
    struct cmdline c;
    assert_int_equal(cmdline_parse("tests=*", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell, SHELL_OFF);
    assert_int_equal(cmdline_parse("shell=1", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell, SHELL_ON);
    assert_int_equal(cmdline_parse("shell=auto", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell, SHELL_AUTO);
    assert_int_equal(cmdline_parse("shell=0", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell, SHELL_OFF);
    expect_error("shell=yes", "'shell' does not know 'yes' (known: 0, 1, auto)");
    expect_error("shell=1,auto", "'shell' takes one value");
    assert_int_equal(c.keep, 0);
    assert_int_equal(cmdline_parse("keep=1 shell=1", &c, err, sizeof(err)), 0);
    assert_int_equal(c.keep, 1);
    expect_error("keep=2", "'keep' is out of range (0..1)");
    /* shell=auto's wait: 5 s unless shell_wait_ms= says otherwise */
    assert_int_equal(cmdline_parse("shell=auto", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell_wait_ms, CMDLINE_DEFAULT_SHELL_WAIT_MS);
    assert_int_equal(cmdline_parse("shell=auto shell_wait_ms=250", &c, err, sizeof(err)), 0);
    assert_int_equal(c.shell_wait_ms, 250);
    expect_error("shell_wait_ms=0", "'shell_wait_ms' is out of range (1..60000)");
    expect_error("shell_wait_ms=60001", "'shell_wait_ms' is out of range (1..60000)");
}

static void bad_input_is_named(void **state)
{
    expect_error("tests=* bogus=1", "unknown key 'bogus'");
    expect_error("tests=* bogus=1", "known: tests, timeout_ms, seed, resume, trace, reclaim, reclaim_flush, cpus, inject, bench_iters, bench_policies");
    expect_error("inject=everything", "does not know 'everything' (known: ap-fault, ap-hang)");
    expect_error("cpus=0", "'cpus' is out of range (1..32): '0'");
    expect_error("cpus=33", "out of range (1..32)");
    expect_error("torture_rounds=1", "'torture_rounds' is out of range (2..1000): '1'");
    expect_error("trace=qi,everything", "does not know 'everything'");
    expect_error("reclaim=lazy", "does not know 'lazy' (known: none, sync, async, async-percpu, rcu)");
    expect_error("reclaim_flush=some", "does not know 'some' (known: range, all)");
    expect_error("bench_iters=0", "'bench_iters' is out of range (1..10000)");
    expect_error("bench_policies=lazy", "'lazy'");
    expect_error("reclaim=none,sync", "takes one value");
    expect_error("reclaim=", "wants a value");
    expect_error("timeout_ms=12x", "wants a number, got '12x'");
    expect_error("timeout_ms=", "wants a number");
    expect_error("timeout_ms=0", "out of range");
    expect_error("seed=0x", "wants a number");
    expect_error("seed=99999999999999999999999", "wants a number");
    expect_error("tests=a tests=b", "given twice");
    expect_error("justaword", "is not key=value");
    expect_error("timeout_ms=5 resume=4294967296", "out of range");
}

static void overlong_value_is_rejected(void **state)
{
    char line[CMDLINE_VALUE_MAX + 16];
    memset(line, 'a', sizeof(line));
    memcpy(line, "tests=", 6);
    line[sizeof(line) - 1] = 0;
    expect_error(line, "longer than");
}

static void console_choices(void **state)
{
    struct cmdline c;
    assert_int_equal(cmdline_parse("", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console, CONSOLE_FIRMWARE);
    assert_int_equal(cmdline_parse("console=com2", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console, CONSOLE_IO);
    assert_int_equal(c.console_addr, 0x2f8);
    assert_int_equal(cmdline_parse("console=io:0x3e8", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console_addr, 0x3e8);
    assert_int_equal(cmdline_parse("console=mmio:0xfe030000", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console, CONSOLE_MMIO);
    assert_int_equal(c.console_addr, 0xfe030000);
    assert_int_equal(cmdline_parse("console=gop", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console, CONSOLE_GOP);
    assert_int_equal(cmdline_parse("console=none", &c, err, sizeof(err)), 0);
    assert_int_equal(c.console, CONSOLE_NONE);
    assert_int_equal(cmdline_parse("console=com3", &c, err, sizeof(err)), -E_INVAL);
    assert_non_null(strstr(err, "takes com1, com2, io:PORT, mmio:ADDR, gop or none, got 'com3'"));
    assert_int_equal(cmdline_parse("console=io:0x10000", &c, err, sizeof(err)), -E_INVAL);
    assert_non_null(strstr(err, "not a usable UART address"));
    assert_int_equal(cmdline_parse("console=mmio:0xfe030001", &c, err, sizeof(err)), -E_INVAL);
    assert_int_equal(cmdline_parse("console=io:", &c, err, sizeof(err)), -E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(console_choices),
        cmocka_unit_test(defaults_when_empty),
        cmocka_unit_test(known_keys_are_parsed),
        cmocka_unit_test(shell_is_off_unless_asked_for),
        cmocka_unit_test(bad_input_is_named),
        cmocka_unit_test(overlong_value_is_rejected),
    };
    return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
