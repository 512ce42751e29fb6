/*
 * The host pool's reclaim thread (kswapd one level up, mm/vmscan.c's
 * balance_pgdat()): woken when an allocation takes a zone below its low
 * watermark, or by a fault that found no frame, it shrinks the guests'
 * LRU lists into swap (stage2_shrink()) until every zone is above its
 * high watermark. Each pass scans each guest's lists in proportion to
 * their size, lru_pages >> priority, priority falling from 12 to 0 while
 * the pool stays short (reclaim priority scaling). A fault that found no
 * frame lets go of its guest's lock and reclaims itself (direct reclaim,
 * counted as allocstall), waiting for a kswapd pass when that freed
 * nothing. docs/reclaim.md.
 */
#ifndef GMM_VMM_KSWAPD_H
#define GMM_VMM_KSWAPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define KSWAPD_POLL_MS 20          /* also look at the watermarks this often */
#define KSWAPD_DEF_PRIORITY 12     /* DEF_PRIORITY */
#define KSWAPD_EXTRA_FRAMES 512    /* reclaim this far above the high watermark */

struct host;

enum kswapd_stat_item {
	KSWAPD_WAKEUPS,          /* kswapd_wake events (watermark or fault) */
	KSWAPD_PASSES,           /* balance passes run */
	KSWAPD_RECLAIMED,        /* pages freed by kswapd (pgsteal_kswapd) */
	KSWAPD_ALLOCSTALL,       /* faults that waited for reclaim */
	KSWAPD_FAILED_PASSES,    /* passes that freed nothing (no swap, nothing cold) */
	KSWAPD_DIRECT_RECLAIMED, /* pages freed by faults reclaiming themselves (pgsteal_direct) */
	NR_KSWAPD_STATS
};
extern const char *const kswapd_stat_names[NR_KSWAPD_STATS];

struct kswapd {
	struct host *host;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;       /* kicked, or stop */
	pthread_cond_t progress;   /* a pass ended */
	uint64_t passes_started, passes_done;
	bool kicked, stop, started;
	_Atomic uint64_t stat[NR_KSWAPD_STATS];
};

int kswapd_start(struct kswapd *k, struct host *h);
void kswapd_stop(struct kswapd *k);
/* wakeup_kswapd(): from any thread, never blocks. */
void kswapd_wake(struct kswapd *k);
/* A fault found no frame: wake kswapd and wait for the end of its next
 * pass (at most timeout_ms). Returns true if that pass freed anything. */
bool kswapd_reclaim_wait(struct kswapd *k, unsigned timeout_ms);
/* Direct reclaim on the calling thread (which holds no guest's lock):
 * shrink the guests until want pages were freed or every priority was
 * tried; wakes kswapd too. Returns pages freed; counted as allocstall. */
uint64_t kswapd_direct_reclaim(struct kswapd *k, uint64_t want);

#endif
