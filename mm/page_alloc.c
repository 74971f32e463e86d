/* The frame pool behind its lock: what the rest of the kernel allocates
 * frames with (the pool's bookkeeping itself is mm/frame.c, pure), and the
 * injected allocation failures tests arm. */
#include <string.h>
#include "mm.h"
#include "../kernel/lock.h"
#include "../kernel/printk.h"
#include "../kernel/san/kasan.h"
#include "../lib/errno.h"

/* frames_lock owns the pool and the injected failure. Taken with interrupts
 * off: a CPU may take a frame from its interrupt context (an smp_call_on
 * function), which must not find its own CPU holding the lock (the lock-
 * order checker reported this: docs/sanitizers.md). */
static struct spinlock frames_lock = SPINLOCK_INIT("frames");
static struct frame_pool frames;

struct frame_pool *mm_frames(void) { return &frames; }

/* Allocations left before an injected failure; 0: none armed. */
static unsigned fail_countdown;

void mm_inject_page_alloc_failure(unsigned skip)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    fail_countdown = skip + 1;
    spin_unlock_irqrestore(&frames_lock, flags);
}

void mm_cancel_page_alloc_failure(void)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    fail_countdown = 0;
    spin_unlock_irqrestore(&frames_lock, flags);
}

int mm_page_alloc_failure_armed(void) { return READ_ONCE(fail_countdown) != 0; }

uint64_t page_alloc(void)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    uint64_t pfn = fail_countdown && --fail_countdown == 0 ? FRAME_NONE : frame_alloc(&frames);
    if (pfn != FRAME_NONE)
        kasan_frames_alloc(pfn << PAGE_SHIFT, 1, (uintptr_t)__builtin_return_address(0));
    spin_unlock_irqrestore(&frames_lock, flags);
    if (pfn == FRAME_NONE)
        return 0;
    memset(phys_to_virt(pfn << PAGE_SHIFT), 0, PAGE_SIZE);
    return pfn << PAGE_SHIFT;
}

uint64_t pages_alloc_contig(unsigned pages, unsigned align_pages)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    uint64_t pfn = frame_alloc_contig(&frames, pages, align_pages);
    if (pfn != FRAME_NONE)
        kasan_frames_alloc(pfn << PAGE_SHIFT, pages, (uintptr_t)__builtin_return_address(0));
    spin_unlock_irqrestore(&frames_lock, flags);
    if (pfn == FRAME_NONE)
        return 0;
    memset(phys_to_virt(pfn << PAGE_SHIFT), 0, (uint64_t)pages * PAGE_SIZE);
    return pfn << PAGE_SHIFT;
}

void page_free(uint64_t pa)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    /* Poisoned before it is back in the pool, where another CPU may take
     * (and unpoison) it at once. */
    kasan_frames_free(pa, 1, (uintptr_t)__builtin_return_address(0));
    int err = frame_free(&frames, pa >> PAGE_SHIFT);
    spin_unlock_irqrestore(&frames_lock, flags);
    if (err)
        panic("page_free(0x%lx): %s", pa, err_name(err));
}

int page_take_specific(uint64_t pa)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    int err = frame_alloc_specific(&frames, pa >> PAGE_SHIFT);
    if (!err)
        kasan_frames_alloc(pa, 1, (uintptr_t)__builtin_return_address(0));
    spin_unlock_irqrestore(&frames_lock, flags);
    return err;
}

uint64_t frames_free_count(void)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    uint64_t n = frames.free_count;
    spin_unlock_irqrestore(&frames_lock, flags);
    return n;
}

uint64_t frames_free_counted(void)
{
    uint64_t flags = spin_lock_irqsave(&frames_lock);
    uint64_t n = frame_pool_count_free(&frames);
    spin_unlock_irqrestore(&frames_lock, flags);
    return n;
}
