/*
 * GFP flags and migratetypes: how a caller asks for frames, as the kernel's
 * gfp_t does. The migratetype an allocation wants is derived from the gfp
 * (gfp_migratetype()), so callers say what the memory is for, not where it
 * goes.
 */
#ifndef GMM_GUESTMM_GFP_H
#define GMM_GUESTMM_GFP_H

#include <stdint.h>

typedef uint32_t gfp_t;

#define __GFP_MOVABLE          (1u << 0)  /* frame can be migrated (guest RAM): MIGRATE_MOVABLE, ZONE_MOVABLE allowed */
#define __GFP_RECLAIMABLE      (1u << 1)  /* freeable on demand (caches): MIGRATE_RECLAIMABLE */
#define __GFP_HIGH             (1u << 2)  /* important: may dip to half of min (ALLOC_MIN_RESERVE), highatomic reserve */
#define __GFP_DIRECT_RECLAIM   (1u << 3)  /* caller may run direct reclaim (hooks->direct_reclaim) */
#define __GFP_KSWAPD_RECLAIM   (1u << 4)  /* wake background reclaim when below low (hooks->wake_kswapd) */
#define __GFP_NOFAIL           (1u << 5)  /* retry; finally ignore watermarks. Fails only on a truly empty pool */
#define __GFP_NOWARN           (1u << 6)  /* no failure report on stderr */
#define __GFP_ZERO             (1u << 7)  /* zero the frames (needs pool base) */
#define __GFP_THISNODE         (1u << 8)  /* no fallback to other nodes */
#define __GFP_COMP             (1u << 9)  /* accepted for symmetry: every order > 0 block is compound here */

#define __GFP_RECLAIM          (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
#define GFP_ATOMIC             (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT             (__GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL             (__GFP_RECLAIM)
#define GFP_GUEST              (__GFP_RECLAIM | __GFP_MOVABLE)   /* guest RAM: GFP_HIGHUSER_MOVABLE */
#define GFP_TRANSHUGE_LIGHT    (__GFP_MOVABLE | __GFP_NOWARN)    /* THP: no reclaim, fall back to 4 KiB */

/* Migratetypes, as in the kernel's mmzone.h. The first three are the
 * pcp types (MIGRATE_PCPTYPES); HIGHATOMIC is a reserve for high-order
 * __GFP_HIGH allocations; ISOLATE keeps free frames off the allocator while
 * compaction or alloc_contig works on a range. */
enum migratetype {
	MIGRATE_UNMOVABLE,
	MIGRATE_MOVABLE,
	MIGRATE_RECLAIMABLE,
	MIGRATE_PCPTYPES,
	MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES,
	MIGRATE_ISOLATE,
	MIGRATE_TYPES
};

extern const char *const migratetype_names[MIGRATE_TYPES];

/* gfp_migratetype(): MOVABLE wins over RECLAIMABLE, else UNMOVABLE. */
static inline enum migratetype gfp_migratetype(gfp_t gfp)
{
	if (gfp & __GFP_MOVABLE)
		return MIGRATE_MOVABLE;
	if (gfp & __GFP_RECLAIMABLE)
		return MIGRATE_RECLAIMABLE;
	return MIGRATE_UNMOVABLE;
}

#endif
