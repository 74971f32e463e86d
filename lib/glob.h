#ifndef VTDLAB_LIB_GLOB_H
#define VTDLAB_LIB_GLOB_H

/* Shell-style match of the whole string: '*' any run, '?' one character. */
int glob_match(const char *pattern, const char *s);
/* Whether a comma-separated list selects s: some pattern matches it and no
 * excluding one does. A pattern starting with GLOB_EXCLUDE excludes what
 * the rest of it matches ("*,-smp.*": every case but the smp suite's). */
#define GLOB_EXCLUDE '-'
int glob_list_match(const char *list, const char *s);
/* Whether a pattern of the list names the word literally: starts with it,
 * followed by '.', '*' or the pattern's end ("selftest", "selftest.*",
 * "selftest*"; not "*" or "self*"). */
int glob_list_names(const char *list, const char *word);

#endif
