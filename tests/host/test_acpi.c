/* ACPI table checks and parsers on tables built here, good and malformed. */
#include "host.h"
#include "kernel/acpi_tables.h"

static void fix_checksum(struct acpi_header *h)
{
    h->checksum = 0;
    h->checksum = (uint8_t)(0x100 - acpi_checksum(h, h->length));
}

static struct acpi_header *table(uint8_t *buf, const char *sig, uint32_t length)
{
    struct acpi_header *h = (struct acpi_header *)buf;
    memset(buf, 0, length);
    memcpy(h->signature, sig, 4);
    h->length = length;
    h->revision = 1;
    return h;
}

static void rsdp_checks(void **state)
{
    struct acpi_rsdp r;
    memset(&r, 0, sizeof(r));
    memcpy(r.signature, "RSD PTR ", 8);
    r.revision = 2;
    r.length = sizeof(r);
    r.xsdt_address = 0x7fe0000;
    r.checksum = (uint8_t)(0x100 - acpi_checksum(&r, ACPI_RSDP_V1_LENGTH));
    r.extended_checksum = (uint8_t)(0x100 - acpi_checksum(&r, sizeof(r)));
    assert_null(acpi_rsdp_check(&r));

    struct acpi_rsdp bad = r;
    bad.signature[0] = 'X';
    assert_non_null(strstr(acpi_rsdp_check(&bad), "signature"));
    bad = r;
    bad.oem_id[0] ^= 1;
    assert_non_null(strstr(acpi_rsdp_check(&bad), "checksum"));
    bad = r;
    bad.xsdt_address ^= 0x1000;
    assert_non_null(strstr(acpi_rsdp_check(&bad), "extended checksum"));
    const char *root;
    assert_int_equal(acpi_root_address(&r, &root), 0x7fe0000);
    assert_string_equal(root, "XSDT");

    /* ACPI 1.0 (revision 0): 20 bytes, an RSDT, no extended checksum. */
    struct acpi_rsdp v1;
    memset(&v1, 0, sizeof(v1));
    memcpy(v1.signature, "RSD PTR ", 8);
    v1.rsdt_address = 0x0fffe000;
    v1.length = 0xdeadbeef; /* not an ACPI 1.0 field: ignored */
    v1.checksum = (uint8_t)(0x100 - acpi_checksum(&v1, ACPI_RSDP_V1_LENGTH));
    assert_null(acpi_rsdp_check(&v1));
    assert_int_equal(acpi_root_address(&v1, &root), 0x0fffe000);
    assert_string_equal(root, "RSDT");
    v1.rsdt_address = 0;
    v1.checksum = 0;
    v1.checksum = (uint8_t)(0x100 - acpi_checksum(&v1, ACPI_RSDP_V1_LENGTH));
    assert_non_null(strstr(acpi_rsdp_check(&v1), "no RSDT address"));
}

static void table_length_and_checksum(void **state)
{
    uint8_t buf[64];
    struct acpi_header *h = table(buf, "TEST", sizeof(buf));
    fix_checksum(h);
    assert_null(acpi_table_check(h, sizeof(buf)));
    assert_non_null(strstr(acpi_table_check(h, sizeof(buf) - 1), "past what was mapped"));
    assert_non_null(strstr(acpi_table_check(h, 10), "shorter than its header"));
    buf[50] ^= 0xff;
    assert_non_null(strstr(acpi_table_check(h, sizeof(buf)), "checksum"));
    h->length = 12;
    assert_non_null(strstr(acpi_table_check(h, sizeof(buf)), "shorter than a header"));
}

static void xsdt_entries_unaligned(void **state)
{
    uint8_t buf[36 + 16];
    struct acpi_header *h = table(buf, "XSDT", sizeof(buf));
    uint64_t a = 0x1122334455667788ull, b = 0x7fe1000;
    memcpy(buf + 36, &a, 8);
    memcpy(buf + 44, &b, 8);
    assert_int_equal(acpi_root_count(h), 2);
    assert_int_equal(acpi_root_entry(h, 0), a);
    assert_int_equal(acpi_root_entry(h, 1), b);
}

/* An RSDT's entries are 32 bits wide: 3 in 12 bytes, at odd offsets. */
static void rsdt_entries_are_32_bits(void **state)
{
    uint8_t buf[36 + 12];
    struct acpi_header *h = table(buf, "RSDT", sizeof(buf));
    const uint8_t entries[] = { 0x00, 0xe0, 0xff, 0x0f, 0x40, 0xe1, 0xff, 0x0f, 0x80, 0xe1, 0xff, 0x0f };
    memcpy(buf + 36, entries, sizeof(entries));
    assert_int_equal(acpi_root_count(h), 3);
    assert_int_equal(acpi_root_entry(h, 0), 0x0fffe000);
    assert_int_equal(acpi_root_entry(h, 1), 0x0fffe140);
    assert_int_equal(acpi_root_entry(h, 2), 0x0fffe180);
}

/* The SPCR iasl compiles from tests/acpi/spcr-com2.asl: COM2 (I/O port
 * 0x2f8, 8-bit registers, byte access), a 16550, baud code 7. */
static const uint8_t spcr_com2[80] = {
    0x53, 0x50, 0x43, 0x52, 0x50, 0x00, 0x00, 0x00, 0x02, 0x76, 0x56, 0x54, 0x44, 0x4c, 0x41, 0x42,
    0x43, 0x4f, 0x4d, 0x32, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x49, 0x4e, 0x54, 0x4c,
    0x25, 0x09, 0x20, 0x20, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x01, 0xf8, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void spcr_names_com2(void **state)
{
    uint8_t t[sizeof(spcr_com2)];
    memcpy(t, spcr_com2, sizeof(t));
    const struct acpi_header *h = (const struct acpi_header *)t;
    assert_null(acpi_table_check(h, sizeof(t)));
    struct spcr_info sp;
    assert_null(acpi_spcr_parse(h, &sp));
    assert_int_equal(sp.interface_type, SPCR_16550);
    assert_int_equal(sp.space, GAS_SYSTEM_IO);
    assert_int_equal(sp.address, 0x2f8);
    assert_int_equal(sp.bit_width, 8);
    assert_int_equal(sp.baud, 115200);
    /* an MMIO 16550 with 32-bit registers (interface 0x12), baud as left */
    t[36] = 0x12;
    t[40] = 0;
    t[41] = 32;
    t[43] = 3;
    memcpy(t + 44, "\x00\x00\x00\xfe\x00\x00\x00\x00", 8);
    t[58] = 0;
    assert_null(acpi_spcr_parse(h, &sp));
    assert_int_equal(sp.space, GAS_SYSTEM_MEMORY);
    assert_int_equal(sp.address, 0xfe000000);
    assert_int_equal(sp.access_size, 3);
    assert_int_equal(sp.baud, 0);
    /* refused: an ARM PL011 (type 3), a baud code the spec lacks, a short table */
    t[36] = 0x03;
    assert_non_null(strstr(acpi_spcr_parse(h, &sp), "not a 16550"));
    t[36] = 0x00;
    t[58] = 5;
    assert_non_null(strstr(acpi_spcr_parse(h, &sp), "baud rate code"));
    t[58] = 7;
    ((struct acpi_header *)t)->length = 60;
    assert_non_null(strstr(acpi_spcr_parse(h, &sp), "shorter"));
}

/* MADT as QEMU's q35 lays it out: one local APIC, one I/O APIC, overrides. */
static size_t madt_build(uint8_t *buf, int corrupt_last)
{
    size_t off = MADT_ENTRIES_OFFSET;
    uint32_t lapic = 0xfee00000;
    memcpy(buf + 36, &lapic, 4);
    const uint8_t lapic_entry[8] = { MADT_LOCAL_APIC, 8, 0, 0, MADT_LAPIC_ENABLED, 0, 0, 0 };
    const uint8_t disabled_entry[8] = { MADT_LOCAL_APIC, 8, 1, 1, 0, 0, 0, 0 };
    const uint8_t ioapic_entry[12] = { MADT_IO_APIC, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0 };
    const uint8_t override_entry[10] = { MADT_INT_OVERRIDE, 10, 0, 0, 2, 0, 0, 0, 0, 0 };
    memcpy(buf + off, lapic_entry, 8), off += 8;
    memcpy(buf + off, disabled_entry, 8), off += 8;
    memcpy(buf + off, ioapic_entry, 12), off += 12;
    memcpy(buf + off, override_entry, 10), off += 10;
    if (corrupt_last)
        buf[off - 9] = 200; /* the override claims to run past the table */
    return off;
}

/* ACPI 6.5 5.2.12.2 and 5.2.12.12, bytes as a firmware writes them: APIC
 * ids 0 and 3 enabled, 1 disabled, x2APIC id 0x100 enabled, one duplicate,
 * one online-capable-only. */
static void madt_lists_enabled_cpu_ids(void **state)
{
    uint8_t buf[256];
    struct acpi_header *h = table(buf, "APIC", sizeof(buf));
    const uint8_t entries[] = {
        0, 8, 0, 0, 1, 0, 0, 0,                                 /* Local APIC id 0, enabled */
        0, 8, 1, 1, 0, 0, 0, 0,                                 /* id 1, disabled */
        0, 8, 2, 3, 1, 0, 0, 0,                                 /* id 3, enabled */
        0, 8, 3, 3, 1, 0, 0, 0,                                 /* id 3 again */
        0, 8, 4, 4, 2, 0, 0, 0,                                 /* id 4, online capable only */
        9, 16, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0,        /* x2APIC id 0x100, enabled */
    };
    memcpy(buf + MADT_ENTRIES_OFFSET, entries, sizeof(entries));
    h->length = (uint32_t)(MADT_ENTRIES_OFFSET + sizeof(entries));
    uint32_t ids[4] = { 0 };
    assert_int_equal(acpi_madt_cpu_ids(h, ids, 4), 3);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 0x100);
    /* More listed than stored: the count still says how many. */
    uint32_t one[1];
    assert_int_equal(acpi_madt_cpu_ids(h, one, 1), 3);
    assert_int_equal(one[0], 0);
}

static void madt_counts_entries(void **state)
{
    uint8_t buf[256];
    struct acpi_header *h = table(buf, "APIC", sizeof(buf));
    h->length = (uint32_t)madt_build(buf, 0);
    struct madt_summary m;
    acpi_madt_parse(h, &m);
    assert_int_equal(m.lapic_address, 0xfee00000);
    assert_int_equal(m.cpus_enabled, 1);
    assert_int_equal(m.io_apics, 1);
    assert_int_equal(m.overrides, 1);
    assert_int_equal(m.malformed, 0);
}

static void madt_stops_at_a_bad_entry(void **state)
{
    uint8_t buf[256];
    struct acpi_header *h = table(buf, "APIC", sizeof(buf));
    h->length = (uint32_t)madt_build(buf, 1);
    struct madt_summary m;
    acpi_madt_parse(h, &m);
    assert_int_equal(m.io_apics, 1);
    assert_int_equal(m.overrides, 0);
    assert_int_equal(m.malformed, 1);

    buf[MADT_ENTRIES_OFFSET + 1] = 0; /* zero length would loop forever */
    acpi_madt_parse(h, &m);
    assert_int_equal(m.malformed, 1);
    assert_int_equal(m.cpus_enabled, 0);
}

static void mcfg_allocations(void **state)
{
    uint8_t buf[MCFG_ENTRIES_OFFSET + 2 * sizeof(struct mcfg_entry) + 3];
    struct acpi_header *h = table(buf, "MCFG", sizeof(buf));
    struct mcfg_entry e = { 0xe0000000, 0, 0, 255, 0 };
    memcpy(buf + MCFG_ENTRIES_OFFSET, &e, sizeof(e));
    e.segment = 1;
    memcpy(buf + MCFG_ENTRIES_OFFSET + sizeof(e), &e, sizeof(e));
    struct mcfg_entry got[1];
    /* the 3 trailing bytes are not an entry; only one is copied */
    assert_int_equal(acpi_mcfg_parse(h, got, 1), 2);
    assert_int_equal(got[0].base, 0xe0000000);
    assert_int_equal(got[0].bus_end, 255);
    h->length = MCFG_ENTRIES_OFFSET - 1;
    assert_int_equal(acpi_mcfg_parse(h, got, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsdp_checks),
        cmocka_unit_test(table_length_and_checksum),
        cmocka_unit_test(xsdt_entries_unaligned),
        cmocka_unit_test(rsdt_entries_are_32_bits),
        cmocka_unit_test(spcr_names_com2),
        cmocka_unit_test(madt_counts_entries),
        cmocka_unit_test(madt_lists_enabled_cpu_ids),
        cmocka_unit_test(madt_stops_at_a_bad_entry),
        cmocka_unit_test(mcfg_allocations),
    };
    return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
