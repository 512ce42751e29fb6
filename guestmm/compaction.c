/*
 * Memory compaction (mm/compaction.c): the migration and free scanners,
 * compact_zone(), suitability and the fragmentation score, then the entry
 * points that loop over zones (direct compaction, compact_node()).
 * kcompactd's step and deferral are in kcompactd.c. See compaction.h and
 * docs/compaction.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/compaction.h"
#include "guestmm/internal.h"

const char *const compact_result_names[NR_COMPACT_RESULTS] = {
	[COMPACT_NOT_SUITABLE_ZONE] = "not_suitable_zone",
	[COMPACT_SKIPPED]           = "skipped",
	[COMPACT_DEFERRED]          = "deferred",
	[COMPACT_CONTINUE]          = "continue",
	[COMPACT_COMPLETE]          = "complete",
	[COMPACT_PARTIAL_SKIPPED]   = "partial_skipped",
	[COMPACT_CONTENDED]         = "contended",
	[COMPACT_SUCCESS]           = "success",
};

#define PAGE_ALLOC_COSTLY_ORDER 3

static inline pfn_t zone_end_pfn(const struct gmm_zone *z)
{
	return z->start_pfn + z->spanned_pages;
}

static inline pfn_t pageblock_start_pfn(pfn_t pfn)
{
	return pfn & ~(pageblock_nr_pages - 1);
}

static inline pfn_t pageblock_end_pfn(pfn_t pfn)
{
	return pageblock_start_pfn(pfn) + pageblock_nr_pages;
}

static inline bool pageblock_aligned(pfn_t pfn)
{
	return !(pfn & (pageblock_nr_pages - 1));
}

static inline bool is_via_compact_memory(int order)
{
	return order < 0;
}

/* compact_gap(): room to migrate into, so compaction itself does not push
 * the zone under its watermark. */
static inline unsigned long compact_gap(int order)
{
	return 2UL << order;
}

static inline unsigned long nr_free_mt(struct gmm_zone *z, unsigned order, int mt)
{
	return atomic_load_explicit(&z->free_area[order].nr_free_mt[mt], memory_order_relaxed);
}

/* --- suitability and the fragmentation score ------------------------------ */

enum compact_result compaction_suitable(struct gmm_zone *z, int order)
{
	unsigned long mark;
	int fragindex;

	if (is_via_compact_memory(order))
		return COMPACT_CONTINUE;
	if (order > MAX_ORDER)
		return COMPACT_SKIPPED;
	if (zone_watermark_ok(z, (unsigned)order, wmark_pages(z, WMARK_MIN), 0))
		return COMPACT_SUCCESS;
	/* __compaction_suitable(): room for the copies */
	mark = wmark_pages(z, order > PAGE_ALLOC_COSTLY_ORDER ? WMARK_LOW : WMARK_MIN) + compact_gap(order);
	if (!zone_watermark_ok(z, 0, mark, 0))
		return COMPACT_SKIPPED;
	/* an index towards 0 says failure is for lack of memory: reclaim,
	 * not compaction, helps (sysctl_extfrag_threshold) */
	if (order > PAGE_ALLOC_COSTLY_ORDER) {
		fragindex = zone_fragmentation_index(z, (unsigned)order);
		if (fragindex >= 0 && fragindex <= COMPACT_EXTFRAG_THRESHOLD)
			return COMPACT_NOT_SUITABLE_ZONE;
	}
	return COMPACT_CONTINUE;
}

unsigned fragmentation_score_zone(struct gmm_zone *z)
{
	unsigned long free = 0, suitable = 0;

	/* extfrag_for_order(): the share of free memory in blocks smaller
	 * than a huge frame */
	for (unsigned o = 0; o <= MAX_ORDER; o++) {
		unsigned long n = atomic_load_explicit(&z->free_area[o].nr_free, memory_order_relaxed);

		free += n << o;
		if (o >= COMPACTION_HPAGE_ORDER)
			suitable += n << (o - COMPACTION_HPAGE_ORDER);
	}
	if (!free)
		return 0;
	return (unsigned)((free - (suitable << COMPACTION_HPAGE_ORDER)) * 100ULL / free);
}

unsigned fragmentation_score_node(struct gmm_pool *pool, int nid)
{
	unsigned long present = 0, score = 0;

	for (int i = 0; i < pool->nr_zones; i++)
		if (pool->zones[i].nid == nid)
			present += pool->zones[i].present_pages;
	/* fragmentation_score_zone_weighted(): each zone by its share */
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		if (z->nid == nid)
			score += z->present_pages * fragmentation_score_zone(z) / (present + 1);
	}
	return (unsigned)score;
}

unsigned fragmentation_score_wmark(unsigned proactiveness, bool low)
{
	unsigned wmark_low = proactiveness >= 95 ? 5 : 100 - proactiveness;

	return low ? wmark_low : (wmark_low + 10 > 100 ? 100 : wmark_low + 10);
}

/* --- the free scanner -------------------------------------------------------- */

/* A block the debug checks found damaged is never handed out again
 * (page_alloc.c's take_out_of_use()). */
static void take_out_of_use(struct gmm_zone *z, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f = pfn_to_frame(z->pool, pfn);

	for (unsigned long i = 0; i < (1UL << order); i++)
		frame_set_hwpoison(&f[i]);
	atomic_fetch_add_explicit(&z->nr_poisoned, 1UL << order, memory_order_relaxed);
}

static bool compact_lock(struct compact_control *cc)
{
	if (cc->mode != MIGRATE_ASYNC) {
		gmm_lock(&cc->zone->lock);
		return true;
	}
	if (gmm_trylock(&cc->zone->lock))
		return true;
	cc->contended = true;  /* compact_lock_irqsave() in async mode */
	return false;
}

/* The pageblock at block lies inside a free block of pageblock order or
 * more: taking from it would break the very thing compaction builds. */
static bool pageblock_wholly_free(struct gmm_zone *z, pfn_t block)
{
	for (unsigned o = pageblock_order; o <= MAX_ORDER; o++) {
		pfn_t head = block & ~((1UL << o) - 1);
		struct gmm_frame *f;

		if (head < z->start_pfn)
			break;
		f = pfn_to_frame(z->pool, head);
		if (frame_test_buddy(f) && __atomic_load_n(&f->order, __ATOMIC_RELAXED) >= o)
			return true;
	}
	return false;
}

/* suitable_migration_target(): destinations come from movable pageblocks
 * only, so movable data does not spread into unmovable ones. */
static bool suitable_migration_target(struct compact_control *cc, pfn_t block)
{
	struct gmm_zone *z = cc->zone;
	pfn_t first = block < z->start_pfn ? z->start_pfn : block;

	if (pageblock_wholly_free(z, block))
		return false;
	return get_pageblock_migratetype(z, first) == MIGRATE_MOVABLE;
}

/*
 * isolate_freepages_block(): take every free block smaller than a
 * pageblock out of the buddy, as order-0 destination frames. Zone lock
 * held for the one pageblock.
 */
static void isolate_freepages_block(struct compact_control *cc, pfn_t block)
{
	struct gmm_zone *z = cc->zone;
	struct gmm_frame *frames = z->pool->frames;
	pfn_t p = block < z->start_pfn ? z->start_pfn : block;
	pfn_t end = block + pageblock_nr_pages;

	if (end > zone_end_pfn(z))
		end = zone_end_pfn(z);
	if (!compact_lock(cc))
		return;
	while (p < end) {
		struct gmm_frame *f = &frames[p];
		unsigned order;

		if (!frame_test_buddy(f)) {
			p++;
			cc->total_free_scanned++;
			continue;
		}
		order = f->order;
		if (order >= pageblock_order || cc->nr_freepages + (1UL << order) > COMPACT_FREEPAGES_MAX)
			break;
		del_from_free_list(z, p, order);
		for (unsigned long i = 0; i < (1UL << order); i++) {
			frames[p + i].order = 0;   /* split_page(): order-0 frames now */
			atomic_store_explicit(&frames[p + i].flags, FRAME_FLAG_MASK(FRAME_isolated),
					      memory_order_relaxed);
			cc->freepages[cc->nr_freepages++] = p + i;
		}
		cc->nr_isolated += 1UL << order;
		cc->total_free_scanned += 1UL << order;
		p += 1UL << order;
	}
	gmm_unlock(&z->lock);
}

/*
 * isolate_freepages(): walk pageblocks down from free_pfn, never into
 * the migration scanner's pageblock or below, until `want` destinations
 * are held. free_pfn ends at the next pageblock to look at; once it is at
 * or below the migration scanner's pageblock the scanners have met.
 */
static void isolate_freepages(struct compact_control *cc, unsigned long want)
{
	pfn_t low = pageblock_end_pfn(cc->migrate_pfn);
	pfn_t block = cc->free_pfn;

	/* low >= pageblock_nr_pages, so block never wraps below 0 */
	while (block >= low && cc->nr_freepages < want && !cc->contended) {
		if (suitable_migration_target(cc, block))
			isolate_freepages_block(cc, block);
		if (cc->contended)
			break;
		block -= pageblock_nr_pages;
	}
	cc->free_pfn = block;
}

/* Return destinations never used to the buddy (release_free_list()). */
static void release_freepages(struct compact_control *cc)
{
	struct gmm_zone *z = cc->zone;

	if (!cc->nr_freepages)
		return;
	gmm_lock(&z->lock);
	while (cc->nr_freepages) {
		pfn_t pfn = cc->freepages[--cc->nr_freepages];

		/* a frame merged as a tail keeps its flags: leave none behind */
		atomic_store_explicit(&z->pool->frames[pfn].flags, 0, memory_order_relaxed);
		__free_one_page(z, pfn, 0);
	}
	gmm_unlock(&z->lock);
}

/* prep_new_page() for a destination: an allocated block with one
 * reference, every other field clean, as gmm_alloc_frames() hands out. */
static void prep_dst(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);

	atomic_store_explicit(&f->flags, order ? FRAME_FLAG_MASK(FRAME_head) : 0, memory_order_relaxed);
	atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
	f->order = (uint8_t)order;
	f->lru_next = f->lru_prev = FRAME_NIL;
	f->gfn = GMM_GFN_NONE;
	f->private = 0;
	f->owner = 0;
	f->memcg_id = 0;
	atomic_store_explicit(&f->refcount, 1, memory_order_release);
}

/* The hook gave dst back (-EAGAIN / -ENOENT): it is a free frame of ours
 * again (compaction_free()). Order-0 frames are kept for the next source. */
static void compaction_free(struct compact_control *cc, pfn_t pfn, unsigned order)
{
	struct gmm_pool *pool = cc->zone->pool;
	struct gmm_frame *f = pfn_to_frame(pool, pfn);

	atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
	atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
	f->order = 0;
	if (pool->debug)
		poison_frames(pool, pfn, order);
	if (order == 0 && cc->nr_freepages < COMPACT_FREEPAGES_MAX) {
		atomic_store_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_isolated), memory_order_relaxed);
		cc->freepages[cc->nr_freepages++] = pfn;
		return;
	}
	gmm_lock(&cc->zone->lock);
	__free_one_page(cc->zone, pfn, order);
	gmm_unlock(&cc->zone->lock);
}

/* compaction_alloc(): an order-0 destination, isolating more as needed. */
static pfn_t compaction_alloc(struct compact_control *cc, unsigned long want)
{
	struct gmm_pool *pool = cc->zone->pool;

	for (;;) {
		pfn_t pfn;

		if (!cc->nr_freepages)
			isolate_freepages(cc, want);
		if (!cc->nr_freepages)
			return GMM_PFN_NONE;
		pfn = cc->freepages[--cc->nr_freepages];
		if (!pool->debug || check_poison(pool, pfn, 0))
			return pfn;
		take_out_of_use(cc->zone, pfn, 0);
	}
}

/*
 * A whole free order-9 block above src for a huge source: the highest
 * one in a movable pageblock that is not src's own buddy (moving into the
 * buddy frees nothing that can merge). Exactly order 9: splitting a free
 * 4 MiB block to move a 2 MiB frame would undo compaction's work.
 */
static pfn_t compaction_alloc_huge(struct compact_control *cc, pfn_t src)
{
	struct gmm_zone *z = cc->zone;
	struct gmm_frame *frames = z->pool->frames;
	pfn_t best = GMM_PFN_NONE;

	if (!compact_lock(cc))
		return GMM_PFN_NONE;
	for (uint32_t p = z->free_area[pageblock_order].free_list[MIGRATE_MOVABLE]; p != FRAME_NIL;
	     p = frames[p].lru_next)
		if (p > src && p != (src ^ pageblock_nr_pages) && (best == GMM_PFN_NONE || p > best))
			best = p;
	if (best != GMM_PFN_NONE) {
		del_from_free_list(z, best, pageblock_order);
		atomic_store_explicit(&frames[best].flags, FRAME_FLAG_MASK(FRAME_isolated), memory_order_relaxed);
		cc->nr_isolated += pageblock_nr_pages;
	}
	gmm_unlock(&z->lock);
	if (best != GMM_PFN_NONE && z->pool->debug && !check_poison(z->pool, best, pageblock_order)) {
		take_out_of_use(z, best, pageblock_order);
		return GMM_PFN_NONE;
	}
	return best;
}

/* --- the migration scanner --------------------------------------------------- */

/* Flags that make an allocated frame unmovable, or busy right now. */
#define FRAME_UNMOVABLE_MASK                                                                   \
	(FRAME_FLAG_MASK(FRAME_slab) | FRAME_FLAG_MASK(FRAME_large_kmalloc) |                  \
	 FRAME_FLAG_MASK(FRAME_reserved) | FRAME_FLAG_MASK(FRAME_unevictable) |                \
	 FRAME_FLAG_MASK(FRAME_mlocked) | FRAME_FLAG_MASK(FRAME_pinned) |                      \
	 FRAME_FLAG_MASK(FRAME_locked) | FRAME_FLAG_MASK(FRAME_reclaim) |                      \
	 FRAME_FLAG_MASK(FRAME_balloon) | FRAME_FLAG_MASK(FRAME_offline) |                     \
	 FRAME_FLAG_MASK(FRAME_hwpoison) | FRAME_FLAG_MASK(FRAME_pcp))

/* A guest's frame: an owner and a reverse map. The VMM's own frames
 * (owner 0: reserve blocks, slab, the fault path's current block) and
 * stage-2 tables (unevictable, no gfn) are not. Read unlocked: the hook
 * checks again under the owner's lock. */
static bool frame_movable(struct gmm_frame *f, uint64_t flags)
{
	return !(flags & FRAME_UNMOVABLE_MASK) && __atomic_load_n(&f->owner, __ATOMIC_RELAXED) != 0 &&
	       __atomic_load_n(&f->gfn, __ATOMIC_RELAXED) != GMM_GFN_NONE;
}

/* Moving a 2 MiB frame helps only a 4 MiB target (or compact_memory,
 * which builds every order): for an order-9 target it frees one huge
 * block by taking another (the kernel's skip_isolation_on_order()). */
static bool huge_moves_help(const struct compact_control *cc)
{
	return cc->order > pageblock_order || (is_via_compact_memory(cc->order) && !cc->proactive_compaction);
}

enum migrate_candidate {
	CANDIDATE_NONE,     /* nothing here (tail, pcp, isolated): next frame */
	CANDIDATE_FREE,     /* a free block: step over it */
	CANDIDATE_SKIP,     /* an allocated block that stays: step over it */
	CANDIDATE_MOVE,     /* a source */
};

/* What the migration scanner makes of the frame at pfn; *order is the
 * block it steps over (0: one frame). */
static enum migrate_candidate classify_frame(struct compact_control *cc, pfn_t pfn, unsigned *order)
{
	struct gmm_frame *f = pfn_to_frame(cc->zone->pool, pfn);
	uint64_t flags = atomic_load_explicit(&f->flags, memory_order_relaxed);
	unsigned o = 0;

	*order = 0;
	if (flags & FRAME_FLAG_MASK(FRAME_buddy) || frame_ref_count(f) > 0) {
		if (flags & (FRAME_FLAG_MASK(FRAME_buddy) | FRAME_FLAG_MASK(FRAME_head)))
			o = __atomic_load_n(&f->order, __ATOMIC_RELAXED);
		/* a racy read may see a block that just changed: only trust an
		 * order the pfn is aligned to */
		if (o <= MAX_ORDER && !(pfn & ((1UL << o) - 1)))
			*order = o;
	}
	if (flags & FRAME_FLAG_MASK(FRAME_buddy))
		return CANDIDATE_FREE;
	if (frame_ref_count(f) <= 0)
		return CANDIDATE_NONE;
	if (!frame_movable(f, flags))
		return CANDIDATE_SKIP;
	if (*order == 0 || (*order == pageblock_order && huge_moves_help(cc)))
		return CANDIDATE_MOVE;
	return CANDIDATE_SKIP;
}

/*
 * isolate_migratepages_block(): collect up to COMPACT_CLUSTER_MAX sources
 * from [low, end). Nothing is taken from the owner: a source is only a
 * pfn offered to the hook, which refuses what is no longer movable.
 */
static void isolate_migratepages_block(struct compact_control *cc, pfn_t low, pfn_t end)
{
	pfn_t pfn = low;

	while (pfn < end && cc->nr_migratepages < COMPACT_CLUSTER_MAX) {
		unsigned order;
		unsigned long step;

		if (classify_frame(cc, pfn, &order) == CANDIDATE_MOVE) {
			cc->migratepages[cc->nr_migratepages] = pfn;
			cc->migrate_order[cc->nr_migratepages++] = (uint8_t)order;
			cc->nr_isolated += 1UL << order;
		}
		step = 1UL << order;
		cc->total_migrate_scanned += step < end - pfn ? step : end - pfn;
		pfn += step;
	}
	cc->migrate_pfn = pfn;
}

/* suitable_migration_source(): async direct compaction takes only from
 * pageblocks of the wanted type; isolated pageblocks are someone else's
 * work in progress. */
static bool suitable_migration_source(struct compact_control *cc, pfn_t pfn)
{
	enum migratetype mt = get_pageblock_migratetype(cc->zone, pfn);

	if (mt == MIGRATE_ISOLATE)
		return false;
	if (cc->mode != MIGRATE_ASYNC || !cc->direct_compaction)
		return true;
	return mt == cc->migratetype;
}

enum isolate_migrate_result {
	ISOLATE_NONE,      /* nothing found in the pageblock scanned */
	ISOLATE_SUCCESS,   /* sources to migrate */
};

/* isolate_migratepages(): the next suitable pageblock wholly below the
 * free scanner, scanned from migrate_pfn. */
static enum isolate_migrate_result isolate_migratepages(struct compact_control *cc)
{
	struct gmm_zone *z = cc->zone;
	pfn_t low = cc->migrate_pfn;
	pfn_t block_end = pageblock_end_pfn(low);

	for (; block_end <= cc->free_pfn; low = block_end, block_end += pageblock_nr_pages) {
		cc->migrate_pfn = low;
		if (!suitable_migration_source(cc, low < z->start_pfn ? z->start_pfn : low))
			continue;
		isolate_migratepages_block(cc, low, block_end < zone_end_pfn(z) ? block_end : zone_end_pfn(z));
		return cc->nr_migratepages ? ISOLATE_SUCCESS : ISOLATE_NONE;
	}
	cc->migrate_pfn = low;
	return ISOLATE_NONE;
}

/* --- migration ----------------------------------------------------------------- */

enum migrate_outcome {
	MIGRATE_DONE,       /* moved: src freed by its owner */
	MIGRATE_BUSY,       /* -EAGAIN: try again later */
	MIGRATE_REFUSED,    /* -ENOENT (or any other error): not movable */
	MIGRATE_GONE,       /* freed or changed since the scan: nothing to do */
	MIGRATE_NO_TARGET,  /* no destination left: the scanners met */
};

static enum migrate_outcome migrate_one(struct compact_control *cc, pfn_t src, unsigned order,
					unsigned long want)
{
	struct gmm_pool *pool = cc->zone->pool;
	struct gmm_frame *f = pfn_to_frame(pool, src);
	pfn_t dst;
	int rc;

	if (frame_ref_count(f) <= 0 || frame_order(f) != order)
		return MIGRATE_GONE;
	dst = order ? compaction_alloc_huge(cc, src) : compaction_alloc(cc, want);
	if (dst == GMM_PFN_NONE)
		return order ? MIGRATE_GONE : MIGRATE_NO_TARGET;
	prep_dst(pool, dst, order);
	rc = pool->hooks.migrate_frame(pool, src, dst, order, pool->hooks.ctx);
	if (rc == 0)
		return MIGRATE_DONE;
	compaction_free(cc, dst, order);
	return rc == -EAGAIN ? MIGRATE_BUSY : MIGRATE_REFUSED;
}

/*
 * migrate_pages(): each source to the hook with a destination. In
 * MIGRATE_SYNC a busy source gets a second try after the others. Stops at
 * the first source no destination is left for.
 */
static void migrate_pages(struct compact_control *cc)
{
	unsigned long n = cc->nr_migratepages, retry = 0;
	int passes = cc->mode == MIGRATE_SYNC ? 2 : 1;

	for (int pass = 0; pass < passes && n; pass++, n = retry, retry = 0) {
		for (unsigned long i = 0; i < n; i++) {
			unsigned order = cc->migrate_order[i];
			unsigned long nr = 1UL << order;

			switch (migrate_one(cc, cc->migratepages[i], order, n - i)) {
			case MIGRATE_DONE:
				cc->nr_migrated += nr;
				if (order)
					cc->nr_huge_migrated += nr;
				break;
			case MIGRATE_BUSY:
				if (pass + 1 < passes) {
					cc->migratepages[retry] = cc->migratepages[i];
					cc->migrate_order[retry++] = (uint8_t)order;
					break;
				}
				/* fall through */
			case MIGRATE_REFUSED:
				cc->nr_migrate_failed += nr;
				break;
			case MIGRATE_GONE:
				break;
			case MIGRATE_NO_TARGET:
				cc->nr_migratepages = 0;
				return;
			}
		}
	}
	cc->nr_migratepages = 0;
}

/* --- the run --------------------------------------------------------------------- */

/* The kernel's fallbacks: a block of another mergeable type can serve the
 * request if the allocator would claim it (should_try_claim_block()). */
static bool free_block_serves(struct gmm_zone *z, unsigned order, enum migratetype mt)
{
	if (nr_free_mt(z, order, mt))
		return true;
	if (mt >= MIGRATE_PCPTYPES)
		return false;
	if (order < pageblock_order / 2 && mt == MIGRATE_MOVABLE)
		return false;
	for (int other = 0; other < MIGRATE_PCPTYPES; other++)
		if (other != (int)mt && nr_free_mt(z, order, other))
			return true;
	return false;
}

static bool compact_scanners_met(const struct compact_control *cc)
{
	return (cc->free_pfn >> pageblock_order) <= (cc->migrate_pfn >> pageblock_order);
}

/* __compact_finished(): done when the scanners meet, or (checked only at
 * a pageblock boundary, so a pageblock is emptied whole) the score is low
 * enough (proactive) or a block of the order is free (targeted). */
static enum compact_result compact_finished(struct compact_control *cc)
{
	struct gmm_zone *z = cc->zone;

	if (cc->contended)
		return COMPACT_CONTENDED;
	if (compact_scanners_met(cc))
		return cc->whole_zone ? COMPACT_COMPLETE : COMPACT_PARTIAL_SKIPPED;
	if (!pageblock_aligned(cc->migrate_pfn))
		return COMPACT_CONTINUE;
	if (cc->proactive_compaction)
		return fragmentation_score_zone(z) > cc->proactive_wmark_low ? COMPACT_CONTINUE :
									       COMPACT_SUCCESS;
	if (is_via_compact_memory(cc->order))
		return COMPACT_CONTINUE;
	for (unsigned o = (unsigned)cc->order; o <= MAX_ORDER; o++)
		if (free_block_serves(z, o, cc->migratetype))
			return COMPACT_SUCCESS;
	return COMPACT_CONTINUE;
}

void compact_control_init(struct compact_control *cc, struct gmm_zone *z, int order,
			  enum migratetype mt, enum migrate_mode mode)
{
	memset(cc, 0, sizeof(*cc));
	cc->zone = z;
	cc->order = order < 0 ? -1 : (order > MAX_ORDER ? MAX_ORDER : order);
	cc->migratetype = mt;
	cc->mode = mode;
	/* no cached scanner positions between runs: every run is a whole
	 * zone, from both ends */
	cc->whole_zone = true;
	cc->migrate_pfn = z->start_pfn;
	cc->free_pfn = pageblock_start_pfn(zone_end_pfn(z) - 1);
}

static void compact_account(struct compact_control *cc, enum compact_result ret)
{
	struct gmm_pool *pool = cc->zone->pool;

	count_vm_events_pool(pool, COMPACTMIGRATE_SCANNED, cc->total_migrate_scanned);
	count_vm_events_pool(pool, COMPACTFREE_SCANNED, cc->total_free_scanned);
	count_vm_events_pool(pool, COMPACTISOLATED, cc->nr_isolated);
	count_migrate_events(pool, cc->nr_migrated, cc->nr_migrate_failed);
	if (is_via_compact_memory(cc->order) || cc->proactive_compaction)
		return;
	if (ret == COMPACT_SUCCESS)
		count_vm_event(pool, COMPACTSUCCESS);
	else
		count_vm_event(pool, COMPACTFAIL);
}

enum compact_result compact_zone(struct compact_control *cc)
{
	struct gmm_zone *z = cc->zone;
	bool drain_pending = false;
	enum compact_result ret;

	if (!z->pool->hooks.migrate_frame)
		return COMPACT_SKIPPED;
	if (!is_via_compact_memory(cc->order)) {
		ret = compaction_suitable(z, cc->order);
		if (ret != COMPACT_CONTINUE)
			return ret;
	}
	/* frames on pcp lists are invisible to both scanners */
	drain_zone_pages(z);
	while ((ret = compact_finished(cc)) == COMPACT_CONTINUE) {
		if (isolate_migratepages(cc) == ISOLATE_SUCCESS) {
			migrate_pages(cc);
			drain_pending = true;
		}
		/* owners free sources into their cpu's pcp list: back to the
		 * buddy, to merge, before a finished pageblock is judged */
		if (drain_pending && pageblock_aligned(cc->migrate_pfn)) {
			drain_zone_pages(z);
			drain_pending = false;
		}
	}
	release_freepages(cc);
	if (drain_pending)
		drain_zone_pages(z);
	compact_account(cc, ret);
	return ret;
}

/* --- entry points over zones --------------------------------------------------- */

static bool zone_allowed(const struct gmm_zone *z, gfp_t gfp, uint64_t nodemask)
{
	if (z->type == ZONE_MOVABLE && !(gfp & __GFP_MOVABLE))
		return false;
	return !nodemask || (nodemask & (1ULL << z->nid));
}

/* The control is big (the destination list): it lives on the heap rather
 * than an allocating thread's stack. */
enum compact_result compact_zone_order(struct gmm_zone *z, int order, enum migratetype mt,
				       enum migrate_mode mode, unsigned flags, unsigned wmark_low,
				       unsigned long scanned[2])
{
	struct compact_control *cc = malloc(sizeof(*cc));
	enum compact_result ret;

	if (!cc)
		return COMPACT_SKIPPED;
	compact_control_init(cc, z, order, mt, mode);
	cc->direct_compaction = flags & COMPACT_RUN_DIRECT;
	cc->proactive_compaction = flags & COMPACT_RUN_PROACTIVE;
	cc->proactive_wmark_low = wmark_low;
	ret = compact_zone(cc);
	if (scanned) {
		scanned[0] += cc->total_migrate_scanned;
		scanned[1] += cc->total_free_scanned;
	}
	free(cc);
	return ret;
}

enum compact_result try_to_compact_pages(struct gmm_pool *pool, unsigned order, gfp_t gfp, int nid,
					 uint64_t nodemask, enum migrate_mode mode)
{
	struct gmm_node *node = &pool->nodes[nid < 0 || nid >= pool->nr_nodes ? 0 : nid];
	enum compact_result best = COMPACT_SKIPPED;

	count_vm_event(pool, COMPACTSTALL);
	for (int i = 0; i < node->nr_zonelist; i++) {
		struct gmm_zone *z = node->zonelist[i];
		enum compact_result ret;

		if (!zone_allowed(z, gfp, nodemask))
			continue;
		if ((gfp & __GFP_THISNODE) && z->nid != node->nid)
			break;
		ret = compact_zone_order(z, (int)order, gfp_migratetype(gfp), mode, COMPACT_RUN_DIRECT, 0,
					 NULL);
		if (ret > best)
			best = ret;
		if (ret == COMPACT_SUCCESS)
			break;
	}
	return best;
}

enum compact_result compact_node(struct gmm_pool *pool, int nid, int order, enum compact_result *results)
{
	enum compact_result best = COMPACT_SKIPPED;

	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];
		enum compact_result ret = COMPACT_SKIPPED;

		if (nid == GMM_NUMA_NO_NODE || z->nid == nid)
			ret = compact_zone_order(z, order, MIGRATE_MOVABLE, MIGRATE_SYNC, 0, 0, NULL);
		if (results)
			results[i] = ret;
		if (ret > best)
			best = ret;
	}
	return best;
}
