/*
 * Home frames of one guest (home_frames.h, docs/fault-path.md#home-frames):
 * the window maps the guest's home range once, and a page is put in it
 * by filling its place in the pool file through gmm's view and asking
 * userfaultfd to map it (UFFDIO_CONTINUE), as a filesystem's page cache is
 * filled and then mapped. Nothing here makes or unmakes a VMA.
 */
#include "vmm/stage2.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "guestmm/pool.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/stage2_internal.h"

int stage2_home_map(struct stage2 *s2)
{
	int prot = PROT_READ | PROT_WRITE | (s2->mem->executable ? PROT_EXEC : 0);

	for (int i = 0; i < s2->mem->nr_slots; i++) {
		const struct guest_mem_slot *sl = &s2->mem->slots[i];
		gfn_t g = sl->gpa >> GMM_FRAME_SHIFT;
		int ret;

		/* MAP_NORESERVE: the file is sparse and the budget is the
		 * tokens'; NOHUGEPAGE: pages go in one by one (a 2 MiB folio
		 * would split at the first eviction) */
		if (mmap(sl->hva, sl->bytes, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, s2->hp->memfd,
			 (off_t)((s2->home + g) << GMM_FRAME_SHIFT)) == MAP_FAILED)
			return -errno;
		madvise(sl->hva, sl->bytes, MADV_NOHUGEPAGE);
		ret = hint_register(s2, g, sl->bytes >> GMM_FRAME_SHIFT);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The frames of [gfn, gfn+nr) are the guest's own places in its range;
 * what they cost the pool is nr tokens from the buddy, taken as a fault
 * takes frames (movable, waking kswapd below low; failing below min, so
 * the fault reclaims). The descriptors start as a new page's.
 */
pfn_t home_take(struct stage2 *s2, unsigned nr, gfn_t gfn)
{
	pfn_t pfn = s2->home + gfn;

	if (gfn + nr > s2->home_nr)
		return GMM_PFN_NONE;
	if (home_tokens_take(s2->hp, nr, __GFP_MOVABLE | __GFP_KSWAPD_RECLAIM | __GFP_NOWARN, 0))
		return GMM_PFN_NONE;
	for (unsigned i = 0; i < nr; i++) {
		struct gmm_frame *f = pfn_to_frame(s2->hp->mm, pfn + i);

		atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
		atomic_store_explicit(&f->refcount, 1, memory_order_relaxed);
		atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
		f->order = 0;
		f->owner = s2->cfg.owner;
	}
	return pfn;
}

/*
 * Map [gfn, gfn+nr) of the window, at home: make sure every page is in
 * the file (a hole becomes a zeroed page; a page a swap-in just read is
 * left as it is), then one UFFDIO_CONTINUE installs the PTEs. Not woken:
 * the caller records the pages first (fault_mapped()).
 */
int home_realize(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	struct uffdio_continue c = {
		.range = { .start = gfn_hva(s2, gfn), .len = nr << GMM_FRAME_SHIFT },
		.mode = UFFDIO_CONTINUE_MODE_DONTWAKE,
	};

	/* through gmm's view, NOHUGEPAGE: 4 KiB folios */
	if (madvise(frame_mem(s2->hp->mm, s2->home + gfn), nr << GMM_FRAME_SHIFT, MADV_POPULATE_WRITE))
		return -errno;
	if (!ioctl(s2->uffd, UFFDIO_CONTINUE, &c))
		return 0;
	/* EEXIST: some page of the range is mapped already (the kernel
	 * stops there); the rest one by one */
	if (errno != EEXIST)
		return -errno;
	for (uint64_t i = 0; i < nr; i++) {
		c.range.start = gfn_hva(s2, gfn + i);
		c.range.len = GMM_FRAME_SIZE;
		c.mapped = 0;
		if (ioctl(s2->uffd, UFFDIO_CONTINUE, &c) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/*
 * The guest is gone and every page it had was freed (punched, its token
 * back): the range goes back too, punched once more whole, so no page
 * the bookkeeping might have lost (a leak on a failed write's path) is
 * ever seen by the next guest to get the range.
 */
void home_release(struct stage2 *s2)
{
	if (!stage2_homed(s2))
		return;
	host_pool_punch(s2->hp, s2->home, s2->home_nr);
	home_range_put(&s2->hp->home, s2->home, s2->home_nr);
	/* s2->home stays, for the report: the EPT is gone, nothing maps */
}
