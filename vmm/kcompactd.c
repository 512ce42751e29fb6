/* The host pool's compaction threads; see kcompactd.h. */
#include "vmm/kcompactd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmm/config.h"
#include "vmm/host_pool.h"

static void timespec_add_ms(struct timespec *ts, unsigned ms)
{
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	ts->tv_sec += ms / 1000 + ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

static bool reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/*
 * kcompactd(): sleep until kicked or the next proactive tick; then one
 * step. A wake that comes while a step runs sets the order again in
 * guestmm (kcompactd_work_requested()), so it is never lost.
 */
/* A zone of the node below its high watermark: reclaim is (or is about
 * to be) at work there. */
static bool node_under_pressure(struct gmm_pool *mm, int nid)
{
	for (int i = 0; i < mm->nr_zones; i++) {
		struct gmm_zone *z = &mm->zones[i];

		if (z->nid == nid && z->managed_pages && zone_free_pages(z) < (long)wmark_pages(z, WMARK_HIGH))
			return true;
	}
	return false;
}

static void *kcompactd_thread(void *arg)
{
	struct kcompactd_node *kn = arg;
	struct kcompactd *k = kn->set;
	struct timespec now, next_tick;

	clock_gettime(CLOCK_MONOTONIC, &next_tick);
	timespec_add_ms(&next_tick, HPAGE_FRAG_CHECK_INTERVAL_MSEC);
	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		bool tick;

		clock_gettime(CLOCK_MONOTONIC, &now);
		tick = reached(&now, &next_tick);
		if (!tick && !kn->kicked && !kcompactd_work_requested(&k->state, kn->nid)) {
			pthread_cond_timedwait(&kn->wake, &k->lock, &next_tick);
			continue;
		}
		if (tick) {
			next_tick = now;
			timespec_add_ms(&next_tick, HPAGE_FRAG_CHECK_INTERVAL_MSEC);
		}
		kn->kicked = false;
		pthread_mutex_unlock(&k->lock);
		/* proactive compaction stands aside while the node is short of
		 * memory: reclaim's turn (the kernel skips it while kswapd runs),
		 * and moving pages reclaim is aging would only churn */
		if (tick && node_under_pressure(k->hp->mm, kn->nid))
			tick = false;
		switch (kcompactd_step(&k->state, kn->nid, tick)) {
		case KCOMPACTD_DEMAND:
			atomic_fetch_add_explicit(&kn->demand_runs, 1, memory_order_relaxed);
			break;
		case KCOMPACTD_PROACTIVE:
			atomic_fetch_add_explicit(&kn->proactive_runs, 1, memory_order_relaxed);
			break;
		case KCOMPACTD_IDLE:
			break;
		}
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kcompactd_start(struct kcompactd *k, struct host_pool *hp, const struct compaction_config *cfg)
{
	pthread_condattr_t ca;

	memset(k, 0, sizeof(*k));
	k->hp = hp;
	k->nr_nodes = hp->mm->nr_nodes > 0 ? hp->mm->nr_nodes : 1;
	kcompactd_init(&k->state, hp->mm, cfg ? (unsigned)cfg->proactiveness : COMPACT_PROACTIVENESS_DEFAULT);
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int nid = 0; nid < k->nr_nodes; nid++) {
		struct kcompactd_node *kn = &k->node[nid];
		char name[16];

		kn->set = k;
		kn->nid = nid;
		pthread_cond_init(&kn->wake, &ca);
		if (pthread_create(&kn->thread, NULL, kcompactd_thread, kn)) {
			pthread_condattr_destroy(&ca);
			kcompactd_stop(k);
			return -EAGAIN;
		}
		kn->started = true;
		k->started = true;
		snprintf(name, sizeof(name), "gmm-kcompactd%d", nid % GMM_MAX_NODES);
		pthread_setname_np(kn->thread, name);
	}
	pthread_condattr_destroy(&ca);
	return 0;
}

void kcompactd_stop(struct kcompactd *k)
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

void kcompactd_wake(struct kcompactd *k, int nid, unsigned order)
{
	uint64_t nodes;

	if (!k || !k->started)
		return;
	nodes = wakeup_kcompactd(&k->state, nid, order);
	if (!nodes)
		return;
	pthread_mutex_lock(&k->lock);
	for (int n = 0; n < k->nr_nodes; n++)
		if (nodes & (1ULL << n)) {
			k->node[n].kicked = true;
			pthread_cond_signal(&k->node[n].wake);
		}
	pthread_mutex_unlock(&k->lock);
}

void kcompactd_wake_if_failed(struct host_pool *hp, pfn_t pfn, int nid, unsigned order)
{
	if (pfn == GMM_PFN_NONE)
		kcompactd_wake(atomic_load_explicit(&hp->kcompactd, memory_order_acquire), nid, order);
}
