#include "case_state.h"
#include "iommu/fault.h"
#include "mm/mm.h"

static void restore_policy(uintptr_t p) { reclaim_set_policy((enum reclaim_policy)p); }

void case_set_reclaim_policy(struct test *t, enum reclaim_policy p)
{
    test_on_exit(t, restore_policy, (uintptr_t)reclaim_get_policy());
    reclaim_set_policy(p);
}

static void cancel_failure(uintptr_t unused) { mm_cancel_page_alloc_failure(); }

void case_inject_page_alloc_failure(struct test *t, unsigned skip)
{
    test_on_exit(t, cancel_failure, 0);
    mm_inject_page_alloc_failure(skip);
}

static void unregister_walker(uintptr_t w) { kva_walker_unregister((struct kva_walker *)w); }

void case_unregister_walker_after(struct test *t, struct kva_walker *w)
{
    test_on_exit(t, unregister_walker, (uintptr_t)w);
}

static void forget_events(uintptr_t unused) { vtd_fault_events_forget(); }

void case_fault_events(struct test *t, struct vtd_unit *u)
{
    test_on_exit(t, forget_events, 0);
    vtd_fault_events_enable(u);
}
