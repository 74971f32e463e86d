/* The lock-order checker (issue 24 item 4; docs/sanitizers.md): the order
 * locks are taken in across the run, as a graph over lock classes (a class
 * is a lock name: the per-CPU locks that share one are one class), and how
 * each class is used with interrupts. Two findings, each reported once per
 * run through san_report, whether or not the run ever deadlocked:
 *
 * - a cycle: a lock taken while holding another, when the reverse order
 *   (directly or through other locks) was seen before. Two CPUs taking the
 *   two orders at once would each wait for the other.
 * - a class taken inside an interrupt handler and also, outside one, with
 *   interrupts on: the interrupt can arrive while its own CPU holds it.
 *
 * A trylock never waits, so it adds no edge from the locks held (it cannot
 * close a cycle) and, inside a handler, is no interrupt use; once taken it
 * is held like any other, so it counts as use with interrupts on and later
 * locks are ordered after it. The report names both sides with the code
 * that took each (the first caller outside the lock functions).
 *
 * Never instrumented (Makefile: SAN_EXEMPT). */
#include <string.h>
#include <stdio.h>
#include "lockdep.h"
#include "san.h"
#include "../clock.h"
#include "../lock.h"
#include "../smp.h"
#include "../symbols.h"
#include "../x86.h"
#include "../../lib/atomic.h"

/* Distinct lock names; the kernel has ~20 (plus the tests'). */
#define LOCKDEP_CLASSES   128
#define CLASS_WORDS       (LOCKDEP_CLASSES / 64)
/* Distinct orders seen (pairs of classes). */
#define LOCKDEP_EDGES     512
/* The name -> class cache, open addressing over the name's address. */
#define NAME_SLOTS        256
/* Return addresses kept per site: the lock functions' own frames, then
 * their caller. */
#define SITE_FRAMES       4
/* A frame pointer further than this above the current one is not on this
 * CPU's stack (stacks are 64 KiB). */
#define STACK_SPAN        (64u * 1024)
/* How long a CPU waits for another to finish updating the graph (a few
 * hundred instructions) before it calls the checker wedged. */
#define GRAPH_WAIT_US     100000u
#define SYM_MAX           96
#define DETAIL_MAX        640

struct site {
    uint64_t ret[SITE_FRAMES];
};

struct lock_class {
    const char *name;
    struct site in_irq, irqs_on;   /* the first such use */
    int in_irq_seen, irqs_on_seen, irq_reported;
};

struct edge {
    uint8_t from, to;              /* to was taken while holding from */
    struct site site;
};

/* graph_owner (CPU + 1, 0 when free) owns classes, edges and the slots;
 * taken with interrupts off. after[] and the slots are also read without
 * it: their words are written whole, a slot's class before its name. */
static int32_t graph_owner;
static struct lock_class classes[LOCKDEP_CLASSES];
static unsigned nclasses;
static uint64_t after[LOCKDEP_CLASSES][CLASS_WORDS];
static struct edge edges[LOCKDEP_EDGES];
static unsigned nedges;
static struct {
    const char *name;
    unsigned cls;
} slots[NAME_SLOTS];
/* Set once, when a table filled or the graph lock wedged: one report, and
 * the checker stops rather than reporting half-seen orders. */
static int off;

/* Per CPU, written by that CPU: the trap frame of the interrupt it is
 * handling, 0 outside one. A handler a case's end abandoned (the timer's
 * deadline) leaves it set; its stack has unwound past it, so code found
 * above the frame is not inside the handler, and each case starts clean. */
static uintptr_t irq_frame[SMP_MAX_CPUS];

uintptr_t lockdep_irq_enter(const void *frame)
{
    unsigned cpu = smp_cpu_id();
    uintptr_t outer = irq_frame[cpu];
    WRITE_ONCE(irq_frame[cpu], (uintptr_t)frame);
    return outer;
}

void lockdep_irq_exit(uintptr_t outer) { WRITE_ONCE(irq_frame[smp_cpu_id()], outer); }

void lockdep_case_start(void)
{
    for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
        WRITE_ONCE(irq_frame[c], 0);
}

static int in_irq(unsigned cpu)
{
    uintptr_t f = READ_ONCE(irq_frame[cpu]);
    return f && (uintptr_t)__builtin_frame_address(0) < f;
}

static void site_here(struct site *s)
{
    const uint64_t *rbp = __builtin_frame_address(0);
    uintptr_t here = (uintptr_t)rbp;
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < SITE_FRAMES; i++) {
        uintptr_t next = (uintptr_t)rbp[0];
        s->ret[i] = rbp[1];
        if (!next || (next & 7) || next <= (uintptr_t)rbp || next - here > STACK_SPAN)
            break;
        rbp = (const uint64_t *)next;
    }
}

/* The first frame outside the lock functions and this file. */
static void site_format(const struct site *s, char *buf, size_t size)
{
    snprintf(buf, size, "?");
    for (unsigned i = 0; i < SITE_FRAMES && s->ret[i]; i++) {
        symbol_format(s->ret[i], buf, size);
        if (strncmp(buf, "spin_", 5) && strncmp(buf, "lockdep_", 8) && strncmp(buf, "site_here", 9))
            return;
    }
}

static int graph_lock(uint64_t *flags)
{
    int32_t me = (int32_t)smp_cpu_id() + 1;
    *flags = read_rflags();
    irq_disable();
    /* An NMI that takes a lock while this CPU updates the graph: skip it. */
    if (READ_ONCE(graph_owner) == me)
        goto leave;
    struct deadline d = deadline_after_us(GRAPH_WAIT_US);
    int32_t owner = 0;
    while ((owner = READ_ONCE(graph_owner)) || !atomic_cmpxchg(&graph_owner, 0, me)) {
        if (deadline_passed(d))
            goto wedged;
        cpu_relax();
    }
    return 1;
wedged:
    /* Its owner was stopped inside (an NMI recall): nothing it left can be
     * trusted, and waiting on would hang every lock. */
    if (*flags & RFLAGS_IF)
        irq_enable();
    if (!atomic_xchg(&off, 1)) {
        char summary[SAN_TEXT_MAX];
        snprintf(summary, sizeof(summary), "the lock-order graph stayed taken by cpu %d for %u us: the "
                 "lock-order checker is off from here", (int)owner - 1, GRAPH_WAIT_US);
        san_report(SAN_LOCKDEP, summary, NULL, (uint64_t)__builtin_frame_address(0));
    }
    return 0;
leave:
    if (*flags & RFLAGS_IF)
        irq_enable();
    return 0;
}

static void graph_unlock(uint64_t flags)
{
    store_release(&graph_owner, 0);
    if (flags & RFLAGS_IF)
        irq_enable();
}

static unsigned name_slot(const char *name)
{
    return (unsigned)((((uintptr_t)name >> 3) * 0x9e3779b97f4a7c15ull) >> 56) % NAME_SLOTS;
}

/* The class of l's name, LOCKDEP_CLASSES when the tables are full. */
static unsigned class_of(const struct spinlock *l, char *full, size_t size)
{
    const char *name = l->name ? l->name : "(unnamed)";
    unsigned i = name_slot(name);
    for (unsigned n = 0; n < NAME_SLOTS; n++, i = (i + 1) % NAME_SLOTS) {
        const char *seen = load_acquire(&slots[i].name);
        if (seen == name)
            return slots[i].cls;
        if (!seen)
            break;
    }
    uint64_t flags;
    if (!graph_lock(&flags))
        return LOCKDEP_CLASSES;
    unsigned cls = 0;
    while (cls < nclasses && strcmp(classes[cls].name, name))
        cls++;
    if (cls == nclasses && nclasses < LOCKDEP_CLASSES)
        classes[nclasses++].name = name;
    i = name_slot(name);
    unsigned n = 0;
    for (; n < NAME_SLOTS; n++, i = (i + 1) % NAME_SLOTS)
        if (!slots[i].name || slots[i].name == name)
            break;
    if (cls < LOCKDEP_CLASSES && n < NAME_SLOTS && !slots[i].name) {
        slots[i].cls = cls;
        store_release(&slots[i].name, name);
    }
    graph_unlock(flags);
    if (cls == LOCKDEP_CLASSES || n == NAME_SLOTS)
        snprintf(full, size, "more than %u lock names or %u name addresses: the lock-order checker is off "
                 "from here", LOCKDEP_CLASSES, NAME_SLOTS);
    return cls;
}

static int ordered(unsigned from, unsigned to)
{
    return (READ_ONCE(after[from][to / 64]) >> (to % 64)) & 1;
}

/* Under the graph lock: whether to already reaches from (it was taken
 * before from, directly or through others); prev[] then leads back along
 * the path from `from` to `to`. */
static int reaches(unsigned to, unsigned from, uint8_t prev[LOCKDEP_CLASSES])
{
    uint64_t seen[CLASS_WORDS] = { 0 };
    uint8_t stack[LOCKDEP_CLASSES];
    unsigned top = 0;
    stack[top++] = (uint8_t)to;
    seen[to / 64] |= 1ull << (to % 64);
    while (top) {
        unsigned c = stack[--top];
        if (c == from)
            return 1;
        for (unsigned n = 0; n < nclasses; n++)
            if (ordered(c, n) && !(seen[n / 64] >> (n % 64) & 1)) {
                seen[n / 64] |= 1ull << (n % 64);
                prev[n] = (uint8_t)c;
                stack[top++] = (uint8_t)n;
            }
    }
    return 0;
}

static const struct site *edge_site(unsigned from, unsigned to)
{
    for (unsigned i = 0; i < nedges; i++)
        if (edges[i].from == from && edges[i].to == to)
            return &edges[i].site;
    return NULL;
}

/* Under the graph lock: records from -> to, or writes the cycle it would
 * close into summary and detail (returns 1). */
static int add_order(unsigned from, unsigned to, const struct site *here, char *summary, char *detail)
{
    if (ordered(from, to))
        return 0;
    uint8_t prev[LOCKDEP_CLASSES];
    int cycle = reaches(to, from, prev);
    if (cycle) {
        char sym[SYM_MAX];
        site_format(here, sym, sizeof(sym));
        snprintf(summary, SAN_TEXT_MAX, "'%s' taken while holding '%s', the reverse of an order taken before "
                 "(a possible deadlock)", classes[to].name, classes[from].name);
        size_t len = (size_t)snprintf(detail, DETAIL_MAX, "now: '%s' then '%s' at %s", classes[from].name,
                                      classes[to].name, sym);
        /* The path to ... from, walked back from its end. */
        for (unsigned c = from; c != to && len < DETAIL_MAX; c = prev[c]) {
            const struct site *s = edge_site(prev[c], c);
            if (s)
                site_format(s, sym, sizeof(sym));
            len += (size_t)snprintf(detail + len, DETAIL_MAX - len, "\nbefore: '%s' then '%s' at %s",
                                    classes[prev[c]].name, classes[c].name, s ? sym : "?");
        }
    }
    /* Recorded even when it closes a cycle: that pair is reported once. */
    if (nedges == LOCKDEP_EDGES) {
        if (!cycle)
            snprintf(summary, SAN_TEXT_MAX, "more than %u lock orders: the lock-order checker is off from here",
                     LOCKDEP_EDGES);
        WRITE_ONCE(off, 1);
        return 1;
    }
    edges[nedges++] = (struct edge){ (uint8_t)from, (uint8_t)to, *here };
    __atomic_fetch_or(&after[from][to / 64], 1ull << (to % 64), __ATOMIC_RELEASE);
    return cycle;
}

/* Under the graph lock: the class's interrupt use; 1 with a report. */
static int mark_irq_use(unsigned cls, int irq, const struct site *here, char *summary, char *detail)
{
    struct lock_class *c = &classes[cls];
    if (irq && !c->in_irq_seen) {
        c->in_irq = *here;
        WRITE_ONCE(c->in_irq_seen, 1);
    } else if (!irq && !c->irqs_on_seen) {
        c->irqs_on = *here;
        WRITE_ONCE(c->irqs_on_seen, 1);
    } else {
        return 0;
    }
    if (!c->in_irq_seen || !c->irqs_on_seen || c->irq_reported)
        return 0;
    c->irq_reported = 1;
    char a[SYM_MAX], b[SYM_MAX];
    site_format(&c->in_irq, a, sizeof(a));
    site_format(&c->irqs_on, b, sizeof(b));
    snprintf(summary, SAN_TEXT_MAX, "'%s' is taken in an interrupt handler and, outside one, with interrupts "
             "on (a possible deadlock)", c->name);
    snprintf(detail, DETAIL_MAX, "in an interrupt handler at %s\nwith interrupts on at %s", a, b);
    return 1;
}

void lockdep_acquire(const struct spinlock *l, const struct spinlock *const *held, unsigned nheld, int trylock)
{
    if (READ_ONCE(off))
        return;
    char summary[SAN_TEXT_MAX] = "", detail[DETAIL_MAX] = "";
    unsigned cpu = smp_cpu_id(), cls = class_of(l, summary, sizeof(summary));
    if (cls == LOCKDEP_CLASSES) {
        if (summary[0] && !atomic_xchg(&off, 1))
            san_report(SAN_LOCKDEP, summary, NULL, (uint64_t)__builtin_frame_address(0));
        return;
    }
    int irq = in_irq(cpu), irqs_on = (read_rflags() & RFLAGS_IF) != 0;
    /* What is new: an order not seen, a first use of its kind. */
    int new_order = 0, new_use;
    unsigned from[LOCKS_HELD_MAX], n = 0;
    for (unsigned i = 0; !trylock && i < nheld && i < LOCKS_HELD_MAX; i++) {
        if (READ_ONCE(held[i]->owner) != (int32_t)cpu)
            continue; /* left over from a wait that gave up */
        from[n] = class_of(held[i], summary, sizeof(summary));
        if (from[n] == LOCKDEP_CLASSES)
            return;
        new_order |= !ordered(from[n], cls);
        n++;
    }
    struct lock_class *c = &classes[cls];
    int use = irq ? !trylock : irqs_on;  /* a trylock in a handler never waits */
    new_use = use && !(irq ? READ_ONCE(c->in_irq_seen) : READ_ONCE(c->irqs_on_seen));
    if (!new_order && !new_use)
        return;
    struct site here;
    site_here(&here);
    uint64_t flags;
    if (!graph_lock(&flags))
        return;
    int report = 0;
    for (unsigned i = 0; i < n && !report; i++)
        report = add_order(from[i], cls, &here, summary, detail);
    if (!report && use)
        report = mark_irq_use(cls, irq, &here, summary, detail);
    graph_unlock(flags);
    if (report)
        san_report(SAN_LOCKDEP, summary, detail, (uint64_t)__builtin_frame_address(0));
}

struct lockdep_mark lockdep_mark(void)
{
    uint64_t flags;
    struct lockdep_mark m = { 0, 0 };
    if (graph_lock(&flags)) {
        m = (struct lockdep_mark){ nclasses, nedges };
        graph_unlock(flags);
    }
    return m;
}

void lockdep_rewind(struct lockdep_mark m)
{
    uint64_t flags;
    if (!graph_lock(&flags))
        return;
    for (unsigned c = m.classes; c < nclasses; c++)
        classes[c] = (struct lock_class){ 0 };
    nclasses = m.classes;
    nedges = m.edges;
    memset(after, 0, sizeof(after));
    for (unsigned e = 0; e < nedges; e++)
        after[edges[e].from][edges[e].to / 64] |= 1ull << (edges[e].to % 64);
    /* The cache again from the classes kept (a deleted slot would cut
     * the probe chains through it). */
    memset(slots, 0, sizeof(slots));
    for (unsigned c = 0; c < nclasses; c++) {
        unsigned i = name_slot(classes[c].name);
        while (slots[i].name)
            i = (i + 1) % NAME_SLOTS;
        slots[i].cls = c;
        slots[i].name = classes[c].name;
    }
    WRITE_ONCE(off, 0);
    graph_unlock(flags);
}
