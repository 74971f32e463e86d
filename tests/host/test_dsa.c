/* DSA layouts (devices/dsa_desc.c) against literal encodings worked out
 * from the DSA spec's field positions (and Linux's idxd headers, which
 * agree): descriptors, completion records, CMD/CMDSTS, WQCFG, GRPCFG. */
#include "host.h"
#include "devices/dsa_desc.h"
#include "lib/errno.h"

static void memmove_descriptor(void **state)
{
    struct dsa_desc d;
    /* PASID 1, privileged, CRAV|RCR (0xc) with block-on-fault (0x2): flags 0xe, opcode 3 */
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, 0xffffa01000000000ul, 0xffffa01000200000ul, 4096, 0x123440, 1), 0);
    assert_int_equal(d.qw[0], 0x0300000e80000001ul);
    assert_int_equal(d.qw[1], 0x123440ul);
    assert_int_equal(d.qw[2], 0xffffa01000000000ul);
    assert_int_equal(d.qw[3], 0xffffa01000200000ul);
    assert_int_equal(d.qw[4], 4096ul);
    for (int i = 5; i < 8; i++)
        assert_int_equal(d.qw[i], 0);
    /* user (priv 0), no block-on-fault: flags 0xc */
    assert_int_equal(dsa_desc_memmove(&d, 0xfffff, 0, 0x1000, 0x2000, 64, 0x40, 0), 0);
    assert_int_equal(d.qw[0], 0x0300000c000ffffful);
}

static void fill_and_compare_descriptors(void **state)
{
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memfill(&d, 2, 1, 0x5a5a5a5a5a5a5a5aul, 0x3000, 8192, 0x60, 0), 0);
    assert_int_equal(d.qw[0], 0x0400000c80000002ul);
    assert_int_equal(d.qw[2], 0x5a5a5a5a5a5a5a5aul); /* the pattern sits where a source would */
    assert_int_equal(d.qw[3], 0x3000ul);
    assert_int_equal(dsa_desc_compare(&d, 2, 1, 0x1000, 0x2000, 4096, 0x60, 0), 0);
    assert_int_equal(d.qw[0] >> 56, 0x05);
}

static void descriptor_bad_input(void **state)
{
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memmove(&d, 1u << 20, 1, 0, 0, 64, 0x40, 0), -E_RANGE);  /* 21-bit PASID */
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, 0, 0, 0, 0x40, 0), -E_RANGE);          /* nothing to move */
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, 0, 0, 1ul << 32, 0x40, 0), -E_RANGE);  /* size is 32 bits */
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, 0, 0, 64, 0x48, 0), -E_RANGE);        /* record not 32-aligned */
    assert_int_equal(d.qw[0], 0); /* nothing half-built is left */
}

static void completion_records(void **state)
{
    /* a page fault with block-on-fault off, on a write at 0x...5000 after 4096 bytes */
    const uint8_t fault[32] = { 0x83, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
                                0x00, 0x50, 0x00, 0x10, 0xa0, 0xff, 0xff, 0xff };
    struct dsa_completion c;
    memcpy(&c, fault, sizeof(c));
    assert_int_equal(c.bytes_completed, 4096);
    assert_int_equal(c.fault_addr, 0xffffffa010005000ul);
    char text[128];
    dsa_completion_describe(&c, text, sizeof(text));
    assert_string_equal(text, "page fault (block-on-fault off) writing 0xffffffa010005000: 4096 bytes done");
    c.status = 0x01;
    dsa_completion_describe(&c, text, sizeof(text));
    assert_string_equal(text, "success (status 0x01, result 0)");
    assert_string_equal(dsa_status_name(0x10), "unsupported opcode");
    assert_string_equal(dsa_status_name(0x00), "not done");
}

static void command_and_status_words(void **state)
{
    uint32_t cmd;
    /* enable WQ 3: command 6 in bits 24:20 */
    assert_int_equal(dsa_cmd_encode(DSA_CMD_ENABLE_WQ, 3, &cmd), 0);
    assert_int_equal(cmd, 0x00600003u);
    assert_int_equal(dsa_cmd_encode(DSA_CMD_ENABLE_DEVICE, 0, &cmd), 0);
    assert_int_equal(cmd, 0x00100000u);
    assert_int_equal(dsa_cmd_encode(DSA_CMD_RESET_DEVICE, 0, &cmd), 0);
    assert_int_equal(cmd, 0x00500000u);
    assert_int_equal(dsa_cmd_encode(DSA_CMD_ENABLE_WQ, 1u << 20, &cmd), -E_RANGE);
    assert_int_equal(dsa_cmd_encode(0, 0, &cmd), -E_RANGE);
    assert_int_equal(dsa_cmd_encode(32, 0, &cmd), -E_RANGE);
    /* CMDSTS: active in bit 31, the error in the low byte */
    assert_true(dsa_cmdsts_active(0x80000000u));
    assert_false(dsa_cmdsts_active(0x00000031u));
    assert_int_equal(dsa_cmdsts_error(0x00000031u), 0x31);
}

static void wqcfg_and_grpcfg(void **state)
{
    struct dsa_wqcfg w;
    /* 32 entries, PASID 1, privileged, priority 1, 2 MiB transfers, block-on-fault:
     * dword 2 = priv 29 | pasid_en 28 | 1 << 8 | priority 1 << 4 | bof 1 << 1 | dedicated */
    assert_int_equal(dsa_wqcfg_dedicated(&w, 32, 1, 1, 1, 21, 1), 0);
    assert_int_equal(w.dw[0], 32);
    assert_int_equal(w.dw[1], 0);
    assert_int_equal(w.dw[2], 0x30000113u);
    assert_int_equal(w.dw[3], 21);
    assert_int_equal(dsa_wqcfg_dedicated(&w, 32, 1u << 20, 1, 1, 21, 1), -E_RANGE);
    assert_int_equal(dsa_wqcfg_dedicated(&w, 32, 1, 1, 16, 21, 1), -E_RANGE); /* priority is 4 bits */
    assert_int_equal(dsa_wqcfg_dedicated(&w, 0, 1, 1, 1, 21, 1), -E_RANGE);
    assert_int_equal(w.dw[2], 0);
    struct dsa_grpcfg g;
    assert_int_equal(dsa_grpcfg_one(&g, 0, 0), 0);
    assert_int_equal(g.wqs[0], 1);
    assert_int_equal(g.engines, 1);
    assert_int_equal(dsa_grpcfg_one(&g, 130, 5), 0);
    assert_int_equal(g.wqs[0], 0);
    assert_int_equal(g.wqs[2], 1ul << 2);
    assert_int_equal(g.engines, 1ul << 5);
    assert_int_equal(dsa_grpcfg_one(&g, 256, 0), -E_RANGE);
    assert_int_equal(dsa_grpcfg_one(&g, 0, 64), -E_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memmove_descriptor),
        cmocka_unit_test(fill_and_compare_descriptors),
        cmocka_unit_test(descriptor_bad_input),
        cmocka_unit_test(completion_records),
        cmocka_unit_test(command_and_status_words),
        cmocka_unit_test(wqcfg_and_grpcfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
