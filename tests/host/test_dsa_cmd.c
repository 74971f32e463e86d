/* DSA's command state machine and WQ set-up (devices/dsa.c) against a
 * scripted fake device: capabilities from literal register values, the
 * GRPCFG and WQCFG bytes written, the commands issued in order, an error
 * code, a command that never completes, and a WQ that does not take the
 * PASID, each leaving the device disabled. */
#include "host.h"

#include "../../devices/dsa.c"
#include "kernel_shims.h"

#define REGS 0x2000
#define GRPCFG_AT 0x400         /* TABLE_OFFSET fields: 4 and 5 units of 0x100 */
#define WQCFG_AT  0x500

static struct fake {
    uint8_t regs[REGS];
    unsigned cmds[16], ncmds;
    uint8_t fail_cmd, fail_code;   /* that command ends with that error */
    uint8_t hang_cmd;              /* that command never completes */
    int refuse_pasid;              /* ENABLE_WQ "succeeds" but the WQ stays disabled */
} hw;

uint32_t dsa_read32(struct dsa *d, uint32_t off) { uint32_t v; memcpy(&v, hw.regs + off, 4); return v; }
uint64_t dsa_read64(struct dsa *d, uint32_t off) { uint64_t v; memcpy(&v, hw.regs + off, 8); return v; }
void dsa_write64(struct dsa *d, uint32_t off, uint64_t v) { memcpy(hw.regs + off, &v, 8); }

static void set32(uint32_t off, uint32_t v) { memcpy(hw.regs + off, &v, 4); }

void dsa_write32(struct dsa *d, uint32_t off, uint32_t v)
{
    set32(off, v);
    if (off != DSA_CMD)
        return;
    unsigned cmd = (v >> 20) & 0x1f, operand = v & 0xfffff;
    hw.cmds[hw.ncmds++ % 16] = cmd;
    if (cmd == hw.hang_cmd) {
        set32(DSA_CMDSTS, 0x80000000u);
        return;
    }
    if (cmd == hw.fail_cmd) {
        set32(DSA_CMDSTS, hw.fail_code);
        return;
    }
    set32(DSA_CMDSTS, 0);
    if (cmd == DSA_CMD_ENABLE_DEVICE)
        set32(DSA_GENSTS, DSA_STATE_ENABLED);
    if (cmd == DSA_CMD_DISABLE_DEVICE || cmd == DSA_CMD_RESET_DEVICE)
        set32(DSA_GENSTS, DSA_STATE_DISABLED);
    if (cmd == DSA_CMD_ENABLE_WQ && !hw.refuse_pasid)
        set32(WQCFG_AT + operand * 32 + 24, 1u << 30);   /* WQCFG dword 6, state 1 */
}


static struct dsa dev;

/* A DSA 1.0 as Sapphire Rapids reports it, in literal register values:
 * WQCAP 128 entries, 8 WQs, 32-byte WQCFG, dedicated and shared modes;
 * 4 groups; 4 engines; GRPCFG at 0x400, WQCFG at 0x500. */
static int setup(void **state)
{
    memset(&hw, 0, sizeof(hw));
    printed[0] = 0;
    memset(&dev, 0, sizeof(dev));
    dsa_write64(&dev, DSA_WQCAP, 0x0003000000080080ul);
    dsa_write64(&dev, DSA_GRPCAP, 0x4);
    dsa_write64(&dev, DSA_ENGCAP, 0x4);
    dsa_write64(&dev, DSA_TABLE_OFFSET, 0x0000000000050004ul);
    set32(DSA_VERSION, 0x100);
    return 0;
}

static void capabilities_read(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dev.wq_total_size, 128);
    assert_int_equal(dev.max_wqs, 8);
    assert_int_equal(dev.wqcfg_size, 32);
    assert_true(dev.dedicated_mode);
    assert_int_equal(dev.max_groups, 4);
    assert_int_equal(dev.max_engines, 4);
    assert_int_equal(dev.grpcfg_offset, 0x400);
    assert_int_equal(dev.wqcfg_offset, 0x500);
}

static void no_free_wq_or_no_dedicated_mode(void **state)
{
    dsa_write64(&dev, DSA_WQCAP, 0x0003000000000000ul);   /* no WQ at all */
    assert_int_equal(dsa_read_caps(&dev), -E_NODEV);
    assert_non_null(strstr(printed, "no free WQ"));
    dsa_write64(&dev, DSA_WQCAP, 0x0001000000080080ul);   /* shared mode only */
    assert_int_equal(dsa_read_caps(&dev), -E_NODEV);
    assert_non_null(strstr(printed, "no dedicated WQs"));
}

static void a_dedicated_wq_for_a_pasid(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    set32(DSA_GENSTS, DSA_STATE_ENABLED);                 /* the firmware left it on */
    assert_int_equal(dsa_configure_dedicated(&dev, 2, 1, 1), 0);
    /* reset (it was on), enable the device, enable WQ 2 */
    assert_int_equal(hw.ncmds, 3);
    assert_int_equal(hw.cmds[0], DSA_CMD_RESET_DEVICE);
    assert_int_equal(hw.cmds[1], DSA_CMD_ENABLE_DEVICE);
    assert_int_equal(hw.cmds[2], DSA_CMD_ENABLE_WQ);
    assert_int_equal(dsa_read32(&dev, DSA_CMD) & 0xfffff, 2);
    /* group 0: WQ 2 and engine 0 */
    assert_int_equal(dsa_read64(&dev, GRPCFG_AT), 1ul << 2);
    assert_int_equal(dsa_read64(&dev, GRPCFG_AT + 32), 1);
    /* WQ 2's WQCFG: 128 entries; dedicated, priority 1, PASID 1 enabled, privileged; 2 MiB transfers */
    assert_int_equal(dsa_read32(&dev, WQCFG_AT + 2 * 32), 128);
    assert_int_equal(dsa_read32(&dev, WQCFG_AT + 2 * 32 + 8), 0x30000111u);
    assert_int_equal(dsa_read32(&dev, WQCFG_AT + 2 * 32 + 12), 21);
}

static void a_command_error_leaves_it_disabled(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    hw.fail_cmd = DSA_CMD_ENABLE_DEVICE;
    hw.fail_code = 0x11;
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 0), -E_IO);
    assert_int_equal(dev.last_error, 0x11);
    assert_non_null(strstr(printed, "failed: error 0x11"));
    assert_int_equal(hw.cmds[hw.ncmds - 1], DSA_CMD_DISABLE_DEVICE);
}

static void a_command_that_never_completes_is_bounded(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    hw.hang_cmd = DSA_CMD_ENABLE_WQ;
    uint64_t t0 = rdtsc();
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 0), -E_TIMEDOUT);
    assert_non_null(strstr(printed, "still active after"));
    assert_true(rdtsc() - t0 < 20000000000ul);
    assert_int_equal(hw.cmds[hw.ncmds - 1], DSA_CMD_DISABLE_DEVICE);
}

static void a_wq_that_does_not_take_the_pasid(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    hw.refuse_pasid = 1;
    assert_int_equal(dsa_configure_dedicated(&dev, 1, 5, 1), -E_IO);
    assert_non_null(strstr(printed, "WQ 1 did not enable"));
    assert_int_equal(dsa_read32(&dev, DSA_GENSTS), DSA_STATE_DISABLED);
    assert_int_equal(dsa_configure_dedicated(&dev, 8, 5, 1), -E_RANGE);   /* past the WQs */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(capabilities_read, setup),
        cmocka_unit_test_setup(no_free_wq_or_no_dedicated_mode, setup),
        cmocka_unit_test_setup(a_dedicated_wq_for_a_pasid, setup),
        cmocka_unit_test_setup(a_command_error_leaves_it_disabled, setup),
        cmocka_unit_test_setup(a_command_that_never_completes_is_bounded, setup),
        cmocka_unit_test_setup(a_wq_that_does_not_take_the_pasid, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
