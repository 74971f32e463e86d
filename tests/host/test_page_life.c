/* mm/page_life.c on the host: the page-life checker's free, with the
 * walkers' completion check scripted. The check reaches into each walker's
 * queue (qi_completed takes the queue's lock, iommu/qi.c), so it must run
 * with no page-life lock held: a lock held across another subsystem's
 * lock and wait makes a lock order, and counts that wait against the
 * holder's lock limit (kernel/lock.h). */
#include "host.h"
#include "../../mm/page_life.c"

/* The locks page_life.c takes, counted. */
static unsigned locks_held;
void spin_lock(struct spinlock *l) { assert_int_equal(l->owner, LOCK_NO_OWNER); l->owner = 0; locks_held++; }
void spin_unlock(struct spinlock *l) { assert_int_equal(l->owner, 0); l->owner = LOCK_NO_OWNER; locks_held--; }
_Noreturn void panic(const char *fmt, ...) { fail_msg("panic: %s", fmt); abort(); }

/* Frames are host pages; a "physical" address is the pointer. */
void *phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }

/* The walkers, as the checker sees them: how many are registered, and
 * whether a flush record reads completed (the last one asked for, and the
 * locks this side held when it was asked). */
static struct {
    unsigned walkers;
    int completed;
    unsigned checks, locks_at_check;
    uint64_t seq_checked;
} w;
unsigned kva_walker_count(void) { return w.walkers; }
int kva_walkers_completed(const struct kva_flush *f)
{
    w.checks++;
    w.locks_at_check = locks_held;
    w.seq_checked = f->seq[0];
    return w.completed;
}

static uint64_t frame;

static int setup(void **state)
{
    memset(lives, 0, sizeof(lives));
    memset(&stats, 0, sizeof(stats));
    memset(&w, 0, sizeof(w));
    life_lock.owner = LOCK_NO_OWNER;
    locks_held = 0;
    frame = (uint64_t)(uintptr_t)aligned_alloc(PAGE_SIZE, PAGE_SIZE);
    return 0;
}

static int teardown(void **state)
{
    free((void *)(uintptr_t)frame);
    return 0;
}

/* A table page through its life under one walker: allocated, unlinked,
 * flushed by the flush with sequence 7. */
static void unlinked_and_flushed(void)
{
    w.walkers = 1;
    page_life_allocated(frame);
    page_life_unlinked(&frame, 1);
    struct kva_flush f = { .set = 1, .seq = { 7 } };
    page_life_flushed(&frame, 1, &f);
}

static void the_flush_check_runs_with_no_page_life_lock_held(void **state)
{
    unlinked_and_flushed();
    w.completed = 1;
    assert_int_equal(page_life_freeing(frame), 0);
    assert_int_equal(w.checks, 1);
    assert_int_equal(w.seq_checked, 7);
    assert_int_equal(w.locks_at_check, 0);
    assert_int_equal(locks_held, 0);
    struct page_life_stats s = page_life_stats();
    assert_int_equal(s.freed, 1);
    assert_int_equal(s.freed_before_flush, 0);
    assert_int_equal(*(uint64_t *)(uintptr_t)frame, PAGE_LIFE_POISON);
}

/* ... the controls: a flush the walker does not see completed counts the
 * free as before the flush; a second free is refused and asks nothing. */
static void a_free_before_the_flush_completed_is_counted_and_a_second_refused(void **state)
{
    unlinked_and_flushed();
    w.completed = 0;
    assert_int_equal(page_life_freeing(frame), 0);
    assert_int_equal(w.checks, 1);
    assert_int_equal(page_life_stats().freed_before_flush, 1);
    assert_int_equal(page_life_freeing(frame), -E_EXIST);
    assert_int_equal(w.checks, 1);
    struct page_life_stats s = page_life_stats();
    assert_int_equal(s.double_frees, 1);
    assert_int_equal(s.freed, 1);
    assert_int_equal(locks_held, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_flush_check_runs_with_no_page_life_lock_held, setup, teardown),
        cmocka_unit_test_setup_teardown(a_free_before_the_flush_completed_is_counted_and_a_second_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
