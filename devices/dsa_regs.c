/* DSA's BAR0 and portals through the kernel's MMIO mappings; the host
 * tests replace these with a scripted device. */
#include "dsa.h"
#include "../kernel/x86.h"

#define CPUID_STRUCTURED_FEATURES 7
#define CPUID_ECX_MOVDIR64B       (1u << 28)

uint32_t dsa_read32(struct dsa *d, uint32_t off) { return *(volatile uint32_t *)(d->bar0 + off); }
uint64_t dsa_read64(struct dsa *d, uint32_t off) { return *(volatile uint64_t *)(d->bar0 + off); }
void dsa_write32(struct dsa *d, uint32_t off, uint32_t v) { *(volatile uint32_t *)(d->bar0 + off) = v; }
void dsa_write64(struct dsa *d, uint32_t off, uint64_t v) { *(volatile uint64_t *)(d->bar0 + off) = v; }

int dsa_cpu_can_submit(void)
{
    uint32_t r[4];
    cpuid(CPUID_STRUCTURED_FEATURES, 0, r);
    return (r[2] & CPUID_ECX_MOVDIR64B) != 0;
}

void dsa_portal_write(struct dsa *d, const struct dsa_desc *desc)
{
    volatile void *portal = d->bar2 + (uint64_t)d->wq * DSA_WQ_PORTAL_STRIDE;
    /* The descriptor's own stores (and the record's clearing) must be
     * visible before the device can read them. */
    __asm__ volatile("sfence" ::: "memory");
    __asm__ volatile("movdir64b (%[src]), %[dst]" : : [dst] "r"(portal), [src] "r"(desc) : "memory");
}
