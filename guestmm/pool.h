/*
 * The host frame pool: nodes, zones, the frame descriptor array, the
 * optional backing memory, debug mode and the hooks later mechanisms
 * (reclaim, OOM) plug into. The kernel's equivalent is the set of
 * pglist_data + mem_map that memblock hands to the buddy at boot.
 *
 * The library never knows where frames live unless it is told: `base`,
 * when set, is the host address of pfn 0 (the VMM passes the mmap of its
 * memfd pool, tests an anonymous mmap) and is needed for __GFP_ZERO,
 * debug poisoning and the slab allocator. Without it the pool only hands
 * out pfns.
 */
#ifndef GMM_GUESTMM_POOL_H
#define GMM_GUESTMM_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/rseq.h>

#include "guestmm/frame.h"
#include "guestmm/gfp.h"
#include "guestmm/vmstat.h"
#include "guestmm/zone.h"

struct gmm_pool;

/*
 * Hooks a later issue fills in. All optional; called with no guestmm lock
 * held, from the allocating thread.
 *   wake_kswapd: an allocation found node nid below its low watermark
 *     (wakeup_kswapd()); must not block.
 *   direct_reclaim: free some frames now for an order-`order` request
 *     (__alloc_pages_direct_reclaim()); returns frames reclaimed (0: no
 *     progress, the allocation then fails unless __GFP_NOFAIL).
 *   corruption: debug mode found damage (poison overwritten, bad free);
 *     default is one line on stderr.
 *   migrate_frame: move the allocated block at src (order 0 or 9, in use
 *     by whoever owns it) into dst, a free block of the same order the
 *     caller (compaction) took from the buddy and hands over (refcount 1).
 *     The owner copies, remaps its user to dst, and frees src itself.
 *     Returns 0 (done: src freed, dst the owner's), -EAGAIN (busy right
 *     now: pinned, under I/O, raced with a free; nothing changed, dst
 *     still the caller's to free), -ENOENT (not the owner's / not
 *     migratable). Called with no guestmm lock held, from the compacting
 *     thread (kcompactd, a compact request, or an allocating thread's
 *     direct compaction). Compaction counts pgmigrate_success/fail for
 *     these calls itself (guestmm/compaction.h).
 */
struct gmm_mm_hooks {
	void (*wake_kswapd)(struct gmm_pool *pool, int nid, unsigned order, void *ctx);
	unsigned long (*direct_reclaim)(struct gmm_pool *pool, int nid, unsigned order,
					gfp_t gfp, void *ctx);
	void (*corruption)(struct gmm_pool *pool, pfn_t pfn, const char *what, void *ctx);
	int (*migrate_frame)(struct gmm_pool *pool, pfn_t src, pfn_t dst, unsigned order, void *ctx);
	void *ctx;
};

struct gmm_pool_config {
	uint64_t nr_frames;              /* pool size in 4 KiB frames (< 2^32) */
	/* descriptors past the zones, pfns [nr_frames, nr_frames + this):
	 * frames the caller manages itself, never on a buddy list (the VMM's
	 * home frames, docs/fault-path.md); zone_id 0, zeroed until used */
	uint64_t nr_outside_frames;
	int nr_nodes;                    /* 0 = 1; each node a contiguous pfn range */
	unsigned movable_percent;        /* share of each node given to ZONE_MOVABLE (0 = none) */
	uint64_t min_free_frames;        /* min_free_kbytes / 4; 0 = kernel-like sqrt rule */
	unsigned watermark_scale_factor; /* in 1/10000 of managed; 0 = 10 (the kernel default) */
	int nr_cpus;                     /* pcp sets; 0 = configured cpus */
	int pcp_batch;                   /* 0 = derived from zone size (<= 63) */
	int pcp_high;                    /* 0 = 4 * batch */
	bool debug;                      /* poison free frames, check on allocation */
	/* node_distance(): SLIT-style, 10 = local; all zero = 10 + 10 * |a - b| */
	uint8_t distance[GMM_MAX_NODES][GMM_MAX_NODES];
	void *base;                      /* host address of pfn 0, or NULL */
	const struct gmm_mm_hooks *hooks;
};

struct gmm_kmem_cache;
#define GMM_KMALLOC_CLASSES 13       /* 8..8192 plus 96 and 192 */

/*
 * Locking: everything here is set by gmm_pool_create() and read-only
 * afterwards, except cpu_events (relaxed atomics, one set per cpu),
 * the zones (their own locks) and the slab cache list (slab_lock).
 */
struct gmm_pool {
	struct gmm_frame *frames;        /* nr_desc_frames descriptors, GMM_FRAME_ARRAY_ALIGN aligned */
	void *frames_map;                /* the mapping frames sits in */
	size_t frames_map_bytes;
	uint64_t nr_frames;              /* the buddy's: [0, nr_frames) */
	uint64_t nr_desc_frames;         /* with the frames outside the zones after them */
	char *base;                      /* may be NULL */
	bool debug;
	int nr_cpus;
	int nr_nodes;
	int nr_zones;
	uint8_t distance[GMM_MAX_NODES][GMM_MAX_NODES]; /* node_distance(a, b) */
	struct gmm_node nodes[GMM_MAX_NODES];
	struct gmm_zone *zones;          /* nr_zones, node-major */
	struct gmm_mm_hooks hooks;
	struct gmm_vm_events *cpu_events; /* nr_cpus sets, counted with atomics */
	_Atomic uint64_t *poisoned;      /* debug: bit per frame, poisoned while free */

	pthread_mutex_t slab_lock;       /* protects the cache list */
	struct gmm_kmem_cache *caches;   /* all caches, linked by ->next */
	struct gmm_kmem_cache *kmalloc_caches[GMM_KMALLOC_CLASSES];
};

/* Build a pool, every frame free in the buddy. Returns -errno (-EINVAL
 * names nothing: callers validate config first; -ENOMEM). */
int gmm_pool_create(const struct gmm_pool_config *cfg, struct gmm_pool **out);
/* Destroy caches and the pool; frames still allocated are simply forgotten. */
void gmm_pool_destroy(struct gmm_pool *pool);

static inline struct gmm_frame *pfn_to_frame(const struct gmm_pool *pool, pfn_t pfn)
{
	return &pool->frames[pfn];
}

static inline pfn_t frame_to_pfn(const struct gmm_pool *pool, const struct gmm_frame *f)
{
	return (pfn_t)(f - pool->frames);
}

static inline bool pfn_valid(const struct gmm_pool *pool, pfn_t pfn)
{
	return pfn < pool->nr_frames;
}

/* pfn has a descriptor: a frame of the zones or one outside them. */
static inline bool pfn_has_desc(const struct gmm_pool *pool, pfn_t pfn)
{
	return pfn < pool->nr_desc_frames;
}

static inline struct gmm_zone *frame_zone(const struct gmm_pool *pool, const struct gmm_frame *f)
{
	return &pool->zones[f->zone_id];
}

static inline int frame_nid(const struct gmm_pool *pool, const struct gmm_frame *f)
{
	return frame_zone(pool, f)->nid;
}

/* Host address of a frame's memory, NULL when the pool has no base. */
static inline void *frame_mem(const struct gmm_pool *pool, pfn_t pfn)
{
	return pool->base ? pool->base + (pfn << GMM_FRAME_SHIFT) : NULL;
}

/* The frame whose memory holds host address p (slab objects), or NULL. */
static inline struct gmm_frame *virt_to_frame(const struct gmm_pool *pool, const void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)pool->base;

	if (!pool->base || (uintptr_t)p < (uintptr_t)pool->base ||
	    (off >> GMM_FRAME_SHIFT) >= pool->nr_frames)
		return NULL;
	return &pool->frames[off >> GMM_FRAME_SHIFT];
}

/* Which per-cpu set this thread uses: the cpu id the kernel keeps in the
 * thread's rseq area (what glibc's sched_getcpu() reads, without the
 * call), folded into [0, nr_cpus). Falls back to sched_getcpu() when
 * rseq is not registered. */
static inline int gmm_this_cpu(const struct gmm_pool *pool)
{
	int cpu;

	if (__builtin_expect(__rseq_size != 0, 1))
		cpu = (int)__atomic_load_n((const uint32_t *)((const char *)__builtin_thread_pointer() +
							       __rseq_offset + 4), __ATOMIC_RELAXED);
	else
		cpu = sched_getcpu();
	if (__builtin_expect((unsigned)cpu >= (unsigned)pool->nr_cpus, 0))
		cpu = cpu < 0 ? 0 : cpu % pool->nr_cpus;
	return cpu;
}

/* Total frames on buddy free lists (NR_FREE_PAGES), pcp lists excluded. */
uint64_t gmm_pool_free_frames(struct gmm_pool *pool);
/* Frames on pcp lists. */
uint64_t gmm_pool_pcp_frames(struct gmm_pool *pool);

/*
 * Text views, kernel formats: "buddyinfo", "pagetypeinfo", "zoneinfo",
 * "slabinfo", "vmstat", "extfrag_index", "unusable_index".
 * gmm_pool_show() returns 0, or -ENOENT for an unknown name.
 */
extern const char *const gmm_pool_show_names[];   /* NULL-terminated */
int gmm_pool_show(struct gmm_pool *pool, const char *name, FILE *out);
int gmm_show_buddyinfo(struct gmm_pool *pool, FILE *out);
int gmm_show_pagetypeinfo(struct gmm_pool *pool, FILE *out);
int gmm_show_zoneinfo(struct gmm_pool *pool, FILE *out);
int gmm_show_extfrag_index(struct gmm_pool *pool, FILE *out);
int gmm_show_unusable_index(struct gmm_pool *pool, FILE *out);

/* Kernel's fragmentation indices in thousandths (extfrag debugfs):
 * unusable free space index, and the extfrag index (-1000 when an
 * order-`order` block is free, 0 when failure would be for lack of memory,
 * towards 1000 when it would be for fragmentation). */
int zone_unusable_index(struct gmm_zone *z, unsigned order);
int zone_fragmentation_index(struct gmm_zone *z, unsigned order);

/*
 * Consistency checker (mm_debug.c): walks every free list, pcp list, slab
 * partial list and descriptor with the zones quiesced (takes every pcp and
 * zone lock), writes one line per problem to report (may be NULL) and
 * returns the number of problems (0 = consistent).
 */
int gmm_pool_check(struct gmm_pool *pool, FILE *report);

#endif
