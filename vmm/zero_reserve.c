/* See zero_reserve.h. */
#include "vmm/zero_reserve.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "guestmm/buddy.h"
#include "guestmm/lru.h"
#include "vmm/host_pool.h"
#include "vmm/kswapd.h"

#define BLOCK_ORDER 9
#define BLOCK_FRAMES (1UL << BLOCK_ORDER)
#define TAKE_WAIT_NS (5 * 1000 * 1000L)

/*
 * May the reserve take a block? Only while the pool stays balanced for
 * kswapd with the block taken: below that kswapd is freeing memory, or
 * is about to, and would give the block straight back (or swap 512 guest
 * pages out for it). The buddy's own check would let the take go down to
 * the min watermark.
 */
static bool room_for_block(struct gmm_pool *mm)
{
	return kswapd_node_balanced_after(mm, GMM_LRU_ANY_NODE, BLOCK_FRAMES);
}

/*
 * One block: allocated from the buddy without dipping into the watermark
 * reserves (no __GFP_HIGH, no reclaim: the reserve must never be what
 * pushes the pool into reclaim), then populated with no lock held.
 */
static bool refill_one(struct zero_reserve *zr)
{
	pfn_t pfn;

	if (!room_for_block(zr->hp->mm))
		return false;
	pfn = gmm_alloc_frames(zr->hp->mm, BLOCK_ORDER, __GFP_MOVABLE | __GFP_NOWARN, 0);
	/* no kcompactd wake here: the reserve is a cache, and compacting
	 * for it under memory pressure only takes free frames from reclaim
	 * (a THP fault that finds no block wakes it, stage2.c) */
	if (pfn == GMM_PFN_NONE)
		return false;
	if (host_pool_populate(zr->hp, pfn, BLOCK_FRAMES)) {
		host_pool_free(zr->hp, pfn, BLOCK_ORDER);
		return false;
	}
	pthread_mutex_lock(&zr->lock);
	zr->blocks[zr->nr++] = pfn;
	zr->refills++;
	pthread_cond_broadcast(&zr->filled);
	pthread_mutex_unlock(&zr->lock);
	return true;
}

/* Called with the lock held: sleep up to 100 ms or until woken. */
static void wait_a_while(struct zero_reserve *zr)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&zr->work, &zr->lock, &ts);
}

/* After a take, with the lock held: below half full, wake the thread. Not
 * one whose last refill failed (the pool is short): it retries on its own
 * clock (wait_a_while()), where woken by every take under reclaim it only
 * failed again, two futex calls and a buddy-lock round per fault. */
static void refill_kick_locked(struct zero_reserve *zr)
{
	if (zr->nr <= zr->max_blocks / 2 && !zr->failing)
		pthread_cond_signal(&zr->work);
}

static void *zero_reserve_thread(void *arg)
{
	struct zero_reserve *zr = arg;

	pthread_mutex_lock(&zr->lock);
	while (!zr->stop) {
		bool ok;

		if (!zr->wanted || zr->nr >= zr->max_blocks || (zr->resting && zr->nr > zr->max_blocks / 2)) {
			pthread_cond_wait(&zr->work, &zr->lock);
			continue;
		}
		zr->resting = false;
		pthread_mutex_unlock(&zr->lock);
		ok = refill_one(zr);
		pthread_mutex_lock(&zr->lock);
		if (zr->nr >= zr->max_blocks)
			zr->resting = true; /* full: rest until half gone (the watermark) */
		zr->failing = !ok;
		if (!ok && !zr->stop) {
			/* the pool is low: try again in a while (or at stop)
			 * rather than spin against the watermark */
			zr->refill_failures++;
			wait_a_while(zr);
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
	pthread_cond_init(&zr->filled, NULL);
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
	while (zr->nr)
		host_pool_free(zr->hp, zr->blocks[--zr->nr], BLOCK_ORDER);
	pthread_cond_destroy(&zr->work);
	pthread_cond_destroy(&zr->filled);
	pthread_mutex_destroy(&zr->lock);
	zr->hp = NULL;
}

void zero_reserve_want(struct zero_reserve *zr)
{
	if (!zr->hp)
		return;
	pthread_mutex_lock(&zr->lock);
	zr->wanted = true;
	pthread_cond_signal(&zr->work);
	pthread_mutex_unlock(&zr->lock);
}

pfn_t zero_reserve_take(struct zero_reserve *zr)
{
	pfn_t pfn = GMM_PFN_NONE;

	if (!zr->hp || !zr->max_blocks)
		return GMM_PFN_NONE;
	pthread_mutex_lock(&zr->lock);
	if (!zr->nr && !zr->failing && zr->wanted && !zr->stop) {
		/* The thread is producing: a block is a few hundred us away,
		 * cheaper than populating one here, which would also contend
		 * with it for the file's lock. Wait a little, not forever. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TAKE_WAIT_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		zr->resting = false;
		pthread_cond_signal(&zr->work);
		zr->waits++;
		while (!zr->nr && !zr->failing && !zr->stop &&
		       pthread_cond_timedwait(&zr->filled, &zr->lock, &ts) != ETIMEDOUT)
			;
	}
	if (zr->nr) {
		pfn = zr->blocks[--zr->nr];
		zr->hits++;
	} else {
		zr->misses++;
	}
	refill_kick_locked(zr);
	pthread_mutex_unlock(&zr->lock);
	return pfn;
}

pfn_t zero_reserve_take_node(struct zero_reserve *zr, int nid)
{
	struct gmm_pool *mm;
	pfn_t pfn = GMM_PFN_NONE;

	if (nid < 0 || !zr->hp || zr->hp->mm->nr_nodes == 1)
		return zero_reserve_take(zr);
	if (!zr->max_blocks)
		return GMM_PFN_NONE;
	mm = zr->hp->mm;
	pthread_mutex_lock(&zr->lock);
	for (int i = zr->nr - 1; i >= 0; i--) {
		if (frame_nid(mm, pfn_to_frame(mm, zr->blocks[i])) != nid)
			continue;
		pfn = zr->blocks[i];
		zr->blocks[i] = zr->blocks[--zr->nr];
		break;
	}
	if (pfn != GMM_PFN_NONE)
		zr->hits++;
	else
		zr->misses++;
	refill_kick_locked(zr);
	pthread_mutex_unlock(&zr->lock);
	return pfn;
}

uint64_t zero_reserve_bytes(struct zero_reserve *zr)
{
	uint64_t n;

	if (!zr->hp)
		return 0;
	pthread_mutex_lock(&zr->lock);
	n = (uint64_t)zr->nr;
	pthread_mutex_unlock(&zr->lock);
	return n << (BLOCK_ORDER + GMM_FRAME_SHIFT);
}

uint64_t zero_reserve_shrink(struct zero_reserve *zr, int nid, uint64_t nr_frames)
{
	pfn_t give[ZERO_RESERVE_MAX_BLOCKS];
	uint64_t freed = 0;
	int n = 0;

	if (!zr->hp || !zr->max_blocks)
		return 0;
	pthread_mutex_lock(&zr->lock);
	for (int i = zr->nr - 1; i >= 0 && freed < nr_frames; i--) {
		if (nid >= 0 && frame_nid(zr->hp->mm, pfn_to_frame(zr->hp->mm, zr->blocks[i])) != nid)
			continue;
		give[n++] = zr->blocks[i];
		zr->blocks[i] = zr->blocks[--zr->nr];
		freed += BLOCK_FRAMES;
	}
	zr->drained += (uint64_t)n;
	pthread_mutex_unlock(&zr->lock);
	/* punched and back in the buddy, with no lock of ours held */
	for (int i = 0; i < n; i++)
		host_pool_free(zr->hp, give[i], BLOCK_ORDER);
	return freed;
}
