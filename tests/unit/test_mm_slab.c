/* Slab caches and kmalloc: growth, shrinking, constructors, classes. */
#include <errno.h>
#include <string.h>

#include "test_mm_util.h"

#define NR 4096

static struct test_pool slab_pool(void)
{
	struct gmm_pool_config cfg = { .nr_frames = NR, .min_free_frames = 8, .nr_cpus = 2,
				       .pcp_batch = 3, .pcp_high = 9 };

	return tp_create(cfg, true);
}

static void assert_all_back(struct test_pool *tp)
{
	gmm_drain_all_pages(tp->pool);
	cr_assert_eq(gmm_pool_free_frames(tp->pool), NR);
}

Test(slab, cache_needs_a_backed_pool)
{
	struct gmm_pool_config cfg = { .nr_frames = NR };
	struct test_pool tp = tp_create(cfg, false);
	struct gmm_kmem_cache *s;

	cr_assert_eq(gmm_kmem_cache_create(tp.pool, "x", 64, 0, 0, NULL, &s), -EINVAL);
	cr_assert_null(gmm_kmalloc(tp.pool, 64, 0));
	tp_destroy(&tp);
}

Test(slab, cache_grows_by_slabs_and_shrink_gives_empty_slabs_back)
{
	struct test_pool tp = slab_pool();
	struct gmm_kmem_cache *s;
	struct gmm_slabinfo si;
	static void *objs[2000];

	cr_assert_eq(gmm_kmem_cache_create(tp.pool, "test-100", 100, 0, 0, NULL, &s), 0);
	cr_assert_eq(s->size, 104);
	for (int i = 0; i < 2000; i++) {
		objs[i] = gmm_kmem_cache_alloc(s, 0);
		cr_assert_not_null(objs[i]);
		cr_assert_eq((uintptr_t)objs[i] % 8, 0);
		memset(objs[i], 0x5a, 100);
	}
	gmm_kmem_cache_info(s, &si);
	cr_assert_eq(si.active_objs, 2000);
	cr_assert_geq(si.num_objs, 2000);
	cr_assert_eq(si.num_slabs, (2000 + s->objects - 1) / s->objects);
	cr_assert_eq(gmm_vmstat_get(tp.pool, SLABS_ALLOCATED), si.num_slabs);
	cr_assert_eq(gmm_vmstat_get(tp.pool, NR_SLAB_PAGES), si.num_slabs << s->order);
	tp_assert_consistent(&tp);
	for (int i = 0; i < 2000; i++)
		gmm_kmem_cache_free(s, objs[i]);
	gmm_kmem_cache_info(s, &si);
	cr_assert_eq(si.active_objs, 0);
	cr_assert_leq(si.num_slabs, s->min_partial + 2, "empty slabs beyond min_partial went back");
	tp_assert_consistent(&tp);
	gmm_kmem_cache_shrink(s);
	gmm_kmem_cache_info(s, &si);
	cr_assert_eq(si.num_slabs, 0);
	cr_assert_eq(gmm_kmem_cache_destroy(s), 0);
	assert_all_back(&tp);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

static int ctor_calls;

static void ctor_42(void *obj)
{
	ctor_calls++;
	memset(obj, 42, 24);
}

Test(slab, constructor_runs_once_per_object_and_survives_free)
{
	struct test_pool tp = slab_pool();
	struct gmm_kmem_cache *s;
	void *o[10];

	ctor_calls = 0;
	cr_assert_eq(gmm_kmem_cache_create(tp.pool, "ctor", 24, 0, 0, ctor_42, &s), 0);
	cr_assert_geq(s->offset, 24, "free pointer kept outside the object");
	for (int i = 0; i < 10; i++)
		o[i] = gmm_kmem_cache_alloc(s, 0);
	cr_assert_eq(ctor_calls, (int)s->objects, "one slab: every object constructed once");
	for (int i = 0; i < 10; i++)
		gmm_kmem_cache_free(s, o[i]);
	for (int i = 0; i < 10; i++) {
		unsigned char *b = gmm_kmem_cache_alloc(s, 0);

		for (int j = 0; j < 24; j++)
			cr_assert_eq(b[j], 42);
	}
	cr_assert_eq(ctor_calls, (int)s->objects);
	cr_assert_eq(gmm_kmem_cache_destroy(s), -EBUSY, "objects still live");
	tp_destroy(&tp);
}

Test(slab, frees_after_a_flush_take_the_partial_list_path)
{
	struct test_pool tp = slab_pool();
	struct gmm_kmem_cache *s;
	struct gmm_slabinfo si;
	void *o[300];

	cr_assert_eq(gmm_kmem_cache_create(tp.pool, "t64", 64, 0, SLAB_HWCACHE_ALIGN, NULL, &s), 0);
	for (int i = 0; i < 300; i++)
		o[i] = gmm_kmem_cache_alloc(s, 0);
	gmm_kmem_cache_shrink(s);            /* deactivates the cpu slab */
	for (int i = 0; i < 300; i += 2)
		gmm_kmem_cache_free(s, o[i]);
	gmm_kmem_cache_info(s, &si);
	cr_assert_gt(si.free_slowpath, 0);
	cr_assert_gt(si.nr_partial, 0);
	tp_assert_consistent(&tp);
	for (int i = 1; i < 300; i += 2)
		gmm_kmem_cache_free(s, o[i]);
	gmm_kmem_cache_shrink(s);
	cr_assert_eq(gmm_kmem_cache_destroy(s), 0);
	assert_all_back(&tp);
	tp_destroy(&tp);
}

Test(slab, kmalloc_picks_the_size_class)
{
	struct test_pool tp = slab_pool();
	static const struct { size_t req, got; } t[] = {
		{ 1, 8 }, { 8, 8 }, { 9, 16 }, { 33, 64 }, { 65, 96 }, { 96, 96 }, { 100, 128 },
		{ 150, 192 }, { 193, 256 }, { 300, 512 }, { 4096, 4096 }, { 5000, 8192 },
		{ 8192, 8192 }, { 9000, 12288 },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		void *p = gmm_kmalloc(tp.pool, t[i].req, __GFP_ZERO);

		cr_assert_not_null(p);
		if (t[i].got <= 8192)
			cr_assert_eq(gmm_ksize(tp.pool, p), t[i].got, "kmalloc(%zu)", t[i].req);
		else
			cr_assert_geq(gmm_ksize(tp.pool, p), t[i].got);
		cr_assert_eq(((char *)p)[t[i].req - 1], 0);
		gmm_kfree(tp.pool, p);
	}
	cr_assert_null(gmm_kmalloc(tp.pool, 0, 0));
	gmm_kfree(tp.pool, NULL);
	tp_assert_consistent(&tp);
	tp_destroy(&tp);
}

Test(slab, kfree_of_a_foreign_pointer_is_counted_not_acted_on)
{
	struct test_pool tp = slab_pool();
	int stack_obj;
	FILE *saved = stderr;

	stderr = fopen("/dev/null", "w");
	gmm_kfree(tp.pool, &stack_obj);
	fclose(stderr);
	stderr = saved;
	cr_assert_eq(gmm_vmstat_get(tp.pool, BAD_FREE), 1);
	tp_destroy(&tp);
}

Test(slab, slabinfo_lists_kmalloc_caches_in_version_2_1_format)
{
	struct test_pool tp = slab_pool();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	void *p = gmm_kmalloc(tp.pool, 64, 0);

	cr_assert_eq(gmm_pool_show(tp.pool, "slabinfo", f), 0);
	fclose(f);
	cr_assert_eq(strncmp(buf, "slabinfo - version: 2.1\n# name", 30), 0);
	cr_assert_not_null(strstr(buf, "kmalloc-64             1     64     64   64    1 : tunables    0    0    0 : slabdata      1      1      0\n"),
			   "%s", buf);
	free(buf);
	gmm_kfree(tp.pool, p);
	tp_destroy(&tp);
}
