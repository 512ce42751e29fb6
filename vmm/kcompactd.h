/*
 * The host pool's compaction threads (kcompactd one level up): one per
 * pool node, gmm-kcompactdN. The work is guestmm's (kcompactd_step(),
 * guestmm/compaction.h); these threads only wait and call it.
 *
 * A thread is woken (kcompactd_wake(), never blocks) when an allocation
 * of a 2 MiB frame failed on its node and compaction could make one: the
 * fault path's take_block() and the zero reserve's refill call
 * kcompactd_wake_if_failed() (host_pool.h) after gmm_alloc_frames(). It
 * then compacts its node's zones for that order, moving guest frames
 * through the pool's migrate_frame hook (stage2_migrate.c). Every
 * HPAGE_FRAG_CHECK_INTERVAL_MSEC it also looks at the node's
 * fragmentation score and, with host.compaction.proactiveness > 0,
 * compacts proactively when the score is above the mark the setting
 * gives (docs/compaction.md).
 *
 * Locking: lock protects stop and each node's kicked; the threads call
 * guestmm with it dropped.
 */
#ifndef GMM_VMM_KCOMPACTD_H
#define GMM_VMM_KCOMPACTD_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/compaction.h"

struct host;
struct host_pool;
struct compaction_config;
struct kcompactd;

/* pglist_data's kcompactd half: one node's thread. */
struct kcompactd_node {
	struct kcompactd *set;
	int nid;
	pthread_t thread;
	pthread_cond_t wake;           /* kicked, or stop (CLOCK_MONOTONIC) */
	bool kicked, started;
	_Atomic uint64_t demand_runs;  /* steps that compacted for a failed allocation */
	_Atomic uint64_t proactive_runs; /* steps that compacted for the score */
};

struct kcompactd {
	struct host_pool *hp;
	struct gmm_kcompactd state;    /* guestmm's: orders asked, deferral, proactiveness */
	pthread_mutex_t lock;
	bool stop, started;
	int nr_nodes;
	struct kcompactd_node node[GMM_MAX_NODES];
};

/* One thread per node of hp's pool. -EAGAIN if a thread cannot start
 * (the others are stopped again). */
int kcompactd_start(struct kcompactd *k, struct host_pool *hp, const struct compaction_config *cfg);
void kcompactd_stop(struct kcompactd *k);
/* wakeup_kcompactd(): an order-`order` allocation failed on node nid
 * (GMM_NUMA_NO_NODE: any node); the threads of the nodes where compaction
 * can help are woken. Any thread, never blocks; k may be NULL. */
void kcompactd_wake(struct kcompactd *k, int nid, unsigned order);

/* The control socket's `compact` command (control_compact.c):
 * {"cmd": "compact"} compacts every node's zones whole (compact_memory);
 * "node": N one node, "order": O until a block of that order is free.
 * Replies with each zone's result, the extfrag index per order before and
 * after, the fragmentation score, and the compaction counters' deltas. */
json_t *cmd_compact(struct host *h, json_t *req, const char **err);

#endif
