/*
 * The zero reserve (vmm/zero_reserve.c) on a real host pool: what its
 * thread does when the pool has no 2 MiB block left to give it.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "vmm/host_pool.h"
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
