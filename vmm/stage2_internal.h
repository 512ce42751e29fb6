/*
 * Inside the stage-2 module (stage2*.c) only: the realizer and the frame
 * helpers the fault path, THP (split/collapse) and write tracking share.
 * Every function here expects s2->lock held unless it says otherwise.
 */
#ifndef GMM_VMM_STAGE2_INTERNAL_H
#define GMM_VMM_STAGE2_INTERNAL_H

#include "vmm/stage2.h"

#define HUGE_ORDER 9
#define HUGE_FRAMES (1UL << HUGE_ORDER)
#define PROT_GUEST (EPT_PROT_READ | EPT_PROT_WRITE | EPT_PROT_EXEC)

/*
 * The first MiB of a guest is its system area (guest/abi.h: boot info,
 * exception stubs, GDT/TSS/I/O bitmap, mailboxes, page tables), the pages
 * a CPU reads on its own: page walks, exception delivery, the I/O bitmap.
 * Under this nested KVM that is done by an emulator that does not hand a
 * failed read back to gmm, so these pages must never pass through the
 * realizer's PROT_NONE bridge: they are unevictable (PG_unevictable, as
 * the kernel keeps its own page tables resident) and never collapsed by
 * copy. A frame that covers them (a 2 MiB frame at gfn 0) is too.
 */
#define STAGE2_UNEVICTABLE_GFNS STAGE2_SYSTEM_AREA_GFNS

void s2_count(struct stage2 *s2, enum stage2_stat_item item, uint64_t n);

/*
 * The gfp of a fault's frames: movable, waking kswapd below low, failing
 * below min so that the fault reclaims (FAULT_GFP). A guest whose balloon
 * owes pages is freeing memory, and may have to fault to do it (its
 * driver's buffers and queues, a vCPU the driver waits for): fault_gfp()
 * lets those frames dip to half of min (__GFP_HIGH), as the kernel lets a
 * PF_MEMALLOC task that frees memory into its reserves, rather than wait
 * in direct reclaim for the balloon its own vCPU holds up. The dip is
 * bounded, lasts only while the balloon owes, and is for the frames a
 * fault needs: a whole 2 MiB block (take_block(), a cursor or a
 * collapse) is taken with FAULT_GFP, as the kernel's THP allocations never
 * dip either.
 */
#define FAULT_GFP (__GFP_MOVABLE | __GFP_KSWAPD_RECLAIM | __GFP_NOWARN)
gfp_t fault_gfp(struct stage2 *s2);
/* Host address of gfn in the guest's window. */
uint64_t gfn_hva(struct stage2 *s2, gfn_t gfn);

/* A userfaultfd with the write-protect features when the kernel has them;
 * *features says what was granted. */
int uffd_open(uint64_t *features);
/* The same raising SIGBUS instead of queueing faults (self-served). */
int uffd_open_sigbus(uint64_t *features);
/* Wake every thread waiting on a fault in [gfn, gfn+nr). */
void uffd_wake(struct stage2 *s2, gfn_t gfn, uint64_t nr);
/* Resolve a fault with the zero page (guest being stopped). */
void uffd_zero_fill(struct stage2 *s2, gfn_t gfn);

/* The window maps pool frames [pfn, pfn+nr) at gfn: one VMA, populated. */
int realize_map(struct stage2 *s2, gfn_t gfn, pfn_t pfn, uint64_t nr);
/* The window no longer maps [gfn, gfn+nr): anonymous memory registered
 * for stage-2 faults again, so the next touch faults. */
int realize_unmap(struct stage2 *s2, gfn_t gfn, uint64_t nr);
/* ... or only its PTEs, the VMAs left (pool mappings registered for minor
 * faults: see realize_zap() for why that is safe). */
int realize_zap(struct stage2 *s2, gfn_t gfn, uint64_t nr);
/* Reverse map: the frames of a run now mapped at gfn (order: of each). */
void rmap_add(struct stage2 *s2, gfn_t gfn, pfn_t pfn, uint64_t nr, unsigned order);
/* ... and the reverse: off the LRU, unmapped (before a free or a remap). */
void rmap_del(struct stage2 *s2, pfn_t pfn, uint64_t nr, unsigned order);
void resident_add(struct stage2 *s2, uint64_t nr);

/* qsort() order for pfns (free runs in order: fewer punches). */

/* A 2 MiB EPT leaf over pfn is gone (the window no longer maps it): free
 * its frame, a 2 MiB buddy block or one unit of a hugetlb page (the page
 * goes once none of it is mapped). */
void free_huge_leaf(struct stage2 *s2, pfn_t pfn);

/* The guest may map 2 MiB frames (thp=always, or khugepaged collapses):
 * its blocks are 2 MiB folios of the pool file, a thp=never guest's 4 KiB
 * ones (take_block()). */
static inline bool maps_huge_frames(const struct stage2 *s2)
{
	return s2->cfg.thp || s2->cfg.thp_collapse;
}

/* Home frames (stage2_home.c): nr frames for [gfn, gfn+nr) at home, each
 * with its token taken (GMM_PFN_NONE: the budget has none); whether the
 * window maps pfn at gfn by home (then realize_map() is a CONTINUE). */
pfn_t home_take(struct stage2 *s2, unsigned nr, gfn_t gfn);
static inline bool home_at(const struct stage2 *s2, gfn_t gfn, pfn_t pfn)
{
	return stage2_homed(s2) && pfn == s2->home + gfn;
}
int home_realize(struct stage2 *s2, gfn_t gfn, uint64_t nr);
void home_release(struct stage2 *s2);
/* Swap I/O of a homed guest, never through gmm's view: a swap-in's pages,
 * read into src, go into the file and the window by UFFDIO_COPY (not
 * woken), the pages from wp_from on write-protected (the swap cache's
 * clean pages, stage2_swapcache.c); returns the pages mapped, a prefix
 * (0: none). An eviction copies its pages out of the file with pread()
 * (pfns sorted: a run per pread()) into dst: 0 or -errno. The buffer for
 * both: the calling thread's, HOME_BOUNCE_BYTES (NULL: no memory). */
uint64_t home_copy_in(struct stage2 *s2, gfn_t gfn, const void *src, uint64_t nr, uint64_t wp_from);
int home_copy_out(struct stage2 *s2, const pfn_t *pfns, unsigned n, void *dst);
#define HOME_BOUNCE_BYTES (2UL << 20)
void *home_bounce(void);

/* A populated, zeroed 2 MiB block for gfn, where the guest's NUMA policy
 * wants it; GMM_PFN_NONE if none. huge: one 2 MiB folio (reserve first);
 * else 4 KiB folios (maps_huge_frames()). */
pfn_t take_block(struct stage2 *s2, gfn_t gfn, bool huge);
/* nr (dividing 512) contiguous zeroed order-0 frames for gfn from the
 * guest's current block on the policy's node; GMM_PFN_NONE if none. */
pfn_t take_frames(struct stage2 *s2, unsigned nr, gfn_t gfn);
/* The same for frames the caller overwrites whole (a swap-in's read): not
 * zeroed, not populated, order-0 from the buddy when the block is short;
 * nr a power of two. */
pfn_t take_frames_for_read(struct stage2 *s2, unsigned nr, gfn_t gfn);

/* NUMA placement (stage2_numa.c): the node the policy wants gfn on (mask:
 * the set it may use, 0 = any; strict: nothing outside it); a block there
 * (or where the policy lets it fall back); numastat for nr pages of a run
 * at pfn placed for a gfn wanted on `want`. */
int numa_policy_node(struct stage2 *s2, gfn_t gfn, uint64_t *mask, bool *strict);
pfn_t numa_alloc(struct stage2 *s2, unsigned order, gfn_t gfn, gfp_t gfp, int *want);
void numa_count(struct stage2 *s2, int want, pfn_t pfn, uint64_t nr);
/* NUMA balancing on a hinting fault on the present leaf e (of order):
 * true if the page moved to the faulting vCPU's node (mapped, woken). */
bool numa_hint_migrate(struct stage2 *s2, uint64_t e, unsigned order);

/* split_huge_page() of the 2 MiB frame over gfn (stage2_thp.c). */
int split_locked(struct stage2 *s2, gfn_t gfn);

/* uffd-wp (stage2_dirty.c): whether the kernel resolves write-protect
 * faults itself on shmem (UFFD_FEATURE_WP_ASYNC, Linux 6.7), which write
 * tracking and the swap cache's clean pages both need; open the guest's
 * /proc/self/pagemap once (s2->pagemap_fd, closed at release): 0, -errno. */
bool uffd_wp_available(const struct stage2 *s2);
int stage2_pagemap_open(struct stage2 *s2);

/* Write tracking's harvest with the lock held (stage2_dirty.c); pages. */
long stage2_dirty_harvest_locked(struct stage2 *s2);
/* Under uffd-wp tracking, what the PTEs over [gfn, gfn+nr) (at most 512
 * pages) say was written goes into the frames now: the PTEs are about to
 * be zapped (a hinting fault armed) and would take it with them. KVM's
 * dirty log lives in KVM and needs nothing. */
void stage2_dirty_harvest_range_locked(struct stage2 *s2, gfn_t gfn, uint64_t nr);

/* Swap (stage2_swap.c): a SWAPPED entry removed without a swap-in gives
 * its slot back; the fault path's swap-in of the SWAPPED entry at gfn. */
void swap_entry_drop(struct stage2 *s2, uint64_t entry);

/* Limits (stage2_limits.c), lock held, may let go of it: before a fault
 * maps, keep memory.max (0, or -EDQUOT: the guest must stop; -ENODEV: it
 * went away); after, throttle above memory.high. */
int limits_charge(struct stage2 *s2);
void limits_high(struct stage2 *s2);
/* write: the fault is the guest's write (its page cannot stay clean). */
int fault_swapin(struct stage2 *s2, gfn_t gfn, uint64_t entry, bool write);

/*
 * The swap cache's clean pages (stage2_swapcache.c), the kernel's
 * folio_free_swap() left undone on a read fault: a page read back from
 * swap keeps its slot while it is resident and unwritten, and reclaim
 * evicts it to that slot with no write. Only a homed window can tell
 * (s2->swap_keep): it is registered for uffd-wp with
 * UFFD_FEATURE_WP_ASYNC, a swap-in maps a kept page write-protected, the
 * guest's first write clears the bit (in the kernel, no message), and a
 * zapped PTE keeps the bit in a marker. All under s2->lock.
 *
 * swap_keep_wanted(): keep slots now (not under uffd-wp write tracking,
 * which owns the bits; not with the device or the guest's swap.max at
 * half full, the kernel's vm_swap_full() / mem_cgroup_swap_full()).
 * swap_keep(): gfn's resident page keeps slot; false if it cannot (the
 * caller frees the slot). swap_kept(): gfn's kept slot, 0 for none.
 * swap_kept_take(): the same, forgotten (the caller owns the slot now).
 * swap_kept_drop(): the page is no longer what the slot holds, or is
 * going: its slot is freed. swap_kept_drop_all(): every one (write
 * tracking starts; the device is full). swap_kept_clean(): the page's
 * PTE (or its marker) is still write-protected, so unwritten since its
 * swap-in; its PTE must be zapped or the lock held against a remap.
 * swap_keep_release(): the guest's release (slots and array freed).
 */
bool swap_keep_wanted(struct stage2 *s2);
bool swap_keep(struct stage2 *s2, gfn_t gfn, uint64_t slot);
uint64_t swap_kept(const struct stage2 *s2, gfn_t gfn);
uint64_t swap_kept_take(struct stage2 *s2, gfn_t gfn);
void swap_kept_drop(struct stage2 *s2, gfn_t gfn);
void swap_kept_drop_all(struct stage2 *s2);
bool swap_kept_clean(struct stage2 *s2, gfn_t gfn);
void swap_keep_release(struct stage2 *s2);

/* Hinting faults (stage2_hint.c): whether this guest's reclaim arms them;
 * the userfaultfd registration of a pool mapping of the window (minor
 * faults, and write-protect under uffd-wp tracking); arming frames.
 * stage2_hint_fault() is in stage2.h. hint_arm_locked() lets s2->lock go
 * around a home window's zaps: its caller holds no frame isolated, and
 * finds the lists as others left them. */
bool hint_enabled(const struct stage2 *s2);
/* The pool mappings of the window are registered for minor faults too
 * (any guest with swap, where the kernel has them): a zapped PTE over a
 * pool offset faults to gmm whatever the page cache holds there. */
bool minor_registered(const struct stage2 *s2);
int hint_register(struct stage2 *s2, gfn_t gfn, uint64_t nr);
void hint_arm_locked(struct stage2 *s2, const pfn_t *pfns, unsigned n);
/* A page just put on the inactive list by rmap_add(), with the list's
 * gmm_lru_inserted() then: kswapd arms it ahead of the tail
 * (stage2_age_ahead()). */
void hint_note_new(struct stage2 *s2, pfn_t pfn, gfn_t gfn, uint64_t inserted);
/* Drop the pages waiting to be armed ahead (the guest's release). */
void hint_ahead_free(struct stage2 *s2);
/* Register the whole window again, each run with its own modes in one
 * call: pool mappings (present pages, and evicted ones whose PTEs were
 * zapped) with hint_register(), the rest with stage2_register(). For a
 * change of modes (uffd-wp tracking starting) that must never leave a
 * pool mapping without minor faults, not even for an instant. */
int hint_register_window(struct stage2 *s2);

#endif
