/*
 * Zone watermarks (mm/page_alloc.c: __zone_watermark_ok,
 * setup_per_zone_wmarks). The watermarks decide who may take the last
 * free frames: below low kswapd is woken, below min only __GFP_HIGH (down
 * to half of min) and __GFP_NOFAIL's last try may allocate, and kswapd
 * works until free is above high again.
 */
#include <math.h>

#include "guestmm/internal.h"

const char *const zone_names[MAX_NR_ZONES] = {
	[ZONE_NORMAL]  = "Normal",
	[ZONE_MOVABLE] = "Movable",
};

const char *const migratetype_names[MIGRATE_TYPES] = {
	[MIGRATE_UNMOVABLE]   = "Unmovable",
	[MIGRATE_MOVABLE]     = "Movable",
	[MIGRATE_RECLAIMABLE] = "Reclaimable",
	[MIGRATE_HIGHATOMIC]  = "HighAtomic",
	[MIGRATE_ISOLATE]     = "Isolate",
};

/* Free frames sitting in highatomic pageblocks: unusable for ordinary
 * requests (__zone_watermark_unusable_free()). */
static long zone_free_highatomic(struct gmm_zone *z)
{
	long n = 0;

	if (!z->nr_reserved_highatomic)
		return 0;
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		n += (long)atomic_load_explicit(&z->free_area[o].nr_free_mt[MIGRATE_HIGHATOMIC],
						memory_order_relaxed) << o;
	return n;
}

static bool free_area_has_type(struct free_area *a, int mt)
{
	return atomic_load_explicit(&a->nr_free_mt[mt], memory_order_relaxed) != 0;
}

bool zone_watermark_ok(struct gmm_zone *z, unsigned order, unsigned long mark, int alloc_flags)
{
	long min = (long)mark;
	long free = zone_free_pages(z) - ((1L << order) - 1);

	if (alloc_flags & ALLOC_MIN_RESERVE)
		min -= min / 2;
	if (!(alloc_flags & (ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC)))
		free -= zone_free_highatomic(z);
	if (free <= min)
		return false;
	if (!order)
		return true;
	/* High order: is a block of order >= order actually free? */
	for (unsigned o = order; o <= MAX_ORDER; o++) {
		struct free_area *a = &z->free_area[o];

		if (!atomic_load_explicit(&a->nr_free, memory_order_relaxed))
			continue;
		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			if (free_area_has_type(a, mt))
				return true;
		if ((alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_MIN_RESERVE)) &&
		    free_area_has_type(a, MIGRATE_HIGHATOMIC))
			return true;
	}
	return false;
}

bool zone_balanced(struct gmm_zone *z, unsigned order)
{
	return zone_watermark_ok(z, order, wmark_pages(z, WMARK_HIGH), 0);
}

enum zone_watermarks zone_wmark_crossed(struct gmm_zone *z)
{
	long free = zone_free_pages(z);

	if (free < (long)z->wmark[WMARK_MIN])
		return WMARK_MIN;
	if (free < (long)z->wmark[WMARK_LOW])
		return WMARK_LOW;
	if (free < (long)z->wmark[WMARK_HIGH])
		return WMARK_HIGH;
	return WMARK_NONE;
}

/* The kernel's default min_free_kbytes = sqrt(lowmem_kbytes * 16), clamped
 * to [128 KiB, 256 MiB]; in frames. */
static unsigned long default_min_free_frames(uint64_t nr_frames)
{
	double kb = sqrt((double)nr_frames * 4.0 * 16.0);

	if (kb < 128)
		kb = 128;
	if (kb > 262144)
		kb = 262144;
	return (unsigned long)kb / 4;
}

void setup_per_zone_wmarks(struct gmm_pool *pool, unsigned long min_free_frames,
			   unsigned watermark_scale_factor)
{
	unsigned long total = 0;

	if (!min_free_frames)
		min_free_frames = default_min_free_frames(pool->nr_frames);
	if (!watermark_scale_factor)
		watermark_scale_factor = 10;
	for (int i = 0; i < pool->nr_zones; i++)
		total += pool->zones[i].managed_pages;
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];
		unsigned long min = total ? (unsigned long)((unsigned __int128)min_free_frames *
							    z->managed_pages / total) : 0;
		unsigned long gap = (unsigned long)((unsigned __int128)z->managed_pages *
						    watermark_scale_factor / 10000);

		if (gap < min / 4)
			gap = min / 4;
		z->wmark[WMARK_MIN] = min;
		z->wmark[WMARK_LOW] = min + gap;
		z->wmark[WMARK_HIGH] = min + 2 * gap;
		/* Highatomic reserve cap: 1% of the zone plus one pageblock,
		 * as reserve_highatomic_pageblock() uses. */
		z->max_highatomic = z->managed_pages / 100 + pageblock_nr_pages;
	}
}
