/* Atomics for memory that several CPUs (or a device) read and write: thin
 * names over the compiler's __atomic builtins, so every shared access says
 * what ordering it needs. x86 is TSO: acquire/release cost nothing beyond
 * keeping the compiler from reordering; seq_cst stores become XCHG. */
#ifndef VTDLAB_LIB_ATOMIC_H
#define VTDLAB_LIB_ATOMIC_H

#include <stdint.h>

/* One load or store of the whole object, never torn or merged. */
#define READ_ONCE(x)      __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define load_acquire(p)   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#define atomic_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define atomic_add(p, v)       ((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#define atomic_sub(p, v)       ((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#define atomic_xchg(p, v)      __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
/* Stores desired in *p if it held expected; true on success. */
#define atomic_cmpxchg(p, expected, desired)                                              \
    ({                                                                                   \
        __typeof__(*(p)) _exp = (expected);                                              \
        __atomic_compare_exchange_n((p), &_exp, (desired), 0, __ATOMIC_SEQ_CST,          \
                                    __ATOMIC_SEQ_CST);                                   \
    })

/* A full barrier: stores before it are visible before loads after it. */
static inline void smp_mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
/* A compiler barrier: nothing moves across it. */
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

#endif
