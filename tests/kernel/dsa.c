/* dsa: Intel DSA brought up far enough to take work: capabilities read,
 * one group with one engine and one dedicated WQ for a PASID, enabled as
 * the device itself reports (GENSTS, WQCFG), then disabled again. Only on
 * hardware: no emulator models DSA, so under QEMU the case skips. The
 * register-level code is host-tested (tests/host/test_dsa_cmd.c). */
#include "devices/dsa.h"
#include "devices/pci.h"
#include "kernel/harness.h"
#include "lib/bits.h"
#include "lib/errno.h"

#define DSA_BAR_REGS 0
#define TEST_PASID   1
#define GENSTS_STATE 1, 0

static void dsa_found_and_a_dedicated_wq_enabled(struct test *t)
{
    struct pci_dev *p = pci_find(DSA_VENDOR, DSA_DEVICE_SPR);
    if (!p)
        test_skip(t, "no Intel DSA (PCI 8086:0b25): DSA runs on hardware only, no emulator models it");
    struct dsa d = { 0 };
    d.bar0 = pci_map_bar(p, DSA_BAR_REGS, NULL);
    ASSERT_TRUE(t, d.bar0 != NULL, "cannot map DSA's BAR0");
    pci_enable_bus_master(p);
    int err = dsa_read_caps(&d);
    if (err == -E_NODEV)
        test_skip(t, "the DSA has no free WQ, engine or group, or no dedicated WQs");
    test_diag(t, "DSA %02x:%02x.%x version 0x%x: %u WQs (%u entries), %u groups, %u engines", p->bus, p->dev, p->fn,
              d.version, d.max_wqs, d.wq_total_size, d.max_groups, d.max_engines);
    err = dsa_configure_dedicated(&d, 0, TEST_PASID, 0);
    ASSERT_TRUE(t, err == 0, "configuring a dedicated WQ: %s (CMDSTS error 0x%02x, %s)", err_name(err), d.last_error,
                dsa_cmd_error_name(d.last_error));
    EXPECT_EQ(t, bits_get(dsa_read32(&d, DSA_GENSTS), GENSTS_STATE), DSA_STATE_ENABLED);
    EXPECT_EQ(t, dsa_command(&d, DSA_CMD_DISABLE_DEVICE, 0), 0);
    EXPECT_EQ(t, bits_get(dsa_read32(&d, DSA_GENSTS), GENSTS_STATE), DSA_STATE_DISABLED);
}

TEST_SUITE(dsa, 60, 0, TEST(dsa_found_and_a_dedicated_wq_enabled));
