/* Debug mode: misuse is detected, counted and refused; poison; checker. */
#include <errno.h>
#include <string.h>

#include "test_mm_util.h"

#define NR 2048

static int reports;

static struct test_pool debug_pool(void)
{
	static struct gmm_mm_hooks hooks = { .corruption = quiet_corruption, .ctx = &reports };
	struct gmm_pool_config cfg = { .nr_frames = NR, .min_free_frames = 8, .nr_cpus = 1,
				       .pcp_batch = 3, .pcp_high = 9, .debug = true, .hooks = &hooks };

	reports = 0;
	return tp_create(cfg, true);
}

Test(mm_debug, double_free_of_order0_is_refused_and_counted)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 0, 0, 0);

	cr_assert_eq(gmm_free_frames(tp.pool, p, 0), 0);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 0), -EALREADY);
	cr_assert_eq(gmm_vmstat_get(tp.pool, DOUBLE_FREE), 1);
	cr_assert_eq(reports, 1);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(mm_debug, double_free_of_a_large_block_is_refused)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 4, 0, 0);

	cr_assert_eq(gmm_free_frames(tp.pool, p, 4), 0);
	cr_assert_neq(gmm_free_frames(tp.pool, p, 4), 0);
	cr_assert_eq(gmm_vmstat_get(tp.pool, DOUBLE_FREE) + gmm_vmstat_get(tp.pool, BAD_FREE), 1);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(mm_debug, free_of_a_frame_never_allocated_is_refused)
{
	struct test_pool tp = debug_pool();

	cr_assert_eq(gmm_free_frames(tp.pool, 1234, 0), -EINVAL);
	cr_assert_eq(gmm_free_frames(tp.pool, NR + 5, 0), -EINVAL);
	cr_assert_eq(gmm_vmstat_get(tp.pool, BAD_FREE), 2);
	cr_assert_eq(gmm_pool_free_frames(tp.pool), NR);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(mm_debug, free_of_a_tail_frame_is_refused_and_the_block_survives)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 2, 0, 0);

	cr_assert(frame_is_tail(pfn_to_frame(tp.pool, p + 1)));
	cr_assert_eq(gmm_free_frames(tp.pool, p + 1, 0), -EINVAL);
	cr_assert_eq(gmm_vmstat_get(tp.pool, BAD_FREE_TAIL), 1);
	cr_assert_eq(frame_ref_count(pfn_to_frame(tp.pool, p)), 1);
	tp_assert_consistent(&tp);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 2), 0);
	tp_destroy(&tp);
}

Test(mm_debug, free_with_the_wrong_order_is_refused)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 2, 0, 0);

	cr_assert_eq(gmm_free_frames(tp.pool, p, 1), -EINVAL);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 3), -EINVAL);
	cr_assert_eq(gmm_vmstat_get(tp.pool, BAD_FREE_ORDER) + gmm_vmstat_get(tp.pool, BAD_FREE), 2);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 2), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(mm_debug, freed_frames_are_poisoned)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 0, __GFP_ZERO, 0);
	unsigned char *m = frame_mem(tp.pool, p);

	cr_assert_eq(m[100], 0, "__GFP_ZERO zeroed it");
	gmm_free_frames(tp.pool, p, 0);
	cr_assert_eq(m[100], 0xaa);
	cr_assert_eq(m[4095], 0xaa);
	tp_destroy(&tp);
}

Test(mm_debug, use_after_free_is_caught_when_the_frame_is_handed_out_again)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 0, 0, 0), q;

	gmm_free_frames(tp.pool, p, 0);
	((char *)frame_mem(tp.pool, p))[17] = 1;      /* write after free */
	q = gmm_alloc_frames(tp.pool, 0, 0, 0);       /* pcp is LIFO: p first */
	cr_assert_neq(q, GMM_PFN_NONE);
	cr_assert_neq(q, p, "the damaged frame is not handed out");
	cr_assert_eq(gmm_vmstat_get(tp.pool, POISON_CORRUPT), 1);
	cr_assert(frame_test_hwpoison(pfn_to_frame(tp.pool, p)));
	cr_assert_eq(gmm_vmstat_get(tp.pool, NR_POISONED_PAGES), 1);
	cr_assert_eq(reports, 1);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(mm_debug, checker_reports_a_free_block_without_buddy_flag)
{
	struct test_pool tp = debug_pool();
	struct gmm_zone *z = &tp.pool->zones[0];
	uint32_t head = z->free_area[MAX_ORDER].free_list[MIGRATE_MOVABLE];
	FILE *devnull = fopen("/dev/null", "w");

	cr_assert_eq(gmm_pool_check(tp.pool, NULL), 0);
	frame_clear_buddy(pfn_to_frame(tp.pool, head));
	cr_assert_gt(gmm_pool_check(tp.pool, devnull), 0);
	frame_set_buddy(pfn_to_frame(tp.pool, head));
	cr_assert_eq(gmm_pool_check(tp.pool, NULL), 0);
	fclose(devnull);
	tp_destroy(&tp);
}

Test(mm_debug, checker_reports_lost_frames_and_bad_counts)
{
	struct test_pool tp = debug_pool();
	struct gmm_zone *z = &tp.pool->zones[0];
	pfn_t p = gmm_alloc_frames(tp.pool, 3, 0, 0);
	FILE *devnull = fopen("/dev/null", "w");

	/* A block whose refcount went to 0 without being freed is lost. */
	atomic_store(&pfn_to_frame(tp.pool, p)->refcount, 0);
	cr_assert_gt(gmm_pool_check(tp.pool, devnull), 0);
	atomic_store(&pfn_to_frame(tp.pool, p)->refcount, 1);
	cr_assert_eq(gmm_pool_check(tp.pool, NULL), 0);
	atomic_fetch_add(&z->free_area[5].nr_free, 1);
	cr_assert_gt(gmm_pool_check(tp.pool, devnull), 0);
	fclose(devnull);
	tp_destroy(&tp);
}

/* A 2 MiB block whose last reference went is 512 frames on no list: the
 * checker keeps it as one run of suspects for its second look, so a
 * block on its way to the buddy (a guest stopping frees many) is never
 * reported unconfirmed, and a block really lost is one line of 512
 * problems. It kept single frames, at most 256, and reported the rest
 * of such a block at once. */
Test(mm_debug, checker_keeps_a_lost_2m_block_as_one_run_and_reports_every_frame_once)
{
	struct test_pool tp = debug_pool();
	pfn_t p = gmm_alloc_frames(tp.pool, 9, 0, 0);
	char *text = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_neq(p, GMM_PFN_NONE);
	atomic_store(&pfn_to_frame(tp.pool, p)->refcount, 0);
	cr_assert_eq(gmm_pool_check(tp.pool, f), 512);
	fclose(f);
	for (char *c = text; *c; c++)
		lines += *c == '\n';
	cr_assert_eq(lines, 1, "one line for the block, not one a frame:\n%s", text);
	cr_assert(strstr(text, "(512 frames): frame lost"), "%s", text);
	free(text);
	atomic_store(&pfn_to_frame(tp.pool, p)->refcount, 1);
	cr_assert_eq(gmm_pool_check(tp.pool, NULL), 0);
	cr_assert_eq(gmm_free_frames(tp.pool, p, 9), 0);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}
