/* KCSAN-style data-race detection (issue 24 item 3; docs/sanitizers.md):
 * gcc's -fsanitize=thread calls __tsan_read<N>/__tsan_write<N> before
 * every plain access, __tsan_volatile_* before volatile ones and
 * __tsan_atomic* in place of the __atomic builtins. This runtime keeps no
 * history (ThreadSanitizer's own does); like Linux's KCSAN it samples:
 *
 * - one plain access in SAMPLE_EVERY sets this CPU's soft watchpoint on
 *   its bytes, reads the value, stalls STALL_US and reads it again;
 * - every access on any CPU first checks the watchpoints of the others:
 *   an overlapping access where either side writes is a race, reported
 *   by the watcher with both sides;
 * - a watched read whose value changed with no access seen changed under
 *   a writer this runtime cannot see (an uninstrumented one): reported
 *   too, with the watcher's side only.
 *
 * Marked accesses (READ_ONCE, WRITE_ONCE, every __atomic builtin) and
 * volatile ones (MMIO, registers, what the device writes) never set a
 * watchpoint, as in Linux; they still hit a plain access's watchpoint.
 * Plain accesses under a lock are plain: a race where one side takes the
 * lock and the other does not is reported. (The smp suite's negative
 * control, a counter incremented without the lock, races on a volatile
 * counter: marked, so not reported, and nothing needs annotating.)
 *
 * Never instrumented (Makefile: SAN_EXEMPT). */
#include <stdio.h>
#include <string.h>
#include "san.h"
#include "../clock.h"
#include "../smp.h"
#include "../symbols.h"
#include "../x86.h"
#include "../../lib/atomic.h"

/* Plain accesses between two watched ones, per CPU. */
#define SAMPLE_EVERY 257u
/* How long a watched access waits for another CPU (parallel vCPUs: a few
 * thousand of its instructions). */
#define STALL_US     20u
#define SYM_MAX      96
#define DETAIL_MAX   320

/* A watchpoint's claim word: its generation in the upper half (odd while
 * it watches; even while its CPU sets it up and after it closed it, 0
 * before its first watch) and the
 * state of a hit in the lower half. A hit is claimed by compare-exchange
 * on the whole word, so it lands in the generation whose address the
 * hitting CPU matched, never in the next one its CPU set up meanwhile. */
#define CLAIM_GEN_SHIFT 32
#define CLAIM_STATE_MASK 0xffffffffull
enum { CLAIM_NONE, CLAIM_RECORDING, CLAIM_HIT };

static inline uint64_t claim_of(uint64_t gen, uint64_t state) { return gen << CLAIM_GEN_SHIFT | state; }
static inline uint64_t claim_gen(uint64_t c) { return c >> CLAIM_GEN_SHIFT; }
static inline uint64_t claim_state(uint64_t c) { return c & CLAIM_STATE_MASK; }

struct watchpoint {
    uintptr_t addr;
    size_t size;
    int write;
    uint64_t claim;
    unsigned other_cpu;
    int other_write;
    uintptr_t other_pc;
};

/* Per CPU, written by its CPU; the other_* fields by the CPU that claimed
 * the hit, once. */
static struct watchpoint watch[SMP_MAX_CPUS];
/* Watchpoints armed now, so an access with none to check stays cheap. */
static unsigned armed;
static unsigned countdown[SMP_MAX_CPUS];
static int ready;

/* The instrumentation's module constructor (linker.ld: .init_array, run
 * by kmain): once it ran, the CPUs' ids are set up and watching begins. */
void __tsan_init(void);
void __tsan_init(void) { store_release(&ready, 1); }

static int overlap(const struct watchpoint *w, uintptr_t a, size_t size)
{
    return a < w->addr + w->size && w->addr < a + size;
}

/* Another CPU's watchpoint this access conflicts with: recorded in it. */
static void check_watchpoints(unsigned me, uintptr_t a, size_t size, int write, uintptr_t pc)
{
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++) {
        struct watchpoint *w = &watch[c];
        uint64_t seen = load_acquire(&w->claim);
        if (c == me || claim_gen(seen) % 2 == 0 || claim_state(seen) != CLAIM_NONE)
            continue;
        /* Read after the claim word, so they are of generation seen or of
         * a later one, whose claim word no longer equals seen. */
        int hit = overlap(w, a, size) && (write || READ_ONCE(w->write));
        if (hit && atomic_cmpxchg(&w->claim, seen, claim_of(claim_gen(seen), CLAIM_RECORDING))) {
            w->other_cpu = me;
            w->other_write = write;
            w->other_pc = pc;
            store_release(&w->claim, claim_of(claim_gen(seen), CLAIM_HIT));
        }
    }
}

static uint64_t value_of(uintptr_t a, size_t size)
{
    uint64_t v = 0;
    memcpy(&v, (const void *)a, size < sizeof(v) ? size : sizeof(v));
    return v;
}

static void function_of(uintptr_t pc, char *buf, size_t size)
{
    symbol_format(pc, buf, size);
    char *plus = strchr(buf, '+');
    if (plus)
        *plus = 0;
}

/* Not inlined: its caller's frame is the __tsan_ entry point's, whose
 * caller the backtrace starts at. */
static __attribute__((noinline)) void watch_here(unsigned me, uintptr_t a, size_t size, int write, uintptr_t pc)
{
    struct watchpoint *w = &watch[me];
    /* Closed (even) since the last watch: set it up, then open the next,
     * odd, generation. */
    uint64_t gen = claim_gen(w->claim) + 1;
    WRITE_ONCE(w->addr, a);
    WRITE_ONCE(w->size, size);
    WRITE_ONCE(w->write, write);
    store_release(&w->claim, claim_of(gen, CLAIM_NONE));
    atomic_add(&armed, 1);
    /* The watchpoint visible before the first read: pairs with the other
     * CPU's check before its access. */
    smp_mb();
    uint64_t before = value_of(a, size);
    struct deadline d = deadline_after_us(STALL_US);
    while (!deadline_passed(d) && claim_state(load_acquire(&w->claim)) == CLAIM_NONE)
        cpu_relax();
    uint64_t after = value_of(a, size);
    /* Close the generation; a hit being recorded finishes first. */
    uint64_t c;
    do {
        c = load_acquire(&w->claim);
        if (claim_state(c) == CLAIM_RECORDING) {
            cpu_relax();
            continue;
        }
    } while (claim_state(c) == CLAIM_RECORDING || !atomic_cmpxchg(&w->claim, c, claim_of(gen + 1, claim_state(c))));
    atomic_sub(&armed, 1);
    int hit = claim_state(c) == CLAIM_HIT;
    if (!hit && (write || before == after))
        return;
    char mine[SYM_MAX], other[SYM_MAX], summary[SAN_TEXT_MAX], detail[DETAIL_MAX];
    function_of(pc, mine, sizeof(mine));
    if (hit) {
        function_of(w->other_pc, other, sizeof(other));
        snprintf(summary, sizeof(summary), "data race on 0x%lx: %s in %s and %s in %s on another CPU", a,
                 write ? "write" : "read", mine, w->other_write ? "write" : "read", other);
        char a1[SYM_MAX], a2[SYM_MAX];
        symbol_format(pc, a1, sizeof(a1));
        symbol_format(w->other_pc, a2, sizeof(a2));
        snprintf(detail, sizeof(detail), "cpu %u: %s of %zu bytes at %s\ncpu %u: %s at %s", me,
                 write ? "write" : "read", size, a1, w->other_cpu, w->other_write ? "write" : "read", a2);
    } else {
        snprintf(summary, sizeof(summary), "data race on 0x%lx: the value changed under a read in %s, by a "
                 "writer not seen", a, mine);
        char a1[SYM_MAX];
        symbol_format(pc, a1, sizeof(a1));
        snprintf(detail, sizeof(detail), "cpu %u: read of %zu bytes at %s: 0x%lx, then 0x%lx", me, size, a1,
                 before, after);
    }
    const uint64_t *frame = __builtin_frame_address(0);
    san_report(SAN_KCSAN, summary, detail, frame[0]);
}

static inline void access(uintptr_t a, size_t size, int write, int marked, uintptr_t pc)
{
    if (!READ_ONCE(ready))
        return;
    unsigned me = smp_cpu_id();
    if (READ_ONCE(armed))
        check_watchpoints(me, a, size, write, pc);
    if (marked || ++countdown[me] < SAMPLE_EVERY)
        return;
    countdown[me] = 0;
    watch_here(me, a, size, write, pc);
}

#define PC ((uintptr_t)__builtin_return_address(0))

/* Plain, unaligned and volatile accesses of each size. */
#define ACCESSES(n)                                                                             \
    void __tsan_read##n(uintptr_t a);                                                           \
    void __tsan_read##n(uintptr_t a) { access(a, n, 0, 0, PC); }                                \
    void __tsan_write##n(uintptr_t a);                                                          \
    void __tsan_write##n(uintptr_t a) { access(a, n, 1, 0, PC); }                               \
    void __tsan_unaligned_read##n(uintptr_t a);                                                 \
    void __tsan_unaligned_read##n(uintptr_t a) { access(a, n, 0, 0, PC); }                      \
    void __tsan_unaligned_write##n(uintptr_t a);                                                \
    void __tsan_unaligned_write##n(uintptr_t a) { access(a, n, 1, 0, PC); }                     \
    void __tsan_volatile_read##n(uintptr_t a);                                                  \
    void __tsan_volatile_read##n(uintptr_t a) { access(a, n, 0, 1, PC); }                       \
    void __tsan_volatile_write##n(uintptr_t a);                                                 \
    void __tsan_volatile_write##n(uintptr_t a) { access(a, n, 1, 1, PC); }                      \
    void __tsan_unaligned_volatile_read##n(uintptr_t a);                                        \
    void __tsan_unaligned_volatile_read##n(uintptr_t a) { access(a, n, 0, 1, PC); }             \
    void __tsan_unaligned_volatile_write##n(uintptr_t a);                                       \
    void __tsan_unaligned_volatile_write##n(uintptr_t a) { access(a, n, 1, 1, PC); }
ACCESSES(1)
ACCESSES(2)
ACCESSES(4)
ACCESSES(8)
ACCESSES(16)

void __tsan_read_range(uintptr_t a, size_t size);
void __tsan_read_range(uintptr_t a, size_t size) { access(a, size, 0, 0, PC); }
void __tsan_write_range(uintptr_t a, size_t size);
void __tsan_write_range(uintptr_t a, size_t size) { access(a, size, 1, 0, PC); }

/* Atomics: marked accesses, done for real (always sequentially
 * consistent: at least as strong as what was asked). */
#define SEQ __ATOMIC_SEQ_CST
#define ATOMICS(bits)                                                                                       \
    typedef uint##bits##_t a##bits;                                                                         \
    a##bits __tsan_atomic##bits##_load(const volatile a##bits *p, int mo);                                 \
    a##bits __tsan_atomic##bits##_load(const volatile a##bits *p, int mo)                                  \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 0, 1, PC);                                                           \
        return __atomic_load_n(p, SEQ);                                                                     \
    }                                                                                                       \
    void __tsan_atomic##bits##_store(volatile a##bits *p, a##bits v, int mo);                              \
    void __tsan_atomic##bits##_store(volatile a##bits *p, a##bits v, int mo)                               \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 1, 1, PC);                                                           \
        __atomic_store_n(p, v, SEQ);                                                                        \
    }                                                                                                       \
    ATOMIC_RMW(bits, exchange_n) ATOMIC_RMW(bits, fetch_add) ATOMIC_RMW(bits, fetch_sub)                      \
    ATOMIC_RMW(bits, fetch_and) ATOMIC_RMW(bits, fetch_or) ATOMIC_RMW(bits, fetch_xor)                      \
    ATOMIC_RMW(bits, fetch_nand)                                                                            \
    int __tsan_atomic##bits##_compare_exchange_strong(volatile a##bits *p, a##bits *e, a##bits v, int mo,  \
                                                      int fmo);                                             \
    int __tsan_atomic##bits##_compare_exchange_strong(volatile a##bits *p, a##bits *e, a##bits v, int mo,  \
                                                      int fmo)                                              \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 1, 1, PC);                                                           \
        return __atomic_compare_exchange_n(p, e, v, 0, SEQ, SEQ);                                           \
    }                                                                                                       \
    int __tsan_atomic##bits##_compare_exchange_weak(volatile a##bits *p, a##bits *e, a##bits v, int mo,    \
                                                    int fmo);                                               \
    int __tsan_atomic##bits##_compare_exchange_weak(volatile a##bits *p, a##bits *e, a##bits v, int mo,    \
                                                    int fmo)                                                \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 1, 1, PC);                                                           \
        return __atomic_compare_exchange_n(p, e, v, 0, SEQ, SEQ);                                           \
    }                                                                                                       \
    a##bits __tsan_atomic##bits##_compare_exchange_val(volatile a##bits *p, a##bits e, a##bits v, int mo,  \
                                                       int fmo);                                            \
    a##bits __tsan_atomic##bits##_compare_exchange_val(volatile a##bits *p, a##bits e, a##bits v, int mo,  \
                                                       int fmo)                                             \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 1, 1, PC);                                                           \
        __atomic_compare_exchange_n(p, &e, v, 0, SEQ, SEQ);                                                 \
        return e;                                                                                           \
    }
#define ATOMIC_RMW(bits, op)                                                                                \
    a##bits TSAN_NAME(bits, op)(volatile a##bits *p, a##bits v, int mo);                                  \
    a##bits TSAN_NAME(bits, op)(volatile a##bits *p, a##bits v, int mo)                                   \
    {                                                                                                       \
        access((uintptr_t)p, bits / 8, 1, 1, PC);                                                           \
        return __atomic_##op(p, v, SEQ);                                                                    \
    }
/* The builtin is __atomic_exchange_n; the entry point __tsan_atomic<N>_exchange. */
#define TSAN_NAME(bits, op) TSAN_NAME_##op(bits)
#define TSAN_NAME_exchange_n(bits) __tsan_atomic##bits##_exchange
#define TSAN_NAME_fetch_add(bits)  __tsan_atomic##bits##_fetch_add
#define TSAN_NAME_fetch_sub(bits)  __tsan_atomic##bits##_fetch_sub
#define TSAN_NAME_fetch_and(bits)  __tsan_atomic##bits##_fetch_and
#define TSAN_NAME_fetch_or(bits)   __tsan_atomic##bits##_fetch_or
#define TSAN_NAME_fetch_xor(bits)  __tsan_atomic##bits##_fetch_xor
#define TSAN_NAME_fetch_nand(bits) __tsan_atomic##bits##_fetch_nand
ATOMICS(8)
ATOMICS(16)
ATOMICS(32)
ATOMICS(64)

void __tsan_atomic_thread_fence(int mo);
void __tsan_atomic_thread_fence(int mo) { __atomic_thread_fence(SEQ); }
void __tsan_atomic_signal_fence(int mo);
void __tsan_atomic_signal_fence(int mo) { __atomic_signal_fence(SEQ); }
