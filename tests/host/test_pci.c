/* Requester-id aliasing through bridges (devices/pci_bridge.c) and the
 * PCIe PASID capability's control value (devices/pci_pasid.c), against
 * topologies and register values worked out from the PCIe specs. */
#include "host.h"
#include "devices/pci_bridge.h"
#include "devices/pci_pasid.h"
#include "devices/pci_ats.h"
#include "lib/errno.h"

#define ID(bus, dev, fn) ((uint16_t)((bus) << 8 | (dev) << 3 | (fn)))

static void bridge_kinds_from_the_pcie_capability(void **state)
{
    assert_int_equal(pci_bridge_kind(1, PCIE_TYPE_ROOT_PORT), PCI_BRIDGE_PCIE_PORT);
    assert_int_equal(pci_bridge_kind(1, PCIE_TYPE_UPSTREAM), PCI_BRIDGE_PCIE_PORT);
    assert_int_equal(pci_bridge_kind(1, PCIE_TYPE_DOWNSTREAM), PCI_BRIDGE_PCIE_PORT);
    assert_int_equal(pci_bridge_kind(1, PCIE_TYPE_PCIE_TO_PCI), PCI_BRIDGE_PCIE_TO_PCI);
    assert_int_equal(pci_bridge_kind(1, PCIE_TYPE_PCI_TO_PCIE), PCI_BRIDGE_TAKES_OWNERSHIP);
    assert_int_equal(pci_bridge_kind(0, 0), PCI_BRIDGE_TAKES_OWNERSHIP); /* a conventional PCI-to-PCI bridge */
}

static void ports_keep_the_id(void **state)
{
    /* 03:00.0 below a switch (downstream 02:01.0, upstream 01:00.0) below root port 00:1c.0 */
    const struct pci_hop up[] = { { ID(2, 1, 0), 3, PCI_BRIDGE_PCIE_PORT }, { ID(1, 0, 0), 2, PCI_BRIDGE_PCIE_PORT },
                                  { ID(0, 0x1c, 0), 1, PCI_BRIDGE_PCIE_PORT } };
    assert_int_equal(pci_requester_alias(ID(3, 0, 0), up, ARRAY_SIZE(up)), ID(3, 0, 0));
    assert_int_equal(pci_requester_alias(ID(0, 4, 0), NULL, 0), ID(0, 4, 0)); /* a root-bus device */
}

static void pcie_to_pci_bridge_gives_secondary_bus_devfn_zero(void **state)
{
    /* QEMU's edu at 02:01.0 on a pcie-pci-bridge (01:00.0, secondary 2) below root port 00:06.0 */
    const struct pci_hop up[] = { { ID(1, 0, 0), 2, PCI_BRIDGE_PCIE_TO_PCI }, { ID(0, 6, 0), 1, PCI_BRIDGE_PCIE_PORT } };
    assert_int_equal(pci_requester_alias(ID(2, 1, 0), up, ARRAY_SIZE(up)), ID(2, 0, 0));
    assert_int_equal(pci_requester_alias(ID(2, 3, 1), up, ARRAY_SIZE(up)), ID(2, 0, 0)); /* any function there */
}

static void topmost_aliasing_bridge_decides(void **state)
{
    /* 05:02.0 behind a conventional bridge (04:01.0, secondary 5) behind a
     * PCIe-to-PCI bridge (03:00.0, secondary 4): the PCIe-to-PCI bridge is
     * the one that puts the request on PCIe */
    const struct pci_hop up[] = { { ID(4, 1, 0), 5, PCI_BRIDGE_TAKES_OWNERSHIP },
                                  { ID(3, 0, 0), 4, PCI_BRIDGE_PCIE_TO_PCI },
                                  { ID(0, 0x1c, 0), 3, PCI_BRIDGE_PCIE_PORT } };
    assert_int_equal(pci_requester_alias(ID(5, 2, 0), up, ARRAY_SIZE(up)), ID(4, 0, 0));
    /* only the conventional bridge (on a root bus): its own id */
    assert_int_equal(pci_requester_alias(ID(5, 2, 0), up, 1), ID(4, 1, 0));
}

static void pasid_control_values(void **state)
{
    uint16_t ctrl = 0xffff;
    /* 20-bit PASIDs, execute and privileged supported: cap 0x1406 */
    assert_int_equal(pci_pasid_width(0x1406), 20);
    assert_int_equal(pci_pasid_control(0x1406, 1, &ctrl), 0);
    assert_int_equal(ctrl, 0x5);             /* enable | privileged mode enable */
    assert_int_equal(pci_pasid_control(0x1406, 0, &ctrl), 0);
    assert_int_equal(ctrl, 0x1);
    /* no privileged mode (cap 0x1400): asking for it is refused, ctrl untouched */
    ctrl = 0xabcd;
    assert_int_equal(pci_pasid_control(0x1400, 1, &ctrl), -E_RANGE);
    assert_int_equal(ctrl, 0xabcd);
    assert_int_equal(pci_pasid_control(0x1400, 0, &ctrl), 0);
    assert_int_equal(ctrl, 0x1);
    /* a width of 0 supports no PASID at all */
    assert_int_equal(pci_pasid_control(0x0006, 0, &ctrl), -E_RANGE);
}

/* ATS control (PCIe base spec 10.5.1.3): Enable is bit 15, STU the
 * smallest translation as 2^(STU + 12) bytes; below 4 KiB, or past the
 * 5-bit field, there is no value. */
static void ats_control_values(void **state)
{
    (void)state;
    uint16_t ctrl = 0xdead;
    assert_int_equal(pci_ats_control(12, &ctrl), 0);
    assert_int_equal(ctrl, 0x8000);
    assert_int_equal(pci_ats_control(21, &ctrl), 0);
    assert_int_equal(ctrl, 0x8009);
    ctrl = 0xdead;
    assert_int_equal(pci_ats_control(11, &ctrl), -E_RANGE);
    assert_int_equal(pci_ats_control(12 + 32, &ctrl), -E_RANGE);
    assert_int_equal(ctrl, 0xdead);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bridge_kinds_from_the_pcie_capability),
        cmocka_unit_test(ports_keep_the_id),
        cmocka_unit_test(pcie_to_pci_bridge_gives_secondary_bus_devfn_zero),
        cmocka_unit_test(topmost_aliasing_bridge_decides),
        cmocka_unit_test(pasid_control_values),
        cmocka_unit_test(ats_control_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
