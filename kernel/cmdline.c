#include <stddef.h>
#include <string.h>
#include "cmdline.h"
#include "../lib/errno.h"
#include <stdio.h>

enum opt_type { OPT_STRING, OPT_UINT, OPT_FLAGS, OPT_CHOICE, OPT_CONSOLE };

struct flag_name {
    const char *name;
    uint64_t bit;
};
static const struct flag_name trace_flags[] = { { "qi", TRACE_QI }, { "mmio", TRACE_MMIO }, { NULL, 0 } };
static const struct flag_name inject_flags[] = {
    { "ap-fault", INJECT_AP_FAULT }, { "ap-hang", INJECT_AP_HANG }, { NULL, 0 }
};
#define CHOICE(choice, name) { name, choice },
#define BENCH_FLAG(choice, name) { name, BENCH_POLICY(choice) },
static const struct flag_name reclaim_choices[] = { RECLAIM_POLICY_LIST(CHOICE) { NULL, 0 } };
static const struct flag_name bench_policy_flags[] = { RECLAIM_POLICY_LIST(BENCH_FLAG) { NULL, 0 } };
static const struct flag_name reclaim_flush_choices[] = { RECLAIM_FLUSH_LIST(CHOICE) { NULL, 0 } };
static const struct flag_name shell_choices[] = { { "0", SHELL_OFF }, { "1", SHELL_ON }, { "auto", SHELL_AUTO },
                                                  { NULL, 0 } };

struct opt {
    const char *key;
    enum opt_type type;
    size_t offset;
    uint64_t min, max;             /* OPT_UINT bounds */
    const struct flag_name *flags; /* OPT_FLAGS names */
};

#define MAX_TIMEOUT_MS 3600000u

static const struct opt opts[] = {
    { "tests", OPT_STRING, offsetof(struct cmdline, tests), 0, 0, NULL },
    { "timeout_ms", OPT_UINT, offsetof(struct cmdline, timeout_ms), 1, MAX_TIMEOUT_MS, NULL },
    { "seed", OPT_UINT, offsetof(struct cmdline, seed), 0, UINT64_MAX, NULL },
    { "resume", OPT_UINT, offsetof(struct cmdline, resume), 0, UINT32_MAX, NULL },
    { "trace", OPT_FLAGS, offsetof(struct cmdline, trace), 0, 0, trace_flags },
    { "reclaim", OPT_CHOICE, offsetof(struct cmdline, reclaim), 0, 0, reclaim_choices },
    { "reclaim_flush", OPT_CHOICE, offsetof(struct cmdline, reclaim_flush), 0, 0, reclaim_flush_choices },
    { "cpus", OPT_UINT, offsetof(struct cmdline, cpus), 1, CMDLINE_MAX_CPUS, NULL },
    { "inject", OPT_FLAGS, offsetof(struct cmdline, inject), 0, 0, inject_flags },
    { "bench_iters", OPT_UINT, offsetof(struct cmdline, bench_iters), 1, BENCH_ITERS_MAX, NULL },
    { "bench_policies", OPT_FLAGS, offsetof(struct cmdline, bench_policies), 0, 0, bench_policy_flags },
    { "console", OPT_CONSOLE, offsetof(struct cmdline, console), 0, 0, NULL },
    { "screen_hold_ms", OPT_UINT, offsetof(struct cmdline, screen_hold_ms), 0, SCREEN_HOLD_MAX_MS, NULL },
    { "shell", OPT_CHOICE, offsetof(struct cmdline, shell), 0, 0, shell_choices },
    { "keep", OPT_UINT, offsetof(struct cmdline, keep), 0, 1, NULL },
    { "shell_wait_ms", OPT_UINT, offsetof(struct cmdline, shell_wait_ms), 1, SHELL_WAIT_MAX_MS, NULL },
    { "torture_rounds", OPT_UINT, offsetof(struct cmdline, torture_rounds), TORTURE_ROUNDS_MIN, TORTURE_ROUNDS_MAX,
      NULL },
};

#define IO_PORT_MAX 0xfff8u   /* a UART's 8 registers must fit below 64 KiB */
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void cmdline_defaults(struct cmdline *c)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->tests, CMDLINE_DEFAULT_TESTS, sizeof(CMDLINE_DEFAULT_TESTS));
    c->timeout_ms = CMDLINE_DEFAULT_TIMEOUT_MS;
    c->reclaim = CMDLINE_DEFAULT_RECLAIM;
    c->bench_iters = CMDLINE_DEFAULT_BENCH_ITERS;
    c->shell_wait_ms = CMDLINE_DEFAULT_SHELL_WAIT_MS;
}

/* Decimal or 0x-prefixed hex, the whole of [s, s+n). */
static int parse_uint(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    }
    if (!n)
        return -E_INVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        char ch = s[i];
        if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
        else if (base == 16 && ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
        else if (base == 16 && ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
        else return -E_INVAL;
        if (v > (UINT64_MAX - d) / base)
            return -E_RANGE;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* Reports the first problem and leaves the defaults in place. */
#define CMDLINE_ERROR(...)                        \
    do {                                          \
        snprintf(err, errlen, __VA_ARGS__);      \
        cmdline_defaults(c);                      \
        return -E_INVAL;                          \
    } while (0)

int cmdline_parse(const char *s, struct cmdline *c, char *err, size_t errlen)
{
    cmdline_defaults(c);
    unsigned seen = 0;
    _Static_assert(NOPTS <= sizeof(seen) * 8, "one bit per option");
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        const char *tok = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        int toklen = (int)(s - tok);
        const char *eq = memchr(tok, '=', (size_t)toklen);
        if (!eq)
            CMDLINE_ERROR("'%.*s' is not key=value", toklen, tok);
        int klen = (int)(eq - tok);
        const char *val = eq + 1;
        int vlen = toklen - klen - 1;
        const struct opt *o = NULL;
        for (size_t i = 0; i < NOPTS; i++)
            if ((int)strlen(opts[i].key) == klen && !memcmp(opts[i].key, tok, (size_t)klen))
                o = &opts[i];
        if (!o) {
            char known[CMDLINE_VALUE_MAX];
            size_t n = 0;
            for (size_t i = 0; i < NOPTS && n < sizeof(known); i++)
                n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "", opts[i].key);
            CMDLINE_ERROR("unknown key '%.*s' (known: %s)", klen, tok, known);
        }
        unsigned bit = 1u << (o - opts);
        if (seen & bit)
            CMDLINE_ERROR("key '%.*s' given twice", klen, tok);
        seen |= bit;
        char *field = (char *)c + o->offset;
        if (o->type == OPT_STRING) {
            if (vlen >= CMDLINE_VALUE_MAX)
                CMDLINE_ERROR("value of '%.*s' is longer than %d bytes", klen, tok, CMDLINE_VALUE_MAX - 1);
            memcpy(field, val, (size_t)vlen);
            field[vlen] = 0;
        } else if (o->type == OPT_CONSOLE) {
            static const struct { const char *name; uint64_t kind, addr; } fixed[] = {
                { "com1", CONSOLE_IO, CONSOLE_COM1 }, { "com2", CONSOLE_IO, CONSOLE_COM2 },
                { "gop", CONSOLE_GOP, 0 }, { "none", CONSOLE_NONE, 0 },
            };
            int done = 0;
            for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && !done; i++)
                if ((int)strlen(fixed[i].name) == vlen && !memcmp(fixed[i].name, val, (size_t)vlen)) {
                    c->console = fixed[i].kind;
                    c->console_addr = fixed[i].addr;
                    done = 1;
                }
            if (!done) {
                int io = vlen > 3 && !memcmp(val, "io:", 3), mmio = vlen > 5 && !memcmp(val, "mmio:", 5);
                size_t skip = io ? 3 : 5;
                uint64_t a;
                if ((!io && !mmio) || parse_uint(val + skip, (size_t)vlen - skip, &a))
                    CMDLINE_ERROR("'console' takes com1, com2, io:PORT, mmio:ADDR, gop or none, got '%.*s'", vlen,
                                  val);
                if ((io && a > IO_PORT_MAX) || (mmio && (!a || (a & 3))))
                    CMDLINE_ERROR("'console' %s 0x%lx is not a usable UART address", io ? "port" : "address",
                                  (unsigned long)a);
                c->console = io ? CONSOLE_IO : CONSOLE_MMIO;
                c->console_addr = a;
            }
        } else if (o->type == OPT_FLAGS || o->type == OPT_CHOICE) {
            uint64_t bits = 0;
            for (const char *p = val, *end = val + vlen; p < end;) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
                const struct flag_name *f = o->flags;
                while (f->name && (strlen(f->name) != n || memcmp(f->name, p, n)))
                    f++;
                if (!f->name) {
                    char known[CMDLINE_VALUE_MAX];
                    size_t k = 0;
                    for (f = o->flags; f->name && k < sizeof(known); f++)
                        k += (size_t)snprintf(known + k, sizeof(known) - k, "%s%s", k ? ", " : "", f->name);
                    CMDLINE_ERROR("'%.*s' does not know '%.*s' (known: %s)", klen, tok, (int)n, p, known);
                }
                if (o->type == OPT_CHOICE && (comma || p != val))
                    CMDLINE_ERROR("'%.*s' takes one value, got '%.*s'", klen, tok, vlen, val);
                bits |= f->bit;
                p += n + (comma != NULL);
            }
            if (o->type == OPT_CHOICE && !vlen)
                CMDLINE_ERROR("'%.*s' wants a value", klen, tok);
            memcpy(field, &bits, sizeof(bits));
        } else {
            uint64_t v;
            if (parse_uint(val, (size_t)vlen, &v))
                CMDLINE_ERROR("'%.*s' wants a number, got '%.*s'", klen, tok, vlen, val);
            if (v < o->min || v > o->max)
                CMDLINE_ERROR("'%.*s' is out of range (%lu..%lu): '%.*s'", klen, tok, o->min, o->max, vlen, val);
            memcpy(field, &v, sizeof(v));
        }
    }
    return 0;
}
