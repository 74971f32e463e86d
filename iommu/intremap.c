/* The interrupt remapping table's life: allocated zeroed (nothing present),
 * pointed at with SIRTP, entries written so the unit never reads a torn
 * one (irte_update: one 16-byte store where the CPU has CMPXCHG16B) and
 * always followed by an interrupt-entry-cache invalidation, freed only
 * after the unit says IRE is off. */
#include <string.h>
#include "intremap.h"
#include "cap_reg.h"
#include "entry_write.h"
#include "../kernel/printk.h"
#include "../lib/atomic.h"
#include "../lib/errno.h"
#include "../kernel/x86.h"
#include "../mm/mm.h"

int vtd_irt_init(struct vtd_irt *t, struct vtd_unit *u, struct vtd_qi *qi, unsigned entries, int eime)
{
    memset(t, 0, sizeof(*t));
    uint64_t irta;
    if (!ECAP_IR(u->ecap) || !ECAP_QI(u->ecap))
        return -E_NODEV;
    if ((eime && !ECAP_EIM(u->ecap)) || vtd_irta_encode(0, entries, eime, &irta))
        return -E_RANGE;
    t->pages = (unsigned)((entries * sizeof(struct vtd_irte) + PAGE_SIZE - 1) / PAGE_SIZE);
    t->pa = pages_alloc_contig(t->pages, 1);
    if (!t->pa)
        return -E_NOMEM;
    t->u = u;
    t->qi = qi;
    t->entries = entries;
    t->eime = eime;
    t->e = phys_to_virt(t->pa);
    memset(t->e, 0, (size_t)t->pages * PAGE_SIZE);
    vtd_flush_lines(u, t->e, (uint64_t)t->pages * PAGE_SIZE);
    return 0;
}

int vtd_iec_invalidate(struct vtd_qi *qi, int index_selective, unsigned index, unsigned im)
{
    struct qi_desc d;
    if ((index_selective && (index & ((1u << im) - 1))) ||
        qi_desc_iec(&d, (struct qi_iec){ .index_selective = index_selective, .iidx = index, .im = im }))
        return -E_RANGE;
    return qi_sync(qi, &d, 1);
}

int vtd_irt_enable(struct vtd_irt *t)
{
    uint64_t irta;
    int err = vtd_irta_encode(t->pa, t->entries, t->eime, &irta);
    if (err)
        return err;
    vtd_write64(t->u, VTD_IRTA, irta);
    err = vtd_gcmd(t->u, VTD_GCMD_SIRTP, 1);
    /* Entries of a table the unit used before may still be cached
     * (unless ECAP.ESIRTPS says SIRTP drops them): drop them all. */
    err = err ? err : vtd_iec_invalidate(t->qi, 0, 0, 0);
    /* Compatibility-format interrupts blocked: CFI off, said explicitly
     * where firmware left it on. */
    if (!err && (vtd_read32(t->u, VTD_GSTS) & VTD_GCMD_CFI))
        err = vtd_gcmd(t->u, VTD_GCMD_CFI, 0);
    return err ? err : vtd_gcmd(t->u, VTD_GCMD_IRE, 1);
}

/* CPUID.01H:ECX.CMPXCHG16B[bit 13] (SDM vol. 2A, CPUID). */
#define CPUID_ECX_CX16      (1u << 13)

static int cpu_has_cmpxchg16b(void)
{
    uint32_t r[4];
    cpuid(CPUID_FEATURES, 0, r);
    return (r[2] & CPUID_ECX_CX16) != 0;
}

struct irte_target {
    struct vtd_irt *t;
    unsigned index;
    const struct vtd_irte_watch *w;
};

static void watched(const struct irte_target *x)
{
    if (x->w)
        x->w->after_store(x->w->arg);
}

static void store64(void *ctx, uint64_t *word, uint64_t v)
{
    WRITE_ONCE(*word, v);
    __asm__ volatile("" ::: "memory");
    watched(ctx);
}

/* One locked CMPXCHG16B (the slot is 16-byte aligned in the table): on a
 * mismatch it loads the current value, so the second round succeeds; only
 * software writes an IRTE, under the table's lock, so a third would mean
 * another writer. */
#define STORE128_TRIES 2u

static void store128(void *ctx, struct vtd_irte *slot, const struct vtd_irte *e)
{
    uint64_t lo = READ_ONCE(slot->lo), hi = READ_ONCE(slot->hi);
    uint8_t done = 0;
    for (unsigned i = 0; i < STORE128_TRIES && !done; i++)
        __asm__ volatile("lock cmpxchg16b %1\n\tsete %0"
                         : "=q"(done), "+m"(*slot), "+a"(lo), "+d"(hi)
                         : "b"(e->lo), "c"(e->hi)
                         : "memory", "cc");
    if (!done)
        panic("intremap: IRTE at %p changed under its lock while being written", (void *)slot);
    watched(ctx);
}

static int sync_entry(void *ctx)
{
    struct irte_target *x = ctx;
    vtd_flush_lines(x->t->u, &x->t->e[x->index], sizeof(struct vtd_irte));
    return vtd_iec_invalidate(x->t->qi, 1, x->index, 0);
}

int vtd_irte_write_watched(struct vtd_irt *t, unsigned index, const struct vtd_irte *e,
                           const struct vtd_irte_watch *w)
{
    if (index >= t->entries || irte_check(e, t->eime))
        return -E_RANGE;
    struct irte_target x = { t, index, w };
    int cx16 = cpu_has_cmpxchg16b() && !(w && w->halves);
    struct irte_store_ops ops = { store64, cx16 ? store128 : NULL, sync_entry, &x };
    return irte_update(&t->e[index], e, &ops);
}

int vtd_irte_write(struct vtd_irt *t, unsigned index, const struct vtd_irte *e)
{
    return vtd_irte_write_watched(t, index, e, NULL);
}

int vtd_irt_disable(struct vtd_irt *t)
{
    if (!t->pa)
        return 0;
    int err = 0;
    if (vtd_read32(t->u, VTD_GSTS) & VTD_GCMD_IRE)
        err = vtd_gcmd(t->u, VTD_GCMD_IRE, 0);
    if (vtd_read32(t->u, VTD_GSTS) & VTD_GCMD_IRE) {
        printk("# intremap: the unit still remaps (GSTS.IRES = 1): its table at 0x%lx is kept\n", t->pa);
        return err ? err : -E_BUSY;
    }
    if (vtd_read32(t->u, VTD_GSTS) & VTD_GCMD_CFI)
        vtd_gcmd(t->u, VTD_GCMD_CFI, 0);
    for (unsigned i = 0; i < t->pages; i++)
        page_free(t->pa + (uint64_t)i * PAGE_SIZE);
    t->pa = 0;
    t->e = NULL;
    return err;
}
