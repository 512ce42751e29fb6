/*
 * The buddy allocator proper (mm/page_alloc.c: __rmqueue, expand,
 * __free_one_page, __rmqueue_fallback): free lists per order and per
 * migratetype, blocks split on allocation and merged with their buddy on
 * free. Every function here runs with the zone lock held except the two
 * public wrappers at the end.
 *
 * Free list hygiene (as in Linux 6.10+): a free block always sits on the
 * list of its pageblock's migratetype, so changing a pageblock's type moves
 * its free blocks (move_freepages_block()) and a fallback that does not
 * claim the block allocates straight from the other type's list.
 */
#include <errno.h>

#include "guestmm/internal.h"

static inline struct gmm_frame *zframe(struct gmm_zone *z, pfn_t pfn)
{
	return &z->pool->frames[pfn];
}

/* Counters written under the zone lock and read unlocked. */
static inline void area_add(_Atomic unsigned long *c, long d)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

static inline void zone_free_add(struct gmm_zone *z, long d)
{
	atomic_store_explicit(&z->free_pages,
			      atomic_load_explicit(&z->free_pages, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

/* __add_to_free_list() + set_buddy_order(): the frame becomes the head of a
 * free block: PageBuddy, its order, its list's type. */
void add_to_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt)
{
	struct free_area *area = &z->free_area[order];
	struct gmm_frame *f = zframe(z, pfn);
	uint32_t head = area->free_list[mt];

	lockdep_assert_held(&z->lock);
	f->order = order;
	f->mt = mt;
	atomic_store_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_buddy), memory_order_relaxed);
	f->lru_prev = FRAME_NIL;
	f->lru_next = head;
	if (head != FRAME_NIL)
		zframe(z, head)->lru_prev = (uint32_t)pfn;
	area->free_list[mt] = (uint32_t)pfn;
	area_add(&area->nr_free, 1);
	area_add(&area->nr_free_mt[mt], 1);
	zone_free_add(z, 1L << order);
}

/* del_page_from_free_list(): unlink and clear PageBuddy. */
void del_from_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order)
{
	struct free_area *area = &z->free_area[order];
	struct gmm_frame *f = zframe(z, pfn);
	enum migratetype mt = f->mt;

	lockdep_assert_held(&z->lock);
	if (f->lru_prev != FRAME_NIL)
		zframe(z, f->lru_prev)->lru_next = f->lru_next;
	else
		area->free_list[mt] = f->lru_next;
	if (f->lru_next != FRAME_NIL)
		zframe(z, f->lru_next)->lru_prev = f->lru_prev;
	f->lru_next = f->lru_prev = FRAME_NIL;
	atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
	area_add(&area->nr_free, -1);
	area_add(&area->nr_free_mt[mt], -1);
	zone_free_add(z, -(1L << order));
}

void move_to_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt)
{
	del_from_free_list(z, pfn, order);
	add_to_free_list(z, pfn, order, mt);
}

/* expand(): split a block of order high down to order low, giving the
 * upper halves back to the free lists of type mt. */
static void expand(struct gmm_zone *z, pfn_t pfn, unsigned low, unsigned high,
		   enum migratetype mt)
{
	unsigned long size = 1UL << high;

	while (high > low) {
		high--;
		size >>= 1;
		add_to_free_list(z, pfn + size, high, mt);
		zone_count(z, BUDDY_SPLIT, 1);
	}
}

/* Like __rmqueue_smallest(): smallest block >= order, split the rest back
 * (expand()), keeping big blocks whole for huge frames. */
static pfn_t __rmqueue_smallest(struct gmm_zone *z, unsigned order, enum migratetype mt)
{
	for (unsigned o = order; o <= MAX_ORDER; o++) {
		uint32_t pfn = z->free_area[o].free_list[mt];

		if (pfn == FRAME_NIL)
			continue;
		del_from_free_list(z, pfn, o);
		expand(z, pfn, order, o, mt);
		return pfn;
	}
	return GMM_PFN_NONE;
}

/* The kernel's fallbacks[]: which other types a type may borrow from. */
static const enum migratetype fallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] = {
	[MIGRATE_UNMOVABLE]   = { MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE },
	[MIGRATE_MOVABLE]     = { MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE },
	[MIGRATE_RECLAIMABLE] = { MIGRATE_UNMOVABLE,   MIGRATE_MOVABLE },
};

/* should_try_claim_block(): big enough requests, and every unmovable or
 * reclaimable one, try to take the whole pageblock so that unmovable
 * allocations cluster in few pageblocks instead of polluting many. */
static bool should_try_claim_block(unsigned order, enum migratetype start_mt)
{
	if (order >= pageblock_order)
		return true;
	return order >= pageblock_order / 2 || start_mt == MIGRATE_RECLAIMABLE ||
	       start_mt == MIGRATE_UNMOVABLE;
}

static int find_suitable_fallback(struct gmm_zone *z, unsigned order, enum migratetype mt)
{
	for (int i = 0; i < MIGRATE_PCPTYPES - 1; i++)
		if (z->free_area[order].free_list[fallbacks[mt][i]] != FRAME_NIL)
			return fallbacks[mt][i];
	return -1;
}

/* try_to_claim_block(): take the fallback block's whole pageblock for
 * start_mt if it is big, or if at least half of the pageblock is free or
 * compatible; then allocate from start_mt's own lists. */
static pfn_t try_to_claim_block(struct gmm_zone *z, pfn_t pfn, unsigned cur_order,
				unsigned order, enum migratetype start_mt)
{
	if (cur_order >= pageblock_order) {
		del_from_free_list(z, pfn, cur_order);
		change_pageblock_range(z, pfn, cur_order, start_mt);
		expand(z, pfn, order, cur_order, start_mt);
		zone_count(z, PAGEBLOCK_STEAL, 1);
		return pfn;
	}
	unsigned long free, movable, alike;
	enum migratetype block_mt = get_pageblock_migratetype(z, pfn);

	if (!prep_move_freepages_block(z, pfn, &free, &movable))
		return GMM_PFN_NONE;
	/* Allocated frames already compatible with start_mt count as
	 * claimable: movable ones (on an LRU) for a movable request, the
	 * non-movable rest of a movable block for the others. */
	if (start_mt == MIGRATE_MOVABLE)
		alike = movable;
	else if (block_mt == MIGRATE_MOVABLE)
		alike = pageblock_nr_pages - (free + movable);
	else
		alike = 0;
	if (free + alike < pageblock_nr_pages / 2)
		return GMM_PFN_NONE;
	move_freepages_block(z, pfn, start_mt);
	zone_count(z, PAGEBLOCK_STEAL, 1);
	return __rmqueue_smallest(z, order, start_mt);
}

/* __rmqueue_claim(): largest fallback block first (a big block stolen
 * whole leaves fewer mixed pageblocks behind). */
static pfn_t __rmqueue_claim(struct gmm_zone *z, unsigned order, enum migratetype start_mt)
{
	for (int o = MAX_ORDER; o >= (int)order; o--) {
		int fmt;
		pfn_t pfn;

		if (!should_try_claim_block(o, start_mt))
			break;
		fmt = find_suitable_fallback(z, o, start_mt);
		if (fmt < 0)
			continue;
		pfn = try_to_claim_block(z, z->free_area[o].free_list[fmt], o, order, start_mt);
		if (pfn != GMM_PFN_NONE)
			return pfn;
	}
	return GMM_PFN_NONE;
}

/* __rmqueue_steal(): borrow the smallest suitable fallback block without
 * changing any pageblock's type. */
static pfn_t __rmqueue_steal(struct gmm_zone *z, unsigned order, enum migratetype start_mt)
{
	for (unsigned o = order; o <= MAX_ORDER; o++) {
		int fmt = find_suitable_fallback(z, o, start_mt);

		if (fmt < 0)
			continue;
		uint32_t pfn = z->free_area[o].free_list[fmt];

		del_from_free_list(z, pfn, o);
		expand(z, pfn, order, o, fmt);
		return pfn;
	}
	return GMM_PFN_NONE;
}

/* __rmqueue(): own type first; then claim or steal from another type; a
 * high-priority request may finally dip into the highatomic reserve. */
pfn_t __rmqueue(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags)
{
	pfn_t pfn = GMM_PFN_NONE;

	lockdep_assert_held(&z->lock);
	if (alloc_flags & ALLOC_HIGHATOMIC)
		pfn = __rmqueue_smallest(z, order, MIGRATE_HIGHATOMIC);
	if (pfn == GMM_PFN_NONE)
		pfn = __rmqueue_smallest(z, order, mt);
	if (pfn == GMM_PFN_NONE && mt < MIGRATE_PCPTYPES) {
		pfn = __rmqueue_claim(z, order, mt);
		if (pfn == GMM_PFN_NONE)
			pfn = __rmqueue_steal(z, order, mt);
		if (pfn != GMM_PFN_NONE)
			zone_count(z, PGALLOC_FALLBACK, 1);
	}
	if (pfn == GMM_PFN_NONE && (alloc_flags & (ALLOC_MIN_RESERVE | ALLOC_NO_WATERMARKS)))
		pfn = __rmqueue_smallest(z, order, MIGRATE_HIGHATOMIC);
	return pfn;
}

static inline bool migratetype_is_mergeable(int mt)
{
	return mt < MIGRATE_PCPTYPES;
}

/* Is the block at buddy a free buddy of this order inside the zone
 * (page_is_buddy())? */
static bool frame_is_buddy(struct gmm_zone *z, pfn_t buddy, unsigned order)
{
	struct gmm_frame *bf;

	if (buddy < z->start_pfn || buddy + (1UL << order) > z->start_pfn + z->spanned_pages)
		return false;
	bf = zframe(z, buddy);
	return frame_test_buddy(bf) && bf->order == order;
}

/*
 * __free_one_page(): merge the block with its buddy while the buddy is a
 * free block of the same order, then link the result. Above pageblock
 * order the buddy may have another type: mergeable types are merged and
 * take this block's type; isolated or highatomic pageblocks stay apart.
 */
void __free_one_page(struct gmm_zone *z, pfn_t pfn, unsigned order)
{
	enum migratetype mt = get_pageblock_migratetype(z, pfn);

	lockdep_assert_held(&z->lock);
	if (order > pageblock_order)
		change_pageblock_range(z, pfn, order, mt);
	while (order < MAX_ORDER) {
		pfn_t buddy = pfn ^ (1UL << order);
		enum migratetype bmt;

		if (!frame_is_buddy(z, buddy, order))
			break;
		bmt = zframe(z, buddy)->mt;
		if (bmt != mt && (!migratetype_is_mergeable(mt) || !migratetype_is_mergeable(bmt)))
			break;
		del_from_free_list(z, buddy, order);
		if (bmt != mt)
			change_pageblock_range(z, buddy, order, mt);
		pfn &= buddy;
		order++;
		zone_count(z, BUDDY_MERGE, 1);
	}
	add_to_free_list(z, pfn, order, mt);
}

/*
 * reserve_highatomic_pageblock(): a high-order atomic allocation just
 * succeeded; keep its pageblock for more of them, up to ~1% of the zone,
 * so GFP_ATOMIC huge requests survive fragmentation.
 */
void reserve_highatomic_pageblock(struct gmm_zone *z, pfn_t pfn)
{
	enum migratetype mt;

	if (z->nr_reserved_highatomic >= z->max_highatomic)
		return;
	gmm_lock(&z->lock);
	mt = get_pageblock_migratetype(z, pfn);
	if (z->nr_reserved_highatomic < z->max_highatomic && migratetype_is_mergeable(mt)) {
		z->nr_reserved_highatomic += pageblock_nr_pages;
		move_freepages_block(z, pfn, MIGRATE_HIGHATOMIC);
		zone_count(z, HIGHATOMIC_RESERVE, 1);
	}
	gmm_unlock(&z->lock);
}

/*
 * unreserve_highatomic_pageblock(): under pressure, give one reserved
 * pageblock with free frames back to MIGRATE_MOVABLE before failing or
 * reclaiming. Returns true if one was released.
 */
bool unreserve_highatomic_pageblock(struct gmm_zone *z)
{
	bool done = false;

	if (!z->nr_reserved_highatomic)
		return false;
	gmm_lock(&z->lock);
	for (unsigned o = 0; o <= MAX_ORDER && !done; o++) {
		uint32_t pfn = z->free_area[o].free_list[MIGRATE_HIGHATOMIC];

		if (pfn == FRAME_NIL)
			continue;
		if (z->nr_reserved_highatomic >= pageblock_nr_pages)
			z->nr_reserved_highatomic -= pageblock_nr_pages;
		else
			z->nr_reserved_highatomic = 0;
		move_freepages_block(z, pfn, MIGRATE_MOVABLE);
		zone_count(z, HIGHATOMIC_UNRESERVE, 1);
		done = true;
	}
	gmm_unlock(&z->lock);
	return done;
}

pfn_t buddy_alloc(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags)
{
	pfn_t pfn;

	if (order > MAX_ORDER)
		return GMM_PFN_NONE;
	gmm_lock(&z->lock);
	pfn = __rmqueue(z, order, mt, alloc_flags);
	gmm_unlock(&z->lock);
	return pfn;
}

void buddy_free(struct gmm_zone *z, pfn_t pfn, unsigned order)
{
	gmm_lock(&z->lock);
	__free_one_page(z, pfn, order);
	gmm_unlock(&z->lock);
}
