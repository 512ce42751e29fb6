/* LRU lists: order, counts, isolation from the tail, moves, huge frames. */
#include "guestmm/lru.h"
#include "test_mm_util.h"

#define NR 4096

static struct gmm_pool_config lru_cfg(void)
{
	return (struct gmm_pool_config){ .nr_frames = NR, .min_free_frames = 16, .nr_cpus = 1,
					 .pcp_batch = 7, .pcp_high = 21 };
}

Test(lru, frames_are_isolated_oldest_first_and_counted)
{
	struct test_pool tp = tp_create(lru_cfg(), false);
	struct gmm_lruvec lv;
	pfn_t pfn[8], out[8];
	uint64_t pages;

	gmm_lruvec_init(&lv);
	for (int i = 0; i < 8; i++) {
		pfn[i] = gmm_alloc_frames(tp.pool, 0, 0, 0);
		gmm_lru_add(tp.pool, &lv, pfn[i], false);
	}
	cr_assert_eq(gmm_lru_pages(&lv, LRU_INACTIVE_ANON), 8);
	cr_assert_eq(gmm_lru_check(tp.pool, &lv, stderr), 0);
	cr_assert_eq(gmm_lru_isolate(tp.pool, &lv, GMM_LRU_ANY_NODE, LRU_INACTIVE_ANON, out, 3, &pages), 3);
	cr_assert_eq(pages, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(out[i], pfn[i], "the oldest first");
		cr_assert_not(frame_test_lru(pfn_to_frame(tp.pool, out[i])));
	}
	cr_assert_eq(gmm_lru_pages(&lv, LRU_INACTIVE_ANON), 5);
	cr_assert_not(gmm_lru_del(tp.pool, &lv, out[0]), "an isolated frame is not listed");
	gmm_lru_putback(tp.pool, &lv, out[0], true);
	cr_assert(frame_test_active(pfn_to_frame(tp.pool, out[0])));
	cr_assert_eq(gmm_lru_pages(&lv, LRU_ACTIVE_ANON), 1);
	cr_assert_eq(gmm_lru_check(tp.pool, &lv, stderr), 0);
	for (int i = 0; i < 8; i++) {
		gmm_lru_del(tp.pool, &lv, pfn[i]);
		gmm_free_frames(tp.pool, pfn[i], 0);
	}
	cr_assert_eq(gmm_lru_pages(&lv, LRU_INACTIVE_ANON) + gmm_lru_pages(&lv, LRU_ACTIVE_ANON), 0);
	gmm_lruvec_destroy(&lv);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(lru, activation_moves_a_frame_to_the_head_of_the_active_list)
{
	struct test_pool tp = tp_create(lru_cfg(), false);
	struct gmm_lruvec lv;
	pfn_t a = gmm_alloc_frames(tp.pool, 0, 0, 0), b = gmm_alloc_frames(tp.pool, 0, 0, 0), out[2];
	uint64_t pages;

	gmm_lruvec_init(&lv);
	gmm_lru_add(tp.pool, &lv, a, false);
	gmm_lru_add(tp.pool, &lv, b, false);
	cr_assert(gmm_lru_move(tp.pool, &lv, a, true));
	cr_assert_eq(gmm_lru_pages(&lv, LRU_ACTIVE_ANON), 1);
	cr_assert(gmm_lru_move(tp.pool, &lv, a, false), "deactivate");
	/* a is the newest inactive now: b goes first */
	cr_assert_eq(gmm_lru_isolate(tp.pool, &lv, GMM_LRU_ANY_NODE, LRU_INACTIVE_ANON, out, 2, &pages), 2);
	cr_assert_eq(out[0], b);
	cr_assert_eq(out[1], a);
	cr_assert_not(gmm_lru_move(tp.pool, &lv, a, true), "isolated: not moved");
	gmm_free_frames(tp.pool, a, 0);
	gmm_free_frames(tp.pool, b, 0);
	gmm_lruvec_destroy(&lv);
	tp_destroy(&tp);
}

Test(lru, a_huge_frame_counts_as_512_pages)
{
	struct test_pool tp = tp_create(lru_cfg(), false);
	struct gmm_lruvec lv;
	pfn_t h = gmm_alloc_frames(tp.pool, 9, 0, 0), s = gmm_alloc_frames(tp.pool, 0, 0, 0), out[2];
	uint64_t pages;

	gmm_lruvec_init(&lv);
	gmm_lru_add(tp.pool, &lv, h, false);
	gmm_lru_add(tp.pool, &lv, s, false);
	cr_assert_eq(gmm_lru_pages(&lv, LRU_INACTIVE_ANON), 513);
	cr_assert_eq(gmm_lru_check(tp.pool, &lv, stderr), 0);
	cr_assert_eq(gmm_lru_isolate(tp.pool, &lv, GMM_LRU_ANY_NODE, LRU_INACTIVE_ANON, out, 1, &pages), 1);
	cr_assert_eq(out[0], h);
	cr_assert_eq(pages, 512);
	gmm_lru_del(tp.pool, &lv, s);
	gmm_free_frames(tp.pool, h, 9);
	gmm_free_frames(tp.pool, s, 0);
	gmm_lruvec_destroy(&lv);
	tp_destroy(&tp);
}

Test(lru, the_checker_catches_a_broken_link)
{
	struct test_pool tp = tp_create(lru_cfg(), false);
	struct gmm_lruvec lv;
	pfn_t a = gmm_alloc_frames(tp.pool, 0, 0, 0), b = gmm_alloc_frames(tp.pool, 0, 0, 0);

	gmm_lruvec_init(&lv);
	gmm_lru_add(tp.pool, &lv, a, false);
	gmm_lru_add(tp.pool, &lv, b, false);
	pfn_to_frame(tp.pool, a)->lru_prev = FRAME_NIL; /* should point at b */
	cr_assert_gt(gmm_lru_check(tp.pool, &lv, NULL), 0);
	pfn_to_frame(tp.pool, a)->lru_prev = (uint32_t)b;
	cr_assert_eq(gmm_lru_check(tp.pool, &lv, NULL), 0);
	gmm_lru_del(tp.pool, &lv, a);
	gmm_lru_del(tp.pool, &lv, b);
	gmm_free_frames(tp.pool, a, 0);
	gmm_free_frames(tp.pool, b, 0);
	gmm_lruvec_destroy(&lv);
	tp_destroy(&tp);
}
