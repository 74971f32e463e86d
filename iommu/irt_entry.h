/* Interrupt remapping table entries (VT-d spec 9.10), the remappable MSI
 * format (5.1.5.2) and the IRTA value: pure encoders, host-tested. */
#ifndef VTDLAB_IOMMU_IRT_ENTRY_H
#define VTDLAB_IOMMU_IRT_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include "cap_reg.h"

struct vtd_irte {
    uint64_t lo, hi;
};
_Static_assert(sizeof(struct vtd_irte) == 16, "an IRTE is 128 bits");

/* IRTE fields [hi, lo] (9.10): lo unless named _HI. */
#define IRTE_P          0, 0
#define IRTE_FPD        1, 1
#define IRTE_DM         2, 2      /* destination mode: 1 logical */
#define IRTE_RH         3, 3      /* redirection hint */
#define IRTE_TM         4, 4      /* trigger mode: 1 level */
#define IRTE_DLM        7, 5      /* delivery mode */
#define IRTE_IM         15, 15    /* 1: posted (decoded by the shell; never set here) */
#define IRTE_V          23, 16    /* vector */
#define IRTE_DST_X2APIC 63, 32    /* EIME = 1: the 32-bit x2APIC id */
#define IRTE_DST_XAPIC  47, 40    /* EIME = 0: the 8-bit APIC id; 39:32 and 63:48 reserved */
#define IRTE_SID_HI     15, 0
#define IRTE_SQ_HI      17, 16
#define IRTE_SVT_HI     19, 18

/* Fields no entry here sets: what a well-formed entry keeps zero. */
#define IRTE_LO_RESERVED  0x00000000ff00f000ul   /* 14:12, 31:24, and IM (15): posted entries are not used */
#define IRTE_HI_RESERVED  0xfffffffffff00000ul   /* 127:84 */
#define IRTE_DST_XAPIC_RESERVED 0xffff00ff00000000ul

/* Their fields as the shell prints them, lo as qword 0, hi as qword 1. */
extern const struct vtd_entry_field vtd_irte_fields[];
extern const size_t vtd_irte_field_count;

enum irte_delivery { IRTE_DLM_FIXED = 0, IRTE_DLM_LOWEST = 1, IRTE_DLM_NMI = 4 };
/* Source validation (SVT): none, by requester id under SQ's mask, or by
 * bus range (SID = start bus << 8 | end bus). */
enum irte_svt { IRTE_SVT_NONE = 0, IRTE_SVT_RID = 1, IRTE_SVT_BUS = 2 };
/* The lowest vector an entry may name: 0-15 are reserved for exceptions
 * and the APIC refuses them as fixed interrupts. */
#define IRTE_VECTOR_MIN 16

/* One setter per field; each returns 0, or -E_RANGE for a value that does
 * not fit or is not allowed (a vector below IRTE_VECTOR_MIN). */
int irte_set_present(struct vtd_irte *e, int present);
int irte_set_fpd(struct vtd_irte *e, int fpd);
int irte_set_dest_mode(struct vtd_irte *e, int logical);
int irte_set_redirection_hint(struct vtd_irte *e, int rh);
int irte_set_trigger_mode(struct vtd_irte *e, int level);
int irte_set_delivery_mode(struct vtd_irte *e, unsigned dlm);
int irte_set_vector(struct vtd_irte *e, unsigned vector);
int irte_set_dest_xapic(struct vtd_irte *e, uint32_t apic_id);
int irte_set_dest_x2apic(struct vtd_irte *e, uint32_t x2apic_id);
int irte_set_source(struct vtd_irte *e, unsigned svt, unsigned sq, uint16_t sid);

/* A present, fixed, edge, physical-destination entry: vector to APIC id
 * dest (xAPIC or x2APIC format as eime says), from requester sid. */
int irte_remapped(struct vtd_irte *e, unsigned vector, uint32_t dest, int eime, uint16_t sid);
/* 0 if the entry can be written to a table whose EIME is eime: reserved
 * bits clear, vector allowed, an xAPIC destination when EIME is off. */
int irte_check(const struct vtd_irte *e, int eime);

/* How an entry reaches a table the unit reads at any time (9.10: the unit
 * reads the 128 bits of an entry, not two halves at one instant). */
struct irte_store_ops {
    /* One 64-bit store. */
    void (*store64)(void *ctx, uint64_t *word, uint64_t v);
    /* One 16-byte atomic store; NULL where the CPU has none. */
    void (*store128)(void *ctx, struct vtd_irte *slot, const struct vtd_irte *e);
    /* Makes the stores so far visible to the unit and drops its cached
     * copy of the entry (an interrupt-entry-cache invalidation, waited
     * for): 0 or an error. */
    int (*sync)(void *ctx);
    void *ctx;
};
/* Writes e over *slot so that the unit never sees a present entry that is
 * neither the old nor the new one, then syncs. Pure (host-tested). */
int irte_update(struct vtd_irte *slot, const struct vtd_irte *e, const struct irte_store_ops *ops);

/* The remappable MSI format (5.1.5.2): address bits 19:5 and 2 hold the
 * 16-bit handle, bit 4 says remappable, bit 3 SHV; with SHV the data's
 * bits 15:0 are a subhandle added to the handle. */
uint32_t vtd_msi_remappable_address(uint16_t handle, int shv);
/* The IRTA value: table base, EIME, S with 2^(S+1) entries. -E_RANGE
 * unless entries is a power of two from 2 to 65536 and base 4 KiB aligned. */
int vtd_irta_encode(uint64_t table_pa, unsigned entries, int eime, uint64_t *irta);

#define IRT_ENTRIES_MAX 65536u
/* IRTA (VT-d spec 11.4.10): base 63:12, EIME 11, S 3:0 with 2^(S+1) entries. */
#define IRTA_EIME  11, 11
#define IRTA_S     3, 0

#endif
