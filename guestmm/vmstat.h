/*
 * Memory-manager statistics, like the kernel's vm_event_item and
 * zone_stat_item in one enum. The printed name of each item is its
 * lowercase enum name, defined once beside the enum in vmstat.c.
 *
 * Counting: events are counted where they happen into a struct
 * gmm_vm_events owned by whatever lock serializes the event site (a pcp,
 * a zone, a slab cpu), or into the pool's per-cpu atomic set when no lock
 * is held. Reading sums every set: no counter is shared between writers,
 * so counting adds no cache-line bouncing to the fast path.
 * Gauges (NR_*) are not counted: they are read from the zones.
 */
#ifndef GMM_GUESTMM_VMSTAT_H
#define GMM_GUESTMM_VMSTAT_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

enum gmm_vm_item {
	/* gauges, read from zones/caches at print time */
	NR_FREE_PAGES,          /* frames on buddy free lists */
	NR_FREE_PCP,            /* frames on per-cpu lists */
	NR_MANAGED_PAGES,       /* frames the buddy manages */
	NR_SLAB_PAGES,          /* frames held by slabs */
	NR_POISONED_PAGES,      /* frames taken out of use by the debug checks */
	NR_GAUGES,
	/* events */
	PGALLOC_NORMAL = NR_GAUGES, /* frames allocated from ZONE_NORMAL */
	PGALLOC_MOVABLE,        /* frames allocated from ZONE_MOVABLE */
	PGFREE,                 /* frames freed */
	ALLOC_FAIL,             /* gmm_alloc_frames() returned GMM_PFN_NONE */
	PGALLOC_FALLBACK,       /* __rmqueue_fallback() served another migratetype */
	PAGEBLOCK_STEAL,        /* fallback claimed a whole pageblock (changed its type) */
	HIGHATOMIC_RESERVE,     /* pageblock reserved as MIGRATE_HIGHATOMIC */
	HIGHATOMIC_UNRESERVE,   /* reserve given back under pressure */
	BUDDY_SPLIT,            /* expand() halvings */
	BUDDY_MERGE,            /* __free_one_page() merges with a free buddy */
	WATERMARK_HIGH_HIT,     /* an allocation left its zone below high */
	WATERMARK_LOW_HIT,      /* fast path refused a zone at the low watermark */
	WATERMARK_MIN_HIT,      /* slow path refused a zone at the min watermark */
	KSWAPD_WAKE,            /* wake_kswapd hook calls */
	ALLOCSTALL,             /* direct reclaim entered */
	PCP_REFILL,             /* rmqueue_bulk() batches into a pcp list */
	PCP_DRAIN,              /* free_pcppages_bulk() batches out of a pcp list */
	SLABS_ALLOCATED,        /* new slabs from the buddy */
	SLABS_FREED,            /* slabs given back to the buddy */
	POISON_CORRUPT,         /* debug: poison damaged when a free frame was allocated */
	DOUBLE_FREE,            /* free of a frame already free (buddy or pcp) */
	BAD_FREE,               /* free of a frame that is not allocated */
	BAD_FREE_TAIL,          /* free of a tail frame of a large block */
	BAD_FREE_ORDER,         /* free with an order other than the block's */
	/* compaction (compaction.c, docs/compaction.md) and page migration.
	 * The kernel's enum names (COMPACTSTALL, KCOMPACTD_WAKE: COMPACT_*
	 * are compaction results) and its printed names (compact_stall,
	 * compact_daemon_wake) */
	COMPACTMIGRATE_SCANNED, /* frames the migration scanner looked at */
	COMPACTFREE_SCANNED,    /* frames the free scanner looked at */
	COMPACTISOLATED,        /* sources and destinations isolated, in frames */
	COMPACTSTALL,           /* direct compaction runs (try_to_compact_pages()) */
	COMPACTFAIL,            /* targeted runs that ended with the scanners met */
	COMPACTSUCCESS,         /* targeted runs that ended with the block free */
	KCOMPACTD_WAKE,         /* kcompactd woken by a failed huge allocation */
	KCOMPACTD_MIGRATE_SCANNED, /* of compact_migrate_scanned: kcompactd's */
	KCOMPACTD_FREE_SCANNED, /* of compact_free_scanned: kcompactd's */
	PGMIGRATE_SUCCESS,      /* frames moved to another frame (compaction, NUMA) */
	PGMIGRATE_FAIL,         /* frames that could not move when asked */
	NR_VM_ITEMS
};

extern const char *const gmm_vm_item_names[NR_VM_ITEMS];

#define NR_VM_EVENTS (NR_VM_ITEMS - NR_GAUGES)

/* One writer set. Padding keeps sets of different cpus off one line. */
struct gmm_vm_events {
	_Atomic uint64_t ev[NR_VM_EVENTS];
} __attribute__((aligned(64)));

/* __count_vm_events(): the caller's lock serializes this set, so a plain
 * load+store (no locked instruction) is exact; readers load relaxed. */
static inline void __count_vm_events(struct gmm_vm_events *s, enum gmm_vm_item item, uint64_t n)
{
	_Atomic uint64_t *c = &s->ev[item - NR_GAUGES];

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* count_vm_events(): any thread, no lock held: relaxed atomic add. */
static inline void count_vm_events(struct gmm_vm_events *s, enum gmm_vm_item item, uint64_t n)
{
	atomic_fetch_add_explicit(&s->ev[item - NR_GAUGES], n, memory_order_relaxed);
}

struct gmm_pool;

/* Pool-wide per-cpu set for events counted with no lock held. */
void count_vm_event(struct gmm_pool *pool, enum gmm_vm_item item);
void count_vm_events_pool(struct gmm_pool *pool, enum gmm_vm_item item, uint64_t n);

/* Page migration done outside compaction (NUMA placement, balancing):
 * frames moved and frames that could not move (pgmigrate_success /
 * pgmigrate_fail). Compaction counts its own migrate_frame calls. */
void count_migrate_events(struct gmm_pool *pool, uint64_t succeeded, uint64_t failed);

/* Current value of one item (gauge or summed event). */
uint64_t gmm_vmstat_get(struct gmm_pool *pool, enum gmm_vm_item item);

/* /proc/vmstat: "name value" lines. */
int gmm_show_vmstat(struct gmm_pool *pool, FILE *out);

#endif
