/* The one way an entry goes into a table the unit may be reading: the
 * words without the present bit first, the present word last, then the
 * cache lines flushed for a unit whose walks do not snoop. Used by the
 * legacy and scalable-mode tables, the second-stage tables and the
 * interrupt remapping table. */
#ifndef VTDLAB_IOMMU_ENTRY_WRITE_H
#define VTDLAB_IOMMU_ENTRY_WRITE_H

#include <stdint.h>
#include "unit.h"

/* Writes an entry of n qwords into a live table: every other word first,
 * the one with the present bit last, then flushes the lines for a unit
 * that does not snoop (ECAP.C = 0). Clearing goes the other way round. */
void vtd_entry_write(const struct vtd_unit *u, volatile uint64_t *dst, const uint64_t *src, unsigned n,
                     unsigned present_word);
void vtd_entry_clear(const struct vtd_unit *u, volatile uint64_t *dst, unsigned n, unsigned present_word);
void vtd_flush_lines(const struct vtd_unit *u, const volatile void *p, uint64_t len);
/* The same for first-stage tables in scalable mode, whose walks snoop
 * only where ECAP.SMPWC says so. */
void vtd_flush_first_stage_lines(const struct vtd_unit *u, const volatile void *p, uint64_t len);

#endif
