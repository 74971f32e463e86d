#include "work.h"
#include "clock.h"
#include "lock.h"
#include "printk.h"
#include "smp.h"
#include "../lib/errno.h"


/* One FIFO per CPU. queued/done count items put on and run off it, so a
 * flush knows when everything queued before it has run. */
struct work_queue {
    struct spinlock lock;   /* irqsave: interrupt handlers queue work */
    struct work *head, *tail;
    uint64_t queued, done;
    int running;            /* this CPU is inside work_run_here */
};

static struct work_queue queues[SMP_MAX_CPUS] = {
    [0 ... SMP_MAX_CPUS - 1] = { .lock = SPINLOCK_INIT("work queue") },
};

static struct work_queue *queue_of(unsigned cpu) { return &queues[cpu]; }

unsigned work_worker_cpu(void) { return smp_last_online(); }

bool work_queue_on(unsigned cpu, struct work *w)
{
    if (!smp_cpu_online(cpu))
        cpu = SMP_BOOT_CPU;
    /* Claimed before any queue's lock is taken: two CPUs queueing the same
     * item onto different queues (the worker CPU changed between their
     * work_queue calls) hold different locks, so a check under the lock
     * would let both link it, one list's link overwriting the other's.
     * One compare-exchange decides; the loser finds it pending. */
    if (!atomic_cmpxchg(&w->pending, 0, 1))
        return false;
    struct work_queue *q = queue_of(cpu);
    uint64_t flags = spin_lock_irqsave(&q->lock);
    w->cpu = cpu;
    w->next = 0;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->queued++;
    spin_unlock_irqrestore(&q->lock, flags);
    smp_wake(cpu);
    return true;
}

bool work_queue(struct work *w) { return work_queue_on(work_worker_cpu(), w); }

bool work_running_on(unsigned cpu) { return cpu < SMP_MAX_CPUS && load_acquire(&queue_of(cpu)->running); }

bool work_pending_here(void) { return READ_ONCE(queue_of(smp_cpu_id())->head) != 0; }

unsigned work_run_here(void)
{
    struct work_queue *q = queue_of(smp_cpu_id());
    unsigned ran = 0;
    WRITE_ONCE(q->running, 1);
    for (;;) {
        uint64_t flags = spin_lock_irqsave(&q->lock);
        struct work *w = q->head;
        if (!w) {
            spin_unlock_irqrestore(&q->lock, flags);
            store_release(&q->running, 0);
            return ran;
        }
        q->head = w->next;
        if (!q->head)
            q->tail = 0;
        /* Cleared before it runs, so the item may queue itself again, and
         * after its link was read: a CPU that claims it next may link it
         * anywhere. */
        store_release(&w->pending, 0);
        spin_unlock_irqrestore(&q->lock, flags);
        w->fn(w);
        flags = spin_lock_irqsave(&q->lock);
        q->done++;
        spin_unlock_irqrestore(&q->lock, flags);
        ran++;
    }
}

static uint64_t read_counter(struct work_queue *q, const uint64_t *c)
{
    uint64_t flags = spin_lock_irqsave(&q->lock);
    uint64_t v = *c;
    spin_unlock_irqrestore(&q->lock, flags);
    return v;
}

int work_flush(void)
{
    uint64_t target[SMP_MAX_CPUS];
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        target[c] = read_counter(queue_of(c), &queues[c].queued);
    struct deadline d = deadline_after_us((uint64_t)WORK_FLUSH_TIMEOUT_MS * US_PER_MS);
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        struct work_queue *q = &queues[c];
        while (read_counter(q, &q->done) < target[c]) {
            if (c == smp_cpu_id())
                work_run_here();
            if (deadline_passed(d)) {
                printk("# vtdlab: work: cpu %u's queue did not drain in %u ms (%lu queued, %lu done)\n", c,
                       WORK_FLUSH_TIMEOUT_MS, target[c], read_counter(q, &q->done));
                return -E_TIMEDOUT;
            }
            cpu_relax();
        }
    }
    return 0;
}
