/* The one pair of field helpers for hardware words: a field is named by its
 * bit range [hi:lo] as the specs write it. bits_set refuses a value that
 * does not fit, so an encoder cannot spill into a neighbouring field. */
#ifndef VTDLAB_LIB_BITS_H
#define VTDLAB_LIB_BITS_H

#include <stdint.h>

static inline uint64_t bits_mask(unsigned hi, unsigned lo)
{
    return (hi - lo == 63 ? ~0ul : ((1ul << (hi - lo + 1)) - 1)) << lo;
}

static inline uint64_t bits_get(uint64_t word, unsigned hi, unsigned lo)
{
    return (word & bits_mask(hi, lo)) >> lo;
}

/* 0, or -1 when value does not fit in [hi:lo] (word unchanged). */
static inline int bits_set(uint64_t *word, unsigned hi, unsigned lo, uint64_t value)
{
    if (value & ~(bits_mask(hi, lo) >> lo))
        return -1;
    *word = (*word & ~bits_mask(hi, lo)) | (value << lo);
    return 0;
}

#endif
