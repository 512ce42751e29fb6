/*
 * The host pool's reclaim threads (kswapd one level up, mm/vmscan.c's
 * balance_pgdat()): one per pool node, gmm-kswapdN, woken when an
 * allocation takes a zone of its node below its low watermark (the
 * allocator's wake_kswapd hook), by a fault that found no frame, or by
 * its own look every KSWAPD_POLL_MS; it shrinks the guests' LRU lists on
 * its node into swap (stage2_shrink_node()) until every zone of the node
 * is above its high watermark. Each pass scans each guest's lists on the
 * node in proportion to their size, lru_pages >> priority, priority
 * falling from 12 to 0 while the node stays short (reclaim priority
 * scaling). A fault that found no frame lets go of its guest's lock and
 * reclaims itself on every node (direct reclaim, counted as allocstall),
 * waiting for a kswapd pass when that freed nothing. docs/reclaim.md.
 */
#ifndef GMM_VMM_KSWAPD_H
#define GMM_VMM_KSWAPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/zone.h"

#define KSWAPD_POLL_MS 20          /* also look at the watermarks this often */
#define KSWAPD_DEF_PRIORITY 12     /* DEF_PRIORITY */
#define KSWAPD_SCAN_CHUNK 2048     /* a guest's share is scanned this much a turn */

struct host;

enum kswapd_stat_item {
	KSWAPD_WAKEUPS,          /* kswapd_wake events (watermark or fault) */
	KSWAPD_PASSES,           /* balance passes run */
	KSWAPD_RECLAIMED,        /* pages freed by kswapd (pgsteal_kswapd) */
	KSWAPD_ALLOCSTALL,       /* faults that waited for reclaim */
	KSWAPD_FAILED_PASSES,    /* passes that freed nothing (no swap, nothing cold) */
	KSWAPD_DIRECT_RECLAIMED, /* pages freed by faults reclaiming themselves (pgsteal_direct) */
	KSWAPD_RESERVE_DRAINED,  /* of those freed by both, frames of the zero reserve's blocks */
	KSWAPD_ALLOCSTALL_US,    /* microseconds faults spent in those stalls (PSI's memory stall time) */
	NR_KSWAPD_STATS
};
extern const char *const kswapd_stat_names[NR_KSWAPD_STATS];

struct kswapd;
struct gmm_pool;

/* pgdat_balanced(): every zone of node nid (GMM_LRU_ANY_NODE: of every
 * node) at or above its high watermark, with nr_frames more taken.
 * kswapd works until this holds for 0, as the kernel's does (woken below
 * low, the watermark gap is a pass); a cache that takes memory it can do
 * without (the zero reserve) takes only while it holds for what it
 * takes, or kswapd would give it straight back. Until 2026-12-04 the
 * target was 1% of the zone above high: that much of the pool sat free
 * under steady reclaim, memory the guests did without
 * (docs/benchmarks.md#kswapd-to-the-high-watermark-2026-12-04-eighth-session). */
bool kswapd_node_balanced_after(struct gmm_pool *mm, int nid, unsigned long nr_frames);

/* pglist_data's kswapd half: one node's thread. */
struct kswapd_node {
	struct kswapd *set;
	int nid;
	pthread_t thread;
	pthread_cond_t wake;       /* kicked, or stop */
	bool kicked, started;
	uint64_t passes_started, passes_done;
	_Atomic uint64_t stat[NR_KSWAPD_STATS]; /* this node's kswapd and direct reclaim */
};

struct kswapd {
	struct host *host;
	pthread_mutex_t lock;      /* every node's kicked, passes, stop */
	pthread_cond_t progress;   /* some node's pass ended */
	int nr_nodes;
	bool stop, started;
	_Atomic unsigned next_guest; /* where the next round of shrinking starts */
	struct kswapd_node node[GMM_MAX_NODES];
};

/* One thread per node of the host's pool. */
int kswapd_start(struct kswapd *k, struct host *h);
void kswapd_stop(struct kswapd *k);
/* From any thread, never blocks. kswapd_wake(): a fault found no frame,
 * every node's thread runs a pass; kswapd_wake_node(): wakeup_kswapd(),
 * an allocation went below the low watermark on that node, its thread
 * works if the node is not balanced. */
void kswapd_wake(struct kswapd *k);
void kswapd_wake_node(struct kswapd *k, int nid);
/* A fault found no frame: wake every node's kswapd and wait for the end
 * of the next pass of any of them (at most timeout_ms). Returns true if
 * it freed anything. */
bool kswapd_reclaim_wait(struct kswapd *k, unsigned timeout_ms);
/* Direct reclaim on the calling thread (which holds no guest's lock):
 * shrink the guests until want pages were freed or every priority was
 * tried; wakes kswapd too. Returns pages freed; counted as allocstall.
 * *covered: nothing was swapped because balloons asked for (by this
 * call or kswapd's pass) balanced the node meanwhile; the caller tries
 * its allocation again (balloon_policy_reclaim()). */
uint64_t kswapd_direct_reclaim(struct kswapd *k, uint64_t want, bool *covered);
/* A counter summed over the nodes. */
uint64_t kswapd_stat(struct kswapd *k, enum kswapd_stat_item item);

#endif
