/* Fault recording (VT-d spec 7.2, 11.4.7.6): the unit's records read and
 * cleared, the fault event interrupt counted. The records are decoded in
 * fault_record.c. */
#ifndef VTDLAB_IOMMU_FAULT_H
#define VTDLAB_IOMMU_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include "fault_record.h"
#include "unit.h"

/* Routes fault events to this CPU (FEDATA/FEADDR) and unmasks them. */
void vtd_fault_events_enable(struct vtd_unit *u);
/* Fault events count for no unit any more (the unit's owner is gone). */
void vtd_fault_events_forget(void);
/* Reads and clears every recorded fault and the overflow flag. */
void vtd_fault_collect(struct vtd_unit *u, struct vtd_fault_log *log);

#endif
