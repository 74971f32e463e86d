#include "host.h"
#include "harness/ktap.h"

static char out[4096];
static size_t len;

static void sink(void *arg, const char *s, size_t n)
{
    assert_true(len + n < sizeof(out));
    memcpy(out + len, s, n);
    len += n;
    out[len] = 0;
}

static const struct ktap k = { sink, NULL };

static int reset(void **state)
{
    len = 0;
    out[0] = 0;
    return 0;
}

static void nested_suite_layout(void **state)
{
    ktap_version(&k, 0);
    ktap_plan(&k, 0, 1);
    ktap_version(&k, 1);
    ktap_subtest(&k, 1, "boot");
    ktap_plan(&k, 1, 2);
    ktap_result(&k, 1, 1, "a", KTAP_PASS, NULL);
    ktap_result(&k, 1, 2, "b", KTAP_SKIP, "no HPET");
    ktap_result(&k, 0, 1, "boot", KTAP_PASS, "");
    assert_string_equal(out, "KTAP version 1\n1..1\n"
                             "    KTAP version 1\n    # Subtest: boot\n    1..2\n"
                             "    ok 1 a\n    ok 2 b # SKIP no HPET\n"
                             "ok 1 boot\n");
}

static void failure_directives(void **state)
{
    ktap_result(&k, 2, 3, "t", KTAP_TIMEOUT, "deadline of 200 ms passed");
    ktap_result(&k, 0, 4, "e", KTAP_ERROR, "#PF page fault\nat x");
    ktap_result(&k, 0, 5, "f", KTAP_FAIL, "why");
    assert_string_equal(out, "        not ok 3 t # TIMEOUT deadline of 200 ms passed\n"
                             "not ok 4 e # ERROR #PF page fault at x\n"
                             "# why\nnot ok 5 f\n");
}

/* A passing case's note is the result line's comment (test_note). */
static void a_pass_carries_its_note(void **state)
{
    ktap_result(&k, 1, 1, "a", KTAP_PASS, "device: Intel DSA\nat 00:04.0");
    assert_string_equal(out, "    ok 1 a # device: Intel DSA at 00:04.0\n");
}

static void diagnostics_split_lines(void **state)
{
    ktap_diag(&k, 1, "one %d\ntwo", 1);
    assert_string_equal(out, "    # one 1\n    # two\n");
}

static void status_names(void **state)
{
    assert_string_equal(ktap_status_name(KTAP_TIMEOUT), "timeout");
    assert_string_equal(ktap_status_name((enum ktap_status)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(nested_suite_layout, reset),
        cmocka_unit_test_setup(failure_directives, reset),
        cmocka_unit_test_setup(a_pass_carries_its_note, reset),
        cmocka_unit_test_setup(diagnostics_split_lines, reset),
        cmocka_unit_test_setup(status_names, reset),
    };
    return cmocka_run_group_tests_name("ktap", tests, NULL, NULL);
}
