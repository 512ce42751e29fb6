/*
 * The reserve of zeroed frames: 2 MiB blocks taken from the buddy and
 * populated with zeroed host pages by a background thread, so the stage-2
 * fault path maps memory that is already there. On this machine the host's
 * first touch of a pool page through a mapping costs 9-10 us; a 2 MiB
 * pwrite() populates a block in about 0.6 us a page, off the vCPU's path
 * (docs/fault-path.md). A block is one 2 MiB folio on the tmpfs pool,
 * for guests that map 2 MiB frames (a thp=never guest's blocks are 4 KiB
 * folios and never come from here: take_block()).
 *
 * The thread fills the reserve up to max_blocks once a guest has asked
 * for it (zero_reserve_want()), rests when it is full and starts again
 * when takes leave it at half, like a watermark. A take from an empty
 * reserve waits a few ms for the thread rather than populate a block
 * itself, unless the thread is failing (pool low); a failing thread
 * retries every 100 ms, not at each take. Blocks in the reserve are
 * allocated frames: they count as held, never as free.
 *
 * Under memory pressure the reserve is a cache reclaim empties first (a
 * shrinker, as the kernel's huge zero page has): kswapd and direct
 * reclaim take its blocks back (zero_reserve_shrink()) before any guest
 * loses a page, and the thread refills only while the pool stays
 * balanced for kswapd with the block taken (kswapd_node_balanced_after()).
 *
 * Locking: lock protects the stack and counters; the thread populates
 * with no lock held.
 */
#ifndef GMM_VMM_ZERO_RESERVE_H
#define GMM_VMM_ZERO_RESERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/frame.h"

struct host_pool;

#define ZERO_RESERVE_MAX_BLOCKS 256   /* 512 MiB at most */

struct zero_reserve {
	struct host_pool *hp;
	int max_blocks;               /* 0: reserve off */
	pthread_mutex_t lock;
	pthread_cond_t work;          /* fell to half, a guest wants it, or stop */
	pthread_cond_t filled;        /* a block was added */
	pfn_t blocks[ZERO_RESERVE_MAX_BLOCKS];
	int nr;
	bool wanted;
	bool resting;                 /* was full: wait until half is taken */
	bool failing;                 /* the last refill failed (pool low) */
	bool stop;
	bool started;
	uint64_t hits, misses, waits, refills, refill_failures;
	uint64_t drained;             /* blocks given back to reclaim */
	pthread_t thread;
};

/* reserve_bytes rounded down to 2 MiB blocks (0: no reserve). */
int zero_reserve_start(struct zero_reserve *zr, struct host_pool *hp, uint64_t reserve_bytes);
/* Stop the thread and give every block back (punched and freed). */
void zero_reserve_stop(struct zero_reserve *zr);
/* A guest will take blocks: start keeping them. */
void zero_reserve_want(struct zero_reserve *zr);
/* A populated order-9 block, or GMM_PFN_NONE when the reserve is empty
 * (the caller then allocates and populates itself). */
pfn_t zero_reserve_take(struct zero_reserve *zr);
/* A block on node nid (a NUMA policy wants it there), without waiting;
 * nid < 0 or a one-node pool: zero_reserve_take(). */
pfn_t zero_reserve_take_node(struct zero_reserve *zr, int nid);
/* Reclaim's share (count_objects/scan_objects of a shrinker): give back
 * whole blocks on node nid (< 0: any) until nr_frames are freed or the
 * reserve has none left there; punched and freed to the buddy. Returns
 * the frames freed. */
uint64_t zero_reserve_shrink(struct zero_reserve *zr, int nid, uint64_t nr_frames);
/* Bytes the reserve holds now. */
uint64_t zero_reserve_bytes(struct zero_reserve *zr);

#endif
