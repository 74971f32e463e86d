#include <stdio.h>
#include <string.h>
#include "unit.h"
#include "cap_reg.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../lib/atomic.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define GSTS_TEXT 96
#define MMIO_TRACE_ENTRIES 64

struct mmio_access {
    uint32_t off;
    uint8_t width, write;
    uint64_t value;
};
/* Every CPU appends: a slot is claimed with one atomic add, and only its
 * claimer writes it. */
static struct mmio_access trace_ring[MMIO_TRACE_ENTRIES];
static unsigned trace_next;
static int tracing;

void vtd_mmio_trace_enable(int on) { tracing = on; }
int vtd_mmio_trace_enabled(void) { return tracing; }

static void trace(uint32_t off, int width, int write, uint64_t v)
{
    if (!tracing)
        return;
    unsigned slot = atomic_fetch_add(&trace_next, 1);
    trace_ring[slot % MMIO_TRACE_ENTRIES] = (struct mmio_access){ off, (uint8_t)width, (uint8_t)write, v };
}

unsigned vtd_mmio_trace_mark(void) { return READ_ONCE(trace_next); }

int vtd_mmio_trace_writes_since(unsigned mark, uint32_t off, uint64_t bits, unsigned *count)
{
    unsigned next = READ_ONCE(trace_next);
    if (!tracing || next - mark > MMIO_TRACE_ENTRIES)
        return -E_RANGE;
    *count = 0;
    for (unsigned i = mark; i != next; i++) {
        const struct mmio_access *a = &trace_ring[i % MMIO_TRACE_ENTRIES];
        *count += a->write && a->off == off && (a->value & bits) == bits;
    }
    return 0;
}

void vtd_mmio_trace_dump(void)
{
    unsigned next = READ_ONCE(trace_next);
    unsigned n = next < MMIO_TRACE_ENTRIES ? next : MMIO_TRACE_ENTRIES;
    printk("# vtd mmio trace: last %u accesses, oldest first\n", n);
    for (unsigned i = next - n; i != next; i++) {
        const struct mmio_access *a = &trace_ring[i % MMIO_TRACE_ENTRIES];
        printk("#   %s%u 0x%03x = 0x%lx\n", a->write ? "write" : "read", a->width, a->off, a->value);
    }
}

uint32_t vtd_read32(struct vtd_unit *u, enum vtd_reg32 r)
{
    uint32_t v = *(volatile uint32_t *)(u->regs + r);
    trace(r, 32, 0, v);
    return v;
}

void vtd_write32(struct vtd_unit *u, enum vtd_reg32 r, uint32_t v)
{
    trace(r, 32, 1, v);
    *(volatile uint32_t *)(u->regs + r) = v;
}

uint64_t vtd_read64_at(struct vtd_unit *u, uint32_t off)
{
    uint64_t v = *(volatile uint64_t *)(u->regs + off);
    trace(off, 64, 0, v);
    return v;
}

void vtd_write64_at(struct vtd_unit *u, uint32_t off, uint64_t v)
{
    trace(off, 64, 1, v);
    *(volatile uint64_t *)(u->regs + off) = v;
}

uint64_t vtd_read64(struct vtd_unit *u, enum vtd_reg64 r) { return vtd_read64_at(u, r); }
void vtd_write64(struct vtd_unit *u, enum vtd_reg64 r, uint64_t v) { vtd_write64_at(u, r, v); }

uint32_t vtd_iotlb_offset(const struct vtd_unit *u) { return (uint32_t)ECAP_IRO(u->ecap) * VTD_IRO_UNIT; }

uint32_t vtd_fault_record_offset(const struct vtd_unit *u, unsigned i)
{
    return (uint32_t)CAP_FRO(u->cap) * VTD_IRO_UNIT + i * VTD_FRCD_SIZE;
}

/* VER (VT-d spec 11.4.1): major version at 7:4; every unit is 1.0 or
 * later. Registers reading all ones (nothing decodes the address) or zero
 * (a bus that returns zeros), a version 0.x or no capabilities at all are
 * no unit's: it is not there. */
#define VTD_VER_MAJOR 7, 4

static int regs_plausible(uint32_t ver, uint64_t cap)
{
    return ver != UINT32_MAX && bits_get(ver, VTD_VER_MAJOR) != 0 && cap != 0 && cap != UINT64_MAX;
}

int vtd_unit_init(struct vtd_unit *u, const struct dmar_drhd *d)
{
    memset(u, 0, sizeof(*u));
    spin_lock_init(&u->gcmd_lock, "vtd gcmd");
    spin_lock_init(&u->fault_lock, "vtd faults");
    u->drhd = d;
    u->regs = mmio_map(d->base, VTD_REGS_SIZE << d->size);
    if (!u->regs)
        return -E_NOMEM;
    u->ver = vtd_read32(u, VTD_VER);
    u->cap = vtd_read64(u, VTD_CAP);
    u->ecap = vtd_read64(u, VTD_ECAP);
    if (!regs_plausible(u->ver, u->cap))
        return -E_IO;
    /* Whatever the firmware left on stays on in the copy, so the next
     * GCMD write does not switch it off by accident. */
    u->gcmd = vtd_read32(u, VTD_GSTS) & VTD_GCMD_PERSISTENT;
    return 0;
}

void vtd_gsts_describe(uint32_t gsts, char *buf, unsigned size)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        { VTD_GCMD_TE, "TES" }, { VTD_GCMD_SRTP, "RTPS" }, { VTD_GCMD_SFL, "FLS" }, { VTD_GCMD_EAFL, "AFLS" },
        { VTD_GCMD_WBF, "WBFS" }, { VTD_GCMD_QIE, "QIES" }, { VTD_GCMD_IRE, "IRES" }, { VTD_GCMD_SIRTP, "IRTPS" },
        { VTD_GCMD_CFI, "CFIS" },
    };
    unsigned n = (unsigned)snprintf(buf, size, "0x%08x (", gsts);
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]) && n < size; i++)
        if (gsts & names[i].bit)
            n += (unsigned)snprintf(buf + n, size - n, " %s", names[i].name);
    if (n < size)
        snprintf(buf + n, size - n, " )");
}

/* Units that left a translation enable unacknowledged this boot, by
 * register base. A unit without DMA translation does that: QEMU's
 * intel-iommu with dma-translation=off reports CAP.SAGAW 0 and ignores
 * GCMD.TE (and a first-stage-only scalable unit may report SAGAW 0 too,
 * so SAGAW alone cannot tell). Later enables fail at once, not after
 * another VTD_GCMD_WAIT_US each. */
static uint64_t te_refused[DMAR_MAX_UNITS];

static int translation_refused(const struct vtd_unit *u)
{
    for (unsigned i = 0; i < DMAR_MAX_UNITS; i++)
        if (READ_ONCE(te_refused[i]) == u->drhd->base)
            return 1;
    return 0;
}

static void note_translation_refused(const struct vtd_unit *u)
{
    for (unsigned i = 0; i < DMAR_MAX_UNITS; i++)
        if (!te_refused[i]) {
            WRITE_ONCE(te_refused[i], u->drhd->base);
            return;
        }
}

int vtd_gcmd_within(struct vtd_unit *u, uint32_t cmd, int on, uint32_t timeout_us)
{
    int persistent = (cmd & VTD_GCMD_PERSISTENT) != 0;
    uint32_t value;
    int enabling_te = cmd == VTD_GCMD_TE && on;
    if (enabling_te && u->drhd && translation_refused(u))
        return -E_NODEV;
    spin_lock(&u->gcmd_lock);
    if (persistent) {
        u->gcmd = on ? (u->gcmd | cmd) : (u->gcmd & ~cmd);
        value = u->gcmd;
    } else {
        value = u->gcmd | cmd;
    }
    vtd_write32(u, VTD_GCMD, value);
    /* Persistent enables and SRTP/SFL/SIRTP report completion by their
     * status bit being set (or clear for a disable); WBFS is set while the
     * flush is pending. */
    uint32_t want = persistent ? (on ? cmd : 0) : (cmd == VTD_GCMD_WBF ? 0 : cmd);
    int ok = WAIT_UNTIL((vtd_read32(u, VTD_GSTS) & cmd) == want, timeout_us);
    uint32_t gsts = vtd_read32(u, VTD_GSTS);
    /* The copy says what the unit has on, so no later GCMD write asks
     * for an enable the unit never took. */
    if (!ok && persistent)
        u->gcmd = (u->gcmd & ~cmd) | (gsts & cmd);
    spin_unlock(&u->gcmd_lock);
    if (ok)
        return 0;
    char text[GSTS_TEXT];
    vtd_gsts_describe(gsts, text, sizeof(text));
    printk("# vtd: GCMD 0x%08x (command 0x%08x) not acknowledged in %u us: GSTS %s\n", value, cmd, timeout_us,
           text);
    if (enabling_te && !(gsts & VTD_GCMD_TE) && u->drhd) {
        printk("# vtd: the unit at 0x%lx does not turn DMA translation on (CAP.SAGAW 0x%lx): taken as a unit "
               "without DMA translation for the rest of this boot\n", u->drhd->base,
               (unsigned long)CAP_SAGAW(u->cap));
        note_translation_refused(u);
        return -E_NODEV;
    }
    return -E_TIMEDOUT;
}

int vtd_gcmd(struct vtd_unit *u, uint32_t cmd, int on) { return vtd_gcmd_within(u, cmd, on, VTD_GCMD_WAIT_US); }

int vtd_set_root_table(struct vtd_unit *u, uint64_t root_pa, int scalable)
{
    vtd_write64(u, VTD_RTADDR, root_pa | (scalable ? VTD_RTADDR_TTM_SCALABLE : VTD_RTADDR_TTM_LEGACY));
    return vtd_gcmd(u, VTD_GCMD_SRTP, 1);
}
