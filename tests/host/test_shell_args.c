/* shell/shell_args.c: the shell's words, numbers and PCI addresses, and
 * what it refuses. */
#include <string.h>
#include "host.h"
#include "shell/shell_args.h"
#include "lib/errno.h"

static void splits_at_spaces_and_tabs(void **state)
{
    char line[] = "  walk\t00:04.0  0x1000 ";
    char *argv[SHELL_ARGS_MAX];
    assert_int_equal(shell_split(line, argv, SHELL_ARGS_MAX), 3);
    assert_string_equal(argv[0], "walk");
    assert_string_equal(argv[1], "00:04.0");
    assert_string_equal(argv[2], "0x1000");
    char empty[] = " \t ";
    assert_int_equal(shell_split(empty, argv, SHELL_ARGS_MAX), 0);
    char many[] = "a b c";
    assert_int_equal(shell_split(many, argv, 2), -E_RANGE);
}

static void numbers_decimal_and_hex_only(void **state)
{
    uint64_t v = 7;
    assert_int_equal(shell_number("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(shell_number("0xFfff000", &v), 0);
    assert_int_equal(v, 0xffff000);
    assert_int_equal(shell_number("0xffffffffffffffff", &v), 0);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(shell_number("0x1ffffffffffffffff", &v), -E_RANGE);
    assert_int_equal(shell_number("12a", &v), -E_INVAL);
    assert_int_equal(shell_number("0x", &v), -E_INVAL);
    assert_int_equal(shell_number("", &v), -E_INVAL);
    assert_int_equal(shell_number("-1", &v), -E_INVAL);
    assert_int_equal(v, 7);   /* untouched by what it refused */
}

static void bdf_as_lspci_prints_it(void **state)
{
    uint8_t b = 9, d = 9, f = 9;
    assert_int_equal(shell_bdf("00:04.0", &b, &d, &f), 0);
    assert_int_equal(b, 0); assert_int_equal(d, 4); assert_int_equal(f, 0);
    assert_int_equal(shell_bdf("3a:1f.7", &b, &d, &f), 0);
    assert_int_equal(b, 0x3a); assert_int_equal(d, 0x1f); assert_int_equal(f, 7);
    assert_int_equal(shell_bdf("3a:20.0", &b, &d, &f), -E_INVAL);   /* device past 1f */
    assert_int_equal(shell_bdf("00:04.8", &b, &d, &f), -E_INVAL);   /* function past 7 */
    assert_int_equal(shell_bdf("100:04.0", &b, &d, &f), -E_INVAL);  /* bus past ff */
    assert_int_equal(shell_bdf("00:04", &b, &d, &f), -E_INVAL);
    assert_int_equal(shell_bdf("00.04:0", &b, &d, &f), -E_INVAL);
    assert_int_equal(shell_bdf("00:04.0x", &b, &d, &f), -E_INVAL);
    assert_int_equal(shell_bdf(":04.0", &b, &d, &f), -E_INVAL);
    assert_int_equal(b, 0x3a);   /* untouched by what it refused */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splits_at_spaces_and_tabs),
        cmocka_unit_test(numbers_decimal_and_hex_only),
        cmocka_unit_test(bdf_as_lspci_prints_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
