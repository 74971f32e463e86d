/* dmar: the firmware's DMAR table as the kernel parsed it. */
#include "devices/pci.h"
#include "iommu/cap_reg.h"
#include "iommu/iommu.h"
#include "iommu/regs.h"
#include "iommu/scope.h"
#include <stdio.h>
#include <string.h>
#include "kernel/acpi.h"
#include "harness/harness.h"
#include "lib/errno.h"
#include "mm/mm.h"

/* Where QEMU's q35 puts its one intel-iommu (Q35_HOST_BRIDGE_IOMMU_ADDR). */
#define QEMU_VTD_BASE 0xfed90000ul
#define VTD_VER_MAJOR(v) (((v) >> 4) & 0xf)

static const struct dmar_info *need_dmar(struct test *t)
{
    const struct dmar_info *d = iommu_dmar();
    if (!d)
        test_skip(t, "no DMAR table: the platform reports no VT-d unit");
    return d;
}

static void parsed_without_problems(struct test *t)
{
    const struct dmar_info *d = need_dmar(t);
    EXPECT_EQ(t, d->nproblems, 0);
    for (unsigned i = 0; i < d->nproblems; i++)
        test_diag(t, "problem: %s", d->problems[i]);
    EXPECT_TRUE(t, d->host_address_width >= 32 && d->host_address_width <= 64,
                "host address width %u is implausible", d->host_address_width);
    ASSERT_TRUE(t, d->ndrhd >= 1, "DMAR lists no remapping unit");
}

/* QEMU 10.0.2 does not set INCLUDE_PCI_ALL: it lists an endpoint scope for
 * every device on a bus that does not bypass the IOMMU (a newer layout
 * than older QEMUs'). Either way one unit must cover every function.
 * Whose layout to expect is what the DMAR table says of itself: QEMU's
 * ACPI tables carry its OEM ids (hw/acpi/aml-build.h ACPI_BUILD_APPNAME6
 * and ACPI_BUILD_APPNAME8), any other builder's its own. */
#define QEMU_ACPI_OEM_ID       "BOCHS "
#define QEMU_ACPI_OEM_TABLE_ID "BXPC    "

static void qemu_has_one_unit_for_all_devices(struct test *t)
{
    const struct dmar_info *d = need_dmar(t);
    const struct acpi_header *h = acpi_find("DMAR");
    ASSERT_TRUE(t, h, "the DMAR table was parsed but is not listed");
    if (memcmp(h->oem_id, QEMU_ACPI_OEM_ID, sizeof(h->oem_id)) ||
        memcmp(h->oem_table_id, QEMU_ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id)))
        test_skip(t, "QEMU's layout is not expected on this machine (the DMAR table's OEM is %.6s %.8s)", h->oem_id,
                  h->oem_table_id);
    ASSERT_EQ(t, d->ndrhd, 1);
    const struct dmar_drhd *u = &d->drhd[0];
    EXPECT_EQ(t, u->base, QEMU_VTD_BASE);
    EXPECT_EQ(t, u->segment, 0);
    test_diag(t, "DRHD 0: flags 0x%x, %u scopes", u->flags, u->scopes.count);
    for (unsigned i = 0; i < pci_count(); i++) {
        const struct pci_dev *p = pci_get(i);
        int covered = (u->flags & DMAR_DRHD_INCLUDE_PCI_ALL) != 0;
        for (unsigned s = 0; s < u->scopes.count && !covered; s++)
            covered = dmar_scope_covers(&u->scopes.s[s], p);
        EXPECT_TRUE(t, covered, "%02x:%02x.%x is not under DRHD 0", p->bus, p->dev, p->fn);
    }
}

static void every_unit_answers(struct test *t)
{
    const struct dmar_info *d = need_dmar(t);
    for (unsigned i = 0; i < d->ndrhd; i++) {
        volatile uint32_t *regs = mmio_map(d->drhd[i].base, PAGE_SIZE);
        ASSERT_TRUE(t, regs != NULL, "cannot map unit %u at 0x%lx", i, d->drhd[i].base);
        uint32_t ver = regs[VTD_VER / 4];
        test_diag(t, "unit %u at 0x%lx: version %u.%u", i, d->drhd[i].base, VTD_VER_MAJOR(ver), ver & 0xf);
        EXPECT_TRUE(t, ver != 0 && ver != UINT32_MAX, "unit %u version register reads 0x%x", i, ver);
        EXPECT_TRUE(t, iommu_unit_answers(&d->drhd[i]), "the boot check left unit %u alone", i);
    }
}

/* A DRHD whose registers read all ones (a unit the firmware lists but
 * that is not there): the check names what it read, and the unit would be
 * left alone. The "registers" are a frame of RAM the case fills with ones,
 * so the path is the one a dead unit takes, whatever QEMU returns for
 * unassigned addresses. */
static void a_unit_reading_all_ones_is_left_alone(struct test *t)
{
    const uint8_t all_ones = 0xff;
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    memset(phys_to_virt(frame), all_ones, PAGE_SIZE);
    struct dmar_drhd dead = { .base = frame };
    char why[128] = "";
    EXPECT_EQ(t, iommu_unit_check(&dead, why, sizeof(why)), -E_IO);
    test_diag(t, "%s", why);
    EXPECT_TRUE(t, strstr(why, "VER 0xffffffff") != NULL, "the message does not say what the unit read");
    EXPECT_TRUE(t, !iommu_unit_answers(&dead), "a unit outside the firmware's table counted as answering");
    page_free(frame);
}

/* The same for a DRHD whose registers read zero (nothing answers and the
 * bus returns zeros): VER 0.0 and CAP 0 are no unit's. */
static void a_unit_reading_zeros_is_left_alone(struct test *t)
{
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    memset(phys_to_virt(frame), 0, PAGE_SIZE);
    struct dmar_drhd dead = { .base = frame };
    char why[128] = "";
    EXPECT_EQ(t, iommu_unit_check(&dead, why, sizeof(why)), -E_IO);
    test_diag(t, "%s", why);
    EXPECT_TRUE(t, strstr(why, "VER 0x00000000") != NULL, "the message does not say what the unit read");
    page_free(frame);
}

/* Version 0.x with capabilities that look real (the live unit's CAP and
 * ECAP copied in): no VT-d unit has major version 0 (VT-d spec 11.4.1),
 * so the unit is left alone all the same. */
static void a_unit_of_version_zero_is_left_alone(struct test *t)
{
    const struct dmar_info *d = need_dmar(t);
    if (!d->ndrhd)
        test_skip(t, "the DMAR lists no unit to copy capabilities from");
    volatile uint64_t *live = mmio_map(d->drhd[0].base, PAGE_SIZE);
    ASSERT_TRUE(t, live != NULL, "cannot map unit 0 at 0x%lx", d->drhd[0].base);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    uint64_t *regs = phys_to_virt(frame);
    memset(regs, 0, PAGE_SIZE);
    regs[VTD_CAP / sizeof(*regs)] = live[VTD_CAP / sizeof(*regs)];
    regs[VTD_ECAP / sizeof(*regs)] = live[VTD_ECAP / sizeof(*regs)];
    struct dmar_drhd dead = { .base = frame };
    char why[128] = "";
    EXPECT_EQ(t, iommu_unit_check(&dead, why, sizeof(why)), -E_IO);
    test_diag(t, "%s", why);
    page_free(frame);
}

static struct test *reporting;
static unsigned reported;
static void report_line(const char *line)
{
    test_diag(reporting, "%s", line);
    reported++;
}

/* A device scope naming a bus that does not exist (added to a copy of the
 * table): one line says so, and the real devices still find their unit. */
static void a_scope_naming_no_device_is_reported(struct test *t)
{
    const struct dmar_info *real = need_dmar(t);
    reporting = t;
    reported = 0;
    EXPECT_EQ(t, iommu_report_absent_scopes(real, report_line), 0);
    static struct dmar_info d;
    d = *real;
    struct dmar_scopes *sc = &d.drhd[0].scopes;
    ASSERT_TRUE(t, sc->count < DMAR_MAX_SCOPES, "no room for one more scope");
    const uint8_t absent_bus = 0x77;
    sc->s[sc->count++] = (struct dmar_scope){ DMAR_SCOPE_PCI_ENDPOINT, 0, absent_bus, 1, { { 0, 0 } } };
    EXPECT_EQ(t, iommu_report_absent_scopes(&d, report_line), 1);
    EXPECT_EQ(t, reported, 1);
    struct pci_dev *p = pci_get(0);
    ASSERT_TRUE(t, p != NULL, "no PCI function");
    EXPECT_EQ(t, dmar_unit_for(&d, p->segment, dmar_scope_covers_device, p),
              dmar_unit_for(real, p->segment, dmar_scope_covers_device, p));
}

static struct test *describing;
static void field_line(const char *line) { test_diag(describing, "%s", line); }

/* CAP and ECAP of every unit, field by field in words: for bring-up. */
static void capabilities_decoded(struct test *t)
{
    const struct dmar_info *d = need_dmar(t);
    describing = t;
    for (unsigned i = 0; i < d->ndrhd; i++) {
        volatile uint64_t *regs = mmio_map(d->drhd[i].base, PAGE_SIZE);
        ASSERT_TRUE(t, regs != NULL, "cannot map unit %u", i);
        uint64_t cap = regs[VTD_CAP / 8], ecap = regs[VTD_ECAP / 8];
        test_diag(t, "unit %u CAP 0x%016lx:", i, cap);
        vtd_describe_fields(vtd_cap_fields, vtd_cap_field_count, cap, field_line);
        test_diag(t, "unit %u ECAP 0x%016lx:", i, ecap);
        vtd_describe_fields(vtd_ecap_fields, vtd_ecap_field_count, ecap, field_line);
        /* SAGAW 0 is a unit without second-stage tables: one that translates
         * by first stage only, or not at all (the suites that need it skip). */
        if (!CAP_SAGAW(cap))
            test_diag(t, "unit %u has no second-stage table width (CAP.SAGAW 0)%s", i,
                      ECAP_SMTS(ecap) && ECAP_FLTS(ecap) ? ": first stage only, or no DMA translation" :
                                                           ": no DMA translation");
        EXPECT_TRUE(t, CAP_NFR(cap) >= 1, "unit %u has no fault-recording register", i);
    }
}

/* The table as the firmware wrote it, 16 bytes a line: for bring-up, and
 * the seed the DMAR fuzzer starts from (tests/fuzz/seed_from_log.py). */
static void raw_table_dump(struct test *t)
{
    const struct acpi_header *h = acpi_find("DMAR");
    if (!h)
        test_skip(t, "no DMAR table");
    const uint8_t *b = (const uint8_t *)h;
    const unsigned per_line = 16;
    for (uint32_t off = 0; off < h->length; off += per_line) {
        char line[3 * 16 + 1];
        unsigned n = 0;
        for (uint32_t i = off; i < off + per_line && i < h->length; i++)
            n += (unsigned)snprintf(line + n, sizeof(line) - n, " %02x", b[i]);
        test_diag(t, "dmar %04x:%s", off, line);
    }
    EXPECT_EQ(t, acpi_checksum(h, h->length), 0);
}

TEST_SUITE(dmar, 30, 0,
           TEST(parsed_without_problems),
           TEST(qemu_has_one_unit_for_all_devices),
           TEST(every_unit_answers),
           TEST(a_unit_reading_all_ones_is_left_alone),
           TEST(a_unit_reading_zeros_is_left_alone),
           TEST(a_unit_of_version_zero_is_left_alone),
           TEST(a_scope_naming_no_device_is_reported),
           TEST(capabilities_decoded),
           TEST(raw_table_dump));
