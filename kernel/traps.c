/* IDT, exception decoding and dispatch (SDM vol. 3, chapter 6). */
#include <stdint.h>
#include <string.h>
#include "traps.h"
#include "gdt.h"
#include "printk.h"
#include "ap_start.h"
#include "smp.h"
#include "symbols.h"
#include "x86.h"
#include "san/kasan.h"
#include "san/lockdep.h"
#include <stdio.h>

#define IDT_ENTRIES      256
#define GATE_INTERRUPT   (0xeul << 40)
#define GATE_PRESENT     (1ul << 47)
#define BACKTRACE_DEPTH  16
#define SYMBOL_TEXT      96
/* A frame: [rbp] the caller's rbp, [rbp + 8] the return address. */
#define FRAME_ALIGN      8
#define FRAME_RETURN_OFFSET 8

struct idt_gate {
    uint64_t qw[2];
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");

struct idtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));
_Static_assert(sizeof(struct idtr) == 10, "LIDT operand: 16-bit limit, 64-bit base");

static struct idt_gate idt[IDT_ENTRIES];
static irq_handler_t handlers[IDT_ENTRIES];
static exception_hook_t exception_hook;
/* Per CPU: a catch armed on one CPU is for exceptions on that CPU. */
static struct trap_catch *armed_catch[SMP_MAX_CPUS];
extern const uint64_t trap_stub_table[IDT_ENTRIES];

static const char *const exception_names[VEC_EXCEPTIONS] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
    "#MC machine check", "#XM SIMD error", "#VE virtualization",
    "#CP control protection",
};

static void set_gate(int vec, uint64_t handler, int ist)
{
    idt[vec].qw[0] = (handler & 0xffff) | ((uint64_t)KERNEL_CS << 16) | ((uint64_t)ist << 32) |
                     GATE_INTERRUPT | GATE_PRESENT | (((handler >> 16) & 0xffff) << 48);
    idt[vec].qw[1] = handler >> 32;
}

void idt_init(void)
{
    for (int v = 0; v < IDT_ENTRIES; v++)
        set_gate(v, trap_stub_table[v], 0);
    set_gate(VEC_DOUBLE_FAULT, trap_stub_table[VEC_DOUBLE_FAULT], IST_DOUBLE_FAULT);
    set_gate(VEC_NMI, trap_stub_table[VEC_NMI], IST_NMI);
    set_gate(VEC_MACHINE_CHECK, trap_stub_table[VEC_MACHINE_CHECK], IST_MACHINE_CHECK);
    idt_load();
}

void idt_load(void)
{
    struct idtr idtr = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void irq_set_handler(uint8_t vector, irq_handler_t fn)
{
    handlers[vector] = fn;
}

void trap_set_exception_hook(exception_hook_t fn)
{
    exception_hook = fn;
}

void ctx_restore(const struct jmp_ctx *ctx, int value)
{
    kasan_unpoison_stack_below(ctx->rsp);
    ctx_jump(ctx, value);
}

void trap_catch_arm(struct trap_catch *c)
{
    memset(c, 0, sizeof(*c));
    armed_catch[smp_cpu_id()] = c;
}

void trap_catch_disarm(void)
{
    armed_catch[smp_cpu_id()] = NULL;
}

void trap_describe(const struct trap_frame *f, uint64_t cr2, char *buf, size_t size)
{
    const char *name = f->vector < VEC_EXCEPTIONS && exception_names[f->vector] ? exception_names[f->vector]
                                                                               : "interrupt";
    char sym[SYMBOL_TEXT];
    symbol_format(f->rip, sym, sizeof(sym));
    if (f->vector == VEC_PAGE_FAULT) {
        uint32_t e = (uint32_t)f->error;
        snprintf(buf, size, "%s (%s, %s, %s%s%s) at %s address 0x%lx", name,
                  e & PF_P ? "protection" : "not-present", e & PF_W ? "write" : e & PF_I ? "fetch" : "read",
                  e & PF_U ? "user" : "supervisor", e & PF_RSVD ? ", reserved bit" : "",
                  e & PF_I ? ", instruction" : "", sym, cr2);
    } else {
        snprintf(buf, size, "%s (vector %lu, error 0x%lx) at %s", name, f->vector, f->error, sym);
    }
}

/* Stacks outside the image (the APs'), where frames may live too. */
struct stack_range {
    uint64_t lo, hi;
};
static struct stack_range stacks[SMP_MAX_CPUS];
static unsigned nstacks;

void trap_add_stack(uint64_t lo, uint64_t hi)
{
    if (nstacks < SMP_MAX_CPUS)
        stacks[nstacks++] = (struct stack_range){ lo, hi };
}

static int on_a_stack(uint64_t addr)
{
    if (symbol_in_kernel(addr))
        return 1;
    for (unsigned i = 0; i < nstacks; i++)
        if (addr >= stacks[i].lo && addr < stacks[i].hi)
            return 1;
    return 0;
}

void trap_backtrace(uint64_t rbp, const char *prefix, int first)
{
    for (int depth = first; depth < first + BACKTRACE_DEPTH; depth++) {
        /* Frames live on kernel stacks (the image's, the APs'); anything else ends
         * the walk rather than faulting in the middle of a report. */
        if (!rbp || (rbp & (FRAME_ALIGN - 1)) || !on_a_stack(rbp) || !on_a_stack(rbp + FRAME_RETURN_OFFSET))
            break;
        const uint64_t *frame = (const uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (!ret)
            break;
        char sym[SYMBOL_TEXT];
        symbol_format(ret, sym, sizeof(sym));
        printk("%s  #%d %s\n", prefix, depth, sym);
        rbp = frame[0];
    }
}

void backtrace_print(uint64_t rbp)
{
    printk("# backtrace:\n");
    trap_backtrace(rbp, "#", 0);
}

void trap_dump(const struct trap_frame *f, const char *prefix)
{
    printk("%s rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", prefix, f->rax, f->rbx, f->rcx, f->rdx);
    printk("%s rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx\n", prefix, f->rsi, f->rdi, f->rbp, f->rsp);
    printk("%s r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx\n", prefix, f->r8, f->r9, f->r10, f->r11);
    printk("%s r12=%016lx r13=%016lx r14=%016lx r15=%016lx\n", prefix, f->r12, f->r13, f->r14, f->r15);
    printk("%s rip=%016lx rflags=%016lx cr2=%016lx cr3=%016lx\n", prefix, f->rip, f->rflags, read_cr2(), read_cr3());
    char sym[SYMBOL_TEXT];
    symbol_format(f->rip, sym, sizeof(sym));
    printk("%s backtrace:\n%s  #0 %s\n", prefix, prefix, sym);
    trap_backtrace(f->rbp, prefix, 1);
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector >= VEC_EXCEPTIONS) {
        uintptr_t outer = lockdep_irq_enter(f);
        if (handlers[f->vector])
            handlers[f->vector](f);
        lockdep_irq_exit(outer);
        return;
    }
    if (f->vector == VEC_NMI && smp_handle_nmi(f))
        return;
    uint64_t cr2 = read_cr2();
    unsigned cpu = smp_cpu_id();
    if (armed_catch[cpu]) {
        struct trap_catch *c = armed_catch[cpu];
        armed_catch[cpu] = NULL;
        c->vector = f->vector;
        c->error = f->error;
        c->cr2 = cr2;
        c->rip = f->rip;
        ctx_restore(&c->ctx, 1);
    }
    if (smp_this_cpu_booting())
        smp_park_faulted_ap(f);
    if (exception_hook)
        exception_hook(f);
    char what[192];
    trap_describe(f, cr2, what, sizeof(what));
    printk("# vtdlab: unexpected exception: %s\n", what);
    trap_dump(f, "#");
    panic("exception outside any test case");
}
