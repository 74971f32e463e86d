/* SMBIOS entry points and the type 0/1 names (kernel/smbios.c), against
 * literal bytes laid out as DSP0134 gives them (QEMU's q35 values). */
#include "host.h"
#include "kernel/smbios.h"
#include "lib/errno.h"

/* 3.0: table at 0x7fe3f000, at most 0x5c bytes. */
static const uint8_t ep3[] = { 0x5f, 0x53, 0x4d, 0x33, 0x5f, 0xa5, 0x18, 0x03, 0x00, 0x00, 0x01, 0x00,
                               0x5c, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xe3, 0x7f, 0x00, 0x00, 0x00, 0x00 };
/* 2.8 with its _DMI_ part: table at 0xf0e00, 0x5c bytes, 3 structures. */
static const uint8_t ep2[] = { 0x5f, 0x53, 0x4d, 0x5f, 0x78, 0x1f, 0x02, 0x08, 0x00, 0x01, 0x00,
                               0x00, 0x00, 0x00, 0x00, 0x00, 0x5f, 0x44, 0x4d, 0x49, 0x5f, 0xc4,
                               0x5c, 0x00, 0x00, 0x0e, 0x0f, 0x00, 0x03, 0x00, 0x28 };

/* Type 0 (BIOS: vendor 1, version 2), type 1 (system: manufacturer 1,
 * product 2), type 127 (end). */
static const uint8_t table[] = {
    0x00, 0x18, 0x00, 0x00, 0x01, 0x02, 0x00, 0xe8, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    'E', 'D', 'K', ' ', 'I', 'I', 0, 'u', 'n', 'k', 'n', 'o', 'w', 'n', 0, 0,
    0x01, 0x1b, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    'Q', 'E', 'M', 'U', 0, 'S', 't', 'a', 'n', 'd', 'a', 'r', 'd', ' ', 'P', 'C', ' ', '(', 'Q', '3', '5',
    ' ', '+', ' ', 'I', 'C', 'H', '9', ',', ' ', '2', '0', '0', '9', ')', 0, 0,
    0x7f, 0x04, 0x02, 0x00, 0, 0,
};

static void entry_points(void **state)
{
    struct smbios_entry e;
    const char *why = NULL;
    assert_int_equal(smbios_entry_parse(ep3, sizeof(ep3), &e, &why), 0);
    assert_int_equal(e.major, 3);
    assert_int_equal(e.table, 0x7fe3f000ul);
    assert_int_equal(e.table_len, 0x5c);
    assert_int_equal(smbios_entry_parse(ep2, sizeof(ep2), &e, &why), 0);
    assert_int_equal(e.major, 2);
    assert_int_equal(e.minor, 8);
    assert_int_equal(e.table, 0xf0e00);
    assert_int_equal(e.table_len, 0x5c);
}

static void bad_entry_points(void **state)
{
    struct smbios_entry e;
    const char *why = NULL;
    uint8_t bad[sizeof(ep3)];
    memcpy(bad, ep3, sizeof(bad));
    bad[0x10] ^= 1;   /* the table address changed: the checksum no longer holds */
    assert_int_equal(smbios_entry_parse(bad, sizeof(bad), &e, &why), -E_INVAL);
    assert_non_null(strstr(why, "checksum"));
    uint8_t bad2[sizeof(ep2)];
    memcpy(bad2, ep2, sizeof(bad2));
    bad2[0x17] ^= 1;  /* inside _DMI_: its own checksum fails (and the whole one) */
    assert_int_equal(smbios_entry_parse(bad2, sizeof(bad2), &e, &why), -E_INVAL);
    assert_int_equal(smbios_entry_parse(ep3, 10, &e, &why), -E_INVAL);   /* truncated */
    assert_non_null(strstr(why, "no SMBIOS anchor"));
}

static void scan_prefers_the_3_0_anchor(void **state)
{
    static uint8_t area[0x100];
    memset(area, 0, sizeof(area));
    memcpy(area + 0x20, ep2, sizeof(ep2));
    assert_int_equal(smbios_scan(area, sizeof(area)), 0x20);
    memcpy(area + 0x80, ep3, sizeof(ep3));
    assert_int_equal(smbios_scan(area, sizeof(area)), 0x80);
    memcpy(area + 0x41, "_SM3_", 5);  /* not on a paragraph boundary: not an anchor */
    assert_int_equal(smbios_scan(area, 0x80), 0x20);
}

static void names_from_the_table(void **state)
{
    struct smbios_system s;
    assert_int_equal(smbios_system(table, sizeof(table), &s), 0);
    assert_string_equal(s.manufacturer, "QEMU");
    assert_string_equal(s.product, "Standard PC (Q35 + ICH9, 2009)");
    assert_string_equal(s.bios_vendor, "EDK II");
    assert_string_equal(s.bios_version, "unknown");
    /* cut inside the system structure's strings: refused, nothing made up */
    assert_int_equal(smbios_system(table, 60, &s), -E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entry_points),
        cmocka_unit_test(bad_entry_points),
        cmocka_unit_test(scan_prefers_the_3_0_anchor),
        cmocka_unit_test(names_from_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
