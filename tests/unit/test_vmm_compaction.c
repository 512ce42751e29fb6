/*
 * Compaction end to end: a guest's frames scattered over a full pool,
 * moved by compaction through stage2_migrate_frame() (the owner's side of
 * the migrate_frame hook) and by the kcompactd threads when a huge-frame
 * allocation fails. No /dev/kvm: the guest's memory is touched through
 * its window, as test_vmm_stage2.c does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "guestmm/buddy.h"
#include "guestmm/compaction.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/kcompactd.h"
#include "vmm/stage2.h"

#define MB (1ULL << 20)
#define G(mb) ((gfn_t)(mb) * 256)   /* gfn of a MiB offset, above the boot area */
#define FIRST G(8)
#define NR_PAGES (48 * 256)          /* 48 MiB of the guest's 64 */
#define MAX_FILLER 64

struct rig {
	struct host_pool *hp;
	struct guest_mem mem;
	pfn_t filler[MAX_FILLER];        /* order-9 blocks the VMM holds: unmovable */
	int nr_filler;
};

/* The owner's half of the hook, as host_pool.c will route it: this test
 * has one guest. */
static struct stage2 *the_guest;

static int migrate_to_guest(struct gmm_pool *pool, pfn_t src, pfn_t dst, unsigned order, void *ctx)
{
	(void)pool;
	(void)ctx;
	return stage2_migrate_frame(the_guest, src, dst, order);
}

static uint64_t *page(struct rig *r, gfn_t gfn)
{
	return (uint64_t *)((char *)r->mem.window + (gfn << 12));
}

/* A 128 MiB pool, a 64 MiB 4 KiB-page guest whose every other page of
 * 48 MiB holds data, the rest of the pool held in 2 MiB blocks by the
 * VMM: free memory, but no free 2 MiB block. */
static void rig_up(struct rig *r)
{
	struct pool_config pc = { .size_bytes = 128 * MB, .nodes = 1, .reserve_bytes = 0 };
	struct stage2_config sc = { .fault_around_pages = 1, .owner = 7, .name = "t", .limits = STAGE2_NO_LIMITS };
	struct guest_mem_config mc = { .ram_bytes = 64 * MB, .backend = GUEST_MEM_POOL, .stage2 = &sc };
	struct gmm_pool *mm;
	char err[256];
	pfn_t p;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(host_pool_create(&pc, &r->hp, err, sizeof(err)), 0, "%s", err);
	mc.pool = r->hp;
	cr_assert_eq(guest_mem_create(&r->mem, &mc), 0);
	the_guest = r->mem.s2;
	mm = r->hp->mm;
	for (gfn_t g = FIRST; g < FIRST + NR_PAGES; g++) {
		page(r, g)[0] = 0x5eed0000 + g;
		page(r, g)[511] = ~g;
	}
	while (r->nr_filler < MAX_FILLER &&
	       (p = gmm_alloc_frames(mm, 9, __GFP_HIGH | __GFP_NOWARN, 0)) != GMM_PFN_NONE)
		r->filler[r->nr_filler++] = p;
	for (gfn_t g = FIRST + 1; g < FIRST + NR_PAGES; g += 2)
		cr_assert_eq(stage2_free_page_report(r->mem.s2, g, 1), 1);
	gmm_drain_all_pages(mm);
	cr_assert_eq(gmm_alloc_frames(mm, 9, __GFP_MOVABLE | __GFP_NOWARN, 0), GMM_PFN_NONE, "fragmented");
	cr_assert_geq(gmm_pool_free_frames(mm), NR_PAGES / 2);
	mm->hooks.migrate_frame = migrate_to_guest;
}

static void expect_data(struct rig *r)
{
	for (gfn_t g = FIRST; g < FIRST + NR_PAGES; g += 2) {
		cr_assert_eq(page(r, g)[0], 0x5eed0000 + g, "gfn %#lx lost its data", (unsigned long)g);
		cr_assert_eq(page(r, g)[511], ~g);
	}
}

static void rig_down(struct rig *r)
{
	struct gmm_pool *mm = r->hp->mm;

	cr_assert_eq(stage2_check(r->mem.s2, stderr), 0);
	for (int i = 0; i < r->nr_filler; i++)
		cr_assert_eq(host_pool_free(r->hp, r->filler[i], 9), 0);
	guest_mem_destroy(&r->mem);
	cr_assert_eq(gmm_pool_free_frames(mm) + gmm_pool_pcp_frames(mm), mm->nr_frames,
		     "every frame came back");
	cr_assert_eq(gmm_pool_check(mm, stderr), 0);
	host_pool_destroy(r->hp);
	the_guest = NULL;
}

Test(vmm_compaction, guest_frames_move_through_stage2_and_a_huge_frame_appears)
{
	struct rig r;
	uint64_t moved;

	rig_up(&r);
	cr_assert_eq(compact_node(r.hp->mm, 0, 9, NULL), COMPACT_SUCCESS);
	moved = gmm_vmstat_get(r.hp->mm, PGMIGRATE_SUCCESS);
	cr_assert_gt(moved, 0);
	cr_assert_eq(atomic_load(&r.mem.s2->stat[S2_PGMIGRATE_SUCCESS]), moved, "the owner counted the same moves");
	expect_data(&r);
	pfn_t huge = gmm_alloc_frames(r.hp->mm, 9, __GFP_MOVABLE | __GFP_NOWARN, 0);

	cr_assert_neq(huge, GMM_PFN_NONE);
	cr_assert_eq(gmm_free_frames(r.hp->mm, huge, 9), 0);
	rig_down(&r);
}

Test(vmm_compaction, a_failed_huge_allocation_wakes_kcompactd_which_compacts)
{
	struct compaction_config cc = { .proactiveness = 0 };
	struct kcompactd k = { .started = false };
	struct timespec start, now;
	struct rig r;

	rig_up(&r);
	cr_assert_eq(kcompactd_start(&k, r.hp, &cc), 0);
	atomic_store(&r.hp->kcompactd, &k);
	/* what take_block() and the zero reserve do after gmm_alloc_frames() */
	kcompactd_wake_if_failed(r.hp, 123, 0, 9);
	cr_assert_eq(gmm_vmstat_get(r.hp->mm, KCOMPACTD_WAKE), 0, "a success wakes nothing");
	kcompactd_wake_if_failed(r.hp, GMM_PFN_NONE, 0, 9);
	cr_assert_eq(gmm_vmstat_get(r.hp->mm, KCOMPACTD_WAKE), 1);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!atomic_load(&k.node[0].demand_runs) && now.tv_sec - start.tv_sec < 20);
	atomic_store(&r.hp->kcompactd, NULL);
	kcompactd_stop(&k);
	cr_assert_eq(atomic_load(&k.node[0].demand_runs), 1);
	cr_assert_gt(gmm_vmstat_get(r.hp->mm, KCOMPACTD_MIGRATE_SCANNED), 0);
	cr_assert_eq(gmm_vmstat_get(r.hp->mm, COMPACTSUCCESS), 1);
	expect_data(&r);
	rig_down(&r);
}
