#include <stdarg.h>
#include <string.h>
#include "ktap.h"
#include <stdio.h>

#define KTAP_INDENT 4

static void emit(const struct ktap *k, int depth, const char *text, size_t n)
{
    static const char spaces[] = "                                ";
    for (int d = depth * KTAP_INDENT; d > 0; d -= (int)sizeof(spaces) - 1)
        k->write(k->arg, spaces, (size_t)(d < (int)sizeof(spaces) - 1 ? d : (int)sizeof(spaces) - 1));
    k->write(k->arg, text, n);
    k->write(k->arg, "\n", 1);
}

static void emitf(const struct ktap *k, int depth, const char *fmt, ...)
{
    char line[KTAP_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(k, depth, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void ktap_version(const struct ktap *k, int depth) { emitf(k, depth, "KTAP version 1"); }
void ktap_plan(const struct ktap *k, int depth, unsigned count) { emitf(k, depth, "1..%u", count); }
void ktap_subtest(const struct ktap *k, int depth, const char *name) { emitf(k, depth, "# Subtest: %s", name); }

const char *ktap_status_name(enum ktap_status st)
{
    static const char *const names[] = { "pass", "fail", "skip", "timeout", "error" };
    return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* A reason must stay on the result line. */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < size; i++)
        dst[i] = (src[i] == '\n' || src[i] == '\r') ? ' ' : src[i];
    dst[i] = 0;
}

void ktap_result(const struct ktap *k, int depth, unsigned number, const char *name, enum ktap_status st,
                 const char *reason)
{
    char why[KTAP_LINE_MAX / 2];
    sanitize(why, sizeof(why), reason);
    switch (st) {
    case KTAP_PASS:
        /* a note (test_note) as the line's comment */
        if (why[0])
            emitf(k, depth, "ok %u %s # %s", number, name, why);
        else
            emitf(k, depth, "ok %u %s", number, name);
        break;
    case KTAP_FAIL:
        if (why[0])
            emitf(k, depth, "# %s", why);
        emitf(k, depth, "not ok %u %s", number, name);
        break;
    case KTAP_SKIP:
        emitf(k, depth, "ok %u %s # SKIP %s", number, name, why);
        break;
    case KTAP_TIMEOUT:
        emitf(k, depth, "not ok %u %s # TIMEOUT %s", number, name, why);
        break;
    case KTAP_ERROR:
        emitf(k, depth, "not ok %u %s # ERROR %s", number, name, why);
        break;
    }
}

void ktap_diag(const struct ktap *k, int depth, const char *fmt, ...)
{
    char text[KTAP_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(text))
        n = sizeof(text) - 1;
    const char *line = text, *end = text + n;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        emitf(k, depth, "# %.*s", (int)len, line);
        line += len + 1;
    }
}
