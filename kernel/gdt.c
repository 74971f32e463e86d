/* GDT with one 64-bit code and data segment and a TSS whose IST stacks let
 * #DF, NMI and #MC run on a known-good stack whatever state the kernel
 * stack is in (SDM vol. 3, 7.7 and 6.14.5). */
#include <stdint.h>
#include <string.h>
#include "gdt.h"
#include "smp.h"

#define IST_STACK_SIZE 16384

/* Segment descriptor bits (SDM vol. 3, 3.4.5). */
#define SEG_ACCESSED  (1ul << 40)
#define SEG_RW        (1ul << 41)
#define SEG_CODE      (1ul << 43)
#define SEG_S         (1ul << 44)
#define SEG_PRESENT   (1ul << 47)
#define SEG_LONG      (1ul << 53)
#define SEG_TSS_AVAIL (9ul << 40)

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS");

struct gdtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));
_Static_assert(sizeof(struct gdtr) == 10, "LGDT operand: 16-bit limit, 64-bit base");

enum { GDT_NULL, GDT_CODE, GDT_DATA, GDT_TSS_LO, GDT_TSS_HI, GDT_ENTRIES };
#define SELECTOR(index) ((uint16_t)((index) * sizeof(uint64_t)))

_Static_assert(KERNEL_CS == SELECTOR(GDT_CODE) && KERNEL_DS == SELECTOR(GDT_DATA), "selectors");
_Static_assert(GDT_BOOT_DESCRIPTORS == GDT_TSS_LO, "the trampoline's GDT is the first entries");

/* Each CPU has its own TSS (its IST stacks), hence its own GDT. */
struct cpu_gdt {
    uint64_t gdt[GDT_ENTRIES];
    struct tss tss;
};
static struct cpu_gdt gdts[SMP_MAX_CPUS];
static uint8_t ist_stacks[IST_COUNT][IST_STACK_SIZE] __attribute__((aligned(16)));

void gdt_load(const struct gdtr *gdtr, uint16_t code, uint16_t data, uint16_t tss_sel);

#define CODE_DESCRIPTOR (SEG_PRESENT | SEG_S | SEG_CODE | SEG_RW | SEG_ACCESSED | SEG_LONG)
#define DATA_DESCRIPTOR (SEG_PRESENT | SEG_S | SEG_RW | SEG_ACCESSED)

void gdt_boot_descriptors(uint64_t out[GDT_BOOT_DESCRIPTORS])
{
    out[GDT_NULL] = 0;
    out[GDT_CODE] = CODE_DESCRIPTOR;
    out[GDT_DATA] = DATA_DESCRIPTOR;
}

void gdt_init_cpu(unsigned cpu, const uint64_t ist_top[IST_COUNT])
{
    struct cpu_gdt *g = &gdts[cpu];
    uint64_t *gdt = g->gdt;
    struct tss *tss = &g->tss;
    gdt_boot_descriptors(gdt);
    memset(tss, 0, sizeof(*tss));
    for (int i = 0; i < IST_COUNT; i++)
        tss->ist[i] = ist_top[i];
    tss->iomap_base = sizeof(*tss); /* no I/O permission bitmap */
    uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;
    gdt[GDT_TSS_LO] = (limit & 0xffff) | ((base & 0xffffff) << 16) | SEG_TSS_AVAIL | SEG_PRESENT |
                      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[GDT_TSS_HI] = base >> 32;

    struct gdtr gdtr = { sizeof(g->gdt) - 1, (uint64_t)gdt };
    gdt_load(&gdtr, SELECTOR(GDT_CODE), SELECTOR(GDT_DATA), SELECTOR(GDT_TSS_LO));
}

void gdt_init(void)
{
    uint64_t tops[IST_COUNT];
    for (int i = 0; i < IST_COUNT; i++)
        tops[i] = (uint64_t)&ist_stacks[i][IST_STACK_SIZE];
    gdt_init_cpu(SMP_BOOT_CPU, tops);
}
