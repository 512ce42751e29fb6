/*
 * The recycle stacks (vmm/frame_recycle.c) on a real host pool: evicted
 * frames kept populated and unpunched for the next swap-ins, and given
 * back punched when reclaim, or a quiet while, asks.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "vmm/frame_recycle.h"
#include "vmm/host_pool.h"

#define MB (1ULL << 20)

static struct host_pool *pool_up(uint64_t bytes)
{
	struct pool_config pc = { .size_bytes = bytes, .nodes = 1, .reserve_bytes = 0 };
	struct host_pool *hp;
	char err[256];

	cr_assert_eq(host_pool_create(&pc, &hp, err, sizeof(err)), 0, "%s", err);
	return hp;
}

static uint64_t allocated(struct host_pool *hp)
{
	return hp->mm->nr_frames - gmm_pool_free_frames(hp->mm) - gmm_pool_pcp_frames(hp->mm);
}

static uint64_t stat(struct host_pool *hp, enum frame_recycle_stat i)
{
	return atomic_load(&hp->recycle.stat[i]);
}

/* n order-0 frames as eviction leaves them: populated with data, owned by
 * a guest page, refcount 1, mapped nowhere */
static void evicted_frames(struct host_pool *hp, pfn_t *pfns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct gmm_frame *f;

		pfns[i] = gmm_alloc_frames(hp->mm, 0, __GFP_MOVABLE | __GFP_NOWARN, 0);
		cr_assert_neq(pfns[i], GMM_PFN_NONE);
		memset(frame_mem(hp->mm, pfns[i]), 0xa5, 4096);
		f = pfn_to_frame(hp->mm, pfns[i]);
		f->owner = 3;
		f->gfn = 1000 + i;
		f->private = 77;
		frame_set_active(f);
		frame_set_referenced(f);
	}
}

Test(frame_recycle, the_stack_is_sized_from_the_node_and_keeps_what_fits)
{
	struct host_pool *hp = pool_up(64 * MB);
	unsigned cap = hp->recycle.node[0].cap;
	size_t n = cap + 10, rest;
	pfn_t *pfns = calloc(n, sizeof(*pfns)), first_rest;
	uint64_t held, alloc;

	/* 64 MiB: 2% of it is below the 1024-frame floor */
	cr_assert_eq(cap, FRAME_RECYCLE_MIN);
	evicted_frames(hp, pfns, n);
	held = host_pool_held_bytes(hp);
	alloc = allocated(hp);
	first_rest = pfns[cap];
	rest = frame_recycle_put(hp, pfns, n);
	cr_assert_eq(rest, 10, "what does not fit comes back to be freed");
	cr_assert_eq(pfns[0], first_rest, "in order, at the front");
	cr_assert_eq(frame_recycle_frames(hp), cap);
	cr_assert_eq(stat(hp, RECYCLE_KEPT), cap);
	cr_assert_eq(stat(hp, RECYCLE_FULL), 10);
	/* kept frames are not punched, and still allocated in the buddy */
	cr_assert_eq(host_pool_held_bytes(hp), held);
	cr_assert_eq(allocated(hp), alloc);
	host_pool_free_frames(hp, pfns, rest);
	cr_assert_eq(frame_recycle_shrink(hp, -1, UINT64_MAX), cap);
	free(pfns);
	host_pool_destroy(hp);
}

/* A taken frame looks freshly allocated, and holds the old data: only a
 * reader that overwrites it whole may have it (take_frames_for_read()) */
Test(frame_recycle, a_taken_frame_is_fresh_in_its_descriptor_and_unzeroed_in_its_data)
{
	struct host_pool *hp = pool_up(32 * MB);
	pfn_t pfns[4], got;
	struct gmm_frame *f;

	evicted_frames(hp, pfns, 4);
	cr_assert_eq(frame_recycle_put(hp, pfns, 4), 0);
	got = frame_recycle_take(hp, 0, 1);
	cr_assert_eq(got, pfns[3], "the last one put (warmest in cache)");
	f = pfn_to_frame(hp->mm, got);
	cr_assert_eq(frame_ref_count(f), 1);
	cr_assert_eq(atomic_load(&f->flags), 0, "no aging, no swap cache left over");
	cr_assert_eq(f->owner, 0);
	cr_assert_eq(f->gfn, GMM_GFN_NONE);
	cr_assert_eq(f->private, 0);
	cr_assert_eq(((unsigned char *)frame_mem(hp->mm, got))[100], 0xa5);
	cr_assert_eq(frame_recycle_take(hp, -1, 1), pfns[2], "any node");
	cr_assert_eq(stat(hp, RECYCLE_TAKEN), 2);
	cr_assert_eq(frame_recycle_take(hp, 0, 1), pfns[1]);
	cr_assert_eq(frame_recycle_take(hp, 0, 1), pfns[0]);
	cr_assert_eq(frame_recycle_take(hp, 0, 1), GMM_PFN_NONE, "empty");
	for (int i = 0; i < 4; i++)
		host_pool_free(hp, pfns[i], 0);
	host_pool_destroy(hp);
}

/* Reclaim's share: the frames go back punched (the pool holds less) and
 * free in the buddy, and a frame allocated after reads zeros */
Test(frame_recycle, shrink_punches_the_frames_and_frees_them)
{
	struct host_pool *hp = pool_up(32 * MB);
	pfn_t pfns[64];
	uint64_t held, free_before;

	evicted_frames(hp, pfns, 64);
	cr_assert_eq(frame_recycle_put(hp, pfns, 64), 0);
	held = host_pool_held_bytes(hp);
	free_before = gmm_pool_free_frames(hp->mm) + gmm_pool_pcp_frames(hp->mm);
	cr_assert_eq(frame_recycle_shrink(hp, 0, 40), 40, "as many as asked");
	cr_assert_eq(frame_recycle_frames(hp), 24);
	cr_assert_eq(host_pool_held_bytes(hp), held - 40 * 4096);
	cr_assert_eq(gmm_pool_free_frames(hp->mm) + gmm_pool_pcp_frames(hp->mm), free_before + 40);
	cr_assert_eq(frame_recycle_shrink(hp, -1, UINT64_MAX), 24);
	cr_assert_eq(stat(hp, RECYCLE_DRAINED), 64);
	cr_assert_eq(host_pool_held_bytes(hp), held - 64 * 4096);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(((unsigned char *)frame_mem(hp->mm, pfns[i]))[100], 0, "punched: zero");
	host_pool_destroy(hp);
}

/* kswapd's look when the node is quiet: a stack fed a moment ago stays
 * (the next swap-ins will want it), one left alone for idle_ms goes */
Test(frame_recycle, an_idle_stack_goes_back_and_a_fresh_one_stays)
{
	struct host_pool *hp = pool_up(32 * MB);
	pfn_t pfns[8];

	evicted_frames(hp, pfns, 8);
	cr_assert_eq(frame_recycle_put(hp, pfns, 8), 0);
	cr_assert_eq(frame_recycle_shrink_idle(hp, 0, 1000), 0);
	cr_assert_eq(frame_recycle_frames(hp), 8);
	usleep(60 * 1000);
	cr_assert_eq(frame_recycle_shrink_idle(hp, 0, 50), 8);
	cr_assert_eq(frame_recycle_frames(hp), 0);
	host_pool_destroy(hp);
}

/* Only a frame as eviction leaves it: a still-mapped frame (a bug) or a
 * huge one is not kept, it is handed back for the usual free */
Test(frame_recycle, a_mapped_or_huge_frame_is_not_kept)
{
	struct host_pool *hp = pool_up(32 * MB);
	pfn_t pfns[2];

	evicted_frames(hp, pfns, 1);
	atomic_store(&pfn_to_frame(hp->mm, pfns[0])->mapcount, 1);
	pfns[1] = gmm_alloc_frames(hp->mm, 9, __GFP_MOVABLE | __GFP_NOWARN, 0);
	cr_assert_neq(pfns[1], GMM_PFN_NONE);
	cr_assert_eq(frame_recycle_put(hp, pfns, 2), 2);
	cr_assert_eq(frame_recycle_frames(hp), 0);
	atomic_store(&pfn_to_frame(hp->mm, pfns[0])->mapcount, 0);
	host_pool_free(hp, pfns[0], 0);
	host_pool_free(hp, pfns[1], 9);
	host_pool_destroy(hp);
}

/* A readahead wants n frames of consecutive pfns (one mapping): the top of
 * the stack gives them when it is such a run, as an eviction batch in pfn
 * order leaves it, and nothing when it is not */
Test(frame_recycle, a_run_is_taken_from_the_top_only_when_its_pfns_are_consecutive)
{
	struct host_pool *hp = pool_up(32 * MB);
	pfn_t block = gmm_alloc_frames(hp->mm, 3, __GFP_MOVABLE | __GFP_NOWARN, 0), pfns[8];

	cr_assert_neq(block, GMM_PFN_NONE);
	cr_assert_eq(gmm_split_frames(hp->mm, block, 3), 0);
	for (int i = 0; i < 8; i++)
		pfns[i] = block + (pfn_t)i;
	cr_assert_eq(frame_recycle_put(hp, pfns, 8), 0);
	cr_assert_eq(frame_recycle_take(hp, 0, 4), block + 4);
	cr_assert_eq(frame_recycle_take(hp, 0, 4), block);
	cr_assert_eq(stat(hp, RECYCLE_TAKEN), 8);
	pfns[0] = block;
	pfns[1] = block + 2;
	cr_assert_eq(frame_recycle_put(hp, pfns, 2), 0);
	cr_assert_eq(frame_recycle_take(hp, 0, 2), GMM_PFN_NONE, "a gap");
	cr_assert_eq(frame_recycle_take(hp, 0, 4), GMM_PFN_NONE, "too few");
	cr_assert_eq(frame_recycle_frames(hp), 2, "a refused take leaves the stack as it was");
	cr_assert_eq(frame_recycle_take(hp, 0, 1), block + 2);
	cr_assert_eq(frame_recycle_take(hp, 0, 1), block);
	for (int i = 0; i < 8; i++)
		host_pool_free(hp, block + (pfn_t)i, 0);
	host_pool_destroy(hp);
}
