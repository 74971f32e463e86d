/* What the reclaim suite's files share: the kva slots each case maps in,
 * the words pages are filled with, the policies that fix the reproducer,
 * and the cases reclaim.c's suite table lists from reclaim_life.c and
 * reclaim_torture.c. */
#ifndef VTDLAB_TESTS_RECLAIM_CASES_H
#define VTDLAB_TESTS_RECLAIM_CASES_H

#include "harness/harness.h"
#include "mm/layout.h"
#include "mm/pgtable.h"
#include "mm/reclaim.h"

#define PASID          1
#define GIB            (1ul << 30)
/* Each in its own 1 GiB slot, so a mapping there owns its PD and PT. */
#define RECLAIM_SLOT(n) (KVA_BASE + (uint64_t)(64 + (n)) * GIB)
#define VA_TARGET      RECLAIM_SLOT(0)
#define VA_PATTERN     RECLAIM_SLOT(1)
#define VA_COST        RECLAIM_SLOT(2)
#define VA_WALK        RECLAIM_SLOT(3)
#define VA_LIFE        RECLAIM_SLOT(4)
#define PATTERN_WORD   0xa11ce5ba5eba11ul
#define CANARY_WORD    0xca4a41e5ca4a41e5ul
/* The data frame and the tables only VA_TARGET uses (its PD and PT). */
#define MAX_REUSED     (1 + PT_LEVELS)

/* Every policy but none (reclaim.c). */
#define RECLAIM_FIXES  4
extern const enum reclaim_policy fixes[RECLAIM_FIXES];
#define NFIXES (sizeof(fixes) / sizeof(fixes[0]))

/* reclaim_life.c */
void pages_stay_pending_until_a_flush_is_seen_completed(struct test *t);
void pending_pages_stay_bounded(struct test *t);
void a_drain_waits_out_a_slow_unit_without_a_lock_violation(struct test *t);
void a_drain_inside_a_read_side_section_frees_after_it(struct test *t);
void page_table_pages_accounted(struct test *t);
void a_leaked_table_page_shows_in_the_walk(struct test *t);
void bypass_and_double_free_are_caught(struct test *t);
/* reclaim_torture.c */
void torture_under_none_shows_stale_accesses(struct test *t);
void torture_under_every_fix_stays_clean(struct test *t);

#endif
