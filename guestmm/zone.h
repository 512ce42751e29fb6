/*
 * Zones, nodes, watermarks and pageblocks: the kernel's mmzone.h.
 *
 * The pool's pfn range [0, nr_frames) is split into nodes (contiguous pfn
 * ranges, each MAX_ORDER-block aligned), and each node into ZONE_NORMAL and
 * an optional ZONE_MOVABLE at its top (only __GFP_MOVABLE allocations may
 * use it, so it stays compactable for huge frames). Each zone has its own
 * buddy free lists, per-cpu lists, watermarks and pageblock migratetypes.
 */
#ifndef GMM_GUESTMM_ZONE_H
#define GMM_GUESTMM_ZONE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/frame.h"
#include "guestmm/gfp.h"
#include "guestmm/lock.h"
#include "guestmm/vmstat.h"

#define MAX_ORDER              10                    /* inclusive: 4 MiB blocks */
#define NR_PAGE_ORDERS         (MAX_ORDER + 1)
#define pageblock_order        9                     /* 2 MiB: the THP size */
#define pageblock_nr_pages     (1UL << pageblock_order)
#define GMM_MAX_NODES          8
#define GMM_NUMA_NO_NODE       (-1)

enum zone_type {
	ZONE_NORMAL,
	ZONE_MOVABLE,
	MAX_NR_ZONES
};

extern const char *const zone_names[MAX_NR_ZONES];

enum zone_watermarks {
	WMARK_MIN,
	WMARK_LOW,
	WMARK_HIGH,
	NR_WMARK,
	WMARK_NONE = NR_WMARK,   /* "no watermark crossed" in results */
};

/*
 * struct free_area: one per order. free_list[] heads are pfns of the first
 * block, the blocks linked through frame->lru_next/lru_prev.
 * Locking: zone->lock for writes; nr_free is also read unlocked by
 * zone_watermark_ok() (a stale value only makes the check approximate, as
 * in the kernel), hence relaxed atomics.
 */
struct free_area {
	uint32_t free_list[MIGRATE_TYPES];
	_Atomic unsigned long nr_free;                 /* blocks of this order, all types */
	_Atomic unsigned long nr_free_mt[MIGRATE_TYPES]; /* blocks per type (pagetypeinfo) */
};

/*
 * struct per_cpu_pages: order-0 frames kept per cpu so the fault path takes
 * no zone lock. One list per pcp migratetype, singly linked through
 * frame->lru_next. Locking: lock protects everything below it; the cpu
 * index only picks which pcp a thread uses (sched_getcpu()), so a thread
 * migrating between cpus is harmless: it just takes another pcp's lock.
 * Lock order: pcp lock, then zone lock (refill and drain nest them).
 */
struct gmm_pcp {
	struct gmm_lock lock;
	int count;                          /* frames on all lists */
	int high;                           /* drain when count reaches high */
	int batch;                          /* frames moved per refill/drain */
	uint32_t lists[MIGRATE_PCPTYPES];
	struct gmm_vm_events ev;            /* counted under lock */
} __attribute__((aligned(64)));

struct gmm_pool;

/*
 * struct zone. Locking:
 *   lock protects free_area[] lists, pageblock_mt[], nr_reserved_highatomic,
 *   and ev; free_pages is written under lock and read unlocked.
 *   wmark[], spans, managed, pcp pointers: set at init, read unlocked.
 */
struct gmm_zone {
	struct gmm_lock lock;
	struct free_area free_area[NR_PAGE_ORDERS];
	_Atomic long free_pages;            /* NR_FREE_PAGES: frames on free lists */
	unsigned long nr_reserved_highatomic; /* frames in HIGHATOMIC pageblocks */
	unsigned long max_highatomic;       /* cap on the reserve: ~1% of managed */
	_Atomic unsigned long nr_poisoned;  /* frames taken out of use (debug) */
	struct gmm_vm_events ev;            /* counted under lock */

	struct gmm_pool *pool;
	int id;                             /* index in pool->zones[] */
	int nid;
	enum zone_type type;
	const char *name;
	pfn_t start_pfn;
	unsigned long spanned_pages;
	unsigned long present_pages;
	unsigned long managed_pages;
	unsigned long wmark[NR_WMARK];
	unsigned long lowmem_reserve[MAX_NR_ZONES]; /* "protection" in zoneinfo */
	uint8_t *pageblock_mt;              /* one migratetype per pageblock */
	struct gmm_pcp *pcp;                /* pool->nr_cpus entries */
};

/*
 * struct pglist_data: a node. zonelist is the kernel's node_zonelists:
 * every zone of every node, nearest node first, highest zone first within
 * a node; allocation walks it and skips zones the gfp may not use.
 */
struct gmm_node {
	int nid;
	pfn_t start_pfn;
	unsigned long spanned_pages;
	struct gmm_zone *zones[MAX_NR_ZONES];       /* NULL when empty */
	int nr_zonelist;
	struct gmm_zone *zonelist[GMM_MAX_NODES * MAX_NR_ZONES];
};

static inline unsigned long wmark_pages(const struct gmm_zone *z, enum zone_watermarks w)
{
	return z->wmark[w];
}

static inline long zone_free_pages(const struct gmm_zone *z)
{
	return atomic_load_explicit(&z->free_pages, memory_order_relaxed);
}

static inline bool zone_spans_pfn(const struct gmm_zone *z, pfn_t pfn)
{
	return pfn >= z->start_pfn && pfn < z->start_pfn + z->spanned_pages;
}

/* Allocation flags derived from gfp (mm/internal.h ALLOC_*). */
#define ALLOC_WMARK_MIN        WMARK_MIN
#define ALLOC_WMARK_LOW        WMARK_LOW
#define ALLOC_WMARK_HIGH       WMARK_HIGH
#define ALLOC_NO_WATERMARKS    0x04   /* __GFP_NOFAIL last resort */
#define ALLOC_WMARK_MASK       (ALLOC_NO_WATERMARKS - 1)
#define ALLOC_MIN_RESERVE      0x08   /* __GFP_HIGH: may use half of min */
#define ALLOC_HIGHATOMIC       0x10   /* __GFP_HIGH, order > 0: may use the highatomic reserve */
#define ALLOC_KSWAPD           0x20   /* wake kswapd when below low */

/*
 * __zone_watermark_ok(): would zone z still have more than `mark` free
 * frames after this order-`order` allocation, counting only blocks of
 * order >= `order` for high-order requests? Reads unlocked: the answer is
 * a hint, as in the kernel.
 */
bool zone_watermark_ok(struct gmm_zone *z, unsigned order, unsigned long mark,
		       int alloc_flags);

/* zone_watermark_fast(): the order-0 common case inline (free well above
 * the mark, no highatomic reserve to discount), else the full check. */
static inline bool zone_watermark_fast(struct gmm_zone *z, unsigned order, unsigned long mark,
				       int alloc_flags)
{
	if (order == 0 && !z->nr_reserved_highatomic && zone_free_pages(z) > (long)mark)
		return true;
	return zone_watermark_ok(z, order, mark, alloc_flags);
}

/* zone_watermark_ok_safe()-like check kswapd uses: free above high? */
bool zone_balanced(struct gmm_zone *z, unsigned order);

/* The lowest watermark the zone's free frames are below now (WMARK_NONE
 * if above high). */
enum zone_watermarks zone_wmark_crossed(struct gmm_zone *z);

/* setup_per_zone_wmarks(): split min_free_frames between zones by managed
 * size; low = min + max(min/4, managed * scale / 10000), high = low + same. */
void setup_per_zone_wmarks(struct gmm_pool *pool, unsigned long min_free_frames,
			   unsigned watermark_scale_factor);

/* Pageblocks (pageblock.c): one migratetype per 2 MiB, set under the zone
 * lock, read anywhere (a stale read only picks another pcp list). */
static inline unsigned long pageblock_index(const struct gmm_zone *z, pfn_t pfn)
{
	return (pfn - (z->start_pfn & ~(pageblock_nr_pages - 1))) >> pageblock_order;
}

static inline enum migratetype get_pageblock_migratetype(const struct gmm_zone *z, pfn_t pfn)
{
	return (enum migratetype)__atomic_load_n(&z->pageblock_mt[pageblock_index(z, pfn)],
						 __ATOMIC_RELAXED);
}

void set_pageblock_migratetype(struct gmm_zone *z, pfn_t pfn, enum migratetype mt);

#endif
