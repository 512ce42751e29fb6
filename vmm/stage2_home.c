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
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
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
 * takes frames (fault_gfp(): movable, waking kswapd below low; failing
 * below min, so the fault reclaims). The descriptors start as a new page's.
 */
pfn_t home_take(struct stage2 *s2, unsigned nr, gfn_t gfn)
{
	pfn_t pfn = s2->home + gfn;

	if (gfn + nr > s2->home_nr)
		return GMM_PFN_NONE;
	if (home_tokens_take(s2->hp, nr, fault_gfp(s2), 0))
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

/* One window page at home by ioctl `cmd` (UFFDIO_ZEROPAGE: a hole
 * becomes a zeroed page of the file; UFFDIO_CONTINUE: the page the file
 * holds), not woken. 0, -EEXIST (the other kind, or mapped), -errno. */
static int home_fill_page(struct stage2 *s2, gfn_t gfn, unsigned long cmd)
{
	struct uffdio_range r = { .start = gfn_hva(s2, gfn), .len = GMM_FRAME_SIZE };
	int ret;

	if (cmd == UFFDIO_ZEROPAGE) {
		struct uffdio_zeropage z = { .range = r, .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };

		ret = ioctl(s2->uffd, UFFDIO_ZEROPAGE, &z);
	} else {
		struct uffdio_continue c = { .range = r, .mode = UFFDIO_CONTINUE_MODE_DONTWAKE };

		ret = ioctl(s2->uffd, UFFDIO_CONTINUE, &c);
	}
	return ret ? -errno : 0;
}

/*
 * Map [gfn, gfn+nr) of the window, at home, not woken (the caller records
 * the pages first: fault_mapped()). A hole (a fault's new pages) becomes
 * a zeroed page of the file and is mapped in one UFFDIO_ZEROPAGE over the
 * run; a page the file holds (the swap cache's, a failed write's) is
 * mapped by UFFDIO_CONTINUE. Neither goes through gmm's view, so no PTE of
 * the view has to be zapped when the page is punched (a TLB flush of
 * every CPU, a hypercall here).
 */
int home_realize(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	struct uffdio_zeropage z = {
		.range = { .start = gfn_hva(s2, gfn), .len = nr << GMM_FRAME_SHIFT },
		.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE,
	};
	uint64_t done;

	if (!ioctl(s2->uffd, UFFDIO_ZEROPAGE, &z))
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* the kernel stopped at a page the file (or the window) holds:
	 * the rest one by one */
	done = z.zeropage > 0 ? (uint64_t)z.zeropage >> GMM_FRAME_SHIFT : 0;
	for (uint64_t i = done; i < nr; i++) {
		int ret = home_fill_page(s2, gfn + i, UFFDIO_ZEROPAGE);

		if (ret == -EEXIST)
			ret = home_fill_page(s2, gfn + i, UFFDIO_CONTINUE);
		if (ret && ret != -EEXIST) /* EEXIST again: mapped already */
			return ret;
	}
	return 0;
}

/* One UFFDIO_COPY of [gfn, gfn+nr) from src: the pages mapped. */
static uint64_t copy_run(struct stage2 *s2, gfn_t gfn, const void *src, uint64_t nr, bool wp)
{
	struct uffdio_copy c = {
		.dst = gfn_hva(s2, gfn),
		.src = (uint64_t)src,
		.len = nr << GMM_FRAME_SHIFT,
		.mode = UFFDIO_COPY_MODE_DONTWAKE | (wp ? UFFDIO_COPY_MODE_WP : 0),
	};

	if (!ioctl(s2->uffd, UFFDIO_COPY, &c))
		return nr;
	/* a partial copy says how far it got */
	return c.copy > 0 ? (uint64_t)c.copy >> GMM_FRAME_SHIFT : 0;
}

uint64_t home_copy_in(struct stage2 *s2, gfn_t gfn, const void *src, uint64_t nr, uint64_t wp_from)
{
	uint64_t done = 0;

	if (wp_from > nr)
		wp_from = nr;
	if (wp_from)
		done = copy_run(s2, gfn, src, wp_from, false);
	if (done == wp_from && wp_from < nr)
		done += copy_run(s2, gfn + wp_from, (const char *)src + (wp_from << GMM_FRAME_SHIFT), nr - wp_from, true);
	return done;
}

int home_copy_out(struct stage2 *s2, const pfn_t *pfns, unsigned n, void *dst)
{
	for (unsigned i = 0; i < n;) {
		unsigned len = 1;
		ssize_t got;

		while (i + len < n && pfns[i + len] == pfns[i] + len)
			len++;
		got = pread(s2->hp->memfd, (char *)dst + ((size_t)i << GMM_FRAME_SHIFT), (size_t)len << GMM_FRAME_SHIFT,
			    (off_t)(pfns[i] << GMM_FRAME_SHIFT));
		if (got != (ssize_t)len << GMM_FRAME_SHIFT)
			return got < 0 ? -errno : -EIO;
		i += len;
	}
	return 0;
}

/* One 2 MiB buffer per thread that does swap I/O for homed guests, freed
 * with the thread. */
static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void bounce_key_make(void)
{
	pthread_key_create(&bounce_key, free);
}

void *home_bounce(void)
{
	void *b;

	pthread_once(&bounce_once, bounce_key_make);
	b = pthread_getspecific(bounce_key);
	if (!b) {
		b = aligned_alloc(GMM_FRAME_SIZE, HOME_BOUNCE_BYTES);
		if (b && pthread_setspecific(bounce_key, b)) {
			free(b);
			b = NULL;
		}
	}
	return b;
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
