/* Zones and watermarks: who may take the last frames, and the hooks. */
#include <errno.h>

#include "test_mm_util.h"

#define NR 4096

static struct gmm_pool_config wm_cfg(void)
{
	/* min 256, low = min + max(min/4, 4) = 320, high = 384. */
	return (struct gmm_pool_config){ .nr_frames = NR, .min_free_frames = 256, .nr_cpus = 1,
					 .pcp_batch = 1, .pcp_high = 2 };
}

Test(zone, watermarks_follow_min_free_and_scale_factor)
{
	struct test_pool tp = tp_create(wm_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];

	cr_assert_eq(wmark_pages(z, WMARK_MIN), 256);
	cr_assert_eq(wmark_pages(z, WMARK_LOW), 320);
	cr_assert_eq(wmark_pages(z, WMARK_HIGH), 384);
	tp_destroy(&tp);
}

Test(zone, min_free_frames_is_shared_by_zone_size)
{
	struct gmm_pool_config cfg = wm_cfg();
	cfg.nr_frames = 8192;
	cfg.nr_nodes = 2;
	cfg.movable_percent = 50;
	struct test_pool tp = tp_create(cfg, false);

	for (int i = 0; i < tp.pool->nr_zones; i++)
		cr_assert_eq(wmark_pages(&tp.pool->zones[i], WMARK_MIN), 64);
	tp_destroy(&tp);
}

static void fill_to_failure(struct gmm_pool *pool, gfp_t gfp)
{
	while (gmm_alloc_frames(pool, 0, gfp | __GFP_NOWARN, 0) != GMM_PFN_NONE)
		;
}

Test(zone, alloc_fails_at_min_and_reports_the_watermark)
{
	struct test_pool tp = tp_create(wm_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	struct gmm_alloc_ctl ac = { .order = 0, .gfp = __GFP_NOWARN };

	fill_to_failure(tp.pool, 0);
	cr_assert_leq(zone_free_pages(z), 256);
	cr_assert_geq(zone_free_pages(z), 255);
	cr_assert_eq(gmm_alloc_frames_ctl(tp.pool, &ac), -ENOMEM);
	cr_assert_eq(ac.wmark, WMARK_MIN);
	cr_assert_eq(ac.pfn, GMM_PFN_NONE);
	cr_assert_gt(gmm_vmstat_get(tp.pool, WATERMARK_MIN_HIT), 0);
	cr_assert_gt(gmm_vmstat_get(tp.pool, WATERMARK_LOW_HIT), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(zone, successful_alloc_reports_the_lowest_watermark_crossed)
{
	struct test_pool tp = tp_create(wm_cfg(), false);
	struct gmm_alloc_ctl ac = { .order = 0 };

	cr_assert_eq(gmm_alloc_frames_ctl(tp.pool, &ac), 0);
	cr_assert_eq(ac.wmark, WMARK_NONE);
	while (zone_free_pages(&tp.pool->zones[0]) > 330)
		gmm_alloc_frames(tp.pool, 0, 0, 0);
	cr_assert_eq(gmm_alloc_frames_ctl(tp.pool, &ac), 0);
	cr_assert_eq(ac.wmark, WMARK_HIGH);
	tp_destroy(&tp);
}

Test(zone, gfp_high_dips_to_half_of_min)
{
	struct test_pool tp = tp_create(wm_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];

	fill_to_failure(tp.pool, 0);
	fill_to_failure(tp.pool, __GFP_HIGH);
	cr_assert_leq(zone_free_pages(z), 128);
	cr_assert_geq(zone_free_pages(z), 127);
	/* __GFP_NOFAIL finally ignores watermarks. */
	cr_assert_neq(gmm_alloc_frames(tp.pool, 0, __GFP_NOFAIL, 0), GMM_PFN_NONE);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

struct hook_state {
	int kswapd_wakes;
	int reclaims;
	pfn_t stash[64];
	int nr_stash;
};

static void hook_wake(struct gmm_pool *pool, int nid, unsigned order, void *ctx)
{
	(void)pool; (void)nid; (void)order;
	((struct hook_state *)ctx)->kswapd_wakes++;
}

/* "Reclaim" by freeing frames the test stashed earlier. */
static unsigned long hook_reclaim(struct gmm_pool *pool, int nid, unsigned order, gfp_t gfp, void *ctx)
{
	struct hook_state *hs = ctx;
	unsigned long n = 0;

	(void)nid; (void)order; (void)gfp;
	hs->reclaims++;
	while (hs->nr_stash > 0) {
		gmm_free_frames(pool, hs->stash[--hs->nr_stash], 0);
		n++;
	}
	return n;
}

Test(zone, below_low_wakes_kswapd_and_below_min_runs_direct_reclaim)
{
	struct hook_state hs = { 0 };
	struct gmm_mm_hooks hooks = { .wake_kswapd = hook_wake, .direct_reclaim = hook_reclaim,
				      .ctx = &hs };
	struct gmm_pool_config cfg = wm_cfg();
	cfg.hooks = &hooks;
	struct test_pool tp = tp_create(cfg, false);
	struct gmm_alloc_ctl ac = { .order = 0, .gfp = GFP_KERNEL };

	while (zone_free_pages(&tp.pool->zones[0]) > 330)
		gmm_alloc_frames(tp.pool, 0, 0, 0);
	for (int i = 0; i < 64; i++)
		hs.stash[hs.nr_stash++] = gmm_alloc_frames(tp.pool, 0, GFP_NOWAIT, 0);
	cr_assert_gt(hs.kswapd_wakes, 0, "allocations below low woke kswapd");
	cr_assert_eq(gmm_vmstat_get(tp.pool, KSWAPD_WAKE), (uint64_t)hs.kswapd_wakes);
	fill_to_failure(tp.pool, 0);
	/* Now below min: GFP_KERNEL stalls in direct reclaim and succeeds. */
	cr_assert_eq(gmm_alloc_frames_ctl(tp.pool, &ac), 0);
	cr_assert(ac.direct_reclaimed);
	cr_assert(ac.woke_kswapd);
	cr_assert_eq(hs.reclaims, 1);
	cr_assert_eq(gmm_vmstat_get(tp.pool, ALLOCSTALL), 1);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(zone, atomic_high_order_builds_a_highatomic_reserve)
{
	struct test_pool tp = tp_create(wm_cfg(), false);
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t p = gmm_alloc_frames(tp.pool, 2, GFP_ATOMIC, 0);

	cr_assert_neq(p, GMM_PFN_NONE);
	cr_assert_eq(get_pageblock_migratetype(z, p), MIGRATE_HIGHATOMIC);
	cr_assert_eq(z->nr_reserved_highatomic, pageblock_nr_pages);
	cr_assert_eq(gmm_vmstat_get(tp.pool, HIGHATOMIC_RESERVE), 1);
	tp_assert_consistent(&tp);
	/* Ordinary requests do not eat the reserve; pressure gives it back. */
	fill_to_failure(tp.pool, __GFP_MOVABLE);
	cr_assert_gt(gmm_vmstat_get(tp.pool, HIGHATOMIC_UNRESERVE), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}
