/* The host pool's reclaim thread; see kswapd.h. */
#include "vmm/kswapd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "balloon/policy.h"
#include "guestmm/pool.h"
#include "guestmm/zone.h"
#include "vmm/clock.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

const char *const kswapd_stat_names[NR_KSWAPD_STATS] = {
	[KSWAPD_WAKEUPS] = "kswapd_wakeups",
	[KSWAPD_PASSES] = "kswapd_passes",
	[KSWAPD_RECLAIMED] = "pgsteal_kswapd",
	[KSWAPD_ALLOCSTALL] = "allocstall",
	[KSWAPD_FAILED_PASSES] = "kswapd_failed_passes",
	[KSWAPD_DIRECT_RECLAIMED] = "pgsteal_direct",
	[KSWAPD_RESERVE_DRAINED] = "reserve_drained",
	[KSWAPD_ALLOCSTALL_US] = "allocstall_us",
};

static void count(struct kswapd_node *kn, enum kswapd_stat_item i, uint64_t n)
{
	atomic_fetch_add_explicit(&kn->stat[i], n, memory_order_relaxed);
}

uint64_t kswapd_stat(struct kswapd *k, enum kswapd_stat_item item)
{
	uint64_t sum = 0;

	for (int nid = 0; k && nid < k->nr_nodes; nid++)
		sum += atomic_load_explicit(&k->node[nid].stat[item], memory_order_relaxed);
	return sum;
}

bool kswapd_node_balanced_after(struct gmm_pool *mm, int nid, unsigned long nr_frames)
{
	for (int i = 0; i < mm->nr_zones; i++) {
		struct gmm_zone *z = &mm->zones[i];

		if (z->nid != nid && nid != GMM_LRU_ANY_NODE)
			continue;
		if (z->managed_pages && zone_free_pages(z) < (long)(wmark_pages(z, WMARK_HIGH) + nr_frames))
			return false;
	}
	return true;
}

static bool node_balanced(struct gmm_pool *mm, int nid)
{
	return kswapd_node_balanced_after(mm, nid, 0);
}

static uint64_t shrink_guests(struct kswapd *k, int nid, bool kicked, uint64_t want, bool *covered);

uint64_t kswapd_direct_reclaim(struct kswapd *k, uint64_t want, bool *covered)
{
	uint64_t got, t0 = mono_ns() / 1000;

	*covered = false;
	if (!k || !k->started)
		return 0;
	/* counted on node 0: the fault may have wanted any node's frames */
	count(&k->node[0], KSWAPD_ALLOCSTALL, 1);
	kswapd_wake(k);
	got = shrink_guests(k, GMM_LRU_ANY_NODE, true, want, covered);
	count(&k->node[0], KSWAPD_DIRECT_RECLAIMED, got);
	count(&k->node[0], KSWAPD_ALLOCSTALL_US, mono_ns() / 1000 - t0);
	return got;
}

/* Shrink the guests' lists on node nid (GMM_LRU_ANY_NODE: all) at falling
 * priority until the node is balanced (want 0: kswapd) or want pages were
 * freed (direct reclaim); kicked: at least one round even if the
 * watermarks look fine. */
static uint64_t shrink_guests(struct kswapd *k, int nid, bool kicked, uint64_t want, bool *covered)
{
	struct vm *vms[HOST_MAX_GUESTS];
	struct gmm_pool *mm = k->host->pool->mm;
	uint64_t reclaimed;
	int n;

	/* a fault that found no frame asks for a pass even when the
	 * watermarks look fine (its order could not be had) */
#define MORE() (want ? reclaimed < want : (kicked || !node_balanced(mm, nid)))
	/* the zero reserve first: populated blocks nobody uses yet, a cache
	 * (shrink_slab() before the LRU); kswapd takes all of the node's,
	 * the refill waits for the high watermark */
	reclaimed = zero_reserve_shrink(&k->host->pool->reserve, nid, want ? want : UINT64_MAX);
	if (reclaimed) {
		count(&k->node[nid == GMM_LRU_ANY_NODE ? 0 : nid], KSWAPD_RESERVE_DRAINED, reclaimed);
		if (!MORE())
			return reclaimed;
	}
	/* a fault that found no frame: the recycled frames too, which only
	 * a swap-in could use (kswapd leaves them to the swap-ins that will
	 * come, unless the guests give nothing, below) */
	if (want) {
		reclaimed += frame_recycle_shrink(k->host->pool, nid, want - reclaimed);
		if (!MORE())
			return reclaimed;
	}
	/* balloon before swap: while guests' balloons give, or a balloon
	 * asked for filled the node while this pass waited, nothing is
	 * swapped; the next pass (the node is still short) asks again */
	reclaimed += balloon_policy_reclaim(k->host->balloon_policy, nid, want, covered);
	if (reclaimed || *covered)
		return reclaimed;
	n = host_get_all(k->host, vms, HOST_MAX_GUESTS);

	/* pass 0 leaves guests under their memory.low alone; pass 1, only if
	 * the others gave nothing, takes them too (memory.events low); no
	 * pass goes below memory.min */
	for (int pass = 0; pass < 2 && (pass == 0 || !reclaimed); pass++) {
		bool kicked_pass = kicked;

		for (int prio = KSWAPD_DEF_PRIORITY; prio >= 0 && MORE(); prio--, kicked = false) {
			/* each round starts one guest further (mem_cgroup_iter()'s
			 * reclaim cookie): a pass that ends early must not always
			 * have taken from the same guests */
			unsigned start = atomic_fetch_add(&k->next_guest, 1);
			uint64_t scan[HOST_MAX_GUESTS];
			int prot[HOST_MAX_GUESTS];
			bool more = false;

			for (int i = 0; i < n; i++) {
				struct stage2 *s2 = vms[i]->mem.s2;
				uint64_t lru;

				scan[i] = 0;
				if (!s2 || !s2->cfg.swap || vm_is_stopped(vms[i]))
					continue;
				prot[i] = stage2_reclaim_protected(s2);
				if (prot[i] > pass)
					continue;
				lru = gmm_lru_node_pages(&s2->lru, nid, LRU_INACTIVE_ANON) +
				      gmm_lru_node_pages(&s2->lru, nid, LRU_ACTIVE_ANON);
				scan[i] = lru >> prio;
				if (scan[i] < 32 && lru)
					scan[i] = lru < 32 ? lru : 32;
				more |= scan[i] != 0;
			}
			/* every guest's share a chunk at a time, in turn
			 * (shrink_lruvec() takes its lists SWAP_CLUSTER_MAX at a
			 * time for the same reason): at a low priority a share
			 * is a whole list, and a pass that took the first guest's
			 * at once was balanced before it came to the others;
			 * that guest, a third smaller, ran at half the speed for
			 * the rest of bench-overcommit */
			while (more && MORE()) {
				more = false;
				for (int j = 0; j < n && MORE(); j++) {
					int i = (int)((start + (unsigned)j) % (unsigned)n);
					struct stage2 *s2 = vms[i]->mem.s2;
					uint64_t chunk = scan[i] < KSWAPD_SCAN_CHUNK ? scan[i] : KSWAPD_SCAN_CHUNK;
					long got;

					if (!chunk)
						continue;
					scan[i] -= chunk;
					more |= scan[i] != 0;
					got = stage2_shrink_node(s2, nid, chunk);
					/* kswapd, not a fault: age ahead of the tail */
					if (!want)
						stage2_age_ahead(s2, chunk);
					if (got > 0) {
						reclaimed += (uint64_t)got;
						if (prot[i])
							atomic_fetch_add(&s2->stat[S2_MEMCG_LOW], 1);
					}
				}
			}
		}
		kicked = kicked_pass;
	}
	if (!reclaimed && MORE())
		reclaimed = frame_recycle_shrink(k->host->pool, nid, UINT64_MAX);
#undef MORE
	for (int i = 0; i < n; i++)
		host_put_guest(k->host, vms[i]);
	return reclaimed;
}

static void wait_poll(pthread_cond_t *c, pthread_mutex_t *m)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += KSWAPD_POLL_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(c, m, &ts);
}

static void *kswapd_thread(void *arg)
{
	struct kswapd_node *kn = arg;
	struct kswapd *k = kn->set;
	struct gmm_pool *mm = k->host->pool->mm;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		bool kicked = kn->kicked, need = kicked || !node_balanced(mm, kn->nid), covered;
		uint64_t got;

		if (!need) {
			uint64_t freed;

			/* quiet: recycled frames no swap-in took go back */
			pthread_mutex_unlock(&k->lock);
			freed = frame_recycle_shrink_idle(k->host->pool, kn->nid, FRAME_RECYCLE_IDLE_MS);
			pthread_mutex_lock(&k->lock);
			/* a wake-up while the lock was dropped: look again */
			if (!freed && !k->stop && !kn->kicked && node_balanced(mm, kn->nid))
				wait_poll(&kn->wake, &k->lock);
			continue;
		}
		kn->kicked = false;
		kn->passes_started++;
		pthread_mutex_unlock(&k->lock);
		got = shrink_guests(k, kn->nid, kicked, 0, &covered);
		count(kn, KSWAPD_PASSES, 1);
		count(kn, got ? KSWAPD_RECLAIMED : KSWAPD_FAILED_PASSES, got ? got : 1);
		pthread_mutex_lock(&k->lock);
		kn->passes_done = kn->passes_started;
		pthread_cond_broadcast(&k->progress);
		if (!got && !kn->kicked)
			wait_poll(&kn->wake, &k->lock); /* nothing to take: do not spin */
	}
	pthread_cond_broadcast(&k->progress);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kswapd_start(struct kswapd *k, struct host *h)
{
	memset(k, 0, sizeof(*k));
	k->host = h;
	k->nr_nodes = h->pool->mm->nr_nodes > 0 ? h->pool->mm->nr_nodes : 1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->progress, NULL);
	for (int nid = 0; nid < k->nr_nodes; nid++) {
		struct kswapd_node *kn = &k->node[nid];
		char name[16];

		kn->set = k;
		kn->nid = nid;
		pthread_cond_init(&kn->wake, NULL);
		if (pthread_create(&kn->thread, NULL, kswapd_thread, kn)) {
			kswapd_stop(k);
			return -EAGAIN;
		}
		kn->started = true;
		k->started = true;
		snprintf(name, sizeof(name), "gmm-kswapd%d", nid % GMM_MAX_NODES);
		pthread_setname_np(kn->thread, name);
	}
	return 0;
}

void kswapd_stop(struct kswapd *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	for (int nid = 0; nid < k->nr_nodes; nid++)
		pthread_cond_broadcast(&k->node[nid].wake);
	pthread_mutex_unlock(&k->lock);
	for (int nid = 0; nid < k->nr_nodes; nid++)
		if (k->node[nid].started) {
			pthread_join(k->node[nid].thread, NULL);
			k->node[nid].started = false;
		}
	k->started = false;
}

/* force: a fault found no frame, a pass runs even if the watermarks look
 * fine (the order it wanted could not be had); otherwise the thread only
 * looks, and works if its node is below the high watermark */
static void wake_node(struct kswapd *k, int nid, bool force)
{
	struct kswapd_node *kn;

	if (!k || !k->started || nid < 0 || nid >= k->nr_nodes)
		return;
	kn = &k->node[nid];
	count(kn, KSWAPD_WAKEUPS, 1);
	pthread_mutex_lock(&k->lock);
	kn->kicked |= force;
	pthread_cond_signal(&kn->wake);
	pthread_mutex_unlock(&k->lock);
}

void kswapd_wake_node(struct kswapd *k, int nid)
{
	/* wakeup_kswapd(): a balanced node's kswapd is left asleep */
	if (k && k->started && !node_balanced(k->host->pool->mm, nid))
		wake_node(k, nid, false);
}

void kswapd_wake(struct kswapd *k)
{
	for (int nid = 0; k && nid < k->nr_nodes; nid++)
		wake_node(k, nid, true);
}

bool kswapd_reclaim_wait(struct kswapd *k, unsigned timeout_ms)
{
	uint64_t want[GMM_MAX_NODES], got_before, t0;
	struct timespec ts;
	bool done = false;

	if (!k || !k->started)
		return false;
	t0 = mono_ns() / 1000;
	count(&k->node[0], KSWAPD_ALLOCSTALL, 1);
	got_before = kswapd_stat(k, KSWAPD_RECLAIMED);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&k->lock);
	/* each node's next pass to start: one running now may have looked
	 * too early; the first of them to end is enough */
	for (int nid = 0; nid < k->nr_nodes; nid++) {
		want[nid] = k->node[nid].passes_started + 1;
		k->node[nid].kicked = true;
		pthread_cond_signal(&k->node[nid].wake);
	}
	while (!k->stop && !done) {
		for (int nid = 0; nid < k->nr_nodes; nid++)
			done |= k->node[nid].passes_done >= want[nid];
		if (!done && pthread_cond_timedwait(&k->progress, &k->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&k->lock);
	count(&k->node[0], KSWAPD_ALLOCSTALL_US, mono_ns() / 1000 - t0);
	return kswapd_stat(k, KSWAPD_RECLAIMED) > got_before;
}
