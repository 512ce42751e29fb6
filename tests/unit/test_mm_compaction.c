/*
 * Compaction: the two scanners, the migrate_frame hook (a fake owner that
 * copies contents and remaps its "guest pages"), results and counters,
 * the fragmentation index and score, direct compaction from the
 * allocator, and kcompactd's step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/compaction.h"
#include "test_mm_util.h"

#define NR      4096     /* 16 MiB: 8 pageblocks */
#define OWNER   7
#define MAX_GFN 8192

/* The owner of the frames: guest page gfn lives in frame where[gfn]. */
struct fake_guest {
	struct test_pool tp;
	pfn_t where[MAX_GFN];
	unsigned order[MAX_GFN];
	unsigned nr_gfns;
	pfn_t busy;              /* -EAGAIN for this source */
	int calls, moved, again, refused;
	bool moved_down;         /* a move to a lower pfn happened */
	bool check_during;       /* run the consistency checker inside each move */
	int check_problems;
	pfn_t first_src, first_dst;
};

static void fill(struct gmm_pool *pool, pfn_t pfn, gfn_t gfn, unsigned order)
{
	for (unsigned long i = 0; i < (1UL << order); i++) {
		uint8_t *m = frame_mem(pool, pfn + i);

		memset(m, (uint8_t)(gfn + i), GMM_FRAME_SIZE);
		*(uint64_t *)m = gfn + i;
	}
}

static bool holds(struct gmm_pool *pool, pfn_t pfn, gfn_t gfn, unsigned order)
{
	for (unsigned long i = 0; i < (1UL << order); i++) {
		uint8_t *m = frame_mem(pool, pfn + i);

		if (*(uint64_t *)m != gfn + i || m[GMM_FRAME_SIZE - 1] != (uint8_t)(gfn + i))
			return false;
	}
	return true;
}

/* The owner's migrate_frame: check, copy, remap (where[]), free src. */
static int fake_migrate(struct gmm_pool *pool, pfn_t src, pfn_t dst, unsigned order, void *ctx)
{
	struct fake_guest *g = ctx;
	struct gmm_frame *s = pfn_to_frame(pool, src), *d = pfn_to_frame(pool, dst);
	gfn_t gfn = s->gfn;

	g->calls++;
	if (g->check_during) /* the destinations compaction still holds are isolated, not lost */
		g->check_problems += gmm_pool_check(pool, NULL);
	cr_assert_eq(frame_ref_count(d), 1, "dst handed over allocated");
	cr_assert_eq(frame_order(d), order);
	cr_assert(!frame_test_buddy(d) && !frame_test_pcp(d));
	cr_assert_eq(dst & ((1UL << order) - 1), 0);
	if (s->owner != OWNER || gfn >= g->nr_gfns || g->where[gfn] != src) {
		g->refused++;
		return -ENOENT;
	}
	if (src == g->busy) {
		g->again++;
		return -EAGAIN;
	}
	memcpy(frame_mem(pool, dst), frame_mem(pool, src), GMM_FRAME_SIZE << order);
	d->owner = OWNER;
	d->gfn = gfn;
	g->where[gfn] = dst;
	if (!g->moved++) {
		g->first_src = src;
		g->first_dst = dst;
	}
	if (dst < src)
		g->moved_down = true;
	memset(frame_mem(pool, src), 0x5c, GMM_FRAME_SIZE << order); /* the old copy is gone */
	cr_assert_eq(gmm_free_frames(pool, src, order), 0);
	return 0;
}

static struct fake_guest *guest_create(uint64_t nr_frames, bool debug, bool hook)
{
	struct fake_guest *g = calloc(1, sizeof(*g));
	struct gmm_mm_hooks hooks = { .migrate_frame = hook ? fake_migrate : NULL, .ctx = g };
	struct gmm_pool_config cfg = { .nr_frames = nr_frames, .min_free_frames = 16, .nr_cpus = 2,
				       .debug = debug, .hooks = &hooks };

	cr_assert_not_null(g);
	g->busy = GMM_PFN_NONE;
	g->tp = tp_create(cfg, true);
	return g;
}

static void guest_destroy(struct fake_guest *g)
{
	tp_destroy(&g->tp);
	free(g);
}

/* A guest page in frame pfn (allocated, order as given). */
static void guest_take(struct fake_guest *g, pfn_t pfn, unsigned order, uint32_t owner)
{
	struct gmm_frame *f = pfn_to_frame(g->tp.pool, pfn);
	gfn_t gfn = g->nr_gfns++;

	cr_assert_lt(gfn, MAX_GFN);
	f->owner = owner;
	f->gfn = gfn;
	g->where[gfn] = pfn;
	g->order[gfn] = order;
	fill(g->tp.pool, pfn, gfn, order);
}

static void guest_release(struct fake_guest *g, gfn_t gfn)
{
	cr_assert_eq(gmm_free_frames(g->tp.pool, g->where[gfn], g->order[gfn]), 0);
	g->where[gfn] = GMM_PFN_NONE;
}

/* Frames scattered over every pageblock: a hash picks which go. */
static bool scattered(pfn_t pfn)
{
	return ((pfn * 2654435761u) >> 13) & 1;
}

/*
 * Every free frame allocated as a movable order-0 guest page, then about
 * half of those freed in a scattered pattern: plenty free, no order-9
 * block. Returns the frames the guest still holds (pages taken before
 * included).
 */
static unsigned long fragment(struct fake_guest *g, uint32_t owner)
{
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_zone *z = &pool->zones[0];
	unsigned long held = 0;
	pfn_t p;

	while ((p = gmm_alloc_frames(pool, 0, __GFP_MOVABLE | __GFP_NOFAIL | __GFP_NOWARN, 0)) != GMM_PFN_NONE)
		guest_take(g, p, 0, owner);
	cr_assert_eq(gmm_pool_free_frames(pool) + gmm_pool_pcp_frames(pool), 0);
	for (gfn_t gfn = 0; gfn < g->nr_gfns; gfn++) {
		if (g->order[gfn])
			held += 1UL << g->order[gfn];
		else if (scattered(g->where[gfn]))
			guest_release(g, gfn);
		else
			held++;
	}
	gmm_drain_all_pages(pool);
	cr_assert_gt(zone_free_pages(z), (long)(pool->nr_frames / 3));
	for (unsigned o = pageblock_order; o <= MAX_ORDER; o++)
		cr_assert_eq(zone_nr_free(z, o), 0, "order %u block free", o);
	return held;
}

/* Every guest page still held has its contents where the owner says. */
static void assert_contents(struct fake_guest *g)
{
	for (gfn_t gfn = 0; gfn < g->nr_gfns; gfn++) {
		pfn_t p = g->where[gfn];

		if (p == GMM_PFN_NONE)
			continue;
		cr_assert_eq(frame_ref_count(pfn_to_frame(g->tp.pool, p)), 1, "gfn %llu", (unsigned long long)gfn);
		cr_assert(holds(g->tp.pool, p, gfn, g->order[gfn]), "gfn %llu at pfn %llu", (unsigned long long)gfn,
			  (unsigned long long)p);
	}
}

static enum compact_result run(struct gmm_zone *z, int order, enum migrate_mode mode)
{
	return compact_zone_order(z, order, MIGRATE_MOVABLE, mode, 0, 0, NULL);
}

static uint64_t ev(struct fake_guest *g, enum gmm_vm_item item)
{
	return gmm_vmstat_get(g->tp.pool, item);
}

Test(compaction, fragmented_zone_gets_a_free_order9_block_and_contents_move_with_their_frames)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_zone *z = &pool->zones[0];
	unsigned long held = fragment(g, OWNER);
	pfn_t huge;

	cr_assert_eq(gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0), GMM_PFN_NONE);
	cr_assert_eq(run(z, 9, MIGRATE_SYNC_LIGHT), COMPACT_SUCCESS);
	cr_assert_gt(g->moved, 0);
	cr_assert_eq(g->refused, 0);
	cr_assert(!g->moved_down, "sources move up, into the free scanner's pageblocks");
	cr_assert_lt(g->first_src, g->first_dst);
	cr_assert_geq(zone_nr_free(z, 9) + zone_nr_free(z, 10), 1);
	assert_contents(g);
	cr_assert_eq(gmm_pool_free_frames(pool), NR - held, "no frame lost or duplicated");
	tp_assert_consistent(&g->tp);

	cr_assert_eq(ev(g, COMPACTSUCCESS), 1);
	cr_assert_eq(ev(g, COMPACTFAIL), 0);
	cr_assert_eq(ev(g, COMPACTSTALL), 0, "not a direct compaction");
	cr_assert_eq(ev(g, PGMIGRATE_SUCCESS), (uint64_t)g->moved);
	cr_assert_eq(ev(g, PGMIGRATE_FAIL), 0);
	cr_assert_geq(ev(g, COMPACTISOLATED), 2ULL * g->moved, "a source and a destination per move");
	cr_assert_gt(ev(g, COMPACTMIGRATE_SCANNED), 0);
	cr_assert_gt(ev(g, COMPACTFREE_SCANNED), 0);

	huge = gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0);
	cr_assert_neq(huge, GMM_PFN_NONE, "the huge frame compaction made is allocatable");
	cr_assert_eq(gmm_free_frames(pool, huge, 9), 0);
	guest_destroy(g);
}

Test(compaction, the_checker_sees_isolated_destinations_as_held_not_lost)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	unsigned long held = fragment(g, OWNER);

	g->check_during = true;
	cr_assert_eq(run(&pool->zones[0], 9, MIGRATE_SYNC_LIGHT), COMPACT_SUCCESS);
	cr_assert_gt(g->moved, 1, "a move while other destinations were held");
	cr_assert_eq(g->check_problems, 0);
	g->check_during = false;
	cr_assert_eq(gmm_pool_free_frames(pool), NR - held, "isolated frames went back to the buddy");
	cr_assert_eq(gmm_pool_check(pool, NULL), 0);
	for (pfn_t pfn = 0; pfn < NR; pfn++)
		cr_assert_not(frame_test_flag(pfn_to_frame(pool, pfn), FRAME_isolated), "pfn %lu",
			      (unsigned long)pfn);
	guest_destroy(g);
}

Test(compaction, extfrag_index_at_order9_is_high_before_and_minus_1000_after)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_zone *z = &g->tp.pool->zones[0];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	fragment(g, OWNER);
	cr_assert_gt(zone_fragmentation_index(z, 9), 900, "failure would be for fragmentation");
	cr_assert_gt(zone_unusable_index(z, 9), 990);
	cr_assert_eq(fragmentation_score_zone(z), 100);
	cr_assert_eq(run(z, 9, MIGRATE_SYNC_LIGHT), COMPACT_SUCCESS);
	cr_assert_eq(zone_fragmentation_index(z, 9), -1000);
	cr_assert_lt(fragmentation_score_zone(z), 100);
	f = open_memstream(&buf, &len);
	cr_assert_eq(gmm_pool_show(g->tp.pool, "extfrag_index", f), 0);
	fclose(f);
	/* orders 0..9 of the row: order 9 reads -1.000 */
	cr_assert_not_null(strstr(buf, "-1.000 "), "%s", buf);
	free(buf);
	guest_destroy(g);
}

Test(compaction, busy_frame_stays_put_and_its_destination_goes_back)
{
	struct fake_guest *g = guest_create(NR, true, true);   /* debug: poison checked too */
	struct gmm_pool *pool = g->tp.pool;
	unsigned long held = fragment(g, OWNER);
	gfn_t busy_gfn = GMM_GFN_NONE;
	pfn_t p;

	/* the lowest held frame: the first source */
	for (gfn_t gfn = 0; gfn < g->nr_gfns; gfn++)
		if (g->where[gfn] != GMM_PFN_NONE && (busy_gfn == GMM_GFN_NONE || g->where[gfn] < g->where[busy_gfn]))
			busy_gfn = gfn;
	g->busy = g->where[busy_gfn];
	compact_node(pool, 0, -1, NULL);
	cr_assert_eq(g->where[busy_gfn], g->busy, "the busy frame did not move");
	cr_assert_eq(g->again, 2, "MIGRATE_SYNC tries a busy source twice");
	cr_assert_eq(ev(g, PGMIGRATE_FAIL), 1);
	cr_assert_gt(g->moved, 0);
	assert_contents(g);
	cr_assert_eq(gmm_pool_free_frames(pool), NR - held, "the refused destination is free again");
	tp_assert_consistent(&g->tp);
	/* every free frame, destinations handed back included, still carries
	 * intact poison */
	while ((p = gmm_alloc_frames(pool, 0, __GFP_NOFAIL | __GFP_NOWARN, 0)) != GMM_PFN_NONE)
		;
	cr_assert_eq(ev(g, POISON_CORRUPT), 0);
	guest_destroy(g);
}

Test(compaction, unmovable_frames_are_skipped)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	pfn_t fixed[NR];
	int nr_fixed = 0;

	fragment(g, OWNER);
	/* every third held frame cannot move: pinned, unevictable, or the
	 * VMM's own (owner 0) */
	for (gfn_t gfn = 0; gfn < g->nr_gfns; gfn++) {
		pfn_t p = g->where[gfn];
		struct gmm_frame *f;

		if (p == GMM_PFN_NONE || gfn % 3)
			continue;
		f = pfn_to_frame(pool, p);
		switch (nr_fixed % 3) {
		case 0: frame_set_pinned(f); break;
		case 1: frame_set_unevictable(f); break;
		case 2: f->owner = 0; break;
		}
		fixed[nr_fixed++] = p;
	}
	compact_node(pool, 0, -1, NULL);
	cr_assert_gt(g->moved, 0, "the others moved");
	cr_assert_eq(g->refused, 0, "the hook was never offered an unmovable frame");
	for (int i = 0; i < nr_fixed; i++) {
		struct gmm_frame *f = pfn_to_frame(pool, fixed[i]);

		cr_assert_eq(frame_ref_count(f), 1);
		cr_assert(holds(pool, fixed[i], f->gfn, 0));
	}
	tp_assert_consistent(&g->tp);
	guest_destroy(g);
}

Test(compaction, scanners_meet_on_an_unfragmentable_zone_and_compact_fail_counts)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	unsigned long held = fragment(g, 0);   /* nothing is a guest's: nothing moves */

	cr_assert_eq(compaction_suitable(&pool->zones[0], 9), COMPACT_CONTINUE);

	cr_assert_eq(run(&pool->zones[0], 9, MIGRATE_SYNC_LIGHT), COMPACT_COMPLETE);
	cr_assert_eq(g->calls, 0);
	cr_assert_eq(ev(g, COMPACTFAIL), 1);
	cr_assert_eq(ev(g, COMPACTSUCCESS), 0);
	cr_assert_gt(ev(g, COMPACTMIGRATE_SCANNED), 0);
	cr_assert_eq(gmm_pool_free_frames(pool), NR - held, "every isolated free frame went back");
	cr_assert_eq(gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0), GMM_PFN_NONE);
	tp_assert_consistent(&g->tp);
	guest_destroy(g);
}

Test(compaction, suitability_follows_free_memory_and_the_fragmentation_index)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_zone *z = &pool->zones[0];
	pfn_t p;

	cr_assert_eq(compaction_suitable(z, 9), COMPACT_SUCCESS, "a fresh zone has the block");
	cr_assert_eq(run(z, 9, MIGRATE_SYNC), COMPACT_SUCCESS);
	cr_assert_eq(ev(g, COMPACTSUCCESS), 0, "nothing ran, nothing counted");
	/* nothing free: no room to migrate into (compact_gap()) */
	while ((p = gmm_alloc_frames(pool, 0, __GFP_NOFAIL | __GFP_NOWARN, 0)) != GMM_PFN_NONE)
		;
	cr_assert_eq(compaction_suitable(z, 9), COMPACT_SKIPPED);
	cr_assert_eq(run(z, 9, MIGRATE_SYNC), COMPACT_SKIPPED);
	guest_destroy(g);
}

Test(compaction, free_order9_blocks_only_make_a_4mib_block_by_moving_huge_frames)
{
	struct fake_guest *g = guest_create(2 * NR, false, true);   /* 16 pageblocks, 8 order-10 blocks */
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_zone *z = &pool->zones[0];
	pfn_t p;

	while ((p = gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN | __GFP_NOFAIL, 0)) != GMM_PFN_NONE)
		guest_take(g, p, 9, OWNER);
	cr_assert_eq(g->nr_gfns, 16);
	/* free one pageblock of five different 4 MiB blocks */
	for (gfn_t gfn = 0; gfn < g->nr_gfns; gfn++) {
		pfn_t at = g->where[gfn];

		if ((at >> pageblock_order) % 2 == 1 && (at >> pageblock_order) < 10)
			guest_release(g, gfn);
	}
	cr_assert_eq(zone_nr_free(z, 9), 5);
	cr_assert_eq(zone_nr_free(z, 10), 0);
	/* a 4 MiB target: only 2 MiB blocks free, the index says lack of
	 * memory (as the kernel would); compact_memory does it anyway */
	cr_assert_eq(compaction_suitable(z, 10), COMPACT_NOT_SUITABLE_ZONE);
	cr_assert_eq(compact_node(pool, 0, -1, NULL), COMPACT_COMPLETE);
	cr_assert_geq(zone_nr_free(z, 10), 1, "a huge frame moved next to a free buddy");
	cr_assert_gt(g->moved, 0);
	cr_assert_eq(ev(g, PGMIGRATE_SUCCESS), (uint64_t)g->moved * 512, "counted in frames");
	assert_contents(g);
	tp_assert_consistent(&g->tp);
	guest_destroy(g);
}

Test(compaction, huge_frames_stay_put_for_an_order9_target)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	pfn_t huge = gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0);
	unsigned long held;

	cr_assert_neq(huge, GMM_PFN_NONE);
	guest_take(g, huge, 9, OWNER);
	held = fragment(g, OWNER);
	cr_assert_eq(run(&pool->zones[0], 9, MIGRATE_SYNC), COMPACT_SUCCESS);
	cr_assert_eq(g->where[0], huge, "moving a 2 MiB frame cannot make a 2 MiB block");
	cr_assert_eq(ev(g, PGMIGRATE_SUCCESS), (uint64_t)g->moved, "order-0 moves only");
	assert_contents(g);
	cr_assert_eq(gmm_pool_free_frames(pool), NR - held);
	tp_assert_consistent(&g->tp);
	guest_destroy(g);
}

Test(compaction, without_a_migrate_hook_nothing_runs)
{
	struct fake_guest *g = guest_create(NR, false, false);
	struct gmm_pool *pool = g->tp.pool;

	fragment(g, OWNER);
	cr_assert_eq(run(&pool->zones[0], 9, MIGRATE_SYNC), COMPACT_SKIPPED);
	cr_assert_eq(compact_node(pool, GMM_NUMA_NO_NODE, -1, NULL), COMPACT_SKIPPED);
	cr_assert_eq(ev(g, COMPACTMIGRATE_SCANNED), 0);
	cr_assert_eq(gmm_alloc_frames(pool, 9, GFP_GUEST | __GFP_NOWARN, 0), GMM_PFN_NONE);
	cr_assert_eq(ev(g, COMPACTSTALL), 0, "no hook: the slow path does not try");
	guest_destroy(g);
}

Test(compaction, huge_allocation_with_direct_reclaim_compacts_in_the_slow_path)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	pfn_t huge;

	fragment(g, OWNER);
	cr_assert_eq(gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0), GMM_PFN_NONE,
		     "without __GFP_DIRECT_RECLAIM: no stall");
	cr_assert_eq(ev(g, COMPACTSTALL), 0);
	huge = gmm_alloc_frames(pool, 9, GFP_GUEST | __GFP_NOWARN, 0);
	cr_assert_neq(huge, GMM_PFN_NONE);
	cr_assert_eq(ev(g, COMPACTSTALL), 1);
	cr_assert_eq(ev(g, COMPACTSUCCESS), 1);
	cr_assert_gt(g->moved, 0);
	assert_contents(g);
	cr_assert_eq(gmm_free_frames(pool, huge, 9), 0);
	guest_destroy(g);
}

Test(compaction, try_to_compact_pages_counts_a_stall_and_follows_the_zonelist)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;

	fragment(g, OWNER);
	/* only node 1 allowed: there is none, nothing runs */
	cr_assert_eq(try_to_compact_pages(pool, 9, GFP_GUEST, 0, 1ULL << 1, MIGRATE_ASYNC), COMPACT_SKIPPED);
	cr_assert_eq(ev(g, COMPACTSTALL), 1);
	cr_assert_eq(g->calls, 0);
	cr_assert_eq(try_to_compact_pages(pool, 9, GFP_GUEST, 0, 0, MIGRATE_ASYNC), COMPACT_SUCCESS);
	cr_assert_eq(ev(g, COMPACTSTALL), 2);
	cr_assert_gt(g->moved, 0);
	guest_destroy(g);
}

Test(compaction, kcompactd_step_compacts_the_node_when_woken)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_kcompactd kc;

	fragment(g, OWNER);
	kcompactd_init(&kc, pool, 0);
	cr_assert(!kcompactd_work_requested(&kc, 0));
	cr_assert_eq(kcompactd_step(&kc, 0, true), KCOMPACTD_IDLE, "not woken, proactiveness 0");
	cr_assert_eq(g->calls, 0);
	cr_assert_eq(wakeup_kcompactd(&kc, GMM_NUMA_NO_NODE, 9), 1, "node 0's thread");
	cr_assert_eq(ev(g, KCOMPACTD_WAKE), 1);
	cr_assert(kcompactd_work_requested(&kc, 0));
	cr_assert_eq(kcompactd_step(&kc, 0, false), KCOMPACTD_DEMAND);
	cr_assert(!kcompactd_work_requested(&kc, 0));
	cr_assert_gt(g->moved, 0);
	cr_assert_eq(ev(g, COMPACTSUCCESS), 1);
	cr_assert_gt(ev(g, KCOMPACTD_MIGRATE_SCANNED), 0);
	cr_assert_eq(ev(g, KCOMPACTD_MIGRATE_SCANNED), ev(g, COMPACTMIGRATE_SCANNED));
	cr_assert_eq(ev(g, KCOMPACTD_FREE_SCANNED), ev(g, COMPACTFREE_SCANNED));
	/* the block is there now: a wake finds nothing to do */
	cr_assert_eq(wakeup_kcompactd(&kc, 0, 9), 0);
	cr_assert_neq(gmm_alloc_frames(pool, 9, __GFP_MOVABLE | __GFP_NOWARN, 0), GMM_PFN_NONE);
	guest_destroy(g);
}

Test(compaction, kcompactd_defers_a_zone_whose_runs_keep_failing)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_kcompactd kc;
	int ran = 0;

	fragment(g, 0);   /* nothing movable */
	kcompactd_init(&kc, pool, 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(wakeup_kcompactd(&kc, 0, 9), 1);
		ran += kcompactd_step(&kc, 0, false) == KCOMPACTD_DEMAND;
	}
	/* defer_compaction(): after the k-th failure the next 2^k - 1 requests
	 * are skipped: runs 1, 3 and 7 */
	cr_assert_eq(ran, 3, "ran %d times", ran);
	cr_assert_eq(ev(g, COMPACTFAIL), 3);
	guest_destroy(g);
}

Test(compaction, proactive_compaction_runs_on_a_tick_when_the_score_passes_the_mark)
{
	struct fake_guest *g = guest_create(NR, false, true);
	struct gmm_pool *pool = g->tp.pool;
	struct gmm_kcompactd kc;
	unsigned before, after;

	cr_assert_eq(fragmentation_score_wmark(20, true), 80);
	cr_assert_eq(fragmentation_score_wmark(20, false), 90);
	cr_assert_eq(fragmentation_score_wmark(100, true), 5);
	cr_assert_eq(fragmentation_score_wmark(100, false), 15);
	cr_assert_eq(fragmentation_score_wmark(0, false), 100);
	fragment(g, OWNER);
	before = fragmentation_score_node(pool, 0);
	cr_assert_geq(before, 95);
	kcompactd_init(&kc, pool, 0);
	cr_assert_eq(kcompactd_step(&kc, 0, true), KCOMPACTD_IDLE, "proactiveness 0: off");
	atomic_store(&kc.proactiveness, 100);
	cr_assert_eq(kcompactd_step(&kc, 0, false), KCOMPACTD_IDLE, "only on a tick");
	cr_assert_eq(kcompactd_step(&kc, 0, true), KCOMPACTD_PROACTIVE);
	after = fragmentation_score_node(pool, 0);
	cr_assert_lt(after, before);
	cr_assert_leq(after, 50, "score %u", after);
	cr_assert_gt(g->moved, 0);
	cr_assert_eq(ev(g, COMPACTSUCCESS) + ev(g, COMPACTFAIL), 0, "proactive runs have no target");
	assert_contents(g);
	tp_assert_consistent(&g->tp);
	guest_destroy(g);
}

Test(compaction, vmstat_lists_the_compaction_counters)
{
	struct fake_guest *g = guest_create(NR, false, true);
	static const char *const names[] = {
		"compact_migrate_scanned ", "compact_free_scanned ", "compact_isolated ", "compact_stall ",
		"compact_fail ", "compact_success ", "compact_daemon_wake ", "pgmigrate_success ",
		"pgmigrate_fail ",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(gmm_pool_show(g->tp.pool, "vmstat", f), 0);
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_not_null(strstr(buf, names[i]), "%s", names[i]);
	count_migrate_events(g->tp.pool, 3, 1);
	cr_assert_eq(ev(g, PGMIGRATE_SUCCESS), 3);
	cr_assert_eq(ev(g, PGMIGRATE_FAIL), 1);
	free(buf);
	guest_destroy(g);
}
