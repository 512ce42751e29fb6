/* The stage-2 fault path and realizer; see stage2.h and docs/fault-path.md. */
#include "vmm/stage2.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "guestmm/compaction.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/kswapd.h"
#include "vmm/oom_kill.h"
#include "vmm/log.h"
#include "vmm/stage2_internal.h"


const char *const stage2_stat_names[NR_S2_STATS] = {
	[S2_FAULTS] = "faults",
	[S2_FAULT_PRESENT] = "fault_present",
	[S2_DIRTY_HARVESTS] = "dirty_harvests",
	[S2_DIRTY_PAGES] = "dirty_pages",
	[S2_PGSCAN] = "pgscan",
	[S2_PGSTEAL] = "pgsteal",
	[S2_PGREFILL] = "pgrefill",
	[S2_PGACTIVATE] = "pgactivate",
	[S2_PGDEACTIVATE] = "pgdeactivate",
	[S2_PSWPIN] = "pswpin",
	[S2_PSWPOUT] = "pswpout",
	[S2_SWAPCACHE_HITS] = "swapcache_hits",
	[S2_PGSTEAL_CLEAN] = "pgsteal_clean",
	[S2_SWAPCACHE_DIRTIED] = "swapcache_dirtied",
	[S2_WORKINGSET_REFAULT] = "workingset_refault",
	[S2_WORKINGSET_ACTIVATE] = "workingset_activate",
	[S2_SWAP_WRITE_FAILED] = "swap_write_failed",
	[S2_SWAP_FULL] = "swap_full",
	[S2_THP_SPLIT_SWAP] = "thp_split_swap",
	[S2_HINT_ARMED] = "hint_armed",
	[S2_HINT_ARM_ZAPS] = "hint_arm_zaps",
	[S2_HINT_ARMED_AHEAD] = "hint_armed_ahead",
	[S2_HINT_FAULTS] = "hint_faults",
	[S2_EVICT_ZAPS] = "evict_zaps",
	[S2_MINOR_UNARMED] = "minor_unarmed",
	[S2_PGROTATED] = "pgrotated",
	[S2_PGSCAN_RANDOM] = "pgscan_random",
	[S2_MEMCG_LOW] = "memory_events_low",
	[S2_MEMCG_HIGH] = "memory_events_high",
	[S2_MEMCG_MAX] = "memory_events_max",
	[S2_MEMCG_OOM] = "memory_events_oom",
	[S2_MEMCG_OOM_KILL] = "memory_events_oom_kill",
	[S2_MEMCG_SWAP_MAX] = "memory_swap_events_max",
	[S2_FAULTAROUND_PAGES] = "faultaround_pages",
	[S2_FAULT_HUGE] = "fault_huge",
	[S2_RESERVE_HITS] = "reserve_hits",
	[S2_RESERVE_MISSES] = "reserve_misses",
	[S2_PREFAULT_PAGES] = "prefault_pages",
	[S2_OOM] = "oom",
	[S2_BAD_FAULTS] = "bad_faults",
	[S2_THP_SPLIT] = "thp_split_page",
	[S2_THP_COLLAPSE_INPLACE] = "thp_collapse_inplace",
	[S2_THP_COLLAPSE_COPY] = "thp_collapse_alloc",
	[S2_THP_COLLAPSE_FAILED] = "thp_collapse_alloc_failed",
	[S2_KHUGEPAGED_FULL_SCANS] = "khugepaged_full_scans",
	[S2_FAULT_HUGETLB] = "fault_hugetlb",
	[S2_BALLOON_INFLATED] = "balloon_inflate",
	[S2_BALLOON_DEFLATED] = "balloon_deflate",
	[S2_BALLOON_FREED] = "balloon_freed",
	[S2_BALLOON_REFAULTS] = "balloon_refaults",
	[S2_BALLOON_HUGE_WHOLE] = "balloon_huge_whole",
	[S2_BALLOON_HUGE_SPLIT] = "balloon_huge_split",
	[S2_BALLOON_OWED_ALLOCS] = "balloon_owed_allocs",
	[S2_REPORTED_PAGES] = "free_page_reported",
	[S2_REPORTED_FREED] = "free_page_report_freed",
	[S2_PGMIGRATE_SUCCESS] = "pgmigrate_success",
	[S2_PGMIGRATE_FAIL] = "pgmigrate_fail",
	[S2_NUMA_HINT_FAULTS] = "numa_hint_faults",
	[S2_NUMA_HINT_FAULTS_LOCAL] = "numa_hint_faults_local",
	[S2_NUMA_PAGES_MIGRATED] = "numa_pages_migrated",
	[S2_NUMA_MIGRATE_RATELIMITED] = "numa_migrate_ratelimited",
	[S2_FAULT_SELF] = "faults_self_served",
	[S2_FAULT_FORWARDED] = "faults_forwarded",
};

/* --- table frames: unmovable, unevictable frames of the pool ------------- */

static uint64_t s2_alloc_table(void *ctx)
{
	struct stage2 *s2 = ctx;
	pfn_t pfn = gmm_alloc_frames(s2->hp->mm, 0, __GFP_ZERO | __GFP_HIGH | __GFP_KSWAPD_RECLAIM | __GFP_NOWARN, 0);
	struct gmm_frame *f;

	if (pfn == GMM_PFN_NONE)
		return EPT_PFN_NONE;
	f = pfn_to_frame(s2->hp->mm, pfn);
	f->owner = s2->cfg.owner;
	frame_set_unevictable(f);
	atomic_fetch_add_explicit(&s2->table_frames, 1, memory_order_relaxed);
	return pfn;
}

static void s2_free_table(void *ctx, uint64_t pfn)
{
	struct stage2 *s2 = ctx;

	host_pool_free(s2->hp, pfn, 0);
	atomic_fetch_sub_explicit(&s2->table_frames, 1, memory_order_relaxed);
}

static void *s2_table_va(void *ctx, uint64_t pfn)
{
	struct stage2 *s2 = ctx;

	return frame_mem(s2->hp->mm, pfn);
}

/* --- frames for the fault path --------------------------------------------- */

/*
 * A populated 2 MiB block. huge: one 2 MiB folio in the pool file, for a
 * guest that maps 2 MiB frames (a THP fault, a collapse; a 4 KiB block of
 * such a guest too, so an in-place collapse gets a host PMD): the
 * reserve's, else allocated and populated here (the slow path the reserve
 * exists to avoid). Otherwise (thp=never) 4 KiB folios, never from the
 * reserve: punching one frame out of a 2 MiB folio splits it, and the
 * split takes every PTE of the folio's other frames out of every window
 * (the kernel does not map a split file folio back), so each of those
 * pages, however hot, came back through the fault thread as a minor
 * fault (minor_unarmed: 3k-21k a guest in the overcommit demo).
 */
pfn_t take_block(struct stage2 *s2, gfn_t gfn, bool huge)
{
	uint64_t mask;
	bool strict;
	int want = numa_policy_node(s2, gfn, &mask, &strict);
	pfn_t pfn = huge ? zero_reserve_take_node(&s2->hp->reserve, want) : GMM_PFN_NONE;

	if (pfn != GMM_PFN_NONE) {
		s2_count(s2, S2_RESERVE_HITS, 1);
		return pfn;
	}
	pfn = numa_alloc(s2, HUGE_ORDER, gfn, FAULT_GFP, &want);
	if (pfn == GMM_PFN_NONE)
		return pfn;
	if (huge)
		s2_count(s2, S2_RESERVE_MISSES, 1);
	if (huge ? host_pool_populate(s2->hp, pfn, HUGE_FRAMES) : host_pool_populate_small(s2->hp, pfn, HUGE_FRAMES)) {
		host_pool_free(s2->hp, pfn, HUGE_ORDER);
		return GMM_PFN_NONE;
	}
	return pfn;
}

/* The frames left in node nid's current block go back. */
static void cursor_release_node(struct stage2 *s2, int nid)
{
	pfn_t run[HUGE_FRAMES];

	for (unsigned i = 0; i < s2->cur[nid].left; i++)
		run[i] = s2->cur[nid].pfn + i;
	host_pool_free_frames(s2->hp, run, s2->cur[nid].left);
	s2->cur[nid].left = 0;
}

static void cursor_release(struct stage2 *s2)
{
	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		cursor_release_node(s2, nid);
}

uint64_t stage2_cursor_frames(struct stage2 *s2)
{
	uint64_t n = 0;

	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		n += s2->cur[nid].left;
	return n;
}

/* Frames left in the current block of the node the policy wants gfn on. */
static unsigned cursor_left(struct stage2 *s2, gfn_t gfn)
{
	uint64_t mask;
	bool strict;

	return s2->cur[numa_policy_node(s2, gfn, &mask, &strict)].left;
}

/* nr frames off node nid's current block, which has them. */
static pfn_t cursor_take(struct stage2 *s2, int nid, unsigned nr)
{
	pfn_t pfn = s2->cur[nid].pfn;

	s2->cur[nid].pfn += nr;
	s2->cur[nid].left -= nr;
	return pfn;
}

/*
 * nr contiguous order-0 frames, zeroed and populated: from the current
 * block (like a per-cpu page list, but per guest, so a guest's
 * neighbouring gfns land in neighbouring frames and its window merges
 * into few VMAs), refilled from the reserve. nr divides 512.
 */
pfn_t take_frames(struct stage2 *s2, unsigned nr, gfn_t gfn)
{
	uint64_t mask;
	bool strict;
	int nid = numa_policy_node(s2, gfn, &mask, &strict);
	pfn_t pfn;

	if (stage2_homed(s2))
		return home_take(s2, nr, gfn); /* holes: zero when first mapped */
	if (s2->cur[nid].left < nr) {
		pfn = take_block(s2, gfn, maps_huge_frames(s2));
		if (pfn == GMM_PFN_NONE) {
			/* no 2 MiB block: just this run, populated on the spot */
			unsigned order = (unsigned)__builtin_ctz(nr);
			int want;

			pfn = numa_alloc(s2, order, gfn, fault_gfp(s2), &want);
			if (pfn == GMM_PFN_NONE)
				return pfn;
			if (host_pool_populate(s2->hp, pfn, nr)) {
				host_pool_free(s2->hp, pfn, order);
				return GMM_PFN_NONE;
			}
			gmm_split_frames(s2->hp->mm, pfn, order);
			return pfn;
		}
		gmm_split_frames(s2->hp->mm, pfn, HUGE_ORDER);
		/* the block's own node: the wanted one, or where the policy
		 * let the allocator fall back to */
		nid = frame_nid(s2->hp->mm, host_pool_frame(s2->hp, pfn));
		cursor_release_node(s2, nid);
		s2->cur[nid].pfn = pfn;
		s2->cur[nid].left = HUGE_FRAMES;
	}
	return cursor_take(s2, nid, nr);
}

/*
 * nr contiguous order-0 frames whose every byte the caller is about to
 * overwrite (a swap-in reads them whole), so neither zeroed nor populated
 * here: the read's own page faults allocate them in the pool file.
 * Recycled frames first (frame_recycle.h), which an eviction left
 * populated with its old data, the kernel's swap-in page taken without
 * __GFP_ZERO; else from the current block if it has room, else straight
 * from the buddy as the kernel's swap-in takes an order-0 page
 * (alloc_pages_mpol()): not a 2 MiB block from the zero reserve, whose
 * zeroing the read would throw away, and not an order-9 attempt that
 * fails under the memory pressure that swaps. nr is a power of two.
 */
pfn_t take_frames_for_read(struct stage2 *s2, unsigned nr, gfn_t gfn)
{
	unsigned order = (unsigned)__builtin_ctz(nr);
	uint64_t mask;
	bool strict;
	int want = numa_policy_node(s2, gfn, &mask, &strict);
	pfn_t pfn;

	if (stage2_homed(s2))
		return home_take(s2, nr, gfn);
	pfn = frame_recycle_take(s2->hp, want, nr);
	if (pfn != GMM_PFN_NONE)
		return pfn;
	if (s2->cur[want].left >= nr)
		return cursor_take(s2, want, nr);
	pfn = numa_alloc(s2, order, gfn, fault_gfp(s2), &want);
	if (pfn != GMM_PFN_NONE)
		gmm_split_frames(s2->hp->mm, pfn, order);
	return pfn;
}

/* --- the fault ---------------------------------------------------------- */

/* True if [gfn, gfn+nr) is RAM in one slot and has nothing in the EPT. */
static bool block_is_free(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	if (!guest_mem_gpa_to_hva(s2->mem, gfn << GMM_FRAME_SHIFT, nr << GMM_FRAME_SHIFT))
		return false;
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t e;
		unsigned order;

		if (ept_lookup(s2->ept, gfn + i, &e, &order) || e)
			return false;
	}
	return true;
}

/* The last step of every fault: frames [pfn, pfn+nr) (of the given order
 * each) are in the EPT and the window at gfn; record them, count `stat`
 * by n, and only then wake the vCPUs waiting there (a woken guest may
 * read the counters at once). */
static void fault_mapped(struct stage2 *s2, gfn_t gfn, pfn_t pfn, uint64_t nr, unsigned order,
			 enum stage2_stat_item stat, uint64_t n)
{
	uint64_t mask;
	bool strict;

	numa_count(s2, numa_policy_node(s2, gfn, &mask, &strict), pfn, nr);
	rmap_add(s2, gfn, pfn, nr, order);
	resident_add(s2, nr);
	s2_count(s2, stat, n);
	uffd_wake(s2, gfn, nr);
}

/* A whole 2 MiB frame for the 2 MiB range around gfn, if the range is
 * RAM, holds nothing yet (no page table under it) and a huge frame is to
 * be had. -EAGAIN: use 4 KiB frames. */
static int fault_huge(struct stage2 *s2, gfn_t gfn)
{
	gfn_t g2 = gfn & ~(gfn_t)(HUGE_FRAMES - 1);
	uint64_t e;
	unsigned order;
	pfn_t pfn;
	int ret;

	if (!guest_mem_gpa_to_hva(s2->mem, g2 << GMM_FRAME_SHIFT, HUGE_FRAMES << GMM_FRAME_SHIFT) ||
	    ept_lookup(s2->ept, gfn, &e, &order) || e || order != HUGE_ORDER)
		return -EAGAIN;
	pfn = take_block(s2, g2, true);
	if (pfn == GMM_PFN_NONE) {
		/* no free 2 MiB block for a THP fault: kcompactd makes some for
		 * the next ones (a 4 KiB fault's block for its frames does not
		 * wake it: it takes any block, or single frames, and compacting
		 * under the pressure that caused it would only churn) */
		uint64_t mask;
		bool strict;

		kcompactd_wake_if_failed(s2->hp, GMM_PFN_NONE, numa_policy_node(s2, g2, &mask, &strict), HUGE_ORDER);
		return -ENOSPC; /* compaction may make one */
	}
	ret = ept_map(s2->ept, g2, pfn, HUGE_ORDER, PROT_GUEST);
	if (!ret) {
		ret = realize_map(s2, g2, pfn, HUGE_FRAMES);
		if (ret)
			ept_unmap(s2->ept, g2, HUGE_ORDER, NULL);
	}
	if (ret) {
		host_pool_free(s2->hp, pfn, HUGE_ORDER);
		return ret;
	}
	fault_mapped(s2, g2, pfn, HUGE_FRAMES, HUGE_ORDER, S2_FAULT_HUGE, 1);
	return 0;
}

void free_huge_leaf(struct stage2 *s2, pfn_t pfn)
{
	struct hugetlb_region *r = host_pool_hugetlb(s2->hp, pfn);

	if (r)
		hugetlb_put_unit(r, pfn);
	else
		host_pool_free(s2->hp, pfn, HUGE_ORDER);
}

/* Undo the first nr_units 2 MiB leaves of a hugetlb page mapped at g0. */
static void hugetlb_unmap_leaves(struct stage2 *s2, gfn_t g0, uint64_t nr_units)
{
	for (uint64_t i = 0; i < nr_units; i++)
		ept_unmap(s2->ept, g0 + (i << HUGE_ORDER), HUGE_ORDER, NULL);
}

/*
 * A hugetlb guest's fault (hugetlb_fault()): the whole page holding gfn,
 * zeroed by the kernel when it was taken, as 2 MiB EPT leaves (one, or
 * 512 for a 1 GiB page) and one host mapping of the page. Nothing
 * smaller, ever: -ENOMEM when no page is left.
 */
static int fault_hugetlb(struct stage2 *s2, gfn_t gfn)
{
	struct hugetlb_region *r = s2->cfg.hugetlb;
	uint64_t nr = 1ULL << r->order, units = nr >> HUGE_ORDER, i;
	gfn_t g0 = gfn & ~(gfn_t)(nr - 1);
	pfn_t pfn;
	int ret = 0;

	if (!guest_mem_gpa_to_hva(s2->mem, g0 << GMM_FRAME_SHIFT, nr << GMM_FRAME_SHIFT))
		return -EFAULT; /* config_finish() keeps RAM whole pages: cannot happen */
	pfn = hugetlb_alloc(r);
	if (pfn == GMM_PFN_NONE)
		return -ENOMEM;
	for (i = 0; i < units && !ret; i++)
		ret = ept_map(s2->ept, g0 + (i << HUGE_ORDER), pfn + (i << HUGE_ORDER), HUGE_ORDER, PROT_GUEST);
	if (ret) {
		hugetlb_unmap_leaves(s2, g0, i - 1);
	} else {
		ret = realize_map(s2, g0, pfn, nr);
		if (ret)
			hugetlb_unmap_leaves(s2, g0, units);
	}
	if (ret) {
		hugetlb_free(r, pfn);
		return ret;
	}
	fault_mapped(s2, g0, pfn, nr, HUGE_ORDER, S2_FAULT_HUGETLB, 1);
	return 0;
}

/*
 * How much to map for a fault at gfn, like the kernel's readahead window
 * on top of fault-around: a fault just past the previous block is a
 * sequential stream, and the window doubles (to 2 MiB), starting at gfn
 * and as large as gfn's alignment allows; any other fault maps the aligned
 * fault_around block holding it. Powers of two that add up to 512 keep
 * a guest's 2 MiB block of frames whole (take_frames()). fault_around=4K
 * turns both off: one page per fault.
 */
static unsigned fault_window(struct stage2 *s2, gfn_t gfn, gfn_t *start)
{
	unsigned nr = s2->cfg.fault_around_pages;

	if (nr > 1 && gfn == s2->fa_next && gfn) {
		unsigned align = 1U << __builtin_ctzll(gfn);

		s2->fa_window = s2->fa_window < HUGE_FRAMES ? s2->fa_window * 2 : HUGE_FRAMES;
		nr = s2->fa_window < align ? s2->fa_window : align;
		if (nr < s2->cfg.fault_around_pages)
			nr = s2->cfg.fault_around_pages;
	} else {
		s2->fa_window = nr;
	}
	*start = gfn & ~(gfn_t)(nr - 1);
	return nr;
}

static int fault_small(struct stage2 *s2, gfn_t gfn)
{
	gfn_t g0;
	unsigned nr = fault_window(s2, gfn, &g0);
	pfn_t pfn;
	int ret = 0;

	if (nr > s2->cfg.fault_around_pages && !block_is_free(s2, g0, nr)) {
		nr = s2->cfg.fault_around_pages; /* the stream ran into mapped pages */
		g0 = gfn & ~(gfn_t)(nr - 1);
		s2->fa_window = nr;
	}
	if (nr > 1 && !block_is_free(s2, g0, nr)) {
		nr = 1;
		g0 = gfn;
	}
	/* a stream's window is cut to what the current block has left, so
	 * the block is used up rather than its tail freed (punching part of
	 * a 2 MiB folio splits it and unmaps all of it, everywhere) */
	while (nr > s2->cfg.fault_around_pages && cursor_left(s2, g0) && nr > cursor_left(s2, g0))
		nr >>= 1;
	s2->fa_next = g0 + nr;
	pfn = take_frames(s2, nr, g0);
	if (pfn == GMM_PFN_NONE && nr > 1) {
		/* no block of nr: the pool is short or fragmented; one page */
		nr = 1;
		g0 = gfn;
		s2->fa_next = g0 + 1;
		s2->fa_window = s2->cfg.fault_around_pages;
		pfn = take_frames(s2, 1, gfn);
	}
	if (pfn == GMM_PFN_NONE)
		return -ENOMEM;
	for (unsigned i = 0; i < nr && !ret; i++)
		ret = ept_map(s2->ept, g0 + i, pfn + i, 0, PROT_GUEST);
	if (!ret)
		ret = realize_map(s2, g0, pfn, nr);
	if (ret) {
		pfn_t run[HUGE_FRAMES];

		for (unsigned i = 0; i < nr; i++) {
			ept_unmap(s2->ept, g0 + i, 0, NULL);
			run[i] = pfn + i;
		}
		host_pool_free_frames(s2->hp, run, nr);
		return ret;
	}
	/* fault-around hits: the pages mapped beyond the faulting one */
	fault_mapped(s2, g0, pfn, nr, 0, S2_FAULTAROUND_PAGES, nr - 1);
	return 0;
}

static void fault_oom(struct stage2 *s2, gfn_t gfn, int err, bool oom_killed)
{
	unsigned long long gpa = (unsigned long long)(gfn << GMM_FRAME_SHIFT);
	char why[160];

	s2_count(s2, err == -ENOMEM || err == -EDQUOT ? S2_OOM : S2_BAD_FAULTS, 1);
	if (!s2->dead) {
		s2->dead = true;
		if (err == -EDQUOT)
			snprintf(why, sizeof(why), "out of memory: limits.max of %llu MiB reached and reclaim cannot keep it",
				 (unsigned long long)(s2->cfg.limits.max >> 8));
		else if (err != -ENOMEM)
			snprintf(why, sizeof(why), "cannot map gpa %#llx: %s", gpa, strerror(-err));
		else if (oom_killed)
			snprintf(why, sizeof(why), "out of memory: killed by the OOM killer (no frame for gpa %#llx)",
				 gpa);
		else if (s2->cfg.hugetlb)
			snprintf(why, sizeof(why), "out of memory: no free %s hugetlb page for gpa %#llx",
				 hugetlb_size_name(s2->cfg.hugetlb->size), gpa);
		else
			snprintf(why, sizeof(why), "out of memory: the host pool has no frame for gpa %#llx", gpa);
		log_error("%s: %s", s2->cfg.name, why);
		if (s2->cfg.oom)
			s2->cfg.oom(s2->cfg.ctx, why);
	}
	uffd_zero_fill(s2, gfn);
}

/* A fault that finds no frame reclaims (and waits for kswapd) until
 * FAULT_RECLAIM_TRIES rounds in a row freed nothing; then the guest is
 * out of memory. */
#define FAULT_RECLAIM_TRIES 8
#define FAULT_RECLAIM_WAIT_MS 500
#define FAULT_RECLAIM_PAGES 1024 /* 4 MiB: a 2 MiB block's worth and some */
/* a fault that wants 4 KiB frames (thp=never, a home) reclaims what it
 * maps, a fault-around or a readahead window, and some: its vCPU waits
 * for the writes (SWAP_CLUSTER_MAX is 32); asking for a 2 MiB block's
 * worth stalled a vCPU for 1150 pages' writes a time in bench-overcommit */
#define FAULT_RECLAIM_PAGES_SMALL 64
#define FAULT_OOM_WAITS 100      /* a victim has this many 50 ms rounds to go */
#define FAULT_OOM_WAIT_US 50000

int stage2_fault(struct stage2 *s2, uint64_t gpa, bool write)
{
	gfn_t gfn = gpa >> GMM_FRAME_SHIFT;
	uint64_t e;
	unsigned order;
	int ret;

	/* every frame is mapped writable (write tracking is separate); a
	 * swap-in for a write keeps no slot for the page */
	pthread_mutex_lock(&s2->lock);
	s2_count(s2, S2_FAULTS, 1);
	if (s2->dead || !guest_mem_is_ram(s2->mem, gpa)) {
		if (!s2->dead)
			s2_count(s2, S2_BAD_FAULTS, 1);
		uffd_zero_fill(s2, gfn);
		pthread_mutex_unlock(&s2->lock);
		return -EFAULT;
	}
	if (!ept_lookup(s2->ept, gfn, &e, &order) && ept_entry_present(e)) {
		/* a racing vCPU's fault mapped it: wake, as crosvm does */
		s2_count(s2, S2_FAULT_PRESENT, 1);
		uffd_wake(s2, gfn, 1);
		pthread_mutex_unlock(&s2->lock);
		return 0;
	}
	int oom_waits = 0;
	bool oom_tried = false, oom_self = false, compacted = false, covered;

	for (int fruitless = 0;;) {
		if (!ept_lookup(s2->ept, gfn, &e, &order) && ept_entry_present(e)) {
			uffd_wake(s2, gfn, 1); /* mapped while we waited for reclaim */
			ret = 0;
			break;
		}
		ret = s2->cfg.hugetlb ? 0 : limits_charge(s2);
		if (ret == -ENODEV || !s2->ept) {
			ret = -ENOMEM;
			break;
		}
		if (ret)
			break; /* memory.max could not be kept: this guest alone stops */
		if (ept_lookup(s2->ept, gfn, &e, &order))
			e = 0;
		if (ept_entry_present(e)) {
			uffd_wake(s2, gfn, 1); /* mapped while the limit was reclaimed */
			break;
		}
		if (ept_entry_state(e) == EPT_STATE_BALLOONED)
			s2_count(s2, S2_BALLOON_REFAULTS, 1); /* the guest took it back untold */
		if (ept_entry_state(e) == EPT_STATE_SWAPPED) {
			ret = fault_swapin(s2, gfn, e, write);
		} else if (s2->cfg.hugetlb) {
			ret = fault_hugetlb(s2, gfn);
		} else {
			ret = s2->cfg.thp ? fault_huge(s2, gfn) : -EAGAIN;
			if (ret == -ENOSPC && !compacted) {
				/* a THP fault found no free 2 MiB block: direct
				 * compaction once, asynchronous, as a THP fault
				 * with defrag does (__alloc_pages_direct_compact());
				 * without this guest's lock, since compaction may
				 * move its frames too */
				enum compact_result r;

				compacted = true;
				pthread_mutex_unlock(&s2->lock);
				r = try_to_compact_pages(s2->hp->mm, HUGE_ORDER, __GFP_MOVABLE, s2->fault_local, 0,
							 MIGRATE_ASYNC);
				pthread_mutex_lock(&s2->lock);
				if (!s2->ept || s2->dead) {
					ret = -ENOMEM;
					break;
				}
				if (r == COMPACT_SUCCESS)
					continue; /* look again: maybe mapped meanwhile */
			}
			if (ret == -EAGAIN || ret == -ENOSPC)
				ret = fault_small(s2, gfn);
		}
		if (ret == -ENOMEM && (fruitless >= FAULT_RECLAIM_TRIES || !s2->cfg.swap || !s2->hp->kswapd) &&
		    s2->hp->oom_kill && !s2->cfg.hugetlb && !s2->dead &&
		    !s2->stopping && !oom_tried) {
			/* reclaim is exhausted: the OOM killer stops the guest
			 * whose memory helps most; another one's: try again.
			 * Not for hugetlb: its pages come from their own region
			 * (the kernel's hugetlb faults SIGBUS, no OOM kill) */
			char why[128];
			int r;

			snprintf(why, sizeof(why), "%s: no frame for gpa %#llx after reclaim", s2->cfg.name,
				 (unsigned long long)(gfn << GMM_FRAME_SHIFT));
			pthread_mutex_unlock(&s2->lock);
			r = s2->hp->oom_kill(s2->hp->oom_ctx, s2->cfg.owner, why);
			pthread_mutex_lock(&s2->lock);
			if (r == OOM_KILLED_OTHER && s2->ept) {
				fruitless = 0;
				oom_waits++;
				oom_tried = oom_waits > FAULT_OOM_WAITS;
				usleep(FAULT_OOM_WAIT_US);
				continue;
			}
			oom_tried = true;
			oom_self = r == OOM_KILLED_SELF;
		}
		if (ret != -ENOMEM || !s2->cfg.swap || !s2->hp->kswapd || fruitless >= FAULT_RECLAIM_TRIES ||
		    s2->dead || s2->stopping)
			break;
		/* direct reclaim: reclaiming this guest needs its lock, so let
		 * go of it; when nothing could be freed, wait for kswapd once
		 * (its pass may be writing); out of memory only after
		 * FAULT_RECLAIM_TRIES rounds in a row freed nothing. Balloons
		 * that balanced the node (covered) are no round: try again,
		 * without waking kswapd into a pass that would swap. Each
		 * such round asks them for more, so they run dry or it ends */
		pthread_mutex_unlock(&s2->lock);
		if (kswapd_direct_reclaim(s2->hp->kswapd, s2->cfg.thp ? FAULT_RECLAIM_PAGES : FAULT_RECLAIM_PAGES_SMALL,
					  &covered))
			fruitless = 0;
		else if (!covered && !kswapd_reclaim_wait(s2->hp->kswapd, FAULT_RECLAIM_WAIT_MS))
			fruitless++;
		pthread_mutex_lock(&s2->lock);
		if (!s2->ept || s2->dead) {
			ret = -ENOMEM;
			break;
		}
	}
	if (ret)
		fault_oom(s2, gfn, ret, oom_self);
	else if (s2->ept && !s2->dead)
		limits_high(s2);
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

/* --- lifecycle ---------------------------------------------------------- */

/*
 * Home frames need: a span in the pool; 4 KiB frames only (a 2 MiB frame
 * wants a PMD, which UFFDIO_CONTINUE on shmem does not make); no hugetlb;
 * one pool node (a home range is one node's memory, and NUMA migration
 * would move a page away from home); and minor faults on shmem, which is
 * how a page already in the file is mapped. Any other guest keeps mapping
 * frames wherever they are.
 */
static bool home_eligible(const struct stage2 *s2)
{
	return s2->hp->home.nr && !s2->cfg.thp && !s2->cfg.thp_collapse && !s2->cfg.hugetlb &&
	       s2->hp->mm->nr_nodes == 1 && !s2->cfg.numa.nr_cells && !s2->cfg.numa.balancing &&
	       (s2->uffd_features & UFFD_FEATURE_MINOR_SHMEM);
}

int stage2_create(struct stage2 *s2, struct host_pool *hp, struct guest_mem *mem, const struct stage2_config *cfg)
{
	int ret;

	memset(s2, 0, sizeof(*s2));
	s2->cfg = *cfg;
	s2->hp = hp;
	s2->mem = mem;
	s2->uffd = s2->stop_fd = s2->pagemap_fd = -1;
	s2->fwd_fd[0] = s2->fwd_fd[1] = -1;
	pthread_mutex_init(&s2->lock, NULL);
	gmm_lruvec_init(&s2->lru);
	pthread_cond_init(&s2->io_done, NULL);
	if (!cfg->fault_around_pages || cfg->fault_around_pages > HUGE_FRAMES ||
	    (cfg->fault_around_pages & (cfg->fault_around_pages - 1)))
		return -EINVAL;
	s2->table_ops = (struct ept_table_ops){
		.alloc_table = s2_alloc_table, .free_table = s2_free_table, .table_va = s2_table_va, .ctx = s2,
	};
	ret = ept_create(&s2->table_ops, &s2->ept);
	if (ret)
		return ret;
	s2->uffd = uffd_open(&s2->uffd_features);
	if (s2->uffd < 0)
		return s2->uffd;
	s2->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s2->stop_fd < 0)
		return -errno;
	/* only a guest that maps 2 MiB frames takes the reserve's blocks
	 * (take_block()): for the others they would sit in it, pool memory
	 * no guest can use (32 MiB of a 1 GiB pool) */
	if (!cfg->hugetlb && maps_huge_frames(s2))
		zero_reserve_want(&hp->reserve);
	s2->home = GMM_PFN_NONE;
	if (home_eligible(s2)) {
		const struct guest_mem_slot *last = &mem->slots[mem->nr_slots - 1];

		s2->home_nr = (last->gpa + last->bytes) >> GMM_FRAME_SHIFT;
		s2->home = home_range_get(&hp->home, s2->home_nr);
	}
	if (stage2_homed(s2) && cfg->self_serve) {
		uint64_t features;
		int fd = uffd_open_sigbus(&features);

		/* only where the kernel keeps every feature the plain one had */
		if (fd >= 0 && (features & s2->uffd_features) == s2->uffd_features &&
		    !pipe2(s2->fwd_fd, O_CLOEXEC | O_NONBLOCK)) {
			close(s2->uffd);
			s2->uffd = fd;
			s2->uffd_features = features;
			s2->self_served = true;
		} else if (fd >= 0) {
			close(fd);
		}
	}
	/* a homed window with swap is registered for uffd-wp too (its
	 * registration is hint_register()'s, from stage2_home_map()), so a
	 * page read back from swap can keep its slot while unwritten */
	if (stage2_homed(s2) && cfg->swap && uffd_wp_available(s2))
		s2->swap_keep = !stage2_pagemap_open(s2);
	return 0;
}

struct leaf_batch {
	pfn_t *small;
	size_t nr_small, cap_small;
	pfn_t huge[64];
	size_t nr_huge;
};

static int collect_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct leaf_batch *b = arg;

	(void)gfn;
	if (!ept_entry_present(entry))
		return 0;
	if (order == HUGE_ORDER) {
		b->huge[b->nr_huge++] = ept_entry_pfn(entry);
		return b->nr_huge == sizeof(b->huge) / sizeof(b->huge[0]) ? 1 : 0;
	}
	b->small[b->nr_small++] = ept_entry_pfn(entry);
	return b->nr_small == b->cap_small ? 1 : 0;
}

/* The guest's pages in swap: their slots go back (once: the EPT goes
 * with the release). */
static int drop_swapped_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	(void)gfn;
	(void)order;
	if (ept_entry_state(entry) == EPT_STATE_SWAPPED)
		swap_entry_drop(arg, entry);
	return 0;
}

/* Unmap and free one batch of leaves; the window no longer maps them. */
static void free_batch(struct stage2 *s2, struct leaf_batch *b)
{
	for (size_t i = 0; i < b->nr_small; i++) {
		struct gmm_frame *f = host_pool_frame(s2->hp, b->small[i]);

		ept_unmap(s2->ept, f->gfn, 0, NULL);
		rmap_del(s2, b->small[i], 1, 0);
	}
	qsort(b->small, b->nr_small, sizeof(pfn_t), host_pool_cmp_pfn);
	host_pool_free_frames(s2->hp, b->small, b->nr_small);
	for (size_t i = 0; i < b->nr_huge; i++) {
		struct gmm_frame *f = host_pool_frame(s2->hp, b->huge[i]);

		ept_unmap(s2->ept, f->gfn, HUGE_ORDER, NULL);
		rmap_del(s2, b->huge[i], 1, HUGE_ORDER);
		free_huge_leaf(s2, b->huge[i]);
	}
	atomic_fetch_sub_explicit(&s2->resident_frames, b->nr_small + b->nr_huge * HUGE_FRAMES,
				  memory_order_relaxed);
	b->nr_small = b->nr_huge = 0;
}

/*
 * Give every frame and table back. The caller has stopped the fault
 * thread and unmapped the whole window, so no mapping of these frames is
 * left anywhere when they are punched and freed.
 */
void stage2_release(struct stage2 *s2)
{
	struct leaf_batch b = { .cap_small = 4096 };

	if (s2->ept) {
		b.small = malloc(b.cap_small * sizeof(pfn_t));
		pthread_mutex_lock(&s2->lock);
		while (s2->io_in_flight) /* a reclaim's writes settle their frames first */
			pthread_cond_wait(&s2->io_done, &s2->lock);
		for (int i = 0; i < NR_EPT_STAT_ITEMS; i++)
			s2->final_ept[i] = ept_stat(s2->ept, i);
		s2->final_resident = atomic_load(&s2->resident_frames);
		s2->final_tables = atomic_load(&s2->table_frames);
		s2->final_cursor = stage2_cursor_frames(s2);
		s2->released = true;
		if (s2->cfg.swap)
			ept_walk(s2->ept, 0, EPT_GFN_LIMIT, drop_swapped_leaf, s2);
		swap_keep_release(s2); /* the resident pages' kept slots */
		while (b.small && ept_walk(s2->ept, 0, EPT_GFN_LIMIT, collect_leaf, &b) >= 0 &&
		       (b.nr_small || b.nr_huge))
			free_batch(s2, &b);
		cursor_release(s2);
		hint_ahead_free(s2);
		home_release(s2);
		ept_destroy(s2->ept);
		s2->ept = NULL; /* under the lock: stats and translate look at it */
		stage2_balloon_free(s2);
		atomic_store(&s2->balloon_pending_pages, 0);
		pthread_mutex_unlock(&s2->lock);
		free(b.small);
	}
	if (s2->uffd >= 0)
		close(s2->uffd);
	if (s2->stop_fd >= 0)
		close(s2->stop_fd);
	for (int i = 0; i < 2; i++)
		if (s2->fwd_fd[i] >= 0)
			close(s2->fwd_fd[i]);
	s2->fwd_fd[0] = s2->fwd_fd[1] = -1;
	if (s2->pagemap_fd >= 0)
		close(s2->pagemap_fd);
	s2->uffd = s2->stop_fd = s2->pagemap_fd = -1;
	s2->dirty_mode = STAGE2_DIRTY_OFF;
}

void stage2_destroy(struct stage2 *s2)
{
	stage2_release(s2);
	gmm_lruvec_destroy(&s2->lru);
	pthread_cond_destroy(&s2->io_done);
	pthread_mutex_destroy(&s2->lock);
}
