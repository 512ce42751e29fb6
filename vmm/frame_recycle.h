/*
 * Recycled frames: order-0 frames whose page eviction has just written to
 * swap, kept populated and not punched, for the next swap-in to read into.
 *
 * gmm's free path punches a frame out of the pool file (host_pool_free()):
 * that is how a freed frame is zeroed and its host memory given back. On
 * the overcommit cycle, where every swap-in needs a frame some eviction
 * just freed, the punch is work thrown away twice: the punch zaps gmm's
 * own view of the frame (a TLB flush of every CPU the process runs on),
 * and the swap-in's read then faults a fresh, zeroed shmem page into the
 * same place, only to overwrite every byte of it. The kernel does neither:
 * a swapped-out page goes back to the per-cpu free lists as it is, and the
 * next swap-in takes a page without __GFP_ZERO. This is that, one level up
 * and bounded: a stack per node of about 2% of its frames.
 *
 * The rule that keeps it safe ("a freed frame never shows its old contents
 * to anyone"): a recycled frame still holds the evicted page's data, so it
 * is handed only to a reader that overwrites every byte before anything
 * maps it (take_frames_for_read(): a swap-in). A read that fails
 * frees the frame through host_pool_free_frames(), which punches it. No
 * window maps a recycled frame; only gmm's own view does.
 *
 * The frames stay allocated in the buddy's eyes (owner 0, no gfn, not on
 * any LRU): they count as held and as allocated, never as free, as the
 * zero reserve's blocks do, and compaction cannot move them (no guest owns
 * them). Reclaim gives them back first when it must (a shrinker, like the
 * zero reserve): direct reclaim and a kswapd pass the guests gave nothing
 * to; and kswapd gives back a node's stack once it has not been fed for
 * FRAME_RECYCLE_IDLE_MS, so a pool whose guests stopped swapping holds no
 * stale pages. Punched, they go back to the buddy like any freed frame.
 *
 * Counters (the control socket's `pool` reply, "recycle"): frames now,
 * kept (put on a stack), taken (by a swap-in), drained (punched back),
 * full (frees that found the stack full and punched as before). Each is
 * counted under the node's lock with the move itself, so a reader that
 * sees the stacks empty sees kept == taken + drained.
 */
#ifndef GMM_VMM_FRAME_RECYCLE_H
#define GMM_VMM_FRAME_RECYCLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmm/frame.h"
#include "guestmm/pool.h"

struct host_pool;

/* A node's stack holds 2% of the node's frames, within these bounds.
 * Evictions fill the stack before the buddy, and swap-ins empty it
 * before they take from the buddy; the price is the frames it holds, at
 * most cap, half on average. (Sized until 2026-12-04 as twice kswapd's
 * margin above the high watermark, 1% of the node, which kswapd no
 * longer keeps: the same figures.) */
#define FRAME_RECYCLE_MIN 1024
#define FRAME_RECYCLE_MAX 8192
#define FRAME_RECYCLE_IDLE_MS 1000

enum frame_recycle_stat {
	RECYCLE_KEPT,
	RECYCLE_TAKEN,
	RECYCLE_DRAINED,
	RECYCLE_FULL,
	NR_RECYCLE_STATS
};

extern const char *const frame_recycle_stat_names[NR_RECYCLE_STATS];

struct frame_recycle_node {
	pthread_mutex_t lock;
	unsigned nr, cap;
	uint64_t last_put_ms;         /* CLOCK_MONOTONIC */
	pfn_t pfn[FRAME_RECYCLE_MAX];
};

struct frame_recycle {
	struct frame_recycle_node node[GMM_MAX_NODES];
	_Atomic uint64_t stat[NR_RECYCLE_STATS];
};

/* init: empty stacks that keep nothing; size: their capacity, once the
 * pool's frames are known */
void frame_recycle_init(struct frame_recycle *r);
void frame_recycle_size(struct host_pool *hp);
void frame_recycle_destroy(struct frame_recycle *r);

/*
 * Evicted order-0 frames pfns[0..n), written out, unmapped from every
 * window, refcount 1: keep what fits on their nodes' stacks. The frames
 * not kept are moved to the front of pfns, in their order; returns how
 * many, for the caller to free (host_pool_free_frames()).
 */
size_t frame_recycle_put(struct host_pool *hp, pfn_t *pfns, size_t n);

/* nr recycled frames of consecutive pfns on node nid (< 0: any), each as
 * if just allocated and split (refcount 1, order 0, no flags, no owner),
 * holding stale data the caller must overwrite whole before it maps them
 * anywhere: the first pfn, or GMM_PFN_NONE if the top of the stack is not
 * such a run (one frame: whenever the stack has one). */
pfn_t frame_recycle_take(struct host_pool *hp, int nid, unsigned nr);

/* Reclaim's share: punch and free up to nr_frames of node nid's (< 0:
 * every node's) recycled frames. Returns the frames freed. */
uint64_t frame_recycle_shrink(struct host_pool *hp, int nid, uint64_t nr_frames);

/* The same for a node whose stack was not fed for idle_ms. */
uint64_t frame_recycle_shrink_idle(struct host_pool *hp, int nid, unsigned idle_ms);

/* Frames on the stacks now. */
uint64_t frame_recycle_frames(struct host_pool *hp);

#endif
