/*
 * Per-guest limits, memcg's knobs for a guest (mm/memcontrol.c): the
 * charge is the guest's resident pages; memory.max is kept by reclaiming
 * the guest itself before a fault maps more, and when reclaim cannot keep
 * it the guest alone is stopped (an OOM kill inside the limit);
 * memory.high throttles: a fault that leaves the guest above it reclaims
 * the guest before the next one; memory.low and memory.min protect the
 * guest from global reclaim (kswapd.c asks stage2_reclaim_protected());
 * memory.swap.max caps its pages in swap (stage2_swap.c).
 */
#include "vmm/stage2.h"

#include <errno.h>

#include "vmm/stage2_internal.h"

#define LIMIT_RECLAIM_TRIES 8
#define LIMIT_RECLAIM_SLACK 32 /* reclaim this far below the limit: SWAP_CLUSTER_MAX */

static uint64_t charge(struct stage2 *s2)
{
	return atomic_load(&s2->resident_frames);
}

/* Reclaim the guest itself down to target pages (lock held, let go of
 * around the shrink). False if the guest went away meanwhile. */
static bool reclaim_self(struct stage2 *s2, uint64_t target, long *freed)
{
	uint64_t now = charge(s2);

	*freed = 0;
	if (now <= target || !s2->cfg.swap)
		return true;
	pthread_mutex_unlock(&s2->lock);
	*freed = stage2_shrink(s2, now - target + LIMIT_RECLAIM_SLACK);
	pthread_mutex_lock(&s2->lock);
	return s2->ept && !s2->dead && !s2->stopping;
}

int limits_charge(struct stage2 *s2)
{
	bool counted = false;

	for (int fruitless = 0; fruitless < LIMIT_RECLAIM_TRIES;) {
		uint64_t max = s2->cfg.limits.max;
		long freed;

		if (max == STAGE2_LIMIT_NONE || charge(s2) < max)
			return 0;
		if (!counted) {
			s2_count(s2, S2_MEMCG_MAX, 1);
			counted = true;
		}
		if (!s2->cfg.swap)
			break;
		if (!reclaim_self(s2, max > LIMIT_RECLAIM_SLACK ? max - LIMIT_RECLAIM_SLACK : 0, &freed))
			return -ENODEV;
		fruitless = freed > 0 ? 0 : fruitless + 1;
	}
	s2_count(s2, S2_MEMCG_OOM, 1);
	s2_count(s2, S2_MEMCG_OOM_KILL, 1);
	return -EDQUOT;
}

void limits_high(struct stage2 *s2)
{
	uint64_t high = s2->cfg.limits.high;
	long freed;

	if (high == STAGE2_LIMIT_NONE || charge(s2) <= high)
		return;
	s2_count(s2, S2_MEMCG_HIGH, 1);
	reclaim_self(s2, high, &freed);
}

int stage2_set_limits(struct stage2 *s2, const struct stage2_limits *l)
{
	uint64_t target;
	long freed;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping) {
		pthread_mutex_unlock(&s2->lock);
		return -ENODEV;
	}
	s2->cfg.limits = *l;
	/* writing memory.max or memory.high below the usage reclaims now */
	target = l->max < l->high ? l->max : l->high;
	if (target != STAGE2_LIMIT_NONE)
		for (int i = 0; i < LIMIT_RECLAIM_TRIES && charge(s2) > target; i++)
			if (!reclaim_self(s2, target, &freed) || !freed)
				break;
	pthread_mutex_unlock(&s2->lock);
	return 0;
}

void stage2_get_limits(struct stage2 *s2, struct stage2_limits *l)
{
	pthread_mutex_lock(&s2->lock);
	*l = s2->cfg.limits;
	pthread_mutex_unlock(&s2->lock);
}

int stage2_reclaim_protected(struct stage2 *s2)
{
	uint64_t now = charge(s2);

	if (s2->cfg.limits.min != STAGE2_LIMIT_NONE && now <= s2->cfg.limits.min)
		return 2;
	if (s2->cfg.limits.low != STAGE2_LIMIT_NONE && now <= s2->cfg.limits.low)
		return 1;
	return 0;
}
