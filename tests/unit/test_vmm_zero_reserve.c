/*
 * The zero reserve (vmm/zero_reserve.c) on a real host pool: what its
 * thread does when the pool has no 2 MiB block left to give it, and how
 * reclaim takes its blocks back.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "guestmm/lru.h"
#include "vmm/host_pool.h"
#include "vmm/kswapd.h"
#include "vmm/zero_reserve.h"

#define MB (1ULL << 20)

/* Under reclaim every fault takes from the reserve, and the pool is short:
 * a thread woken by each take only failed again (a futex pair and a failed
 * order-9 allocation per fault). It retries on its own clock instead,
 * every 100 ms, and a take that finds it failing does not wait for it. */
Test(zero_reserve, a_failing_refill_is_retried_on_its_own_clock_not_at_every_take)
{
	struct pool_config pc = { .size_bytes = 32 * MB, .nodes = 1, .reserve_bytes = 0 };
	struct host_pool *hp;
	static struct zero_reserve zr; /* the thread outlives a failed assert */
	uint64_t failures;
	pfn_t *held = calloc(32 * MB / 4096, sizeof(*held));
	size_t nr = 0;
	char err[256];

	cr_assert_eq(host_pool_create(&pc, &hp, err, sizeof(err)), 0, "%s", err);
	/* the pool all taken, in single frames: no block for the reserve */
	for (pfn_t p; (p = gmm_alloc_frames(hp->mm, 0, __GFP_HIGH | __GFP_NOWARN, 0)) != GMM_PFN_NONE;)
		held[nr++] = p;
	cr_assert_gt(nr, 0);
	cr_assert_eq(zero_reserve_start(&zr, hp, 8 * MB), 0);
	zero_reserve_want(&zr);
	for (int i = 0; i < 50 && !__atomic_load_n(&zr.failing, __ATOMIC_ACQUIRE); i++)
		usleep(10 * 1000);
	cr_assert(zr.failing, "the first refill fails");
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(zero_reserve_take(&zr), GMM_PFN_NONE);
		usleep(1000);
	}
	pthread_mutex_lock(&zr.lock);
	failures = zr.refill_failures;
	pthread_mutex_unlock(&zr.lock);
	/* 100 takes over about 100 ms: one retry or two, not one per take */
	cr_assert_leq(failures, 5, "%llu refills failed in 100 takes", (unsigned long long)failures);
	zero_reserve_stop(&zr);
	for (size_t i = 0; i < nr; i++)
		host_pool_free(hp, held[i], 0);
	free(held);
	host_pool_destroy(hp);
}

static bool wait_blocks(struct zero_reserve *zr, int want)
{
	for (int i = 0; i < 200; i++) {
		int nr;

		pthread_mutex_lock(&zr->lock);
		nr = zr->nr;
		pthread_mutex_unlock(&zr->lock);
		if (nr == want)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Reclaim empties the reserve before any guest loses a page: its blocks
 * are populated memory nobody uses yet. They go back punched (the pool
 * holds 8 MiB less) and free in the buddy. */
Test(zero_reserve, reclaim_takes_every_block_back_punched_and_free)
{
	struct pool_config pc = { .size_bytes = 64 * MB, .nodes = 1, .reserve_bytes = 0 };
	struct host_pool *hp;
	static struct zero_reserve zr;
	uint64_t held, free_before;
	char err[256];

	cr_assert_eq(host_pool_create(&pc, &hp, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(zero_reserve_start(&zr, hp, 8 * MB), 0);
	zero_reserve_want(&zr);
	cr_assert(wait_blocks(&zr, 4), "the reserve fills its 4 blocks");
	held = host_pool_held_bytes(hp);
	free_before = gmm_pool_free_frames(hp->mm) + gmm_pool_pcp_frames(hp->mm);
	cr_assert_geq(held, 8 * MB);

	cr_assert_eq(zero_reserve_shrink(&zr, 0, 600), 1024, "600 frames take two whole blocks");
	cr_assert_eq(zero_reserve_shrink(&zr, -1, UINT64_MAX), 1024);
	cr_assert_eq(zero_reserve_shrink(&zr, -1, UINT64_MAX), 0, "nothing left");
	cr_assert_eq(zr.drained, 4);
	cr_assert_eq(host_pool_held_bytes(hp), held - 8 * MB);
	cr_assert_eq(gmm_pool_free_frames(hp->mm) + gmm_pool_pcp_frames(hp->mm), free_before + 2048);
	zero_reserve_stop(&zr);
	host_pool_destroy(hp);
}

/* Below kswapd's balance the reserve takes nothing: every block would be
 * 512 guest pages kswapd swaps out for it, or gives straight back. Once
 * the pool has room again it fills. */
Test(zero_reserve, the_refill_waits_until_the_pool_is_balanced_for_kswapd)
{
	struct pool_config pc = { .size_bytes = 64 * MB, .nodes = 1, .reserve_bytes = 0 };
	struct host_pool *hp;
	static struct zero_reserve zr;
	pfn_t *held = calloc(64 * MB / 4096, sizeof(*held));
	size_t nr = 0;
	char err[256];

	cr_assert_eq(host_pool_create(&pc, &hp, err, sizeof(err)), 0, "%s", err);
	/* take frames until the pool is just short of kswapd's balance with a
	 * block more: order-9 blocks are still there, the buddy would give one */
	while (kswapd_node_balanced_after(hp->mm, GMM_LRU_ANY_NODE, 512))
		held[nr++] = gmm_alloc_frames(hp->mm, 0, __GFP_NOWARN, 0);
	cr_assert_neq(held[nr - 1], GMM_PFN_NONE);
	cr_assert_eq(zero_reserve_start(&zr, hp, 8 * MB), 0);
	zero_reserve_want(&zr);
	usleep(300 * 1000);
	pthread_mutex_lock(&zr.lock);
	cr_assert_eq(zr.nr, 0, "%d blocks taken below kswapd's balance", zr.nr);
	cr_assert_gt(zr.refill_failures, 0);
	pthread_mutex_unlock(&zr.lock);

	for (size_t i = 0; i < nr; i++)
		host_pool_free(hp, held[i], 0);
	cr_assert(wait_blocks(&zr, 4), "with room again the reserve fills (retried every 100 ms)");
	zero_reserve_stop(&zr);
	free(held);
	host_pool_destroy(hp);
}
