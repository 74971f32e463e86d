/* lib/glob.c: how tests= selects cases. */
#include "host.h"
#include "lib/glob.h"

static void glob_matches_like_a_shell(void **state)
{
    assert_true(glob_match("*", "boot.memory_map"));
    assert_true(glob_match("boot.*", "boot.memory_map"));
    assert_false(glob_match("boot.*", "mm.boot"));
    assert_true(glob_match("*.kva_*_leaf", "mm.kva_2m_leaf"));
    assert_true(glob_match("b??t.x", "boot.x"));
    assert_false(glob_match("b?t.x", "boot.x"));
    assert_true(glob_match("", ""));
    assert_false(glob_match("", "a"));
    assert_true(glob_match("a*b*c", "aXXbYYc"));
    assert_false(glob_match("a*b*c", "aXXbYY"));
    assert_true(glob_match("**", ""));
}

static void lists_match_any_member(void **state)
{
    assert_true(glob_list_match("mm.*,boot.*", "boot.clock"));
    assert_false(glob_list_match("mm.*,boot.*", "selftest.x"));
    assert_false(glob_list_match(",,", "x"));
    assert_true(glob_list_match(",x,", "x"));
    assert_false(glob_list_match("", "x"));
}

static void an_excluding_pattern_takes_out_what_it_matches(void **state)
{
    assert_true(glob_list_match("*,-smp.*", "boot.clock"));
    assert_false(glob_list_match("*,-smp.*", "smp.lock"));
    assert_false(glob_list_match("-smp.*,*", "smp.lock"));      /* wherever it stands */
    assert_false(glob_list_match("-smp.*", "boot.clock"));       /* excluding alone selects nothing */
    assert_true(glob_list_match("smp.*,-smp.lock", "smp.rcu"));
    assert_false(glob_list_match("smp.*,-smp.lock", "smp.lock"));
    assert_true(glob_list_match("*,-", "boot.clock"));           /* "-" alone excludes only "" */
    assert_false(glob_list_names("*,-selftest.*", "selftest")); /* excluding never names a suite */
}

static void explicit_suites_are_named_literally(void **state)
{
    assert_true(glob_list_names("selftest.*", "selftest"));
    assert_true(glob_list_names("selftest*", "selftest"));
    assert_true(glob_list_names("boot.*,selftest", "selftest"));
    assert_true(glob_list_names("selftest.fails_on_purpose", "selftest"));
    assert_false(glob_list_names("*", "selftest"));
    assert_false(glob_list_names("self*", "selftest"));
    assert_false(glob_list_names("selftests.*", "selftest"));
    assert_false(glob_list_names("", "selftest"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob_matches_like_a_shell),
        cmocka_unit_test(lists_match_any_member),
        cmocka_unit_test(an_excluding_pattern_takes_out_what_it_matches),
        cmocka_unit_test(explicit_suites_are_named_literally),
    };
    return cmocka_run_group_tests_name("glob", tests, NULL, NULL);
}
