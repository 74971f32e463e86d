/* mm: frames, the kernel's own page tables, W^X, the kva area and its
 * page-table page accounting, the heap. */
#include <string.h>
#include "harness/harness.h"
#include "kernel/traps.h"
#include "kernel/x86.h"
#include "lib/errno.h"
#include "mm/heap.h"
#include "mm/mm.h"
#include "mm/reclaim.h"
#include "mm/tlb.h"
#include "kernel/smp.h"

#define FRAMES_TO_TAKE   64
#define PATTERN          0x5a5aa5a5c3c33c3cul
#define GIB              (1ul << 30)
#define X86_RET          0xc3
#define KVA_PAGES_SPREAD 64
/* How far below a caller's local variable the frames of the calls it makes
 * can reach: an argument in that window lives on the caller's stack. */
#define CALLEE_STACK_WINDOW (16ul << 10)
/* A 4 KiB kva leaf in a fresh slot sits in its own PD and PT. */
#define SLOT_TABLES 2

extern char __text_start[], __rodata_start[], boot_stack_guard[];

/* A kva address in its own 1 GiB slot, so its PD and PT are made for it. */
static uint64_t kva_slot(unsigned n) { return KVA_BASE + (uint64_t)(n + 1) * GIB; }

static void frames_alloc_free(struct test *t)
{
    struct frame_pool *fp = mm_frames();
    uint64_t free_before = fp->free_count, got[FRAMES_TO_TAKE];
    for (int i = 0; i < FRAMES_TO_TAKE; i++) {
        got[i] = frame_alloc(fp);
        ASSERT_TRUE(t, got[i] != FRAME_NONE, "frame_alloc failed after %d frames", i);
        ASSERT_TRUE(t, got[i] >= (1ul << 20) >> PAGE_SHIFT, "frame 0x%lx is in low memory", got[i]);
        for (int j = 0; j < i; j++)
            ASSERT_TRUE(t, got[i] != got[j], "frame 0x%lx handed out twice", got[i]);
    }
    EXPECT_EQ(t, fp->free_count, free_before - FRAMES_TO_TAKE);
    for (int i = 0; i < FRAMES_TO_TAKE; i++)
        EXPECT_EQ(t, frame_free(fp, got[i]), 0);
    EXPECT_EQ(t, fp->free_count, free_before);
    EXPECT_EQ(t, frame_free(fp, got[0]), -E_EXIST);
    EXPECT_EQ(t, fp->free_count, free_before);
}

/* Maps one 4 KiB page in a fresh slot: its PD and PT are allocated for it
 * and freed with it; the data is what the direct map sees. */
static void kva_map_unmap_accounts_tables(struct test *t)
{
    uint64_t pa = page_alloc(), va = kva_slot(0);
    ASSERT_TRUE(t, pa, "out of frames");
    struct pt_page_stats s0 = pt_page_stats();
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    struct pt_page_stats s1 = pt_page_stats();
    EXPECT_EQ(t, s1.allocated - s0.allocated, 2);
    *(volatile uint64_t *)va = PATTERN;
    EXPECT_EQ(t, *(volatile uint64_t *)phys_to_virt(pa), PATTERN);
    EXPECT_EQ(t, virt_to_phys((void *)va), pa);
    EXPECT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX), -E_EXIST);

    ASSERT_EQ(t, kva_unmap(va), 0);
    /* A deferred policy holds the tables until its batch. */
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct pt_page_stats s2 = pt_page_stats();
    EXPECT_EQ(t, s2.freed - s1.freed, 2);
    EXPECT_EQ(t, s2.allocated - s2.freed, s0.allocated - s0.freed);
    EXPECT_EQ(t, kva_unmap(va), -E_NOENT);

    struct trap_catch c;
    if (TRAP_CATCH(&c) == 0) {
        (void)*(volatile uint64_t *)va;
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "read of 0x%lx after unmap did not fault", va);
    } else {
        EXPECT_EQ(t, c.vector, VEC_PAGE_FAULT);
        EXPECT_EQ(t, c.cr2, va);
        EXPECT_EQ(t, c.error & PF_P, 0);
    }
    page_free(pa);
}

/* Pages spread over several page tables in one slot: the tables are shared
 * while any page uses them and all go once the last page is unmapped. */
static void kva_tables_shared_and_released(struct test *t)
{
    uint64_t base = kva_slot(1), pa = page_alloc();
    ASSERT_TRUE(t, pa, "out of frames");
    struct pt_page_stats s0 = pt_page_stats();
    /* one page every 512 KiB: four pages per page table, 16 tables */
    const uint64_t stride = 128 * PAGE_SIZE;
    for (int i = 0; i < KVA_PAGES_SPREAD; i++)
        ASSERT_EQ(t, kva_map(base + i * stride, pa, PT_LEVEL_PT, PTE_NX), 0);
    struct pt_page_stats s1 = pt_page_stats();
    EXPECT_EQ(t, s1.allocated - s0.allocated, 1 + KVA_PAGES_SPREAD * stride / pt_leaf_size(PT_LEVEL_PD));
    for (int i = 0; i < KVA_PAGES_SPREAD; i++)
        ASSERT_EQ(t, kva_unmap(base + i * stride), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    struct pt_page_stats s2 = pt_page_stats();
    EXPECT_EQ(t, s2.freed - s1.freed, s1.allocated - s0.allocated);
    test_metric(t, "pt_pages_allocated", s1.allocated - s0.allocated, "pages");
    page_free(pa);
}

static void kva_2m_leaf(struct test *t)
{
    const uint64_t frames_2m = pt_leaf_size(PT_LEVEL_PD) / PAGE_SIZE;
    uint64_t pfn = pages_alloc_contig((unsigned)frames_2m, (unsigned)frames_2m) >> PAGE_SHIFT;
    if (!pfn)
        test_skip(t, "no 2 MiB of aligned contiguous free frames");
    uint64_t pa = pfn << PAGE_SHIFT, va = kva_slot(2);
    struct pt_page_stats s0 = pt_page_stats();
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PD, PTE_RW | PTE_NX), 0);
    EXPECT_EQ(t, pt_page_stats().allocated - s0.allocated, 1);
    int level = 0;
    EXPECT_TRUE(t, pt_lookup(kernel_pt(), va + 0x12345, &level) & PTE_PS, "leaf is not a large page");
    EXPECT_EQ(t, level, PT_LEVEL_PD);
    uint64_t last = va + pt_leaf_size(PT_LEVEL_PD) - sizeof(uint64_t);
    *(volatile uint64_t *)last = PATTERN;
    EXPECT_EQ(t, *(volatile uint64_t *)phys_to_virt(pa + pt_leaf_size(PT_LEVEL_PD) - sizeof(uint64_t)), PATTERN);
    ASSERT_EQ(t, kva_unmap(va), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    EXPECT_EQ(t, pt_page_stats().freed - s0.freed, 1);
    for (uint64_t i = 0; i < frames_2m; i++)
        page_free((pfn + i) << PAGE_SHIFT);
}

/* A 1 GiB leaf over the start of physical memory, read only: the word at a
 * known frame must be what the direct map shows there. */
static void kva_1g_leaf(struct test *t)
{
    if (mm_info()->max_leaf_level < PT_LEVEL_PDPT)
        test_skip(t, "the CPU has no 1 GiB pages (CPUID 80000001H:EDX.Page1GB = 0)");
    uint64_t pa = page_alloc(), va = kva_slot(3);
    ASSERT_TRUE(t, pa && pa < GIB, "no frame below 1 GiB");
    *(volatile uint64_t *)phys_to_virt(pa) = PATTERN;
    struct pt_page_stats s0 = pt_page_stats();
    ASSERT_EQ(t, kva_map(va, 0, PT_LEVEL_PDPT, PTE_NX), 0);
    EXPECT_EQ(t, pt_page_stats().allocated, s0.allocated);
    EXPECT_EQ(t, *(volatile uint64_t *)(va + pa), PATTERN);
    ASSERT_EQ(t, kva_unmap(va), 0);
    page_free(pa);
}

/* A write the kernel's own tables must refuse: returns the fault seen. */
/* PTE_G is refused in kva attributes: the shootdown's CR3 reload and the
 * reclaim policies' all-in-PASID flushes assume nothing in the kva area is
 * global (a global entry survives both). Refused before anything changes:
 * no entry, no table, and a protect leaves the entry as it was. */
static void kva_refuses_global_entries(struct test *t)
{
    uint64_t pa = page_alloc(), va = kva_slot(4);
    ASSERT_TRUE(t, pa, "out of frames");
    struct pt_page_stats s0 = pt_page_stats();
    int level;
    EXPECT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX | PTE_G), -E_INVAL);
    EXPECT_EQ(t, pt_lookup(kernel_pt(), va, &level), 0);
    EXPECT_EQ(t, pt_page_stats().allocated, s0.allocated);
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    uint64_t before = pt_lookup(kernel_pt(), va, &level);
    EXPECT_EQ(t, kva_protect(va, PTE_NX | PTE_G), -E_INVAL);
    uint64_t after = pt_lookup(kernel_pt(), va, &level);
    EXPECT_EQ(t, after, before);
    EXPECT_EQ(t, after & PTE_G, 0);
    ASSERT_EQ(t, kva_unmap(va), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    page_free(pa);
}

static void skip_without_a_second_cpu(struct test *t)
{
    if (smp_online_count() < 2)
        test_skip(t, "one CPU online: no shootdown reaches another");
}

/* What the other CPU is handed by a shootdown does not point into the
 * initiator's stack: a CPU declared lost may run the call after the
 * initiator returned, and would read whatever the stack then holds. The
 * address is the one the other CPU received. */
static void shootdown_hands_other_cpus_nothing_on_the_stack(struct test *t)
{
    skip_without_a_second_cpu(t);
    uint64_t before = tlb_remote_shootdowns(), va = kva_slot(5);
    volatile uint8_t here = 0;
    ASSERT_EQ(t, tlb_shootdown(va, va + PAGE_SIZE), 0);
    ASSERT_TRUE(t, tlb_remote_shootdowns() > before, "the shootdown did not reach another CPU");
    uintptr_t arg = (uintptr_t)tlb_last_remote_batch(), top = (uintptr_t)&here;
    test_diag(t, "the other CPU was handed 0x%lx; the caller's local is at 0x%lx", (unsigned long)arg,
              (unsigned long)top);
    EXPECT_TRUE(t, !(arg <= top && arg >= top - CALLEE_STACK_WINDOW),
                "the other CPU was handed 0x%lx, %lu bytes below the caller's local: a pointer into its stack",
                (unsigned long)arg, (unsigned long)(top - arg));
}

/* The PD and PT on va's path in the kernel's tables, read from them. */
static unsigned slot_tables(uint64_t va, uint64_t out[SLOT_TABLES])
{
    uint64_t pa = kernel_pt()->root_pa;
    unsigned n = 0;
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        uint64_t e = ((const uint64_t *)phys_to_virt(pa))[pt_index(va, level)];
        if (!pte_present(e) || pte_is_leaf(e, level))
            break;
        pa = pte_addr(e);
        if (level <= PT_LEVEL_PDPT)
            out[n++] = pa;
    }
    return n;
}

/* An unmap whose shootdown a CPU did not acknowledge (injected: as when
 * the target is declared lost) returns the error and frees neither its
 * page tables nor its frame: the CPU may still walk or write them. The
 * pool says so (the frames cannot be taken). Given back afterwards. */
static void unacknowledged_shootdown_frees_nothing(struct test *t)
{
    skip_without_a_second_cpu(t);
    uint64_t pa = page_alloc(), va = kva_slot(5), tables[SLOT_TABLES];
    ASSERT_TRUE(t, pa, "out of frames");
    ASSERT_EQ(t, kva_map(va, pa, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    ASSERT_EQ(t, slot_tables(va, tables), SLOT_TABLES);
    tlb_inject_unacknowledged();
    EXPECT_EQ(t, kva_unmap_free(va), -E_TIMEDOUT);
    EXPECT_EQ(t, reclaim_drain(), 0);
    const uint64_t pages[] = { tables[0], tables[1], pa };
    const char *what[] = { "page directory", "page table", "data frame" };
    for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        int taken = page_take_specific(pages[i]) == 0;
        EXPECT_TRUE(t, !taken, "the %s at 0x%lx went back to the pool although a CPU never acknowledged the "
                    "shootdown", what[i], pages[i]);
        if (taken)
            page_free(pages[i]);
    }
    /* Every CPU did flush: the withheld pages can go. */
    EXPECT_EQ(t, kva_withheld_release(), 0);
    EXPECT_EQ(t, reclaim_drain(), 0);
    for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        EXPECT_EQ(t, page_take_specific(pages[i]), 0);
        page_free(pages[i]);
    }
}

static void expect_write_fault(struct test *t, volatile uint8_t *p, const char *what)
{
    struct trap_catch c;
    if (TRAP_CATCH(&c) == 0) {
        uint8_t v = *p;
        *p = v; /* same value: harmless if the protection is missing */
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "write to %s at %p did not fault", what, (void *)p);
        return;
    }
    EXPECT_EQ(t, c.vector, VEC_PAGE_FAULT);
    EXPECT_EQ(t, c.error & (PF_P | PF_W), PF_P | PF_W);
    EXPECT_EQ(t, c.cr2, (uint64_t)p);
}

static void text_is_not_writable(struct test *t)
{
    expect_write_fault(t, (volatile uint8_t *)__text_start, "kernel text");
}

static void rodata_is_not_writable(struct test *t)
{
    expect_write_fault(t, (volatile uint8_t *)__rodata_start, "kernel rodata");
}

static void text_alias_in_direct_map_is_not_writable(struct test *t)
{
    expect_write_fault(t, phys_to_virt(virt_to_phys(__text_start)), "the direct-map alias of kernel text");
}

static void data_is_not_executable(struct test *t)
{
    static uint8_t code[16] = { X86_RET };
    struct trap_catch c;
    if (TRAP_CATCH(&c) == 0) {
        ((void (*)(void))code)();
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "call into .data at %p returned", (void *)code);
        return;
    }
    EXPECT_EQ(t, c.vector, VEC_PAGE_FAULT);
    EXPECT_EQ(t, c.error & (PF_P | PF_I), PF_P | PF_I);
    EXPECT_EQ(t, c.rip, (uint64_t)code);
}

static void stack_guard_page_is_unmapped(struct test *t)
{
    struct trap_catch c;
    volatile uint8_t *guard = (volatile uint8_t *)boot_stack_guard;
    if (TRAP_CATCH(&c) == 0) {
        (void)*guard;
        trap_catch_disarm();
        test_fail_at(t, __FILE__, __LINE__, "the stack guard page at %p is readable", (void *)guard);
        return;
    }
    EXPECT_EQ(t, c.vector, VEC_PAGE_FAULT);
    EXPECT_EQ(t, c.error & PF_P, 0);
}

static void heap_alloc_free(struct test *t)
{
    struct heap_stats h0 = heap_stats();
    const size_t sizes[] = { 1, 16, 100, 4096, 65536 };
    void *p[sizeof(sizes) / sizeof(sizes[0])];
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p[i] = kmalloc(sizes[i]);
        ASSERT_TRUE(t, p[i] != NULL, "kmalloc(%lu) failed", sizes[i]);
        EXPECT_EQ(t, (uint64_t)p[i] % HEAP_ALIGN, 0);
        memset(p[i], (int)i + 1, sizes[i]);
    }
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const uint8_t *b = p[i];
        EXPECT_TRUE(t, b[0] == i + 1 && b[sizes[i] - 1] == i + 1, "block %u was overwritten", i);
    }
    EXPECT_EQ(t, heap_stats().allocations, h0.allocations + sizeof(sizes) / sizeof(sizes[0]));
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        kfree(p[i]);
    EXPECT_EQ(t, heap_stats().allocations, h0.allocations);
    EXPECT_EQ(t, heap_stats().used, h0.used);
    EXPECT_TRUE(t, kmalloc(h0.arena + 1) == NULL, "an allocation larger than the arena succeeded");
}

TEST_SUITE(mm, 20, 0,
           TEST(frames_alloc_free),
           TEST(kva_map_unmap_accounts_tables),
           TEST(kva_tables_shared_and_released),
           TEST(kva_2m_leaf),
           TEST(kva_1g_leaf),
           TEST(kva_refuses_global_entries),
           TEST(shootdown_hands_other_cpus_nothing_on_the_stack),
           TEST(unacknowledged_shootdown_frees_nothing),
           TEST(text_is_not_writable),
           TEST(rodata_is_not_writable),
           TEST(text_alias_in_direct_map_is_not_writable),
           TEST(data_is_not_executable),
           TEST(stack_guard_page_is_unmapped),
           TEST(heap_alloc_free));
