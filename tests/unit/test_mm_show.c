/* Text views: kernel formats, name dispatch, fragmentation indices. */
#include <errno.h>
#include <string.h>

#include "test_mm_util.h"

static char *show(struct gmm_pool *pool, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(gmm_pool_show(pool, name, f), 0, "%s", name);
	fclose(f);
	return buf;
}

static struct test_pool show_pool(void)
{
	struct gmm_pool_config cfg = { .nr_frames = 4096, .min_free_frames = 16, .nr_cpus = 1 };

	return tp_create(cfg, false);
}

Test(mm_show, buddyinfo_has_the_kernel_layout)
{
	struct test_pool tp = show_pool();
	char *b = show(tp.pool, "buddyinfo");

	cr_assert_str_eq(b, "Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      0      4 \n");
	free(b);
	tp_destroy(&tp);
}

Test(mm_show, every_listed_view_renders_and_unknown_names_are_enoent)
{
	struct test_pool tp = show_pool();

	for (int i = 0; gmm_pool_show_names[i]; i++) {
		char *b = show(tp.pool, gmm_pool_show_names[i]);

		cr_assert_gt(strlen(b), 10, "%s", gmm_pool_show_names[i]);
		free(b);
	}
	cr_assert_eq(gmm_pool_show(tp.pool, "meminfo-nope", stdout), -ENOENT);
	tp_destroy(&tp);
}

Test(mm_show, pagetypeinfo_and_zoneinfo_carry_the_kernel_headings)
{
	struct test_pool tp = show_pool();
	char *p = show(tp.pool, "pagetypeinfo");
	char *z = show(tp.pool, "zoneinfo");
	char *v = show(tp.pool, "vmstat");

	cr_assert_not_null(strstr(p, "Page block order: 9\nPages per block:  512\n"));
	cr_assert_not_null(strstr(p, "Node    0, zone   Normal, type      Movable      0 "));
	cr_assert_not_null(strstr(p, "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n"));
	cr_assert_not_null(strstr(p, "Node 0, zone   Normal            0            8 "));
	cr_assert_not_null(strstr(z, "Node 0, zone   Normal\n  pages free     4096\n"));
	cr_assert_not_null(strstr(z, "        min      16\n"));
	cr_assert_not_null(strstr(z, "    cpu: 0\n              count:    0\n"));
	cr_assert_not_null(strstr(v, "nr_free_pages 4096\n"));
	cr_assert_not_null(strstr(v, "pgalloc_normal 0\n"));
	free(p);
	free(z);
	free(v);
	tp_destroy(&tp);
}

Test(mm_show, fragmentation_indices_follow_the_kernel_formulas)
{
	struct test_pool tp = show_pool();
	struct gmm_zone *z = &tp.pool->zones[0];
	static pfn_t p[4096];
	char *b;

	/* All free in order-10 blocks: nothing unusable, every order fits. */
	cr_assert_eq(zone_unusable_index(z, 10), 0);
	cr_assert_eq(zone_fragmentation_index(z, 10), -1000);
	/* Keep every other frame: 2048 free order-0 frames, nothing bigger. */
	for (int i = 0; i < 4096; i++)
		p[i] = gmm_alloc_frames(tp.pool, 0, __GFP_NOFAIL | __GFP_NOWARN, 0);
	for (int i = 0; i < 4096; i++)
		if (p[i] % 2 == 0)
			gmm_free_frames(tp.pool, p[i], 0);
	gmm_drain_all_pages(tp.pool);
	cr_assert_eq(zone_free_pages(z), 2048);
	cr_assert_eq(zone_unusable_index(z, 0), 0);
	cr_assert_eq(zone_unusable_index(z, 1), 1000);
	/* 1000 - (1000 + 2048*1000/2) / 2048 = 500 */
	cr_assert_eq(zone_fragmentation_index(z, 1), 500);
	b = show(tp.pool, "extfrag_index");
	cr_assert_not_null(strstr(b, "Node 0, zone   Normal -1.000  0.500 "), "%s", b);
	free(b);
	b = show(tp.pool, "unusable_index");
	cr_assert_not_null(strstr(b, "Node 0, zone   Normal 0.000 1.000 "), "%s", b);
	free(b);
	tp_destroy(&tp);
}
