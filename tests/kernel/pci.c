/* pci: ECAM enumeration and the edu device's setup. */
#include "devices/edu.h"
#include "devices/pci.h"
#include "iommu/iommu.h"
#include "iommu/scope.h"
#include "harness/harness.h"

#define HOST_BRIDGE_CLASS 0x0600 /* class 06 (bridge), subclass 00 (host) */
#define CLASS_SHIFT       16

static void enumeration_finds_host_bridge(struct test *t)
{
    if (!pci_count())
        test_skip(t, "no PCI functions enumerated (no MCFG)");
    const struct pci_dev *d = pci_get(0);
    test_diag(t, "%u functions; first %02x:%02x.%x %04x:%04x", pci_count(), d->bus, d->dev, d->fn, d->vendor,
              d->device);
    EXPECT_EQ(t, d->bus, 0);
    EXPECT_EQ(t, d->dev, 0);
    EXPECT_EQ(t, d->class_rev >> CLASS_SHIFT, HOST_BRIDGE_CLASS);
    for (unsigned i = 0; i < pci_count(); i++) {
        const struct pci_dev *p = pci_get(i);
        EXPECT_TRUE(t, p->vendor != PCI_VENDOR_NONE, "function %u has no vendor", i);
        test_diag(t, "%02x:%02x.%x %04x:%04x class %06x%s%s%s%s%s%s", p->bus, p->dev, p->fn, p->vendor, p->device,
                  p->class_rev >> 8, p->cap_msi ? " MSI" : "", p->cap_msix ? " MSI-X" : "",
                  p->cap_pcie ? " PCIe" : "", p->ext_ats ? " ATS" : "", p->ext_pri ? " PRI" : "",
                  p->ext_pasid ? " PASID" : "");
    }
}

static void edu_found_with_msi(struct test *t)
{
    struct pci_dev *d = pci_find(EDU_VENDOR, EDU_DEVICE);
    if (!d)
        test_skip(t, "no edu device (the profile has none)");
    test_diag(t, "edu at %02x:%02x.%x, source-id 0x%04x, requester id at the unit 0x%04x%s", d->bus, d->dev, d->fn,
              pci_source_id(d), pci_requester_id(d), pci_requester_id(d) != pci_source_id(d) ? " (a bridge's alias)" : "");
    EXPECT_TRUE(t, d->cap_msi != 0, "edu has no MSI capability");
    uint64_t size = 0;
    volatile void *bar = pci_map_bar(d, 0, &size);
    EXPECT_TRUE(t, bar != NULL, "edu BAR0 is not a memory BAR");
    EXPECT_EQ(t, size, 1ul << 20);
}

/* Every function has the unit its segment's scopes (bridges followed) or
 * INCLUDE_PCI_ALL give it; edu, whose DMA the VT-d suites use, among them. */
static void edu_is_under_a_remapping_unit(struct test *t)
{
    const struct dmar_info *dm = iommu_dmar();
    struct pci_dev *d = pci_find(EDU_VENDOR, EDU_DEVICE);
    if (!dm || !d)
        test_skip(t, "needs a DMAR table and an edu device");
    const struct dmar_drhd *u = iommu_unit_for(d);
    ASSERT_TRUE(t, u != NULL, "no DRHD covers edu at %02x:%02x.%x", d->bus, d->dev, d->fn);
    int by_scope = 0;
    for (unsigned s = 0; s < u->scopes.count; s++)
        by_scope |= dmar_scope_covers(&u->scopes.s[s], d);
    EXPECT_TRUE(t, by_scope || (u->flags & DMAR_DRHD_INCLUDE_PCI_ALL), "the unit neither lists edu nor includes all");
    test_diag(t, "edu at %02x:%02x.%x is behind DRHD %ld at 0x%lx (%s)", d->bus, d->dev, d->fn,
              (long)(u - dm->drhd), u->base, by_scope ? "a device scope lists it" : "INCLUDE_PCI_ALL");
}

TEST_SUITE(pci, 31, 0,
           TEST(enumeration_finds_host_bridge),
           TEST(edu_found_with_msi),
           TEST(edu_is_under_a_remapping_unit));
