/* lib/format.c against the host's printf for the conversions it supports. */
#include "host.h"
#include "lib/format.h"
#include "lib/glob.h"

#define BUF 128

#define SAME(...)                                                        \
    do {                                                                 \
        char ours[BUF], host[BUF];                                       \
        int a = ksnprintf(ours, sizeof(ours), __VA_ARGS__);              \
        int b = snprintf(host, sizeof(host), __VA_ARGS__);               \
        assert_string_equal(ours, host);                                 \
        assert_int_equal(a, b);                                          \
    } while (0)

static void conversions_match_printf(void **state)
{
    SAME("%d %i %u", -42, 7, 3000000000u);
    SAME("%x %X %o", 0xdeadbeefu, 0xabcu, 8u);
    SAME("%lx %lu %ld", 0xffffffffffffffffUL, 18446744073709551615UL, -9223372036854775807L - 1);
    SAME("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
    SAME("%.3d %8.3d %-8.3d|", 7, 7, 7);
    SAME("%s|%10s|%-10s|%.2s", "abc", "abc", "abc", "abc");
    SAME("%*d|%-*d|%.*s", 6, 1, 6, 1, 3, "abcdef");
    SAME("%c%c %%", 'o', 'k');
    SAME("%hhu %hu %zu", (unsigned char)300, (unsigned short)70000, (size_t)12345);
    SAME("%016lx", 0x1234UL);
    SAME("%p", (void *)0x1000);
    SAME("%.0d|%d", 0, 0);
}

static void truncation_keeps_length_and_terminator(void **state)
{
    char buf[8];
    int n = ksnprintf(buf, sizeof(buf), "%s", "0123456789");
    assert_int_equal(n, 10);
    assert_string_equal(buf, "0123456");
    assert_int_equal(ksnprintf(NULL, 0, "%d", 12345), 5);
}

static void null_string_is_printed_safely(void **state)
{
    char buf[16];
    ksnprintf(buf, sizeof(buf), "%s", (char *)NULL);
    assert_string_equal(buf, "(null)");
}

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
    assert_true(glob_list_match("mm.*,boot.*", "boot.clock"));
    assert_false(glob_list_match("mm.*,boot.*", "selftest.x"));
    assert_false(glob_list_match(",,", "x"));
    assert_true(glob_list_match(",x,", "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conversions_match_printf),
        cmocka_unit_test(truncation_keeps_length_and_terminator),
        cmocka_unit_test(null_string_is_printed_safely),
        cmocka_unit_test(glob_matches_like_a_shell),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
