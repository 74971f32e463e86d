/* Page-table arithmetic and walker, frame pool, heap: on host memory. */
#include "host.h"
#include "lib/errno.h"
#include "mm/frame.h"
#include "mm/heap.h"
#include "mm/pgtable.h"

#define MAX_TABLES 64
#define PAGE 4096

/* Table pages come from a host pool; "physical" addresses are indices
 * scaled to pages so they look like frames. */
struct fake_mem {
    uint64_t (*pages)[PT_ENTRIES];
    int used, allocated;
};

static uint64_t fake_alloc(void *owner)
{
    struct fake_mem *m = owner;
    if (m->used == MAX_TABLES)
        return 0;
    memset(m->pages[m->used], 0, PAGE);
    m->allocated++;
    return (uint64_t)(++m->used) * PAGE;
}

static void *fake_ptr(void *owner, uint64_t pa)
{
    struct fake_mem *m = owner;
    return m->pages[pa / PAGE - 1];
}

static struct fake_mem mem;
static struct pt_ctx pt;

static int setup(void **state)
{
    mem.pages = aligned_alloc(PAGE, (size_t)MAX_TABLES * PAGE);
    mem.used = mem.allocated = 0;
    pt = (struct pt_ctx){ .fmt = &pt_format_x86, .alloc_table = fake_alloc, .table_ptr = fake_ptr, .owner = &mem };
    pt.root_pa = fake_alloc(&mem);
    return 0;
}

static int teardown(void **state)
{
    free(mem.pages);
    return 0;
}

static void index_arithmetic(void **state)
{
    uint64_t va = 0xffffa00040201000ull;
    assert_int_equal(pt_index(va, PT_LEVEL_PML4), 320);
    assert_int_equal(pt_index(va, PT_LEVEL_PDPT), 1);
    assert_int_equal(pt_index(va, PT_LEVEL_PD), 1);
    assert_int_equal(pt_index(va, PT_LEVEL_PT), 1);
    assert_int_equal(pt_leaf_size(PT_LEVEL_PT), 4096);
    assert_int_equal(pt_leaf_size(PT_LEVEL_PD), 2u << 20);
    assert_int_equal(pt_leaf_size(PT_LEVEL_PDPT), 1u << 30);
    assert_true(va_is_canonical(0x00007fffffffffffull));
    assert_true(va_is_canonical(0xffff800000000000ull));
    assert_false(va_is_canonical(0x0000800000000000ull));
    assert_true(pte_is_leaf(PTE_P, PT_LEVEL_PT));
    assert_true(pte_is_leaf(PTE_P | PTE_PS, PT_LEVEL_PD));
    assert_false(pte_is_leaf(PTE_P | PTE_PS, PT_LEVEL_PML4));
    assert_int_equal(pte_addr(0x80000000dead1067ull), 0xdead1000ull);
}

/* A 39-bit, 3-level table whose entries are present by R or W (VT-d
 * second stage): a 1 GiB leaf sits in the root table itself. */
static void a_1g_leaf_in_a_3_level_root(void **state)
{
    static const struct pt_format three = { .name = "3-level", .levels = PT_LEVEL_PDPT, .present_mask = 0x3,
                                            .table_flags = 0x3, .attr_mask = 0x3 };
    struct pt_ctx p3 = pt;
    p3.fmt = &three;
    const uint64_t va = 5ull << 30; /* root index 5 */
    assert_int_equal(pt_map_page(&p3, va, 1ull << 30, PT_LEVEL_PDPT, 0x3), 0);
    assert_int_equal(mem.allocated, 1); /* the root alone */
    uint64_t *root = fake_ptr(&mem, p3.root_pa);
    assert_int_equal(root[5], (1ull << 30) | PTE_PS | 0x3);
    int level;
    assert_int_equal(pt_lookup(&p3, va + 0x1234000, &level), root[5]);
    assert_int_equal(level, PT_LEVEL_PDPT);
    struct pt_unlinked un;
    assert_int_equal(pt_unmap_page(&p3, va, &level, &un), 0);
    assert_int_equal(un.count, 0); /* the root is never unlinked */
    assert_int_equal(root[5], 0);
    /* nothing above the root: a 512 GiB leaf does not exist */
    assert_int_equal(pt_map_page(&p3, 0, 0, PT_LEVEL_PML4, 0x3), -E_INVAL);
}

static void map_builds_path_and_encodes_leaf(void **state)
{
    uint64_t va = 0xffffa00040201000ull;
    assert_int_equal(pt_map_page(&pt, va, 0x1234000, PT_LEVEL_PT, PTE_RW | PTE_NX), 0);
    assert_int_equal(mem.allocated, 4); /* root + PDPT + PD + PT */
    int level;
    uint64_t e = pt_lookup(&pt, va, &level);
    assert_int_equal(level, PT_LEVEL_PT);
    assert_int_equal(e, 0x1234000ull | PTE_P | PTE_RW | PTE_NX);
    /* the non-leaf path carries the table flags */
    uint64_t *root = fake_ptr(&mem, pt.root_pa);
    assert_int_equal(root[320] & (PTE_P | PTE_RW), PTE_P | PTE_RW);
    assert_int_equal(pt_map_page(&pt, va, 0x5000, PT_LEVEL_PT, 0), -E_EXIST);
    assert_int_equal(pt_lookup(&pt, va + PAGE, NULL), 0);
}

static void bad_arguments_rejected(void **state)
{
    assert_int_equal(pt_map_page(&pt, 0xffffa00000000800ull, 0, PT_LEVEL_PT, 0), -E_INVAL);
    assert_int_equal(pt_map_page(&pt, 0xffffa00000000000ull, 0x1000, PT_LEVEL_PD, 0), -E_INVAL);
    assert_int_equal(pt_map_page(&pt, 0x0000800000000000ull, 0, PT_LEVEL_PT, 0), -E_INVAL);
    assert_int_equal(pt_map_page(&pt, 0xffffa00000000000ull, 0, PT_LEVEL_PT, PTE_PS), -E_INVAL);
    assert_int_equal(pt_map_page(&pt, 0xffffa00000000000ull, 0, PT_LEVEL_PML4, 0), -E_INVAL);
    assert_int_equal(mem.allocated, 1);
}

static void large_leaves_and_conflicts(void **state)
{
    uint64_t va = 0xffffa00000000000ull;
    assert_int_equal(pt_map_page(&pt, va, 0x40000000, PT_LEVEL_PDPT, 0), 0);
    int level;
    assert_int_equal(pt_lookup(&pt, va + 0x12345678, &level), 0x40000000ull | PTE_P | PTE_PS);
    assert_int_equal(level, PT_LEVEL_PDPT);
    /* a 4 KiB page inside the 1 GiB leaf conflicts with it */
    assert_int_equal(pt_map_page(&pt, va + PAGE, 0, PT_LEVEL_PT, 0), -E_EXIST);
    struct pt_unlinked u;
    assert_int_equal(pt_unmap_page(&pt, va + 0x1000, &level, &u), 0);
    assert_int_equal(level, PT_LEVEL_PDPT);
    assert_int_equal(u.count, 1); /* the PDPT became empty */
    assert_int_equal(u.level[0], PT_LEVEL_PDPT);
}

static void unmap_unlinks_empty_tables_bottom_up(void **state)
{
    uint64_t a = 0xffffa00040000000ull, b = a + 0x1000, c = a + (2u << 20);
    assert_int_equal(pt_map_page(&pt, a, 0x1000, PT_LEVEL_PT, 0), 0);
    assert_int_equal(pt_map_page(&pt, b, 0x2000, PT_LEVEL_PT, 0), 0);
    assert_int_equal(pt_map_page(&pt, c, 0x3000, PT_LEVEL_PT, 0), 0);
    assert_int_equal(mem.allocated, 5); /* root, PDPT, PD, two PTs */
    struct pt_unlinked u;
    assert_int_equal(pt_unmap_page(&pt, a, NULL, &u), 0);
    assert_int_equal(u.count, 0); /* b still uses the PT */
    assert_int_equal(pt_unmap_page(&pt, b, NULL, &u), 0);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.level[0], PT_LEVEL_PT);
    assert_int_equal(pt_unmap_page(&pt, c, NULL, &u), 0);
    assert_int_equal(u.count, 3); /* PT, PD, PDPT; never the root */
    assert_int_equal(u.level[2], PT_LEVEL_PDPT);
    assert_int_equal(pt_unmap_page(&pt, c, NULL, &u), -E_NOENT);
}

/* The count walks the tables themselves: a large leaf is no table, and
 * every table on a path is counted once. */
static void count_walks_tables_not_leaves(void **state)
{
    uint64_t a = 0xffffa00040000000ull, b = a + 0x1000, c = a + (2u << 20), d = a + (1u << 30);
    assert_int_equal(pt_map_page(&pt, a, 0x1000, PT_LEVEL_PT, 0), 0);
    assert_int_equal(pt_map_page(&pt, b, 0x2000, PT_LEVEL_PT, 0), 0);
    assert_int_equal(pt_map_page(&pt, c, 0x200000, PT_LEVEL_PD, 0), 0);
    assert_int_equal(pt_map_page(&pt, d, 0x3000, PT_LEVEL_PT, 0), 0);
    /* PDPT, PD and PT for a and b; c is a leaf in that PD; d: PD and PT. */
    assert_int_equal(pt_count_tables(&pt, pt.root_pa, PT_LEVEL_PML4), 5);
    assert_int_equal(pt_count_tables(&pt, pt.root_pa, PT_LEVEL_PML4), mem.allocated - 1);
    struct pt_unlinked u;
    assert_int_equal(pt_unmap_page(&pt, d, NULL, &u), 0);
    assert_int_equal(u.count, 2); /* d's PD and PT */
    assert_int_equal(pt_count_tables(&pt, pt.root_pa, PT_LEVEL_PML4), 3);
}

static void keep_level_protects_top_tables(void **state)
{
    pt.keep_level = PT_LEVEL_PDPT;
    uint64_t va = 0xffffa00040000000ull;
    assert_int_equal(pt_map_page(&pt, va, 0x1000, PT_LEVEL_PT, 0), 0);
    struct pt_unlinked u;
    assert_int_equal(pt_unmap_page(&pt, va, NULL, &u), 0);
    assert_int_equal(u.count, 2); /* PT and PD; the PDPT stays */
}

static void map_range_picks_largest_leaves(void **state)
{
    uint64_t va = 0xffff888000000000ull;
    /* 4 KiB head, one 2 MiB leaf, 4 KiB tail */
    assert_int_equal(pt_map_range(&pt, va + 0x1ff000, 0x1ff000, 0x202000, PTE_RW, PT_LEVEL_PDPT), 0);
    int level;
    pt_lookup(&pt, va + 0x1ff000, &level);
    assert_int_equal(level, PT_LEVEL_PT);
    pt_lookup(&pt, va + 0x200000, &level);
    assert_int_equal(level, PT_LEVEL_PD);
    pt_lookup(&pt, va + 0x400000, &level);
    assert_int_equal(level, PT_LEVEL_PT);
    assert_int_equal(pt_map_range(&pt, va + 0x40000000, 0, 0x1800, 0, PT_LEVEL_PT), -E_INVAL);
}

/* A 2 MiB leaf split into 512 4 KiB leaves and collapsed back, with the
 * entries spelled out (SDM vol. 3, 4.5: PS is bit 7, NX bit 63). */
static void split_and_collapse_keep_frames_and_attributes(void **state)
{
    uint64_t va = 0xffffa00000200000ull;
    assert_int_equal(pt_map_page(&pt, va, 0x200000, PT_LEVEL_PD, PTE_RW | PTE_NX), 0);
    assert_int_equal(pt_lookup(&pt, va, NULL), 0x8000000000200083ull);
    int before = mem.allocated;
    assert_int_equal(pt_split_leaf(&pt, va), 0);
    assert_int_equal(mem.allocated, before + 1);
    int level;
    assert_int_equal(pt_lookup(&pt, va, &level), 0x8000000000200003ull);
    assert_int_equal(level, PT_LEVEL_PT);
    assert_int_equal(pt_lookup(&pt, va + 511 * PAGE, NULL), 0x80000000003ff003ull);
    assert_int_equal(pt_split_leaf(&pt, va), -E_INVAL); /* no 2 MiB leaf there any more */

    /* One page made read-only: the table cannot collapse. */
    assert_int_equal(pt_protect(&pt, va + 5 * PAGE, PTE_NX), 0);
    struct pt_unlinked u;
    assert_int_equal(pt_collapse_table(&pt, va, &u), -E_INVAL);
    assert_int_equal(u.count, 0);
    assert_int_equal(pt_protect(&pt, va + 5 * PAGE, PTE_RW | PTE_NX), 0);
    assert_int_equal(pt_collapse_table(&pt, va + 7 * PAGE, &u), 0);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.level[0], PT_LEVEL_PT);
    assert_int_equal(pt_lookup(&pt, va + 0x12345, &level), 0x8000000000200083ull);
    assert_int_equal(level, PT_LEVEL_PD);
}

static void collapse_refuses_frames_out_of_order(void **state)
{
    uint64_t va = 0xffffa00000200000ull;
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        assert_int_equal(pt_map_page(&pt, va + i * PAGE, 0x400000 + (i == 3 ? 4 : i) * PAGE, PT_LEVEL_PT, PTE_RW), 0);
    struct pt_unlinked u;
    assert_int_equal(pt_collapse_table(&pt, va, &u), -E_INVAL);
    struct pt_unlinked v;
    assert_int_equal(pt_unmap_page(&pt, va + 3 * PAGE, NULL, &v), 0);
    assert_int_equal(pt_map_page(&pt, va + 3 * PAGE, 0x403000, PT_LEVEL_PT, PTE_RW), 0);
    assert_int_equal(pt_collapse_table(&pt, va, &u), 0);
    assert_int_equal(pt_lookup(&pt, va, NULL), 0x400083ull);
}

static void protect_changes_attributes_only(void **state)
{
    uint64_t va = 0xffffa00000000000ull;
    assert_int_equal(pt_map_page(&pt, va, 0x7000, PT_LEVEL_PT, PTE_RW), 0);
    assert_int_equal(pt_protect(&pt, va, PTE_NX), 0);
    assert_int_equal(pt_lookup(&pt, va, NULL), 0x7000ull | PTE_P | PTE_NX);
    assert_int_equal(pt_protect(&pt, va + PAGE, PTE_NX), -E_NOENT);
    assert_int_equal(pt_protect(&pt, va, PTE_PS), -E_INVAL);
    assert_int_equal(pt_protect(&pt, va, PTE_P), -E_INVAL); /* P is the walker's, not the caller's */
}

static void frame_pool_bookkeeping(void **state)
{
    uint64_t bitmap[4];
    struct frame_pool p;
    frame_pool_init(&p, bitmap, 200);
    assert_int_equal(p.free_count, 0);
    assert_int_equal(frame_alloc(&p), FRAME_NONE);
    frame_pool_add(&p, 10, 100);
    frame_pool_add(&p, 150, 100); /* runs past the pool: clipped */
    assert_int_equal(p.free_count, 150);
    frame_pool_reserve(&p, 0, 20);
    assert_int_equal(p.free_count, 140);
    uint64_t f = frame_alloc(&p);
    assert_int_equal(f, 20);
    assert_false(frame_is_free(&p, f));
    assert_int_equal(frame_free(&p, f), 0);
    assert_int_equal(frame_free(&p, f), -E_EXIST);
    assert_int_equal(frame_free(&p, 500), -E_INVAL);
    assert_int_equal(frame_alloc_specific(&p, 25), 0);
    assert_int_equal(frame_alloc_specific(&p, 25), -E_BUSY);
    assert_int_equal(frame_free(&p, 25), 0);
    assert_int_equal(p.free_count, 140);
    uint64_t c = frame_alloc_contig(&p, 40, 32);
    assert_int_equal(c, 32);
    assert_int_equal(p.free_count, 100);
    assert_int_equal(frame_alloc_contig(&p, 90, 1), FRAME_NONE); /* 72..109 and 150..199 are apart */
    for (uint64_t i = 0; i < 100; i++)
        assert_int_not_equal(frame_alloc(&p), FRAME_NONE);
    assert_int_equal(frame_alloc(&p), FRAME_NONE);
}

static void heap_allocates_merges_and_rejects(void **state)
{
    static uint8_t arena[8192] __attribute__((aligned(16)));
    struct heap h;
    heap_init(&h, arena + 3, sizeof(arena) - 3);
    void *a = heap_alloc(&h, 100), *b = heap_alloc(&h, 200), *c = heap_alloc(&h, 300);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)a % HEAP_ALIGN, 0);
    assert_int_equal(h.allocations, 3);
    assert_int_equal(heap_free(&h, b), 0);
    assert_int_equal(heap_free(&h, b), -E_INVAL);          /* double free */
    assert_int_equal(heap_free(&h, (char *)a + 16), -E_INVAL); /* not a block */
    assert_int_equal(heap_free(&h, a), 0);
    assert_int_equal(heap_free(&h, c), 0);
    assert_int_equal(h.used, 0);
    /* after merging, one block spans the arena again */
    void *big = heap_alloc(&h, h.arena_size - 64);
    assert_non_null(big);
    assert_null(heap_alloc(&h, 1024));
    assert_null(heap_alloc(&h, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_arithmetic),
        cmocka_unit_test_setup_teardown(map_builds_path_and_encodes_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(a_1g_leaf_in_a_3_level_root, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(large_leaves_and_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(count_walks_tables_not_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_unlinks_empty_tables_bottom_up, setup, teardown),
        cmocka_unit_test_setup_teardown(keep_level_protects_top_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(map_range_picks_largest_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(protect_changes_attributes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(split_and_collapse_keep_frames_and_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(collapse_refuses_frames_out_of_order, setup, teardown),
        cmocka_unit_test(frame_pool_bookkeeping),
        cmocka_unit_test(heap_allocates_merges_and_rejects),
    };
    return cmocka_run_group_tests_name("mm", tests, NULL, NULL);
}
