/* The shell (shell.h). Input is polled from the serial console; every
 * command reads: registers through the unit's own accessors, tables and
 * RAM through the direct map, and only where the memory map says RAM
 * (mm_is_ram), so a wrong pointer in a register is reported, never
 * followed. Nothing here writes to a unit or a device. The tables are
 * read as the unit would (VT-d spec 3.4: root, context, PASID directory
 * and table, then the first- or second-stage paging structures). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "shell.h"
#include "shell_args.h"
#include "../kernel/clock.h"
#include "../kernel/exit.h"
#include "../kernel/fbcon.h"
#include "../harness/harness.h"
#include "../kernel/printk.h"
#include "../kernel/serial.h"
#include "../kernel/x86.h"
#include "../devices/pci.h"
#include "../iommu/cap_reg.h"
#include "../iommu/context_entry.h"
#include "../iommu/fault_record.h"
#include "../iommu/iommu.h"
#include "../iommu/irt_entry.h"
#include "../iommu/pasid_entry.h"
#include "../iommu/qi_desc.h"
#include "../iommu/regs.h"
#include "../iommu/root_entry.h"
#include "../iommu/unit.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/layout.h"
#include "../mm/mm.h"

#define LINE_MAX_CHARS 128
#define OUT_MAX 256
#define KEY_POLL_US 1000u
#define SCREEN_MARGIN 16   /* as the summary's (kernel/summary.c) */
#define FONT_HEIGHT 16
#define US_PER_S 1000000u
#define MS_PER_S 1000u
#define CH_BACKSPACE 0x08
#define CH_DELETE 0x7f
#define CH_PRINTABLE_FIRST 0x20
#define CH_PRINTABLE_LAST 0x7e
/* mem dumps at most a page, 16 bytes a line. */
#define MEM_MAX 4096u
#define MEM_BYTES_PER_LINE 16
/* iq shows the descriptors from IQ_BEFORE before IQH to IQ_AFTER after it. */
#define IQ_BEFORE 2
#define IQ_AFTER 2
#define IQA_BASE_MASK (~0xffful)
#define QI_QUEUE_PAGE 4096u
#define PASID_MAX ((1u << 20) - 1)
#define RTADDR_TTM_MASK (3ul << VTD_RTADDR_TTM_SHIFT)
#define DEVFN_LOWER_MASK 0x7f
/* Paging structures (VT-d spec 9.7 for second stage, 9.8 / the SDM for
 * first stage): 512 entries a table, the frame in bits 51:12. */
#define PT_INDEX_BITS 9
#define PT_INDEX_MASK 0x1ffu
#define PT_ADDR_MASK 0x000ffffffffff000ul
#define PT_PS (1ul << 7)
#define FS_P (1ul << 0)
#define FS_RW (1ul << 1)
#define SS_R (1ul << 0)
#define SS_W (1ul << 1)
#define SS_RW_MASK (SS_R | SS_W)
#define FS_LEVELS_4 4
#define PT_LEVELS_MIN 3   /* AW=1: 39-bit, 3-level second stage */
#define FS_LEVELS_5 5
/* Entries' sizes in qwords (VT-d spec 9.1-9.6). */
#define ROOT_QWORDS (sizeof(struct vtd_root_entry) / sizeof(uint64_t))
#define CTX_QWORDS (sizeof(struct vtd_context_entry) / sizeof(uint64_t))
#define SM_CTX_QWORDS (sizeof(struct vtd_sm_context_entry) / sizeof(uint64_t))
#define PE_QWORDS (sizeof(struct vtd_pasid_entry) / sizeof(uint64_t))
#define IRTE_QWORDS (sizeof(struct vtd_irte) / sizeof(uint64_t))
/* VER (11.4.1): major 7:4, minor 3:0. */
#define VER_MAJOR 7, 4
#define VER_MINOR 3, 0
#define FLPM_5_LEVEL 1
#define LEVELS_FOR_AW(aw) ((int)(aw) + 2)
#define PGTT_FIRST 1
#define PGTT_SECOND 2
#define PGTT_NESTED 3
#define PGTT_PASS_THROUGH 4
/* The reset control register of Intel chipsets (I/O port 0xcf9): a full
 * reset with SYS_RST and RST_CPU. Under QEMU's -no-reboot it ends QEMU. */
#define RESET_CONTROL_PORT 0xcf9
#define RESET_FULL 0x0e

static const struct cmdline *boot_cmdline;
static uint64_t trace_bits;   /* what `run` traces: the cmdline's trace=, changed by `trace` */
static struct vtd_unit units[DMAR_MAX_UNITS];
static int unit_ok[DMAR_MAX_UNITS];
static unsigned nunits;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[OUT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printk(SHELL_OUT "%s\n", buf);
}

static void out_line(const char *l) { out("%s", l); }

/* Bad input: one line, and the command does nothing else. */
#define ERR(...)                                \
    do {                                        \
        printk(SHELL_OUT "error: ");            \
        printk(__VA_ARGS__);                    \
        printk("\n");                           \
        return;                                 \
    } while (0)

/* ------------------------------------------------------------ arguments */

static struct vtd_unit *arg_unit(const char *s, unsigned *index)
{
    uint64_t i;
    if (shell_number(s, &i)) {
        out("error: '%s' is not a unit number (units lists them)", s);
        return NULL;
    }
    if (i >= nunits) {
        out("error: no unit %lu (the DMAR lists %u)", i, nunits);
        return NULL;
    }
    if (!unit_ok[i]) {
        out("error: unit %lu's registers cannot be mapped", i);
        return NULL;
    }
    if (index)
        *index = (unsigned)i;
    return &units[i];
}

/* The unit of a command that takes only UNIT, or NULL after saying what
 * was wrong. */
static struct vtd_unit *only_unit(const char *cmd, int argc, char **argv, unsigned *index)
{
    if (argc != 2) {
        out("error: %s takes UNIT", cmd);
        return NULL;
    }
    return arg_unit(argv[1], index);
}

static struct pci_dev *arg_device(const char *s)
{
    uint8_t b, d, f;
    if (shell_bdf(s, &b, &d, &f)) {
        out("error: '%s' is not a PCI address BB:DD.F (hexadecimal, as lspci prints it)", s);
        return NULL;
    }
    for (unsigned i = 0; i < pci_count(); i++) {
        struct pci_dev *p = pci_get(i);
        if (p->bus == b && p->dev == d && p->fn == f)
            return p;
    }
    out("error: no PCI function %02x:%02x.%x (pci lists them)", b, d, f);
    return NULL;
}

static int arg_number(const char *s, const char *what, uint64_t *v)
{
    int e = shell_number(s, v);
    if (e)
        out("error: %s '%s' %s", what, s, e == -E_RANGE ? "does not fit in 64 bits" :
            "is not a number (decimal, or hexadecimal as 0x...)");
    return e;
}

/* The unit covering a device, and the requester id it sees it by. */
static struct vtd_unit *unit_of(struct pci_dev *p, unsigned *index, uint16_t *rid)
{
    const struct dmar_drhd *d = iommu_unit_for(p);
    const struct dmar_info *di = iommu_dmar();
    if (!d || !di) {
        out("error: %02x:%02x.%x is under no remapping unit", p->bus, p->dev, p->fn);
        return NULL;
    }
    unsigned i = (unsigned)(d - di->drhd);
    if (!unit_ok[i]) {
        out("error: unit %u's registers cannot be mapped", i);
        return NULL;
    }
    *index = i;
    *rid = pci_requester_id(p);
    return &units[i];
}

/* ------------------------------------------------------------ tables */

/* qwords of a table entry at pa, when the memory map says RAM. */
static int read_entry(uint64_t pa, uint64_t *qw, unsigned n, const char *what)
{
    if (!mm_is_ram(pa, n * sizeof(uint64_t))) {
        out("error: the %s at 0x%lx is not in RAM (memory map): not read", what, pa);
        return -1;
    }
    const volatile uint64_t *p = phys_to_virt(pa);
    for (unsigned i = 0; i < n; i++)
        qw[i] = p[i];
    return 0;
}

static void describe_entry(const char *what, uint64_t pa, const struct vtd_entry_field *f, size_t n,
                           const uint64_t *qw, unsigned nqw)
{
    char hex[OUT_MAX];
    size_t len = 0;
    for (unsigned i = 0; i < nqw && len < sizeof(hex); i++)
        len += (size_t)snprintf(hex + len, sizeof(hex) - len, " 0x%016lx", qw[i]);
    out("%s at 0x%lx:%s", what, pa, hex);
    vtd_describe_entry(f, n, qw, out_line);
}

static int scalable(struct vtd_unit *u) { return (vtd_read64(u, VTD_RTADDR) & RTADDR_TTM_MASK) != 0; }
static uint64_t root_table(struct vtd_unit *u) { return vtd_read64(u, VTD_RTADDR) & PAGE_MASK; }

/* The context entry the unit uses for rid: its qwords (2 legacy, 4
 * scalable); -1 when a level is missing (said so). */
static int context_of(struct vtd_unit *u, uint16_t rid, uint64_t *ctx, int verbose)
{
    uint8_t bus = pci_sid_bus(rid), devfn = pci_sid_devfn(rid);
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    if (!(gsts & VTD_GCMD_SRTP)) {
        out("no root table set (GSTS.RTPS=0)");
        return -1;
    }
    if (verbose && !(gsts & VTD_GCMD_TE))
        out("note: translation is off (GSTS.TES=0): these tables are what RTADDR points at, not in use");
    uint64_t root_pa = root_table(u) + (uint64_t)bus * sizeof(struct vtd_root_entry), root[ROOT_QWORDS];
    if (read_entry(root_pa, root, ROOT_QWORDS, "root entry"))
        return -1;
    int sm = scalable(u);
    if (verbose)
        describe_entry(sm ? "scalable root entry" : "root entry", root_pa,
                       sm ? vtd_sm_root_entry_fields : vtd_root_entry_fields,
                       sm ? vtd_sm_root_entry_field_count : vtd_root_entry_field_count, root, ROOT_QWORDS);
    int upper = sm && devfn > DEVFN_LOWER_MASK;
    uint64_t present = sm ? bits_get(root[upper], SM_ROOT_LP) : bits_get(root[0], ROOT_P);
    if (!present) {
        out("the root entry for bus %02x has no context table%s: the unit blocks the device", bus,
            sm ? (upper ? " for devfn 80-ff (UP=0)" : " for devfn 00-7f (LP=0)") : " (P=0)");
        return -1;
    }
    uint64_t ctp = (sm ? bits_get(root[upper], SM_ROOT_LCTP) : bits_get(root[0], ROOT_CTP)) << PAGE_SHIFT;
    uint64_t ctx_pa = sm ? ctp + (uint64_t)(devfn & DEVFN_LOWER_MASK) * sizeof(struct vtd_sm_context_entry)
                         : ctp + (uint64_t)devfn * sizeof(struct vtd_context_entry);
    unsigned nqw = sm ? SM_CTX_QWORDS : CTX_QWORDS;
    if (read_entry(ctx_pa, ctx, nqw, "context entry"))
        return -1;
    if (verbose)
        describe_entry(sm ? "scalable context entry" : "context entry", ctx_pa,
                       sm ? vtd_sm_context_entry_fields : vtd_context_entry_fields,
                       sm ? vtd_sm_context_entry_field_count : vtd_context_entry_field_count, ctx, nqw);
    if (!bits_get(ctx[0], CTX_P)) {
        out("the context entry is not present (P=0): the unit blocks %02x:%02x.%x", bus,
            devfn >> PCI_SID_DEV_SHIFT, devfn & PCI_SID_FN_MASK);
        return -1;
    }
    return 0;
}

/* The PASID entry for pasid under a scalable context entry. */
static int pasid_entry_of(const uint64_t *ctx, uint32_t pasid, uint64_t *pe, int verbose)
{
    uint64_t dir = bits_get(ctx[0], SM_CTX_PASIDDIRPTR) << PAGE_SHIFT;
    uint64_t dir_entries = 1ul << (bits_get(ctx[0], SM_CTX_PDTS) + SM_CTX_PDTS_BASE);
    uint64_t di = pasid >> PASID_DIR_SHIFT;
    if (di >= dir_entries) {
        out("PASID %u is past the directory's %lu entries (PDTS=%lu): the unit faults it", pasid, dir_entries,
            bits_get(ctx[0], SM_CTX_PDTS));
        return -1;
    }
    uint64_t de_pa = dir + di * sizeof(struct vtd_pasid_dir_entry), de;
    if (read_entry(de_pa, &de, 1, "PASID directory entry"))
        return -1;
    if (verbose)
        describe_entry("PASID directory entry", de_pa, vtd_pasid_dir_entry_fields, vtd_pasid_dir_entry_field_count,
                       &de, 1);
    if (!bits_get(de, PDE_P)) {
        out("the PASID directory entry %lu is not present: no PASID table for PASID %u", di, pasid);
        return -1;
    }
    uint64_t pe_pa = (bits_get(de, PDE_PASIDPTR) << PAGE_SHIFT) +
                     (uint64_t)(pasid % PASID_TABLE_ENTRIES) * sizeof(struct vtd_pasid_entry);
    if (read_entry(pe_pa, pe, PE_QWORDS, "PASID entry"))
        return -1;
    if (verbose)
        describe_entry("PASID entry", pe_pa, vtd_pasid_entry_fields, vtd_pasid_entry_field_count, pe, PE_QWORDS);
    return 0;
}

/* A first- or second-stage walk of va from the table at root, each level's
 * entry decoded, to the frame or to where it stops. */
static void walk_tables(uint64_t root, int levels, int first_stage, uint64_t va)
{
    static const char *const fs_names[] = { "", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" };
    static const char *const ss_names[] = { "", "SL-PTE", "SL-PDE", "SL-PDPE", "SL-PML4E", "SL-PML5E" };
    if (levels < PT_LEVELS_MIN || levels > FS_LEVELS_5) {
        out("%d levels (from the entry's AW or FLPM) is no table depth the spec defines: not walked", levels);
        return;
    }
    out("%s walk of 0x%lx: %d levels from 0x%lx", first_stage ? "first-stage" : "second-stage", va, levels, root);
    uint64_t table = root;
    for (int level = levels; level >= 1; level--) {
        unsigned shift = PAGE_SHIFT + PT_INDEX_BITS * (unsigned)(level - 1);
        unsigned idx = (unsigned)(va >> shift) & PT_INDEX_MASK;
        uint64_t pa = table + idx * sizeof(uint64_t), e;
        if (read_entry(pa, &e, 1, "paging entry"))
            return;
        const char *name = (first_stage ? fs_names : ss_names)[level];
        int present = first_stage ? (e & FS_P) != 0 : (e & SS_RW_MASK) != 0;
        out("  %-8s [%3u] at 0x%lx = 0x%016lx%s%s%s%s%s", name, idx, pa, e, present ? "" : " not present",
            present && first_stage && (e & FS_RW) ? " RW" : "",
            present && !first_stage ? ((e & SS_R) ? " R" : " -") : "",
            present && !first_stage ? ((e & SS_W) ? "W" : "-") : "",
            present && level > 1 && (e & PT_PS) ? " PS (a leaf)" : "");
        if (!present) {
            out("stops at the %s: not present, the unit faults the request", name);
            return;
        }
        uint64_t frame = e & PT_ADDR_MASK;
        if (level == 1 || (e & PT_PS)) {
            uint64_t offset = va & ((1ul << shift) - 1);
            out("reaches 0x%lx (a %lu KiB page at 0x%lx)", (frame & ~((1ul << shift) - 1)) + offset,
                (1ul << shift) >> 10, frame & ~((1ul << shift) - 1));
            return;
        }
        table = frame;
    }
}

/* ------------------------------------------------------------ commands */

static void cmd_help(int argc, char **argv)
{
    out("units                      the remapping units, what each offers, what is on");
    out("regs UNIT                  every register of the unit, GSTS and FSTS in words");
    out("cap UNIT | ecap UNIT       CAP or ECAP field by field");
    out("root UNIT                  RTADDR and the present root entries");
    out("context BB:DD.F            root and context entry the device's unit uses (either mode)");
    out("pasid BB:DD.F PASID        the PASID directory and table entries (scalable mode)");
    out("walk BB:DD.F IOVA          the walk of a request without PASID (legacy, or RID_PASID)");
    out("walk BB:DD.F PASID VA      the walk of a request with PASID (first or second stage)");
    out("iq UNIT                    the invalidation queue: head, tail, errors, descriptors at IQH");
    out("faults UNIT                the fault status and every recorded fault, FRI marked");
    out("irte UNIT [INDEX]          the interrupt remapping table's present entries, or one decoded");
    out("pci                        devices, capabilities, their unit and requester id");
    out("dmar                       the DMAR table as its decoder prints it");
    out("mem PA LEN                 RAM (memory map only), LEN up to %u bytes", MEM_MAX);
    out("run GLOBS                  run cases as tests= selects them, their KTAP on these lines");
    out("trace [qi|mmio on|off]     what run traces: queue descriptors, the MMIO ring on a failure");
    out("help | exit | reboot");
}

static void cmd_units(int argc, char **argv)
{
    if (!nunits) {
        out("no remapping unit (the firmware gave no DMAR, or it lists none)");
        return;
    }
    for (unsigned i = 0; i < nunits; i++) {
        char text[OUT_MAX], gsts[OUT_MAX];
        iommu_unit_describe(i, text, sizeof(text));
        if (!unit_ok[i]) {
            out("%s", text);
            continue;
        }
        vtd_gsts_describe(vtd_read32(&units[i], VTD_GSTS), gsts, sizeof(gsts));
        out("%s; version %u.%u; GSTS %s", text + 2, (unsigned)bits_get(units[i].ver, VER_MAJOR),
            (unsigned)bits_get(units[i].ver, VER_MINOR), gsts);
    }
}

static void cmd_regs(int argc, char **argv)
{
    struct vtd_unit *u = only_unit("regs", argc, argv, NULL);
    if (!u)
        return;
    static const struct { const char *name; enum vtd_reg32 r; } r32[] = {
        { "VER", VTD_VER }, { "GSTS", VTD_GSTS }, { "FSTS", VTD_FSTS }, { "FECTL", VTD_FECTL },
        { "FEDATA", VTD_FEDATA }, { "FEADDR", VTD_FEADDR }, { "FEUADDR", VTD_FEUADDR }, { "PMEN", VTD_PMEN },
        { "ICS", VTD_ICS }, { "IECTL", VTD_IECTL }, { "IEDATA", VTD_IEDATA }, { "IEADDR", VTD_IEADDR },
        { "IEUADDR", VTD_IEUADDR },
    };
    static const struct { const char *name; enum vtd_reg64 r; } r64[] = {
        { "CAP", VTD_CAP }, { "ECAP", VTD_ECAP }, { "RTADDR", VTD_RTADDR }, { "CCMD", VTD_CCMD },
        { "IQH", VTD_IQH }, { "IQT", VTD_IQT }, { "IQA", VTD_IQA }, { "IQERCD", VTD_IQERCD }, { "IRTA", VTD_IRTA },
    };
    for (size_t i = 0; i < sizeof(r32) / sizeof(r32[0]); i++) {
        uint32_t v = vtd_read32(u, r32[i].r);
        char words[OUT_MAX] = "";
        if (r32[i].r == VTD_GSTS)
            vtd_gsts_describe(v, words, sizeof(words));
        out("%-8s 0x%03x = 0x%08x%s%s", r32[i].name, r32[i].r, v, words[0] ? "  " : "", words);
    }
    for (size_t i = 0; i < sizeof(r64) / sizeof(r64[0]); i++)
        out("%-8s 0x%03x = 0x%016lx", r64[i].name, r64[i].r, vtd_read64(u, r64[i].r));
    out("IOTLB    0x%03x = 0x%016lx", vtd_iotlb_offset(u), vtd_read64_at(u, vtd_iotlb_offset(u)));
}

static void cmd_cap(int argc, char **argv)
{
    int cap = !strcmp(argv[0], "cap");
    if (argc != 2)
        ERR("%s takes UNIT", argv[0]);
    struct vtd_unit *u = arg_unit(argv[1], NULL);
    if (!u)
        return;
    uint64_t v = cap ? u->cap : u->ecap;
    out("%s 0x%016lx:", cap ? "CAP" : "ECAP", v);
    vtd_describe_fields(cap ? vtd_cap_fields : vtd_ecap_fields, cap ? vtd_cap_field_count : vtd_ecap_field_count, v,
                        out_line);
}

static void cmd_root(int argc, char **argv)
{
    struct vtd_unit *u = only_unit("root", argc, argv, NULL);
    if (!u)
        return;
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    uint64_t rt = root_table(u);
    int sm = scalable(u);
    out("RTADDR 0x%lx, %s mode; root table %s, translation %s", rt, sm ? "scalable" : "legacy",
        gsts & VTD_GCMD_SRTP ? "set (RTPS)" : "not set", gsts & VTD_GCMD_TE ? "on (TES)" : "off");
    if (!(gsts & VTD_GCMD_SRTP))
        return;
    if (!mm_is_ram(rt, PAGE_SIZE))
        ERR("the root table at 0x%lx is not in RAM (memory map): not read", rt);
    const volatile uint64_t *t = phys_to_virt(rt);
    unsigned shown = 0;
    for (unsigned bus = 0; bus < VTD_ROOT_ENTRIES; bus++) {
        uint64_t lo = t[bus * 2], hi = t[bus * 2 + 1];
        if (sm && (bits_get(lo, SM_ROOT_LP) || bits_get(hi, SM_ROOT_UP)))
            out("bus %02x: lower %s 0x%lx, upper %s 0x%lx", bus, bits_get(lo, SM_ROOT_LP) ? "present" : "absent",
                bits_get(lo, SM_ROOT_LCTP) << PAGE_SHIFT, bits_get(hi, SM_ROOT_UP) ? "present" : "absent",
                bits_get(hi, SM_ROOT_UCTP) << PAGE_SHIFT);
        else if (!sm && bits_get(lo, ROOT_P))
            out("bus %02x: context table 0x%lx", bus, bits_get(lo, ROOT_CTP) << PAGE_SHIFT);
        else
            continue;
        shown++;
    }
    out("%u of %u root entries present", shown, VTD_ROOT_ENTRIES);
}

static void cmd_context(int argc, char **argv)
{
    if (argc != 2)
        ERR("context takes BB:DD.F");
    struct pci_dev *p = arg_device(argv[1]);
    unsigned ui;
    uint16_t rid;
    struct vtd_unit *u = p ? unit_of(p, &ui, &rid) : NULL;
    if (!u)
        return;
    out("%02x:%02x.%x is seen by unit %u as %02x:%02x.%x (requester id 0x%04x), %s mode", p->bus, p->dev, p->fn, ui,
        pci_sid_bus(rid), pci_sid_devfn(rid) >> PCI_SID_DEV_SHIFT, pci_sid_devfn(rid) & PCI_SID_FN_MASK, rid,
        scalable(u) ? "scalable" : "legacy");
    uint64_t ctx[SM_CTX_QWORDS];
    context_of(u, rid, ctx, 1);
}

static void cmd_pasid(int argc, char **argv)
{
    if (argc != 3)
        ERR("pasid takes BB:DD.F PASID");
    struct pci_dev *p = arg_device(argv[1]);
    uint64_t pasid;
    if (!p || arg_number(argv[2], "PASID", &pasid))
        return;
    if (pasid > PASID_MAX)
        ERR("PASID %lu is past the 20 bits a PASID has (max %u)", pasid, PASID_MAX);
    unsigned ui;
    uint16_t rid;
    struct vtd_unit *u = unit_of(p, &ui, &rid);
    if (!u)
        return;
    if (!scalable(u))
        ERR("unit %u is in legacy mode (RTADDR.TTM=0): it has no PASID tables", ui);
    uint64_t ctx[SM_CTX_QWORDS], pe[PE_QWORDS];
    if (context_of(u, rid, ctx, 0))
        return;
    pasid_entry_of(ctx, (uint32_t)pasid, pe, 1);
}

/* A PASID entry's field: PE_* name the qword as well as the bits. */
static uint64_t pe_get(const uint64_t *pe, unsigned qword, unsigned hi, unsigned lo)
{
    return bits_get(pe[qword], hi, lo);
}

static void walk_pasid_entry(const uint64_t *pe, uint64_t va)
{
    if (!pe_get(pe, PE_P)) {
        out("the PASID entry is not present (P=0): the unit faults the request");
        return;
    }
    uint64_t pgtt = pe_get(pe, PE_PGTT);
    if (pgtt == PGTT_FIRST)
        walk_tables(pe_get(pe, PE_FLPTR) << PAGE_SHIFT,
                    pe_get(pe, PE_FLPM) == FLPM_5_LEVEL ? FS_LEVELS_5 : FS_LEVELS_4, 1, va);
    else if (pgtt == PGTT_SECOND)
        walk_tables(pe_get(pe, PE_SLPTPTR) << PAGE_SHIFT, LEVELS_FOR_AW(pe_get(pe, PE_AW)), 0, va);
    else if (pgtt == PGTT_PASS_THROUGH)
        out("pass-through (PGTT=4): 0x%lx reaches 0x%lx untranslated", va, va);
    else
        out("PGTT=%lu (%s): not walked by the shell", pgtt, pgtt == PGTT_NESTED ? "nested" : "reserved");
}

static void cmd_walk(int argc, char **argv)
{
    if (argc != 3 && argc != 4)
        ERR("walk takes BB:DD.F IOVA, or BB:DD.F PASID VA");
    struct pci_dev *p = arg_device(argv[1]);
    uint64_t pasid = 0, va;
    if (!p || (argc == 4 && arg_number(argv[2], "PASID", &pasid)) || arg_number(argv[argc - 1], "address", &va))
        return;
    if (argc == 4 && pasid > PASID_MAX)
        ERR("PASID %lu is past the 20 bits a PASID has (max %u)", pasid, PASID_MAX);
    unsigned ui;
    uint16_t rid;
    struct vtd_unit *u = unit_of(p, &ui, &rid);
    if (!u)
        return;
    int sm = scalable(u);
    if (argc == 4 && !sm)
        ERR("unit %u is in legacy mode (RTADDR.TTM=0): requests with a PASID are not translated", ui);
    uint64_t ctx[SM_CTX_QWORDS], pe[PE_QWORDS];
    if (context_of(u, rid, ctx, 0))
        return;
    if (!sm) {
        uint64_t tt = bits_get(ctx[0], CTX_TT);
        if (tt == VTD_TT_PASS_THROUGH)
            out("pass-through (TT=2): 0x%lx reaches 0x%lx untranslated", va, va);
        else
            walk_tables(bits_get(ctx[0], CTX_SLPTPTR) << PAGE_SHIFT, LEVELS_FOR_AW(bits_get(ctx[1], CTX_AW)), 0, va);
        return;
    }
    uint32_t which = argc == 4 ? (uint32_t)pasid : (uint32_t)bits_get(ctx[1], SM_CTX_RID_PASID);
    if (argc == 3)
        out("a request without PASID uses RID_PASID %u", which);
    if (!pasid_entry_of(ctx, which, pe, 0))
        walk_pasid_entry(pe, va);
}

static void cmd_iq(int argc, char **argv)
{
    unsigned ui;
    struct vtd_unit *u = only_unit("iq", argc, argv, &ui);
    if (!u)
        return;
    if (!ECAP_QI(u->ecap))
        ERR("unit %u has no invalidation queue (ECAP.QI=0)", ui);
    uint64_t iqa = vtd_read64(u, VTD_IQA), iqercd = vtd_read64(u, VTD_IQERCD);
    uint32_t gsts = vtd_read32(u, VTD_GSTS), fsts = vtd_read32(u, VTD_FSTS);
    int wide = (iqa & VTD_IQA_DW_256) != 0;
    unsigned shift = wide ? VTD_IQ_INDEX_SHIFT_256 : VTD_IQ_INDEX_SHIFT_128;
    unsigned size = wide ? QI_DESC_256 : QI_DESC_128;
    unsigned entries = (QI_QUEUE_PAGE << (iqa & VTD_IQA_QS_MASK)) / size;
    unsigned head = (unsigned)((vtd_read64(u, VTD_IQH) & VTD_IQ_INDEX_MASK) >> shift);
    unsigned tail = (unsigned)((vtd_read64(u, VTD_IQT) & VTD_IQ_INDEX_MASK) >> shift);
    uint64_t base = iqa & IQA_BASE_MASK;
    out("queue %s (GSTS.QIES=%u): base 0x%lx, %u %u-bit descriptors, IQH %u, IQT %u, %u pending",
        gsts & VTD_GCMD_QIE ? "on" : "off", !!(gsts & VTD_GCMD_QIE), base, entries, size * 8, head, tail,
        (tail + entries - head) % entries);
    out("errors: IQE %u, ICE %u, ITE %u; IQERCD 0x%lx", !!(fsts & VTD_FSTS_IQE), !!(fsts & VTD_FSTS_ICE),
        !!(fsts & VTD_FSTS_ITE), iqercd);
    if (!base)
        return;
    if (!mm_is_ram(base, (uint64_t)entries * size))
        ERR("the queue at 0x%lx is not in RAM (memory map): not read", base);
    for (int k = -IQ_BEFORE; k <= IQ_AFTER; k++) {
        unsigned i = (head + entries + (unsigned)k) % entries;
        struct qi_desc d = { { 0 } };
        memcpy(&d, (const void *)((const uint8_t *)phys_to_virt(base) + (uint64_t)i * size), size);
        char text[OUT_MAX];
        qi_desc_describe(&d, text, sizeof(text));
        out("[%4u] 0x%016lx 0x%016lx %s%s%s", i, d.qw[0], d.qw[1], text, i == head ? "  <- IQH" : "",
            i == tail ? "  <- IQT" : "");
    }
}

static void cmd_faults(int argc, char **argv)
{
    struct vtd_unit *u = only_unit("faults", argc, argv, NULL);
    if (!u)
        return;
    uint32_t fsts = vtd_read32(u, VTD_FSTS);
    unsigned fri = (fsts & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT, nfr = (unsigned)CAP_NFR(u->cap), pending = 0;
    out("FSTS 0x%08x: PFO %u, PPF %u, IQE %u, ICE %u, ITE %u, FRI %u; %u fault recording registers", fsts,
        !!(fsts & VTD_FSTS_PFO), !!(fsts & VTD_FSTS_PPF), !!(fsts & VTD_FSTS_IQE), !!(fsts & VTD_FSTS_ICE),
        !!(fsts & VTD_FSTS_ITE), fri, nfr);
    for (unsigned i = 0; i < nfr; i++) {
        uint32_t off = vtd_fault_record_offset(u, i);
        uint64_t lo = vtd_read64_at(u, off), hi = vtd_read64_at(u, off + sizeof(uint64_t));
        struct vtd_fault f;
        if (!vtd_fault_decode(lo, hi, &f))
            continue;
        char text[OUT_MAX];
        vtd_fault_describe(&f, text, sizeof(text));
        /* the raw record too, high qword first as `vtdlab decode fault HI LO` takes it */
        out("record %u: %s (FRCD 0x%016lx 0x%016lx)%s", i, text, hi, lo, i == fri ? "  <- FRI" : "");
        pending++;
    }
    out("%u record(s) pending", pending);
}

static void cmd_irte(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        ERR("irte takes UNIT [INDEX]");
    unsigned ui;
    struct vtd_unit *u = arg_unit(argv[1], &ui);
    uint64_t index = 0;
    if (!u || (argc == 3 && arg_number(argv[2], "index", &index)))
        return;
    if (!ECAP_IR(u->ecap))
        ERR("unit %u does not remap interrupts (ECAP.IR=0)", ui);
    uint64_t irta = vtd_read64(u, VTD_IRTA), base = irta & PAGE_MASK;
    uint64_t entries = 2ul << bits_get(irta, IRTA_S);
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    if (argc == 3 && index >= entries)
        ERR("index %lu is past the table's %lu entries (IRTA 0x%lx)", index, entries, irta);
    out("IRTA 0x%lx: table at 0x%lx, %lu entries, %s format; table %s, remapping %s", irta, base, entries,
        bits_get(irta, IRTA_EIME) ? "x2APIC (EIME)" : "xAPIC", gsts & VTD_GCMD_SIRTP ? "set (IRTPS)" : "not set",
        gsts & VTD_GCMD_IRE ? "on (IRES)" : "off");
    if (!(gsts & VTD_GCMD_SIRTP))
        return;
    if (!mm_is_ram(base, entries * sizeof(struct vtd_irte)))
        ERR("the table at 0x%lx is not in RAM (memory map): not read", base);
    const volatile struct vtd_irte *t = phys_to_virt(base);
    if (argc == 3) {
        uint64_t qw[IRTE_QWORDS] = { t[index].lo, t[index].hi };
        describe_entry("IRTE", base + index * sizeof(struct vtd_irte), vtd_irte_fields, vtd_irte_field_count, qw,
                       IRTE_QWORDS);
        return;
    }
    unsigned present = 0;
    for (uint64_t i = 0; i < entries; i++) {
        uint64_t lo = t[i].lo, hi = t[i].hi;
        if (!bits_get(lo, IRTE_P))
            continue;
        present++;
        out("[%5lu] vector 0x%02lx to 0x%lx, source-id 0x%04lx (SVT %lu)", i, bits_get(lo, IRTE_V),
            bits_get(lo, IRTE_DST_X2APIC), bits_get(hi, IRTE_SID_HI), bits_get(hi, IRTE_SVT_HI));
    }
    out("%u of %lu entries present", present, entries);
}

static void cmd_pci(int argc, char **argv)
{
    const struct dmar_info *di = iommu_dmar();
    for (unsigned i = 0; i < pci_count(); i++) {
        struct pci_dev *p = pci_get(i);
        const struct dmar_drhd *d = iommu_unit_for(p);
        uint16_t rid = pci_requester_id(p);
        char unit[32] = "no unit";
        if (d && di)
            snprintf(unit, sizeof(unit), "unit %u", (unsigned)(d - di->drhd));
        out("%04x:%02x:%02x.%x %04x:%04x class %06x%s%s%s%s%s%s; %s, requester id %02x:%02x.%x", p->segment, p->bus,
            p->dev, p->fn, p->vendor, p->device, p->class_rev >> 8, p->cap_msi ? " MSI" : "",
            p->cap_msix ? " MSI-X" : "", p->cap_pcie ? " PCIe" : "", p->ext_ats ? " ATS" : "",
            p->ext_pri ? " PRI" : "", p->ext_pasid ? " PASID" : "", unit, pci_sid_bus(rid),
            pci_sid_devfn(rid) >> PCI_SID_DEV_SHIFT, pci_sid_devfn(rid) & PCI_SID_FN_MASK);
    }
    out("%u function(s)", pci_count());
}

static void cmd_dmar(int argc, char **argv)
{
    const struct dmar_info *di = iommu_dmar();
    if (!di)
        ERR("the firmware gave no DMAR table");
    dmar_describe(di, out_line);
}

static void cmd_mem(int argc, char **argv)
{
    if (argc != 3)
        ERR("mem takes PA LEN");
    uint64_t pa, len;
    if (arg_number(argv[1], "address", &pa) || arg_number(argv[2], "length", &len))
        return;
    if (!len || len > MEM_MAX)
        ERR("length %lu: give 1 to %u bytes", len, MEM_MAX);
    if (!mm_is_ram(pa, len))
        ERR("0x%lx..0x%lx is not RAM in the memory map: not read", pa, pa + len - 1);
    const volatile uint8_t *b = phys_to_virt(pa);
    for (uint64_t off = 0; off < len; off += MEM_BYTES_PER_LINE) {
        char line[OUT_MAX];
        size_t n = (size_t)snprintf(line, sizeof(line), "0x%012lx:", pa + off);
        for (uint64_t i = off; i < len && i < off + MEM_BYTES_PER_LINE; i++)
            n += (size_t)snprintf(line + n, sizeof(line) - n, " %02x", b[i]);
        out("%s", line);
    }
}

/* The persistent enables a case turns on and takes down again. */
#define UNIT_IN_USE (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE)

static void cmd_run(int argc, char **argv)
{
    if (argc != 2)
        ERR("run takes GLOBS (as tests= takes them)");
    if (strlen(argv[1]) >= CMDLINE_VALUE_MAX)
        ERR("globs longer than %d characters", CMDLINE_VALUE_MAX - 1);
    /* Cases set a unit up from off and take it down: one left on (keep=1)
     * would be set up again underneath what it is doing. */
    for (unsigned i = 0; i < nunits; i++) {
        uint32_t gsts = unit_ok[i] ? vtd_read32(&units[i], VTD_GSTS) : 0;
        if (gsts & UNIT_IN_USE) {
            char words[OUT_MAX];
            vtd_gsts_describe(gsts, words, sizeof(words));
            ERR("unit %u is in use (GSTS %s, as keep=1 leaves it): boot without keep=1 to run cases", i, words);
        }
    }
    static struct cmdline c;
    c = *boot_cmdline;
    memcpy(c.tests, argv[1], strlen(argv[1]) + 1);
    c.resume = 0;
    c.keep = 0;
    c.trace = trace_bits;
    console_line_prefix(SHELL_OUT);
    harness_begin(&c);
    harness_run(&c);
    console_line_prefix(NULL);
}

static void cmd_trace(int argc, char **argv)
{
    if (argc == 3) {
        uint64_t bit = !strcmp(argv[1], "qi") ? TRACE_QI : !strcmp(argv[1], "mmio") ? TRACE_MMIO : 0;
        int on = !strcmp(argv[2], "on"), off = !strcmp(argv[2], "off");
        if (!bit)
            ERR("trace knows qi and mmio, not '%s'", argv[1]);
        if (!on && !off)
            ERR("trace %s takes on or off, not '%s'", argv[1], argv[2]);
        trace_bits = on ? trace_bits | bit : trace_bits & ~bit;
        if (bit == TRACE_MMIO) {
            /* as the cmdline's trace=mmio does (kernel/main.c) */
            vtd_mmio_trace_enable(on);
            harness_set_failure_dump(on ? vtd_mmio_trace_dump : NULL);
            panic_set_dump(on ? vtd_mmio_trace_dump : NULL);
        }
    } else if (argc != 1) {
        ERR("trace takes nothing, or qi|mmio on|off");
    }
    out("trace for run: qi %s, mmio %s", trace_bits & TRACE_QI ? "on" : "off", trace_bits & TRACE_MMIO ? "on" : "off");
}

static void cmd_reboot(int argc, char **argv)
{
    out("rebooting");
    outb(RESET_CONTROL_PORT, RESET_FULL);
    udelay(US_PER_S);
    out("error: the reset control register did not reset the machine");
}

static const struct {
    const char *name;
    void (*fn)(int argc, char **argv);
} commands[] = {
    { "help", cmd_help }, { "units", cmd_units }, { "regs", cmd_regs }, { "cap", cmd_cap }, { "ecap", cmd_cap },
    { "root", cmd_root }, { "context", cmd_context }, { "pasid", cmd_pasid }, { "walk", cmd_walk },
    { "iq", cmd_iq }, { "faults", cmd_faults }, { "irte", cmd_irte }, { "pci", cmd_pci }, { "dmar", cmd_dmar }, { "mem", cmd_mem },
    { "run", cmd_run }, { "trace", cmd_trace }, { "reboot", cmd_reboot },
};

/* ------------------------------------------------------------ the loop */

/* One line from the console, echoed as typed; its length, or -1 for a line
 * longer than the buffer (the rest of it is read and dropped). */
static int read_line(char *buf, unsigned size)
{
    unsigned n = 0;
    int over = 0;
    for (;;) {
        int c = serial_getc();
        if (c < 0) {
            cpu_relax();
            continue;
        }
        if (c == '\r' || c == '\n') {
            printk("\n");
            buf[n] = 0;
            return over ? -1 : (int)n;
        }
        if ((c == CH_BACKSPACE || c == CH_DELETE) && n) {
            n--;
            printk("\b \b");
            console_flush();
        } else if (c >= CH_PRINTABLE_FIRST && c <= CH_PRINTABLE_LAST) {
            if (n + 1 < size) {
                buf[n++] = (char)c;
                printk("%c", c);
                console_flush();
            } else {
                over = 1;
            }
        }
    }
}

static void run_line(char *line)
{
    char *argv[SHELL_ARGS_MAX];
    int argc = shell_split(line, argv, SHELL_ARGS_MAX);
    if (argc < 0)
        ERR("more than %d words", SHELL_ARGS_MAX);
    if (!argc)
        return;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[0], commands[i].name)) {
            commands[i].fn(argc, argv);
            return;
        }
    ERR("unknown command '%s' (help lists them)", argv[0]);
}

/* The summary froze the screen's log: what shell=auto says goes at the
 * screen's foot, each text over the one before (padded with spaces, which
 * the font draws as background). */
#define FOOT_CHARS 64
static void screen_foot(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void screen_foot(const char *fmt, ...)
{
    if (!fbcon_active())
        return;
    char text[FOOT_CHARS + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    for (int i = n < 0 ? 0 : n; i < FOOT_CHARS; i++)
        text[i] = ' ';
    text[FOOT_CHARS] = 0;
    fbcon_draw_text(SCREEN_MARGIN, fbcon_height() - SCREEN_MARGIN - FONT_HEIGHT, text, 1, FBCON_FOREGROUND);
}

/* A key within ms by the clock: with interrupts on, udelay halts to the
 * next timer tick, so counting its calls would wait up to a tick a poll
 * (100 ms asked took 1 s). */
static int key_within(uint64_t ms)
{
    struct deadline d = deadline_after_us(ms * US_PER_MS);
    while (!deadline_passed(d)) {
        if (serial_getc() >= 0)
            return 1;
        udelay(KEY_POLL_US);
    }
    return serial_getc() >= 0;
}

void shell_after_run(const struct cmdline *cmd)
{
    if (cmd->shell == SHELL_OFF)
        return;
    if (serial_port()->kind == SERIAL_OFF) {
        printk("# vtdlab: shell: not started: the serial console is off (console=%s)\n",
               cmd->console == CONSOLE_GOP ? "gop" : "none");
        return;
    }
    if (cmd->shell == SHELL_AUTO) {
        /* shell_wait_ms= in words: "5 s", or "250 ms" */
        char wait[32];
        uint64_t ms = cmd->shell_wait_ms;
        if (ms % MS_PER_S)
            snprintf(wait, sizeof(wait), "%lu ms", ms);
        else
            snprintf(wait, sizeof(wait), "%lu s", ms / MS_PER_S);
        printk("# vtdlab: shell: press a key on the serial console within %s for a shell (shell=auto)\n", wait);
        screen_foot("Press a key on the serial console within %s for a shell", wait);
        uint64_t start_us = clock_us();
        if (!key_within(ms)) {
            /* the clock's measure of the wait, not the one asked for */
            printk("# vtdlab: shell: no key pressed in %lu ms\n", (clock_us() - start_us) / US_PER_MS);
            screen_foot("No key pressed: no shell");
            return;
        }
        screen_foot("The shell is on the serial console");
    }
    boot_cmdline = cmd;
    trace_bits = cmd->trace;
    const struct dmar_info *di = iommu_dmar();
    nunits = di ? di->ndrhd : 0;
    for (unsigned i = 0; i < nunits; i++)
        unit_ok[i] = vtd_unit_init(&units[i], &di->drhd[i]) != -E_NOMEM;
    printk("# " SHELL_READY_MARK " (help lists the commands, exit leaves)\n");
    char line[LINE_MAX_CHARS];
    for (;;) {
        printk(SHELL_PROMPT);
        console_flush();
        int n = read_line(line, sizeof(line));
        if (n < 0) {
            out("error: a line longer than %u characters: dropped", LINE_MAX_CHARS - 1);
            continue;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!strcmp(s, "exit"))
            break;
        run_line(line);
    }
    printk("# vtdlab: shell: left\n");
}
