/* See host_services.h. */
#include "vmm/host_services.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/oom_kill.h"
#include "vmm/stage2.h"
#include "vmm/swap.h"

/*
 * Every run of guest pages the realizer maps is a VMA of gmm's, and pages
 * that come back from swap one by one land at scattered pool offsets, so
 * a swapping guest can need up to one VMA per page: far past the kernel's
 * default vm.max_map_count (65530), after which mmap() fails and reclaim
 * can free nothing (measured: three 1 GiB guests reach it in 6 s). With
 * swap, gmm raises the limit to what its guests can need, as root, and
 * says so; without the rights it says what to run.
 */
#define MAX_MAP_COUNT_PATH "/proc/sys/vm/max_map_count"

static void ensure_max_map_count(uint64_t guest_bytes)
{
	uint64_t want = 65536 + (guest_bytes >> 12), have = 0;
	FILE *f = fopen(MAX_MAP_COUNT_PATH, "r");

	if (f) {
		if (fscanf(f, "%" SCNu64, &have) != 1)
			have = 0;
		fclose(f);
	}
	if (!have || have >= want)
		return;
	f = fopen(MAX_MAP_COUNT_PATH, "w");
	if (f) {
		bool ok = fprintf(f, "%" PRIu64 "\n", want) > 0;

		if (!fclose(f) && ok) {
			log_info("vm.max_map_count raised from %" PRIu64 " to %" PRIu64
				 " (swapping guests map page by page)", have, want);
			return;
		}
	}
	log_warn("vm.max_map_count is %" PRIu64 ", swapping guests may need %" PRIu64
		 ": run `sysctl -w vm.max_map_count=%" PRIu64 "` as root", have, want, want);
}

int host_services_open(struct host_services *hs, struct host *host, const struct gmm_config *cfg,
		       uint64_t map_bytes, char *err, size_t errlen)
{
	int ret;

	memset(hs, 0, sizeof(*hs));
	if (host_pool_create(&cfg->host.pool, &host->pool, err, errlen))
		return -EINVAL;
	host->pool->reclaim_random = !strcmp(cfg->host.reclaim.victims, "random");
	host->pool->self_serve_faults = cfg->host.self_serve_faults;
	if (!cfg->host.swap.path[0])
		return 0;
	ensure_max_map_count(map_bytes);
	ret = swap_open(&cfg->host.swap, 0, &hs->swapdev, err, errlen);
	if (!ret) {
		ret = stage2_swap_create(hs->swapdev, &host->pool->swap);
		if (ret)
			snprintf(err, errlen, "host.swap: %s", strerror(-ret));
	} else {
		char why[CONFIG_ERR_MAX];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "host.swap: %s", why);
	}
	if (ret)
		host_services_close(hs, host);
	return ret;
}

static int oom_kill_hook(void *ctx, uint32_t requester, const char *why)
{
	return (int)oom_kill(ctx, requester, why);
}

void host_services_start_reclaim(struct host_services *hs, struct host *host, const struct gmm_config *cfg)
{
	if (kswapd_start(&hs->kswapd, host))
		log_warn("kswapd: cannot start its thread: no reclaim");
	else
		host->pool->kswapd = &hs->kswapd;
	if (kcompactd_start(&hs->kcompactd, host->pool, &cfg->host.compaction))
		log_warn("kcompactd: cannot start its threads: no background compaction");
	else
		atomic_store(&host->pool->kcompactd, &hs->kcompactd);
	if (balloon_policy_start(&hs->balloon_policy, host))
		log_warn("balloon policy: cannot start its thread: no auto ballooning");
	else
		host->balloon_policy = &hs->balloon_policy;
	host->pool->oom_kill = oom_kill_hook;
	host->pool->oom_ctx = host;
}

void host_services_start_scanners(struct host_services *hs, struct host *host)
{
	if (khugepaged_start(&hs->khugepaged, host))
		log_warn("khugepaged: cannot start its thread: no collapsing");
	if (numa_balance_start(&hs->numa_balance, host))
		log_warn("numa balancing: cannot start its thread: pages stay where they are");
}

void host_services_stop(struct host_services *hs, struct host *host)
{
	khugepaged_stop(&hs->khugepaged);
	numa_balance_stop(&hs->numa_balance);
	if (host->pool) {
		host->pool->kswapd = NULL;
		atomic_store(&host->pool->kcompactd, NULL);
		host->pool->oom_kill = NULL;
	}
	host->balloon_policy = NULL;
	balloon_policy_stop(&hs->balloon_policy);
	kcompactd_stop(&hs->kcompactd);
	kswapd_stop(&hs->kswapd);
}

void host_services_close(struct host_services *hs, struct host *host)
{
	if (host->pool && host->pool->swap) {
		stage2_swap_destroy(host->pool->swap);
		host->pool->swap = NULL;
	}
	if (hs->swapdev)
		swap_close(hs->swapdev);
	hs->swapdev = NULL;
	host_pool_destroy(host->pool);
	host->pool = NULL;
}
