/* DSA's command state machine, WQ set-up and descriptor execution
 * (devices/dsa.c) against a scripted fake device: capabilities from
 * literal register values, the GRPCFG and WQCFG bytes written, the
 * commands issued in order, an error code, a command that never
 * completes, and a WQ that does not take the PASID, each leaving the
 * device disabled; descriptors the fake carries out through its portal
 * (a copy, a page fault part-way, an unsupported opcode, silence). */
#include "host.h"

#include "../../devices/dsa.c"
#include "kernel_shims.h"

#include "fake_dsa.h"

static struct dsa dev;

static int setup(void **state)
{
    fake_dsa_reset();
    printed[0] = 0;
    memset(&dev, 0, sizeof(dev));
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

/* A device whose configuration is not software's (GENCAP's configuration
 * support clear; Linux's config_en) is refused before any command or
 * WQCFG write, the bit named. */
static void a_device_without_configuration_support_is_refused(void **state)
{
    dsa_write64(&dev, DSA_GENCAP, 0);
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 0), -E_NODEV);
    assert_non_null(strstr(printed, "configuration support (GENCAP bit 31) clear"));
    assert_int_equal(hw.ncmds, 0);
    for (unsigned i = 0; i < 32; i += 4)
        assert_int_equal(dsa_read32(&dev, WQCFG_AT + i), 0);
    /* the positive control: the bit set, the same call configures */
    fake_dsa_reset();
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 0), 0);
}

static void a_command_that_never_completes_is_bounded(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    hw.hang_cmd = DSA_CMD_ENABLE_WQ;
    uint64_t t0 = rdtsc();
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 0), -E_TIMEDOUT);
    assert_non_null(strstr(printed, "still active after"));
    assert_true(host_wait_ended(t0, DSA_CMD_WAIT_US));
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

static _Alignas(32) struct dsa_completion record;
static uint8_t from[4096], to[4096];

static void a_memmove_runs_and_completes(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 3, 1, 1), 0);
    for (unsigned i = 0; i < sizeof(from); i++)
        from[i] = (uint8_t)(i * 7 + 1);
    memset(to, 0, sizeof(to));
    record.status = 0x7f;   /* stale: dsa_execute must clear it before it submits */
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, (uint64_t)(uintptr_t)from, (uint64_t)(uintptr_t)to, sizeof(from),
                                      (uint64_t)(uintptr_t)&record, 0), 0);
    assert_int_equal(dsa_execute(&dev, &d, &record), 0);
    assert_int_equal(portal.submitted, 1);
    assert_int_equal(portal.wq, 3);   /* the WQ that was enabled */
    assert_memory_equal(to, from, sizeof(from));
    assert_memory_equal(&portal.last, &d, sizeof(d));
}

static void a_page_fault_is_decoded(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 1), 0);
    portal.script = FAULT_AFTER_1K;
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, (uint64_t)(uintptr_t)from, (uint64_t)(uintptr_t)to, sizeof(from),
                                      (uint64_t)(uintptr_t)&record, 0), 0);
    assert_int_equal(dsa_execute(&dev, &d, &record), -E_FAULT);
    char want[96];
    snprintf(want, sizeof(want), "writing 0x%lx: 1024 bytes done", (unsigned long)(uintptr_t)(to + 1024));
    assert_non_null(strstr(printed, want));
    assert_non_null(strstr(printed, "page fault"));
    assert_int_equal(dev.fault_addr, (uint64_t)(uintptr_t)(to + 1024));   /* the address, for the caller */
}

static void an_unsupported_opcode_is_named(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 1), 0);
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memfill(&d, 1, 1, 0x5a, (uint64_t)(uintptr_t)to, 64, (uint64_t)(uintptr_t)&record, 0), 0);
    assert_int_equal(dsa_execute(&dev, &d, &record), -E_IO);
    assert_non_null(strstr(printed, "opcode 0x04 completed with"));
    assert_non_null(strstr(printed, "status 0x10"));
}

static void a_completion_that_never_arrives_is_bounded(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 1), 0);
    portal.script = NEVER_COMPLETE;
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, (uint64_t)(uintptr_t)from, (uint64_t)(uintptr_t)to, 64,
                                      (uint64_t)(uintptr_t)&record, 0), 0);
    uint64_t t0 = rdtsc();
    assert_int_equal(dsa_execute(&dev, &d, &record), -E_TIMEDOUT);
    assert_true(host_wait_ended(t0, DSA_COMPLETION_WAIT_US));
    assert_non_null(strstr(printed, "no completion within"));
    assert_non_null(strstr(printed, "GENSTS 0x00000001"));   /* the device's state, as it reads */
}

/* A record the device cannot write shows in SWERR, not as a silent wait:
 * the wait ends at once with -E_FAULT (an address the IOMMU refused) and
 * the log names the error and the address; SWERR is cleared again. */
static void a_record_the_device_cannot_write_ends_in_swerr(void **state)
{
    assert_int_equal(dsa_read_caps(&dev), 0);
    assert_int_equal(dsa_configure_dedicated(&dev, 0, 1, 1), 0);
    portal.script = RECORD_NOT_TRANSLATED;
    struct dsa_desc d;
    assert_int_equal(dsa_desc_memmove(&d, 1, 1, (uint64_t)(uintptr_t)from, (uint64_t)(uintptr_t)to, 64,
                                      (uint64_t)(uintptr_t)&record, 0), 0);
    uint64_t t0 = rdtsc();
    assert_int_equal(dsa_execute(&dev, &d, &record), -E_FAULT);
    assert_true(host_wait_not_spent(t0, DSA_COMPLETION_WAIT_US));
    assert_non_null(strstr(printed, "software error: SWERR 0x000000000000"));
    assert_non_null(strstr(printed, "error 0x1a (completion record address not translated)"));
    assert_int_equal(dev.fault_addr, (uint64_t)(uintptr_t)&record);   /* SWERR's address: the record's */
    assert_int_equal(dsa_read64(&dev, DSA_SWERR) & DSA_SWERR_ACK, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(capabilities_read, setup),
        cmocka_unit_test_setup(a_record_the_device_cannot_write_ends_in_swerr, setup),
        cmocka_unit_test_setup(no_free_wq_or_no_dedicated_mode, setup),
        cmocka_unit_test_setup(a_dedicated_wq_for_a_pasid, setup),
        cmocka_unit_test_setup(a_command_error_leaves_it_disabled, setup),
        cmocka_unit_test_setup(a_device_without_configuration_support_is_refused, setup),
        cmocka_unit_test_setup(a_command_that_never_completes_is_bounded, setup),
        cmocka_unit_test_setup(a_wq_that_does_not_take_the_pasid, setup),
        cmocka_unit_test_setup(a_memmove_runs_and_completes, setup),
        cmocka_unit_test_setup(a_page_fault_is_decoded, setup),
        cmocka_unit_test_setup(an_unsupported_opcode_is_named, setup),
        cmocka_unit_test_setup(a_completion_that_never_arrives_is_bounded, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
