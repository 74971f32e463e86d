/* The sink (vtd_fixture.h): frames of valid-looking entries that point
 * at themselves. */
#include "vtd_fixture.h"
#include "lib/atomic.h"
#include "mm/mm.h"

uint64_t sink_entry(uint64_t sink) { return sink | PTE_P | PTE_RW | PTE_US; }

void fill_words(uint64_t pa, uint64_t word)
{
    uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        p[i] = word;
}

int words_intact(uint64_t pa, uint64_t word)
{
    const uint64_t *p = phys_to_virt(pa);
    for (size_t i = 0; i < PAGE_SIZE / sizeof(*p); i++)
        if (READ_ONCE(p[i]) != word)
            return 0;
    return 1;
}
