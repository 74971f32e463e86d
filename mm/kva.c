/* The kva area: callers map and unmap pages there, and its page-table pages
 * come and go on demand. Every change is flushed from every CPU (mm/tlb.h)
 * and handed to the reclaim policy (mm/reclaim.h), which flushes the
 * walkers that may cache it and frees what it unlinked. */
#include <string.h>
#include "mm.h"
#include "reclaim.h"
#include "tlb.h"
#include "walker.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../kernel/x86.h"
#include "../lib/errno.h"

/* kva_lock owns every change to the area's tables: a map's table
 * allocation and an unmap's empty-table check must not interleave. */
static struct spinlock kva_lock = SPINLOCK_INIT("kva");
/* The area through its own walker context: the kernel's root, but table
 * entries that carry U/S when devices walk it with user privilege. */
static struct pt_ctx kva_pt;
static int kva_user;

void kva_init(void) { kva_pt = *kernel_pt(); }

void kva_lock_tables(void) { spin_lock(&kva_lock); }
void kva_unlock_tables(void) { spin_unlock(&kva_lock); }

void kva_set_user_access(int on)
{
    spin_lock(&kva_lock);
    kva_user = on;
    kva_pt = *kernel_pt();
    kva_pt.fmt = on ? &pt_format_x86_user_tables : &pt_format_x86;
    uint64_t *root = phys_to_virt(kva_pt.root_pa);
    uint64_t *e = &root[pt_index(KVA_BASE, PT_LEVEL_PML4)];
    WRITE_ONCE(*e, on ? (*e | PTE_US) : (*e & ~PTE_US));
    spin_unlock(&kva_lock);
}

static int in_kva(uint64_t va, uint64_t size)
{
    return va >= KVA_BASE && va < KVA_BASE + KVA_SIZE && size <= KVA_BASE + KVA_SIZE - va;
}

/* Pages of unmaps whose shootdown some CPU did not acknowledge (it was
 * declared lost, kernel/smp.h): that CPU may still walk the tables or use
 * the frames through what it cached, so they are never freed. Listed, up
 * to WITHHELD_MAX each (past it simply leaked), for kva_withheld_release;
 * the lock owns the lists and may nest inside kva_lock. */
#define WITHHELD_MAX (4 * PT_LEVELS)
static struct spinlock withheld_lock = SPINLOCK_INIT("kva withheld");
static struct {
    uint64_t tables[WITHHELD_MAX], frames[WITHHELD_MAX];
    unsigned ntables, nframes;
    uint64_t start, end;     /* the ranges they came from, merged */
} withheld;

/* Returns how many pages did not fit the lists. */
static unsigned withhold(const uint64_t *tables, unsigned ntables, const uint64_t *frames, unsigned nframes,
                         uint64_t start, uint64_t end)
{
    unsigned unlisted = 0;
    spin_lock(&withheld_lock);
    for (unsigned i = 0; i < ntables; i++) {
        if (withheld.ntables < WITHHELD_MAX)
            withheld.tables[withheld.ntables++] = tables[i];
        else
            unlisted++;
    }
    for (unsigned i = 0; i < nframes; i++) {
        if (withheld.nframes < WITHHELD_MAX)
            withheld.frames[withheld.nframes++] = frames[i];
        else
            unlisted++;
    }
    int first = withheld.start == withheld.end;
    withheld.start = first || start < withheld.start ? start : withheld.start;
    withheld.end = first || end > withheld.end ? end : withheld.end;
    spin_unlock(&withheld_lock);
    return unlisted;
}

/* After the shootdown of c's range: the policy flushes the devices and
 * frees c's pages. If a CPU did not acknowledge (shootdown_err), the
 * devices are flushed all the same but the pages are withheld and the
 * shootdown's error is returned. */
static int hand_over(const struct reclaim_change *c, int shootdown_err)
{
    if (!shootdown_err)
        return reclaim_kva_changed(c);
    if (c->ntables || c->nframes) {
        unsigned unlisted = withhold(c->tables, c->ntables, c->frames, c->nframes, c->start, c->end);
        printk("# vtdlab: mm: a CPU did not acknowledge the shootdown of [0x%lx, 0x%lx): its %u page table(s) and "
               "%u frame(s) are withheld, not freed%s\n", c->start, c->end, c->ntables, c->nframes,
               unlisted ? " (some leaked for good: the withheld list is full)" : "");
    }
    struct reclaim_change bare = { c->start, c->end, c->unmapped, NULL, NULL, 0, 0 };
    reclaim_kva_changed(&bare);
    return shootdown_err;
}

int kva_withheld_release(void)
{
    uint64_t tables[WITHHELD_MAX], frames[WITHHELD_MAX];
    spin_lock(&withheld_lock);
    unsigned nt = withheld.ntables, nf = withheld.nframes;
    uint64_t start = withheld.start, end = withheld.end;
    memcpy(tables, withheld.tables, nt * sizeof(tables[0]));
    memcpy(frames, withheld.frames, nf * sizeof(frames[0]));
    withheld.ntables = withheld.nframes = 0;
    withheld.start = withheld.end = 0;
    spin_unlock(&withheld_lock);
    if (!nt && !nf)
        return 0;
    int err = tlb_shootdown(start, end);
    if (err) {
        withhold(tables, nt, frames, nf, start, end);
        return err;
    }
    struct reclaim_change c = { start, end, 1, tables, frames, nt, nf };
    return reclaim_kva_changed(&c);
}

/* Nothing in the kva area is global: a shootdown's CR3 reload keeps
 * global TLB entries (SDM vol. 3, 4.10.4.1) and the reclaim policies'
 * whole-PASID flush is non-globals-within-PASID (VT-d spec 6.5.2.4), so
 * either would leave a PTE_G entry cached. */
static int kva_attrs_allowed(uint64_t attrs) { return !(attrs & PTE_G); }

int kva_map(uint64_t va, uint64_t pa, int leaf_level, uint64_t attrs)
{
    if (!kva_attrs_allowed(attrs))
        return -E_INVAL;
    if (leaf_level < PT_LEVEL_PT || leaf_level > mm_info()->max_leaf_level || !in_kva(va, pt_leaf_size(leaf_level)))
        return -E_INVAL;
    spin_lock(&kva_lock);
    int err = pt_map_page(&kva_pt, va, pa, leaf_level, attrs | (kva_user ? PTE_US : 0));
    spin_unlock(&kva_lock);
    return err ? err : kva_walkers_mapped(va, va + pt_leaf_size(leaf_level));
}

int kva_protect(uint64_t va, uint64_t attrs)
{
    if (!in_kva(va, PAGE_SIZE) || !kva_attrs_allowed(attrs))
        return -E_INVAL;
    int level;
    spin_lock(&kva_lock);
    int err = pt_lookup(&kva_pt, va, &level) ? pt_protect(&kva_pt, va, attrs | (kva_user ? PTE_US : 0)) : -E_NOENT;
    spin_unlock(&kva_lock);
    if (err)
        return err;
    uint64_t start = va & ~(pt_leaf_size(level) - 1);
    int serr = tlb_shootdown(start, start + pt_leaf_size(level));
    struct reclaim_change c = { .start = start, .end = start + pt_leaf_size(level) };
    err = reclaim_kva_changed(&c);
    return serr ? serr : err;
}

int kva_split_2m(uint64_t va)
{
    if ((va & (pt_leaf_size(PT_LEVEL_PD) - 1)) || !in_kva(va, pt_leaf_size(PT_LEVEL_PD)))
        return -E_INVAL;
    spin_lock(&kva_lock);
    int err = pt_split_leaf(&kva_pt, va);
    spin_unlock(&kva_lock);
    return err ? err : tlb_shootdown(va, va + pt_leaf_size(PT_LEVEL_PD));
}

int kva_collapse_2m(uint64_t va)
{
    if ((va & (pt_leaf_size(PT_LEVEL_PD) - 1)) || !in_kva(va, pt_leaf_size(PT_LEVEL_PD)))
        return -E_INVAL;
    struct pt_unlinked u;
    spin_lock(&kva_lock);
    int err = pt_collapse_table(&kva_pt, va, &u);
    spin_unlock(&kva_lock);
    if (err)
        return err;
    int serr = tlb_shootdown(va, va + pt_leaf_size(PT_LEVEL_PD));
    /* The page table is freed like an unmap's: the policy flushes
     * paging-structure caches before it goes (docs/reclaim.md question 7). */
    struct reclaim_change c = { va, va + pt_leaf_size(PT_LEVEL_PD), 1, u.pa, NULL, (unsigned)u.count, 0 };
    return hand_over(&c, serr);
}

/* Tables one pass of kva_unmap_range collects before it hands them over;
 * one leaf's unmap adds at most PT_LEVELS. */
#define KVA_UNLINK_BATCH (4 * PT_LEVELS)

static int flush_under_lock;
static uint64_t last_hold_cycles;

void kva_set_flush_under_lock(int on) { WRITE_ONCE(flush_under_lock, on); }
uint64_t kva_last_unmap_hold_cycles(void) { return READ_ONCE(last_hold_cycles); }

/* Unmaps [va, end) in passes of at most KVA_UNLINK_BATCH tables; free_frames:
 * the frames behind the leaves go to the policy with the tables. */
static int unmap(uint64_t va, uint64_t end, int free_frames)
{
    int err = 0;
    while (va < end && !err) {
        uint64_t tables[KVA_UNLINK_BATCH], frames[KVA_UNLINK_BATCH], start = va;
        unsigned n = 0, nf = 0;
        int under = READ_ONCE(flush_under_lock);
        spin_lock(&kva_lock);
        uint64_t t0 = rdtsc();
        while (va < end && n + PT_LEVELS <= KVA_UNLINK_BATCH && nf < KVA_UNLINK_BATCH) {
            struct pt_unlinked u;
            int level;
            uint64_t leaf = pt_lookup(&kva_pt, va, &level);
            err = pt_unmap_page(&kva_pt, va, &level, &u);
            if (err)
                break;
            for (int i = 0; i < u.count; i++)
                tables[n++] = u.pa[i];
            if (free_frames)
                frames[nf++] = pte_addr(leaf);
            /* A large leaf goes whole, from its own start. */
            uint64_t leaf_start = va & ~(pt_leaf_size(level) - 1);
            start = leaf_start < start ? leaf_start : start;
            va = leaf_start + pt_leaf_size(level);
        }
        struct reclaim_change c = { start, va, 1, tables, frames, n, nf };
        int rerr = 0;
        if (va == start) {
            spin_unlock(&kva_lock);
            break;
        }
        /* INVLPG also drops every paging-structure cache entry of the
         * current PCID (SDM vol. 3, 4.10.4.1), so once every CPU has run
         * it the unlinked tables are unreachable for CPUs; devices are the
         * reclaim policy's. Normally after the unlock (question 5: the
         * hazard is freeing before the flush, not flushing after the
         * unlock); other CPUs spinning on the lock answer the shootdown
         * either way, their interrupts being on. */
        if (under)
            rerr = hand_over(&c, tlb_shootdown(start, va));
        WRITE_ONCE(last_hold_cycles, rdtsc() - t0);
        spin_unlock(&kva_lock);
        if (!under)
            rerr = hand_over(&c, tlb_shootdown(start, va));
        err = err ? err : rerr;
    }
    return err;
}

int kva_unmap_range(uint64_t va, uint64_t size)
{
    if (!size || (va | size) & ~PAGE_MASK || !in_kva(va, size))
        return -E_INVAL;
    return unmap(va, va + size, 0);
}

static int unmap_leaf(uint64_t va, int free_frame)
{
    if (!in_kva(va, PAGE_SIZE))
        return -E_INVAL;
    int level;
    spin_lock(&kva_lock);
    uint64_t pte = pt_lookup(&kva_pt, va, &level);
    spin_unlock(&kva_lock);
    if (!pte)
        return -E_NOENT;
    if (free_frame && level != PT_LEVEL_PT)
        return -E_INVAL;
    uint64_t start = va & ~(pt_leaf_size(level) - 1);
    return unmap(start, start + pt_leaf_size(level), free_frame);
}

int kva_unmap(uint64_t va) { return unmap_leaf(va, 0); }
int kva_unmap_free(uint64_t va) { return unmap_leaf(va, 1); }

uint64_t kva_table_pages(void)
{
    spin_lock(&kva_lock);
    const uint64_t *root = phys_to_virt(kva_pt.root_pa);
    uint64_t n = pt_count_tables(&kva_pt, pte_addr(root[pt_index(KVA_BASE, PT_LEVEL_PML4)]), PT_LEVEL_PDPT);
    spin_unlock(&kva_lock);
    return n;
}
