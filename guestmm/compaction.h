/*
 * Memory compaction (mm/compaction.c one level up): move allocated movable
 * frames out of fragmented pageblocks so that free frames merge into
 * 2 MiB (order 9) and 4 MiB blocks again.
 *
 * compact_zone() runs two scanners over one zone, as the kernel does: the
 * migration scanner walks pageblocks from the zone start upward and picks
 * allocated movable frames (sources); the free scanner walks pageblocks
 * from the zone end downward and takes free frames out of the buddy
 * (destinations). Each (source, destination) pair goes to the pool's
 * migrate_frame hook: guestmm cannot move a frame itself, only its owner
 * (vmm/stage2, through the guest's EPT) can copy it, remap its user and
 * free the source. A run ends when a block of the wanted order is free
 * (COMPACT_SUCCESS) or the scanners meet (COMPACT_COMPLETE).
 *
 * What a source is (frame_movable() in compaction.c): an allocated head
 * or order-0 frame of a guest (owner != 0, a reverse-map gfn), on no free
 * list, not slab, reserved, unevictable, mlocked, pinned, locked, under
 * writeback, balloon, offline or hwpoison. A huge (order-9) source is
 * moved whole, to a free order-9 block higher in the zone, and only when
 * that can help (targets above order 9, or compact_memory): moving a
 * 2 MiB frame to make a 2 MiB block gains nothing.
 *
 * Like the kernel, this library has no thread: kcompactd is a state
 * (struct gmm_kcompactd) plus a step function vmm/kcompactd.c calls from
 * one thread per node, woken by wakeup_kcompactd() when a huge-frame
 * allocation failed, and proactive compaction on a timer tick when the
 * node's fragmentation score passes the mark compaction_proactiveness
 * sets. Direct compaction (try_to_compact_pages()) is what the allocator's
 * slow path runs for order >= 9 __GFP_DIRECT_RECLAIM requests.
 *
 * Locking: no compaction entry point may be called with a guestmm lock
 * held, nor with any lock the migrate_frame hook takes (the owner's guest
 * locks): the hook is called with no guestmm lock held, from the
 * compacting thread. The free scanner takes the zone lock per pageblock;
 * the migration scanner reads frame descriptors unlocked (a stale read
 * only offers the hook a frame it then refuses).
 *
 * docs/compaction.md.
 */
#ifndef GMM_GUESTMM_COMPACTION_H
#define GMM_GUESTMM_COMPACTION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/frame.h"
#include "guestmm/gfp.h"
#include "guestmm/pool.h"
#include "guestmm/zone.h"

#define COMPACT_CLUSTER_MAX        32   /* sources isolated per batch (COMPACT_CLUSTER_MAX) */
#define COMPACT_FREEPAGES_MAX      (2 * pageblock_nr_pages) /* destinations held at once */
#define COMPACT_MAX_DEFER_SHIFT    6    /* kcompactd skips at most 63 of 64 requests */
#define COMPACTION_HPAGE_ORDER     pageblock_order /* what the fragmentation score measures */
#define COMPACT_EXTFRAG_THRESHOLD  500  /* sysctl_extfrag_threshold */
#define COMPACT_PROACTIVENESS_DEFAULT 20 /* sysctl compaction_proactiveness */
#define HPAGE_FRAG_CHECK_INTERVAL_MSEC 500 /* proactive check period (vmm's tick) */

/* enum migrate_mode: how hard a run tries. */
enum migrate_mode {
	MIGRATE_ASYNC,       /* movable source pageblocks only; gives up on a contended zone lock */
	MIGRATE_SYNC_LIGHT,  /* every mergeable source pageblock; waits for locks */
	MIGRATE_SYNC,        /* as SYNC_LIGHT, and a source the hook found busy is retried once */
};

/* enum compact_result: what a run (or a check before it) found. */
enum compact_result {
	COMPACT_NOT_SUITABLE_ZONE, /* fragmentation index says: lack of memory, not fragmentation */
	COMPACT_SKIPPED,           /* too little free memory to migrate into, or no migrate hook */
	COMPACT_DEFERRED,          /* kcompactd: recent runs at this order failed; later */
	COMPACT_CONTINUE,          /* (internal) keep scanning */
	COMPACT_COMPLETE,          /* the scanners met: the whole zone was tried */
	COMPACT_PARTIAL_SKIPPED,   /* the scanners met but part of the zone was not tried */
	COMPACT_CONTENDED,         /* async run gave up on a contended lock */
	COMPACT_SUCCESS,           /* a block of the wanted order is free (or the score is low) */
	NR_COMPACT_RESULTS
};
extern const char *const compact_result_names[NR_COMPACT_RESULTS];

/*
 * struct compact_control: one run over one zone. compact_control_init()
 * fills the inputs and positions the scanners; compact_zone() does the
 * rest and leaves this run's counts in the out fields (also added to the
 * pool's vmstat). Owned by the compacting thread: no locking.
 */
struct compact_control {
	/* in */
	struct gmm_zone *zone;
	int order;                       /* wanted block order; -1: the whole zone (compact_memory) */
	enum migratetype migratetype;    /* the wanted block's type (gfp_migratetype()) */
	enum migrate_mode mode;
	bool whole_zone;                 /* scanners start at the zone ends */
	bool direct_compaction;          /* an allocating thread's own run */
	bool proactive_compaction;       /* stop once the score is at proactive_wmark_low */
	unsigned proactive_wmark_low;    /* fragmentation_score_wmark(proactiveness, true) */
	/* scanners */
	pfn_t migrate_pfn;               /* next pfn the migration scanner looks at (upward) */
	pfn_t free_pfn;                  /* start of the next pageblock the free scanner looks at (downward) */
	bool contended;
	unsigned long nr_migratepages;   /* sources isolated, not yet tried */
	unsigned long nr_freepages;      /* free order-0 frames held */
	pfn_t migratepages[COMPACT_CLUSTER_MAX];
	uint8_t migrate_order[COMPACT_CLUSTER_MAX];
	pfn_t freepages[COMPACT_FREEPAGES_MAX];
	/* out: this run */
	unsigned long total_migrate_scanned; /* frames the migration scanner looked at */
	unsigned long total_free_scanned;    /* frames the free scanner looked at */
	unsigned long nr_isolated;           /* sources + destinations taken (compact_isolated) */
	unsigned long nr_migrated;           /* frames moved (pgmigrate_success) */
	unsigned long nr_migrate_failed;     /* frames the hook refused (pgmigrate_fail) */
	unsigned long nr_huge_migrated;      /* of nr_migrated: 2 MiB frames moved whole, in frames */
};

/* Inputs and scanner positions for a run over z: order (-1: whole zone),
 * the wanted block's migratetype, mode. */
void compact_control_init(struct compact_control *cc, struct gmm_zone *z, int order,
			  enum migratetype mt, enum migrate_mode mode);

/*
 * compact_zone(): the run. Targeted runs (order >= 0) first check that
 * the block is not already free (COMPACT_SUCCESS at once, nothing
 * counted) and that compaction can help (compaction_suitable());
 * whole-zone runs go until the scanners meet. Counts, at the end:
 * compact_migrate_scanned, compact_free_scanned, compact_isolated,
 * pgmigrate_success/fail, and for targeted runs that scanned
 * compact_success (a block is free) or compact_fail (scanners met).
 * Without a migrate_frame hook: COMPACT_SKIPPED.
 */
enum compact_result compact_zone(struct compact_control *cc);

/*
 * compact_zone_order(): one compact_zone() run over z with a control of
 * its own (on the heap: it holds the destination list). flags:
 * COMPACT_RUN_DIRECT (an allocating thread's), COMPACT_RUN_PROACTIVE
 * (stop at score wmark_low). This run's scanned frames are added to
 * scanned[0] (migration) and scanned[1] (free) when scanned is not NULL.
 */
#define COMPACT_RUN_DIRECT     0x1
#define COMPACT_RUN_PROACTIVE  0x2
enum compact_result compact_zone_order(struct gmm_zone *z, int order, enum migratetype mt,
				       enum migrate_mode mode, unsigned flags, unsigned wmark_low,
				       unsigned long scanned[2]);

/*
 * compaction_suitable(): can compaction give z a free order-`order`
 * block? COMPACT_SUCCESS: one is free already (watermark at that order
 * ok); COMPACT_SKIPPED: too little free memory to migrate into (order-0
 * watermark low + 2 << order, compact_gap()); COMPACT_NOT_SUITABLE_ZONE:
 * for order > 3 the fragmentation index is 0..extfrag_threshold (failure
 * would be for lack of memory); else COMPACT_CONTINUE.
 */
enum compact_result compaction_suitable(struct gmm_zone *z, int order);

/*
 * Direct compaction (try_to_compact_pages()): an allocation of `order`
 * for gfp failed on nid's zonelist; compact each zone it may use (nodemask
 * 0 = all) in zonelist order until one has the block. Counts compact_stall
 * once. Returns the best result (COMPACT_SUCCESS: retry the allocation).
 */
enum compact_result try_to_compact_pages(struct gmm_pool *pool, unsigned order, gfp_t gfp, int nid,
					 uint64_t nodemask, enum migrate_mode mode);

/*
 * compact_node() (writing /proc/sys/vm/compact_memory, or a node's
 * compact file): every zone of node nid (GMM_NUMA_NO_NODE: every node),
 * MIGRATE_SYNC. order -1: the whole zone; order >= 0: until a block of
 * that order is free. results (may be NULL) gets each zone's result by
 * zone id (pool->nr_zones entries; zones not run: COMPACT_SKIPPED).
 * Returns the best result.
 */
enum compact_result compact_node(struct gmm_pool *pool, int nid, int order,
				 enum compact_result *results);

/*
 * Fragmentation score (the kernel's fragmentation_score_zone()): the
 * unusable free index at order 9 in percent, 0..100 (0 when nothing is
 * free: compaction cannot help a full zone). The node's is each zone's
 * weighted by its share of the node. The proactive marks: low =
 * max(100 - proactiveness, 5), high = min(low + 10, 100); kcompactd
 * compacts when the node's score is above high, until each zone's is at
 * most low.
 */
unsigned fragmentation_score_zone(struct gmm_zone *z);
unsigned fragmentation_score_node(struct gmm_pool *pool, int nid);
unsigned fragmentation_score_wmark(unsigned proactiveness, bool low);

/*
 * kcompactd's state, per pool: pglist_data's kcompactd_max_order and
 * proactive fields per node, struct zone's compact_considered /
 * compact_defer_shift / compact_order_failed per zone.
 * Locking: max_order and proactiveness are atomics anyone writes; every
 * other field of node[nid] and of the zones of nid belongs to the one
 * thread that calls kcompactd_step() for nid.
 */
struct kcompactd_zone_state {
	unsigned considered;           /* compact_considered */
	unsigned defer_shift;          /* compact_defer_shift */
	int order_failed;              /* compact_order_failed */
};

struct kcompactd_node_state {
	_Atomic int max_order;         /* highest order asked for since the last run; -1: none */
	unsigned proactive_defer;      /* ticks still to skip after a run that did not help */
};

struct gmm_kcompactd {
	struct gmm_pool *pool;
	_Atomic unsigned proactiveness;  /* 0..100; 0: no proactive compaction */
	struct kcompactd_node_state node[GMM_MAX_NODES];
	struct kcompactd_zone_state zone[GMM_MAX_NODES * MAX_NR_ZONES]; /* by zone id */
};

void kcompactd_init(struct gmm_kcompactd *kc, struct gmm_pool *pool, unsigned proactiveness);

/*
 * wakeup_kcompactd(): an order-`order` allocation failed on node nid
 * (GMM_NUMA_NO_NODE: every node). Records the order; returns the nodes
 * (bit per nid) whose thread should be woken: those with a zone where
 * compaction can help (compaction_suitable() says continue). Counts
 * compact_daemon_wake for each. Never blocks; any thread.
 */
uint64_t wakeup_kcompactd(struct gmm_kcompactd *kc, int nid, unsigned order);
/* True if a wakeup_kcompactd() order waits for nid's thread. */
bool kcompactd_work_requested(struct gmm_kcompactd *kc, int nid);

/* What one kcompactd_step() did. */
enum kcompactd_work {
	KCOMPACTD_IDLE,          /* nothing asked, score below the mark, or deferred */
	KCOMPACTD_DEMAND,        /* compacted for a woken order (kcompactd_do_work()) */
	KCOMPACTD_PROACTIVE,     /* compacted because the score was high (proactive_compact_node()) */
};

/*
 * kcompactd_step(): one round of node nid's kcompactd, from its thread.
 * If woken (kcompactd_work_requested()), compact each zone of the node
 * for the recorded order (MIGRATE_SYNC_LIGHT), skipping zones whose
 * recent runs at that order failed (defer_compaction()). Else, if
 * proactive_tick (HPAGE_FRAG_CHECK_INTERVAL_MSEC passed) and the node's
 * score is above the high mark, compact every zone until its score is at
 * the low mark; a run that did not lower the score defers the next
 * 1 << COMPACT_MAX_DEFER_SHIFT ticks. Counts compact_daemon_*.
 */
enum kcompactd_work kcompactd_step(struct gmm_kcompactd *kc, int nid, bool proactive_tick);

#endif
