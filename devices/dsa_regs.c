/* DSA's BAR0 through the kernel's MMIO mapping; the host tests replace
 * these four with a scripted device. */
#include "dsa.h"

uint32_t dsa_read32(struct dsa *d, uint32_t off) { return *(volatile uint32_t *)(d->bar0 + off); }
uint64_t dsa_read64(struct dsa *d, uint32_t off) { return *(volatile uint64_t *)(d->bar0 + off); }
void dsa_write32(struct dsa *d, uint32_t off, uint32_t v) { *(volatile uint32_t *)(d->bar0 + off) = v; }
void dsa_write64(struct dsa *d, uint32_t off, uint64_t v) { *(volatile uint64_t *)(d->bar0 + off) = v; }
