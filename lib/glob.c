#include <stddef.h>
#include <string.h>
#include "glob.h"

/* Matches pattern[0, plen) against s, iteratively: after a '*' the match
 * retries one character further on each mismatch. */
static int match_n(const char *p, size_t plen, const char *s)
{
    size_t pi = 0, star = (size_t)-1;
    const char *retry = NULL;
    while (*s) {
        if (pi < plen && (p[pi] == '?' || p[pi] == *s)) {
            pi++;
            s++;
        } else if (pi < plen && p[pi] == '*') {
            star = pi++;
            retry = s;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

int glob_match(const char *pattern, const char *s)
{
    size_t n = 0;
    while (pattern[n])
        n++;
    return match_n(pattern, n, s);
}

int glob_list_match(const char *list, const char *s)
{
    int included = 0;
    while (*list) {
        size_t n = 0;
        while (list[n] && list[n] != ',')
            n++;
        if (n && list[0] == GLOB_EXCLUDE) {
            if (match_n(list + 1, n - 1, s))
                return 0;
        } else if (n && match_n(list, n, s)) {
            included = 1;
        }
        list += n + (list[n] == ',');
    }
    return included;
}

int glob_list_names(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len >= n && !strncmp(p, word, n) && (len == n || p[n] == '.' || p[n] == '*'))
            return 1;
        p += len + (comma != NULL);
    }
    return 0;
}
