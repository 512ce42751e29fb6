/*
 * The swap cache's clean pages: a page read back from swap keeps its slot
 * while the guest only reads it, so evicting it again writes nothing.
 *
 * The kernel keeps a swapped-in folio in the swap cache with its swap
 * entry (do_swap_page() frees the entry only on a write fault or with
 * swap half full, should_try_to_free_swap()); reclaim finds the folio
 * clean (no PTE dirty bit) and frees it without pageout(). gmm has no
 * dirty bit of its own on the guest's PTEs, so a homed window (a
 * MAP_SHARED mapping of the pool file, stage2_home.c) is registered for
 * uffd-wp with UFFD_FEATURE_WP_ASYNC, measured here (Linux 6.18, shmem):
 *
 *   - UFFDIO_COPY_MODE_WP maps the page write-protected: +0.2 us a copy;
 *   - a read keeps the bit; the first write clears it in the kernel with
 *     no message to gmm: +11 us, once per page written after a swap-in;
 *   - MADV_DONTNEED (a hinting arm, an eviction's zap) and a punch leave
 *     a PTE marker that keeps the bit, and pagemap reports it (PM_UFFD_WP,
 *     bit 57): 2.4 us a pread();
 *   - UFFDIO_CONTINUE drops the marker unless given UFFDIO_CONTINUE_MODE_WP,
 *     so the hinting fault of an armed clean page asks for it (below).
 *
 * The one rule: a slot is kept only while the bit has stayed set since
 * the swap-in that read the page from it. Everything that could change
 * the page without the window seeing a write drops the slot instead: a
 * write fault (the page comes in unprotected), a mapping made without
 * the bit, the page leaving by any way but eviction (rmap_del()), uffd-wp
 * write tracking starting (its harvest sets bits of its own).
 */
#include "vmm/stage2.h"

#include <stdlib.h>
#include <unistd.h>

#include "vmm/guest_mem.h"
#include "vmm/stage2_internal.h"
#include "vmm/swap.h"

#define PM_UFFD_WP (1ULL << 57) /* /proc/pid/pagemap: PTE or marker write-protected */

static struct swap_device *keep_dev(const struct stage2 *s2)
{
	return stage2_swap_device(s2->cfg.swap);
}

bool swap_keep_wanted(struct stage2 *s2)
{
	struct swap_device *dev;
	uint64_t max = s2->cfg.limits.swap_max;

	if (!s2->swap_keep || !s2->cfg.swap || s2->dirty_mode == STAGE2_DIRTY_UFFD_WP)
		return false;
	dev = keep_dev(s2);
	if (2 * swap_stat(dev, SWAP_USED_SLOTS) >= swap_stat(dev, SWAP_TOTAL_SLOTS))
		return false;
	return max == STAGE2_LIMIT_NONE || 2 * (atomic_load(&s2->swap_pages) + atomic_load(&s2->kept_pages)) < max;
}

bool swap_keep(struct stage2 *s2, gfn_t gfn, uint64_t slot)
{
	if (slot > UINT32_MAX)
		return false;
	if (!s2->kept_slot) {
		/* one entry per gfn of the window, zero pages until used */
		s2->kept_nr = s2->home_nr;
		s2->kept_slot = calloc(s2->kept_nr, sizeof(*s2->kept_slot));
		if (!s2->kept_slot)
			return false;
	}
	if (gfn >= s2->kept_nr)
		return false;
	if (s2->kept_slot[gfn]) /* cannot happen: it was evicted, so it gave it up */
		swap_kept_drop(s2, gfn);
	s2->kept_slot[gfn] = (uint32_t)slot;
	atomic_fetch_add(&s2->kept_pages, 1);
	return true;
}

uint64_t swap_kept(const struct stage2 *s2, gfn_t gfn)
{
	return s2->kept_slot && gfn < s2->kept_nr ? s2->kept_slot[gfn] : 0;
}

uint64_t swap_kept_take(struct stage2 *s2, gfn_t gfn)
{
	uint64_t slot = swap_kept(s2, gfn);

	if (slot) {
		s2->kept_slot[gfn] = 0;
		atomic_fetch_sub(&s2->kept_pages, 1);
	}
	return slot;
}

void swap_kept_drop(struct stage2 *s2, gfn_t gfn)
{
	uint64_t slot = swap_kept_take(s2, gfn);

	if (slot) {
		swap_free(keep_dev(s2), slot);
		s2_count(s2, S2_SWAPCACHE_DIRTIED, 1);
	}
}

void swap_kept_drop_all(struct stage2 *s2)
{
	for (gfn_t g = 0; g < s2->kept_nr && atomic_load(&s2->kept_pages); g++) {
		uint64_t slot = swap_kept_take(s2, g);

		if (slot)
			swap_free(keep_dev(s2), slot);
	}
}

bool swap_kept_clean(struct stage2 *s2, gfn_t gfn)
{
	uint64_t pme;
	off_t at = (off_t)(gfn_hva(s2, gfn) >> GMM_FRAME_SHIFT) * (off_t)sizeof(pme);

	return s2->pagemap_fd >= 0 && pread(s2->pagemap_fd, &pme, sizeof(pme), at) == sizeof(pme) &&
	       (pme & PM_UFFD_WP);
}

void swap_keep_release(struct stage2 *s2)
{
	swap_kept_drop_all(s2);
	free(s2->kept_slot);
	s2->kept_slot = NULL;
	s2->kept_nr = 0;
}
