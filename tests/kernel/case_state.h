/* Global state a case changes, each change undone after the case however
 * it ends (test_on_exit), so a failed, timed-out or faulted case leaves
 * nothing behind for the next one. */
#ifndef VTDLAB_TESTS_CASE_STATE_H
#define VTDLAB_TESTS_CASE_STATE_H

#include "harness/harness.h"
#include "mm/reclaim.h"
#include "mm/walker.h"

struct vtd_unit;

/* The policy until the case ends, then the one before. */
void case_set_reclaim_policy(struct test *t, enum reclaim_policy p);
/* mm_inject_page_alloc_failure, disarmed after the case if still armed. */
void case_inject_page_alloc_failure(struct test *t, unsigned skip);
/* w unregistered after the case if it is still registered then (the SVA
 * fixture's binding registers one; cases register fakes of their own). */
void case_unregister_walker_after(struct test *t, struct kva_walker *w);
/* Fault events of u counted until the case ends. */
void case_fault_events(struct test *t, struct vtd_unit *u);

#endif
