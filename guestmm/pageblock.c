/*
 * Pageblocks: the 2 MiB unit the buddy groups by mobility
 * (mm/page_alloc.c pageblock flags, move_freepages_block()). Each zone
 * keeps one migratetype byte per pageblock. Written under the zone lock;
 * read unlocked by the pcp free path, where a stale type only puts the frame
 * on another pcp list (it is re-read when the frame reaches the buddy).
 */
#include "guestmm/internal.h"

void set_pageblock_migratetype(struct gmm_zone *z, pfn_t pfn, enum migratetype mt)
{
	__atomic_store_n(&z->pageblock_mt[pageblock_index(z, pfn)], (uint8_t)mt, __ATOMIC_RELAXED);
}

/* change_pageblock_range(): every pageblock a block of this order covers. */
void change_pageblock_range(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt)
{
	unsigned long nr = order > pageblock_order ? 1UL << (order - pageblock_order) : 1;

	lockdep_assert_held(&z->lock);
	for (unsigned long i = 0; i < nr; i++)
		set_pageblock_migratetype(z, pfn + i * pageblock_nr_pages, mt);
}

static inline bool pageblock_in_zone(struct gmm_zone *z, pfn_t start)
{
	return start >= z->start_pfn &&
	       start + pageblock_nr_pages <= z->start_pfn + z->spanned_pages;
}

bool prep_move_freepages_block(struct gmm_zone *z, pfn_t pfn, unsigned long *free,
			       unsigned long *movable)
{
	pfn_t start = pfn & ~(pageblock_nr_pages - 1);
	struct gmm_frame *frames = z->pool->frames;

	lockdep_assert_held(&z->lock);
	*free = *movable = 0;
	if (!pageblock_in_zone(z, start))
		return false;
	for (pfn_t p = start; p < start + pageblock_nr_pages;) {
		struct gmm_frame *f = &frames[p];

		if (frame_test_buddy(f)) {
			*free += 1UL << f->order;
			p += 1UL << f->order;
			continue;
		}
		if (frame_test_lru(f))
			*movable += 1;
		p++;
	}
	return true;
}

/* A free block larger than a pageblock that contains pfn, or NONE. */
static pfn_t enclosing_large_buddy(struct gmm_zone *z, pfn_t pfn)
{
	for (unsigned o = pageblock_order + 1; o <= MAX_ORDER; o++) {
		pfn_t head = pfn & ~((1UL << o) - 1);
		struct gmm_frame *f;

		if (head < z->start_pfn)
			break;
		f = &z->pool->frames[head];
		if (frame_test_buddy(f) && f->order >= o)
			return head;
	}
	return GMM_PFN_NONE;
}

unsigned long move_freepages_block(struct gmm_zone *z, pfn_t pfn, enum migratetype mt)
{
	pfn_t start = pfn & ~(pageblock_nr_pages - 1);
	pfn_t end = start + pageblock_nr_pages;
	struct gmm_frame *frames = z->pool->frames;
	unsigned long moved = 0;
	pfn_t big;

	lockdep_assert_held(&z->lock);
	big = enclosing_large_buddy(z, start);
	if (big != GMM_PFN_NONE) {
		unsigned order = frames[big].order;

		change_pageblock_range(z, big, order, mt);
		move_to_free_list(z, big, order, mt);
		return 1UL << order;
	}
	set_pageblock_migratetype(z, start, mt);
	if (start < z->start_pfn)
		start = z->start_pfn;
	if (end > z->start_pfn + z->spanned_pages)
		end = z->start_pfn + z->spanned_pages;
	for (pfn_t p = start; p < end;) {
		struct gmm_frame *f = &frames[p];

		if (!frame_test_buddy(f)) {
			p++;
			continue;
		}
		if (f->mt != mt)
			move_to_free_list(z, p, f->order, mt);
		moved += 1UL << f->order;
		p += 1UL << f->order;
	}
	return moved;
}
