/* Deferred work, this kernel's schedule_work: an item queued from any CPU,
 * in process or interrupt context, runs later in process context on one
 * CPU's queue. APs drain their queue from the idle loop; the boot CPU,
 * which runs the test cases, drains its own between cases and in
 * work_flush. work_queue() picks the designated worker: the highest online
 * CPU (so work leaves the boot CPU free when there is another).
 *
 * An item is queued at most once at a time: queueing one that is still
 * pending does nothing and says so (like Linux's queue_work). */
#ifndef VTDLAB_KERNEL_WORK_H
#define VTDLAB_KERNEL_WORK_H

#include <stdbool.h>
#include <stdint.h>

struct work;
typedef void (*work_fn)(struct work *w);

struct work {
    struct work *next;
    work_fn fn;
    int pending;     /* queued and not yet started: claimed by compare-exchange */
    unsigned cpu;    /* the queue it was put on */
};

static inline void work_init(struct work *w, work_fn fn)
{
    w->next = 0;
    w->fn = fn;
    w->pending = 0;
    w->cpu = 0;
}

/* true when queued, false when it was still pending. */
bool work_queue_on(unsigned cpu, struct work *w);
bool work_queue(struct work *w);
/* Waits until every item queued anywhere before the call has run (items
 * on this CPU's queue run here). 0, or -E_TIMEDOUT after WORK_FLUSH_TIMEOUT_MS
 * with the queue that did not drain reported. */
int work_flush(void);
#define WORK_FLUSH_TIMEOUT_MS 5000u
/* The designated worker CPU. */
unsigned work_worker_cpu(void);

/* Whether cpu is running its queue now (and may hold the locks its items
 * take): the harness lets it finish before it checks for locks left held. */
bool work_running_on(unsigned cpu);

/* For the idle loops. */
bool work_pending_here(void);
/* Runs this CPU's queue until it is empty; returns how many ran. */
unsigned work_run_here(void);

#endif
