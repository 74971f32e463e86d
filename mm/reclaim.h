/* Freeing kernel page-table pages (and the data frames behind kernel
 * mappings) while a device may still cache translations through them. A
 * page-table page is unlinked (no longer reachable from the root, perhaps
 * still cached), flushed (a flush through every walker of the kernel's
 * tables covered it, mm/walker.h) and freed; the page-life checker
 * (mm/page_life.h) watches each step from outside. The policy decides what
 * happens between unlinked and freed:
 *   none:         freed at once, no flush: the negative control;
 *   sync:         the unmapping CPU flushes the whole changed range (one
 *                 descriptor with the smallest covering address mask) and
 *                 waits, then frees;
 *   async:        the shape Linux merged: one global list under one lock;
 *                 freeing queues the page and schedules deferred work, which
 *                 takes the whole batch, flushes once, waits, frees. Unmap
 *                 returns without waiting;
 *   async-percpu: the same with one list per CPU and no shared lock on the
 *                 free path; the drain takes every CPU's list into one batch;
 *   rcu:          async's global list, and the batch is freed only after a
 *                 grace period as well (kernel/lock.h), for lock-free walkers.
 * The flush mode says what a deferred batch flushes: the union of the VA
 * ranges changed since the previous batch, or everything of each walker's
 * PASID.
 *
 * The registered walkers (mm/walker.h) are the one way mm reaches whoever
 * caches kernel VAs; mm never reaches into the IOMMU code. All policies
 * live in reclaim.c behind reclaim_kva_changed. */
#ifndef VTDLAB_MM_RECLAIM_H
#define VTDLAB_MM_RECLAIM_H

#include <stdint.h>
#include "pgtable.h"

/* The order is the cmdline's (RECLAIM_CHOICE_*). */
enum reclaim_policy { RECLAIM_NONE, RECLAIM_SYNC, RECLAIM_ASYNC, RECLAIM_ASYNC_PERCPU, RECLAIM_RCU, RECLAIM_POLICIES };
enum reclaim_flush { RECLAIM_FLUSH_RANGE, RECLAIM_FLUSH_ALL };
/* async, async-percpu and rcu: freeing waits for a batch. */
static inline int reclaim_policy_defers(enum reclaim_policy p) { return p >= RECLAIM_ASYNC; }

/* Changing the policy drains every pending page first (with the old one),
 * so no page is freed under rules it was not queued under. 0, or the
 * drain's error (the pages then stay pending). */
int reclaim_set_policy(enum reclaim_policy p);
enum reclaim_policy reclaim_get_policy(void);
const char *reclaim_policy_name(enum reclaim_policy p);
void reclaim_set_flush_mode(enum reclaim_flush m);
enum reclaim_flush reclaim_get_flush_mode(void);
const char *reclaim_flush_name(enum reclaim_flush m);
/* For a change of the walkers (mm/walker.c): drains every pending page
 * through the walkers registered now (the drain's result in *drained) and
 * keeps every other drain out until reclaim_release, so no batch is flushed
 * through a walker being added or removed. 0, or -E_TIMEDOUT (not held)
 * when a drain in progress outlasted what it may take. */
int reclaim_hold(int *drained);
void reclaim_release(void);

struct reclaim_stats {
    /* The page-life checker's (mm/page_life.h). */
    uint64_t tracked;             /* page-table pages alive now */
    uint64_t unlinked, flushed, freed;
    uint64_t freed_before_flush;  /* freed while a walker could still cache them */
    uint64_t double_frees;        /* caught and refused */
    /* The policies'. */
    uint64_t flushes;             /* flushes through the walkers that succeeded */
    uint64_t flush_errors;        /* ... that failed (their pages stayed pending) */
    uint64_t pending, pending_peak; /* pages (tables and data frames) waiting for a batch */
    uint64_t batches, forced_drains, grace_periods;
    uint64_t deferred_freed;      /* pages freed by a batch */
    uint64_t defer_cycles_sum, defer_cycles_max; /* queued to freed, TSC cycles */
    uint64_t list_lock_takes, list_lock_cycles;  /* the free path's list lock: taken, held+waited */
};
struct reclaim_stats reclaim_stats(void);
/* Starts a new pending_peak measurement from what is pending now. */
void reclaim_reset_peak(void);

/* The kernel VA range [start, end) changed. unmapped: mappings were removed
 * and tables[0..ntables) unlinked (the caller has flushed every CPU's TLB),
 * and the data frames[0..nframes) that were mapped there are freed with
 * them (vfree's shape); otherwise attributes changed, which is flushed at
 * once under every policy but none (a downgrade cannot wait for a batch).
 * 0 or the flush's error (the pages then stay pending, never freed
 * unflushed). */
struct reclaim_change {
    uint64_t start, end;
    int unmapped;
    const uint64_t *tables, *frames;
    unsigned ntables, nframes;
};
int reclaim_kva_changed(const struct reclaim_change *c);
/* A data frame whose kernel mapping was just unmapped, given back by its
 * owner: freed once no device can reach it through a cached translation
 * (at once under none and sync, with the next batch otherwise). */
void reclaim_release_frame(uint64_t pa);
/* Runs every pending batch now, on this CPU. 0; -E_NODEV when pages a
 * walker may cache wait and no walker is registered; a flush's or the grace
 * period's error; -E_TIMEDOUT when a drain in progress on another CPU
 * outlasted what it may wait for. Pages that could not be freed stay
 * pending. Under rcu, inside a read-side section, the batch is flushed and
 * left for the grace period after the section (the deferred drain frees
 * it): 0. */
int reclaim_drain(void);

/* Experiment knobs (docs/reclaim.md question 5), for tests only: sync frees
 * before it flushes instead of after (the bug's ordering), and a hook runs
 * on the unmapping CPU right before sync's flush, the window in which
 * another CPU may reuse what was freed. */
void reclaim_set_free_before_flush(int on);
void reclaim_set_window_hook(void (*hook)(uint64_t start, uint64_t end));

/* The bypass: poisons and frees one page-table page at once, whatever the
 * policy, checking its life (a freeing path that does not go through the
 * policy is caught here). 0 or -E_EXIST (already freed: refused). */
int reclaim_free_table(uint64_t pa);

/* A deferred list holds at most this many pages; the CPU that would
 * overfill it drains first (a forced drain), so pending pages are bounded. */
#define RECLAIM_LIST_MAX 64u

#endif
