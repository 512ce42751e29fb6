/* See zero_reserve.h. */
#include "vmm/zero_reserve.h"

#include <errno.h>
#include <string.h>

#include "guestmm/buddy.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"

#define BLOCK_ORDER 9
#define BLOCK_FRAMES (1UL << BLOCK_ORDER)

/* The kind most below its target, or -1 when every wanted stack is full. */
static int neediest_kind(struct zero_reserve *zr)
{
	int best = -1;

	for (int k = 0; k < NR_ZERO_KINDS; k++) {
		struct zero_stack *s = &zr->kind[k];

		if (s->wanted && s->nr < zr->max_blocks && (best < 0 || s->nr < zr->kind[best].nr))
			best = k;
	}
	return best;
}

/*
 * One block: allocated from the buddy without dipping into the watermark
 * reserves (no __GFP_HIGH, no reclaim: the reserve must never be what
 * pushes the pool into reclaim), then populated with no lock held.
 */
static bool refill_one(struct zero_reserve *zr, int kind)
{
	pfn_t pfn = gmm_alloc_frames(zr->hp->mm, BLOCK_ORDER, __GFP_MOVABLE | __GFP_NOWARN, 0);

	if (pfn == GMM_PFN_NONE)
		return false;
	if (host_pool_populate(zr->hp, pfn, BLOCK_FRAMES, kind == ZERO_HUGE)) {
		host_pool_free(zr->hp, pfn, BLOCK_ORDER);
		return false;
	}
	pthread_mutex_lock(&zr->lock);
	zr->kind[kind].blocks[zr->kind[kind].nr++] = pfn;
	zr->kind[kind].refills++;
	pthread_mutex_unlock(&zr->lock);
	return true;
}

static void *zero_reserve_thread(void *arg)
{
	struct zero_reserve *zr = arg;

	pthread_mutex_lock(&zr->lock);
	while (!zr->stop) {
		int kind = neediest_kind(zr);
		bool ok;

		if (kind < 0) {
			pthread_cond_wait(&zr->work, &zr->lock);
			continue;
		}
		pthread_mutex_unlock(&zr->lock);
		ok = refill_one(zr, kind);
		pthread_mutex_lock(&zr->lock);
		if (!ok && !zr->stop) {
			/* pool low: wait for a take (or stop) before trying again,
			 * rather than spin against the watermark */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&zr->work, &zr->lock, &ts);
		}
	}
	pthread_mutex_unlock(&zr->lock);
	return NULL;
}

int zero_reserve_start(struct zero_reserve *zr, struct host_pool *hp, uint64_t reserve_bytes)
{
	memset(zr, 0, sizeof(*zr));
	zr->hp = hp;
	zr->max_blocks = (int)(reserve_bytes >> (BLOCK_ORDER + GMM_FRAME_SHIFT));
	if (zr->max_blocks > ZERO_RESERVE_MAX_BLOCKS)
		zr->max_blocks = ZERO_RESERVE_MAX_BLOCKS;
	pthread_mutex_init(&zr->lock, NULL);
	pthread_cond_init(&zr->work, NULL);
	if (!zr->max_blocks)
		return 0;
	if (pthread_create(&zr->thread, NULL, zero_reserve_thread, zr))
		return -EAGAIN;
	pthread_setname_np(zr->thread, "gmm-zero");
	zr->started = true;
	return 0;
}

void zero_reserve_stop(struct zero_reserve *zr)
{
	if (!zr->hp)
		return;
	pthread_mutex_lock(&zr->lock);
	zr->stop = true;
	pthread_cond_broadcast(&zr->work);
	pthread_mutex_unlock(&zr->lock);
	if (zr->started)
		pthread_join(zr->thread, NULL);
	zr->started = false;
	for (int k = 0; k < NR_ZERO_KINDS; k++) {
		while (zr->kind[k].nr)
			host_pool_free(zr->hp, zr->kind[k].blocks[--zr->kind[k].nr], BLOCK_ORDER);
	}
	pthread_cond_destroy(&zr->work);
	pthread_mutex_destroy(&zr->lock);
	zr->hp = NULL;
}

void zero_reserve_want(struct zero_reserve *zr, enum zero_kind kind)
{
	if (!zr->hp)
		return;
	pthread_mutex_lock(&zr->lock);
	zr->kind[kind].wanted = true;
	pthread_cond_signal(&zr->work);
	pthread_mutex_unlock(&zr->lock);
}

pfn_t zero_reserve_take(struct zero_reserve *zr, enum zero_kind kind)
{
	struct zero_stack *s = &zr->kind[kind];
	pfn_t pfn = GMM_PFN_NONE;

	if (!zr->hp || !zr->max_blocks)
		return GMM_PFN_NONE;
	pthread_mutex_lock(&zr->lock);
	if (s->nr) {
		pfn = s->blocks[--s->nr];
		s->hits++;
	} else {
		s->misses++;
	}
	if (s->nr <= zr->max_blocks / 2)
		pthread_cond_signal(&zr->work);
	pthread_mutex_unlock(&zr->lock);
	return pfn;
}

uint64_t zero_reserve_bytes(struct zero_reserve *zr)
{
	uint64_t n = 0;

	if (!zr->hp)
		return 0;
	pthread_mutex_lock(&zr->lock);
	for (int k = 0; k < NR_ZERO_KINDS; k++)
		n += zr->kind[k].nr;
	pthread_mutex_unlock(&zr->lock);
	return n << (BLOCK_ORDER + GMM_FRAME_SHIFT);
}
