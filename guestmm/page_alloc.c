/*
 * The page allocator's front end (mm/page_alloc.c: get_page_from_freelist,
 * __alloc_pages_slowpath, prep_new_page, __free_pages): zonelist walk,
 * watermarks, the pcp fast path for order 0, the slow path with kswapd
 * wake-ups and direct reclaim hooks, and free-time sanity checks.
 */
#include <errno.h>
#include <string.h>

#include "guestmm/compaction.h"
#include "guestmm/internal.h"

static int gfp_to_alloc_flags(gfp_t gfp, unsigned order, int wmark)
{
	int flags = wmark;

	if (gfp & __GFP_HIGH) {
		flags |= ALLOC_MIN_RESERVE;
		/* GFP_ATOMIC-like high-order requests may use (and build) the
		 * highatomic reserve. */
		if (order > 0 && !(gfp & __GFP_DIRECT_RECLAIM))
			flags |= ALLOC_HIGHATOMIC;
	}
	if (gfp & __GFP_KSWAPD_RECLAIM)
		flags |= ALLOC_KSWAPD;
	return flags;
}

static inline bool zone_allowed(const struct gmm_zone *z, gfp_t gfp, uint64_t nodemask)
{
	if (z->type == ZONE_MOVABLE && !(gfp & __GFP_MOVABLE))
		return false;
	return !nodemask || (nodemask & (1ULL << z->nid));
}

/* prep_new_page(): a block leaves the allocator: refcount 1, FRAME_head
 * for large blocks, everything else clean. Tails are not touched: they are
 * found by alignment (frame_head()) and stay clean while free. */
static void prep_new_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order, gfp_t gfp)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);
	unsigned long nr = 1UL << order;

	atomic_store_explicit(&f->flags, order ? FRAME_FLAG_MASK(FRAME_head) : 0,
			      memory_order_relaxed);
	atomic_store_explicit(&f->refcount, 1, memory_order_relaxed);
	atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
	f->order = order;
	f->lru_next = f->lru_prev = FRAME_NIL;
	f->gfn = GMM_GFN_NONE;
	f->private = 0;
	f->owner = 0;
	f->memcg_id = 0;
	if ((gfp & __GFP_ZERO) && pool->base)
		memset(frame_mem(pool, pfn), 0, nr << GMM_FRAME_SHIFT);
}

/* A block whose poison was damaged is taken out of use (never handed out,
 * never freed again), like the kernel's bad_page() dropping the page. */
static void take_out_of_use(struct gmm_zone *z, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f = pfn_to_frame(z->pool, pfn);

	for (unsigned long i = 0; i < (1UL << order); i++)
		frame_set_hwpoison(&f[i]);
	atomic_fetch_add_explicit(&z->nr_poisoned, 1UL << order, memory_order_relaxed);
}

/* rmqueue(): order 0 from this cpu's list, the rest from the buddy under
 * the zone lock. */
static pfn_t rmqueue(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags)
{
	pfn_t pfn;

	if (order == 0 && !(alloc_flags & ALLOC_HIGHATOMIC))
		return pcp_alloc(z, mt, gmm_this_cpu(z->pool));
	gmm_lock(&z->lock);
	pfn = __rmqueue(z, order, mt, alloc_flags);
	if (pfn != GMM_PFN_NONE) {
		zone_count(z, z->type == ZONE_MOVABLE ? PGALLOC_MOVABLE : PGALLOC_NORMAL,
			   1UL << order);
		if (zone_free_pages(z) < (long)z->wmark[WMARK_HIGH])
			zone_count(z, WATERMARK_HIGH_HIT, 1);
	}
	gmm_unlock(&z->lock);
	return pfn;
}

/* One zone: take a block, check its poison in debug mode (a damaged block
 * is dropped and another taken). */
static pfn_t zone_take(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags)
{
	for (;;) {
		pfn_t pfn = rmqueue(z, order, mt, alloc_flags);

		if (pfn == GMM_PFN_NONE || !z->pool->debug || check_poison(z->pool, pfn, order))
			return pfn;
		take_out_of_use(z, pfn, order);
	}
}

/*
 * get_page_from_freelist(): walk the zonelist of the preferred node and
 * take from the first zone whose watermark allows it. Records the refused
 * watermark for the caller's report.
 */
static pfn_t get_page_from_freelist(struct gmm_pool *pool, struct gmm_alloc_ctl *ac,
				    int alloc_flags)
{
	struct gmm_node *node = &pool->nodes[ac->nid];
	enum migratetype mt = gfp_migratetype(ac->gfp);
	int wm = alloc_flags & ALLOC_WMARK_MASK;

	for (int i = 0; i < node->nr_zonelist; i++) {
		struct gmm_zone *z = node->zonelist[i];
		pfn_t pfn;

		if (!zone_allowed(z, ac->gfp, ac->nodemask))
			continue;
		if ((ac->gfp & __GFP_THISNODE) && z->nid != ac->nid)
			break;
		if (!(alloc_flags & ALLOC_NO_WATERMARKS) &&
		    !zone_watermark_fast(z, ac->order, z->wmark[wm], alloc_flags)) {
			count_vm_events(&pool->cpu_events[gmm_this_cpu(pool)],
					wm == WMARK_MIN ? WATERMARK_MIN_HIT : WATERMARK_LOW_HIT, 1);
			ac->wmark = wm;
			continue;
		}
		pfn = zone_take(z, ac->order, mt, alloc_flags);
		if (pfn == GMM_PFN_NONE)
			continue;
		prep_new_frames(pool, pfn, ac->order, ac->gfp);
		if ((alloc_flags & ALLOC_HIGHATOMIC) && ac->order < pageblock_order)
			reserve_highatomic_pageblock(z, pfn);
		ac->pfn = pfn;
		ac->zone_id = z->id;
		return pfn;
	}
	return GMM_PFN_NONE;
}

/* wake_all_kswapds(): every node the zonelist may use, once. */
static void wake_all_kswapds(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	uint64_t woken = 0;
	struct gmm_node *node = &pool->nodes[ac->nid];

	for (int i = 0; i < node->nr_zonelist; i++) {
		struct gmm_zone *z = node->zonelist[i];

		if (!zone_allowed(z, ac->gfp, ac->nodemask) || (woken & (1ULL << z->nid)))
			continue;
		if ((ac->gfp & __GFP_THISNODE) && z->nid != ac->nid)
			continue;
		woken |= 1ULL << z->nid;
		count_vm_event(pool, KSWAPD_WAKE);
		if (pool->hooks.wake_kswapd)
			pool->hooks.wake_kswapd(pool, z->nid, ac->order, pool->hooks.ctx);
	}
	ac->woke_kswapd = true;
}

static bool unreserve_any_highatomic(struct gmm_pool *pool)
{
	bool done = false;

	for (int i = 0; i < pool->nr_zones; i++)
		done |= unreserve_highatomic_pageblock(&pool->zones[i]);
	return done;
}

/* warn_alloc(), rate-limited: the first few failures only. */
static void warn_alloc(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	static _Atomic int printed;

	(void)pool;
	if (ac->gfp & __GFP_NOWARN || atomic_fetch_add(&printed, 1) >= 10)
		return;
	fprintf(stderr, "gmm: page allocation failure: order:%u, gfp:%#x, nid:%d, nodemask:%#llx\n",
		ac->order, ac->gfp, ac->nid, (unsigned long long)ac->nodemask);
}

#define MAX_RECLAIM_RETRIES 16

/* __alloc_pages_slowpath(): wake kswapd, retry at min, give back the
 * highatomic reserve, drain pcp lists, direct compaction (huge orders),
 * direct reclaim; NOFAIL finally ignores watermarks. */
static pfn_t alloc_slowpath(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	int flags = gfp_to_alloc_flags(ac->gfp, ac->order, ALLOC_WMARK_MIN);
	bool drained = false, compacted = false;
	pfn_t pfn;

	if (ac->gfp & __GFP_KSWAPD_RECLAIM)
		wake_all_kswapds(pool, ac);
	for (int tries = 0;; tries++) {
		pfn = get_page_from_freelist(pool, ac, flags);
		if (pfn != GMM_PFN_NONE)
			return pfn;
		if (unreserve_any_highatomic(pool))
			continue;
		if (!drained) {
			drained = true;
			gmm_drain_all_pages(pool);
			continue;
		}
		/* __alloc_pages_direct_compact(): once, for huge frames */
		if (!compacted && ac->order >= pageblock_order && (ac->gfp & __GFP_DIRECT_RECLAIM) &&
		    pool->hooks.migrate_frame) {
			compacted = true;
			if (try_to_compact_pages(pool, ac->order, ac->gfp, ac->nid, ac->nodemask,
						 MIGRATE_ASYNC) == COMPACT_SUCCESS)
				continue;
		}
		if (!(ac->gfp & __GFP_DIRECT_RECLAIM) || !pool->hooks.direct_reclaim)
			break;
		if (tries >= MAX_RECLAIM_RETRIES && !(ac->gfp & __GFP_NOFAIL))
			break;
		count_vm_event(pool, ALLOCSTALL);
		ac->direct_reclaimed = true;
		if (!pool->hooks.direct_reclaim(pool, ac->nid, ac->order, ac->gfp, pool->hooks.ctx))
			break;
	}
	if (ac->gfp & __GFP_NOFAIL)
		return get_page_from_freelist(pool, ac, flags | ALLOC_NO_WATERMARKS);
	return GMM_PFN_NONE;
}

static void finish_result(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	if (ac->pfn != GMM_PFN_NONE) {
		ac->wmark = zone_wmark_crossed(&pool->zones[ac->zone_id]);
		return;
	}
	count_vm_event(pool, ALLOC_FAIL);
	warn_alloc(pool, ac);
}

static void alloc_ctl_init(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	if (ac->nid < 0 || ac->nid >= pool->nr_nodes)
		ac->nid = 0;
	ac->pfn = GMM_PFN_NONE;
	ac->zone_id = -1;
	ac->wmark = WMARK_NONE;
	ac->woke_kswapd = ac->direct_reclaimed = false;
}

int gmm_alloc_frames_ctl(struct gmm_pool *pool, struct gmm_alloc_ctl *ac)
{
	if (ac->order > MAX_ORDER)
		return -EINVAL;
	alloc_ctl_init(pool, ac);
	if (get_page_from_freelist(pool, ac, gfp_to_alloc_flags(ac->gfp, ac->order,
								ALLOC_WMARK_LOW)) == GMM_PFN_NONE)
		alloc_slowpath(pool, ac);
	finish_result(pool, ac);
	return ac->pfn == GMM_PFN_NONE ? -ENOMEM : 0;
}

/* The fast path reads top to bottom: first zone above low wins; anything
 * else is the slow path's business. */
pfn_t gmm_alloc_frames(struct gmm_pool *pool, unsigned order, gfp_t gfp, int nid)
{
	struct gmm_alloc_ctl ac = { .order = order, .gfp = gfp, .nid = nid };

	if (order > MAX_ORDER)
		return GMM_PFN_NONE;
	alloc_ctl_init(pool, &ac);
	if (get_page_from_freelist(pool, &ac, gfp_to_alloc_flags(gfp, order, ALLOC_WMARK_LOW)) !=
	    GMM_PFN_NONE)
		return ac.pfn;
	alloc_slowpath(pool, &ac);
	finish_result(pool, &ac);
	return ac.pfn;
}

enum free_check {
	FREE_OK,
	FREE_DOUBLE,      /* already on a free list */
	FREE_UNALLOCATED, /* never handed out / inside a free block */
	FREE_TAIL,        /* a tail of an allocated large block */
	FREE_BAD_ORDER,   /* order differs from the block's */
};

/* free_page_is_bad(): classify a free request before touching anything. */
static enum free_check free_check(struct gmm_pool *pool, struct gmm_frame *f, unsigned order)
{
	uint64_t fl = atomic_load_explicit(&f->flags, memory_order_relaxed);

	(void)pool;
	if (fl & (FRAME_FLAG_MASK(FRAME_buddy) | FRAME_FLAG_MASK(FRAME_pcp)))
		return FREE_DOUBLE;
	if (frame_ref_count(f) <= 0)
		return frame_head(f) != f ? FREE_TAIL : FREE_UNALLOCATED;
	if (frame_order(f) != order)
		return FREE_BAD_ORDER;
	return FREE_OK;
}

static int bad_free(struct gmm_pool *pool, pfn_t pfn, enum free_check why)
{
	static const struct { enum gmm_vm_item item; int err; const char *what; } t[] = {
		[FREE_DOUBLE]      = { DOUBLE_FREE,    -EALREADY, "double free" },
		[FREE_UNALLOCATED] = { BAD_FREE,       -EINVAL,   "free of unallocated frame" },
		[FREE_TAIL]        = { BAD_FREE_TAIL,  -EINVAL,   "free of tail frame" },
		[FREE_BAD_ORDER]   = { BAD_FREE_ORDER, -EINVAL,   "free with wrong order" },
	};

	count_vm_event(pool, t[why].item);
	report_corruption(pool, pfn, t[why].what);
	return t[why].err;
}

/* __free_pages_ok(): the block is ours alone now. */
static void free_frames_ok(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);
	struct gmm_zone *z = frame_zone(pool, f);

	atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
	if (pool->debug)
		poison_frames(pool, pfn, order);
	if (order == 0) {
		pcp_free(z, pfn, gmm_this_cpu(pool));
		return;
	}
	gmm_lock(&z->lock);
	__free_one_page(z, pfn, order);
	zone_count(z, PGFREE, 1UL << order);
	gmm_unlock(&z->lock);
}

int gmm_free_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f;
	enum free_check why;

	if (!pfn_valid(pool, pfn) || order > MAX_ORDER ||
	    (pfn & ((1UL << order) - 1)) || !pfn_valid(pool, pfn + (1UL << order) - 1)) {
		count_vm_event(pool, BAD_FREE);
		return -EINVAL;
	}
	f = pfn_to_frame(pool, pfn);
	why = free_check(pool, f, order);
	if (why != FREE_OK)
		return bad_free(pool, pfn, why);
	if (!frame_put_testzero(f))
		return 0;
	free_frames_ok(pool, pfn, order);
	return 0;
}

/*
 * split_page(): an allocated order-n block becomes 1 << n order-0
 * allocations, each with its own reference, to be freed one by one. The
 * fault path takes a huge block and hands its frames to different guest
 * pages; a guest giving one page back frees one frame, and the buddy
 * merges them again as they come home.
 */
int gmm_split_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f;

	if (!pfn_valid(pool, pfn) || order > MAX_ORDER || (pfn & ((1UL << order) - 1)))
		return -EINVAL;
	f = pfn_to_frame(pool, pfn);
	if (frame_ref_count(f) != 1 || frame_order(f) != order || frame_head(f) != f)
		return -EINVAL;
	for (unsigned long i = 1; i < (1UL << order); i++) {
		struct gmm_frame *t = &f[i];

		atomic_store_explicit(&t->flags, 0, memory_order_relaxed);
		atomic_store_explicit(&t->mapcount, 0, memory_order_relaxed);
		t->order = 0;
		t->lru_next = t->lru_prev = FRAME_NIL;
		t->gfn = GMM_GFN_NONE;
		t->private = 0;
		t->owner = f->owner;
		t->memcg_id = f->memcg_id;
		atomic_store_explicit(&t->refcount, 1, memory_order_release);
	}
	f->order = 0;
	frame_clear_head(f);
	return 0;
}

int gmm_merge_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f;

	if (!pfn_valid(pool, pfn) || order == 0 || order > MAX_ORDER || (pfn & ((1UL << order) - 1)) ||
	    !pfn_valid(pool, pfn + (1UL << order) - 1))
		return -EINVAL;
	f = pfn_to_frame(pool, pfn);
	for (unsigned long i = 0; i < (1UL << order); i++) {
		uint64_t fl = atomic_load_explicit(&f[i].flags, memory_order_relaxed);

		if (frame_ref_count(&f[i]) != 1 || f[i].order != 0 ||
		    (fl & (FRAME_FLAG_MASK(FRAME_head) | FRAME_FLAG_MASK(FRAME_buddy) | FRAME_FLAG_MASK(FRAME_pcp) |
			   FRAME_FLAG_MASK(FRAME_slab))) ||
		    f[i].zone_id != f->zone_id)
			return -EINVAL;
	}
	/* tails go back to the clean state prep_new_frames() leaves them in */
	for (unsigned long i = 1; i < (1UL << order); i++) {
		atomic_store_explicit(&f[i].refcount, 0, memory_order_relaxed);
		atomic_store_explicit(&f[i].flags, 0, memory_order_relaxed);
		atomic_store_explicit(&f[i].mapcount, 0, memory_order_relaxed);
		f[i].gfn = GMM_GFN_NONE;
		f[i].private = 0;
		f[i].owner = 0;
		f[i].memcg_id = 0;
		f[i].lru_next = f[i].lru_prev = FRAME_NIL;
	}
	f->order = order;
	frame_set_head(f);
	return 0;
}
