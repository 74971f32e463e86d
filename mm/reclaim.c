#include <string.h>
#include "reclaim.h"
#include "mm.h"
#include "page_life.h"
#include "walker.h"
#include "../kernel/clock.h"
#include "../kernel/cmdline.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../kernel/smp.h"
#include "../kernel/work.h"
#include "../kernel/x86.h"
#include "../lib/errno.h"

/* A batch: every list at its fullest, and what failed batches left over. */
#define BATCH_MAX  (RECLAIM_LIST_MAX * (SMP_MAX_CPUS + 1) * 2)

struct pending {
    uint64_t pa;
    uint64_t queued_tsc;
    uint8_t table;          /* a page-table page (else a data frame) */
    uint8_t under_walker;   /* a walker was registered when it was queued */
};

/* A deferred list and the union of the VA ranges changed since it was
 * last taken (start == end: none). */
struct pending_list {
    struct spinlock lock;
    unsigned n;
    uint64_t start, end;
    struct pending e[RECLAIM_LIST_MAX];
};

/* Owners:
 * - global_list.lock: async's and rcu's one list.
 * - cpu_lists[c].lock: CPU c's list; only c adds to it, the drainer takes
 *   it to empty it, so on the free path it is never contended by another
 *   free.
 * - drain_lock: the batch (with what failed batches left), one drain at a
 *   time; the walkers change only under it (reclaim_hold), so a batch never
 *   flushes through a unit that is being unbound. Its holder waits for the
 *   unit and for a grace period, which together may last longer than the
 *   spinlock's LOCK_SPIN_LIMIT_MS: takers wait for it with take_drain_lock,
 *   bounded by what the holder may wait for, never with spin_lock.
 * - policy and flush mode: single words, changed between cases (draining
 *   first).
 * - the statistics: counters added to atomically, the batch's under
 *   drain_lock. */
static struct pending_list global_list = { .lock = SPINLOCK_INIT("reclaim global list") };
static struct pending_list cpu_lists[SMP_MAX_CPUS] = {
    [0 ... SMP_MAX_CPUS - 1] = { .lock = SPINLOCK_INIT("reclaim per-CPU list") },
};
static struct spinlock drain_lock = SPINLOCK_INIT("reclaim drain");
static struct {
    unsigned n;
    uint64_t start, end;
    struct pending e[BATCH_MAX];
} batch;
static enum reclaim_policy policy = RECLAIM_SYNC;
static enum reclaim_flush flush_mode = RECLAIM_FLUSH_RANGE;
/* No shared lock on the free path for these. */
static uint64_t pending_now, pending_peak, forced_drains, lock_takes, lock_cycles;
static uint64_t flushes, flush_errors, batches, grace_periods, deferred_freed, defer_cycles_sum, defer_cycles_max;

/* A taker of drain_lock spins this long, then halts between tries (the
 * holder is waiting for the unit or a grace period: no hurry). */
#define DRAIN_SPIN_US       1000u
/* Beyond its flush and its grace period, the time a drain may take to free
 * a full batch (poisoning every table page). */
#define DRAIN_WORK_US       (LOCK_SPIN_LIMIT_MS * US_PER_MS)

static void drain_work(struct work *w);
static struct work reclaim_work = { .fn = drain_work };

/* The cmdline's names, which are indexed by the same numbers. */
#define NAME(choice, name) [choice] = name,
static const char *const policy_names[] = { RECLAIM_POLICY_LIST(NAME) };
static const char *const flush_names[] = { RECLAIM_FLUSH_LIST(NAME) };
_Static_assert((int)RECLAIM_CHOICES == (int)RECLAIM_POLICIES &&
               (int)RECLAIM_FLUSH_CHOICES == (int)RECLAIM_FLUSH_ALL + 1, "one cmdline name per policy and flush mode");

const char *reclaim_policy_name(enum reclaim_policy p)
{
    return (unsigned)p < RECLAIM_POLICIES ? policy_names[p] : "?";
}

const char *reclaim_flush_name(enum reclaim_flush m)
{
    return flush_names[m == RECLAIM_FLUSH_ALL ? RECLAIM_FLUSH_ALL : RECLAIM_FLUSH_RANGE];
}
enum reclaim_policy reclaim_get_policy(void) { return READ_ONCE(policy); }
enum reclaim_flush reclaim_get_flush_mode(void) { return READ_ONCE(flush_mode); }

int reclaim_set_policy(enum reclaim_policy p)
{
    int err = reclaim_drain();
    if (!err)
        WRITE_ONCE(policy, p);
    return err;
}

void reclaim_set_flush_mode(enum reclaim_flush m) { WRITE_ONCE(flush_mode, m); }

static int drain_locked(void);

/* The longest a drain may hold drain_lock: its flush, its grace period and
 * its frees. */
static uint64_t drain_hold_max_us(void)
{
    return KVA_FLUSH_WAIT_MAX_US + (uint64_t)RCU_GRACE_STALL_MS * US_PER_MS + DRAIN_WORK_US;
}

/* Takes drain_lock, waiting as long as its holder may legitimately hold it
 * (a slow unit is not a lock bug); 0, or -E_TIMEDOUT reported. The bound
 * restarts whenever the lock changes hands, as every lock's does
 * (spin_lock_bounded); a drain reached again from inside one is reported
 * as a lock taken twice. */
static int take_drain_lock(void)
{
    uint64_t limit = drain_hold_max_us();
    if (!spin_lock_bounded_idle(&drain_lock, limit, DRAIN_SPIN_US))
        return 0;
    printk("# reclaim: cpu %u waited %lu us for the drain without it changing hands, longer than a drain may take; "
           "held by cpu %d\n", smp_cpu_id(), limit, (int)READ_ONCE(drain_lock.owner));
    return -E_TIMEDOUT;
}

int reclaim_hold(int *drained)
{
    int err = take_drain_lock();
    if (!err)
        *drained = drain_locked();
    return err;
}

void reclaim_release(void) { spin_unlock(&drain_lock); }

struct reclaim_stats reclaim_stats(void)
{
    struct page_life_stats l = page_life_stats();
    struct reclaim_stats s = {
        .tracked = l.tracked, .unlinked = l.unlinked, .flushed = l.flushed, .freed = l.freed,
        .freed_before_flush = l.freed_before_flush, .double_frees = l.double_frees,
        .flushes = READ_ONCE(flushes), .flush_errors = READ_ONCE(flush_errors), .batches = READ_ONCE(batches),
        .grace_periods = READ_ONCE(grace_periods), .deferred_freed = READ_ONCE(deferred_freed),
        .defer_cycles_sum = READ_ONCE(defer_cycles_sum), .defer_cycles_max = READ_ONCE(defer_cycles_max),
    };
    s.pending = READ_ONCE(pending_now);
    s.pending_peak = READ_ONCE(pending_peak);
    s.forced_drains = READ_ONCE(forced_drains);
    s.list_lock_takes = READ_ONCE(lock_takes);
    s.list_lock_cycles = READ_ONCE(lock_cycles);
    return s;
}

void reclaim_reset_peak(void) { WRITE_ONCE(pending_peak, READ_ONCE(pending_now)); }

/* Flushes [start, end) from every walker (its waits checked in their
 * status memory) before any covered table counts as flushed. */
static int flush_now(uint64_t start, uint64_t end, const uint64_t *tables, unsigned ntables, int any_table)
{
    struct kva_flush f;
    int err = kva_walkers_flush(start, end, any_table, &f);
    atomic_add(err ? &flush_errors : &flushes, 1);
    if (!err)
        page_life_flushed(tables, ntables, &f);
    return err;
}

/* Checked and poisoned by the page-life checker, then back to the pool. */
static int free_table(uint64_t pa)
{
    int err = page_life_freeing(pa);
    if (!err)
        page_free(pa);
    return err;
}

int reclaim_free_table(uint64_t pa) { return free_table(pa); }

static void merge_range(uint64_t *s, uint64_t *e, uint64_t start, uint64_t end)
{
    if (start >= end)
        return;
    if (*s >= *e) {
        *s = start;
        *e = end;
        return;
    }
    if (start < *s)
        *s = start;
    if (end > *e)
        *e = end;
}

static void pending_changed(int64_t by)
{
    uint64_t now = atomic_fetch_add(&pending_now, (uint64_t)by) + (uint64_t)by;
    uint64_t peak = READ_ONCE(pending_peak);
    while (now > peak && !atomic_cmpxchg(&pending_peak, peak, now))
        peak = READ_ONCE(pending_peak);
}

/* async and rcu share the one global list; async-percpu frees onto the
 * running CPU's own. */
static struct pending_list *free_list(enum reclaim_policy p)
{
    return p == RECLAIM_ASYNC_PERCPU ? &cpu_lists[smp_cpu_id()] : &global_list;
}

/* Queues pages (and the changed range) on the policy's list and schedules
 * the drain. A full list is drained first by this CPU. */
static void defer(enum reclaim_policy p, uint64_t start, uint64_t end, const uint64_t *pa, unsigned n, int table)
{
    unsigned done = 0, full_tries = 0;
    int merged = 0;
    uint8_t bound = kva_walker_count() != 0;
    while (!merged || done < n) {
        struct pending_list *l = free_list(p);
        uint64_t t0 = rdtsc();
        spin_lock(&l->lock);
        merge_range(&l->start, &l->end, start, end);
        merged = 1;
        unsigned added = 0;
        for (; done < n && l->n < RECLAIM_LIST_MAX; done++, added++)
            l->e[l->n++] = (struct pending){ pa[done], rdtsc(), (uint8_t)table, bound };
        /* Counted before another CPU's drain can take them, which counts
         * them out: the other order let pending_now dip below zero (read
         * as 2^64 - 2 pages at once under CPU hogs). */
        pending_changed((int64_t)added);
        spin_unlock(&l->lock);
        atomic_add(&lock_cycles, rdtsc() - t0);
        atomic_add(&lock_takes, 1);
        if (done < n) {
            atomic_add(&forced_drains, 1);
            int err = reclaim_drain();
            if (err && ++full_tries > 1) {
                if (p == RECLAIM_RCU && rcu_in_section(smp_cpu_id()))
                    panic("reclaim: cpu %u queued more pages inside one RCU read-side section than a batch holds "
                          "(%lu pending): none can be freed before the section ends", smp_cpu_id(),
                          READ_ONCE(pending_now));
                panic("reclaim: the %s list is full and draining it fails (%s): %lu pages pending",
                      reclaim_policy_name(p), err_name(err), READ_ONCE(pending_now));
            }
        }
    }
    work_queue(&reclaim_work);
}

/* Takes one list into the batch. How a batch covers pages queued on other
 * CPUs (async-percpu): every page was unlinked, and every CPU's TLB flushed,
 * before it was queued; the batch takes each list whole under that list's
 * lock, and its one flush is issued after the last list was taken, so it
 * covers every page in the batch, whichever CPU queued it. Pages queued
 * after their list was taken wait for the next batch. 0 when the list does
 * not fit beside the batch (it waits for the next). */
static int take_list(struct pending_list *l)
{
    spin_lock(&l->lock);
    int fits = batch.n + l->n <= BATCH_MAX;
    if (fits) {
        memcpy(&batch.e[batch.n], l->e, l->n * sizeof(l->e[0]));
        batch.n += l->n;
        merge_range(&batch.start, &batch.end, l->start, l->end);
        l->n = 0;
        l->start = l->end = 0;
    }
    spin_unlock(&l->lock);
    return fits;
}

static int drain_locked(void)
{
    int all_taken = take_list(&global_list);
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        all_taken &= take_list(&cpu_lists[c]);
    /* With no page waiting, the range is kept for the batch that frees the
     * data frames it covers. */
    if (!batch.n)
        return 0;
    int walked = kva_walker_count() != 0, any_table = 0, any_bound = 0;
    static uint64_t tables[BATCH_MAX]; /* drain_lock's, like the batch */
    unsigned ntables = 0;
    for (unsigned i = 0; i < batch.n; i++) {
        any_bound |= batch.e[i].under_walker;
        if (batch.e[i].table) {
            any_table = 1;
            tables[ntables++] = batch.e[i].pa;
        }
    }
    if (walked && (any_table || batch.start < batch.end)) {
        int all = reclaim_get_flush_mode() == RECLAIM_FLUSH_ALL;
        int err = flush_now(all ? 0 : batch.start, all ? KVA_FLUSH_ALL : batch.end, tables, ntables, any_table);
        if (err) {
            printk("# reclaim: the flush of a batch of %u pages failed (%s); they stay pending\n", batch.n,
                   err_name(err));
            return err;
        }
    } else if (!walked && any_bound) {
        printk("# reclaim: %u pages wait for a flush and no walker is registered to flush them; they stay pending\n",
               batch.n);
        return -E_NODEV;
    }
    if (reclaim_get_policy() == RECLAIM_RCU) {
        /* A drain inside a read-side section (a CPU whose list filled
         * there) can never see the grace period it needs: the batch stays,
         * flushed, for the deferred drain after the section to free. A
         * list that no longer fits beside it cannot be emptied until then. */
        if (rcu_in_section(smp_cpu_id()))
            return all_taken ? 0 : -E_DEADLK;
        unsigned stuck = 0;
        int err = rcu_synchronize(&stuck);
        if (err) {
            printk("# reclaim: no grace period (%s, cpu %u still in a read-side section); %u pages stay pending\n",
                   err_name(err), stuck, batch.n);
            return err;
        }
        WRITE_ONCE(grace_periods, grace_periods + 1);
    }
    uint64_t now = rdtsc(), sum = 0, max = 0;
    for (unsigned i = 0; i < batch.n; i++) {
        if (batch.e[i].table)
            free_table(batch.e[i].pa);
        else
            page_free(batch.e[i].pa);
        uint64_t waited = now - batch.e[i].queued_tsc;
        sum += waited;
        max = waited > max ? waited : max;
    }
    WRITE_ONCE(batches, batches + 1);
    WRITE_ONCE(deferred_freed, deferred_freed + batch.n);
    WRITE_ONCE(defer_cycles_sum, defer_cycles_sum + sum);
    if (max > defer_cycles_max)
        WRITE_ONCE(defer_cycles_max, max);
    pending_changed(-(int64_t)batch.n);
    batch.n = 0;
    batch.start = batch.end = 0;
    return 0;
}

int reclaim_drain(void)
{
    int err = take_drain_lock();
    if (err)
        return err;
    err = drain_locked();
    spin_unlock(&drain_lock);
    return err;
}

static void drain_work(struct work *w) { reclaim_drain(); }

static int free_before_flush_on;
static void (*window_hook)(uint64_t start, uint64_t end);

void reclaim_set_free_before_flush(int on) { WRITE_ONCE(free_before_flush_on, on); }
void reclaim_set_window_hook(void (*hook)(uint64_t start, uint64_t end)) { WRITE_ONCE(window_hook, hook); }

static void free_now(const struct reclaim_change *c)
{
    for (unsigned i = 0; i < c->ntables; i++)
        free_table(c->tables[i]);
    for (unsigned i = 0; i < c->nframes; i++)
        page_free(c->frames[i]);
}

int reclaim_kva_changed(const struct reclaim_change *c)
{
    page_life_unlinked(c->tables, c->ntables);
    enum reclaim_policy p = reclaim_get_policy();
    int walked = kva_walker_count() != 0;
    if (!c->unmapped)
        return p != RECLAIM_NONE && walked ? flush_now(c->start, c->end, NULL, 0, 0) : 0;
    if (reclaim_policy_defers(p)) {
        defer(p, c->start, c->end, c->tables, c->ntables, 1);
        defer(p, 0, 0, c->frames, c->nframes, 0);
        return 0;
    }
    if (p == RECLAIM_SYNC && walked) {
        int early = READ_ONCE(free_before_flush_on);
        if (early)
            free_now(c);
        void (*hook)(uint64_t, uint64_t) = READ_ONCE(window_hook);
        if (hook)
            hook(c->start, c->end);
        int err = flush_now(c->start, c->end, c->tables, c->ntables, c->ntables > 0);
        if (early)
            return err;
        if (err) {
            /* Kept for a later drain, never freed unflushed. */
            defer(RECLAIM_ASYNC, c->start, c->end, c->tables, c->ntables, 1);
            defer(RECLAIM_ASYNC, 0, 0, c->frames, c->nframes, 0);
            return err;
        }
    }
    free_now(c);
    return 0;
}

void reclaim_release_frame(uint64_t pa)
{
    enum reclaim_policy p = reclaim_get_policy();
    if (reclaim_policy_defers(p))
        defer(p, 0, 0, &pa, 1, 0);
    else
        page_free(pa);
}
