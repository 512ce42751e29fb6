/*
 * Huge frames after the fault: splitting a 2 MiB frame when part of it
 * goes away, and collapsing 512 4 KiB frames into one (khugepaged one
 * level up). See stage2.h and docs/thp.md.
 */
#include "vmm/stage2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/buddy.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/stage2_internal.h"

/*
 * split_huge_page(): the 2 MiB leaf over gfn becomes 512 4 KiB entries of
 * the same frames, and the frame block 512 order-0 frames each with its
 * own reverse map, so single pages can be unmapped and freed. The host
 * mapping is left alone: it still maps the same pool range, and the
 * kernel splits its PMD when a 4 KiB piece is remapped.
 */
int split_locked(struct stage2 *s2, gfn_t gfn)
{
	gfn_t g2 = gfn & ~(gfn_t)(HUGE_FRAMES - 1);
	uint64_t e;
	unsigned order;
	pfn_t pfn;
	bool idle;
	int ret;

	if (ept_lookup(s2->ept, g2, &e, &order) || !ept_entry_present(e) || order != HUGE_ORDER)
		return -EINVAL;
	pfn = ept_entry_pfn(e);
	if (host_pool_hugetlb(s2->hp, pfn))
		return -EINVAL; /* a hugetlb page is never split */
	ret = ept_split(s2->ept, g2);
	if (ret)
		return ret;
	idle = frame_test_idle(host_pool_frame(s2->hp, pfn));
	rmap_del(s2, pfn, 1, HUGE_ORDER); /* the head leaves the LRU, 512 frames join */
	ret = gmm_split_frames(s2->hp->mm, pfn, HUGE_ORDER);
	if (ret)
		return ret;
	rmap_add(s2, g2, pfn, HUGE_FRAMES, 0);
	/* an armed frame's PMD is gone: so are its pieces' PTEs, each armed */
	for (unsigned i = 0; idle && i < HUGE_FRAMES; i++)
		frame_set_idle(host_pool_frame(s2->hp, pfn + i));
	s2_count(s2, S2_THP_SPLIT, 1);
	return 0;
}

int stage2_split(struct stage2 *s2, gfn_t gfn)
{
	int ret;

	pthread_mutex_lock(&s2->lock);
	ret = s2->ept && !s2->stopping ? split_locked(s2, gfn) : -ENODEV;
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

/* Unmap and free the present 4 KiB pages of [gfn, gfn+nr): window first,
 * then the EPT, then the frames (punched). */
static long unmap_small_locked(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	pfn_t *run = malloc(nr * sizeof(pfn_t));
	uint64_t n = 0;
	int ret;

	if (!run)
		return -ENOMEM;
	ret = realize_unmap(s2, gfn, nr);
	if (ret) {
		free(run);
		return ret;
	}
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t old;

		if (ept_unmap(s2->ept, gfn + i, 0, &old))
			continue;
		if (!ept_entry_present(old)) {
			swap_entry_drop(s2, old);
			continue;
		}
		run[n] = ept_entry_pfn(old);
		rmap_del(s2, run[n], 1, 0);
		n++;
	}
	host_pool_free_frames(s2->hp, run, n);
	atomic_fetch_sub_explicit(&s2->resident_frames, n, memory_order_relaxed);
	free(run);
	return (long)n;
}

/*
 * A hugetlb page mapped over g (its 2 MiB leaf's frame at pfn): unmapped
 * and freed if [gfn, gfn+nr) covers it whole, else left alone, like the
 * kernel's hugetlb, which never splits a page. Returns the frames freed;
 * *next is where the caller goes on.
 */
static uint64_t unmap_hugetlb_locked(struct stage2 *s2, struct hugetlb_region *r, gfn_t g, pfn_t pfn,
				     gfn_t gfn, uint64_t nr, gfn_t *next)
{
	uint64_t page = 1ULL << r->order;
	gfn_t p0 = g & ~(gfn_t)(page - 1);

	if (p0 < gfn || p0 + page > gfn + nr) {
		*next = (g | (HUGE_FRAMES - 1)) + 1;
		return 0;
	}
	*next = p0 + page;
	realize_unmap(s2, p0, page);
	pfn &= ~(pfn_t)(page - 1);
	for (uint64_t i = 0; i < page; i += HUGE_FRAMES) {
		ept_unmap(s2->ept, p0 + i, HUGE_ORDER, NULL);
		hugetlb_put_unit(r, pfn + i);
	}
	atomic_fetch_sub(&s2->resident_frames, page);
	return page;
}

/*
 * Give guest pages [gfn, gfn+nr) back to the pool (a balloon, a discard):
 * a 2 MiB frame wholly inside the range goes back whole; one the range
 * only covers in part is split first, and only the covered pages go; a
 * hugetlb page goes only whole (unmap_hugetlb_locked()).
 * The next touch of any of them is a fresh zero page. Returns the pages
 * freed.
 */
long stage2_unmap_range(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	long freed = 0;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping) {
		pthread_mutex_unlock(&s2->lock);
		return -ENODEV;
	}
	for (gfn_t g = gfn; g < gfn + nr;) {
		gfn_t g2 = g & ~(gfn_t)(HUGE_FRAMES - 1), end = g2 + HUGE_FRAMES;
		uint64_t e;
		unsigned order;
		long n;

		if (end > gfn + nr)
			end = gfn + nr;
		if (!ept_lookup(s2->ept, g, &e, &order) && ept_entry_present(e) && order == HUGE_ORDER) {
			struct hugetlb_region *r = host_pool_hugetlb(s2->hp, ept_entry_pfn(e));

			if (r) {
				freed += (long)unmap_hugetlb_locked(s2, r, g, ept_entry_pfn(e), gfn, nr, &g);
				continue;
			}
			if (g == g2 && end == g2 + HUGE_FRAMES) {
				/* the whole huge frame: no split; never freed
				 * while the window may still map it */
				if (realize_unmap(s2, g2, HUGE_FRAMES))
					break;
				ept_unmap(s2->ept, g2, HUGE_ORDER, NULL);
				rmap_del(s2, ept_entry_pfn(e), 1, HUGE_ORDER);
				host_pool_free(s2->hp, ept_entry_pfn(e), HUGE_ORDER);
				atomic_fetch_sub(&s2->resident_frames, HUGE_FRAMES);
				freed += HUGE_FRAMES;
				g = end;
				continue;
			}
			if (split_locked(s2, g))
				break;
		}
		n = unmap_small_locked(s2, g, end - g);
		if (n < 0)
			break;
		freed += n;
		g = end;
	}
	pthread_mutex_unlock(&s2->lock);
	return freed;
}

struct collapse_scan {
	pfn_t pfns[HUGE_FRAMES];
	unsigned present;
	bool other;              /* a 2 MiB leaf or a software entry */
};

static int scan_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct collapse_scan *c = arg;

	if (order || !ept_entry_present(entry)) {
		c->other = true;
		return 1;
	}
	c->pfns[gfn & (HUGE_FRAMES - 1)] = ept_entry_pfn(entry);
	c->present++;
	return 0;
}

static bool frames_in_place(const struct collapse_scan *c)
{
	if (c->pfns[0] & (HUGE_FRAMES - 1))
		return false;
	for (unsigned i = 1; i < HUGE_FRAMES; i++)
		if (c->pfns[i] != c->pfns[0] + i)
			return false;
	return true;
}

/* The 512 frames are one aligned block already (the fault path's blocks
 * make this common): merge them and map the range as one 2 MiB frame. */
static int collapse_in_place(struct stage2 *s2, gfn_t g2, const struct collapse_scan *c)
{
	pfn_t pfn = c->pfns[0];
	int ret;

	rmap_del(s2, pfn, HUGE_FRAMES, 0); /* 512 frames leave the LRU, the head joins */
	ret = gmm_merge_frames(s2->hp->mm, pfn, HUGE_ORDER);
	if (ret) {
		rmap_add(s2, g2, pfn, HUGE_FRAMES, 0);
		return ret;
	}
	ret = ept_collapse(s2->ept, g2);
	if (ret) {
		gmm_split_frames(s2->hp->mm, pfn, HUGE_ORDER);
		rmap_add(s2, g2, pfn, HUGE_FRAMES, 0);
		return ret;
	}
	rmap_add(s2, g2, pfn, HUGE_FRAMES, HUGE_ORDER);
	/* one huge mapping of the same pool range replaces 512 small ones;
	 * if the host refuses, the small ones stay, mapping the same pages */
	ret = realize_map(s2, g2, pfn, HUGE_FRAMES);
	if (!ret)
		s2_count(s2, S2_THP_COLLAPSE_INPLACE, 1);
	return ret;
}

/* The window range could not be mapped again after the EPT changed: the
 * guest cannot go on correctly; stop it, as an out-of-memory fault does. */
static void collapse_fatal(struct stage2 *s2, gfn_t g2, int err)
{
	char why[160];

	s2_count(s2, S2_BAD_FAULTS, 1);
	if (s2->dead)
		return;
	s2->dead = true;
	snprintf(why, sizeof(why), "collapse of gpa %#llx: cannot map the new 2 MiB frame: %s",
		 (unsigned long long)(g2 << GMM_FRAME_SHIFT), strerror(-err));
	log_error("%s: %s", s2->cfg.name, why);
	if (s2->cfg.oom)
		s2->cfg.oom(s2->cfg.ctx, why);
}

/*
 * The frames are scattered: copy them into a fresh 2 MiB block. The
 * window range is unmapped first, so a vCPU touching it meanwhile waits
 * on the fault thread (which waits for s2->lock) and never writes a page
 * being copied.
 */
static int collapse_copy(struct stage2 *s2, gfn_t g2, const struct collapse_scan *c)
{
	struct gmm_pool *mm = s2->hp->mm;
	pfn_t huge = take_block(s2, g2, true);
	pfn_t old[HUGE_FRAMES];
	int ret;

	if (g2 < STAGE2_UNEVICTABLE_GFNS) {
		if (huge != GMM_PFN_NONE)
			host_pool_free(s2->hp, huge, HUGE_ORDER);
		return -EAGAIN; /* the system area never goes through the bridge */
	}
	if (huge == GMM_PFN_NONE)
		return -ENOMEM;
	ret = realize_unmap(s2, g2, HUGE_FRAMES);
	if (ret) {
		host_pool_free(s2->hp, huge, HUGE_ORDER);
		return ret;
	}
	for (unsigned i = 0; i < HUGE_FRAMES; i++) {
		memcpy(frame_mem(mm, huge + i), frame_mem(mm, c->pfns[i]), GMM_FRAME_SIZE);
		ept_unmap(s2->ept, g2 + i, 0, NULL);
		old[i] = c->pfns[i];
		rmap_del(s2, old[i], 1, 0);
	}
	ret = ept_map(s2->ept, g2, huge, HUGE_ORDER, PROT_GUEST);
	if (ret) {
		host_pool_free(s2->hp, huge, HUGE_ORDER);
		atomic_fetch_sub(&s2->resident_frames, HUGE_FRAMES);
	} else {
		rmap_add(s2, g2, huge, HUGE_FRAMES, HUGE_ORDER);
		ret = realize_map(s2, g2, huge, HUGE_FRAMES);
	}
	qsort(old, HUGE_FRAMES, sizeof(pfn_t), host_pool_cmp_pfn);
	host_pool_free_frames(s2->hp, old, HUGE_FRAMES);
	if (ret) {
		/* cannot happen short of the host refusing an mmap: the
		 * range's data is gone, so stop the guest; every frame is
		 * accounted and goes back with it */
		collapse_fatal(s2, g2, ret);
		uffd_wake(s2, g2, HUGE_FRAMES);
		return ret;
	}
	s2_count(s2, S2_THP_COLLAPSE_COPY, 1);
	uffd_wake(s2, g2, HUGE_FRAMES);
	return 0;
}

/* collapse_huge_page(): 0 if the 2 MiB range at g2 is one huge frame now,
 * -EAGAIN if it is not a candidate (not all 512 pages present in 4 KiB). */
static int collapse_locked(struct stage2 *s2, gfn_t g2)
{
	struct collapse_scan c = { .present = 0 };

	if (!guest_mem_gpa_to_hva(s2->mem, g2 << GMM_FRAME_SHIFT, HUGE_FRAMES << GMM_FRAME_SHIFT))
		return -EAGAIN;
	ept_walk(s2->ept, g2, g2 + HUGE_FRAMES, scan_leaf, &c);
	if (c.other || c.present != HUGE_FRAMES)
		return -EAGAIN;
	return frames_in_place(&c) ? collapse_in_place(s2, g2, &c) : collapse_copy(s2, g2, &c);
}

int stage2_collapse(struct stage2 *s2, gfn_t gfn)
{
	int ret;

	/* a homed guest has 4 KiB pages only, each at its place */
	if (stage2_homed(s2))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&s2->lock);
	ret = s2->ept && !s2->stopping ? collapse_locked(s2, gfn & ~(gfn_t)(HUGE_FRAMES - 1)) : -ENODEV;
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

/*
 * khugepaged_scan_mm_slot(): look at up to max_ranges 2 MiB ranges from
 * where the last scan stopped, collapse those fully populated with 4 KiB
 * frames. The lock is taken per range so faults go on in between.
 * Returns ranges collapsed.
 */
long stage2_khugepaged_scan(struct stage2 *s2, long max_ranges)
{
	long collapsed = 0;

	if (!s2->cfg.thp_collapse)
		return 0;
	for (long i = 0; i < max_ranges; i++) {
		const struct guest_mem_slot *last = &s2->mem->slots[s2->mem->nr_slots - 1];
		gfn_t end = (last->gpa + last->bytes) >> GMM_FRAME_SHIFT;
		int ret;

		pthread_mutex_lock(&s2->lock);
		if (!s2->ept || s2->dead || s2->stopping) {
			pthread_mutex_unlock(&s2->lock);
			break;
		}
		if (s2->khugepaged_next >= end) {
			s2->khugepaged_next = 0;
			s2_count(s2, S2_KHUGEPAGED_FULL_SCANS, 1);
		}
		ret = collapse_locked(s2, s2->khugepaged_next);
		s2->khugepaged_next += HUGE_FRAMES;
		pthread_mutex_unlock(&s2->lock);
		if (!ret)
			collapsed++;
		else if (ret != -EAGAIN)
			s2_count(s2, S2_THP_COLLAPSE_FAILED, 1);
	}
	return collapsed;
}
