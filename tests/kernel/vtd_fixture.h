/* Shared set-up for the VT-d suites: the first unit, edu, legacy-mode
 * tables with one second-stage domain for edu, translation on. Every
 * set-up starts from whatever an earlier (possibly aborted) case left:
 * translation and the queue are switched off first. */
#ifndef VTDLAB_TESTS_VTD_FIXTURE_H
#define VTDLAB_TESTS_VTD_FIXTURE_H

#include "devices/dma_dev.h"
#include "devices/edu.h"
#include "iommu/legacy_mode.h"
#include "iommu/second_stage.h"
#include "iommu/fault.h"
#include "iommu/qi.h"
#include "iommu/sva.h"
#include "iommu/unit.h"
#include "harness/harness.h"
#include "lib/bits.h"

#define FIXTURE_DID      1
#define FIXTURE_IOVA     0x40000000ul   /* a 1 GiB aligned IOVA region for tests */
#define FIXTURE_RMRR_DID 2              /* the identity domain of devices with reserved memory */
#define FIXTURE_RMRR_PASID 0            /* their RID_PASID in scalable mode (1 when the binding uses 0) */
#define RMRR_PAGES       2              /* the reserved region the RMRR cases add */

struct vtd_fixture {
    struct vtd_unit u;
    struct edu edu;
    struct vtd_legacy_tables tables;
    struct vtd_domain dom;
    struct vtd_domain rmrr_dom;   /* set up only when an RMRR names a device of the unit */
    struct vtd_qi qi;
    uint16_t sid;
};

/* Skips the case (with the reason) when there is no unit or no edu. */
/* The result of a call that turned translation on: a unit that does not
 * take GCMD.TE (-E_NODEV) skips the case naming it, any other error fails
 * it, saying what was being done. */
void fixture_translation_on_or_skip(struct test *t, struct vtd_unit *u, int err, const char *what);
void fixture_find(struct test *t, struct vtd_fixture *fx);
/* The same for another device than edu: the unit that covers dev. */
void fixture_find_for(struct test *t, struct vtd_fixture *fx, struct pci_dev *dev);
/* fixture_find, then legacy tables and a domain with tables of `levels`
 * (0: the widest the unit has), the DMAR's reserved memory regions mapped
 * 1:1 for the devices that have them, TE on. */
void fixture_legacy_up_levels(struct test *t, struct vtd_fixture *fx, int levels);
static inline void fixture_legacy_up(struct test *t, struct vtd_fixture *fx) { fixture_legacy_up_levels(t, fx, 0); }
/* fixture_legacy_up, then the invalidation queue with 128-bit
 * descriptors (trace=qi logs them). */
void fixture_qi_up(struct test *t, struct vtd_fixture *fx);
/* fixture_find and the queue (128-bit descriptors), translation off: for
 * what needs the unit but not its DMA translation (interrupt remapping). */
void fixture_qi_alone_up(struct test *t, struct vtd_fixture *fx);
/* An interrupt remapping table the case set up: if the case ends early,
 * IRE goes off first and the table is freed only once GSTS says so. */
struct vtd_irt;
void fixture_remember_irt(const struct vtd_irt *irt);
/* The RMRRs of d (the DMAR, or a test's own) for the fixture's unit: its
 * identity domain made if need be and the devices attached; returns how
 * many. Does not invalidate. */
unsigned fixture_rmrr_identity(struct test *t, struct vtd_fixture *fx, const struct dmar_info *d);
/* Scalable mode: the RMRR devices of d for the fixture's unit get identity
 * access through their RID_PASID in the binding's tables (a PASID other
 * than binding_pasid): second stage over the identity domain where the
 * unit has ECAP.SLTS, else pass-through; then the context, PASID and IOTLB
 * caches are invalidated through the (256-bit) queue. Returns how many
 * devices; *whole_memory (may be NULL) says pass-through was used. */
unsigned fixture_rmrr_identity_sm(struct test *t, struct vtd_fixture *fx, struct vtd_sm_tables *tables,
                                  const struct dmar_info *d, uint32_t binding_pasid, int *whole_memory);
/* QEMU's DMAR has no RMRR: a copy of it with one, two pages at *pa (a
 * third, unreserved page follows them), naming the second edu, which
 * *other gets. Skips without a second edu on the root bus. */
struct dmar_info *fixture_dmar_with_rmrr(struct test *t, struct edu *other, uint64_t *pa);
/* The RMRR device reads the region's first page and writes its second at
 * their physical addresses, checked in memory with no fault; then, unless
 * the whole of memory is 1:1 (pass-through), its write just past the
 * region faults, naming it. The pages are freed. */
void fixture_rmrr_device_checked(struct test *t, struct vtd_fixture *fx, struct edu *other, uint64_t pa,
                                 int whole_memory);
/* Turns translation and the queue off and frees the tables. A fault still
 * recorded then is one the case did not expect (cases that expect faults
 * collect them first): it fails the case. */
void fixture_down(struct test *t, struct vtd_fixture *fx);
/* keep=1 and the run's last case: the fixture stays up for the shell
 * (said in a diagnostic), and fixture_down and fixture_sva_down leave it. */
int fixture_kept(struct test *t, const struct vtd_fixture *fx);
/* SVA on the kernel's tables: the unit in scalable mode with a 256-bit
 * queue, the device (devices/dma_dev.h: DSA on hardware, else edu) bound
 * at `pasid` (also its RID_PASID, which edu's untagged requests use), with
 * supervisor requests where the unit and the device both can. Skips,
 * naming the missing capability, on a unit without scalable mode or
 * first-stage translation, or with no device. The kernel binding's
 * walker points into the fixture until it is taken down, and deferred
 * drains use it from any CPU, after a case that aborted too: declare it
 * static, never on the case's stack (sva_bind_kernel refuses that). */
struct sva_fixture {
    struct vtd_fixture fx;
    struct dma_dev dev;
    struct sva sva;
};
void fixture_sva_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, int override_width);
/* The same, with the device bound to a private first-stage space rooted
 * at root_pa instead of the kernel's tables (sva_bind_space). */
void fixture_space_up(struct test *t, struct sva_fixture *sf, uint32_t pasid, uint64_t root_pa);
void fixture_sva_down(struct test *t, struct sva_fixture *sf);
/* Whether the unit keeps a first-stage leaf translation the device used
 * until it is invalidated, as the device showed once in this boot: a page
 * written through, unmapped with no invalidation, written through again
 * (the old page reached: kept; a fault: re-walked). The spec allows both
 * (a unit may drop what it cached at any time), so the stale-translation
 * cases hold a unit to keeping what no invalidation covered only when it
 * showed it keeps, and characterise any other, the same on QEMU, its model
 * and silicon. The first call brings its own binding up and down (at
 * FIXTURE_PROBE_PASID, reclaim=none until the case ends): call it before
 * the case's fixture. */
#define FIXTURE_PROBE_PASID 1
int fixture_sva_unit_keeps_leaf(struct test *t);

/* Where a device write landed, for the stale-translation suites: the old
 * page A, the new page B, or nowhere. A page holds the pattern when word i
 * is pattern | i. */
enum landed { LANDED_NOWHERE, LANDED_IN_A, LANDED_IN_B };
extern const char *const landed_name[];
void fill_pattern(uint64_t pa, uint64_t pattern);
enum landed where_pattern_landed(uint64_t a, uint64_t b, uint64_t pattern);

/* A page-selective invalidation seen by the device: STRADDLE_PAGES pages
 * at iova (aligned to them, each mapped to an old frame) are cached by one
 * device write that straddles them, remapped to new frames, then
 * invalidate(fx, iova, am) runs and the device writes again; landed[i]
 * says which frame page i's part reached (A old, B new). The caller has
 * put nonzero data in edu's buffer. Everything is unmapped, invalidated
 * (vtd_domain_flush) and freed after. */
#define STRADDLE_PAGES 2
typedef int (*fixture_invalidate_fn)(struct vtd_fixture *fx, uint64_t iova, unsigned am);
/* A page-selective IOTLB invalidation of the fixture's DID over 2^am
 * pages from iova through the queue, waited for (a fixture_invalidate_fn;
 * in scalable mode the one for second-stage-only mappings, 6.5.2.3). */
int fixture_qi_iotlb_page(struct vtd_fixture *fx, uint64_t iova, unsigned am);
void fixture_straddled_remap(struct test *t, struct vtd_fixture *fx, uint64_t iova, fixture_invalidate_fn invalidate,
                             unsigned am, enum landed landed[STRADDLE_PAGES]);

/* The sink (docs/reclaim.md): a frame filled with valid-looking
 * entries (present, writable, user) that all point at the sink itself, so
 * a walk that reads one as a table entry, at whatever level, ends in the
 * sink and the device's write changes it. Reused table frames are filled
 * the same way. */
uint64_t sink_entry(uint64_t sink);
void fill_words(uint64_t pa, uint64_t word);
/* Whether every word of the frame still holds word. */
int words_intact(uint64_t pa, uint64_t word);

/* Faults recorded since the last call, each printed as a diagnostic. */
void fixture_faults(struct test *t, struct vtd_fixture *fx, struct vtd_fault_log *log);
/* What the unit consumed between two readings of its IQH, read back from
 * the ring itself (not from a counter the driver keeps): descriptors, wait
 * descriptors, PASID-based IOTLB invalidations (page-selective and
 * all-in-PASID) and the IH bit of the last page-selective one. The window
 * must be shorter than the ring. */
struct vtd_consumed {
    unsigned descriptors, waits, pasid_iotlb, pasid_page, pasid_all, ih_set;
    int last_ih;   /* -1: the last PASID-based one was not page-selective */
};
unsigned fixture_unit_head(struct vtd_qi *q);
/* The descriptors the unit consumed between two readings of its IQH for
 * which match(d, arg) holds, read back from the ring. */
unsigned fixture_count_consumed(const struct vtd_qi *q, unsigned from, unsigned to,
                                int (*match)(const struct qi_desc *d, const void *arg), const void *arg);
void fixture_read_consumed(struct vtd_qi *q, unsigned from, unsigned to, struct vtd_consumed *c);

/* DMA between edu's buffer and an IOVA; the return is edu_dma's. */
int fixture_dma_to_device(struct vtd_fixture *fx, uint64_t iova, uint32_t len);
int fixture_dma_from_device(struct vtd_fixture *fx, uint64_t iova, uint32_t len);

#endif
