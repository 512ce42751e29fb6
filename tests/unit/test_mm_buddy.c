/* Buddy allocator: splitting, merging, fallback and stealing, pcp lists. */
#include <errno.h>

#include "test_mm_util.h"

#define NR 4096   /* 16 MiB: 4 MAX_ORDER blocks */

static struct gmm_pool_config small_cfg(void)
{
	return (struct gmm_pool_config){ .nr_frames = NR, .min_free_frames = 16, .nr_cpus = 2,
					 .pcp_batch = 7, .pcp_high = 21 };
}

Test(buddy, pool_starts_with_every_frame_free_in_max_order_blocks)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];

	cr_assert_eq(tp.pool->nr_zones, 1);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), NR >> MAX_ORDER);
	for (unsigned o = 0; o < MAX_ORDER; o++)
		cr_assert_eq(zone_nr_free(z, o), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, alloc_splits_a_larger_block_down_to_the_order)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t pfn = gmm_alloc_frames(tp.pool, 3, 0, 0);

	cr_assert_neq(pfn, GMM_PFN_NONE);
	cr_assert_eq(pfn & 7, 0, "block aligned to its order");
	/* One order-10 block split: one free block at each of orders 3..9. */
	for (unsigned o = 3; o < MAX_ORDER; o++)
		cr_assert_eq(zone_nr_free(z, o), 1, "order %u", o);
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), 3);
	cr_assert_eq(gmm_vmstat_get(tp.pool, BUDDY_SPLIT), 7);
	cr_assert(frame_test_head(pfn_to_frame(tp.pool, pfn)));
	cr_assert_eq(frame_head(pfn_to_frame(tp.pool, pfn + 5)), pfn_to_frame(tp.pool, pfn));
	cr_assert_eq(frame_ref_count(pfn_to_frame(tp.pool, pfn)), 1);
	tp_assert_consistent(&tp);
	cr_assert_eq(gmm_free_frames(tp.pool, pfn, 3), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, free_merges_buddies_into_higher_order)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t a = gmm_alloc_frames(tp.pool, 4, 0, 0);
	pfn_t b = gmm_alloc_frames(tp.pool, 4, 0, 0);

	cr_assert_eq(a ^ b, 16, "two order-4 allocations are buddies");
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), 3);
	gmm_free_frames(tp.pool, a, 4);
	cr_assert_eq(zone_nr_free(z, 4), 1, "a waits for its buddy");
	gmm_free_frames(tp.pool, b, 4);
	cr_assert_eq(zone_nr_free(z, 4), 0);
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), 4, "merged all the way up");
	cr_assert_geq(gmm_vmstat_get(tp.pool, BUDDY_MERGE), 6);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, exhausting_the_zone_fails_and_freeing_restores_everything)
{
	struct gmm_pool_config cfg = small_cfg();
	cfg.min_free_frames = 1;
	struct test_pool tp = tp_create(cfg, false);
	static pfn_t got[NR];
	int n = 0;
	pfn_t p;

	while ((p = gmm_alloc_frames(tp.pool, 0, __GFP_HIGH | __GFP_NOWARN | __GFP_NOFAIL, 0)) != GMM_PFN_NONE)
		got[n++] = p;
	cr_assert_eq(n, NR, "NOFAIL ignores watermarks at the end: got %d", n);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), 0);
	cr_assert_eq(gmm_alloc_frames(tp.pool, 0, __GFP_NOWARN, 0), GMM_PFN_NONE);
	cr_assert_geq(gmm_vmstat_get(tp.pool, ALLOC_FAIL), 2);
	tp_assert_consistent(&tp);
	for (int i = 0; i < n; i++)
		cr_assert_eq(gmm_free_frames(tp.pool, got[i], 0), 0);
	gmm_drain_all_pages(tp.pool);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	cr_assert_eq(zone_nr_free(&tp.pool->zones[0], MAX_ORDER), NR >> MAX_ORDER);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, order0_goes_through_pcp_refilled_by_batch)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t p = gmm_alloc_frames(tp.pool, 0, 0, 0);

	cr_assert_neq(p, GMM_PFN_NONE);
	/* One refill took batch (7) frames; one was handed out. */
	cr_assert_eq(zone_pcp_count(z), 6);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR - 7);
	cr_assert_eq(gmm_vmstat_get(tp.pool, PCP_REFILL), 1);
	tp_assert_consistent(&tp);
	gmm_free_frames(tp.pool, p, 0);
	cr_assert_eq(zone_pcp_count(z), 7);
	gmm_drain_all_pages(tp.pool);
	cr_assert_eq(zone_pcp_count(z), 0);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, pcp_drains_a_batch_when_it_reaches_high)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t got[40];

	for (int i = 0; i < 40; i++)
		got[i] = gmm_alloc_frames(tp.pool, 0, 0, 0);
	gmm_drain_all_pages(tp.pool);
	for (int i = 0; i < 40; i++)
		gmm_free_frames(tp.pool, got[i], 0);
	/* high 21, batch 7: every time a list reaches 21 it drops to 14. */
	cr_assert_lt(zone_pcp_count(z), 21);
	cr_assert_geq(gmm_vmstat_get(tp.pool, PCP_DRAIN), 1);
	cr_assert_eq(gmm_pool_free_frames(tp.pool) + zone_pcp_count(z), NR);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, unmovable_fallback_claims_the_movable_pageblock)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t p;

	cr_assert_eq(get_pageblock_migratetype(z, 0), MIGRATE_MOVABLE);
	p = gmm_alloc_frames(tp.pool, 2, 0 /* unmovable */, 0);
	cr_assert_neq(p, GMM_PFN_NONE);
	cr_assert_eq(get_pageblock_migratetype(z, p), MIGRATE_UNMOVABLE,
		     "the whole free block was claimed for unmovable");
	cr_assert_eq(gmm_vmstat_get(tp.pool, PGALLOC_FALLBACK), 1);
	cr_assert_eq(gmm_vmstat_get(tp.pool, PAGEBLOCK_STEAL), 1);
	/* A second unmovable allocation needs no fallback now. */
	gmm_alloc_frames(tp.pool, 2, 0, 0);
	cr_assert_eq(gmm_vmstat_get(tp.pool, PGALLOC_FALLBACK), 1);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, small_movable_fallback_steals_without_changing_the_pageblock)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	static pfn_t mov[NR], unm[128];
	int n = 0;
	pfn_t p;

	/* Two unmovable pageblocks (one claimed order-10 block), filled. */
	for (int i = 0; i < 128; i++) {
		unm[i] = gmm_alloc_frames(tp.pool, 3, 0, 0);
		cr_assert_eq(get_pageblock_migratetype(z, unm[i]), MIGRATE_UNMOVABLE);
	}
	/* Give back 32 frames: far less than half a pageblock. */
	for (int i = 124; i < 128; i++)
		gmm_free_frames(tp.pool, unm[i], 3);
	while ((p = gmm_alloc_frames(tp.pool, 3, __GFP_MOVABLE | __GFP_NOWARN, 0)) != GMM_PFN_NONE &&
	       get_pageblock_migratetype(z, p) == MIGRATE_MOVABLE)
		mov[n++] = p;
	/* The movable request was served from the unmovable block, which
	 * keeps its type: too few free frames there to claim it. */
	cr_assert_neq(p, GMM_PFN_NONE);
	cr_assert_eq(get_pageblock_migratetype(z, p), MIGRATE_UNMOVABLE);
	cr_assert_eq(gmm_vmstat_get(tp.pool, PGALLOC_FALLBACK), 2);
	cr_assert_eq(gmm_vmstat_get(tp.pool, PAGEBLOCK_STEAL), 1, "only the first claim");
	tp_assert_consistent(&tp);
	gmm_free_frames(tp.pool, p, 3);
	for (int i = 0; i < n; i++)
		gmm_free_frames(tp.pool, mov[i], 3);
	for (int i = 0; i < 124; i++)
		gmm_free_frames(tp.pool, unm[i], 3);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, order9_is_a_2mib_aligned_folio)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	pfn_t p = gmm_alloc_frames(tp.pool, 9, __GFP_MOVABLE, 0);
	struct gmm_frame *h = pfn_to_frame(tp.pool, p);

	cr_assert_eq(p % 512, 0);
	cr_assert_eq(frame_order(h), 9);
	for (int i = 1; i < 512; i++)
		cr_assert_eq(frame_head(h + i), h);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 9), 0);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	tp_destroy(&tp);
}

Test(buddy, nodes_split_the_range_and_thisnode_does_not_fall_back)
{
	struct gmm_pool_config cfg = small_cfg();
	cfg.nr_nodes = 2;
	cfg.movable_percent = 50;
	struct test_pool tp = tp_create(cfg, false);
	pfn_t p;

	cr_assert_eq(tp.pool->nr_zones, 4);
	cr_assert_eq(tp.pool->nodes[1].start_pfn, NR / 2);
	p = gmm_alloc_frames(tp.pool, 0, __GFP_MOVABLE, 1);
	cr_assert_geq(p, NR / 2);
	cr_assert_eq(tp.pool->zones[frame_zone(tp.pool, pfn_to_frame(tp.pool, p))->id].type,
		     ZONE_MOVABLE, "movable requests prefer ZONE_MOVABLE");
	p = gmm_alloc_frames(tp.pool, 0, 0, 1);
	cr_assert_eq(frame_zone(tp.pool, pfn_to_frame(tp.pool, p))->type, ZONE_NORMAL);
	/* Fill node 1's Normal zone: THISNODE must fail, not fall back. */
	while (gmm_alloc_frames(tp.pool, 0, __GFP_THISNODE | __GFP_NOWARN, 1) != GMM_PFN_NONE)
		;
	p = gmm_alloc_frames(tp.pool, 0, __GFP_NOWARN, 1);
	cr_assert_lt(p, NR / 2, "without THISNODE node 0 serves it");
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, split_block_frees_frame_by_frame_and_merges_back)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	unsigned long before = zone_nr_free(z, MAX_ORDER);
	pfn_t p = gmm_alloc_frames(tp.pool, 9, __GFP_MOVABLE, 0);

	cr_assert_neq(p, GMM_PFN_NONE);
	cr_assert_eq(gmm_split_frames(tp.pool, p + 1, 9), -EINVAL, "not a head");
	cr_assert_eq(gmm_split_frames(tp.pool, p, 8), -EINVAL, "wrong order");
	cr_assert_eq(gmm_split_frames(tp.pool, p, 9), 0);
	cr_assert_eq(gmm_split_frames(tp.pool, p, 9), -EINVAL, "already split");
	for (int i = 0; i < 512; i++) {
		struct gmm_frame *f = pfn_to_frame(tp.pool, p + i);

		cr_assert_eq(frame_ref_count(f), 1);
		cr_assert_eq(frame_order(f), 0);
		cr_assert_not(frame_test_head(f));
	}
	cr_assert_eq(gmm_free_frames(tp.pool, p + 7, 9), -EINVAL, "each frame is order 0 now");
	tp_assert_consistent(&tp);
	for (int i = 511; i >= 0; i--)
		cr_assert_eq(gmm_free_frames(tp.pool, p + i, 0), 0);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 0), -EALREADY);
	gmm_drain_all_pages(tp.pool);
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), before, "merged back into the max-order block");
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(buddy, merge_joins_split_frames_back_into_one_block)
{
	struct test_pool tp = tp_create(small_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	unsigned long before = zone_nr_free(z, MAX_ORDER);
	pfn_t p = gmm_alloc_frames(tp.pool, 9, __GFP_MOVABLE, 0);

	cr_assert_eq(gmm_split_frames(tp.pool, p, 9), 0);
	cr_assert_eq(gmm_free_frames(tp.pool, p + 3, 0), 0);
	cr_assert_eq(gmm_merge_frames(tp.pool, p, 9), -EINVAL, "a frame of the block is free");
	cr_assert_eq(frame_ref_count(pfn_to_frame(tp.pool, p + 4)), 1, "refused merges change nothing");
	/* get p+3 back (from whichever cpu's list holds it) */
	pfn_t got[64];
	int n = 0;

	gmm_drain_all_pages(tp.pool);
	do {
		got[n] = gmm_alloc_frames(tp.pool, 0, __GFP_MOVABLE, 0);
	} while (got[n] != p + 3 && ++n < 64);
	cr_assert_lt(n, 64, "p+3 came back");
	for (int i = 0; i < n; i++)
		gmm_free_frames(tp.pool, got[i], 0);
	cr_assert_eq(gmm_merge_frames(tp.pool, p + 1, 9), -EINVAL, "not aligned");
	cr_assert_eq(gmm_merge_frames(tp.pool, p, 9), 0);
	cr_assert(frame_test_head(pfn_to_frame(tp.pool, p)));
	cr_assert_eq(frame_order(pfn_to_frame(tp.pool, p)), 9);
	cr_assert_eq(gmm_free_frames(tp.pool, p + 5, 0), -EINVAL, "a tail now");
	tp_assert_consistent(&tp);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 9), 0);
	gmm_drain_all_pages(tp.pool);
	cr_assert_eq(zone_nr_free(z, MAX_ORDER), before);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}
