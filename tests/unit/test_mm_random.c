/*
 * Randomized traces against a reference model: a long mixed alloc/free
 * trace single-threaded and on two threads at once. The model is a bitmap
 * of owned frames: a frame handed out twice or lost shows up there, and
 * the checker must agree at the end.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "test_mm_util.h"

#define NR     8192
#define HELD   512

struct held { pfn_t pfn; unsigned order; };

struct trace_ctx {
	struct gmm_pool *pool;
	_Atomic uint8_t *owned;      /* shared model: 1 = handed out */
	uint64_t seed;
	long ops;
	int dup;                     /* frames handed out while owned */
	int slab_bad;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned pick_order(uint64_t r)
{
	unsigned x = r % 100;

	if (x < 60) return 0;
	if (x < 75) return 1;
	if (x < 85) return 2;
	if (x < 92) return 3;
	if (x < 97) return 4 + (r >> 8) % 5;
	return 9 + (r >> 8) % 2;
}

static const gfp_t gfps[] = { 0, __GFP_MOVABLE, __GFP_RECLAIMABLE, __GFP_MOVABLE | __GFP_HIGH };

static void model_take(struct trace_ctx *c, pfn_t p, unsigned order)
{
	for (unsigned long i = 0; i < (1UL << order); i++)
		if (atomic_exchange(&c->owned[p + i], 1))
			c->dup++;
}

static void model_give(struct trace_ctx *c, pfn_t p, unsigned order)
{
	for (unsigned long i = 0; i < (1UL << order); i++)
		atomic_store(&c->owned[p + i], 0);
}

static void *run_trace(void *arg)
{
	struct trace_ctx *c = arg;
	struct held held[HELD];
	void *objs[64] = { 0 };
	int n = 0;

	for (long op = 0; op < c->ops; op++) {
		uint64_t r = rnd(&c->seed);
		void **o = &objs[r % 64];

		if (*o) {                     /* slab traffic on the side */
			gmm_kfree(c->pool, *o);
			*o = NULL;
		} else if ((*o = gmm_kmalloc(c->pool, 1 + (r >> 20) % 600, 0)) != NULL) {
			memset(*o, 0x11, 1 + (r >> 20) % 600);
		}
		if (n > 0 && (n == HELD || (r >> 32) % 100 < 48)) {
			int i = (r >> 40) % n;

			model_give(c, held[i].pfn, held[i].order);
			cr_assert_eq(gmm_free_frames(c->pool, held[i].pfn, held[i].order), 0);
			held[i] = held[--n];
			continue;
		}
		unsigned order = pick_order(r >> 12);
		pfn_t p = gmm_alloc_frames(c->pool, order, gfps[(r >> 50) % 4] | __GFP_NOWARN, 0);

		if (p == GMM_PFN_NONE)
			continue;
		model_take(c, p, order);
		held[n++] = (struct held){ p, order };
	}
	while (n-- > 0) {
		model_give(c, held[n].pfn, held[n].order);
		gmm_free_frames(c->pool, held[n].pfn, held[n].order);
	}
	for (int i = 0; i < 64; i++)
		gmm_kfree(c->pool, objs[i]);
	return NULL;
}

static struct test_pool random_pool(void)
{
	struct gmm_pool_config cfg = { .nr_frames = NR, .nr_nodes = 2, .movable_percent = 25,
				       .min_free_frames = 64, .nr_cpus = 2, .pcp_batch = 7,
				       .pcp_high = 31 };

	return tp_create(cfg, true);
}

static void assert_everything_back(struct test_pool *tp)
{
	for (struct gmm_kmem_cache *s = tp->pool->caches; s; s = s->next)
		gmm_kmem_cache_shrink(s);
	gmm_drain_all_pages(tp->pool);
	cr_assert_eq(gmm_pool_free_frames(tp->pool), NR);
	tp_assert_consistent(tp);
}

Test(mm_random, long_trace_matches_the_model_and_loses_nothing)
{
	struct test_pool tp = random_pool();
	_Atomic uint8_t *owned = calloc(NR, 1);
	struct trace_ctx c = { .pool = tp.pool, .owned = owned, .seed = 0x9e3779b97f4a7c15ULL,
			       .ops = 200000 };

	run_trace(&c);
	cr_assert_eq(c.dup, 0, "frames handed out twice: %d", c.dup);
	for (int i = 0; i < NR; i++)
		cr_assert_eq(owned[i], 0);
	assert_everything_back(&tp);
	free(owned);
	tp_destroy(&tp);
}

Test(mm_random, checker_stays_clean_in_the_middle_of_a_trace)
{
	struct test_pool tp = random_pool();
	_Atomic uint8_t *owned = calloc(NR, 1);

	for (int round = 0; round < 5; round++) {
		struct trace_ctx c = { .pool = tp.pool, .owned = owned, .seed = 12345 + round,
				       .ops = 4000 };
		pfn_t keep[16];

		for (int i = 0; i < 16; i++)
			keep[i] = gmm_alloc_frames(tp.pool, i % 4, __GFP_MOVABLE, 0);
		run_trace(&c);
		tp_assert_consistent(&tp);
		for (int i = 0; i < 16; i++)
			gmm_free_frames(tp.pool, keep[i], i % 4);
	}
	assert_everything_back(&tp);
	free(owned);
	tp_destroy(&tp);
}

Test(mm_random, two_threads_at_once_never_share_a_frame)
{
	struct test_pool tp = random_pool();
	_Atomic uint8_t *owned = calloc(NR, 1);
	struct trace_ctx c[2];
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		c[i] = (struct trace_ctx){ .pool = tp.pool, .owned = owned,
					   .seed = 0xabcdef12345ULL * (i + 1), .ops = 150000 };
		pthread_create(&t[i], NULL, run_trace, &c[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(c[0].dup + c[1].dup, 0);
	assert_everything_back(&tp);
	free(owned);
	tp_destroy(&tp);
}
