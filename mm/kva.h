/* The kva area (KVA_BASE, one PML4 slot): where callers map and unmap
 * pages, so page-table pages come and go on demand (mm/kva.c). */
#ifndef VTDLAB_MM_KVA_H
#define VTDLAB_MM_KVA_H

#include <stdint.h>

/* kva_unmap flushes the CPU's TLB and paging-structure caches, on this CPU
 * and (shootdown, mm/tlb.h) every other, before the unlinked table pages
 * are freed. kva_map and kva_protect refuse PTE_G
 * (-E_INVAL, nothing changed): those flushes assume nothing there is
 * global. */
int kva_map(uint64_t va, uint64_t pa, int leaf_level, uint64_t attrs);
int kva_unmap(uint64_t va);
/* Unmaps every leaf in [va, va+size) (page-aligned, all mapped) with one
 * shootdown and one reclaim_kva_changed for the lot, so a policy can flush
 * the range at once. On an unmapped page it stops there, having unmapped and
 * handed over what came before. */
int kva_unmap_range(uint64_t va, uint64_t size);
/* kva_unmap, and the frame that was mapped there is freed with the tables
 * through the reclaim policy (vfree's shape: mapping and memory go
 * together). 4 KiB leaves only (-E_INVAL otherwise). */
int kva_unmap_free(uint64_t va);
/* Every unmap, split, collapse and protect returns the shootdown's
 * -E_TIMEDOUT when a CPU did not acknowledge it; the page tables and
 * frames such an unmap would free are withheld (that CPU may still reach
 * them), reported, and never freed, unless kva_withheld_release gives them
 * to the policy: a new shootdown over their ranges first. For tests that
 * injected the failure (tlb_inject_unacknowledged): a CPU truly lost is
 * left out of later shootdowns, so only they know every CPU flushed. */
int kva_withheld_release(void);
/* Experiment knob (docs/reclaim.md question 5), for tests only: the shootdown
 * and the reclaim policy's flush and free run with the kva lock held
 * instead of after it is dropped. */
void kva_set_flush_under_lock(int on);
/* How long the last unmap held the kva lock, TSC cycles. */
uint64_t kva_last_unmap_hold_cycles(void);
/* Splits the 2 MiB kva leaf at va into a page table of 4 KiB leaves, and
 * collapses such a table back into one 2 MiB leaf; the collapse frees the
 * page table through the reclaim policy like an unmap. */
int kva_split_2m(uint64_t va);
int kva_collapse_2m(uint64_t va);
/* Changes a kva mapping's attributes (permission up- or downgrade). */
int kva_protect(uint64_t va, uint64_t attrs);
/* Page-table pages reachable below the kva area's top table, counted by
 * walking the tables (independently of the allocation counters). */
uint64_t kva_table_pages(void);

/* mm's side. */
/* Takes the kernel's tables as they are after boot. */
void kva_init(void);
/* Whether devices walk the kva area with user privilege (QEMU's emulated
 * devices always do; SVA then needs U/S at every level of their path): set
 * from the registered walkers (mm/walker.h).
 * Sets U/S on the area's top entry and on every table and leaf mapped
 * from now on. */
void kva_set_user_access(int on);
/* Holds off every change to the area's tables (a count of the whole tree). */
void kva_lock_tables(void);
void kva_unlock_tables(void);

#endif
