/* Shared helpers for the guestmm unit tests: a pool over anonymous memory. */
#ifndef GMM_TEST_MM_UTIL_H
#define GMM_TEST_MM_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/mman.h>

#include "guestmm/buddy.h"
#include "guestmm/pool.h"
#include "guestmm/slab.h"

struct test_pool {
	struct gmm_pool *pool;
	void *mem;
	size_t bytes;
};

static inline struct test_pool tp_create(struct gmm_pool_config cfg, bool backed)
{
	struct test_pool tp = { 0 };

	if (backed) {
		tp.bytes = cfg.nr_frames * GMM_FRAME_SIZE;
		tp.mem = mmap(NULL, tp.bytes, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		cr_assert_neq(tp.mem, MAP_FAILED);
		cfg.base = tp.mem;
	}
	cr_assert_eq(gmm_pool_create(&cfg, &tp.pool), 0);
	return tp;
}

static inline void tp_destroy(struct test_pool *tp)
{
	gmm_pool_destroy(tp->pool);
	if (tp->mem)
		munmap(tp->mem, tp->bytes);
}

/* Checker must find nothing; print its report if it does. */
static inline void tp_assert_consistent(struct test_pool *tp)
{
	int n = gmm_pool_check(tp->pool, stderr);

	cr_assert_eq(n, 0, "checker found %d problems", n);
}

static inline unsigned long zone_nr_free(struct gmm_zone *z, unsigned order)
{
	return atomic_load(&z->free_area[order].nr_free);
}

/* Silence expected misuse reports. */
static inline void quiet_corruption(struct gmm_pool *pool, pfn_t pfn, const char *what, void *ctx)
{
	(void)pool; (void)pfn; (void)what;
	if (ctx)
		(*(int *)ctx)++;
}

#endif
