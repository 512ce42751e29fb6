/* The host pool's reclaim thread; see kswapd.h. */
#include "vmm/kswapd.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "guestmm/pool.h"
#include "guestmm/zone.h"
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
};

static void count(struct kswapd *k, enum kswapd_stat_item i, uint64_t n)
{
	atomic_fetch_add_explicit(&k->stat[i], n, memory_order_relaxed);
}

/* pgdat_balanced(): every zone above its high watermark plus 1% of it (at
 * least a 2 MiB block), so a pass frees room for a burst of faults. */
static bool pool_balanced(struct gmm_pool *mm)
{
	for (int i = 0; i < mm->nr_zones; i++) {
		struct gmm_zone *z = &mm->zones[i];

		unsigned long extra = z->managed_pages / 100 > KSWAPD_EXTRA_FRAMES ? z->managed_pages / 100 :
										      KSWAPD_EXTRA_FRAMES;

		if (z->managed_pages && zone_free_pages(z) < (long)(wmark_pages(z, WMARK_HIGH) + extra))
			return false;
	}
	return true;
}

/* One pass of balance_pgdat(): shrink every guest with swap, in proportion
 * to its lists, at falling priority until the pool is balanced. */
static uint64_t shrink_guests(struct kswapd *k, bool kicked, uint64_t want);

static uint64_t balance_pool(struct kswapd *k, bool kicked)
{
	return shrink_guests(k, kicked, 0);
}

uint64_t kswapd_direct_reclaim(struct kswapd *k, uint64_t want)
{
	uint64_t got;

	if (!k || !k->started)
		return 0;
	count(k, KSWAPD_ALLOCSTALL, 1);
	kswapd_wake(k);
	got = shrink_guests(k, true, want);
	count(k, KSWAPD_DIRECT_RECLAIMED, got);
	return got;
}

/* Shrink the guests at falling priority until the pool is balanced (want
 * 0: kswapd) or want pages were freed (direct reclaim); kicked: at least
 * one round even if the watermarks look fine. */
static uint64_t shrink_guests(struct kswapd *k, bool kicked, uint64_t want)
{
	struct vm *vms[HOST_MAX_GUESTS];
	struct gmm_pool *mm = k->host->pool->mm;
	uint64_t reclaimed = 0;
	int n = host_get_all(k->host, vms, HOST_MAX_GUESTS);

	/* a fault that found no frame asks for a pass even when the
	 * watermarks look fine (its order could not be had) */
#define MORE() (want ? reclaimed < want : (kicked || !pool_balanced(mm)))
	/* pass 0 leaves guests under their memory.low alone; pass 1, only if
	 * the others gave nothing, takes them too (memory.events low); no
	 * pass goes below memory.min */
	for (int pass = 0; pass < 2 && (pass == 0 || !reclaimed); pass++) {
		bool kicked_pass = kicked;

		for (int prio = KSWAPD_DEF_PRIORITY; prio >= 0 && MORE(); prio--, kicked = false) {
			for (int i = 0; i < n && MORE(); i++) {
				struct stage2 *s2 = vms[i]->mem.s2;
				uint64_t lru, scan;
				int prot;
				long got;

				if (!s2 || !s2->cfg.swap || vm_is_stopped(vms[i]))
					continue;
				prot = stage2_reclaim_protected(s2);
				if (prot > pass)
					continue;
				lru = gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON) +
				      gmm_lru_pages(&s2->lru, LRU_ACTIVE_ANON);
				scan = lru >> prio;
				if (scan < 32 && lru)
					scan = lru < 32 ? lru : 32;
				got = stage2_shrink(s2, scan);
				if (got > 0) {
					reclaimed += (uint64_t)got;
					if (prot)
						atomic_fetch_add(&s2->stat[S2_MEMCG_LOW], 1);
				}
			}
		}
		kicked = kicked_pass;
	}
#undef MORE
	for (int i = 0; i < n; i++)
		host_put_guest(k->host, vms[i]);
	return reclaimed;
}

static void *kswapd_thread(void *arg)
{
	struct kswapd *k = arg;
	struct gmm_pool *mm = k->host->pool->mm;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		bool kicked = k->kicked, need = kicked || !pool_balanced(mm);
		uint64_t got;

		if (!need) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += KSWAPD_POLL_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&k->wake, &k->lock, &ts);
			continue;
		}
		k->kicked = false;
		k->passes_started++;
		pthread_mutex_unlock(&k->lock);
		got = balance_pool(k, kicked);
		count(k, KSWAPD_PASSES, 1);
		count(k, got ? KSWAPD_RECLAIMED : KSWAPD_FAILED_PASSES, got ? got : 1);
		pthread_mutex_lock(&k->lock);
		k->passes_done = k->passes_started;
		pthread_cond_broadcast(&k->progress);
		if (!got && !k->kicked) {
			/* nothing to take: do not spin; a kick or the poll comes back */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += KSWAPD_POLL_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&k->wake, &k->lock, &ts);
		}
	}
	pthread_cond_broadcast(&k->progress);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kswapd_start(struct kswapd *k, struct host *h)
{
	memset(k, 0, sizeof(*k));
	k->host = h;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->wake, NULL);
	pthread_cond_init(&k->progress, NULL);
	if (pthread_create(&k->thread, NULL, kswapd_thread, k))
		return -EAGAIN;
	pthread_setname_np(k->thread, "gmm-kswapd");
	k->started = true;
	return 0;
}

void kswapd_stop(struct kswapd *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_broadcast(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->started = false;
}

void kswapd_wake(struct kswapd *k)
{
	if (!k || !k->started)
		return;
	count(k, KSWAPD_WAKEUPS, 1);
	pthread_mutex_lock(&k->lock);
	k->kicked = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
}

bool kswapd_reclaim_wait(struct kswapd *k, unsigned timeout_ms)
{
	uint64_t want, got_before;
	struct timespec ts;
	bool progressed;

	if (!k || !k->started)
		return false;
	count(k, KSWAPD_ALLOCSTALL, 1);
	got_before = atomic_load(&k->stat[KSWAPD_RECLAIMED]);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&k->lock);
	/* the next pass to start: one running now may have looked too early */
	want = k->passes_started + 1;
	k->kicked = true;
	pthread_cond_signal(&k->wake);
	while (!k->stop && k->passes_done < want)
		if (pthread_cond_timedwait(&k->progress, &k->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&k->lock);
	progressed = atomic_load(&k->stat[KSWAPD_RECLAIMED]) > got_before;
	return progressed;
}
