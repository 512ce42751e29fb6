/*
 * kcompactd's half of mm/compaction.c: the per-node request (the order a
 * failed allocation asked for), deferral of zones whose recent runs
 * failed, proactive compaction driven by the fragmentation score, and the
 * step function vmm/kcompactd.c's threads call. See compaction.h.
 */
#include <string.h>

#include "guestmm/compaction.h"
#include "guestmm/internal.h"

void kcompactd_init(struct gmm_kcompactd *kc, struct gmm_pool *pool, unsigned proactiveness)
{
	memset(kc, 0, sizeof(*kc));
	kc->pool = pool;
	atomic_store(&kc->proactiveness, proactiveness > 100 ? 100 : proactiveness);
	for (int n = 0; n < GMM_MAX_NODES; n++)
		atomic_store(&kc->node[n].max_order, -1);
}

/* kcompactd_node_suitable(): a zone of nid where compaction can make an
 * order-`order` block. */
static bool kcompactd_node_suitable(struct gmm_pool *pool, int nid, unsigned order)
{
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		if (z->nid == nid && compaction_suitable(z, (int)order) == COMPACT_CONTINUE)
			return true;
	}
	return false;
}

uint64_t wakeup_kcompactd(struct gmm_kcompactd *kc, int nid, unsigned order)
{
	uint64_t wake = 0;

	if (order > MAX_ORDER)
		return 0;
	for (int n = 0; n < kc->pool->nr_nodes; n++) {
		_Atomic int *max = &kc->node[n].max_order;
		int cur = atomic_load_explicit(max, memory_order_relaxed);

		if (nid != GMM_NUMA_NO_NODE && n != nid)
			continue;
		while (cur < (int)order && !atomic_compare_exchange_weak(max, &cur, (int)order))
			;
		if (!kcompactd_node_suitable(kc->pool, n, order))
			continue;
		wake |= 1ULL << n;
		count_vm_event(kc->pool, KCOMPACTD_WAKE);
	}
	return wake;
}

bool kcompactd_work_requested(struct gmm_kcompactd *kc, int nid)
{
	return nid >= 0 && nid < GMM_MAX_NODES &&
	       atomic_load_explicit(&kc->node[nid].max_order, memory_order_relaxed) >= 0;
}

/* defer_compaction(): a run at this order failed; skip the next
 * 1 << defer_shift requests (at most 64). */
static void defer_compaction(struct kcompactd_zone_state *zs, int order)
{
	zs->considered = 0;
	if (++zs->defer_shift > COMPACT_MAX_DEFER_SHIFT)
		zs->defer_shift = COMPACT_MAX_DEFER_SHIFT;
	if (order < zs->order_failed)
		zs->order_failed = order;
}

static bool compaction_deferred(struct kcompactd_zone_state *zs, int order)
{
	unsigned long limit = 1UL << zs->defer_shift;

	if (order < zs->order_failed)
		return false;
	if (++zs->considered >= limit) {
		zs->considered = (unsigned)limit;
		return false;
	}
	return true;
}

static void compaction_defer_reset(struct kcompactd_zone_state *zs, int order)
{
	zs->considered = 0;
	zs->defer_shift = 0;
	if (order >= zs->order_failed)
		zs->order_failed = order + 1;
}

static void count_daemon_scanned(struct gmm_pool *pool, const unsigned long scanned[2])
{
	count_vm_events_pool(pool, KCOMPACTD_MIGRATE_SCANNED, scanned[0]);
	count_vm_events_pool(pool, KCOMPACTD_FREE_SCANNED, scanned[1]);
}

/* kcompactd_do_work(): each zone of the node that lacks the block and is
 * not deferred. Returns true if any zone ran. */
static bool kcompactd_do_work(struct gmm_kcompactd *kc, int nid, int order)
{
	struct gmm_pool *pool = kc->pool;
	unsigned long scanned[2] = { 0, 0 };
	bool ran = false;

	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];
		struct kcompactd_zone_state *zs = &kc->zone[z->id];
		enum compact_result ret;

		if (z->nid != nid || compaction_deferred(zs, order))
			continue;
		if (compaction_suitable(z, order) != COMPACT_CONTINUE)
			continue;
		ret = compact_zone_order(z, order, MIGRATE_MOVABLE, MIGRATE_SYNC_LIGHT, 0, 0, scanned);
		ran = true;
		if (ret == COMPACT_SUCCESS)
			compaction_defer_reset(zs, order);
		else if (ret == COMPACT_COMPLETE || ret == COMPACT_PARTIAL_SKIPPED)
			defer_compaction(zs, order);
	}
	count_daemon_scanned(pool, scanned);
	return ran;
}

/* proactive_compact_node(): every zone, until its score is at the low mark. */
static void proactive_compact_node(struct gmm_kcompactd *kc, int nid, unsigned proactiveness)
{
	struct gmm_pool *pool = kc->pool;
	unsigned long scanned[2] = { 0, 0 };
	unsigned low = fragmentation_score_wmark(proactiveness, true);

	for (int i = 0; i < pool->nr_zones; i++)
		if (pool->zones[i].nid == nid)
			compact_zone_order(&pool->zones[i], -1, MIGRATE_MOVABLE, MIGRATE_SYNC_LIGHT,
					   COMPACT_RUN_PROACTIVE, low, scanned);
	count_daemon_scanned(pool, scanned);
}

enum kcompactd_work kcompactd_step(struct gmm_kcompactd *kc, int nid, bool proactive_tick)
{
	struct kcompactd_node_state *ns;
	unsigned proactiveness, prev, score;
	int order;

	if (nid < 0 || nid >= kc->pool->nr_nodes)
		return KCOMPACTD_IDLE;
	ns = &kc->node[nid];
	/* a wake while we run asks for another round: it sets max_order again */
	order = atomic_exchange(&ns->max_order, -1);
	if (order >= 0)
		return kcompactd_do_work(kc, nid, order) ? KCOMPACTD_DEMAND : KCOMPACTD_IDLE;
	proactiveness = atomic_load_explicit(&kc->proactiveness, memory_order_relaxed);
	if (!proactive_tick || !proactiveness || !kc->pool->hooks.migrate_frame)
		return KCOMPACTD_IDLE;
	if (ns->proactive_defer) {
		ns->proactive_defer--;
		return KCOMPACTD_IDLE;
	}
	prev = fragmentation_score_node(kc->pool, nid);
	if (prev <= fragmentation_score_wmark(proactiveness, false))
		return KCOMPACTD_IDLE;
	proactive_compact_node(kc, nid, proactiveness);
	score = fragmentation_score_node(kc->pool, nid);
	/* no better: the rest is unmovable; do not rescan every tick */
	ns->proactive_defer = score < prev ? 0 : 1U << COMPACT_MAX_DEFER_SHIFT;
	return KCOMPACTD_PROACTIVE;
}
