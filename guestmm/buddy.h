/*
 * The frame allocator: the kernel's page allocator (mm/page_alloc.c).
 *
 * gmm_alloc_frames() hands out a naturally aligned block of 1 << order
 * frames (order 0..MAX_ORDER; order 9 is a 2 MiB huge frame). Order-0
 * requests go through the per-cpu lists (no zone lock in the common case);
 * the rest take the zone lock and the buddy free lists. Zones are tried in
 * zonelist order (preferred node first, then by distance) against the low
 * watermark; then kswapd is woken, the min watermark tried, direct reclaim
 * run (hooks), as __alloc_pages_slowpath() does.
 *
 * The block comes back with refcount 1 on its head, FRAME_head and tail
 * links set when order > 0, everything else clear.
 */
#ifndef GMM_GUESTMM_BUDDY_H
#define GMM_GUESTMM_BUDDY_H

#include <stdint.h>

#include "guestmm/frame.h"
#include "guestmm/gfp.h"
#include "guestmm/pool.h"
#include "guestmm/zone.h"

/* Per-call inputs and results, like the kernel's alloc_context. */
struct gmm_alloc_ctl {
	/* in */
	unsigned order;
	gfp_t gfp;
	int nid;                     /* preferred node, GMM_NUMA_NO_NODE = node 0 */
	uint64_t nodemask;           /* allowed nodes (bit per nid); 0 = all */
	/* out */
	pfn_t pfn;                   /* GMM_PFN_NONE on failure */
	int zone_id;                 /* zone that served it, -1 on failure */
	enum zone_watermarks wmark;  /* lowest watermark the serving zone is below
				      * after the allocation, or on failure the
				      * one that refused (WMARK_NONE: above high) */
	bool woke_kswapd;
	bool direct_reclaimed;
};

/* Returns 0 with ac->pfn set, or -ENOMEM (-EINVAL for a bad order). */
int gmm_alloc_frames_ctl(struct gmm_pool *pool, struct gmm_alloc_ctl *ac);

/* alloc_pages_node(): pfn of the head, or GMM_PFN_NONE. */
pfn_t gmm_alloc_frames(struct gmm_pool *pool, unsigned order, gfp_t gfp, int nid);

/*
 * __free_pages(): drop the allocation's reference on the head; the block
 * goes back when the last reference goes. Order must be the allocated
 * order. Misuse is detected, counted and refused, never acted on:
 *   -EALREADY double free (the frame is free in the buddy or a pcp list)
 *   -EINVAL   not allocated, a tail frame, wrong order, pfn out of range
 */
int gmm_free_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order);

/* split_page(): an allocated order-n block (refcount 1) becomes 1 << n
 * order-0 allocations freed one by one. -EINVAL if pfn is not such a block. */
int gmm_split_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order);
/* The inverse, for collapsing in place (khugepaged finding a guest's 512
 * frames already contiguous): 1 << order order-0 allocations, each with
 * one reference, aligned, become one order-n block with its head's
 * reference. -EINVAL (nothing changed) unless every frame is such. */
int gmm_merge_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order);

/* drain_all_pages(): return every pcp frame to the buddy (compaction,
 * memory offline, tests). */
void gmm_drain_all_pages(struct gmm_pool *pool);

/* Frames currently on the pcp lists of this zone. */
unsigned long zone_pcp_count(struct gmm_zone *z);

/*
 * Raw buddy operations on one zone, taking its lock: no pcp, watermarks,
 * prep or debug checks. For the page allocator itself and future
 * compaction/alloc_contig code.
 *   buddy_alloc(): __rmqueue(): smallest free block >= order of type mt,
 *     falling back to other types. GMM_PFN_NONE if the zone is empty.
 *   buddy_free(): __free_one_page(): merge with free buddies, link.
 */
pfn_t buddy_alloc(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags);
void buddy_free(struct gmm_zone *z, pfn_t pfn, unsigned order);

#endif
