/*
 * The stage-2 fault path, split, unmap and collapse on a real host pool
 * and a real guest window, without a vCPU: the test thread touches the
 * window itself, so its faults go through the guest's userfaultfd and
 * fault thread exactly as a vCPU's would.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/stage2.h"
#include "vmm/signals.h"
#include "vmm/stage2_internal.h" /* hint_arm_locked(): arm as reclaim does */

#define MB (1ULL << 20)

struct rig {
	struct host_pool *hp;
	struct guest_mem mem;
	struct swap_device *swapdev;  /* rig_up_swap() only */
	struct stage2_swap *swap;
	char swap_dir[64];
	bool home;                    /* the pool has home frames for the guest */
};

static void rig_up_with(struct rig *r, const char *thp, unsigned fault_around_pages, struct stage2_swap *swap)
{
	/* no reserve thread: frame counts stay still between two reads */
	struct pool_config pc = { .size_bytes = 128 * MB, .nodes = 1, .reserve_bytes = 0,
				  .home_bytes = r->home ? 64 * MB : 0, .home_frames = r->home };
	struct stage2_config sc = {
		.fault_around_pages = fault_around_pages,
		.thp = !strcmp(thp, "always"),
		.thp_collapse = strcmp(thp, "never") != 0,
		.owner = 7,
		.name = "t",
		.swap = swap,
		.limits = STAGE2_NO_LIMITS,
	};
	struct guest_mem_config mc = {
		.ram_bytes = 64 * MB, .backend = GUEST_MEM_POOL, .thp = sc.thp, .stage2 = &sc,
	};
	char err[256];
	int ret;

	cr_assert_eq(host_pool_create(&pc, &r->hp, err, sizeof(err)), 0, "%s", err);
	mc.pool = r->hp;
	ret = guest_mem_create(&r->mem, &mc);
	cr_assert_eq(ret, 0, "guest_mem_create: %s", strerror(-ret));
}

static void rig_up(struct rig *r, const char *thp, unsigned fault_around_pages)
{
	r->home = false;
	r->swap = NULL;
	r->swapdev = NULL;
	rig_up_with(r, thp, fault_around_pages, NULL);
}

/* The same with a 32 MiB swap file in a fresh directory under /tmp. */
static void rig_up_swap(struct rig *r, const char *thp)
{
	struct swap_config sc = { .size_bytes = 32 * MB };
	char err[256];

	r->home = false;
	snprintf(r->swap_dir, sizeof(r->swap_dir), "/tmp/gmm-s2swap-XXXXXX");
	cr_assert_not_null(mkdtemp(r->swap_dir));
	snprintf(sc.path, sizeof(sc.path), "%s/swap", r->swap_dir);
	cr_assert_eq(swap_open(&sc, 0, &r->swapdev, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stage2_swap_create(r->swapdev, &r->swap), 0);
	rig_up_with(r, thp, 16, r->swap);
}

static void rig_down(struct rig *r)
{
	guest_mem_destroy(&r->mem);
	if (r->swap) {
		char path[128];

		cr_assert_eq(swap_stat(r->swapdev, SWAP_USED_SLOTS), 0, "every slot came back");
		stage2_swap_destroy(r->swap);
		swap_close(r->swapdev);
		snprintf(path, sizeof(path), "%s/swap", r->swap_dir);
		unlink(path);
		rmdir(r->swap_dir);
	}
	cr_assert_eq(gmm_pool_free_frames(r->hp->mm) + gmm_pool_pcp_frames(r->hp->mm) +
		     zero_reserve_bytes(&r->hp->reserve) / 4096 + frame_recycle_frames(r->hp), r->hp->mm->nr_frames,
		     "every frame and table came back (or waits on a cache: reserve, recycle stack)");
	cr_assert_eq(gmm_pool_check(r->hp->mm, stderr), 0);
	host_pool_destroy(r->hp);
}

static uint64_t *page(struct rig *r, gfn_t gfn)
{
	return (uint64_t *)((char *)r->mem.window + (gfn << 12));
}

/* Write a stamp into each page (faulting it in), in the given order. */
static void stamp(struct rig *r, gfn_t first, uint64_t nr, bool reverse)
{
	for (uint64_t i = 0; i < nr; i++) {
		gfn_t g = reverse ? first + nr - 1 - i : first + i;

		page(r, g)[0] = 0x5eed0000 + g;
		page(r, g)[511] = ~g;
	}
}

static void expect_stamps(struct rig *r, gfn_t first, uint64_t nr, gfn_t except)
{
	for (gfn_t g = first; g < first + nr; g++) {
		if (g == except)
			continue;
		cr_assert_eq(page(r, g)[0], 0x5eed0000 + g, "gfn %#lx lost its data", (unsigned long)g);
		cr_assert_eq(page(r, g)[511], ~g);
	}
}

static uint64_t stat(struct rig *r, enum stage2_stat_item i)
{
	return atomic_load(&r->mem.s2->stat[i]);
}

static uint64_t ept(struct rig *r, enum ept_stat_item i)
{
	return ept_stat(r->mem.s2->ept, i);
}

static uint64_t allocated(struct rig *r)
{
	return r->hp->mm->nr_frames - gmm_pool_free_frames(r->hp->mm) - gmm_pool_pcp_frames(r->hp->mm);
}

#define G(mb) ((gfn_t)(mb) * 256)   /* gfn of a MiB offset, above the boot area */

Test(stage2, first_touch_of_a_thp_guest_maps_a_2m_frame)
{
	struct rig r;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 1024, false);
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 2);
	cr_assert_eq(stat(&r, S2_FAULT_HUGE), 2);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, partial_unmap_splits_the_huge_frame_and_frees_one_page)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 512, false);
	before = allocated(&r);
	cr_assert_eq(stage2_unmap_range(r.mem.s2, G(8) + 5, 1), 1);
	cr_assert_eq(stat(&r, S2_THP_SPLIT), 1);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 0);
	cr_assert_eq(ept(&r, EPT_PRESENT_4K), 511);
	/* the page table the split needed is one more allocated frame */
	cr_assert_eq(allocated(&r), before - 1 + 1);
	cr_assert_eq(page(&r, G(8) + 5)[0], 0, "an unmapped page comes back as a fresh zero page");
	expect_stamps(&r, G(8), 512, G(8) + 5);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, unmapping_a_whole_huge_frame_frees_it_without_a_split)
{
	struct rig r;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 1024, false);
	cr_assert_eq(stage2_unmap_range(r.mem.s2, G(8), 512), 512);
	cr_assert_eq(stat(&r, S2_THP_SPLIT), 0);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 1);
	expect_stamps(&r, G(10), 512, GMM_GFN_NONE);
	cr_assert_eq(page(&r, G(8))[0], 0);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, collapse_merges_a_guest_block_in_place)
{
	struct rig r;

	rig_up(&r, "madvise", 16);
	stamp(&r, G(8), 512, false);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 0, "madvise: no huge frame at fault time");
	cr_assert_eq(stage2_collapse(r.mem.s2, G(8)), 0);
	cr_assert_eq(stat(&r, S2_THP_COLLAPSE_INPLACE) + stat(&r, S2_THP_COLLAPSE_COPY), 1);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 1);
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, collapse_copies_scattered_frames_into_a_new_block)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "madvise", 1);
	stamp(&r, G(8), 512, true); /* last page first: frames in reverse gfn order */
	before = allocated(&r);
	cr_assert_eq(stage2_collapse(r.mem.s2, G(8)), 0);
	cr_assert_eq(stat(&r, S2_THP_COLLAPSE_COPY), 1);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 1);
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	/* 512 old frames and the page table went back; the new block came
	 * from the reserve or the buddy */
	cr_assert_leq(allocated(&r), before);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, collapse_refuses_a_range_with_a_hole)
{
	struct rig r;

	rig_up(&r, "madvise", 1);
	stamp(&r, G(8), 511, false);
	cr_assert_eq(stage2_collapse(r.mem.s2, G(8)), -EAGAIN);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 0);
	rig_down(&r);
}

Test(stage2, khugepaged_collapses_full_ranges_and_leaves_the_rest)
{
	struct rig r;
	long n = 0;

	rig_up(&r, "madvise", 16);
	stamp(&r, G(8), 1024, false);
	stamp(&r, G(12), 100, false);
	for (int i = 0; i < 8 && !stat(&r, S2_KHUGEPAGED_FULL_SCANS); i++)
		n += stage2_khugepaged_scan(r.mem.s2, 8);
	cr_assert_geq(n, 2);
	cr_assert_geq(ept(&r, EPT_PRESENT_2M), 2);
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	expect_stamps(&r, G(12), 100, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_still_mapped_frame_is_never_freed)
{
	struct rig r;
	uint64_t e;
	unsigned order;
	pfn_t pfn;

	rig_up(&r, "never", 16);
	stamp(&r, G(8), 1, false);
	cr_assert_eq(stage2_translate(r.mem.s2, G(8) << 12, &e, &order), 0);
	pfn = ept_entry_pfn(e);
	cr_assert_eq(host_pool_free(r.hp, pfn, 0), -EBUSY, "mapped in the window: refused");
	cr_assert_eq(atomic_load(&r.hp->mapped_free_refused), 1);
	expect_stamps(&r, G(8), 1, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* --- write tracking (uffd-wp: no accelerator dirty log here) ------------ */

struct runs {
	gfn_t gfn[64];
	uint64_t nr[64];
	int n;
};

static void record_run(void *arg, gfn_t gfn, uint64_t nr)
{
	struct runs *r = arg;

	if (r->n < 64) {
		r->gfn[r->n] = gfn;
		r->nr[r->n++] = nr;
	}
}

static bool frame_dirty(struct rig *r, gfn_t gfn)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(stage2_translate(r->mem.s2, gfn << 12, &e, &order), 0);
	return frame_test_dirty(pfn_to_frame(r->hp->mm, ept_entry_pfn(e)));
}

Test(stage2, uffd_wp_harvest_reports_new_and_written_pages_once)
{
	struct rig r;
	struct runs runs = { .n = 0 };
	volatile uint64_t sink = 0;

	rig_up(&r, "never", 16);
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), -ENOTCONN);
	cr_assert_eq(stage2_dirty_start(r.mem.s2), 0);
	cr_assert_eq(r.mem.s2->dirty_mode, STAGE2_DIRTY_UFFD_WP);
	cr_assert_eq(stage2_dirty_start(r.mem.s2), -EALREADY);
	/* 64 pages faulted in while tracking: new pages are written pages */
	stamp(&r, G(8), 64, false);
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, record_run, &runs), 64);
	cr_assert_eq(runs.n, 1);
	cr_assert_eq(runs.gfn[0], G(8));
	cr_assert_eq(runs.nr[0], 64);
	cr_assert(frame_dirty(&r, G(8) + 3));
	/* reads are not writes */
	for (gfn_t g = G(8); g < G(8) + 64; g++)
		sink += page(&r, g)[0];
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 0);
	/* two writes, two pages, each once */
	page(&r, G(8) + 10)[7] = 1;
	page(&r, G(8) + 40)[7] = 2;
	page(&r, G(8) + 40)[8] = 3;
	runs.n = 0;
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, record_run, &runs), 2);
	cr_assert_eq(runs.n, 2);
	cr_assert_eq(runs.gfn[0], G(8) + 10);
	cr_assert_eq(runs.gfn[1], G(8) + 40);
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 0);
	cr_assert_eq(stat(&r, S2_DIRTY_HARVESTS), 4);
	cr_assert_eq(stat(&r, S2_DIRTY_PAGES), 66);
	/* stopped: writes run free and nothing is recorded */
	cr_assert_eq(stage2_dirty_stop(r.mem.s2), 0);
	page(&r, G(8) + 11)[7] = 1;
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), -ENOTCONN);
	cr_assert_eq(stage2_dirty_stop(r.mem.s2), -EALREADY);
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	(void)sink;
	rig_down(&r);
}

static bool covered(const struct runs *runs, gfn_t gfn)
{
	for (int i = 0; i < runs->n; i++)
		if (gfn >= runs->gfn[i] && gfn < runs->gfn[i] + runs->nr[i])
			return true;
	return false;
}

Test(stage2, uffd_wp_harvest_tracks_a_huge_frame_whole_and_its_pieces_after_a_split)
{
	struct rig r;
	struct runs runs = { .n = 0 };

	rig_up(&r, "always", 16);
	cr_assert_eq(stage2_dirty_start(r.mem.s2), 0);
	stamp(&r, G(8), 512, false);
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 512);
	/* the host maps the frame with one PMD: protected and written as a
	 * unit, as the frame has one dirty flag */
	page(&r, G(8) + 100)[0] = 0x5eed0000 + G(8) + 100;
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 512);
	/* a partial unmap splits the frame; tracking goes on over the pieces */
	cr_assert_eq(stage2_unmap_range(r.mem.s2, G(8) + 5, 1), 1);
	page(&r, G(8) + 200)[0] = 0x5eed0000 + G(8) + 200;
	page(&r, G(8) + 5)[0] = 0x5eed0000 + G(8) + 5; /* refaulted: a new page */
	/* the host's PMD went with the split: the remapped range reports
	 * written once (never a missed write, at worst one extra) */
	cr_assert_geq(stage2_dirty_harvest(r.mem.s2, record_run, &runs), 2);
	cr_assert(covered(&runs, G(8) + 200) && covered(&runs, G(8) + 5));
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 0);
	page(&r, G(8) + 300)[1] = 1;
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 1);
	cr_assert(frame_dirty(&r, G(8) + 200));
	page(&r, G(8) + 5)[511] = ~(G(8) + 5);
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* --- reclaim to swap ----------------------------------------------------- */

static uint64_t lru_pages(struct rig *r)
{
	return gmm_lru_pages(&r->mem.s2->lru, LRU_INACTIVE_ANON) + gmm_lru_pages(&r->mem.s2->lru, LRU_ACTIVE_ANON);
}

Test(stage2, shrink_writes_cold_pages_to_swap_and_a_touch_reads_them_back)
{
	struct rig r;
	uint64_t resident;
	long freed;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 1024, false);
	resident = atomic_load(&r.mem.s2->resident_frames);
	freed = stage2_shrink(r.mem.s2, 512);
	cr_assert_gt(freed, 0);
	cr_assert_eq(stat(&r, S2_PGSTEAL), (uint64_t)freed);
	cr_assert_eq(stat(&r, S2_PSWPOUT), (uint64_t)freed);
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), (uint64_t)freed);
	cr_assert_eq(atomic_load(&r.mem.s2->resident_frames), resident - (uint64_t)freed);
	cr_assert_eq(lru_pages(&r), resident - (uint64_t)freed);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), (uint64_t)freed);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	/* every page reads back what was written, from swap where it went */
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_PSWPIN), (uint64_t)freed);
	cr_assert_eq(stat(&r, S2_WORKINGSET_REFAULT), (uint64_t)freed);
	cr_assert_lt(stat(&r, S2_FAULTS), 1024, "swap-in reads ahead");
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0, "slots freed as pages come back");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* The overcommit cycle: evicted frames go on the recycle stack unpunched,
 * and a scattered (one-page) swap-in reads into one of them. Every page
 * then shows its own data, never what the recycled frame held before. */
Test(stage2, a_swap_in_reads_into_a_recycled_frame_and_shows_only_its_own_page)
{
	struct rig r;
	long freed;
	uint64_t punched;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 1024, false);
	punched = atomic_load(&r.hp->punched_frames);
	freed = stage2_shrink(r.mem.s2, 512);
	cr_assert_gt(freed, 0);
	cr_assert_eq(atomic_load(&r.hp->recycle.stat[RECYCLE_KEPT]), (uint64_t)freed, "all fit");
	cr_assert_eq(frame_recycle_frames(r.hp), (uint64_t)freed);
	cr_assert_eq(atomic_load(&r.hp->punched_frames), punched, "nothing punched");
	/* stride 37 over 1024 pages: every one once, never next to the last */
	for (uint64_t i = 0, g = 0; i < 1024; i++, g = (g + 37) % 1024)
		expect_stamps(&r, G(8) + g, 1, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_PSWPIN), (uint64_t)freed);
	cr_assert_gt(atomic_load(&r.hp->recycle.stat[RECYCLE_TAKEN]), 0);
	cr_assert_eq(frame_recycle_frames(r.hp) + atomic_load(&r.hp->recycle.stat[RECYCLE_TAKEN]), (uint64_t)freed);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_huge_frame_is_split_before_it_is_swapped)
{
	struct rig r;
	long freed;

	rig_up_swap(&r, "always");
	stamp(&r, G(8), 512, false);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 1);
	freed = stage2_shrink(r.mem.s2, 512);
	cr_assert_geq(freed, 512);
	cr_assert_eq(stat(&r, S2_THP_SPLIT_SWAP), 1);
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 0);
	cr_assert_eq(ept(&r, EPT_SWAPPED), 512);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_WRITE_CALLS), 1, "512 consecutive slots: one write");
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_failed_swap_write_keeps_every_page)
{
	struct rig r;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 256, false);
	swap_inject_errors(r.swapdev, SWAP_WRITE, 1, EIO);
	cr_assert_eq(stage2_shrink(r.mem.s2, 256), 0);
	cr_assert_gt(stat(&r, S2_SWAP_WRITE_FAILED), 0);
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(ept(&r, EPT_SWAPPED), 0);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	swap_inject_errors(r.swapdev, SWAP_WRITE, 0, 0);
	expect_stamps(&r, G(8), 256, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_PSWPIN), 0, "nothing was read: nothing had gone");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_referenced_page_gets_a_second_chance)
{
	struct rig r;
	uint64_t e;
	unsigned order;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 64, false);
	/* what a harvest of the dirty log does for a written page */
	cr_assert_eq(stage2_translate(r.mem.s2, G(8) << 12, &e, &order), 0);
	frame_set_referenced(pfn_to_frame(r.hp->mm, ept_entry_pfn(e)));
	stage2_shrink(r.mem.s2, 4096);
	cr_assert_eq(stage2_translate(r.mem.s2, G(8) << 12, &e, &order), 0);
	cr_assert(ept_entry_present(e), "the referenced page stayed");
	cr_assert_geq(stat(&r, S2_PGACTIVATE), 1);
	cr_assert_gt(stat(&r, S2_PSWPOUT), 0, "the others went");
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	rig_down(&r);
}

/* Arm every page of [gfn, gfn+nr) for a hinting fault, as reclaim does. */
static void arm(struct rig *r, gfn_t gfn, unsigned nr)
{
	pfn_t pfns[64];
	uint64_t e;
	unsigned order;

	cr_assert_leq(nr, 64);
	for (unsigned i = 0; i < nr; i++) {
		cr_assert_eq(stage2_translate(r->mem.s2, (gfn + i) << 12, &e, &order), 0);
		pfns[i] = ept_entry_pfn(e);
	}
	pthread_mutex_lock(&r->mem.s2->lock);
	hint_arm_locked(r->mem.s2, pfns, nr);
	pthread_mutex_unlock(&r->mem.s2->lock);
}

Test(stage2, a_page_read_after_its_hinting_fault_was_armed_stays_and_an_untouched_one_goes)
{
	struct rig r;
	volatile uint64_t sink = 0;
	uint64_t e;
	unsigned order;

	rig_up_swap(&r, "never");
	cr_assert(hint_enabled(r.mem.s2), "this kernel has minor faults on shmem");
	stamp(&r, G(8), 64, false);
	arm(&r, G(8), 64);
	cr_assert_eq(stat(&r, S2_HINT_ARMED), 64);
	cr_assert_eq(stat(&r, S2_PSWPOUT), 0, "armed, not evicted");
	/* a read of an armed page is a hinting fault: the page is referenced
	 * and mapped again, its contents as they were; a second read is not */
	sink += page(&r, G(8) + 3)[0];
	sink += page(&r, G(8) + 3)[1];
	cr_assert_eq(stat(&r, S2_HINT_FAULTS), 1);
	cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + 3) << 12, &e, &order), 0);
	cr_assert(frame_test_referenced(pfn_to_frame(r.hp->mm, ept_entry_pfn(e))));
	cr_assert_eq(page(&r, G(8) + 3)[0], 0x5eed0000 + G(8) + 3);
	/* a write too */
	page(&r, G(8) + 5)[2] = 7;
	cr_assert_eq(stat(&r, S2_HINT_FAULTS), 2);
	/* reclaim keeps the two used pages and takes the untouched ones */
	stage2_shrink(r.mem.s2, 4096);
	cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + 3) << 12, &e, &order), 0);
	cr_assert(ept_entry_present(e), "the page read since it was armed stayed");
	cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + 5) << 12, &e, &order), 0);
	cr_assert(ept_entry_present(e), "the page written since it was armed stayed");
	cr_assert_geq(stat(&r, S2_PSWPOUT), 62, "untouched ones went");
	cr_assert_eq(stat(&r, S2_PGROTATED), 0, "every page had been armed");
	page(&r, G(8) + 5)[2] = 0;
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	(void)sink;
	rig_down(&r);
}

Test(stage2, arming_zaps_each_run_of_consecutive_pages_with_one_call_whatever_order_they_come_in)
{
	/* two runs and a lone page, handed over shuffled as the LRU may */
	static const unsigned off[] = { 35, 3, 50, 0, 33, 2, 32, 1, 34, 5, 4, 7, 6 };
	const unsigned nr = sizeof(off) / sizeof(off[0]);
	struct rig r;
	pfn_t pfns[16];
	uint64_t e;
	unsigned order, faults = 0;
	volatile uint64_t sink = 0;

	rig_up_swap(&r, "never");
	cr_assert(hint_enabled(r.mem.s2), "this kernel has minor faults on shmem");
	stamp(&r, G(8), 64, false);
	for (unsigned i = 0; i < nr; i++) {
		cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + off[i]) << 12, &e, &order), 0);
		pfns[i] = ept_entry_pfn(e);
	}
	pthread_mutex_lock(&r.mem.s2->lock);
	hint_arm_locked(r.mem.s2, pfns, nr);
	hint_arm_locked(r.mem.s2, pfns, 2); /* armed already: nothing to do */
	pthread_mutex_unlock(&r.mem.s2->lock);
	cr_assert_eq(stat(&r, S2_HINT_ARMED), nr);
	cr_assert_eq(stat(&r, S2_HINT_ARM_ZAPS), 3, "[0,8), [32,36) and 50: one madvise() each");
	/* every armed page is tested on its own, and pages between the runs
	 * were not zapped: a touch of each is a hinting fault or nothing */
	for (unsigned g = 0; g < 64; g++) {
		bool armed = g < 8 || (g >= 32 && g < 36) || g == 50;

		sink += page(&r, G(8) + g)[0];
		faults += armed;
		cr_assert_eq(stat(&r, S2_HINT_FAULTS), faults, "page %u", g);
		cr_assert_eq(stat(&r, S2_MINOR_UNARMED), 0, "page %u lost its PTE unarmed", g);
	}
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	(void)sink;
	rig_down(&r);
}

static struct gmm_frame *frame_at(struct rig *r, gfn_t gfn)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(stage2_translate(r->mem.s2, gfn << 12, &e, &order), 0);
	return pfn_to_frame(r->hp->mm, ept_entry_pfn(e));
}

Test(stage2, arming_a_hinting_fault_keeps_a_write_uffd_wp_tracking_saw)
{
	struct rig r;

	rig_up_swap(&r, "never");
	cr_assert_eq(stage2_dirty_start(r.mem.s2), 0);
	stamp(&r, G(8), 2, false);
	cr_assert_geq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 2); /* with the fault-around block */
	frame_clear_referenced(frame_at(&r, G(8)));
	frame_clear_referenced(frame_at(&r, G(8) + 1));
	/* written after the harvest; zapping the PTE would lose the write */
	page(&r, G(8))[9] = 9;
	arm(&r, G(8), 2);
	cr_assert(frame_test_referenced(frame_at(&r, G(8))), "the write went into the frame");
	cr_assert(!frame_test_referenced(frame_at(&r, G(8) + 1)), "the other page was not written");
	/* the next write is a hinting fault, and still tracked */
	page(&r, G(8) + 1)[9] = 9;
	cr_assert_eq(stat(&r, S2_HINT_FAULTS), 1);
	cr_assert_eq(stage2_dirty_harvest(r.mem.s2, NULL, NULL), 1);
	page(&r, G(8))[9] = 0;
	page(&r, G(8) + 1)[9] = 0;
	expect_stamps(&r, G(8), 2, GMM_GFN_NONE);
	rig_down(&r);
}

Test(stage2, reclaim_arms_pages_it_sees_first_and_still_frees_in_one_call)
{
	struct rig r;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 64, false);
	/* nothing armed yet: the first round arms, the second evicts */
	cr_assert_gt(stage2_shrink(r.mem.s2, 32), 0);
	cr_assert_geq(stat(&r, S2_PGROTATED), 32);
	cr_assert_geq(stat(&r, S2_HINT_ARMED), 32);
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	rig_down(&r);
}

static bool swapped(struct rig *r, gfn_t gfn)
{
	uint64_t e;
	unsigned order;

	return !stage2_translate(r->mem.s2, gfn << 12, &e, &order) && ept_entry_state(e) == EPT_STATE_SWAPPED;
}

/* __swapin_nr_pages(): a zipf guest's faults land anywhere, and what
 * follows a page in swap (its gfn neighbours, evicted with it) is not
 * what it wants next; a walk in gfn order is. */
Test(stage2, swap_in_reads_one_page_for_scattered_faults_and_ahead_for_a_walk)
{
	struct rig r;
	uint64_t in0, faults0, touched = 0;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 1024, false);
	for (gfn_t g = G(8); g < G(8) + 1024; g += 64)
		arm(&r, g, 64);
	cr_assert_gt(stage2_shrink(r.mem.s2, 4096), 0);
	/* 16 faults far apart, each on a page whose next gfns sit in the
	 * next slots: one page read each */
	in0 = stat(&r, S2_PSWPIN);
	for (gfn_t i = 0; i < 16; i++) {
		gfn_t g = G(8) + 8 + (i * 61) % 1000;

		if (!swapped(&r, g) || !swapped(&r, g + 1))
			continue;
		cr_assert_eq(page(&r, g)[0], 0x5eed0000 + g);
		touched++;
	}
	cr_assert_geq(touched, 8);
	cr_assert_eq(stat(&r, S2_PSWPIN) - in0, touched, "no readahead for scattered faults");
	/* a walk in order: the window grows, fewer faults than pages */
	in0 = stat(&r, S2_PSWPIN);
	faults0 = stat(&r, S2_FAULTS);
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	cr_assert_gt(stat(&r, S2_PSWPIN) - in0, 256);
	cr_assert_lt(stat(&r, S2_FAULTS) - faults0, (stat(&r, S2_PSWPIN) - in0) / 2, "a walk reads ahead");
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* An evicted page's window keeps its VMA over the freed pool offset
 * (realize_zap()); when that offset holds someone else's page, a touch
 * must still read the page back from swap. track: uffd-wp write tracking
 * starts after the eviction, registering the window again. */
static void expect_evicted_page_reads_its_own(bool track)
{
	struct rig r;
	uint64_t e;
	unsigned order;
	pfn_t old;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 64, false);
	cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + 5) << 12, &e, &order), 0);
	old = ept_entry_pfn(e);
	/* every page armed, none touched: all of them go to swap */
	arm(&r, G(8), 64);
	cr_assert_gt(stage2_shrink(r.mem.s2, 4096), 0);
	cr_assert_eq(stage2_translate(r.mem.s2, (G(8) + 5) << 12, &e, &order), 0);
	cr_assert(!ept_entry_present(e), "gfn 5 went to swap");
	if (track)
		cr_assert_eq(stage2_dirty_start(r.mem.s2), 0);
	/* the pool offset under gfn 5's old mapping holds a page again, with
	 * other contents: what a new owner of the frame would have written
	 * (written here through the pool's own view of the free frame) */
	memset(frame_mem(r.hp->mm, old), 0xab, 4096);
	/* gfn 5 reads its own contents back from swap, never that page */
	cr_assert_eq(page(&r, G(8) + 5)[0], 0x5eed0000 + G(8) + 5);
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	cr_assert_gt(stat(&r, S2_PSWPIN), 0);
	host_pool_punch(r.hp, old, 1);
	rig_down(&r);
}

Test(stage2, an_evicted_page_never_shows_the_frame_that_took_its_place)
{
	expect_evicted_page_reads_its_own(false);
}

Test(stage2, nor_after_write_tracking_registers_the_window_again)
{
	expect_evicted_page_reads_its_own(true);
}

Test(stage2, unmapping_a_swapped_page_frees_its_slot)
{
	struct rig r;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 64, false);
	cr_assert_gt(stage2_shrink(r.mem.s2, 64), 0);
	cr_assert_gt(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	stage2_unmap_range(r.mem.s2, G(0), G(64));
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(page(&r, G(8))[0], 0, "a page given back comes back zero");
	rig_down(&r);
}

/* --- ballooning (stage2_balloon.c) -------------------------------------- */

static long balloon_run(struct rig *r, gfn_t first, uint64_t nr, bool inflate)
{
	gfn_t *g = malloc(nr * sizeof(*g));
	long ret;

	for (uint64_t i = 0; i < nr; i++)
		g[i] = first + i;
	ret = inflate ? stage2_balloon_inflate(r->mem.s2, g, nr) : stage2_balloon_deflate(r->mem.s2, g, nr);
	free(g);
	return ret;
}

Test(stage2, inflating_frees_the_frames_and_a_touch_gets_a_zero_page)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "never", 16);
	stamp(&r, G(8), 64, false);
	before = allocated(&r);
	cr_assert_eq(balloon_run(&r, G(8) + 16, 32, true), 32);
	cr_assert_eq(allocated(&r), before - 32, "the pool holds 32 frames fewer");
	cr_assert_eq(ept(&r, EPT_BALLOONED), 32);
	cr_assert_eq(stat(&r, S2_BALLOON_FREED), 32);
	expect_stamps(&r, G(8), 16, GMM_GFN_NONE);
	expect_stamps(&r, G(8) + 48, 16, GMM_GFN_NONE);
	cr_assert_eq(page(&r, G(8) + 20)[0], 0, "a ballooned page comes back as a fresh zero page");
	cr_assert_eq(stat(&r, S2_BALLOON_REFAULTS), 1);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 31);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* A guest its balloon owes pages to is freeing memory: with the pool at
 * its min watermark, where a fault's frames would fail (and the fault
 * would wait in direct reclaim, for the balloon its own vCPU may hold
 * up), its faults' frames come from below min; once it owes nothing they
 * fail again. */
Test(stage2, a_guest_whose_balloon_owes_pages_faults_below_the_min_watermark)
{
	struct gmm_pool *mm;
	struct stage2 *s2;
	struct rig r;
	pfn_t *held, pfn;
	size_t nheld = 0;

	rig_up(&r, "never", 1);
	mm = r.hp->mm;
	s2 = r.mem.s2;
	held = malloc(mm->nr_frames * sizeof(*held));
	cr_assert_not_null(held);
	/* down to min, as a fault's frames would find it */
	while ((pfn = gmm_alloc_frames(mm, 0, __GFP_MOVABLE | __GFP_NOWARN, 0)) != GMM_PFN_NONE)
		held[nheld++] = pfn;
	cr_assert_gt(nheld, 0);
	cr_assert_eq(fault_gfp(s2) & __GFP_HIGH, 0);
	cr_assert_eq(gmm_alloc_frames(mm, 0, fault_gfp(s2), 0), GMM_PFN_NONE, "below min: a fault would reclaim");

	stage2_balloon_owed(s2, 64);
	pfn = gmm_alloc_frames(mm, 0, fault_gfp(s2), 0);
	cr_assert_neq(pfn, GMM_PFN_NONE, "owing: the frame comes from the reserve");
	cr_assert_eq(gmm_free_frames(mm, pfn, 0), 0);
	stamp(&r, G(8), 4, false);      /* faults served below min */
	expect_stamps(&r, G(8), 4, GMM_GFN_NONE);
	cr_assert_geq(stat(&r, S2_BALLOON_OWED_ALLOCS), 2);
	cr_assert_eq(stat(&r, S2_OOM), 0);

	stage2_balloon_owed(s2, 0);
	cr_assert_eq(fault_gfp(s2) & __GFP_HIGH, 0, "paid: no more dips");
	while (nheld)
		cr_assert_eq(gmm_free_frames(mm, held[--nheld], 0), 0);
	free(held);
	cr_assert_eq(stage2_check(s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, deflating_makes_ballooned_pages_plain_empty_entries_again)
{
	struct rig r;

	rig_up(&r, "never", 16);
	stamp(&r, G(8), 64, false);
	cr_assert_eq(balloon_run(&r, G(8), 64, true), 64);
	cr_assert_eq(balloon_run(&r, G(8), 64, false), 64);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 0);
	cr_assert_eq(stat(&r, S2_BALLOON_DEFLATED), 64);
	stamp(&r, G(8), 64, false);
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_BALLOON_REFAULTS), 0, "deflated pages are not ballooned any more");
	cr_assert_gt(stat(&r, S2_FAULTAROUND_PAGES), 0, "and fault-around maps them again");
	rig_down(&r);
}

Test(stage2, a_thp_ballooned_in_two_halves_goes_back_whole_without_a_split)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 1024, false);
	before = allocated(&r);
	cr_assert_eq(balloon_run(&r, G(8), 256, true), 0, "half a huge frame: pending, nothing freed yet");
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 256);
	cr_assert_eq(balloon_run(&r, G(8) + 256, 256, true), 512);
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 0);
	cr_assert_eq(stat(&r, S2_THP_SPLIT), 0);
	cr_assert_eq(stat(&r, S2_BALLOON_HUGE_WHOLE), 1);
	cr_assert_eq(allocated(&r), before - 512);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 512);
	expect_stamps(&r, G(10), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_flush_splits_a_partly_ballooned_thp_and_frees_only_those_pages)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 512, false);
	before = allocated(&r);
	cr_assert_eq(balloon_run(&r, G(8) + 100, 100, true), 0);
	cr_assert_eq(stage2_balloon_flush(r.mem.s2), 100);
	cr_assert_eq(stat(&r, S2_BALLOON_HUGE_SPLIT), 1);
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 0);
	/* the split's page table is one frame more */
	cr_assert_eq(allocated(&r), before - 100 + 1);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 100);
	for (gfn_t g = G(8); g < G(8) + 512; g++)
		if (g < G(8) + 100 || g >= G(8) + 200)
			cr_assert_eq(page(&r, g)[0], 0x5eed0000 + g, "gfn %#lx kept its data", (unsigned long)g);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_pending_page_deflated_before_the_flush_is_never_freed)
{
	struct rig r;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 512, false);
	cr_assert_eq(balloon_run(&r, G(8), 10, true), 0);
	cr_assert_eq(balloon_run(&r, G(8), 5, false), 5);
	cr_assert_eq(stage2_balloon_flush(r.mem.s2), 5);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 5);
	expect_stamps(&r, G(8) + 10, 502, GMM_GFN_NONE);
	rig_down(&r);
}

/*
 * A 4 KiB guest's frames come from 2 MiB blocks populated in 4 KiB folios:
 * freeing one frame (here by the balloon; eviction alike) punches one page
 * and leaves the PTEs of its neighbours alone. From a 2 MiB folio the punch
 * split the folio, which took every other frame's PTE out of the window, and
 * each of those pages faulted back through the fault thread as a minor fault.
 */
Test(stage2, freeing_one_frame_of_a_4k_guest_leaves_its_neighbours_mapped)
{
	struct rig r;

	rig_up_swap(&r, "never"); /* the window is registered for minor faults */
	stamp(&r, G(8), 64, false);
	cr_assert_eq(balloon_run(&r, G(8) + 20, 1, true), 1);
	expect_stamps(&r, G(8), 20, GMM_GFN_NONE);
	expect_stamps(&r, G(8) + 21, 43, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_MINOR_UNARMED), 0, "a neighbour lost its mapping to the freed frame's punch");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, inflating_swapped_pages_frees_their_slots)
{
	struct rig r;

	rig_up_swap(&r, "never");
	stamp(&r, G(8), 64, false);
	cr_assert_gt(stage2_shrink(r.mem.s2, 64), 0);
	cr_assert_gt(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	balloon_run(&r, G(8), 64, true);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 64);
	rig_down(&r);
}

Test(stage2, a_free_page_report_frees_frames_and_leaves_plain_empty_entries)
{
	struct rig r;
	uint64_t before;

	rig_up(&r, "never", 16);
	stamp(&r, G(8), 256, false);
	before = allocated(&r);
	cr_assert_eq(stage2_free_page_report(r.mem.s2, G(8), 128), 128);
	cr_assert_eq(allocated(&r), before - 128);
	cr_assert_eq(ept(&r, EPT_BALLOONED), 0);
	cr_assert_eq(stat(&r, S2_REPORTED_PAGES), 128);
	cr_assert_eq(page(&r, G(8))[0], 0);
	expect_stamps(&r, G(8) + 128, 128, GMM_GFN_NONE);
	rig_down(&r);
}

/* --- page migration (stage2_migrate.c) ---------------------------------- */

static pfn_t pfn_of(struct rig *r, gfn_t g, unsigned *order)
{
	uint64_t e;

	cr_assert_eq(stage2_translate(r->mem.s2, g << 12, &e, order), 0);
	cr_assert(ept_entry_present(e));
	return ept_entry_pfn(e);
}

Test(stage2, a_migrated_page_keeps_its_data_and_its_old_frame_is_freed)
{
	struct rig r;
	unsigned order;
	pfn_t src, dst, now;
	uint64_t before;

	rig_up(&r, "never", 16);
	stamp(&r, G(8), 64, false);
	src = pfn_of(&r, G(8) + 3, &order);
	dst = gmm_alloc_frames(r.hp->mm, 0, __GFP_MOVABLE, 0);
	before = allocated(&r);
	cr_assert_eq(stage2_migrate_frame(r.mem.s2, src, dst, 0), 0);
	now = pfn_of(&r, G(8) + 3, &order);
	cr_assert_eq(now, dst);
	cr_assert_eq(allocated(&r), before - 1, "the old frame went back");
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_PGMIGRATE_SUCCESS), 1);
	/* the same frame again: not this guest's mapping any more */
	dst = gmm_alloc_frames(r.hp->mm, 0, __GFP_MOVABLE, 0);
	cr_assert_eq(stage2_migrate_frame(r.mem.s2, src, dst, 0), -ENOENT);
	gmm_free_frames(r.hp->mm, dst, 0);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_2m_frame_migrates_whole)
{
	struct rig r;
	unsigned order;
	pfn_t src, dst;

	rig_up(&r, "always", 16);
	stamp(&r, G(8), 512, false);
	src = pfn_of(&r, G(8), &order);
	cr_assert_eq(order, 9);
	dst = gmm_alloc_frames(r.hp->mm, 9, __GFP_MOVABLE, 0);
	cr_assert_neq(dst, GMM_PFN_NONE);
	cr_assert_eq(stage2_migrate_frame(r.mem.s2, src, dst, 9), 0);
	cr_assert_eq(pfn_of(&r, G(8) + 100, &order), dst, "the 2 MiB leaf maps the new frame");
	cr_assert_eq(ept(&r, EPT_PRESENT_2M), 1);
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, the_system_area_never_migrates)
{
	struct rig r;
	unsigned order;
	pfn_t src, dst;

	rig_up(&r, "never", 16);
	page(&r, 2)[0] = 1;
	src = pfn_of(&r, 2, &order);
	dst = gmm_alloc_frames(r.hp->mm, 0, __GFP_MOVABLE, 0);
	cr_assert_eq(stage2_migrate_frame(r.mem.s2, src, dst, 0), -ENOENT);
	gmm_free_frames(r.hp->mm, dst, 0);
	cr_assert_eq(stat(&r, S2_PGMIGRATE_FAIL), 1);
	rig_down(&r);
}

struct writer {
	struct rig *r;
	atomic_bool stop;
	uint64_t last;
};

/* A "vCPU" writing an increasing counter into 16 pages, round robin. */
static void *write_loop(void *arg)
{
	struct writer *w = arg;

	for (uint64_t v = 1; !atomic_load(&w->stop); v++) {
		page(w->r, G(8) + (v % 16))[7] = v;
		w->last = v;
	}
	return NULL;
}

Test(stage2, migration_under_concurrent_writes_loses_nothing)
{
	struct rig r;
	struct writer w = { .r = &r };
	pthread_t t;
	unsigned order;

	/* the writer may touch a page while the realizer bridges it
	 * PROT_NONE: gmm's SIGSEGV guard retries that access, as it does
	 * for vCPUs and devices */
	signals_init();
	rig_up(&r, "never", 16);
	stamp(&r, G(8), 16, false);
	cr_assert_eq(pthread_create(&t, NULL, write_loop, &w), 0);
	for (int round = 0; round < 200; round++) {
		gfn_t g = G(8) + (gfn_t)(round % 16);
		pfn_t src = pfn_of(&r, g, &order), dst = gmm_alloc_frames(r.hp->mm, 0, __GFP_MOVABLE, 0);

		cr_assert_eq(stage2_migrate_frame(r.mem.s2, src, dst, 0), 0);
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	/* every page holds the last value written to it, the rest untouched */
	for (uint64_t v = w.last, seen = 0; seen < 16 && v > 0; v--, seen++)
		cr_assert_eq(page(&r, G(8) + (v % 16))[7], v, "page %lu lost a write", (unsigned long)(v % 16));
	for (gfn_t g = G(8); g < G(8) + 16; g++)
		cr_assert_eq(page(&r, g)[0], 0x5eed0000 + g);
	cr_assert_eq(stat(&r, S2_PGMIGRATE_SUCCESS), 200);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* --- home frames (home_frames.h) ------------------------------------------ */

static void rig_up_home(struct rig *r, bool swap)
{
	if (swap)
		rig_up_swap(r, "never");
	else
		rig_up(r, "never", 16);
	/* the same rig with a home span: built again */
	guest_mem_destroy(&r->mem);
	host_pool_destroy(r->hp);
	r->home = true;
	rig_up_with(r, "never", 16, r->swap);
	cr_assert(stage2_homed(r->mem.s2), "a thp=never guest in a pool with a home span gets a range");
}

/* VMAs of gmm's address space inside [lo, hi) (/proc/self/maps). */
static int vmas_in(uint64_t lo, uint64_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long a, b;
	char line[512];
	int n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
			n++;
	fclose(f);
	return n;
}

static pfn_t ept_pfn(struct rig *r, gfn_t gfn)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(ept_lookup(r->mem.s2->ept, gfn, &e, &order), 0);
	return ept_entry_present(e) ? ept_entry_pfn(e) : GMM_PFN_NONE;
}

Test(stage2, a_homed_guest_maps_each_page_at_home_in_one_window_mapping_and_holds_one_token_each)
{
	struct rig r;
	uint64_t lo, hi, before;

	rig_up_home(&r, false);
	lo = (uint64_t)r.mem.window;
	hi = lo + r.mem.ram_bytes;
	before = allocated(&r) - atomic_load(&r.mem.s2->table_frames);
	stamp(&r, G(8), 300, true);
	stamp(&r, G(40), 5, false);
	for (gfn_t g = G(8); g < G(8) + 300; g++)
		cr_assert_eq(ept_pfn(&r, g), r.mem.s2->home + g, "gfn %#lx lives at home", (unsigned long)g);
	cr_assert_eq(vmas_in(lo, hi), 1, "the RAM is one mapping, whatever was touched");
	cr_assert_eq(home_tokens_held(&r.hp->home), atomic_load(&r.mem.s2->resident_frames));
	cr_assert_eq(allocated(&r) - before, atomic_load(&r.mem.s2->resident_frames) + atomic_load(&r.mem.s2->table_frames),
		     "the buddy gave one token per resident page (and the tables)");
	expect_stamps(&r, G(8), 300, GMM_GFN_NONE);
	expect_stamps(&r, G(40), 5, GMM_GFN_NONE);
	cr_assert_eq(stage2_collapse(r.mem.s2, G(8)), -EOPNOTSUPP, "a home page never moves");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
	/* rig_down: every token went back to the buddy */
}

Test(stage2, a_homed_page_goes_to_swap_by_a_punch_and_comes_back_home_intact)
{
	struct rig r;
	uint64_t held, resident;
	long freed;

	rig_up_home(&r, true);
	stamp(&r, G(8), 1024, false);
	held = host_pool_held_bytes(r.hp);
	resident = atomic_load(&r.mem.s2->resident_frames);
	freed = stage2_shrink(r.mem.s2, 512);
	cr_assert_gt(freed, 0);
	cr_assert_eq(atomic_load(&r.mem.s2->resident_frames), resident - (uint64_t)freed);
	cr_assert_eq(home_tokens_held(&r.hp->home), resident - (uint64_t)freed, "an evicted page's token goes back");
	cr_assert_eq(held - host_pool_held_bytes(r.hp), (uint64_t)freed * 4096, "and its page leaves the file");
	cr_assert_eq(atomic_load(&r.hp->recycle.stat[RECYCLE_KEPT]), 0, "home frames are not recycled");
	cr_assert_eq(vmas_in((uint64_t)r.mem.window, (uint64_t)r.mem.window + r.mem.ram_bytes), 1);
	/* scattered, then in order: every page back with its own data */
	for (uint64_t i = 0, g = 0; i < 1024; i++, g = (g + 37) % 1024)
		expect_stamps(&r, G(8) + g, 1, GMM_GFN_NONE);
	cr_assert_eq(stat(&r, S2_PSWPIN), (uint64_t)freed);
	for (gfn_t g = G(8); g < G(8) + 1024; g++)
		cr_assert_eq(ept_pfn(&r, g), r.mem.s2->home + g);
	cr_assert_eq(vmas_in((uint64_t)r.mem.window, (uint64_t)r.mem.window + r.mem.ram_bytes), 1,
		     "a swap-in makes no mapping");
	cr_assert_eq(home_tokens_held(&r.hp->home), atomic_load(&r.mem.s2->resident_frames));
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_ballooned_home_page_is_punched_and_a_touch_gets_a_zero_page)
{
	struct rig r;
	uint64_t before, held;

	rig_up_home(&r, false);
	stamp(&r, G(8), 64, false);
	before = allocated(&r);
	held = host_pool_held_bytes(r.hp);
	cr_assert_eq(balloon_run(&r, G(8) + 16, 32, true), 32);
	cr_assert_eq(allocated(&r), before - 32, "32 tokens back in the buddy");
	cr_assert_eq(held - host_pool_held_bytes(r.hp), 32 * 4096, "32 pages out of the file");
	expect_stamps(&r, G(8), 16, GMM_GFN_NONE);
	expect_stamps(&r, G(8) + 48, 16, GMM_GFN_NONE);
	for (gfn_t g = G(8) + 16; g < G(8) + 48; g++)
		cr_assert_eq(page(&r, g)[0] | page(&r, g)[511], 0, "a ballooned page comes back zeroed");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, compaction_moves_a_token_without_touching_the_page_it_stands_for)
{
	struct rig r;
	pfn_t src, dst;

	rig_up_home(&r, false);
	stamp(&r, G(8), 16, false);
	src = r.hp->home.tokens[3];
	cr_assert_eq(pfn_to_frame(r.hp->mm, src)->owner, HOME_TOKEN_OWNER);
	dst = gmm_alloc_frames(r.hp->mm, 0, __GFP_MOVABLE, 0);
	cr_assert_neq(dst, GMM_PFN_NONE);
	cr_assert_eq(r.hp->mm->hooks.migrate_frame(r.hp->mm, src, dst, 0, r.hp->mm->hooks.ctx), 0);
	cr_assert_eq(r.hp->home.tokens[3], dst);
	cr_assert_eq(pfn_to_frame(r.hp->mm, dst)->owner, HOME_TOKEN_OWNER);
	cr_assert_eq(frame_ref_count(pfn_to_frame(r.hp->mm, src)), 0, "the old token is free");
	cr_assert_eq(r.hp->mm->hooks.migrate_frame(r.hp->mm, src, dst, 0, r.hp->mm->hooks.ctx), -ENOENT,
		     "a frame that is no token any more is not moved");
	expect_stamps(&r, G(8), 16, GMM_GFN_NONE);
	cr_assert_eq(home_tokens_held(&r.hp->home), atomic_load(&r.mem.s2->resident_frames));
	rig_down(&r);
}

Test(home_frames, ranges_are_first_fit_in_whole_2m_and_refused_when_the_span_is_full)
{
	struct home_frames h;

	cr_assert_eq(home_frames_init(&h, 1000, 4 * 512), 0);
	cr_assert_eq(home_range_get(&h, 100), 1000, "rounded up to 512");
	cr_assert_eq(home_range_get(&h, 1024), 1512);
	cr_assert_eq(home_range_get(&h, 512), 2536);
	cr_assert_eq(home_range_get(&h, 1), GMM_PFN_NONE, "full");
	cr_assert_eq(atomic_load(&h.refused), 1);
	home_range_put(&h, 1512, 1024);
	cr_assert_eq(home_range_get(&h, 600), 1512, "the gap left is reused");
	cr_assert_eq(home_range_get(&h, 512), GMM_PFN_NONE, "600 took 1024");
	home_range_put(&h, 1000, 512);
	cr_assert_eq(home_range_get(&h, 512), 1000);
	home_frames_destroy(&h, NULL);
}

Test(stage2, a_failed_swap_write_puts_a_home_page_back_in_place)
{
	struct rig r;

	rig_up_home(&r, true);
	stamp(&r, G(8), 256, false);
	swap_inject_errors(r.swapdev, SWAP_WRITE, 1, EIO);
	cr_assert_eq(stage2_shrink(r.mem.s2, 256), 0);
	cr_assert_gt(stat(&r, S2_SWAP_WRITE_FAILED), 0);
	cr_assert_eq(ept(&r, EPT_SWAPPED), 0);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	swap_inject_errors(r.swapdev, SWAP_WRITE, 0, 0);
	expect_stamps(&r, G(8), 256, GMM_GFN_NONE);
	for (gfn_t g = G(8); g < G(8) + 256; g++)
		cr_assert_eq(ept_pfn(&r, g), r.mem.s2->home + g);
	cr_assert_eq(stat(&r, S2_PSWPIN), 0, "nothing was read: the pages never left the file");
	cr_assert_eq(home_tokens_held(&r.hp->home), atomic_load(&r.mem.s2->resident_frames));
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* --- the swap cache's clean pages (stage2_swapcache.c) ------------------- */

static unsigned resident_in(struct rig *r, gfn_t first, uint64_t nr)
{
	unsigned n = 0;

	for (gfn_t g = first; g < first + nr; g++)
		n += ept_pfn(r, g) != GMM_PFN_NONE;
	return n;
}

/* Reclaim until nothing of [first, first+nr) is resident: the first
 * rounds arm what they see, the next ones evict it. */
static void evict_range(struct rig *r, gfn_t first, uint64_t nr)
{
	for (int round = 0; round < 64 && resident_in(r, first, nr); round++)
		stage2_shrink(r->mem.s2, 4096);
	cr_assert_eq(resident_in(r, first, nr), 0, "the whole range went to swap");
}

static uint64_t kept(struct rig *r)
{
	return atomic_load(&r->mem.s2->kept_pages);
}

Test(stage2, a_page_read_back_from_swap_keeps_its_slot_and_goes_back_to_it_with_no_write)
{
	struct rig r;
	uint64_t out;

	rig_up_home(&r, true);
	cr_assert(r.mem.s2->swap_keep, "a homed window with swap tracks writes for its swap cache");
	stamp(&r, G(8), 1024, false);
	evict_range(&r, G(8), 1024);
	out = stat(&r, S2_PSWPOUT);
	cr_assert_geq(out, 1024, "written once");
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE); /* read back: read faults */
	cr_assert_eq(kept(&r), 1024, "each page read back keeps its slot");
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 0);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 1024, "so the slots are still in use");
	evict_range(&r, G(8), 1024);
	cr_assert_eq(stat(&r, S2_PSWPOUT), out, "nothing written the second time");
	cr_assert_eq(stat(&r, S2_PGSTEAL_CLEAN), 1024);
	cr_assert_eq(kept(&r), 0);
	cr_assert_eq(atomic_load(&r.mem.s2->swap_pages), 1024);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 1024, "one slot a page, the one it had");
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	cr_assert_eq(home_tokens_held(&r.hp->home), atomic_load(&r.mem.s2->resident_frames));
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r); /* every kept slot came back too */
}

/* The one way this can lose data: a page written after its swap-in
 * evicted to the slot that holds its old contents. Pages written after a
 * plain read, written and then armed and read (the marker gone, the bit
 * must not come back), armed and read and then written (the bit put
 * back at the hinting fault), armed and written (the hinting fault a
 * write), and read back by a write fault. */
Test(stage2, a_page_written_after_its_swap_in_is_written_to_swap_again_and_reads_back_new)
{
	struct rig r;
	uint64_t out, written = 0;
	gfn_t base = G(8);
	volatile uint64_t sink = 0;

	rig_up_home(&r, true);
	stamp(&r, base, 256, false);
	evict_range(&r, base, 256);
	for (gfn_t g = base; g < base + 192; g++)
		sink += page(&r, g)[0];
	cr_assert_geq(kept(&r), 192, "and what readahead brought with them");
	/* 0-63: every third written, then armed and read */
	for (gfn_t g = base; g < base + 64; g += 3, written++)
		page(&r, g)[1] = 0xd1d1 + g;
	arm(&r, base, 64);
	for (gfn_t g = base; g < base + 64; g++)
		sink += page(&r, g)[0];
	/* 64-127: armed and read, then every third written */
	arm(&r, base + 64, 64);
	for (gfn_t g = base + 64; g < base + 128; g++)
		sink += page(&r, g)[0];
	for (gfn_t g = base + 64; g < base + 128; g += 3, written++)
		page(&r, g)[1] = 0xd1d1 + g;
	/* 128-191: armed and written; 192-255: written from swap */
	arm(&r, base + 128, 64);
	for (gfn_t g = base + 128; g < base + 256; g++, written++)
		page(&r, g)[1] = 0xd1d1 + g;
	cr_assert_geq(stat(&r, S2_HINT_FAULTS), 192);
	out = stat(&r, S2_PSWPOUT);
	evict_range(&r, base, 256);
	cr_assert_eq(stat(&r, S2_PSWPOUT) - out, written, "every written page written, and no other");
	cr_assert_eq(stat(&r, S2_PGSTEAL_CLEAN), 256 - written);
	for (gfn_t g = base; g < base + 256; g++) {
		bool w = g >= base + 128 || (g - base) % 64 % 3 == 0;

		cr_assert_eq(page(&r, g)[0], 0x5eed0000 + g, "gfn %#lx lost its stamp", (unsigned long)g);
		cr_assert_eq(page(&r, g)[1], w ? 0xd1d1 + g : 0, "gfn %#lx: %s", (unsigned long)g,
			     w ? "a write lost" : "a write from nowhere");
	}
	(void)sink;
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(stage2, a_kept_slot_goes_with_its_page_and_when_write_tracking_starts)
{
	struct rig r;
	volatile uint64_t sink = 0;

	rig_up_home(&r, true);
	stamp(&r, G(8), 64, false);
	evict_range(&r, G(8), 64);
	for (gfn_t g = G(8); g < G(8) + 64; g++)
		sink += page(&r, g)[0];
	cr_assert_eq(kept(&r), 64);
	/* given back: the balloon takes 16 pages */
	gfn_t give[16];

	for (int i = 0; i < 16; i++)
		give[i] = G(8) + i;
	cr_assert_eq(stage2_balloon_inflate(r.mem.s2, give, 16), 16);
	stage2_balloon_flush(r.mem.s2);
	cr_assert_eq(kept(&r), 48);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 48);
	/* uffd-wp tracking owns the bits from now on */
	cr_assert_eq(stage2_dirty_start(r.mem.s2), 0);
	cr_assert_eq(kept(&r), 0);
	cr_assert_eq(swap_stat(r.swapdev, SWAP_USED_SLOTS), 0);
	evict_range(&r, G(8) + 16, 48);
	cr_assert_eq(stat(&r, S2_PGSTEAL_CLEAN), 0);
	expect_stamps(&r, G(8) + 16, 48, GMM_GFN_NONE);
	cr_assert_eq(kept(&r), 0, "and nothing is kept under it");
	(void)sink;
	rig_down(&r);
}

/* Put the page at gfn on the active list, as a referenced page goes. */
static void activate(struct rig *r, gfn_t gfn)
{
	uint64_t e;
	unsigned order;

	if (stage2_translate(r->mem.s2, gfn << 12, &e, &order) || !ept_entry_present(e))
		page(r, gfn)[0] = 0; /* fault it in first */
	cr_assert_eq(stage2_translate(r->mem.s2, gfn << 12, &e, &order), 0);
	pthread_mutex_lock(&r->mem.s2->lock);
	gmm_lru_move(r->hp->mm, &r->mem.s2->lru, ept_entry_pfn(e), true);
	pthread_mutex_unlock(&r->mem.s2->lock);
}

/* Whether gfn's window PTE is there (/proc/self/pagemap's present bit). */
static bool pte_present(struct rig *r, gfn_t gfn)
{
	FILE *f = fopen("/proc/self/pagemap", "r");
	uint64_t ent = 0;
	uintptr_t va = (uintptr_t)r->mem.window + (gfn << 12);

	cr_assert_not_null(f);
	cr_assert_eq(fseeko(f, (off_t)(va >> 12) * 8, SEEK_SET), 0);
	cr_assert_eq(fread(&ent, sizeof(ent), 1, f), 1);
	fclose(f);
	return ent >> 63;
}

Test(stage2, a_home_window_is_armed_unlocked_and_a_page_gone_meanwhile_is_not_armed)
{
	struct rig r;
	pfn_t gone[8];
	uint64_t armed;
	volatile uint64_t sink = 0;

	rig_up_home(&r, true);
	stamp(&r, G(8), 512, false);
	activate(&r, G(8) - 1);
	activate(&r, G(8) + 64);
	arm(&r, G(8), 64);
	cr_assert_eq(stat(&r, S2_HINT_ARMED), 64);
	cr_assert_eq(r.mem.s2->arms_in_flight, 0, "the zaps are over when the call returns");
	for (gfn_t g = G(8); g < G(8) + 64; g++) {
		cr_assert(frame_test_idle(frame_at(&r, g)));
		cr_assert(!pte_present(&r, g), "gfn %#lx: armed, its PTE zapped", (unsigned long)g);
	}
	cr_assert(pte_present(&r, G(8) + 64), "its active neighbour kept its PTE");
	sink += page(&r, G(8) + 3)[0];
	cr_assert_eq(stat(&r, S2_HINT_FAULTS), 1);
	/* what a caller's list may hold after it let the lock go: pages
	 * evicted since (a home pfn stands for its gfn, so the frame is the
	 * same one, no longer mapped) */
	while (ept(&r, EPT_SWAPPED) < 256)
		cr_assert_gt(stage2_shrink(r.mem.s2, 512), 0);
	armed = stat(&r, S2_HINT_ARMED);
	for (unsigned i = 0, n = 0; n < 8; i++) {
		cr_assert_lt(i, 512);
		if (swapped(&r, G(8) + i))
			gone[n++] = r.mem.s2->home + G(8) + i;
	}
	pthread_mutex_lock(&r.mem.s2->lock);
	hint_arm_locked(r.mem.s2, gone, 8);
	pthread_mutex_unlock(&r.mem.s2->lock);
	cr_assert_eq(stat(&r, S2_HINT_ARMED), armed, "nothing armed");
	for (unsigned i = 0; i < 8; i++)
		cr_assert(!frame_test_idle(pfn_to_frame(r.hp->mm, gone[i])));
	expect_stamps(&r, G(8), 512, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	(void)sink;
	rig_down(&r);
}

/* arm_neighbours(): a scattered arm is a TLB flush of every CPU; the
 * inactive, untested pages next to it go in the same zap, across gfns
 * with no PTE, never across a page in use. */
Test(stage2, a_home_arm_takes_its_untested_inactive_neighbours_in_the_same_zap)
{
	struct rig r;
	gfn_t at = G(8) + 16;

	rig_up_home(&r, true);
	stamp(&r, G(8), 32, false);
	cr_assert_eq(balloon_run(&r, G(8) + 12, 3, true), 3); /* a hole: +12..+14 */
	activate(&r, G(8) + 22);
	arm(&r, at, 1);
	cr_assert_eq(stat(&r, S2_HINT_ARM_ZAPS), 1, "one zap");
	/* left: +15, then the hole +12..+14 crossed, +8..+11 armed; right:
	 * +17..+21, up to the active page */
	cr_assert_eq(stat(&r, S2_HINT_ARMED), 1 + 1 + 4 + 5);
	for (gfn_t g = G(8) + 8; g <= G(8) + 21; g++) {
		bool hole = g >= G(8) + 12 && g <= G(8) + 14;

		cr_assert(!pte_present(&r, g), "gfn +%lu: zapped", (unsigned long)(g - G(8)));
		if (hole)
			continue;
		cr_assert(frame_test_idle(frame_at(&r, g)), "gfn +%lu: armed", (unsigned long)(g - G(8)));
		cr_assert_eq(frame_test_armed_early(frame_at(&r, g)), g != at,
			     "gfn +%lu: armed early unless it was the page asked for", (unsigned long)(g - G(8)));
	}
	cr_assert(pte_present(&r, G(8) + 7), "9 gfns away: left alone");
	cr_assert(pte_present(&r, G(8) + 22) && !frame_test_idle(frame_at(&r, G(8) + 22)), "the active page");
	cr_assert(pte_present(&r, G(8) + 23), "past it");
	expect_stamps(&r, G(8), 12, GMM_GFN_NONE);
	expect_stamps(&r, G(8) + 15, 17, GMM_GFN_NONE);
	cr_assert_eq(page(&r, G(8) + 12)[0], 0, "the hole reads zeroes");
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* An early-armed page's first visit at the inactive tail is the round it
 * would have been armed for: rotated, without a zap; the page asked for
 * was armed for that round already: evicted if untouched. */
Test(stage2, an_early_armed_page_is_rotated_at_its_first_tail_visit_and_evicted_at_its_second)
{
	struct rig r;
	gfn_t at = G(8) + 40;
	uint64_t zaps;

	rig_up_home(&r, true);
	stamp(&r, G(8), 64, false); /* the inactive list, G(8) at its tail */
	arm(&r, at, 1);
	cr_assert_eq(stat(&r, S2_HINT_ARMED), 17);
	zaps = stat(&r, S2_HINT_ARM_ZAPS);
	cr_assert_gt(stage2_shrink(r.mem.s2, 64), 0);
	cr_assert(swapped(&r, at), "armed at its last visit, untouched: evicted");
	for (gfn_t g = at - 8; g <= at + 8; g++) {
		if (g == at)
			continue;
		cr_assert(!swapped(&r, g), "gfn +%lu: rotated, not evicted", (unsigned long)(g - G(8)));
		cr_assert(frame_test_idle(frame_at(&r, g)) && !frame_test_armed_early(frame_at(&r, g)));
	}
	cr_assert_eq(stat(&r, S2_HINT_ARM_ZAPS) - zaps, 2,
		     "G(8)..+31 armed in one zap, +49..+63 in another: none for the early ones");
	/* next round: the untouched early ones go too, with their data */
	while (!swapped(&r, at - 8))
		cr_assert_gt(stage2_shrink(r.mem.s2, 64), 0);
	for (gfn_t g = at - 8; g <= at + 8; g++)
		cr_assert(swapped(&r, g));
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

/* kswapd ages ahead of eviction (docs/reclaim.md#aging-ahead): a page new
 * on the inactive list is armed once half the list came in after it, so
 * the tail finds it tested and a shrink frees it at its first visit there
 * instead of arming a run of new pages before it can free anything. */
Test(stage2, kswapd_arms_a_new_page_once_half_the_inactive_list_came_in_after_it)
{
	struct rig r;
	volatile uint64_t sink = 0;

	rig_up_swap(&r, "never");
	cr_assert(hint_enabled(r.mem.s2));
	stamp(&r, G(8), 64, false); /* G(8) joined first: the tail */
	cr_assert_eq(stage2_age_ahead(r.mem.s2, 4), 4, "at most what it was allowed to look at");
	cr_assert_eq(stage2_age_ahead(r.mem.s2, 1024), 28, "the rest of the older half");
	for (gfn_t g = G(8); g < G(8) + 64; g++)
		cr_assert_eq(frame_test_idle(frame_at(&r, g)), g < G(8) + 32, "gfn +%lu", (unsigned long)(g - G(8)));
	cr_assert_eq(stat(&r, S2_HINT_ARMED_AHEAD), 32);
	cr_assert_eq(stage2_age_ahead(r.mem.s2, 1024), 0, "each page once, the newer half not yet");
	sink += page(&r, G(8) + 5)[0]; /* tested: touched */
	cr_assert_eq(stat(&r, S2_HINT_FAULTS), 1);
	/* the tail: the touched page activated, the 31 others evicted, none
	 * rotated for a test */
	cr_assert_eq(stage2_shrink(r.mem.s2, 32), 31);
	cr_assert_eq(stat(&r, S2_PGROTATED), 0);
	for (gfn_t g = G(8); g < G(8) + 32; g++)
		cr_assert_eq(swapped(&r, g), g != G(8) + 5, "gfn +%lu", (unsigned long)(g - G(8)));
	/* the list is 32 now: the older half of what is left is due */
	cr_assert_eq(stage2_age_ahead(r.mem.s2, 1024), 16);
	cr_assert(frame_test_idle(frame_at(&r, G(8) + 47)) && !frame_test_idle(frame_at(&r, G(8) + 48)));
	expect_stamps(&r, G(8), 64, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	(void)sink;
	rig_down(&r);
}

/* shrink_lruvec() scans the active list a share at a time, not down to
 * balance in one call: each page deactivated is an arm, and a fault that
 * reclaims 64 pages for itself must not arm thousands first. */
Test(stage2, a_shrink_deactivates_its_share_of_the_active_list_not_the_whole_imbalance)
{
	struct rig r;

	rig_up_home(&r, true);
	stamp(&r, G(8), 1024, false);
	for (gfn_t g = G(8); g < G(8) + 1024; g++)
		activate(&r, g);
	stage2_shrink(r.mem.s2, 32);
	cr_assert_eq(stat(&r, S2_PGREFILL), 32, "32 of the 1024 active pages looked at, not 512");
	cr_assert_eq(stat(&r, S2_PGDEACTIVATE), 32);
	cr_assert_eq(gmm_lru_pages(&r.mem.s2->lru, LRU_ACTIVE_ANON), 1024 - 32);
	/* repeated, the lists still come to balance */
	for (int i = 0; i < 64 && gmm_lru_pages(&r.mem.s2->lru, LRU_ACTIVE_ANON) >
				  gmm_lru_pages(&r.mem.s2->lru, LRU_INACTIVE_ANON) + 1; i++)
		stage2_shrink(r.mem.s2, 32);
	cr_assert_leq(gmm_lru_pages(&r.mem.s2->lru, LRU_ACTIVE_ANON),
		      gmm_lru_pages(&r.mem.s2->lru, LRU_INACTIVE_ANON) + 1);
	expect_stamps(&r, G(8), 1024, GMM_GFN_NONE);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

struct stop_arg {
	struct stage2 *s2;
	atomic_bool done;
};

static void *stop_thread(void *p)
{
	struct stop_arg *a = p;

	stage2_stop(a->s2);
	atomic_store(&a->done, true);
	return NULL;
}

Test(stage2, stopping_waits_for_a_home_window_zap_in_flight)
{
	struct rig r;
	struct stop_arg a = { 0 };
	pthread_t t;

	rig_up_home(&r, true);
	stamp(&r, G(8), 16, false);
	a.s2 = r.mem.s2;
	/* an arm between its unlock and its relock (arm_batch()) */
	pthread_mutex_lock(&r.mem.s2->lock);
	r.mem.s2->arms_in_flight++;
	pthread_mutex_unlock(&r.mem.s2->lock);
	cr_assert_eq(pthread_create(&t, NULL, stop_thread, &a), 0);
	usleep(100 * 1000);
	cr_assert(!atomic_load(&a.done), "the window must outlive the zap");
	pthread_mutex_lock(&r.mem.s2->lock);
	cr_assert(r.mem.s2->stopping, "no new arm starts");
	if (--r.mem.s2->arms_in_flight == 0)
		pthread_cond_broadcast(&r.mem.s2->io_done);
	pthread_mutex_unlock(&r.mem.s2->lock);
	pthread_join(t, NULL);
	cr_assert(atomic_load(&a.done));
	rig_down(&r);
}
