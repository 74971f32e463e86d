/* "The device" of the SVA suites when it is a DSA (devices/dma_dev.c),
 * against the scripted DSA (fake_dsa.h) behind fake PCI, frames and kva
 * mappings: which device the probe picks and why it passes one by; the
 * bind (PASID capability, WQCFG, the buffer and completion record mapped
 * where the device reaches them); copies through kva addresses carried
 * out by the device; a refused access counted; and every failing bind
 * leaving the device disabled, its PASID capability off and nothing
 * mapped or allocated. Nothing here has a DSA to run on otherwise. And
 * edu-pcie (a scripted edu with a PASID capability): its binding's PASID
 * capability and PASID register, its privilege switched, how its DMA
 * status is read. */
#include "host.h"

#include "../../devices/dsa.c"
#include "../../devices/dma_dev.c"
#include "kernel_shims.h"
#include "fake_dsa.h"

#define PASID_CAP_AT   0x200
#define CAP_PRIV       0x1406   /* 20-bit PASIDs, execute and privileged modes */
#define CAP_NO_PRIV    0x1400
#define MAX_MAPS       8
#define MAX_PAGES      16
#define VA_SRC         (KVA_BASE + 0x1000)
#define VA_DST         (KVA_BASE + 0x2000)
#define VA_UNMAPPED    (KVA_BASE + 0x5000)

static struct {
    struct pci_dev dsa, edu;
    int dsa_present, edu_present, movdir64b;
    uint32_t edu_pasid_reg;            /* edu-pcie's PASID register; its last DMA's status: */
    enum edu_dma_status edu_status;
    unsigned edu_dmas;
    uint16_t pasid_cap, pasid_ctrl;
    struct { uint64_t va, pa; } map[MAX_MAPS];
    unsigned pages_out;
} sys;
static uint8_t frames[MAX_PAGES][4096] __attribute__((aligned(4096)));
static uint8_t frame_used[MAX_PAGES];
static uint8_t bars[2][64] __attribute__((aligned(64)));

/* PCI, frames and kva as the kernel has them, faked. */
struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
    return sys.dsa_present && vendor == sys.dsa.vendor && device == sys.dsa.device ? &sys.dsa : NULL;
}
volatile void *pci_map_bar(struct pci_dev *d, unsigned bar, uint64_t *size) { return bars[bar == DSA_BAR_PORTALS]; }
void pci_enable_bus_master(struct pci_dev *d) {}
uint16_t pci_read16(const struct pci_dev *d, uint16_t off) { return off == PASID_CAP_AT + PCI_PASID_CAP ? sys.pasid_cap : 0; }
int pci_pasid_enable(struct pci_dev *d, int priv) { return pci_pasid_control(sys.pasid_cap, priv, &sys.pasid_ctrl); }
void pci_pasid_disable(struct pci_dev *d) { sys.pasid_ctrl = 0; }
int edu_probe_nth(struct edu *e, unsigned nth)
{
    memset(e, 0, sizeof(*e));
    if (!sys.edu_present)
        return -E_NOENT;
    e->pci = &sys.edu;
    e->tags_pasid = sys.edu.ext_pasid != 0;
    return 0;
}
int edu_dma(struct edu *e, uint64_t bus_addr, uint32_t buf_offset, uint32_t len, int to_device)
{
    sys.edu_dmas++;
    return 0;
}
int edu_tag_pasid(struct edu *e, uint32_t pasid, int priv)
{
    if (!e->tags_pasid)
        return -E_NODEV;
    sys.edu_pasid_reg = 1u << 31 | (priv ? 1u << 30 : 0) | pasid;
    return 0;
}
void edu_untag(struct edu *e) { sys.edu_pasid_reg = 0; }
enum edu_dma_status edu_last_dma_status(struct edu *e) { return sys.edu_status; }
int dsa_cpu_can_submit(void) { return sys.movdir64b; }
void *phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }

uint64_t page_alloc(void)
{
    for (unsigned i = 0; i < MAX_PAGES; i++)
        if (!frame_used[i]) {
            frame_used[i] = 1;
            sys.pages_out++;
            memset(frames[i], 0, sizeof(frames[i]));
            return (uint64_t)(uintptr_t)frames[i];
        }
    return 0;
}

void page_free(uint64_t pa)
{
    frame_used[((uint8_t(*)[4096])(uintptr_t)pa) - frames] = 0;
    sys.pages_out--;
}

int kva_map(uint64_t va, uint64_t pa, int leaf_level, uint64_t attrs)
{
    for (unsigned i = 0; i < MAX_MAPS; i++)
        if (!sys.map[i].va) {
            sys.map[i].va = va;
            sys.map[i].pa = pa;
            return 0;
        }
    return -E_NOMEM;
}

int kva_unmap_free(uint64_t va)
{
    for (unsigned i = 0; i < MAX_MAPS; i++)
        if (sys.map[i].va == va) {
            page_free(sys.map[i].pa);
            sys.map[i].va = 0;
            return 0;
        }
    return -E_NOENT;
}

static unsigned mappings(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < MAX_MAPS; i++)
        n += sys.map[i].va != 0;
    return n;
}

/* The device reaches memory through the kva mappings alone. */
static void *through_kva(uint64_t addr, size_t len)
{
    uint64_t page = addr & ~0xffful, off = addr & 0xfff;
    for (unsigned i = 0; i < MAX_MAPS; i++)
        if (sys.map[i].va == page && off + len <= 4096)
            return (void *)(uintptr_t)(sys.map[i].pa + off);
    return NULL;
}

static int setup(void **state)
{
    fake_dsa_reset();
    portal.translate = through_kva;
    printed[0] = 0;
    memset(&sys, 0, sizeof(sys));
    memset(frame_used, 0, sizeof(frame_used));
    sys.dsa = (struct pci_dev){ .vendor = DSA_VENDOR, .device = DSA_DEVICE_SPR, .bus = 0x6a, .dev = 1,
                                .ext_pasid = PASID_CAP_AT };
    sys.dsa_present = sys.movdir64b = 1;
    sys.pasid_cap = CAP_PRIV;
    return 0;
}

static void the_probe_takes_a_usable_dsa_and_says_why_not_otherwise(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(d.kind, DMA_DEV_DSA);
    assert_ptr_equal(d.pci, &sys.dsa);
    assert_true(dma_dev_can_supervise(&d));
    sys.pasid_cap = CAP_NO_PRIV;
    assert_false(dma_dev_can_supervise(&d));

    sys.movdir64b = 0;   /* a CPU that cannot submit: edu instead, if there is one */
    sys.edu_present = 1;
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(d.kind, DMA_DEV_EDU);
    assert_non_null(strstr(printed, "no MOVDIR64B"));
    sys.edu_present = 0;
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), -E_NOENT);
    assert_non_null(strstr(why, "no MOVDIR64B"));

    sys.movdir64b = 1;   /* the firmware hid its PASID capability */
    sys.dsa.ext_pasid = 0;
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), -E_NOENT);
    assert_non_null(strstr(why, "no PASID capability"));
}

static void a_bound_dsa_copies_through_kernel_vas(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(dma_dev_bind(&d, 1, 1), 0);
    assert_int_equal(sys.pasid_ctrl, 0x5);   /* PASID enable, privileged mode enable */
    /* WQ 0: dedicated, priority 1, PASID 1 enabled, privileged */
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x30000111u);
    assert_int_equal(dsa_read32(&d.dsa, DSA_GENSTS), DSA_STATE_ENABLED);
    assert_non_null(through_kva(DMA_DEV_DSA_VA, DMA_DEV_BUFFER_SIZE));
    assert_non_null(through_kva(DMA_DEV_DSA_RECORD_VA, sizeof(struct dsa_completion)));

    uint64_t src = page_alloc(), dst = page_alloc();
    assert_int_equal(kva_map(VA_SRC, src, PT_LEVEL_PT, 0), 0);
    assert_int_equal(kva_map(VA_DST, dst, PT_LEVEL_PT, 0), 0);
    for (unsigned i = 0; i < 4096; i++)
        ((uint8_t *)(uintptr_t)src)[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(dma_dev_read(&d, VA_SRC, 4096), 0);
    assert_int_equal(dma_dev_write(&d, VA_DST, 4096), 0);
    assert_memory_equal((void *)(uintptr_t)dst, (void *)(uintptr_t)src, 4096);
    /* both descriptors: the bound PASID, privileged, a record at the mapped VA */
    assert_int_equal(portal.submitted, 2);
    assert_int_equal(portal.last.qw[0] & 0xfffff, 1);
    assert_true(portal.last.qw[0] >> 31 & 1);
    assert_int_equal(portal.last.qw[DSA_QW_COMPLETION], DMA_DEV_DSA_RECORD_VA);
    assert_int_equal(d.faults_reported, 0);

    /* a write the translation refuses: the device finished, the refusal counted */
    assert_int_equal(dma_dev_write(&d, VA_UNMAPPED, 4096), 0);
    assert_int_equal(d.faults_reported, 1);
    assert_non_null(strstr(printed, "writing 0xffffa00000005000"));

    /* a record the device could not write (SWERR): no access of the
     * descriptor's was refused, so none is counted; the caller hears of it */
    portal.script = RECORD_NOT_TRANSLATED;
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), -E_FAULT);
    assert_int_equal(d.faults_reported, 1);
    assert_int_equal(d.records_refused, 1);
    assert_int_equal(d.refused_va, DMA_DEV_DSA_RECORD_VA);   /* SWERR's address */
    portal.script = DO_IT;

    kva_unmap_free(VA_SRC);
    kva_unmap_free(VA_DST);
    dma_dev_unbind(&d);
    assert_int_equal(dsa_read32(&d.dsa, DSA_GENSTS), DSA_STATE_DISABLED);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(mappings(), 0);
    assert_int_equal(sys.pages_out, 0);
}

/* A dedicated WQ takes its privilege from WQCFG, not the descriptor (DSA
 * spec; docs/dsa.md): a change of privilege is the WQ disabled, WQCFG's
 * privileged bit rewritten, the WQ enabled again. */
static void a_dsa_privilege_change_rewrites_its_dedicated_wq(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(dma_dev_bind(&d, 1, 1), 0);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x30000111u);
    unsigned before = hw.ncmds;
    assert_int_equal(dma_dev_set_privilege(&d, 0), 0);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x10000111u);   /* PASID 1 enabled, not privileged */
    assert_int_equal(hw.ncmds - before, 2);
    assert_int_equal(hw.cmds[before], DSA_CMD_DISABLE_WQ);
    assert_int_equal(hw.cmds[before + 1], DSA_CMD_ENABLE_WQ);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 24) >> 30, 1);       /* enabled again */
    assert_int_equal(dma_dev_set_privilege(&d, 1), 0);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x30000111u);
    /* a WQ that does not come back with the new privilege is an error, not
     * a silent change: the device holds the old mode again, enabled */
    hw.refuse_user = 1;
    assert_int_equal(dma_dev_set_privilege(&d, 0), -E_IO);
    assert_true(d.supervisor);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x30000111u);   /* privileged, as before */
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 24) >> 30, 1);       /* enabled again */
    assert_int_equal(hw.cmds[(hw.ncmds - 1) % 16], DSA_CMD_ENABLE_WQ);
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), 0);                  /* and it still works */
    /* one that comes back with neither leaves the dma_dev unusable, said so */
    hw.refuse_pasid = 1;
    printed[0] = 0;
    assert_int_equal(dma_dev_set_privilege(&d, 0), -E_NODEV);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 8), 0x30000111u);
    assert_int_equal(dsa_read32(&d.dsa, WQCFG_AT + 24) >> 30, 0);       /* disabled */
    assert_non_null(strstr(printed, "unusable"));
    unsigned submitted = portal.submitted;
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), -E_NODEV);
    assert_int_equal(portal.submitted, submitted);                       /* nothing sent to a dead WQ */
    dma_dev_unbind(&d);
    assert_int_equal(mappings(), 0);
}

static void left_as_found(struct dma_dev *d)
{
    assert_int_equal(dsa_read32(&d->dsa, DSA_GENSTS), DSA_STATE_DISABLED);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(mappings(), 0);
    assert_int_equal(sys.pages_out, 0);
    assert_false(d->bound);
}

static void a_failing_bind_leaves_nothing_behind(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    /* privileged mode asked of a function without it */
    sys.pasid_cap = CAP_NO_PRIV;
    assert_int_equal(dma_dev_bind(&d, 1, 1), -E_RANGE);
    assert_non_null(strstr(printed, "with privileged mode"));
    left_as_found(&d);
    /* a WQ that does not take the PASID */
    sys.pasid_cap = CAP_PRIV;
    hw.refuse_pasid = 1;
    assert_int_equal(dma_dev_bind(&d, 1, 1), -E_IO);
    assert_non_null(strstr(printed, "WQ 0 did not enable"));
    left_as_found(&d);
    /* a command error */
    hw.refuse_pasid = 0;
    hw.fail_cmd = DSA_CMD_ENABLE_DEVICE;
    hw.fail_code = 0x11;
    assert_int_equal(dma_dev_bind(&d, 1, 0), -E_IO);
    left_as_found(&d);
    /* no frame for the buffer */
    hw.fail_cmd = 0;
    for (unsigned i = 0; i < MAX_PAGES - 1; i++)
        frame_used[i] = 1;
    sys.pages_out = MAX_PAGES - 1;
    assert_int_equal(dma_dev_bind(&d, 1, 0), -E_NOMEM);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(mappings(), 0);
    assert_int_equal(sys.pages_out, MAX_PAGES - 1);
}

static void a_completion_that_never_arrives_fails_the_copy(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(dma_dev_bind(&d, 1, 0), 0);
    portal.script = NEVER_COMPLETE;
    uint64_t t0 = rdtsc();
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), -E_TIMEDOUT);
    assert_true(host_wait_ended(t0, DSA_COMPLETION_WAIT_US));
    assert_int_equal(dma_dev_read(&d, VA_SRC, DMA_DEV_BUFFER_SIZE + 1), -E_INVAL);   /* larger than its buffer */
    dma_dev_unbind(&d);
    left_as_found(&d);
}

/* edu-pcie: no DSA, an edu whose PASID capability supports privileged mode. */
static int setup_edu_pcie(void **state)
{
    setup(state);
    sys.dsa_present = 0;
    sys.edu_present = 1;
    sys.edu = (struct pci_dev){ .vendor = EDU_VENDOR, .device = EDU_DEVICE, .dev = 4, .ext_pasid = PASID_CAP_AT };
    return 0;
}

static void edu_pcie_tags_its_dma_with_the_bound_pasid_and_privilege(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(d.kind, DMA_DEV_EDU);
    assert_string_equal(dma_dev_name(&d), "edu-pcie");
    assert_true(dma_dev_can_supervise(&d));
    assert_true(dma_dev_reports_refusals(&d));
    assert_int_equal(dma_dev_bind(&d, 0x123, 1), 0);
    assert_int_equal(sys.pasid_ctrl, 0x5);                   /* PASID enable, privileged mode enable */
    assert_int_equal(sys.edu_pasid_reg, 0xc0000123u);        /* tagged, privileged, PASID 0x123 */
    assert_int_equal(dma_dev_set_privilege(&d, 0), 0);       /* a user request from the same binding */
    assert_int_equal(sys.edu_pasid_reg, 0x80000123u);
    assert_false(d.supervisor);
    assert_int_equal(dma_dev_set_privilege(&d, 1), 0);
    assert_int_equal(sys.edu_pasid_reg, 0xc0000123u);
    /* how each DMA ended, from the device: refused by the IOMMU is
     * counted, not issued at all is the device failing */
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), 0);
    assert_int_equal(d.faults_reported, 0);
    sys.edu_status = EDU_DMA_REFUSED_BY_IOMMU;
    assert_int_equal(dma_dev_read(&d, VA_SRC, 64), 0);
    assert_int_equal(d.faults_reported, 1);
    sys.edu_status = EDU_DMA_NOT_ISSUED;
    assert_int_equal(dma_dev_read(&d, VA_SRC, 64), -E_IO);
    assert_non_null(strstr(printed, "did not issue"));
    assert_int_equal(d.faults_reported, 1);
    assert_int_equal(sys.edu_dmas, 3);
    dma_dev_unbind(&d);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(sys.edu_pasid_reg, 0);
    assert_int_equal(dma_dev_set_privilege(&d, 0), -E_INVAL);   /* unbound */
}

static void edu_pcie_bound_without_privileged_mode_stays_user(void **state)
{
    struct dma_dev d;
    char why[128];
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_int_equal(dma_dev_bind(&d, 7, 0), 0);
    assert_int_equal(sys.pasid_ctrl, 0x1);
    assert_int_equal(sys.edu_pasid_reg, 0x80000007u);
    assert_int_equal(dma_dev_set_privilege(&d, 1), -E_INVAL);
    assert_int_equal(sys.edu_pasid_reg, 0x80000007u);
    dma_dev_unbind(&d);
    /* a function without privileged mode cannot be bound with it: nothing left on */
    sys.pasid_cap = CAP_NO_PRIV;
    assert_false(dma_dev_can_supervise(&d));
    assert_int_equal(dma_dev_bind(&d, 7, 1), -E_RANGE);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(sys.edu_pasid_reg, 0);
    assert_false(d.bound);
    /* a plain edu (no PASID capability): user requests through RID_PASID, no privilege to switch */
    sys.edu.ext_pasid = 0;
    assert_int_equal(dma_dev_probe(&d, why, sizeof(why)), 0);
    assert_string_equal(dma_dev_name(&d), "edu");
    assert_false(dma_dev_can_supervise(&d));
    assert_false(dma_dev_reports_refusals(&d));
    assert_int_equal(dma_dev_bind(&d, 7, 0), 0);
    assert_int_equal(sys.pasid_ctrl, 0);
    assert_int_equal(dma_dev_set_privilege(&d, 0), -E_NODEV);
    sys.edu_status = EDU_DMA_NOT_ISSUED;     /* a plain edu has no status register: not read */
    assert_int_equal(dma_dev_write(&d, VA_DST, 64), 0);
    dma_dev_unbind(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(the_probe_takes_a_usable_dsa_and_says_why_not_otherwise, setup),
        cmocka_unit_test_setup(a_bound_dsa_copies_through_kernel_vas, setup),
        cmocka_unit_test_setup(a_dsa_privilege_change_rewrites_its_dedicated_wq, setup),
        cmocka_unit_test_setup(a_failing_bind_leaves_nothing_behind, setup),
        cmocka_unit_test_setup(a_completion_that_never_arrives_fails_the_copy, setup),
        cmocka_unit_test_setup(edu_pcie_tags_its_dma_with_the_bound_pasid_and_privilege, setup_edu_pcie),
        cmocka_unit_test_setup(edu_pcie_bound_without_privileged_mode_stays_user, setup_edu_pcie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
