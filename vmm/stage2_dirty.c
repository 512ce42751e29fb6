/*
 * Write tracking: which guest pages were written since the last look,
 * harvested into the frames' dirty and referenced flags for reclaim (the
 * kernel's PG_dirty / PG_referenced, set there from the page table's
 * dirty and accessed bits). One interface, two mechanisms (stage2.h):
 *
 *   KVM: the memslots' dirty log. KVM write-protects its own stage-2
 *   entries and sets a bit per written page; KVM_GET_DIRTY_LOG returns
 *   the bitmap and re-protects.
 *
 *   uffd-wp: the window's mappings are registered with userfaultfd in
 *   write-protect mode with UFFD_FEATURE_WP_ASYNC, so the kernel resolves
 *   a write to a protected page itself (no message, ~1.5 us here) and
 *   clears the page's uffd-wp bit; PAGEMAP_SCAN reports the pages without
 *   it (PAGE_IS_WRITTEN) and write-protects them again in the same walk,
 *   like soft-dirty with a clear. Also sees gmm's own writes through the
 *   window, which KVM's log does not.
 *
 * Everything runs under s2->lock: the window does not change meanwhile.
 */
#include "vmm/stage2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "guestmm/pool.h"
#include "vmm/clock.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/kvm_compat.h"
#include "vmm/stage2_internal.h"

#define SCAN_REGIONS 512 /* page_region entries per PAGEMAP_SCAN call */

const char *stage2_dirty_mode_name(enum stage2_dirty_mode mode)
{
	switch (mode) {
	case STAGE2_DIRTY_KVM:     return "kvm-dirty-log";
	case STAGE2_DIRTY_UFFD_WP: return "uffd-wp";
	default:                   return "off";
	}
}

bool uffd_wp_available(const struct stage2 *s2)
{
	uint64_t need = UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_ASYNC;

	return (s2->uffd_features & need) == need;
}

int stage2_pagemap_open(struct stage2 *s2)
{
	if (s2->pagemap_fd < 0)
		s2->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return s2->pagemap_fd < 0 ? -errno : 0;
}

/* One walk over [start, end) of the window: report the written pages as
 * a bitmap relative to start and write-protect them again. */
static int wp_scan(struct stage2 *s2, uint64_t start, uint64_t end, uint64_t *bitmap)
{
	struct page_region vec[SCAN_REGIONS];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (uint64_t)vec,
		.vec_len = SCAN_REGIONS,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	while (a.start < end) {
		long n = ioctl(s2->pagemap_fd, PAGEMAP_SCAN, &a);

		if (n < 0)
			return -errno;
		for (long i = 0; bitmap && i < n; i++)
			for (uint64_t p = (vec[i].start - start) >> 12; p < (vec[i].end - start) >> 12; p++)
				bitmap[p / 64] |= 1ULL << (p % 64);
		a.start = a.walk_end; /* the walk stops early when vec is full */
	}
	return 0;
}

/* Protect (on) or unprotect (off) all RAM of the window. */
static int wp_all(struct stage2 *s2, bool on)
{
	for (int i = 0; i < s2->mem->nr_slots; i++) {
		const struct guest_mem_slot *sl = &s2->mem->slots[i];
		struct uffdio_writeprotect wp = {
			.range = { .start = (uint64_t)sl->hva, .len = sl->bytes },
			.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
		};

		if (ioctl(s2->uffd, UFFDIO_WRITEPROTECT, &wp))
			return -errno;
	}
	return 0;
}

static int start_uffd_wp(struct stage2 *s2)
{
	int ret;

	if (!uffd_wp_available(s2))
		return -EOPNOTSUPP;
	ret = stage2_pagemap_open(s2);
	if (ret)
		return ret;
	/* the bits are the harvest's now: it sets them on written pages */
	swap_kept_drop_all(s2);
	s2->dirty_mode = STAGE2_DIRTY_UFFD_WP;
	/* every VMA of the RAM, mapped or not, gains write-protect mode; the
	 * pool mappings keep their minor mode in the same call (an evicted
	 * page's mapping without it would let the kernel map whatever the
	 * pool offset holds now) */
	if (minor_registered(s2)) {
		ret = hint_register_window(s2);
		if (ret)
			goto fail;
	} else {
		for (int i = 0; i < s2->mem->nr_slots; i++) {
			ret = stage2_register(s2, s2->mem->slots[i].hva, s2->mem->slots[i].bytes);
			if (ret)
				goto fail;
		}
	}
	ret = wp_all(s2, true);
	if (!ret)
		return 0;
fail:
	s2->dirty_mode = STAGE2_DIRTY_OFF; /* the pagemap fd stays: the guest's */
	return ret;
}

static int start_kvm(struct stage2 *s2)
{
	const struct stage2_dirty_ops *ops = s2->cfg.dirty_ops;
	int ret = 0, i;

	for (i = 0; i < s2->mem->nr_slots && !ret; i++)
		ret = ops->enable(ops->ctx, i, true);
	if (ret) {
		while (--i >= 0)
			ops->enable(ops->ctx, i, false);
		return ret;
	}
	s2->dirty_mode = STAGE2_DIRTY_KVM;
	return 0;
}

int stage2_dirty_start(struct stage2 *s2)
{
	int ret;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping)
		ret = -ENODEV;
	else if (s2->dirty_mode != STAGE2_DIRTY_OFF)
		ret = -EALREADY;
	else
		ret = s2->cfg.dirty_ops ? start_kvm(s2) : start_uffd_wp(s2);
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

static int stop_locked(struct stage2 *s2)
{
	const struct stage2_dirty_ops *ops = s2->cfg.dirty_ops;
	int ret = 0;

	switch (s2->dirty_mode) {
	case STAGE2_DIRTY_KVM:
		for (int i = 0; i < s2->mem->nr_slots; i++)
			ret = ops->enable(ops->ctx, i, false) ?: ret;
		break;
	case STAGE2_DIRTY_UFFD_WP:
		/* writes run free again; the VMAs keep their registration, and
		 * a later start registers the whole RAM again anyway */
		ret = wp_all(s2, false);
		break;
	default:
		return -EALREADY;
	}
	s2->dirty_mode = STAGE2_DIRTY_OFF;
	return ret;
}

int stage2_dirty_stop(struct stage2 *s2)
{
	int ret;

	pthread_mutex_lock(&s2->lock);
	ret = s2->ept && !s2->stopping ? stop_locked(s2) : -ENODEV;
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

/* A written page: its frame (the head of a huge one) dirty and referenced,
 * its EPT leaf accessed and dirty. False if it is not present (a page
 * given back since: nothing to mark, nothing to report). */
static bool mark_written(struct stage2 *s2, gfn_t gfn)
{
	uint64_t e;
	unsigned order;
	struct gmm_frame *f;

	if (ept_lookup(s2->ept, gfn, &e, &order) || !ept_entry_present(e))
		return false;
	f = host_pool_frame(s2->hp, ept_entry_pfn(e));
	frame_set_dirty(f);
	frame_set_referenced(f);
	ept_mkyoung(s2->ept, gfn, true);
	return true;
}

static bool test_bit64(const uint64_t *bitmap, uint64_t i)
{
	return bitmap[i / 64] >> (i % 64) & 1;
}

static int fetch_slot(struct stage2 *s2, int slot, uint64_t *bitmap)
{
	const struct guest_mem_slot *sl = &s2->mem->slots[slot];

	if (s2->dirty_mode == STAGE2_DIRTY_KVM)
		return s2->cfg.dirty_ops->fetch(s2->cfg.dirty_ops->ctx, slot, bitmap);
	return wp_scan(s2, (uint64_t)sl->hva, (uint64_t)sl->hva + sl->bytes, bitmap);
}

static long harvest_locked(struct stage2 *s2, void (*run)(void *arg, gfn_t gfn, uint64_t nr), void *arg)
{
	uint64_t t0 = mono_ns();
	long pages = 0;

	for (int i = 0; i < s2->mem->nr_slots; i++) {
		const struct guest_mem_slot *sl = &s2->mem->slots[i];
		uint64_t nr = sl->bytes >> GMM_FRAME_SHIFT, words = (nr + 63) / 64;
		uint64_t *bitmap = calloc(words, sizeof(uint64_t));
		gfn_t base = sl->gpa >> GMM_FRAME_SHIFT;
		int ret;

		if (!bitmap)
			return -ENOMEM;
		ret = fetch_slot(s2, i, bitmap);
		if (ret) {
			free(bitmap);
			return ret;
		}
		for (uint64_t p = 0; p < nr;) {
			uint64_t n = 0;

			if (!test_bit64(bitmap, p) || !mark_written(s2, base + p)) {
				p++;
				continue;
			}
			/* a run of written, present pages */
			for (n = 1; p + n < nr && test_bit64(bitmap, p + n) && mark_written(s2, base + p + n); n++)
				;
			if (run)
				run(arg, base + p, n);
			pages += (long)n;
			p += n;
		}
		free(bitmap);
	}
	s2->dirty_last_pages = (uint64_t)pages;
	s2->dirty_last_ns = mono_ns() - t0;
	s2_count(s2, S2_DIRTY_HARVESTS, 1);
	s2_count(s2, S2_DIRTY_PAGES, (uint64_t)pages);
	return pages;
}

void stage2_dirty_harvest_range_locked(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	uint64_t bitmap[HUGE_FRAMES / 64] = { 0 };
	uint64_t start = gfn_hva(s2, gfn);

	if (s2->dirty_mode != STAGE2_DIRTY_UFFD_WP || nr > HUGE_FRAMES ||
	    wp_scan(s2, start, start + (nr << GMM_FRAME_SHIFT), bitmap))
		return;
	for (uint64_t p = 0; p < nr; p++)
		if (test_bit64(bitmap, p))
			mark_written(s2, gfn + p);
}

long stage2_dirty_harvest_locked(struct stage2 *s2)
{
	return s2->dirty_mode == STAGE2_DIRTY_OFF ? -ENOTCONN : harvest_locked(s2, NULL, NULL);
}

long stage2_dirty_harvest(struct stage2 *s2, void (*run)(void *arg, gfn_t gfn, uint64_t nr), void *arg)
{
	long ret;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping)
		ret = -ENODEV;
	else if (s2->dirty_mode == STAGE2_DIRTY_OFF)
		ret = -ENOTCONN;
	else
		ret = harvest_locked(s2, run, arg);
	pthread_mutex_unlock(&s2->lock);
	return ret;
}
