/*
 * The host's balloon policy (auto mode, docs/balloon.md): balloon before
 * swap. When reclaim is about to swap (kswapd below the low watermark, or
 * a fault's direct reclaim), guests with "auto" balloons whose statistics
 * show free memory are first asked to inflate by what they can spare; the
 * reclaimer waits a moment for them and swaps only what the balloons could
 * not cover. A thread (gmm-balloond) keeps the statistics of auto guests
 * fresh and, once the pool is comfortably above its high watermarks
 * again, deflates what the policy inflated (never a target the user set).
 *
 * It is policy only: the device (balloon_dev.h) and the stage-2 backend
 * do the work. Locking: none of its own beyond the devices' and the
 * host's guest references; counters are atomics.
 */
#ifndef GMM_BALLOON_POLICY_H
#define GMM_BALLOON_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/periodic.h"

#define BALLOON_POLICY_PERIOD_MS   250   /* the thread's look at the pool */
#define BALLOON_RECLAIM_WAIT_MS    200   /* reclaim waits this long for a balloon to move */
#define BALLOON_RECLAIM_MAX_WAIT_MS 1000 /* and no longer while the balloons keep moving */
#define BALLOON_DEFLATE_QUIET_MS   1000  /* deflate only after this long without pressure */
#define BALLOON_STATS_MAX_AGE_MS   1000  /* older statistics are asked for again */

struct host;

enum balloon_policy_stat {
	BPOL_INFLATE_REQUESTS,   /* targets raised under pressure */
	BPOL_INFLATE_PAGES,      /* pages asked for */
	BPOL_DEFLATE_REQUESTS,   /* targets lowered once pressure was gone */
	BPOL_DEFLATE_PAGES,
	BPOL_RECLAIM_WAITS,      /* reclaim passes that waited for balloons */
	BPOL_RECLAIM_PAGES,      /* pages the balloons gave during those waits */
	BPOL_SWAP_AVOIDED,       /* passes the balloons made needless (no swap) */
	BPOL_RECLAIM_TIMEOUTS,   /* waits that ended short with a balloon still short of its target */
	NR_BPOL_STATS
};
extern const char *const balloon_policy_stat_names[NR_BPOL_STATS];

struct balloon_policy {
	struct host *host;
	struct periodic thread;       /* gmm-balloond: deflate_step() every period */
	_Atomic uint64_t stat[NR_BPOL_STATS];
	_Atomic uint64_t pressure_ms; /* CLOCK_MONOTONIC ms reclaim last found a node short */
};

int balloon_policy_start(struct balloon_policy *p, struct host *h);
void balloon_policy_stop(struct balloon_policy *p);

/*
 * Reclaim is about to swap on node nid (GMM_LRU_ANY_NODE: any) for `want`
 * pages (0: kswapd, as much as the node is short of its high watermark).
 * Ask auto balloons for what they can spare and wait for it: up to
 * BALLOON_RECLAIM_WAIT_MS for a balloon to move, again after each move,
 * BALLOON_RECLAIM_MAX_WAIT_MS in all. Returns the pages the balloons gave
 * meanwhile. *covered says the balloons were asked (by this call or one
 * still in flight) and the node was balanced when the wait ended: the
 * shortage is gone, whoever's pages filled it, so the caller must not
 * swap for it (direct reclaim beside kswapd's pass: the balloon kswapd
 * asked may fill the node before this call sees a page of its own).
 * Swap only when nothing is covered and nothing was given.
 */
uint64_t balloon_policy_reclaim(struct balloon_policy *p, int nid, uint64_t want, bool *covered);

#endif
