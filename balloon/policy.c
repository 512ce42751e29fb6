/*
 * Balloon before swap (policy.h). The sizing follows what a guest said
 * last: free memory F when its balloon held A pages; with target T now,
 * the guest can still spare F + A - T, less a margin it keeps for itself
 * (the kernel's min_free_kbytes in spirit): max(4 MiB, RAM/32).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "balloon/balloon_dev.h"
#include "balloon/policy.h"
#include "guestmm/lru.h"
#include "guestmm/pool.h"
#include "guestmm/zone.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/kswapd.h"
#include "vmm/periodic.h"
#include "vmm/vm.h"

const char *const balloon_policy_stat_names[NR_BPOL_STATS] = {
	[BPOL_INFLATE_REQUESTS] = "balloon_auto_inflate_requests",
	[BPOL_INFLATE_PAGES] = "balloon_auto_inflate_pages",
	[BPOL_DEFLATE_REQUESTS] = "balloon_auto_deflate_requests",
	[BPOL_DEFLATE_PAGES] = "balloon_auto_deflate_pages",
	[BPOL_RECLAIM_WAITS] = "balloon_reclaim_waits",
	[BPOL_RECLAIM_PAGES] = "balloon_reclaim_pages",
	[BPOL_SWAP_AVOIDED] = "balloon_swap_avoided",
	[BPOL_RECLAIM_TIMEOUTS] = "balloon_reclaim_timeouts",
};

static void count(struct balloon_policy *p, enum balloon_policy_stat i, uint64_t n)
{
	atomic_fetch_add_explicit(&p->stat[i], n, memory_order_relaxed);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Frames node nid (any: all) lacks to reach its high watermarks
 * (kswapd's target, kswapd_node_balanced_after()), and the frames it has
 * beyond them. */
static void node_balance(struct gmm_pool *mm, int nid, uint64_t *short_by, uint64_t *beyond)
{
	*short_by = *beyond = 0;
	for (int i = 0; i < mm->nr_zones; i++) {
		struct gmm_zone *z = &mm->zones[i];
		long free = zone_free_pages(z), want = (long)wmark_pages(z, WMARK_HIGH);

		if (!z->managed_pages || (z->nid != nid && nid != GMM_LRU_ANY_NODE))
			continue;
		if (free < want)
			*short_by += (uint64_t)(want - free);
		else
			*beyond += (uint64_t)(free - want);
	}
}

/* Pages an auto guest can still give; asks for fresh figures when they
 * are old. 0 for anyone else (*bi then says inactive). */
static uint64_t spare_pages(struct vm *vm, struct balloon_info *bi)
{
	uint64_t free, margin, ram = vm->cfg.mem_bytes >> 12, have;
	struct balloon_guest_stats *gs = &bi->gstats;

	memset(bi, 0, sizeof(*bi));
	if (!vm->balloon || !vm->cfg.balloon.auto_mode || vm_is_stopped(vm))
		return 0;
	balloon_get_info(vm->balloon, bi);
	if (!bi->active)
		return 0;
	if (!gs->updated_ns || now_ms() - gs->updated_ns / 1000000 > BALLOON_STATS_MAX_AGE_MS)
		balloon_request_stats(vm->balloon, 0);
	if (!gs->valid[VIRTIO_BALLOON_S_MEMFREE])
		return 0;
	free = gs->val[VIRTIO_BALLOON_S_MEMFREE] >> 12;
	margin = ram / 32 > 1024 ? ram / 32 : 1024;
	have = free + gs->actual_at_update;
	return have > bi->target_pages + margin ? have - bi->target_pages - margin : 0;
}

uint64_t balloon_policy_reclaim(struct balloon_policy *p, int nid, uint64_t want, bool *covered)
{
	struct vm *vms[HOST_MAX_GUESTS];
	struct balloon_info bi;
	struct gmm_pool *mm;
	uint64_t asked = 0, in_flight = 0, before = 0, after = 0, moved, short_by, beyond, got;
	uint64_t start, deadline, hard_deadline;
	int n;

	*covered = false;
	if (!p || !p->thread.started)
		return 0;
	mm = p->host->pool->mm;
	if (!want) {
		node_balance(mm, nid, &short_by, &beyond);
		want = short_by;
	}
	if (!want)
		return 0;
	/* deflate_step() holds off while this is recent */
	atomic_store(&p->pressure_ms, now_ms());
	n = host_get_all(p->host, vms, HOST_MAX_GUESTS);
	for (int i = 0; i < n; i++) {
		uint64_t spare = spare_pages(vms[i], &bi), ask;

		if (!bi.active || !vms[i]->cfg.balloon.auto_mode)
			continue;
		before += bi.actual_pages;
		if (bi.target_pages > bi.actual_pages)
			in_flight += bi.target_pages - bi.actual_pages;
		ask = asked + in_flight >= want ? 0 : want - asked - in_flight;
		ask = ask < spare ? ask : spare;
		if (ask && !balloon_set_target(vms[i]->balloon, bi.target_pages + ask)) {
			atomic_fetch_add(&vms[i]->balloon_auto_pages, ask);
			asked += ask;
			count(p, BPOL_INFLATE_REQUESTS, 1);
			count(p, BPOL_INFLATE_PAGES, ask);
		}
	}
	if (!asked && !in_flight)
		goto out;
	/* wait for the balloons: until the node is balanced again or the
	 * targets are met. A balloon gives in batches (the driver says
	 * `actual` once the device has taken a whole request), so a slow
	 * one may show nothing for a while: the wait is renewed after every
	 * move, up to a cap; only one that stops moving sends reclaim on to
	 * swap (a guest that never answers holds reclaim up only once) */
	count(p, BPOL_RECLAIM_WAITS, 1);
	start = now_ms();
	deadline = start + BALLOON_RECLAIM_WAIT_MS;
	hard_deadline = start + BALLOON_RECLAIM_MAX_WAIT_MS;
	moved = before;
	for (;;) {
		bool reached = true;
		uint64_t now;

		after = 0;
		for (int i = 0; i < n; i++) {
			if (!vms[i]->balloon || !vms[i]->cfg.balloon.auto_mode)
				continue;
			balloon_get_info(vms[i]->balloon, &bi);
			if (!bi.active)
				continue;
			after += bi.actual_pages;
			reached &= bi.actual_pages >= bi.target_pages;
		}
		node_balance(mm, nid, &short_by, &beyond);
		if (!short_by || reached)
			break;
		now = now_ms();
		if (after > moved) {
			moved = after;
			deadline = now + BALLOON_RECLAIM_WAIT_MS < hard_deadline ? now + BALLOON_RECLAIM_WAIT_MS :
										    hard_deadline;
		}
		if (now >= deadline) {
			count(p, BPOL_RECLAIM_TIMEOUTS, 1);
			break;
		}
		usleep(2000);
	}
out:
	for (int i = 0; i < n; i++)
		host_put_guest(p->host, vms[i]);
	got = after > before ? after - before : 0;
	count(p, BPOL_RECLAIM_PAGES, got);
	*covered = (asked || in_flight) && !short_by;
	if (*covered)
		count(p, BPOL_SWAP_AVOIDED, 1);
	return got;
}

/* Pressure is gone: give back what the policy took, no faster than the
 * pool's room above its high watermarks less a headroom of 1/16 of it. */
static void deflate_step(struct balloon_policy *p)
{
	struct vm *vms[HOST_MAX_GUESTS];
	struct gmm_pool *mm = p->host->pool->mm;
	uint64_t short_by, beyond, headroom = mm->nr_frames / 16, room;
	int n;

	/* hysteresis: a grower that the balloons feed balances the pool
	 * between its faults; giving back then, in the middle of it, left
	 * the next reclaim pass a deflating balloon to wait for and a swap */
	if (now_ms() - atomic_load(&p->pressure_ms) < BALLOON_DEFLATE_QUIET_MS)
		return;
	node_balance(mm, GMM_LRU_ANY_NODE, &short_by, &beyond);
	if (short_by || beyond <= headroom)
		return;
	room = beyond - headroom;
	n = host_get_all(p->host, vms, HOST_MAX_GUESTS);
	for (int i = 0; i < n; i++) {
		struct vm *vm = vms[i];
		uint64_t mine = atomic_load(&vm->balloon_auto_pages), back;
		struct balloon_info bi;

		if (!vm->balloon || vm_is_stopped(vm))
			continue;
		if (vm->cfg.balloon.auto_mode) /* keep their figures fresh */
			spare_pages(vm, &bi);
		if (!mine || !room)
			continue;
		balloon_get_info(vm->balloon, &bi);
		back = mine < room ? mine : room;
		back = back < bi.target_pages ? back : bi.target_pages;
		if (back && !balloon_set_target(vm->balloon, bi.target_pages - back)) {
			atomic_fetch_sub(&vm->balloon_auto_pages, back);
			room -= back;
			count(p, BPOL_DEFLATE_REQUESTS, 1);
			count(p, BPOL_DEFLATE_PAGES, back);
		}
	}
	for (int i = 0; i < n; i++)
		host_put_guest(p->host, vms[i]);
}

static void policy_pass(void *arg)
{
	deflate_step(arg);
}

int balloon_policy_start(struct balloon_policy *p, struct host *h)
{
	memset(p, 0, sizeof(*p));
	p->host = h;
	return periodic_start(&p->thread, "gmm-balloond", BALLOON_POLICY_PERIOD_MS, policy_pass, p);
}

void balloon_policy_stop(struct balloon_policy *p)
{
	periodic_stop(&p->thread);
}
