/* mm/walker.c on the host: the registered walkers of the kernel's tables,
 * with scripted walkers and reclaim and the kva area stubbed. A flush goes
 * through every walker and is complete only when every one's wait is; the
 * tables get what any walker needs; the set changes only with reclaim held. */
#include "host.h"
#include "../../mm/walker.c"
#include "../../kernel/clock.h"
#include "kernel_shims.h"

void spin_lock(struct spinlock *l) { assert_int_equal(l->owner, LOCK_NO_OWNER); l->owner = 0; }
void spin_unlock(struct spinlock *l) { assert_int_equal(l->owner, 0); l->owner = LOCK_NO_OWNER; }

/* reclaim and the kva area, as walker.c sees them. */
static struct {
    int hold_err, drain_err, held, holds;
    int user, snooped;
} mm = { .snooped = 1 };

int reclaim_hold(int *drained)
{
    if (mm.hold_err)
        return mm.hold_err;
    assert_false(mm.held);
    mm.held = 1;
    mm.holds++;
    *drained = mm.drain_err;
    return 0;
}
void reclaim_release(void) { assert_true(mm.held); mm.held = 0; }
void kva_set_user_access(int on) { mm.user = on; }
void kva_set_walk_snooped(int snooped) { mm.snooped = snooped; }

/* A walker whose answers the test scripts: each flush's sequence number
 * and range are recorded, and its waits complete up to `done`. */
struct fake {
    struct kva_walker w;
    int err;
    uint64_t seq, done, calls, start, end;
    int tables_freed;
};

static int fake_flush(struct kva_walker *w, uint64_t start, uint64_t end, int tables_freed, uint64_t *seq)
{
    struct fake *f = (struct fake *)w;
    f->calls++;
    f->start = start;
    f->end = end;
    f->tables_freed = tables_freed;
    if (f->err)
        return f->err;
    *seq = ++f->seq;
    return 0;
}

static int fake_completed(struct kva_walker *w, uint64_t seq) { return seq <= ((struct fake *)w)->done; }

static struct fake a, b, spare[KVA_WALKERS_MAX];

static void fake_init(struct fake *f, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->w = (struct kva_walker){ .name = name, .snoops = 1, .flush = fake_flush, .completed = fake_completed };
}

static int setup(void **state)
{
    memset(&walkers, 0, sizeof(walkers));
    walkers_lock.owner = LOCK_NO_OWNER;
    memset(&mm, 0, sizeof(mm));
    mm.snooped = 1;
    printed[0] = 0;
    fake_init(&a, "a");
    fake_init(&b, "b");
    return 0;
}

static void a_flush_goes_through_every_walker(void **state)
{
    assert_int_equal(kva_walker_register(&a.w), 0);
    assert_int_equal(kva_walker_register(&b.w), 0);
    assert_int_equal(kva_walker_count(), 2);
    struct kva_flush f;
    a.done = b.done = 1;
    assert_int_equal(kva_walkers_flush(0x1000, 0x3000, 1, &f), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.start, 0x1000);
    assert_int_equal(b.end, 0x3000);
    assert_int_equal(b.tables_freed, 1);
    assert_true(kva_walkers_completed(&f));
    /* Complete only while every walker's own wait reads completed. */
    a.done = 0;
    assert_false(kva_walkers_completed(&f));
    a.done = 1;
    b.done = 0;
    assert_false(kva_walkers_completed(&f));
}

static void one_walkers_failure_fails_the_flush_and_the_others_are_still_flushed(void **state)
{
    assert_int_equal(kva_walker_register(&a.w), 0);
    assert_int_equal(kva_walker_register(&b.w), 0);
    struct kva_flush f;
    a.err = -E_TIMEDOUT;
    b.done = 1;
    assert_int_equal(kva_walkers_flush(0, KVA_FLUSH_ALL, 0, &f), -E_TIMEDOUT);
    assert_int_equal(b.calls, 1);
    /* A wait that returned but did not write its status is an error too. */
    a.err = 0;
    b.done = 2;
    assert_int_equal(kva_walkers_flush(0, KVA_FLUSH_ALL, 0, &f), -E_IO);
    assert_non_null(strstr(printed, "a's flush returned, but its wait (sequence 1) has not completed"));
    assert_int_equal(b.calls, 2);
    a.done = 2;
    b.done = 3;
    assert_int_equal(kva_walkers_flush(0, KVA_FLUSH_ALL, 0, &f), 0);
}

static void a_flush_does_not_cover_a_walker_registered_after_it(void **state)
{
    assert_int_equal(kva_walker_register(&a.w), 0);
    struct kva_flush f;
    a.done = 1;
    assert_int_equal(kva_walkers_flush(0, 0x1000, 1, &f), 0);
    assert_true(kva_walkers_completed(&f));
    assert_int_equal(kva_walker_register(&b.w), 0);
    b.done = 100;
    assert_false(kva_walkers_completed(&f));
    /* Nor one that left and came back: the set is not the one it covered. */
    assert_int_equal(kva_walker_unregister(&b.w), 0);
    assert_false(kva_walkers_completed(&f));
}

static void the_tables_get_what_any_walker_needs(void **state)
{
    a.w.user = 1;
    b.w.snoops = 0;
    mm.snooped = -1; /* not a value setup() leaves: the register must set it */
    assert_int_equal(kva_walker_register(&a.w), 0);
    assert_int_equal(mm.user, 1);
    assert_int_equal(mm.snooped, 1);
    assert_int_equal(kva_walker_register(&b.w), 0);
    assert_int_equal(mm.user, 1);
    assert_int_equal(mm.snooped, 0);
    assert_int_equal(kva_walker_unregister(&a.w), 0);
    assert_int_equal(mm.user, 0);
    assert_int_equal(mm.snooped, 0);
    assert_int_equal(kva_walker_unregister(&b.w), 0);
    assert_int_equal(mm.snooped, 1);
    assert_int_equal(kva_walker_count(), 0);
}

static void the_set_changes_only_with_reclaim_held(void **state)
{
    /* Refused outright: nothing drained, nothing registered. */
    struct kva_walker no_flush = { .name = "none" };
    assert_int_equal(kva_walker_register(&no_flush), -E_INVAL);
    mm.hold_err = -E_TIMEDOUT;
    assert_int_equal(kva_walker_register(&a.w), -E_TIMEDOUT);
    assert_int_equal(kva_walker_count(), 0);
    assert_int_equal(mm.holds, 0);
    mm.hold_err = 0;
    /* A drain that fails is reported, and the walker is registered all the
     * same (its pages stay pending for a drain through it). */
    mm.drain_err = -E_NODEV;
    assert_int_equal(kva_walker_register(&a.w), -E_NODEV);
    assert_int_equal(kva_walker_count(), 1);
    mm.drain_err = 0;
    assert_int_equal(kva_walker_register(&a.w), -E_EXIST);
    for (unsigned i = 0; i < KVA_WALKERS_MAX - 1; i++) {
        fake_init(&spare[i], "spare");
        assert_int_equal(kva_walker_register(&spare[i].w), 0);
    }
    assert_int_equal(kva_walker_register(&b.w), -E_BUSY);
    assert_int_equal(kva_walker_count(), KVA_WALKERS_MAX);
    /* Unregistering one that is not registered only drains. */
    int holds = mm.holds;
    assert_int_equal(kva_walker_unregister(&b.w), 0);
    assert_int_equal(mm.holds, holds + 1);
    assert_int_equal(kva_walker_count(), KVA_WALKERS_MAX);
    mm.drain_err = -E_IO;
    assert_int_equal(kva_walker_unregister(&a.w), -E_IO);
    assert_int_equal(kva_walker_count(), KVA_WALKERS_MAX - 1);
    assert_false(mm.held);
}

static void a_map_is_flushed_only_from_walkers_that_cache_not_present_entries(void **state)
{
    b.w.caches_not_present = 1;
    assert_int_equal(kva_walker_register(&a.w), 0);
    assert_int_equal(kva_walkers_mapped(0x1000, 0x2000), 0);
    assert_int_equal(a.calls, 0);
    assert_int_equal(kva_walker_register(&b.w), 0);
    b.err = -E_TIMEDOUT;
    assert_int_equal(kva_walkers_mapped(0x1000, 0x2000), -E_TIMEDOUT);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.tables_freed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_flush_goes_through_every_walker, setup),
        cmocka_unit_test_setup(one_walkers_failure_fails_the_flush_and_the_others_are_still_flushed, setup),
        cmocka_unit_test_setup(a_flush_does_not_cover_a_walker_registered_after_it, setup),
        cmocka_unit_test_setup(the_tables_get_what_any_walker_needs, setup),
        cmocka_unit_test_setup(the_set_changes_only_with_reclaim_held, setup),
        cmocka_unit_test_setup(a_map_is_flushed_only_from_walkers_that_cache_not_present_entries, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
