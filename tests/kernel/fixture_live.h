/* Shared by the fixture files, not by the cases: the record of what the
 * running case's fixture set up (vtd_fixture.c). */
#ifndef VTDLAB_TESTS_FIXTURE_LIVE_H
#define VTDLAB_TESTS_FIXTURE_LIVE_H

#include "vtd_fixture.h"

/* What the running case's fixture set up, kept off the case's stack: if
 * the case ends without its fixture_down (an assertion, a fault, a
 * timeout), the cleanup after it takes the unit down in the safe order and
 * frees the memory only once the unit says (GSTS) it no longer reads it. */
struct fixture_live {
    int active, sva;
    struct vtd_unit u;
    uint64_t ring_pa, status_pa;
    struct vtd_legacy_tables tables;
    struct vtd_domain dom, rmrr_dom;
    struct vtd_sm_tables sm;
    struct dma_dev dev;          /* a device bound for SVA (DSA: disabled first) */
    uint64_t irt_pa;             /* an interrupt remapping table, its pages */
    unsigned irt_pages;
};
extern struct fixture_live live;

/* Records fx (and the scalable-mode tables sm, or NULL) for the take-down
 * after a case that ends early. */
void remember(const struct vtd_fixture *fx, const struct vtd_sm_tables *sm);
/* Skips the case when the platform has no remapping unit. */
void skip_without_unit(struct test *t);

#endif
