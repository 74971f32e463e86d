/* Patterns in pages, and where a device write landed. */
#include "vtd_fixture.h"
#include "mm/mm.h"

const char *const landed_name[] = { "nowhere", "the old page A", "the new page B" };

void fill_pattern(uint64_t pa, uint64_t pattern)
{
    uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = pattern | i;
}

static int has_pattern(uint64_t pa, uint64_t pattern)
{
    const uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        if (p[i] != (pattern | i))
            return 0;
    return 1;
}

enum landed where_pattern_landed(uint64_t a, uint64_t b, uint64_t pattern)
{
    return has_pattern(a, pattern) ? LANDED_IN_A : has_pattern(b, pattern) ? LANDED_IN_B : LANDED_NOWHERE;
}
