/* edu: the DMA device itself, translation off (physical addresses). */
#include <string.h>
#include "devices/edu.h"
#include "harness/harness.h"
#include "mm/mm.h"

#define WORDS (EDU_BUFFER_SIZE / sizeof(uint64_t))
#define PATTERN_SEED 0x9e3779b97f4a7c15ul
#define FILL_SEED    1

static void fill(uint64_t *p, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++)
        p[i] = seed ^ (i * PATTERN_SEED);
}

/* RAM -> device buffer -> other RAM, every word compared. */
static void dma_roundtrip_physical(struct test *t)
{
    struct edu e;
    if (edu_probe(&e))
        test_skip(t, "no edu device (the profile has none)");
    uint64_t src = page_alloc(), dst = page_alloc();
    ASSERT_TRUE(t, src && dst, "out of frames");
    fill(phys_to_virt(src), FILL_SEED);
    memset(phys_to_virt(dst), 0, PAGE_SIZE);
    ASSERT_EQ(t, edu_dma(&e, src, 0, EDU_BUFFER_SIZE, 1), 0);
    ASSERT_EQ(t, edu_dma(&e, dst, 0, EDU_BUFFER_SIZE, 0), 0);
    const uint64_t *a = phys_to_virt(src), *b = phys_to_virt(dst);
    unsigned wrong = 0;
    for (size_t i = 0; i < WORDS; i++)
        if (a[i] != b[i] && wrong++ < 4)
            test_diag(t, "word %zu: wrote 0x%lx, read back 0x%lx", i, a[i], b[i]);
    EXPECT_EQ(t, wrong, 0);
    test_metric(t, "dma_wait_us", e.wait_us_total / e.dmas, "us");
    page_free(src);
    page_free(dst);
}

TEST_SUITE(edu, 32, 0,
           TEST(dma_roundtrip_physical));
