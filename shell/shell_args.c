/* The shell's words (shell_args.h). */
#include "shell_args.h"
#include "../lib/errno.h"

#define PCI_DEV_MAX 0x1f
#define PCI_FN_MAX  0x7
#define HEX_DIGITS_BUS 2
#define HEX_DIGITS_DEV 2

static int is_space(char c) { return c == ' ' || c == '\t'; }

int shell_split(char *line, char **argv, int max)
{
    int n = 0;
    for (char *p = line; *p;) {
        while (is_space(*p))
            *p++ = 0;
        if (!*p)
            break;
        if (n == max)
            return -E_RANGE;
        argv[n++] = p;
        while (*p && !is_space(*p))
            p++;
    }
    return n;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int shell_number(const char *s, uint64_t *v)
{
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -E_INVAL;
    uint64_t out = 0;
    for (; *s; s++) {
        int d = hex_digit(*s);
        if (d < 0 || (unsigned)d >= base)
            return -E_INVAL;
        if (out > (UINT64_MAX - (unsigned)d) / base)
            return -E_RANGE;
        out = out * base + (unsigned)d;
    }
    *v = out;
    return 0;
}

/* Up to max_digits hex digits ending at stop (or the string's end when stop
 * is 0): the value, or -1. */
static int hex_field(const char **s, unsigned max_digits, char stop)
{
    int v = 0;
    unsigned n = 0;
    for (; **s && **s != stop; (*s)++, n++) {
        int d = hex_digit(**s);
        if (d < 0 || n == max_digits)
            return -1;
        v = v * 16 + d;
    }
    if (!n || (stop && **s != stop))
        return -1;
    if (stop)
        (*s)++;
    return v;
}

int shell_bdf(const char *s, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
    int b = hex_field(&s, HEX_DIGITS_BUS, ':');
    int d = b < 0 ? -1 : hex_field(&s, HEX_DIGITS_DEV, '.');
    int f = d < 0 ? -1 : hex_field(&s, 1, 0);
    if (f < 0 || d > PCI_DEV_MAX || f > PCI_FN_MAX)
        return -E_INVAL;
    *bus = (uint8_t)b;
    *dev = (uint8_t)d;
    *fn = (uint8_t)f;
    return 0;
}
