/* sanitizers: each sanitizer built into the kernel (kernel/san/,
 * docs/sanitizers.md) catches the bug planted for it, with exactly the
 * report it should make, and stays quiet on the same code without the
 * bug. The reports are captured (san_capture), so these cases pass; one
 * case lets a report through on purpose to show it fails the case and the
 * run goes on. Runs only when named (tests=sanitizers.*), in the runs that
 * boot a sanitized kernel; a kernel without the sanitizer skips. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "kernel/clock.h"
#include "harness/harness.h"
#include "kernel/lock.h"
#include "kernel/printk.h"
#include "kernel/san/kasan.h"
#include "kernel/san/lockdep.h"
#include "kernel/traps.h"
#include "kernel/x86.h"
#include "kernel/san/san.h"
#include "mm/kva.h"
#include "mm/layout.h"
#include "mm/mm.h"
#include "mm/pgtable.h"
#include "mm/pte.h"
#include "mm/reclaim.h"

static void need(struct test *t, enum san_kind kind, const char *what)
{
    if (!san_built_with(kind))
        test_skip(t, "the kernel is built without %s (make sanitizers: build/<variant>/kernel.elf)", what);
}

static void disarm(uintptr_t unused) { san_capture_disarm(); }

static void arm(struct test *t, struct san_capture *c, enum san_kind kind)
{
    san_capture_arm(c, kind);
    test_on_exit(t, disarm, 0);
}

/* The captured report's text is exactly the one formatted from fmt. */
static void __attribute__((format(printf, 3, 4)))
expect_report_text(struct test *t, const struct san_capture *c, const char *fmt, ...)
{
    char want[SAN_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    EXPECT_TRUE(t, !strcmp(c->text, want), "the report was '%s', not '%s'", c->text, want);
}

/* ----------------------------------------------------------------- UBSan */

/* Through a volatile so the compiler cannot see the count and fold (or
 * refuse) the shift. */
static volatile unsigned shift_count;

static __attribute__((noinline)) uint64_t shift_left(uint64_t v)
{
    return v << shift_count;
}
enum { SHIFT_LINE = __LINE__ - 2 }; /* the shift's line */

#define WIDTH 64u

static void ubsan_reports_a_shift_past_the_width(struct test *t)
{
    need(t, SAN_UBSAN, "UBSan");
    static struct san_capture c;
    arm(t, &c, SAN_UBSAN);
    /* The control: the widest shift that is defined. */
    shift_count = WIDTH - 1;
    EXPECT_EQ(t, shift_left(1), 1ull << (WIDTH - 1));
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    shift_count = WIDTH;
    (void)shift_left(1);
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "shift-out-of-bounds at %s:%d: shift exponent %u is too large for %u-bit type "
                       "'long unsigned int'", __FILE__, SHIFT_LINE, WIDTH, WIDTH);
}

/* Uncaptured: the report is the case's failure (expected: fail). */
static void ubsan_report_fails_the_case_on_purpose(struct test *t)
{
    need(t, SAN_UBSAN, "UBSan");
    shift_count = WIDTH;
    (void)shift_left(1);
}

static void ubsan_report_failed_the_case_and_the_run_went_on(struct test *t)
{
    need(t, SAN_UBSAN, "UBSan");
    EXPECT_EQ(t, harness_previous_status(1), KTAP_FAIL);
}

/* A storm: thousands of reports in one case (uncaptured, so expected:
 * fail). The console's lines while it raged, for the next case. */
#define STORM 2000u
/* Lines a report prints: the summary, the detail and a backtrace. A
 * bounded storm prints SAN_REPORTS_PER_CASE reports and one line more. */
#define REPORT_LINES_MAX 16u
static uint64_t storm_lines;

static void ubsan_report_storm_fails_the_case_on_purpose(struct test *t)
{
    need(t, SAN_UBSAN, "UBSan");
    shift_count = WIDTH;
    uint64_t before = console_lines_written();
    for (unsigned i = 0; i < STORM; i++)
        (void)shift_left(1);
    storm_lines = console_lines_written() - before;
}

static void ubsan_report_storm_printed_a_few_reports_and_the_run_went_on(struct test *t)
{
    need(t, SAN_UBSAN, "UBSan");
    EXPECT_EQ(t, harness_previous_status(1), KTAP_FAIL);
    EXPECT_TRUE(t, storm_lines >= SAN_REPORTS_PER_CASE && storm_lines <= SAN_REPORTS_PER_CASE * REPORT_LINES_MAX + 1,
                "%u reports printed %lu lines (at most %u reports of %u lines each and one line more)", STORM,
                storm_lines, SAN_REPORTS_PER_CASE, REPORT_LINES_MAX);
}

/* ------------------------------------------------------ lock-order checker */

static struct spinlock order_a = SPINLOCK_INIT("sanitizers order A");
static struct spinlock order_b = SPINLOCK_INIT("sanitizers order B");
static struct spinlock try_c = SPINLOCK_INIT("sanitizers trylock C");
static struct spinlock try_d = SPINLOCK_INIT("sanitizers trylock D");

static void take_in_order(struct spinlock *first, struct spinlock *second)
{
    spin_lock(first);
    spin_lock(second);
    spin_unlock(second);
    spin_unlock(first);
}

static void lockdep_reports_two_locks_taken_in_both_orders(struct test *t)
{
    need(t, SAN_LOCKDEP, "the lock-order checker");
    static struct san_capture c;
    arm(t, &c, SAN_LOCKDEP);
    /* The controls: one order, twice; and a trylock, which never waits, so
     * D tried while holding C orders nothing and D then C closes no cycle. */
    take_in_order(&order_a, &order_b);
    take_in_order(&order_a, &order_b);
    spin_lock(&try_c);
    ASSERT_TRUE(t, spin_trylock(&try_d), "trylock of a free lock failed");
    spin_unlock(&try_d);
    spin_unlock(&try_c);
    take_in_order(&try_d, &try_c);
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    take_in_order(&order_b, &order_a);
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "'sanitizers order A' taken while holding 'sanitizers order B', the reverse of "
                       "an order taken before (a possible deadlock)");
}

static struct spinlock irq_safe = SPINLOCK_INIT("sanitizers irq-safe E");
static struct spinlock irq_unsafe = SPINLOCK_INIT("sanitizers irq-unsafe F");
/* The lock the handler takes: set before each software interrupt. */
static struct spinlock *handler_takes;

static void take_in_handler(struct trap_frame *f)
{
    spin_lock(handler_takes);
    spin_unlock(handler_takes);
}

static void interrupt_taking(struct spinlock *l)
{
    handler_takes = l;
    __asm__ volatile("int %0" : : "i"(VEC_TEST) : "memory");
}

static void no_handler(uintptr_t unused) { irq_set_handler(VEC_TEST, NULL); }

static void lockdep_reports_a_lock_taken_with_interrupts_on_and_in_a_handler(struct test *t)
{
    need(t, SAN_LOCKDEP, "the lock-order checker");
    static struct san_capture c;
    arm(t, &c, SAN_LOCKDEP);
    irq_set_handler(VEC_TEST, take_in_handler);
    test_on_exit(t, no_handler, 0);
    /* The control: taken with interrupts off outside the handler. */
    uint64_t flags = spin_lock_irqsave(&irq_safe);
    spin_unlock_irqrestore(&irq_safe, flags);
    interrupt_taking(&irq_safe);
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    ASSERT_TRUE(t, read_rflags() & RFLAGS_IF, "the case runs with interrupts off");
    spin_lock(&irq_unsafe);
    spin_unlock(&irq_unsafe);
    interrupt_taking(&irq_unsafe);
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "'sanitizers irq-unsafe F' is taken in an interrupt handler and, outside one, "
                       "with interrupts on (a possible deadlock)");
}

/* Lock names past any table's room: the checker's class table fills. */
#define NAMES_TRIED 256u
#define NAME_MAX_LEN 32u
static char class_names[NAMES_TRIED][NAME_MAX_LEN];

static void rewind_graph(uintptr_t mark) { lockdep_rewind(*(const struct lockdep_mark *)mark); }

static void lockdep_reports_its_full_class_table_once(struct test *t)
{
    need(t, SAN_LOCKDEP, "the lock-order checker");
    static struct san_capture c;
    static struct lockdep_mark mark;
    mark = lockdep_mark();
    test_on_exit(t, rewind_graph, (uintptr_t)&mark);
    arm(t, &c, SAN_LOCKDEP);
    /* Every name, well past the table's room: one report when it fills,
     * nothing after (the checker is off). */
    for (unsigned n = 0; n < NAMES_TRIED; n++) {
        snprintf(class_names[n], NAME_MAX_LEN, "sanitizers class %u", n);
        struct spinlock l = SPINLOCK_INIT(class_names[n]);
        spin_lock(&l);
        spin_unlock(&l);
    }
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "more than 128 lock names or 256 name addresses: the lock-order checker is off "
                       "from here");
}

/* ------------------------------------------------------------------ KASAN */

#define OBJECT_BYTES 64u
#define READ_WORD    2u   /* the word read after the free: 16 bytes in */

static void kasan_reports_a_use_after_free_of_a_heap_object(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    volatile uint64_t *p = kmalloc(OBJECT_BYTES);
    ASSERT_TRUE(t, p, "out of heap");
    p[READ_WORD] = 1;
    EXPECT_EQ(t, p[READ_WORD], 1); /* the control: live */
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    kfree((void *)p);
    (void)p[READ_WORD];
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "use-after-free: read of 8 bytes at 0x%lx, %u bytes into a freed %u-byte heap "
                       "object", (uint64_t)&p[READ_WORD], READ_WORD * 8, OBJECT_BYTES);
}

/* A ring of 16-byte descriptors, as the invalidation queue's. */
struct slot {
    uint64_t qw[2];
};
#define RING_SLOTS 16u

static void kasan_reports_a_write_one_past_a_ring(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    volatile struct slot *ring = kmalloc(RING_SLOTS * sizeof(struct slot));
    ASSERT_TRUE(t, ring, "out of heap");
    ring[RING_SLOTS - 1].qw[1] = 1; /* the control: the last slot */
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    ring[RING_SLOTS].qw[0] = 1;
    san_capture_disarm();
    kfree((void *)ring);
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "out-of-bounds: write of 8 bytes at 0x%lx, 0 bytes past a %lu-byte heap object",
                       (uint64_t)&ring[RING_SLOTS].qw[0], RING_SLOTS * sizeof(struct slot));
}

/* A kva slot of its own, clear of every other suite's. */
#define VA_FREED_TABLE (KVA_BASE + 200ul * (1ul << 30))

static void unmap_freed_table(uintptr_t unused) { (void)kva_unmap(VA_FREED_TABLE); }

static void kasan_reports_a_read_of_a_freed_page_table_page(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    uint64_t frame = page_alloc();
    ASSERT_TRUE(t, frame, "out of frames");
    ASSERT_EQ(t, kva_map(VA_FREED_TABLE, frame, PT_LEVEL_PT, PTE_NX), 0);
    test_on_exit(t, unmap_freed_table, 0);
    /* The last-level table that maps the page, as a lock-free walker
     * would hold it. */
    const volatile uint64_t *table = phys_to_virt(kernel_pt()->root_pa);
    for (int level = PT_LEVEL_PML4; level > PT_LEVEL_PT; level--) {
        uint64_t e = table[pt_index(VA_FREED_TABLE, level)];
        ASSERT_TRUE(t, pte_present(e), "no table at level %d", level);
        table = phys_to_virt(pte_addr(e));
    }
    unsigned i = pt_index(VA_FREED_TABLE, PT_LEVEL_PT);
    EXPECT_EQ(t, pte_addr(table[i]), frame); /* the control: live */
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    ASSERT_EQ(t, kva_unmap(VA_FREED_TABLE), 0);
    ASSERT_EQ(t, reclaim_drain(), 0);
    (void)table[i];
    san_capture_disarm();
    page_free(frame);
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "use-after-free: read of 8 bytes at 0x%lx in freed frame 0x%lx",
                       (uint64_t)&table[i], virt_to_phys((const void *)table));
}

/* Through a volatile, so the compiler sees neither the index nor the
 * access it makes. */
static volatile unsigned word_index;
#define WORDS 4u

/* A local array with redzones (the compiler's): reads words[word_index],
 * saying where. */
static const volatile uint64_t *stack_word_read;

static __attribute__((noinline)) uint64_t stack_read(void)
{
    uint64_t words[WORDS] = { 1, 2, 3, 4 };
    stack_word_read = &words[word_index];
    return *stack_word_read;
}

static void kasan_reports_a_stack_out_of_bounds(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    word_index = WORDS - 1; /* the control: the last word */
    EXPECT_EQ(t, stack_read(), WORDS);
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    word_index = WORDS;
    (void)stack_read();
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "stack-out-of-bounds: read of 8 bytes at 0x%lx, 0 bytes past the %u-byte 'words' "
                       "in the frame of stack_read", (uint64_t)stack_word_read, WORDS * 8);
}

/* A stack whose shadow could not be mapped is not handed out (mm/mm.c
 * kstack_alloc): the first frame with redzones would write that shadow.
 * Each of kstack_alloc's page allocations fails in turn until a call
 * succeeds; a stack returned has every page of its shadow mapped. Costs
 * at most one stack slot; the failed calls' frames stay with their
 * mappings. */
static void kasan_hands_out_no_stack_without_shadow(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
#ifdef VTDLAB_SAN_KASAN
    const uint64_t size = 64ul << 10;   /* an AP's: its shadow two pages of its own */
    uint64_t top = 0;
    unsigned failed = 0;
    for (unsigned skip = 0; !top && skip < 16; skip++) {
        mm_inject_page_alloc_failure(skip);
        top = kstack_alloc(size);
        int fired = !mm_page_alloc_failure_armed();
        mm_cancel_page_alloc_failure();
        failed += fired && !top;
        if (!top)
            continue;
        for (uint64_t page = KASAN_SHADOW_OF(top - size) & PAGE_MASK; page < KASAN_SHADOW_OF(top); page += PAGE_SIZE) {
            int level;
            ASSERT_TRUE(t, pt_lookup(kernel_pt(), page, &level), "kstack_alloc handed out the stack at 0x%lx "
                        "(allocation %u failed) with its shadow page 0x%lx unmapped", top - size, skip, page);
        }
    }
    ASSERT_TRUE(t, top, "no stack after 16 allocations");
    EXPECT_TRUE(t, failed >= 1, "no injected failure reached kstack_alloc");
#endif
}

/* A frame with redzones that faults (a case's abort, as the harness
 * catches one): its redzones stay below the catcher's stack pointer. */
static __attribute__((noinline)) void redzoned_frame_faults(void)
{
    uint64_t words[WORDS] = { 1, 2, 3, 4 };
    stack_word_read = &words[word_index];
    (void)*stack_word_read;
    (void)*(volatile uint64_t *)VA_NEVER_MAPPED;
}

static void kasan_clears_the_redzones_of_frames_an_abort_abandons(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    word_index = WORDS;
    struct trap_catch tc;
    if (TRAP_CATCH(&tc) == 0) {
        redzoned_frame_faults();
        trap_catch_disarm();
        test_abort_at(t, __FILE__, __LINE__, "the read of 0x%lx did not fault", VA_NEVER_MAPPED);
    }
    /* The control: the redzone was poisoned while its frame lived. */
    ASSERT_EQ(t, READ_ONCE(c.count), 1);
    /* The next frames built there read what was the redzone: */
    (void)*stack_word_read;
    san_capture_disarm();
    EXPECT_TRUE(t, c.count == 1, "a read of the abandoned frame's redzone at 0x%lx was reported: '%s'",
                (uint64_t)stack_word_read, c.text);
}

/* A global with its redzone (registered by this file's constructor). */
static uint64_t global_words[WORDS];
enum { GLOBAL_WORDS_LINE = __LINE__ - 1 };

static __attribute__((noinline)) uint64_t global_read(void)
{
    /* Through a pointer whose object the compiler does not know, so UBSan
     * (which knows the array's bounds) leaves the read to KASAN. */
    const uint64_t *words = global_words;
    __asm__("" : "+r"(words));
    return words[word_index];
}

static void kasan_reports_a_global_out_of_bounds(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    global_words[WORDS - 1] = 1;
    word_index = WORDS - 1; /* the control: the last word */
    EXPECT_EQ(t, global_read(), 1);
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    word_index = WORDS;
    (void)global_read();
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "global-out-of-bounds: read of 8 bytes at 0x%lx, 0 bytes past the %u-byte global "
                       "'global_words' (%s:%d)", (uint64_t)&global_words[WORDS], WORDS * 8, __FILE__,
                       GLOBAL_WORDS_LINE);
}

/* A frame whose description (in its left redzone: the magic, then a
 * pointer to the description) was overwritten, as a stack overrun from
 * below would: the report on its redzone faults reading it. */
#define FRAME_DESCR_WORD 3u /* words below the frame's first variable */

static __attribute__((noinline)) void stack_read_with_a_corrupt_frame(void)
{
    uint64_t words[WORDS] = { 1, 2, 3, 4 };
    uint64_t *below = words;
    __asm__("" : "+r"(below)); /* an overrun UBSan cannot see the bounds of */
    kasan_disable_current();
    below[-(int)FRAME_DESCR_WORD] = VA_NEVER_MAPPED;
    kasan_enable_current();
    stack_word_read = &words[word_index];
    (void)*stack_word_read;
}

static void kasan_report_that_faults_fails_the_case_on_purpose(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    word_index = WORDS;
    stack_read_with_a_corrupt_frame();
}

static void kasan_reports_again_after_a_report_faulted(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    EXPECT_EQ(t, harness_previous_status(1), KTAP_ERROR);
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    word_index = WORDS;
    (void)stack_read();
    san_capture_disarm();
    EXPECT_EQ(t, c.count, 1);
}

#define COPY_PAST 8u

static void free_object(uintptr_t p) { kfree((void *)p); }

static void kasan_reports_a_memcpy_past_a_heap_object(struct test *t)
{
    need(t, SAN_KASAN, "KASAN");
    static struct san_capture c;
    arm(t, &c, SAN_KASAN);
    void *src = kmalloc(OBJECT_BYTES), *dst = kmalloc(2 * OBJECT_BYTES);
    test_on_exit(t, free_object, (uintptr_t)src);
    test_on_exit(t, free_object, (uintptr_t)dst);
    ASSERT_TRUE(t, src && dst, "out of heap");
    memset(src, 1, OBJECT_BYTES);
    memcpy(dst, src, OBJECT_BYTES); /* the control: the whole object */
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    memcpy(dst, src, OBJECT_BYTES + COPY_PAST);
    san_capture_disarm();
    ASSERT_EQ(t, c.count, 1);
    expect_report_text(t, &c, "out-of-bounds: memcpy read of %u bytes at 0x%lx, reaching %u bytes past a %u-byte "
                       "heap object", OBJECT_BYTES + COPY_PAST, (uint64_t)src, COPY_PAST, OBJECT_BYTES);
}

/* ------------------------------------------------------------------ KCSAN */

/* Detection is by sampling: the racing loop goes on until the report came
 * or this long passed. The control runs the same loop marked, for less. */
#define RACE_MS    3000u
#define CONTROL_MS 150u

/* Written by both CPUs: plainly (the race) or with WRITE_ONCE (marked). */
static int racy_word;

static __attribute__((noinline)) void racy_write(int v) { racy_word = v; }
static __attribute__((noinline)) void marked_write(int v) { WRITE_ONCE(racy_word, v); }

static struct spinlock one_side = SPINLOCK_INIT("sanitizers one side");

struct race {
    const struct san_capture *c;
    struct deadline until;
    int marked;
    int locked_part;   /* 1: part 0 writes under one_side, part 1 without */
};

static void race_part(struct test *t, unsigned index, void *arg)
{
    struct race *r = arg;
    int lock = r->locked_part && index == 0;
    while (!deadline_passed(r->until) && !READ_ONCE(r->c->count)) {
        if (lock)
            spin_lock(&one_side);
        if (r->marked)
            marked_write((int)index);
        else
            racy_write((int)index);
        if (lock)
            spin_unlock(&one_side);
    }
}

static void expect_race(struct test *t, int locked_part)
{
    need(t, SAN_KCSAN, "KCSAN");
    static struct san_capture c;
    arm(t, &c, SAN_KCSAN);
    struct race r = { &c, deadline_after_us(CONTROL_MS * US_PER_MS), 1, locked_part };
    test_run_on_cpus(t, 2, race_part, &r);
    EXPECT_EQ(t, READ_ONCE(c.count), 0);
    r = (struct race){ &c, deadline_after_us(RACE_MS * US_PER_MS), 0, locked_part };
    test_run_on_cpus(t, 2, race_part, &r);
    san_capture_disarm();
    ASSERT_TRUE(t, c.count, "no race reported in %u ms of two CPUs writing one word", RACE_MS);
    ASSERT_TRUE(t, load_acquire(&c.ready), "the report's text was not written");
    expect_report_text(t, &c, "data race on 0x%lx: write in racy_write and write in racy_write on another CPU",
                       (uint64_t)&racy_word);
}

static void kcsan_reports_a_word_two_cpus_write_unmarked(struct test *t) { expect_race(t, 0); }

/* A lock only one side takes orders nothing: still a race. */
static void kcsan_reports_a_race_where_one_side_takes_the_lock(struct test *t) { expect_race(t, 1); }

TEST_SUITE(sanitizers, 91, SUITE_EXPLICIT,
           TEST(ubsan_reports_a_shift_past_the_width),
           TEST(ubsan_report_fails_the_case_on_purpose),
           TEST(ubsan_report_failed_the_case_and_the_run_went_on),
           TEST(ubsan_report_storm_fails_the_case_on_purpose),
           TEST(ubsan_report_storm_printed_a_few_reports_and_the_run_went_on),
           TEST(lockdep_reports_two_locks_taken_in_both_orders),
           TEST(lockdep_reports_a_lock_taken_with_interrupts_on_and_in_a_handler),
           TEST(lockdep_reports_its_full_class_table_once),
           TEST(kasan_reports_a_use_after_free_of_a_heap_object),
           TEST(kasan_reports_a_write_one_past_a_ring),
           TEST(kasan_reports_a_read_of_a_freed_page_table_page),
           TEST(kasan_reports_a_stack_out_of_bounds),
           TEST(kasan_hands_out_no_stack_without_shadow),
           TEST(kasan_clears_the_redzones_of_frames_an_abort_abandons),
           TEST(kasan_reports_a_global_out_of_bounds),
           TEST(kasan_reports_a_memcpy_past_a_heap_object),
           TEST(kasan_report_that_faults_fails_the_case_on_purpose),
           TEST(kasan_reports_again_after_a_report_faulted),
           TEST(kcsan_reports_a_word_two_cpus_write_unmarked),
           TEST(kcsan_reports_a_race_where_one_side_takes_the_lock));
