/*
 * Reclaim of one guest's frames to swap, and swap-in on the fault path:
 * shrink_lruvec() and do_swap_page() one level up (docs/reclaim.md).
 *
 * Eviction of a batch, like shrink_folio_list() + try_to_unmap() +
 * swap_writepage():
 *   under s2->lock: slots for the batch (in gfn order, so neighbours land
 *     in neighbouring slots), each page unmapped from the window and its
 *     EPT entry made SWAPPED(slot); the frame stays in the swap cache
 *     (cache[slot] = pfn) while its write is in flight;
 *   without the lock: the writes, batched (one pwritev per run of slots);
 *   under s2->lock again: a page whose write succeeded and whose entry
 *     still says SWAPPED(slot) has its frame freed; a failed write puts the
 *     page back as it was (nothing is lost: a frame is freed only after its
 *     write succeeded); a page the guest touched meanwhile was mapped back
 *     from the swap cache by the fault path, and only its slot goes.
 *
 * A 2 MiB frame is split first and its 512 pages evicted one by one: the
 * EPT keeps swap entries in 4 KiB entries, as the kernel keeps them in
 * PTEs, the 512 slots are consecutive (one write), and a later touch
 * brings back the pages the guest uses, not 2 MiB per fault.
 *
 * Workingset detection (mm/workingset.c): each guest has a clock,
 * nonresident_age, that ticks on every eviction and activation; the
 * shadow of a slot is the clock at its eviction. A swap-in whose refault
 * distance (clock now - shadow) is within the active list's size was
 * evicted too early: it goes straight to the active list.
 */
#include "vmm/stage2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/pool.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/stage2_internal.h"

#define SHRINK_BATCH 32U       /* SWAP_CLUSTER_MAX */
#define SWAPIN_READAHEAD 8U    /* pages read with a swap-in at most (1 << page_cluster, 3) */
#define EVICT_MAX HUGE_FRAMES  /* one split 2 MiB frame: one run of slots, one write */

struct stage2_swap {
	struct swap_device *dev;
	uint64_t nr_slots;           /* slot numbers are < nr_slots */
	_Atomic pfn_t *cache;        /* slot -> frame whose write is in flight */
	uint32_t *shadow;            /* slot -> owner's nonresident_age at eviction */
};

int stage2_swap_create(struct swap_device *dev, struct stage2_swap **out)
{
	struct stage2_swap *sw = calloc(1, sizeof(*sw));

	if (!sw)
		return -ENOMEM;
	sw->dev = dev;
	sw->nr_slots = swap_stat(dev, SWAP_TOTAL_SLOTS) + 1;
	sw->cache = malloc(sw->nr_slots * sizeof(*sw->cache));
	sw->shadow = calloc(sw->nr_slots, sizeof(*sw->shadow));
	if (!sw->cache || !sw->shadow) {
		stage2_swap_destroy(sw);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < sw->nr_slots; i++)
		atomic_init(&sw->cache[i], GMM_PFN_NONE);
	*out = sw;
	return 0;
}

void stage2_swap_destroy(struct stage2_swap *sw)
{
	if (!sw)
		return;
	free((void *)sw->cache);
	free(sw->shadow);
	free(sw);
}

struct swap_device *stage2_swap_device(struct stage2_swap *sw)
{
	return sw->dev;
}

static bool slot_valid(const struct stage2_swap *sw, uint64_t slot)
{
	return slot && slot < sw->nr_slots;
}

/*
 * A SWAPPED entry that goes away without a swap-in (the range was given
 * back, the guest stopped): its slot is freed, unless a write to it is
 * still in flight, whose completion frees it (it sees the entry gone).
 */
void swap_entry_drop(struct stage2 *s2, uint64_t entry)
{
	struct stage2_swap *sw = s2->cfg.swap;
	uint64_t slot = ept_swp_offset(entry);

	if (!sw || ept_entry_state(entry) != EPT_STATE_SWAPPED || !slot_valid(sw, slot))
		return;
	atomic_fetch_sub(&s2->swap_pages, 1);
	if (atomic_load(&sw->cache[slot]) == GMM_PFN_NONE)
		swap_free(sw->dev, slot);
}

/* --- eviction ----------------------------------------------------------- */

static int cmp_gfn(const void *a, const void *b, void *mm)
{
	gfn_t x = pfn_to_frame(mm, *(const pfn_t *)a)->gfn, y = pfn_to_frame(mm, *(const pfn_t *)b)->gfn;

	return x < y ? -1 : x > y;
}

/* Unmap the window over pfns[0..n) (sorted by gfn), a run of consecutive
 * gfns at a time, so the window is not cut into one VMA per page. Where
 * the pool mappings take minor faults, only the PTEs go (realize_zap()):
 * no VMA is made or unmade, mmap_lock is taken for reading, and a touch
 * of the page faults to gmm whatever the pool offset holds by then. */
static int unmap_runs(struct stage2 *s2, const pfn_t *pfns, unsigned n)
{
	struct gmm_pool *mm = s2->hp->mm;
	bool minor = minor_registered(s2);
	/* armed and untouched since (idle, under this lock): its PTEs went
	 * when it was armed, and only the fault path puts them back, clearing
	 * idle. Zapping again cost a madvise() a page. Not while a home
	 * window's arms run unlocked (arm_batch()): an idle page's zap may
	 * not have happened yet. */
	bool trust_idle = minor && !s2->arms_in_flight;

	for (unsigned i = 0; i < n;) {
		gfn_t g = pfn_to_frame(mm, pfns[i])->gfn;
		unsigned len = 1;
		int ret;

		if (trust_idle && frame_test_idle(pfn_to_frame(mm, pfns[i]))) {
			i++;
			continue;
		}
		while (i + len < n && pfn_to_frame(mm, pfns[i + len])->gfn == g + len &&
		       !(trust_idle && frame_test_idle(pfn_to_frame(mm, pfns[i + len]))))
			len++;
		ret = minor ? realize_zap(s2, g, len) : realize_unmap(s2, g, len);
		if (ret)
			return ret;
		s2_count(s2, S2_EVICT_ZAPS, 1);
		i += len;
	}
	return 0;
}

/* The write of one page is over: settle its frame and slot (lock held). */
static long evict_finish(struct stage2 *s2, pfn_t pfn, uint64_t slot, int status, pfn_t *to_free, unsigned *nr_free)
{
	struct stage2_swap *sw = s2->cfg.swap;
	struct gmm_frame *f = pfn_to_frame(s2->hp->mm, pfn);
	bool cached = atomic_exchange(&sw->cache[slot], GMM_PFN_NONE) == pfn;
	gfn_t gfn = f->gfn;
	uint64_t e;
	unsigned order;

	frame_clear_reclaim(f);
	if (!cached) {
		/* the guest touched it during the write: the fault path mapped
		 * the frame back from the swap cache; the copy is stale */
		swap_free(sw->dev, slot);
		return 0;
	}
	frame_clear_swapcache(f);
	if (s2->ept && !ept_lookup(s2->ept, gfn, &e, &order) && ept_entry_state(e) == EPT_STATE_SWAPPED &&
	    ept_swp_offset(e) == slot) {
		if (!status) {
			sw->shadow[slot] = (uint32_t)s2->nonresident_age++;
			to_free[(*nr_free)++] = pfn;
			s2_count(s2, S2_PGSTEAL, 1);
			s2_count(s2, S2_PSWPOUT, 1);
			return 1;
		}
		/* the write failed: the page goes back where it was */
		s2_count(s2, S2_SWAP_WRITE_FAILED, 1);
		if (!ept_map(s2->ept, gfn, pfn, 0, PROT_GUEST) && !realize_map(s2, gfn, pfn, 1)) {
			atomic_fetch_sub(&s2->swap_pages, 1);
			resident_add(s2, 1);
			rmap_add(s2, gfn, pfn, 1, 0);
			gmm_lru_move(s2->hp->mm, &s2->lru, pfn, true);
			swap_free(sw->dev, slot);
			uffd_wake(s2, gfn, 1);
			return 0;
		}
		log_error("%s: gpa %#llx: cannot map a page back after a failed swap write", s2->cfg.name,
			  (unsigned long long)(gfn << GMM_FRAME_SHIFT));
		return 0; /* the entry stays SWAPPED over a slot with no data: leak the frame, keep quiet */
	}
	/* the entry went away meanwhile (given back): frame and slot go */
	to_free[(*nr_free)++] = pfn;
	swap_free(sw->dev, slot);
	return 0;
}

/*
 * The pages of a zapped batch (sorted by gfn) that kept their slot
 * (stage2_swapcache.c) and whose PTE's marker is still write-protected:
 * unwritten since that slot was read, which still holds them. They go
 * back to it with no write (the entry SWAPPED(kept slot), the frame to
 * to_free), as reclaim frees a clean swap cache folio without pageout().
 * A kept slot whose page was written since is stale and freed. The pages
 * left to write stay in pfns, in order, and take the first of the fresh
 * slots (consecutive: one write still); the rest of those are freed.
 * Returns how many are left.
 */
static unsigned evict_clean_locked(struct stage2 *s2, pfn_t *pfns, const uint64_t *slots, unsigned n, pfn_t *to_free,
				   unsigned *nr_free)
{
	struct stage2_swap *sw = s2->cfg.swap;
	struct gmm_pool *mm = s2->hp->mm;
	unsigned left = 0, clean = 0;

	for (unsigned i = 0; i < n; i++) {
		struct gmm_frame *f = pfn_to_frame(mm, pfns[i]);
		uint64_t kept = swap_kept_take(s2, f->gfn);

		if (kept && swap_kept_clean(s2, f->gfn)) {
			ept_set_swapped(s2->ept, f->gfn, swap_type(sw->dev), kept, NULL);
			atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
			sw->shadow[kept] = (uint32_t)s2->nonresident_age++;
			to_free[(*nr_free)++] = pfns[i];
			clean++;
			continue;
		}
		if (kept) {
			swap_free(sw->dev, kept);
			s2_count(s2, S2_SWAPCACHE_DIRTIED, 1);
		}
		pfns[left++] = pfns[i];
	}
	for (unsigned i = left; i < n; i++)
		swap_free(sw->dev, slots[i]);
	if (clean) {
		atomic_fetch_sub(&s2->resident_frames, clean);
		atomic_fetch_add(&s2->swap_pages, clean);
		s2_count(s2, S2_PGSTEAL, clean);
		s2_count(s2, S2_PGSTEAL_CLEAN, clean);
	}
	return left;
}

/*
 * Evict pfns[0..n): isolated, unreferenced order-0 frames of this guest.
 * Called and returns with s2->lock held; drops it around the writes.
 * Returns the frames freed.
 */
static long evict_locked(struct stage2 *s2, pfn_t *pfns, unsigned n)
{
	struct stage2_swap *sw = s2->cfg.swap;
	struct gmm_pool *mm = s2->hp->mm;
	uint64_t slots[EVICT_MAX];
	void *pages[EVICT_MAX];
	int status[EVICT_MAX];
	pfn_t to_free[EVICT_MAX];
	unsigned got, left, nr_free = 0;
	long freed = 0;
	void *bounce = stage2_homed(s2) ? home_bounce() : NULL;
	int ret;

	if (stage2_homed(s2) && !bounce) {
		for (unsigned i = 0; i < n; i++)
			gmm_lru_putback(mm, &s2->lru, pfns[i], false);
		return 0;
	}
	qsort_r(pfns, n, sizeof(pfn_t), cmp_gfn, mm);
	if (s2->cfg.limits.swap_max != STAGE2_LIMIT_NONE) {
		uint64_t in_swap = atomic_load(&s2->swap_pages) + atomic_load(&s2->kept_pages);
		uint64_t max = s2->cfg.limits.swap_max;
		unsigned room = in_swap >= max ? 0 : (max - in_swap < n ? (unsigned)(max - in_swap) : n);

		if (room < n) {
			s2_count(s2, S2_MEMCG_SWAP_MAX, 1);
			for (unsigned i = room; i < n; i++)
				gmm_lru_putback(mm, &s2->lru, pfns[i], false);
			n = room;
		}
	}
	got = n ? swap_alloc_batch(sw->dev, s2->cfg.owner, n, slots) : 0;
	if (got < n && atomic_load(&s2->kept_pages)) {
		/* kept slots are a cache: with the device full, they go first */
		swap_kept_drop_all(s2);
		got += swap_alloc_batch(sw->dev, s2->cfg.owner, n - got, slots + got);
	}
	if (got < n) {
		s2_count(s2, S2_SWAP_FULL, n - got);
		for (unsigned i = got; i < n; i++)
			gmm_lru_putback(mm, &s2->lru, pfns[i], false);
		n = got;
	}
	if (!n)
		return 0;
	if (unmap_runs(s2, pfns, n)) {
		/* the host refused an mmap: leave everything as it was */
		for (unsigned i = 0; i < n; i++) {
			gmm_lru_putback(mm, &s2->lru, pfns[i], false);
			swap_free(sw->dev, slots[i]);
		}
		return 0;
	}
	/* unmapped: no write can come now, and the marker tells which
	 * pages kept slots that still hold them */
	left = atomic_load(&s2->kept_pages) ? evict_clean_locked(s2, pfns, slots, n, to_free, &nr_free) : n;
	freed = (long)(n - left);
	n = left;
	if (!n)
		goto free;
	for (unsigned i = 0; i < n; i++) {
		struct gmm_frame *f = pfn_to_frame(mm, pfns[i]);

		ept_set_swapped(s2->ept, f->gfn, swap_type(sw->dev), slots[i], NULL);
		atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
		f->private = slots[i];
		frame_set_swapcache(f);
		frame_set_reclaim(f);
		atomic_store(&sw->cache[slots[i]], pfns[i]);
		pages[i] = bounce ? (char *)bounce + ((size_t)i << GMM_FRAME_SHIFT) : frame_mem(mm, pfns[i]);
	}
	atomic_fetch_sub(&s2->resident_frames, n);
	atomic_fetch_add(&s2->swap_pages, n);
	s2->io_in_flight++;
	pthread_mutex_unlock(&s2->lock);
	/* a homed guest's pages are copied out of the file: read through
	 * gmm's view they would be mapped there, and the punch that frees
	 * them would have a PTE to zap and every CPU's TLB to flush */
	if (bounce && (ret = home_copy_out(s2, pfns, n, bounce))) {
		for (unsigned i = 0; i < n; i++)
			status[i] = ret;
	} else {
		swap_write_pages(sw->dev, slots, pages, n, status);
	}
	pthread_mutex_lock(&s2->lock);
	for (unsigned i = 0; i < n; i++)
		freed += evict_finish(s2, pfns[i], slots[i], status[i], to_free, &nr_free);
	if (--s2->io_in_flight == 0)
		pthread_cond_broadcast(&s2->io_done);
free:
	qsort(to_free, nr_free, sizeof(pfn_t), host_pool_cmp_pfn);
	/* written and unmapped: the next swap-ins read into them unpunched
	 * (frame_recycle.h); what does not fit is punched and freed */
	if (!stage2_homed(s2)) /* a home frame is punched in place */
		nr_free = (unsigned)frame_recycle_put(s2->hp, to_free, nr_free);
	host_pool_free_frames(s2->hp, to_free, nr_free);
	return freed;
}

/* A 2 MiB frame to evict: split it, take its 512 pages off the LRU, evict
 * them in batches. */
static long evict_huge_locked(struct stage2 *s2, pfn_t head)
{
	struct gmm_pool *mm = s2->hp->mm;
	gfn_t g2 = pfn_to_frame(mm, head)->gfn;
	pfn_t batch[HUGE_FRAMES];
	unsigned n = 0;
	uint64_t e;
	unsigned order;

	/* isolated while the lock was let go for an earlier write: still
	 * this guest's 2 MiB frame at that gfn? (unmapped and freed if not) */
	if (!s2->ept || pfn_to_frame(mm, head)->owner != s2->cfg.owner ||
	    ept_lookup(s2->ept, g2, &e, &order) || !ept_entry_present(e) || order != HUGE_ORDER ||
	    ept_entry_pfn(e) != head)
		return 0;
	if (s2->stopping) {
		gmm_lru_putback(mm, &s2->lru, head, false);
		return 0;
	}
	if (split_locked(s2, g2)) {
		gmm_lru_putback(mm, &s2->lru, head, true);
		return 0;
	}
	s2_count(s2, S2_THP_SPLIT_SWAP, 1);
	for (unsigned j = 0; j < HUGE_FRAMES; j++)
		if (gmm_lru_del(mm, &s2->lru, head + j))
			batch[n++] = head + j;
	return evict_locked(s2, batch, n);
}

/* shrink_active_list(): move up to nr pages from the active list's tail
 * to the inactive list; a referenced one (written or, through a hinting
 * fault, touched since the last look) goes round the active list once
 * more. A deactivated page is armed for a hinting fault: by the time it
 * reaches the inactive tail, reclaim knows whether it was used. */
static void shrink_active_locked(struct stage2 *s2, int nid, uint64_t nr)
{
	struct gmm_pool *mm = s2->hp->mm;
	bool hint = hint_enabled(s2);
	pfn_t batch[SHRINK_BATCH], arm[SHRINK_BATCH];
	uint64_t done = 0, pages;

	while (done < nr) {
		size_t n = gmm_lru_isolate(mm, &s2->lru, nid, LRU_ACTIVE_ANON, batch, SHRINK_BATCH, &pages);
		unsigned na = 0;

		if (!n)
			break;
		done += pages;
		s2_count(s2, S2_PGREFILL, pages);
		for (size_t i = 0; i < n; i++) {
			struct gmm_frame *f = pfn_to_frame(mm, batch[i]);
			bool again = frame_test_clear_referenced(f);

			if (!again && hint)
				arm[na++] = batch[i];
			gmm_lru_putback(mm, &s2->lru, batch[i], again);
			if (!again)
				s2_count(s2, S2_PGDEACTIVATE, frame_test_head(f) ? HUGE_FRAMES : 1);
		}
		hint_arm_locked(s2, arm, na);
	}
}

/* reclaim.victims=random: what reclaim does with no aging at all, the
 * baseline that shows what the LRU buys (bench-overcommit). Resident
 * pages are picked uniformly by gfn. */
static uint64_t random_next(struct stage2 *s2)
{
	/* xorshift64*: s2->lock serializes it */
	s2->rnd ^= s2->rnd >> 12;
	s2->rnd ^= s2->rnd << 25;
	s2->rnd ^= s2->rnd >> 27;
	return s2->rnd * 0x2545f4914f6cdd1dULL;
}

static long shrink_random_locked(struct stage2 *s2, uint64_t nr_to_scan)
{
	struct gmm_pool *mm = s2->hp->mm;
	uint64_t ram = 0, picked = 0;
	pfn_t batch[SHRINK_BATCH];
	unsigned n = 0;
	long freed = 0;

	if (!s2->rnd)
		s2->rnd = 0x9e3779b97f4a7c15ULL ^ s2->cfg.owner;
	for (int i = 0; i < s2->mem->nr_slots; i++)
		ram += s2->mem->slots[i].bytes >> GMM_FRAME_SHIFT;
	/* a bounded number of probes: a mostly empty guest gives little */
	for (uint64_t probe = 0; probe < 4 * nr_to_scan && picked < nr_to_scan && s2->ept && !s2->stopping;
	     probe++) {
		uint64_t at = random_next(s2) % ram, e;
		const struct guest_mem_slot *sl = s2->mem->slots;
		struct gmm_frame *f;
		unsigned order;
		pfn_t pfn;
		gfn_t gfn;

		while (at >= sl->bytes >> GMM_FRAME_SHIFT)
			at -= (sl++)->bytes >> GMM_FRAME_SHIFT;
		gfn = (sl->gpa >> GMM_FRAME_SHIFT) + at;
		if (ept_lookup(s2->ept, gfn, &e, &order) || !ept_entry_present(e))
			continue;
		pfn = ept_entry_pfn(e);
		f = pfn_to_frame(mm, pfn);
		if (host_pool_hugetlb(s2->hp, pfn) || !gmm_lru_del(mm, &s2->lru, pfn))
			continue; /* unevictable, or taken by someone else */
		picked += order ? HUGE_FRAMES : 1;
		s2_count(s2, S2_PGSCAN_RANDOM, order ? HUGE_FRAMES : 1);
		frame_clear_referenced(f);
		if (order) {
			freed += evict_huge_locked(s2, pfn);
			continue;
		}
		batch[n++] = pfn;
		if (n == SHRINK_BATCH) {
			freed += evict_locked(s2, batch, n);
			n = 0;
		}
	}
	if (n)
		freed += evict_locked(s2, batch, n);
	return freed;
}

long stage2_shrink(struct stage2 *s2, uint64_t nr_to_scan)
{
	return stage2_shrink_node(s2, GMM_LRU_ANY_NODE, nr_to_scan);
}

long stage2_shrink_node(struct stage2 *s2, int nid, uint64_t nr_to_scan)
{
	struct gmm_pool *mm = s2->hp->mm;
	uint64_t scanned = 0, rotated = 0, active, inactive, first, limit;
	bool hint = hint_enabled(s2);
	long freed = 0;

	if (!s2->cfg.swap)
		return 0;
	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping || s2->dead) {
		pthread_mutex_unlock(&s2->lock);
		return 0;
	}
	if (s2->hp->reclaim_random) {
		freed = shrink_random_locked(s2, nr_to_scan);
		pthread_mutex_unlock(&s2->lock);
		return freed;
	}
	/* what the guest wrote since the last look counts as a reference */
	if (s2->dirty_mode != STAGE2_DIRTY_OFF)
		stage2_dirty_harvest_locked(s2);
	/* inactive_is_low(): keep the inactive list at least the active's
	 * size, a share at a time as shrink_lruvec() scans the active list
	 * (its scan count, not the whole imbalance). Each page deactivated
	 * is armed, a zap; a fault reclaiming for itself asked for 64
	 * pages and, when it balanced the lists at once, armed thousands:
	 * 725 such stalls averaged 16 ms in bench-overcommit. */
	active = gmm_lru_node_pages(&s2->lru, nid, LRU_ACTIVE_ANON);
	inactive = gmm_lru_node_pages(&s2->lru, nid, LRU_INACTIVE_ANON);
	if (active > inactive) {
		uint64_t half_gap = (active - inactive) / 2 + 1;

		shrink_active_locked(s2, nid, half_gap < nr_to_scan ? half_gap : nr_to_scan);
	}
	/* get_scan_count()'s share of the inactive list: at most what was on
	 * it before this call, so the pages just deactivated (and armed) wait
	 * for a later call, and the guest has had the time to touch them. A
	 * list of pages never armed gives nothing on its first round: then go
	 * on (at most twice round both lists) until something is freed. */
	first = nr_to_scan < inactive ? nr_to_scan : inactive;
	limit = 2 * (active + inactive) + nr_to_scan;
	while ((scanned < first || (!freed && rotated && scanned < limit)) && s2->ept && !s2->stopping) {
		pfn_t batch[SHRINK_BATCH], evict[SHRINK_BATCH], huge[SHRINK_BATCH], arm[SHRINK_BATCH];
		uint64_t pages;
		size_t n = gmm_lru_isolate(mm, &s2->lru, nid, LRU_INACTIVE_ANON, batch, SHRINK_BATCH, &pages);
		unsigned ne = 0, nh = 0, na = 0;

		if (!n)
			break;
		scanned += pages;
		s2_count(s2, S2_PGSCAN, pages);
		for (size_t i = 0; i < n; i++) {
			struct gmm_frame *f = pfn_to_frame(mm, batch[i]);

			if (frame_test_clear_referenced(f)) {
				/* used since it was put here: a second chance */
				frame_clear_armed_early(f);
				gmm_lru_putback(mm, &s2->lru, batch[i], true);
				s2_count(s2, S2_PGACTIVATE, frame_test_head(f) ? HUGE_FRAMES : 1);
				s2->nonresident_age++;
			} else if (hint && !frame_test_idle(f)) {
				/* no test ran on it yet (new since its fault, or
				 * armed before a remap): arm it, look again later */
				arm[na++] = batch[i];
				gmm_lru_putback(mm, &s2->lru, batch[i], false);
				rotated += frame_test_head(f) ? HUGE_FRAMES : 1;
				s2_count(s2, S2_PGROTATED, frame_test_head(f) ? HUGE_FRAMES : 1);
			} else if (hint && frame_test_clear_armed_early(f)) {
				/* armed with a neighbour before its first visit
				 * here (arm_neighbours()): the round it would
				 * have been armed for, without the zap */
				gmm_lru_putback(mm, &s2->lru, batch[i], false);
				rotated++;
				s2_count(s2, S2_PGROTATED, 1);
			} else if (frame_test_head(f)) {
				huge[nh++] = batch[i];
			} else {
				evict[ne++] = batch[i];
			}
		}
		/* the small ones first; the huge ones wait on the list (nothing
		 * stays isolated while the lock is let go for a write), and are
		 * taken off again one at a time: still listed, still ours */
		for (unsigned i = 0; i < nh; i++)
			gmm_lru_putback(mm, &s2->lru, huge[i], false);
		if (ne)
			freed += evict_locked(s2, evict, ne);
		for (unsigned i = 0; i < nh; i++)
			if (s2->ept && !s2->stopping && gmm_lru_del(mm, &s2->lru, huge[i]))
				freed += evict_huge_locked(s2, huge[i]);
		/* last, with nothing isolated: a home window's arms let the
		 * lock go too (and check what they were given still maps) */
		hint_arm_locked(s2, arm, na);
	}
	pthread_mutex_unlock(&s2->lock);
	return freed;
}

/* --- swap-in ------------------------------------------------------------ */

/*
 * How many pages to read with a swap-in at gfn: __swapin_nr_pages() of
 * mm/swap_state.c, per guest as swap_vma_readahead() keeps it per VMA.
 * The kernel grows the window with the readahead hits (pages read ahead
 * that a later fault found in the swap cache) and, with no hits, reads
 * one page unless the fault is next to the previous one; a window halves
 * at most per fault. gmm maps the pages it reads ahead at once, so it
 * never sees their hits one at a time: a fault a little past the last
 * window (resident pages in between fault nothing) is the sign the guest
 * walked through it, every page of it a hit; a fault anywhere else, that
 * the pages read ahead were not wanted. Without this, every swap-in of a
 * zipf guest read 8 pages where it wanted one, and the 7 others (cold
 * neighbours evicted together) took frames from the hot set and were
 * written out again (docs/reclaim.md#swap-in-readahead).
 */
static unsigned swapin_nr_pages(struct stage2 *s2, gfn_t gfn)
{
	unsigned prev_win = s2->swap_ra_win ? s2->swap_ra_win : 1, pages;
	bool near = gfn > s2->swap_ra_prev && gfn - s2->swap_ra_prev <= s2->swap_ra_mapped + SWAPIN_READAHEAD;
	unsigned hits = near && s2->swap_ra_mapped ? s2->swap_ra_mapped - 1 : 0;

	pages = hits + 2;
	if (pages == 2) {
		if (!near)
			pages = 1;
	} else {
		unsigned roundup = 4;

		while (roundup < pages)
			roundup <<= 1;
		pages = roundup;
	}
	if (pages > SWAPIN_READAHEAD)
		pages = SWAPIN_READAHEAD;
	/* don't shrink readahead too fast */
	if (pages < prev_win / 2)
		pages = prev_win / 2;
	s2->swap_ra_win = pages;
	return pages;
}

/* The run to read with the page at gfn: it and up to max - 1 following
 * pages whose entries are SWAPPED in the following slots and not in the
 * swap cache (a power of two, for take_frames()). */
static unsigned readahead_run(struct stage2 *s2, gfn_t gfn, uint64_t slot, unsigned max)
{
	struct stage2_swap *sw = s2->cfg.swap;
	unsigned n = 1;

	while (n < max) {
		uint64_t e;
		unsigned order;

		if (!guest_mem_is_ram(s2->mem, (gfn + n) << GMM_FRAME_SHIFT) ||
		    ept_lookup(s2->ept, gfn + n, &e, &order) || ept_entry_state(e) != EPT_STATE_SWAPPED ||
		    ept_swp_offset(e) != slot + n || !slot_valid(sw, slot + n) ||
		    atomic_load(&sw->cache[slot + n]) != GMM_PFN_NONE)
			break;
		n++;
	}
	return 1U << (31 - __builtin_clz(n)); /* round down to a power of two */
}

/* A swapped page is back: a refault of a page evicted recently enough
 * (within the active list's size) goes to the active list. */
static void workingset_refault(struct stage2 *s2, pfn_t pfn, uint64_t slot)
{
	uint32_t distance = (uint32_t)s2->nonresident_age - s2->cfg.swap->shadow[slot];

	s2_count(s2, S2_WORKINGSET_REFAULT, 1);
	if (distance <= gmm_lru_pages(&s2->lru, LRU_ACTIVE_ANON) + gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON) / 2) {
		gmm_lru_move(s2->hp->mm, &s2->lru, pfn, true);
		frame_set_workingset(pfn_to_frame(s2->hp->mm, pfn));
		s2_count(s2, S2_WORKINGSET_ACTIVATE, 1);
		s2_count(s2, S2_PGACTIVATE, 1);
		s2->nonresident_age++;
	}
}

/*
 * do_swap_page(): the entry at gfn is SWAPPED. From the swap cache when
 * its write is still in flight (no read), else read with a little
 * readahead into fresh frames. 0, or -errno: -ENOMEM (no frame), -EIO (the
 * page cannot be read: its data is gone, the guest is stopped).
 */
int fault_swapin(struct stage2 *s2, gfn_t gfn, uint64_t entry, bool write)
{
	struct stage2_swap *sw = s2->cfg.swap;
	uint64_t slot = ept_swp_offset(entry), slots[SWAPIN_READAHEAD];
	void *pages[SWAPIN_READAHEAD];
	int status[SWAPIN_READAHEAD];
	unsigned n, ok = 0, keep_from;
	void *bounce;
	pfn_t pfn;

	if (!sw || !slot_valid(sw, slot))
		return -EIO;
	pfn = atomic_exchange(&sw->cache[slot], GMM_PFN_NONE);
	if (pfn != GMM_PFN_NONE) {
		/* the write completes without us and frees the slot */
		if (ept_map(s2->ept, gfn, pfn, 0, PROT_GUEST) || realize_map(s2, gfn, pfn, 1)) {
			atomic_store(&sw->cache[slot], pfn);
			return -ENOMEM;
		}
		frame_clear_swapcache(pfn_to_frame(s2->hp->mm, pfn));
		atomic_fetch_sub(&s2->swap_pages, 1);
		resident_add(s2, 1);
		rmap_add(s2, gfn, pfn, 1, 0);
		gmm_lru_move(s2->hp->mm, &s2->lru, pfn, true);
		s2_count(s2, S2_SWAPCACHE_HITS, 1);
		uffd_wake(s2, gfn, 1);
		return 0;
	}
	/* a homed guest's swap-in reads into the thread's buffer and copies
	 * it into the file and the window at once (home_copy_in()) */
	bounce = stage2_homed(s2) ? home_bounce() : NULL;
	if (stage2_homed(s2) && !bounce)
		return -ENOMEM;
	n = readahead_run(s2, gfn, slot, swapin_nr_pages(s2, gfn));
	pfn = take_frames_for_read(s2, n, gfn);
	if (pfn == GMM_PFN_NONE && n > 1)
		pfn = take_frames_for_read(s2, n = 1, gfn);
	if (pfn == GMM_PFN_NONE)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		slots[i] = slot + i;
		pages[i] = bounce ? (char *)bounce + ((size_t)i << GMM_FRAME_SHIFT) : frame_mem(s2->hp->mm, pfn + i);
	}
	swap_read_pages(sw->dev, slots, pages, n, status);
	if (status[0]) {
		pfn_t run[SWAPIN_READAHEAD];

		for (unsigned i = 0; i < n; i++)
			run[i] = pfn + i;
		host_pool_free_frames(s2->hp, run, n);
		return -EIO;
	}
	/* the readable prefix is mapped as one run */
	while (ok < n && !status[ok])
		ok++;
	/* the pages that keep their slots (stage2_swapcache.c): mapped
	 * write-protected; not the page of a write fault, which the write
	 * makes differ from its slot at once (do_swap_page() frees it too) */
	keep_from = bounce && swap_keep_wanted(s2) ? (write ? 1 : 0) : ok;
	for (unsigned i = 0; i < ok; i++)
		ept_map(s2->ept, gfn + i, pfn + i, 0, PROT_GUEST);
	if (ok) {
		unsigned mapped = bounce ? (unsigned)home_copy_in(s2, gfn, bounce, ok, keep_from)
					 : (realize_map(s2, gfn, pfn, ok) ? 0 : ok);

		for (unsigned i = mapped; i < ok; i++)
			ept_set_swapped(s2->ept, gfn + i, swap_type(sw->dev), slot + i, NULL);
		ok = mapped;
	}
	if (ok < n) {
		pfn_t run[SWAPIN_READAHEAD];

		for (unsigned i = ok; i < n; i++)
			run[i - ok] = pfn + i;
		host_pool_free_frames(s2->hp, run, n - ok);
	}
	if (!ok)
		return -ENOMEM;
	resident_add(s2, ok);
	atomic_fetch_sub(&s2->swap_pages, ok);
	rmap_add(s2, gfn, pfn, ok, 0);
	for (unsigned i = 0; i < ok; i++) {
		workingset_refault(s2, pfn + i, slot + i);
		if (i < keep_from || !swap_keep(s2, gfn + i, slot + i))
			swap_free(sw->dev, slot + i);
	}
	s2_count(s2, S2_PSWPIN, ok);
	s2->swap_ra_prev = gfn;
	s2->swap_ra_mapped = ok;
	uffd_wake(s2, gfn, ok);
	return 0;
}
