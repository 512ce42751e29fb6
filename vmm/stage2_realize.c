/* See stage2.h: the realizer, the window following the EPT. */
#include "vmm/stage2.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestmm/pool.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/kvm_compat.h"
#include "vmm/stage2_internal.h"

void s2_count(struct stage2 *s2, enum stage2_stat_item item, uint64_t n)
{
	atomic_fetch_add_explicit(&s2->stat[item], n, memory_order_relaxed);
}

uint64_t gfn_hva(struct stage2 *s2, gfn_t gfn)
{
	return (uint64_t)s2->mem->window + (gfn << GMM_FRAME_SHIFT);
}

static int uffd_open_with(uint64_t want, uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	/* Not UFFD_USER_MODE_ONLY: under KVM the fault comes from the kernel
	 * (get_user_pages on behalf of the vCPU). */
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*features = api.features;
	return fd;
}

int uffd_open_sigbus(uint64_t *features)
{
	uint64_t want = UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_ASYNC |
			UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_SIGBUS;
	int fd = uffd_open_with(want, features);

	if (fd < 0) /* before 6.7: no write-protect */
		fd = uffd_open_with(UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_SIGBUS, features);
	return fd;
}

int uffd_open(uint64_t *features)
{
	/* write-protect on the pool's shmem mappings, resolved by the kernel
	 * (write tracking); a kernel before 6.7 refuses the set: go without */
	int fd = uffd_open_with(UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_ASYNC |
					UFFD_FEATURE_MINOR_SHMEM,
				features);

	/* minor faults on shmem (hinting faults) came in 5.13 */
	if (fd < 0)
		fd = uffd_open_with(UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MINOR_SHMEM, features);
	return fd >= 0 ? fd : uffd_open_with(UFFD_FEATURE_THREAD_ID, features);
}

int stage2_register(struct stage2 *s2, void *hva, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)hva, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING |
			(s2->dirty_mode == STAGE2_DIRTY_UFFD_WP ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	return ioctl(s2->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

void uffd_wake(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	struct uffdio_range r = { .start = gfn_hva(s2, gfn), .len = nr << GMM_FRAME_SHIFT };

	/* UFFD_FEATURE_SIGBUS: handle_userfault() raises SIGBUS before it
	 * would queue a waiter, so nobody ever sleeps on this uffd and a
	 * wake finds nobody. It was one ioctl a swap-in of a self-served
	 * guest for nothing (as many UFFDIO_WAKE as UFFDIO_COPY, strace) */
	if (s2->self_served)
		return;
	ioctl(s2->uffd, UFFDIO_WAKE, &r);
}

/* A fault we cannot back with a frame (the guest is being stopped): give
 * the waiter a zero page so no thread stays blocked, and let the stop
 * finish. Not pool memory: the guest never runs on it. */
void uffd_zero_fill(struct stage2 *s2, gfn_t gfn)
{
	struct uffdio_zeropage z = {
		.range = { .start = gfn_hva(s2, gfn), .len = GMM_FRAME_SIZE },
	};

	if (ioctl(s2->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
		uffd_wake(s2, gfn, 1);
}

/* Map pool frames [pfn, pfn+nr) at gfn in the window: one VMA, populated
 * now (the frames are, so this only fills page tables). A hugetlb page
 * comes from its region's file (host_pool_fd_offset()), MAP_NORESERVE:
 * it was allocated by fallocate, nothing is left to reserve. */
int realize_map(struct stage2 *s2, gfn_t gfn, pfn_t pfn, uint64_t nr)
{
	int prot = PROT_READ | PROT_WRITE | (s2->mem->executable ? PROT_EXEC : 0);
	void *want = (void *)gfn_hva(s2, gfn);
	int fd, flags = MAP_SHARED | MAP_FIXED;
	off_t off;
	bool small;
	void *got;

	if (home_at(s2, gfn, pfn))
		return home_realize(s2, gfn, nr);
	if (stage2_homed(s2))
		return -EINVAL; /* a homed window maps nothing but its home */
	if (host_pool_fd_offset(s2->hp, pfn, &fd, &off))
		return -EINVAL;
	/* thp=never: 4 KiB on the host too. A 2 MiB run of a 2 MiB folio
	 * would otherwise get a PMD; NOHUGEPAGE must come before the pages
	 * are mapped, so populate after it. hugetlb pages are what they are. */
	small = fd == s2->hp->memfd && !s2->cfg.thp && !s2->cfg.thp_collapse && nr >= HUGE_FRAMES;
	if (fd != s2->hp->memfd)
		flags |= MAP_NORESERVE;
	got = mmap(want, nr << GMM_FRAME_SHIFT, prot, flags | (small ? 0 : MAP_POPULATE), fd, off);
	if (got == MAP_FAILED)
		return -errno;
	if (small && (madvise(want, nr << GMM_FRAME_SHIFT, MADV_NOHUGEPAGE) ||
		      madvise(want, nr << GMM_FRAME_SHIFT, MADV_POPULATE_WRITE)))
		return -errno;
	/* hinting faults need minor faults on every pool mapping; uffd-wp
	 * tracking needs every VMA of the window registered (a new mapping
	 * starts unprotected, so the harvest reports it written) */
	if (fd == s2->hp->memfd && minor_registered(s2))
		return hint_register(s2, gfn, nr);
	if (s2->dirty_mode == STAGE2_DIRTY_UFFD_WP)
		return stage2_register(s2, want, nr << GMM_FRAME_SHIFT);
	return 0;
}

/* Stamp the reverse map into the descriptors of a run now mapped at gfn,
 * and put each frame on the guest's inactive list (page_add_new_anon_rmap
 * + folio_add_lru). hugetlb pages are never on an LRU: not reclaimable. */
void rmap_add(struct stage2 *s2, gfn_t gfn, pfn_t pfn, uint64_t nr, unsigned order)
{
	uint64_t step = 1ULL << order;
	bool lru = !host_pool_hugetlb(s2->hp, pfn);

	for (uint64_t i = 0; i < nr; i += step) {
		struct gmm_frame *f = host_pool_frame(s2->hp, pfn + i);
		uint64_t inserted;

		f->owner = s2->cfg.owner;
		f->gfn = gfn + i;
		f->numa_last = 0; /* a new page to NUMA balancing */
		atomic_store_explicit(&f->mapcount, 1, memory_order_relaxed);
		frame_clear_idle(f); /* a new mapping: nothing armed */
		frame_clear_armed_early(f);
		frame_set_swapbacked(f);
		frame_set_uptodate(f);
		if (!lru)
			continue;
		if (gfn + i < STAGE2_UNEVICTABLE_GFNS) {
			/* the guest's system area: never reclaimed (below) */
			frame_set_unevictable(f);
			atomic_fetch_add(&s2->unevictable_frames, step);
			continue;
		}
		frame_clear_unevictable(f);
		inserted = gmm_lru_add(s2->hp->mm, &s2->lru, pfn + i, false);
		if (!order)
			hint_note_new(s2, pfn + i, gfn + i, inserted);
	}
}

/* The frames of a run are no longer the guest's mapping: off the LRU, the
 * mapcount zero (the debug check in host_pool_free needs it). */
void rmap_del(struct stage2 *s2, pfn_t pfn, uint64_t nr, unsigned order)
{
	uint64_t step = 1ULL << order;
	bool lru = !host_pool_hugetlb(s2->hp, pfn);

	for (uint64_t i = 0; i < nr; i += step) {
		struct gmm_frame *f = host_pool_frame(s2->hp, pfn + i);

		if (lru && frame_test_clear_unevictable(f))
			atomic_fetch_sub(&s2->unevictable_frames, step);
		else if (lru)
			gmm_lru_del(s2->hp->mm, &s2->lru, pfn + i);
		atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
		/* whatever the gfn holds next, it is not what a kept slot holds */
		if (!order && atomic_load_explicit(&s2->kept_pages, memory_order_relaxed))
			swap_kept_drop(s2, f->gfn);
	}
}

void resident_add(struct stage2 *s2, uint64_t nr)
{
	uint64_t now = atomic_fetch_add_explicit(&s2->resident_frames, nr, memory_order_relaxed) + nr;
	uint64_t peak = atomic_load_explicit(&s2->peak_resident_frames, memory_order_relaxed);

	while (now > peak && !atomic_compare_exchange_weak(&s2->peak_resident_frames, &peak, now))
		;
}

/*
 * Take the window's PTEs over [gfn, gfn+nr) away and leave its VMAs as
 * they are: for pool mappings registered for minor and missing faults
 * only (minor_registered()). The next touch faults to gmm as a minor
 * fault (the pool offset holds a page, whoever's it is now) or a missing
 * one (a hole); fault-around is off on such VMAs, so the kernel never
 * maps a page there on its own. Under KVM the MMU notifier takes the EPT
 * entries with the PTEs.
 */
int realize_zap(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	return madvise((void *)gfn_hva(s2, gfn), nr << GMM_FRAME_SHIFT, MADV_DONTNEED) ? -errno : 0;
}

/*
 * Put anonymous memory registered with userfaultfd back under
 * [gfn, gfn+nr), so the next touch is a stage-2 fault. The new mapping
 * starts PROT_NONE and is opened only once registered: a vCPU touching it
 * in between would otherwise fault in a private zero page behind the
 * fault thread's back (a read of zeros, a write lost). A touch of the
 * PROT_NONE bridge is retried by the accelerator (EFAULT from KVM_RUN,
 * SEGV_ACCERR on RAM under native) until the bridge is gone.
 */
int realize_unmap(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	int prot = PROT_READ | PROT_WRITE | (s2->mem->executable ? PROT_EXEC : 0);
	void *want = (void *)gfn_hva(s2, gfn);
	size_t len = nr << GMM_FRAME_SHIFT;
	int ret;

	/* a homed window keeps its one mapping: only the PTEs go, and the
	 * free that follows punches the page (a touch is then a missing
	 * fault; before it, a minor one the fault path sees not present) */
	if (stage2_homed(s2))
		return realize_zap(s2, gfn, nr);
	if (mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	madvise(want, len, MADV_NOHUGEPAGE);
	ret = stage2_register(s2, want, len);
	if (ret)
		return ret;
	return mprotect(want, len, prot) ? -errno : 0;
}
