/* VT-d pure code against bit layouts from the VT-d spec (3.4): descriptor
 * builders (6.5.2), root/context entries (9.1, 9.3), fault records
 * (11.4.7.6), CAP/ECAP (11.4.2-3) with QEMU 10.0.2's values. */
#include "host.h"
#include "iommu/cap_reg.h"
#include "iommu/context_entry.h"
#include "iommu/fault_record.h"
#include "iommu/irt_entry.h"
#include "iommu/pasid_entry.h"
#include "iommu/qi_desc.h"
#include "iommu/root_entry.h"
#include "lib/bits.h"
#include "lib/errno.h"

/* QEMU 10.0.2, x-scalable-mode=on,x-flts=on,aw-bits=48 (docs/qemu.md) */
#define QEMU_CAP  0x01d2008c222f0606ul
#define QEMU_ECAP 0x0000890000f00f4aul

static void bits_helpers(void **state)
{
    uint64_t w = 0;
    assert_int_equal(bits_set(&w, 31, 16, 0xffff), 0);
    assert_int_equal(w, 0xffff0000ul);
    assert_int_equal(bits_set(&w, 31, 16, 0x10000), -1);
    assert_int_equal(w, 0xffff0000ul); /* unchanged */
    assert_int_equal(bits_get(w, 23, 16), 0xff);
    assert_int_equal(bits_set(&w, 63, 0, ~0ul), 0);
    assert_int_equal(bits_get(w, 63, 0), ~0ul);
}

static void qemu_cap_and_ecap(void **state)
{
    assert_int_equal(CAP_ND(QEMU_CAP), 6);
    assert_int_equal(CAP_SAGAW(QEMU_CAP), SAGAW_39_3LEVEL | SAGAW_48_4LEVEL);
    assert_int_equal(CAP_MGAW(QEMU_CAP), 48);
    assert_int_equal(CAP_FRO(QEMU_CAP) * 16, 0x220);
    assert_int_equal(CAP_SLLPS(QEMU_CAP), SLLPS_2M | SLLPS_1G);
    assert_int_equal(CAP_PSI(QEMU_CAP), 1);
    assert_int_equal(CAP_NFR(QEMU_CAP), 1);
    assert_int_equal(CAP_MAMV(QEMU_CAP), 18);
    assert_int_equal(CAP_FL1GP(QEMU_CAP), 1);
    assert_int_equal(ECAP_C(QEMU_ECAP), 0);
    assert_int_equal(ECAP_QI(QEMU_ECAP), 1);
    assert_int_equal(ECAP_IR(QEMU_ECAP), 1);
    assert_int_equal(ECAP_PT(QEMU_ECAP), 1);
    assert_int_equal(ECAP_IRO(QEMU_ECAP) * 16, 0xf0);
    assert_int_equal(ECAP_PASID(QEMU_ECAP), 1);
    assert_int_equal(ECAP_SMTS(QEMU_ECAP), 1);
    assert_int_equal(ECAP_FLTS(QEMU_ECAP), 1);
    assert_int_equal(ECAP_SLTS(QEMU_ECAP), 0);
    assert_int_equal(ECAP_PSS(QEMU_ECAP), 0);
    assert_int_equal(ECAP_RPS(QEMU_ECAP), 0);
}

static unsigned lines;
static char last[160];
static void count_line(const char *l) { lines++; snprintf(last, sizeof(last), "%s", l); }

static void field_tables_describe_every_field(void **state)
{
    lines = 0;
    vtd_describe_fields(vtd_cap_fields, vtd_cap_field_count, QEMU_CAP, count_line);
    assert_int_equal(lines, vtd_cap_field_count);
    assert_non_null(strstr(last, "ESRTPS"));
    for (size_t i = 0; i < vtd_ecap_field_count; i++)
        assert_true(vtd_ecap_fields[i].hi >= vtd_ecap_fields[i].lo && vtd_ecap_fields[i].hi < 64);
}

static void context_cache_descriptor(void **state)
{
    struct qi_desc d;
    assert_int_equal(qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_DEVICE, .did = 5,
                                                                          .sid = 0x0020, .fm = 1 }), 0);
    assert_int_equal(d.qw[0], 0x1ul | 3ul << 4 | 5ul << 16 | 0x20ul << 32 | 1ul << 48);
    assert_int_equal(d.qw[1], 0);
    assert_int_equal(qi_desc_context_cache(&d, (struct qi_context_cache){ 0 }), -E_RANGE);
    assert_int_equal(qi_desc_context_cache(&d, (struct qi_context_cache){ .gran = QI_CC_GLOBAL, .fm = 4 }),
        -E_RANGE); /* FM is 2 bits */
}

static void iotlb_descriptor(void **state)
{
    struct qi_desc d;
    assert_int_equal(qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = 0x1234, .addr = 0x12344000,
                                                          .am = 2, .ih = 1 }), 0);
    assert_int_equal(d.qw[0], 0x123400f2ul); /* type 2, G=3, DW, DR, DID */
    assert_int_equal(d.qw[1], 0x12344042ul); /* addr, IH, AM=2 */
    assert_int_equal(qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = 1, .addr = 0x12345000,
                                                          .am = 2 }), -E_RANGE); /* not 16 KiB aligned */
    assert_int_equal(qi_desc_iotlb(&d, (struct qi_iotlb){ .did = 1 }), -E_RANGE);
    assert_int_equal(qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL }), 0);
    assert_int_equal(d.qw[0], 0xd2ul);
}

static void device_tlb_descriptors(void **state)
{
    struct qi_desc d;
    assert_int_equal(qi_desc_device_tlb(&d, (struct qi_device_tlb){ .sid = 0x0100, .pfsid = 0x1234, .mip = 3,
                                                                    .addr = 0x7000, .size = 1 }), 0);
    assert_int_equal(d.qw[0], 0x3ul | 0x4ul << 12 | 3ul << 16 | 0x0100ul << 32 | 0x123ul << 52);
    assert_int_equal(d.qw[1], 0x7001ul);
    assert_int_equal(qi_desc_pasid_device_tlb(&d, (struct qi_pasid_device_tlb){ .sid = 0x0100, .pfsid = 0x1234,
                                                                                .pasid = 0x54321, .mip = 3,
                                                                                .addr = 0x7000, .size = 1,
                                                                                .global = 1 }), 0);
    assert_int_equal(d.qw[0], 0x8ul | 3ul << 4 | 0x4ul << 12 | 0x0100ul << 16 | 0x54321ul << 32 | 0x123ul << 52);
    assert_int_equal(d.qw[1], 0x7000ul | 1ul << 11 | 1);
    assert_int_equal(qi_desc_pasid_device_tlb(&d, (struct qi_pasid_device_tlb){ .pasid = 1u << 20 }),
        -E_RANGE); /* PASID is 20 bits */
}

static void iec_and_wait_descriptors(void **state)
{
    struct qi_desc d;
    assert_int_equal(qi_desc_iec(&d, (struct qi_iec){ .index_selective = 1, .iidx = 0x1234, .im = 5 }), 0);
    assert_int_equal(d.qw[0], 0x4ul | 1ul << 4 | 5ul << 27 | 0x1234ul << 32);
    assert_int_equal(qi_desc_iec(&d, (struct qi_iec){ .im = 32 }), -E_RANGE);
    assert_int_equal(qi_desc_wait(&d, (struct qi_wait){ .status_addr = 0x1000, .status_data = 7, .sw = 1 }), 0);
    assert_int_equal(d.qw[0], 0x0000000700000025ul);
    assert_int_equal(d.qw[1], 0x1000ul);
    assert_int_equal(qi_desc_wait(&d, (struct qi_wait){ .status_addr = 0x1002, .status_data = 7, .sw = 1 }),
        -E_RANGE); /* status address is dword aligned */
}

static void pasid_descriptors(void **state)
{
    struct qi_desc d;
    assert_int_equal(qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_PAGE, .did = 7,
                                                                      .pasid = 0x12345, .addr = 0x200000, .am = 9 }), 0);
    assert_int_equal(d.qw[0], 0x6ul | 3ul << 4 | 7ul << 16 | 0x12345ul << 32);
    assert_int_equal(d.qw[1], 0x200000ul | 9);
    assert_int_equal(qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = 7,
                                                                      .pasid = 1 }), 0);
    assert_int_equal(d.qw[1], 0);
    assert_int_equal(qi_desc_pasid_iotlb(&d, (struct qi_pasid_iotlb){ .gran = QI_IOTLB_GLOBAL, .did = 7,
                                                                      .pasid = 1 }), -E_RANGE);
    assert_int_equal(qi_desc_pasid_cache(&d, (struct qi_pasid_cache){ .gran = QI_PC_PASID, .did = 7,
                                                                      .pasid = 0x12345 }), 0);
    assert_int_equal(d.qw[0], 0x7ul | 1ul << 4 | 7ul << 16 | 0x12345ul << 32);
    assert_int_equal(qi_desc_pasid_cache(&d, (struct qi_pasid_cache){ .gran = 2, .did = 7, .pasid = 1 }), -E_RANGE);
}

static void descriptor_types_and_words(void **state)
{
    struct qi_desc d = { { 0 } };
    bits_set(&d.qw[0], QI_TYPE_LO, 0xf);
    bits_set(&d.qw[0], QI_TYPE_HI, 0x1);
    assert_int_equal(qi_desc_type(&d), 0x1f);
    char text[160];
    qi_desc_describe(&d, text, sizeof(text));
    assert_non_null(strstr(text, "unknown"));
    qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_DOMAIN, .did = 3 });
    qi_desc_describe(&d, text, sizeof(text));
    assert_string_equal(text, "IOTLB gran 2 DID 3 addr 0x0 am 0 ih 0");
    assert_string_equal(qi_type_name(QI_PASID_CACHE), "PASID-cache");
}

static void root_and_context_entries(void **state)
{
    struct vtd_root_entry r;
    assert_int_equal(vtd_root_entry_encode(&r, 0x12345000), 0);
    assert_int_equal(r.qw[0], 0x12345001ul);
    assert_int_equal(r.qw[1], 0);
    assert_int_equal(r.qw[0] & ROOT_RSVD0_MASK, 0);
    assert_int_equal(vtd_root_entry_encode(&r, 0x12345800), -E_INVAL);
    struct vtd_context_entry c;
    assert_int_equal(vtd_context_legacy_encode(&c, 0xabc000, 2, 0x42, VTD_TT_UNTRANSLATED, 1), 0);
    assert_int_equal(c.qw[0], 0xabc003ul);
    assert_int_equal(c.qw[1], 0x4202ul);
    assert_int_equal(c.qw[0] & CTX_RSVD0_MASK, 0);
    assert_int_equal(c.qw[1] & CTX_RSVD1_MASK, 0);
    assert_int_equal(vtd_context_legacy_encode(&c, 0xabc000, 8, 1, VTD_TT_UNTRANSLATED, 0), -E_INVAL);
    assert_int_equal(vtd_context_legacy_encode(&c, 0xabc000, 2, 1, (enum vtd_tt)4, 0), -E_INVAL);
    assert_int_equal(vtd_context_legacy_encode(&c, 0xabc800, 2, 1, VTD_TT_UNTRANSLATED, 0), -E_INVAL);
    assert_int_equal(vtd_aw_for_levels(4), 2);
    assert_int_equal(vtd_aw_for_levels(3), 1);
}

static void fault_records(void **state)
{
    struct vtd_fault f;
    uint64_t hi = VTD_FRCD_HI_F | VTD_FRCD_HI_T1 | 0x05ul << VTD_FRCD_HI_FR_SHIFT | 0x0020;
    assert_int_equal(vtd_fault_decode(0x40123abc, hi, &f), 1);
    assert_int_equal(f.addr, 0x40123000);
    assert_int_equal(f.sid, 0x20);
    assert_int_equal(f.reason, 5);
    assert_true(f.is_read);
    assert_false(f.pasid_present);
    char text[160];
    vtd_fault_describe(&f, text, sizeof(text));
    assert_string_equal(text, "read by 00:04.0 at 0x40123000: reason 0x05 (write to a page without write permission)");
    hi = VTD_FRCD_HI_F | VTD_FRCD_HI_PP | VTD_FRCD_HI_PRIV | 0x12345ul << VTD_FRCD_HI_PV_SHIFT |
         0x81ul << VTD_FRCD_HI_FR_SHIFT | 0x0108;
    assert_int_equal(vtd_fault_decode(0x1000, hi, &f), 1);
    assert_false(f.is_read);
    assert_true(f.pasid_present && f.priv);
    assert_int_equal(f.pasid, 0x12345);
    vtd_fault_describe(&f, text, sizeof(text));
    assert_non_null(strstr(text, "write by 01:01.0"));
    assert_non_null(strstr(text, "PASID 0x12345 supervisor"));
    assert_int_equal(vtd_fault_decode(0x1000, hi & ~VTD_FRCD_HI_F, &f), 0);
    assert_string_equal(vtd_fault_reason_name(0xee), "unknown fault reason");
}

static void range_rounds_to_the_covering_mask(void **state)
{
    uint64_t addr;
    unsigned am;
    qi_range_to_mask(0x5000, 0x6000, &addr, &am);
    assert_int_equal(addr, 0x5000);
    assert_int_equal(am, 0);
    qi_range_to_mask(0x5000, 0x7000, &addr, &am); /* pages 5-6 straddle a 2-page boundary: pages 4-7 */
    assert_int_equal(addr, 0x4000);
    assert_int_equal(am, 2);
    qi_range_to_mask(0x200000, 0x400000, &addr, &am); /* an aligned 2 MiB leaf */
    assert_int_equal(addr, 0x200000);
    assert_int_equal(am, 9);
    qi_range_to_mask(0xffffa00600000000ul, 0xffffa00600001000ul, &addr, &am);
    assert_int_equal(addr, 0xffffa00600000000ul);
    assert_int_equal(am, 0);
}

/* Scalable-mode entries (VT-d spec 9.4, 9.5, 9.6): bit positions. */
static void scalable_root_and_context(void **state)
{
    struct vtd_sm_root_entry r;
    assert_int_equal(vtd_sm_root_entry_encode(&r, 0x1000, 0x2000), 0);
    assert_int_equal(r.qw[0], 0x1001ul);
    assert_int_equal(r.qw[1], 0x2001ul);
    assert_int_equal(vtd_sm_root_entry_encode(&r, 0x1000, 0), 0);
    assert_int_equal(r.qw[1], 0);
    assert_int_equal(vtd_sm_root_entry_encode(&r, 0x1001, 0), -E_INVAL);
    struct vtd_sm_context_entry c;
    assert_int_equal(vtd_sm_context_encode(&c, 0x7000, 2, 0x123, 1, 1), 0);
    assert_int_equal(c.qw[0], 0x7000ul | 2ul << 9 | 1ul << 3 | 1ul << 1 | 1);
    assert_int_equal(c.qw[1], 0x123ul);
    assert_int_equal(c.qw[2] | c.qw[3], 0); /* reserved */
    assert_int_equal(vtd_sm_context_encode(&c, 0x7000, 8, 0, 0, 0), -E_INVAL);      /* PDTS is 3 bits */
    assert_int_equal(vtd_sm_context_encode(&c, 0x7000, 0, 1u << 20, 0, 0), -E_INVAL); /* RID_PASID is 20 */
    struct vtd_pasid_dir_entry d;
    assert_int_equal(vtd_pasid_dir_entry_encode(&d, 0x9000), 0);
    assert_int_equal(d.qw[0], 0x9001ul);
}

static void pasid_entry_fields(void **state)
{
    struct vtd_pasid_entry e;
    assert_int_equal(pasid_entry_first_stage(&e, 0x102000, 0x42, 0), 0);
    assert_int_equal(e.qw[0], 1ul << 6 | 2ul << 2); /* PGTT=1, AW=2; P not yet */
    assert_int_equal(e.qw[1], 0x42ul);
    assert_int_equal(e.qw[2], 0x102000ul);
    for (int i = 3; i < 8; i++)
        assert_int_equal(e.qw[i], 0);
    assert_int_equal(pasid_entry_set_sre(&e, 1), 0);
    assert_int_equal(pasid_entry_set_wpe(&e, 1), 0);
    assert_int_equal(pasid_entry_set_flpm(&e, FLPM_5LEVEL), 0);
    assert_int_equal(e.qw[2], 0x102000ul | 1 | 1ul << 4 | 1ul << 2);
    assert_int_equal(pasid_entry_set_present(&e, 1), 0);
    assert_int_equal(e.qw[0] & 1, 1);
    assert_int_equal(pasid_entry_set_pgtt(&e, (enum vtd_pgtt)8), -E_RANGE); /* 3 bits */
    assert_int_equal(pasid_entry_set_aw(&e, 8), -E_RANGE);
    assert_int_equal(pasid_entry_set_flptr(&e, 0x102800), -E_INVAL);
    assert_int_equal(e.qw[2] & ~0xffful, 0x102000ul); /* refused values changed nothing */
    assert_int_equal(pasid_entry_set_slptptr(&e, 0x55000), 0);
    assert_int_equal(e.qw[0] & ~0xffful, 0x55000ul);
    assert_int_equal(pasid_entry_first_stage(&e, 0x102001, 1, 0), -E_INVAL);
    assert_int_equal(e.qw[0] | e.qw[1] | e.qw[2], 0); /* nothing half-built */
}

/* A field of an entry as its table names it: what the shell prints. */
static uint64_t named(const struct vtd_entry_field *f, size_t n, const uint64_t *qw, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return bits_get(qw[f[i].qword], f[i].hi, f[i].lo);
    fail_msg("no field %s", name);
    return 0;
}

static void entry_field_tables_read_what_the_encoders_wrote(void **state)
{
    struct vtd_root_entry r;
    assert_int_equal(vtd_root_entry_encode(&r, 0x511000), 0);
    assert_int_equal(named(vtd_root_entry_fields, vtd_root_entry_field_count, r.qw, "P"), 1);
    assert_int_equal(named(vtd_root_entry_fields, vtd_root_entry_field_count, r.qw, "CTP"), 0x511);
    struct vtd_sm_root_entry sr;
    assert_int_equal(vtd_sm_root_entry_encode(&sr, 0x530000, 0x531000), 0);
    const struct vtd_entry_field *f = vtd_sm_root_entry_fields;
    size_t n = vtd_sm_root_entry_field_count;
    assert_int_equal(named(f, n, sr.qw, "LP"), 1);
    assert_int_equal(named(f, n, sr.qw, "LCTP"), 0x530);
    assert_int_equal(named(f, n, sr.qw, "UP"), 1);
    assert_int_equal(named(f, n, sr.qw, "UCTP"), 0x531);
    struct vtd_sm_context_entry c;
    assert_int_equal(vtd_sm_context_encode(&c, 0x52e000, 2, 1, 1, 1), 0);
    f = vtd_sm_context_entry_fields;
    n = vtd_sm_context_entry_field_count;
    assert_int_equal(named(f, n, c.qw, "PASIDDIRPTR"), 0x52e);
    assert_int_equal(named(f, n, c.qw, "PDTS"), 2);
    assert_int_equal(named(f, n, c.qw, "RID_PASID"), 1);
    assert_int_equal(named(f, n, c.qw, "FPD"), 1);
    assert_int_equal(named(f, n, c.qw, "PASIDE"), 1);
    assert_int_equal(named(f, n, c.qw, "DTE") | named(f, n, c.qw, "PRE"), 0);
    struct vtd_pasid_dir_entry d;
    assert_int_equal(vtd_pasid_dir_entry_encode(&d, 0x52f000), 0);
    f = vtd_pasid_dir_entry_fields;
    n = vtd_pasid_dir_entry_field_count;
    assert_int_equal(named(f, n, d.qw, "P"), 1);
    assert_int_equal(named(f, n, d.qw, "SMPTBLPTR"), 0x52f);
    struct vtd_irte e;
    assert_int_equal(irte_remapped(&e, 0x46, 0x12345, 1, 0x0020), 0);
    uint64_t qw[2] = { e.lo, e.hi };
    f = vtd_irte_fields;
    n = vtd_irte_field_count;
    assert_int_equal(named(f, n, qw, "P"), 1);
    assert_int_equal(named(f, n, qw, "V"), 0x46);
    assert_int_equal(named(f, n, qw, "DST"), 0x12345);
    assert_int_equal(named(f, n, qw, "SID"), 0x0020);
    assert_int_equal(named(f, n, qw, "SVT"), IRTE_SVT_RID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bits_helpers),
        cmocka_unit_test(entry_field_tables_read_what_the_encoders_wrote),
        cmocka_unit_test(qemu_cap_and_ecap),
        cmocka_unit_test(field_tables_describe_every_field),
        cmocka_unit_test(context_cache_descriptor),
        cmocka_unit_test(iotlb_descriptor),
        cmocka_unit_test(device_tlb_descriptors),
        cmocka_unit_test(iec_and_wait_descriptors),
        cmocka_unit_test(pasid_descriptors),
        cmocka_unit_test(descriptor_types_and_words),
        cmocka_unit_test(root_and_context_entries),
        cmocka_unit_test(fault_records),
        cmocka_unit_test(range_rounds_to_the_covering_mask),
        cmocka_unit_test(scalable_root_and_context),
        cmocka_unit_test(pasid_entry_fields),
    };
    return cmocka_run_group_tests_name("vtd", tests, NULL, NULL);
}
