/* Thin wrappers over x86 instructions and the architectural bits the kernel
 * sets (SDM vol. 3). */
#ifndef VTDLAB_X86_H
#define VTDLAB_X86_H

#include <stdint.h>

#define CR0_WP      (1ul << 16)
#define CR4_PAE     (1ul << 5)
#define CR4_PGE     (1ul << 7)
#define CR4_OSFXSR  (1ul << 9)
#define CR4_OSXMMEXCPT (1ul << 10)
#define CR4_LA57    (1ul << 12)
#define MSR_EFER    0xc0000080u
#define EFER_LME    (1ul << 8)
#define EFER_NXE    (1ul << 11)
#define MSR_APIC_BASE 0x1bu
#define RFLAGS_IF   (1ul << 9)

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* CPUID leaf 01H: feature flags (SDM vol. 2A, CPUID). */
#define CPUID_FEATURES 1u
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#define DEFINE_CR(n)                                                                   \
    static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
#define CACHE_LINE_SIZE 64 /* CLFLUSH granularity on every x86-64 CPU this runs on (CPUID.1:EBX[15:8] * 8) */
/* Writes the cache line holding p back to memory and drops it, then waits
 * until that is done: for memory a device reads without snooping. */
static inline void clflush_sync(const void *p)
{
    __asm__ volatile("clflush %0; mfence" : "+m"(*(volatile char *)p) : : "memory");
}
/* Writes back every modified line of every cache level, then invalidates. */
static inline void wbinvd(void) { __asm__ volatile("wbinvd" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline uint64_t read_rflags(void) { uint64_t f; __asm__ volatile("pushfq; pop %0" : "=r"(f)); return f; }
/* Interrupts off on this CPU; what irq_restore needs to put them back as
 * they were (its RFLAGS): the pair nests. */
static inline uint64_t irq_save(void)
{
    uint64_t flags = read_rflags();
    irq_disable();
    return flags;
}
static inline void irq_restore(uint64_t flags)
{
    if (flags & RFLAGS_IF)
        irq_enable();
}
/* Halts until the next interrupt; STI's one-instruction shadow makes the
 * pair atomic, so a wake-up cannot slip in between. */
static inline void wait_for_interrupt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

#endif
