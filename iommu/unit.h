/* One DMA remapping unit: its registers, the one GCMD writer, the tables
 * and the invalidation queue hang off it. */
#ifndef VTDLAB_IOMMU_UNIT_H
#define VTDLAB_IOMMU_UNIT_H

#include <stdint.h>
#include "../kernel/lock.h"
#include "dmar.h"
#include "regs.h"

#define VTD_WAIT_US 1000000u   /* any register handshake; hardware takes microseconds */
/* A GCMD command's status in GSTS: the unit reports it in microseconds (an
 * emulated unit, inside the register write), so a tenth of a second is
 * a hang's deadline with room to spare; a unit that ignores a command
 * (QEMU's dma-translation=off ignores TE) costs that once a boot, where
 * VTD_WAIT_US cost a full second of every run on such a unit. */
#define VTD_GCMD_WAIT_US 100000u

struct vtd_unit {
    const struct dmar_drhd *drhd;
    volatile uint8_t *regs;
    uint32_t ver;
    uint64_t cap, ecap;
    struct spinlock gcmd_lock;  /* the copy, the GCMD write and its GSTS wait */
    uint32_t gcmd;              /* software copy of the persistent enables */
    struct spinlock fault_lock; /* reading and clearing fault records */
    uint32_t fault_events;      /* fault event interrupts taken (atomic) */
};

/* Maps the registers and reads VER, CAP, ECAP and the enables already on;
 * -E_IO when what they read cannot be a unit's (all ones, zero, version
 * 0.x, CAP 0 or all ones). */
int vtd_unit_init(struct vtd_unit *u, const struct dmar_drhd *d);

uint32_t vtd_read32(struct vtd_unit *u, enum vtd_reg32 r);
uint64_t vtd_read64(struct vtd_unit *u, enum vtd_reg64 r);
void vtd_write32(struct vtd_unit *u, enum vtd_reg32 r, uint32_t v);
void vtd_write64(struct vtd_unit *u, enum vtd_reg64 r, uint64_t v);
/* 64-bit registers at offsets CAP/ECAP give (IOTLB, fault records). */
uint64_t vtd_read64_at(struct vtd_unit *u, uint32_t off);
void vtd_write64_at(struct vtd_unit *u, uint32_t off, uint64_t v);
uint32_t vtd_iotlb_offset(const struct vtd_unit *u);
uint32_t vtd_fault_record_offset(const struct vtd_unit *u, unsigned i);

/* The one writer of GCMD: the persistent enables from the software copy
 * plus at most one command, then the matching GSTS bit awaited. For a
 * persistent enable (TE, QIE, IRE) `on` sets or clears it; one-shot
 * commands (SRTP, WBF, SFL, SIRTP) ignore it. -E_TIMEDOUT with GSTS
 * decoded in the log when the unit does not answer; -E_NODEV for a
 * translation enable the unit does not take (a unit without DMA
 * translation), then and for the rest of the boot. */
int vtd_gcmd(struct vtd_unit *u, uint32_t cmd, int on);
/* The same with a bound of the caller's: for a probe of a command the unit
 * may not implement (a unit that does answers in microseconds). */
int vtd_gcmd_within(struct vtd_unit *u, uint32_t cmd, int on, uint32_t timeout_us);

/* Points the unit at a root table (legacy or scalable mode) with SRTP. */
int vtd_set_root_table(struct vtd_unit *u, uint64_t root_pa, int scalable);

/* GSTS in words: "TES RTPS QIES". */
void vtd_gsts_describe(uint32_t gsts, char *buf, unsigned size);

/* Under trace=mmio every register access is kept in a ring, printed on
 * panic or by vtd_mmio_trace_dump. */
void vtd_mmio_trace_enable(int on);
void vtd_mmio_trace_dump(void);
int vtd_mmio_trace_enabled(void);
/* For tests that check what was written to a register: a mark, then how
 * many writes to off with all of bits set came after it. -E_RANGE when
 * tracing is off or the ring has wrapped past the mark. */
unsigned vtd_mmio_trace_mark(void);
int vtd_mmio_trace_writes_since(unsigned mark, uint32_t off, uint64_t bits, unsigned *count);

#endif
