/* KTAP version 1 emitter (Linux Documentation/dev-tools/ktap.rst): version
 * lines, plans, results with SKIP/TIMEOUT/ERROR directives, diagnostics,
 * nesting by four spaces. Pure: writes through a sink, host-tested. */
#ifndef VTDLAB_KTAP_H
#define VTDLAB_KTAP_H

#include <stddef.h>

enum ktap_status { KTAP_PASS, KTAP_FAIL, KTAP_SKIP, KTAP_TIMEOUT, KTAP_ERROR };

struct ktap {
    void (*write)(void *arg, const char *s, size_t n);
    void *arg;
};

#define KTAP_LINE_MAX 512

void ktap_version(const struct ktap *k, int depth);
void ktap_plan(const struct ktap *k, int depth, unsigned count);
void ktap_subtest(const struct ktap *k, int depth, const char *name);
/* reason goes after the directive (SKIP, TIMEOUT, ERROR); for FAIL and
 * PASS it is printed as a diagnostic line before the result. */
void ktap_result(const struct ktap *k, int depth, unsigned number, const char *name, enum ktap_status st,
                 const char *reason);
/* One "# " line per line of the formatted text. */
void ktap_diag(const struct ktap *k, int depth, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *ktap_status_name(enum ktap_status st);

#endif
