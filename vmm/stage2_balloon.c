/*
 * Ballooning on the stage-2 table (docs/balloon.md): what the guest's
 * balloon gives back becomes a BALLOONED entry and its frame goes back to
 * the buddy (punched out of the pool); a later touch of the page is a
 * fresh zero frame. Free page reporting gives back the same way but
 * leaves the entry NONE: the pages are still the guest's free memory.
 *
 * Huge frames: a guest balloons 4 KiB pages, and other VMMs cannot give
 * back memory ballooned out of a huge page. Here ballooned pages inside a
 * 2 MiB frame are *pending* (a bit per gfn, a count per 2 MiB unit) until
 * either all 512 are ballooned, and the frame goes back whole, unsplit
 * (the kernel's free of a whole folio), or stage2_balloon_flush() runs
 * (the device calls it once a burst of inflation pauses), which splits the
 * shmem-backed frame (split_huge_page()) and frees the ballooned pages.
 * A hugetlb page cannot be split: it goes back when every page of it is
 * ballooned, and what is still pending is counted (balloon_pending_pages).
 *
 * Everything here runs under s2->lock; the caller has copied the page
 * numbers out of guest memory first (never touch the window under it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/hugetlb.h"
#include "vmm/stage2_internal.h"

struct stage2_balloon {
	uint64_t nr_gfns;
	uint64_t *pending;       /* bit per gfn: ballooned, its huge frame still mapped */
	uint16_t *unit_pending;  /* per 2 MiB unit: pending pages in it */
};

static struct stage2_balloon *balloon_state(struct stage2 *s2)
{
	struct stage2_balloon *b = s2->balloon;
	uint64_t nr = s2->mem->span_bytes >> GMM_FRAME_SHIFT;

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->nr_gfns = nr;
	b->pending = calloc((nr + 63) / 64, sizeof(uint64_t));
	b->unit_pending = calloc(nr / HUGE_FRAMES + 1, sizeof(uint16_t));
	if (!b->pending || !b->unit_pending) {
		free(b->pending);
		free(b->unit_pending);
		free(b);
		return NULL;
	}
	s2->balloon = b;
	return b;
}

void stage2_balloon_free(struct stage2 *s2)
{
	struct stage2_balloon *b = s2->balloon;

	if (!b)
		return;
	free(b->pending);
	free(b->unit_pending);
	free(b);
	s2->balloon = NULL;
}

static bool pending_test(const struct stage2_balloon *b, gfn_t g)
{
	return (b->pending[g / 64] >> (g % 64)) & 1;
}

/* Forget the pending pages of the 2 MiB unit at g2 (its frame went). */
static void unit_clear(struct stage2 *s2, struct stage2_balloon *b, gfn_t g2)
{
	uint16_t n = b->unit_pending[g2 / HUGE_FRAMES];

	memset(&b->pending[g2 / 64], 0, HUGE_FRAMES / 8);
	b->unit_pending[g2 / HUGE_FRAMES] = 0;
	atomic_fetch_sub(&s2->balloon_pending_pages, n);
}

/* Every gfn in [g, g+nr) is BALLOONED now; what was there goes: frames
 * (collected into pfns for one free), swap slots. The window no longer
 * maps any of it. Returns -errno from the realizer. */
static int balloon_small_locked(struct stage2 *s2, gfn_t g, uint64_t nr, pfn_t *pfns, size_t *nr_pfns)
{
	bool any_present = false;
	int ret;

	for (uint64_t i = 0; i < nr && !any_present; i++) {
		uint64_t e;
		unsigned order;

		any_present = !ept_lookup(s2->ept, g + i, &e, &order) && ept_entry_present(e);
	}
	/* only a mapped page needs the window changed (an mmap: the
	 * process-wide mmap_lock); the rest only change in the table */
	if (any_present && (ret = realize_unmap(s2, g, nr)))
		return ret;
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t old = 0;

		if (ept_set_ballooned(s2->ept, g + i, 0, &old))
			continue;
		if (ept_entry_present(old)) {
			pfn_t pfn = ept_entry_pfn(old);

			rmap_del(s2, pfn, 1, 0);
			pfns[(*nr_pfns)++] = pfn;
		} else if (ept_entry_state(old) == EPT_STATE_SWAPPED) {
			swap_entry_drop(s2, old);
		}
	}
	return 0;
}

/* The 2 MiB frame over g2 (THP or one unit of a hugetlb page) goes back
 * whole, every one of its pages ballooned: no split. */
static uint64_t balloon_whole_thp_locked(struct stage2 *s2, struct stage2_balloon *b, gfn_t g2, pfn_t pfn)
{
	if (realize_unmap(s2, g2, HUGE_FRAMES))
		return 0;
	ept_set_ballooned(s2->ept, g2, HUGE_ORDER, NULL);
	rmap_del(s2, pfn, 1, HUGE_ORDER);
	host_pool_free(s2->hp, pfn, HUGE_ORDER);
	atomic_fetch_sub(&s2->resident_frames, HUGE_FRAMES);
	unit_clear(s2, b, g2);
	s2_count(s2, S2_BALLOON_HUGE_WHOLE, 1);
	return HUGE_FRAMES;
}

/* A hugetlb page (of r->order) whose unit at g2 just filled up: if every
 * unit of the page is fully ballooned the page goes back, else it waits. */
static uint64_t balloon_hugetlb_locked(struct stage2 *s2, struct stage2_balloon *b, struct hugetlb_region *r,
				       gfn_t g2, pfn_t pfn)
{
	uint64_t page = 1ULL << r->order;
	gfn_t p0 = g2 & ~(gfn_t)(page - 1);

	if (p0 + page > b->nr_gfns)
		return 0;
	for (gfn_t u = p0; u < p0 + page; u += HUGE_FRAMES)
		if (b->unit_pending[u / HUGE_FRAMES] != HUGE_FRAMES)
			return 0;
	if (realize_unmap(s2, p0, page))
		return 0;
	pfn = (pfn - (g2 - p0)) & ~(pfn_t)(page - 1);
	for (uint64_t i = 0; i < page; i += HUGE_FRAMES) {
		ept_set_ballooned(s2->ept, p0 + i, HUGE_ORDER, NULL);
		hugetlb_put_unit(r, pfn + i);
		unit_clear(s2, b, p0 + i);
	}
	atomic_fetch_sub(&s2->resident_frames, page);
	s2_count(s2, S2_BALLOON_HUGE_WHOLE, page / HUGE_FRAMES);
	return page;
}

/* Pages [g, g+nr) of the 2 MiB leaf at g2 are ballooned: pending until the
 * frame is wholly ballooned. Returns frames freed. */
static uint64_t balloon_in_huge_locked(struct stage2 *s2, struct stage2_balloon *b, gfn_t g, uint64_t nr,
				       gfn_t g2, uint64_t entry)
{
	pfn_t pfn = ept_entry_pfn(entry);
	struct hugetlb_region *r = host_pool_hugetlb(s2->hp, pfn);
	uint64_t added = 0;

	for (uint64_t i = 0; i < nr; i++) {
		gfn_t x = g + i;

		if (pending_test(b, x))
			continue;
		b->pending[x / 64] |= 1ULL << (x % 64);
		added++;
	}
	b->unit_pending[g2 / HUGE_FRAMES] += (uint16_t)added;
	atomic_fetch_add(&s2->balloon_pending_pages, added);
	if (b->unit_pending[g2 / HUGE_FRAMES] != HUGE_FRAMES)
		return 0;
	return r ? balloon_hugetlb_locked(s2, b, r, g2, pfn) : balloon_whole_thp_locked(s2, b, g2, pfn);
}

long stage2_balloon_inflate(struct stage2 *s2, const gfn_t *gfns, size_t n)
{
	struct stage2_balloon *b;
	pfn_t *pfns = malloc(n * sizeof(pfn_t) + 1);
	size_t nr_pfns = 0;
	uint64_t freed = 0;
	int ret = 0;

	if (!pfns)
		return -ENOMEM;
	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping || !(b = balloon_state(s2))) {
		ret = s2->ept && !s2->stopping ? -ENOMEM : -ENODEV;
		goto out;
	}
	for (size_t i = 0; i < n && !ret;) {
		gfn_t g = gfns[i], g2 = g & ~(gfn_t)(HUGE_FRAMES - 1);
		uint64_t len = 1, e;
		unsigned order;

		/* a run of consecutive gfns inside one 2 MiB unit */
		while (i + len < n && gfns[i + len] == g + len && ((g + len) & (HUGE_FRAMES - 1)))
			len++;
		i += len;
		if (g + len > b->nr_gfns)
			continue; /* the device checked; be safe */
		if (!ept_lookup(s2->ept, g, &e, &order) && ept_entry_present(e) && order == HUGE_ORDER) {
			freed += balloon_in_huge_locked(s2, b, g, len, g2, e);
		} else {
			size_t before = nr_pfns;

			ret = balloon_small_locked(s2, g, len, pfns, &nr_pfns);
			freed += nr_pfns - before;
		}
		s2_count(s2, S2_BALLOON_INFLATED, len);
	}
	qsort(pfns, nr_pfns, sizeof(pfn_t), host_pool_cmp_pfn);
	host_pool_free_frames(s2->hp, pfns, nr_pfns);
	atomic_fetch_sub_explicit(&s2->resident_frames, nr_pfns, memory_order_relaxed);
	s2_count(s2, S2_BALLOON_FREED, freed);
out:
	pthread_mutex_unlock(&s2->lock);
	free(pfns);
	return ret ? ret : (long)freed;
}

long stage2_balloon_flush(struct stage2 *s2)
{
	struct stage2_balloon *b;
	pfn_t *pfns = NULL;
	long freed = 0;

	pthread_mutex_lock(&s2->lock);
	b = s2->balloon;
	if (!s2->ept || s2->stopping || !b || !atomic_load(&s2->balloon_pending_pages))
		goto out;
	pfns = malloc(HUGE_FRAMES * sizeof(pfn_t));
	if (!pfns)
		goto out;
	for (gfn_t g2 = 0; g2 < b->nr_gfns; g2 += HUGE_FRAMES) {
		uint16_t n = b->unit_pending[g2 / HUGE_FRAMES];
		size_t nr_pfns = 0;
		uint64_t e;
		unsigned order;

		if (!n)
			continue;
		if (ept_lookup(s2->ept, g2, &e, &order) || !ept_entry_present(e) || order != HUGE_ORDER) {
			unit_clear(s2, b, g2); /* the frame went another way (reclaim) */
			continue;
		}
		if (host_pool_hugetlb(s2->hp, ept_entry_pfn(e)))
			continue; /* never split: waits for the rest of its page */
		if (split_locked(s2, g2))
			continue;
		s2_count(s2, S2_BALLOON_HUGE_SPLIT, 1);
		/* the pending pages, in runs, become BALLOONED 4 KiB entries */
		for (unsigned i = 0; i < HUGE_FRAMES;) {
			unsigned len = 0;

			while (i < HUGE_FRAMES && !pending_test(b, g2 + i))
				i++;
			while (i + len < HUGE_FRAMES && pending_test(b, g2 + i + len))
				len++;
			if (len && balloon_small_locked(s2, g2 + i, len, pfns, &nr_pfns))
				break;
			i += len;
		}
		unit_clear(s2, b, g2);
		qsort(pfns, nr_pfns, sizeof(pfn_t), host_pool_cmp_pfn);
		host_pool_free_frames(s2->hp, pfns, nr_pfns);
		atomic_fetch_sub_explicit(&s2->resident_frames, nr_pfns, memory_order_relaxed);
		freed += (long)nr_pfns;
	}
	s2_count(s2, S2_BALLOON_FREED, (uint64_t)freed);
out:
	pthread_mutex_unlock(&s2->lock);
	free(pfns);
	return freed;
}

long stage2_balloon_deflate(struct stage2 *s2, const gfn_t *gfns, size_t n)
{
	struct stage2_balloon *b;
	long back = 0;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping) {
		pthread_mutex_unlock(&s2->lock);
		return -ENODEV;
	}
	b = s2->balloon;
	for (size_t i = 0; i < n; i++) {
		gfn_t g = gfns[i];
		uint64_t e;
		unsigned order;

		if (b && g < b->nr_gfns && pending_test(b, g)) {
			/* still backed by its huge frame: simply not pending */
			b->pending[g / 64] &= ~(1ULL << (g % 64));
			b->unit_pending[g / HUGE_FRAMES]--;
			atomic_fetch_sub(&s2->balloon_pending_pages, 1);
			back++;
			continue;
		}
		if (ept_lookup(s2->ept, g, &e, &order) || ept_entry_state(e) != EPT_STATE_BALLOONED ||
		    ept_entry_present(e))
			continue; /* touched again already (a fresh frame) */
		if (order == HUGE_ORDER)
			ept_split(s2->ept, g & ~(gfn_t)(HUGE_FRAMES - 1)); /* 512 BALLOONED */
		/* NONE again: fault-around and 2 MiB frames may use it */
		ept_unmap(s2->ept, g, 0, NULL);
		back++;
	}
	s2_count(s2, S2_BALLOON_DEFLATED, (uint64_t)back);
	pthread_mutex_unlock(&s2->lock);
	return back;
}

long stage2_free_page_report(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	long freed = stage2_unmap_range(s2, gfn, nr);

	if (freed >= 0) {
		s2_count(s2, S2_REPORTED_PAGES, nr);
		s2_count(s2, S2_REPORTED_FREED, (uint64_t)freed);
	}
	return freed;
}

void stage2_balloon_owed(struct stage2 *s2, uint64_t pages)
{
	atomic_store(&s2->balloon_owed_pages, pages);
}

gfp_t fault_gfp(struct stage2 *s2)
{
	gfp_t gfp = FAULT_GFP;

	if (atomic_load_explicit(&s2->balloon_owed_pages, memory_order_relaxed)) {
		s2_count(s2, S2_BALLOON_OWED_ALLOCS, 1);
		gfp |= __GFP_HIGH;
	}
	return gfp;
}
