/* Interrupt remapping (VT-d spec chapter 5 and 9.10): the interrupt
 * remapping table of 128-bit IRTEs, the remappable MSI format that names
 * an entry, and the interrupt-entry-cache invalidation that must follow
 * every change of an entry. The entries are encoded in irt_entry.c. */
#ifndef VTDLAB_IOMMU_INTREMAP_H
#define VTDLAB_IOMMU_INTREMAP_H

#include <stdint.h>
#include "irt_entry.h"
#include "qi.h"
#include "unit.h"

struct vtd_irt {
    struct vtd_unit *u;
    struct vtd_qi *qi;
    struct vtd_irte *e;
    uint64_t pa;
    unsigned entries, pages;
    int eime;
};

/* Allocates and zeroes a table (every entry not present). -E_RANGE for a
 * size the format cannot express or EIME on a unit without ECAP.EIM;
 * -E_NODEV without ECAP.IR or ECAP.QI. Nothing is written to the unit. */
int vtd_irt_init(struct vtd_irt *t, struct vtd_unit *u, struct vtd_qi *qi, unsigned entries, int eime);
/* IRTA, SIRTP, a global interrupt-entry-cache invalidation (the unit may
 * keep entries of an earlier table), CFI off (compatibility-format
 * interrupts blocked), then IRE. */
int vtd_irt_enable(struct vtd_irt *t);
/* Writes entry index through irte_update (one CMPXCHG16B where CPUID
 * has it; else the word holding P last when it becomes present, first
 * when it stops, and a present entry changing in both halves made not
 * present and invalidated first), then invalidates that index and waits.
 * Refused before anything is written when irte_check fails or the index
 * is past the table. */
int vtd_irte_write(struct vtd_irt *t, unsigned index, const struct vtd_irte *e);
/* What a test watching an update from the unit's side asks of it:
 * after_store(arg) runs after each store to the entry (the flush and
 * invalidation after it not yet issued), so the test can have the unit
 * read the entry in every state it passes through; halves takes the
 * two-64-bit-store path a CPU without CMPXCHG16B takes. */
struct vtd_irte_watch {
    void (*after_store)(void *arg);
    void *arg;
    int halves;
};
/* vtd_irte_write, watched by w (NULL: vtd_irte_write itself). */
int vtd_irte_write_watched(struct vtd_irt *t, unsigned index, const struct vtd_irte *e,
                           const struct vtd_irte_watch *w);
/* Interrupt-entry-cache invalidation through the queue, with its wait:
 * index-selective over 2^im entries from index (index aligned to them),
 * or global (index_selective 0). */
int vtd_iec_invalidate(struct vtd_qi *qi, int index_selective, unsigned index, unsigned im);
/* IRE off, as GSTS reports; only then is the table freed. -E_BUSY, the
 * table kept, when the unit still remaps. */
int vtd_irt_disable(struct vtd_irt *t);

#endif
