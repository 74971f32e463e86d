/* Entries of tables the unit may read at any time, and the cache lines
 * its walks read, for every table here: root, context, PASID directory
 * and PASID tables, second-stage tables, the interrupt remapping table. */
#include "entry_write.h"
#include "cap_reg.h"

#define CACHE_LINE 64

static void flush_lines(const volatile void *p, uint64_t len)
{
    uint64_t a = (uint64_t)p & ~(uint64_t)(CACHE_LINE - 1), end = (uint64_t)p + len;
    for (; a < end; a += CACHE_LINE)
        __asm__ volatile("clflush (%0)" : : "r"(a) : "memory");
    __asm__ volatile("mfence" ::: "memory");
}

void vtd_flush_lines(const struct vtd_unit *u, const volatile void *p, uint64_t len)
{
    if (!ECAP_C(u->ecap))
        flush_lines(p, len);
}

void vtd_flush_first_stage_lines(const struct vtd_unit *u, const volatile void *p, uint64_t len)
{
    if (!ECAP_SMPWC(u->ecap))
        flush_lines(p, len);
}

void vtd_entry_write(const struct vtd_unit *u, volatile uint64_t *dst, const uint64_t *src, unsigned n,
                     unsigned present_word)
{
    for (unsigned i = 0; i < n; i++)
        if (i != present_word)
            dst[i] = src[i];
    __asm__ volatile("" ::: "memory"); /* x86 keeps stores in order; the compiler must too */
    dst[present_word] = src[present_word];
    vtd_flush_lines(u, dst, n * sizeof(uint64_t));
}

void vtd_entry_clear(const struct vtd_unit *u, volatile uint64_t *dst, unsigned n, unsigned present_word)
{
    dst[present_word] = 0;
    __asm__ volatile("" ::: "memory");
    for (unsigned i = 0; i < n; i++)
        dst[i] = 0;
    vtd_flush_lines(u, dst, n * sizeof(uint64_t));
}
