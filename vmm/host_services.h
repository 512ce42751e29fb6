/*
 * What a host runs beside its guests, for both `gmm run` and `gmm daemon`:
 * the pool and its swap device, the reclaim threads (kswapd, kcompactd,
 * the balloon policy, the OOM killer's hook) and the scanners (khugepaged,
 * NUMA balancing). The kernel starts these once at boot, before any
 * process; gmm likewise, in this order:
 *
 *   host_services_open()            pool, swap
 *   host_services_start_reclaim()   kswapd, kcompactd, balloon policy, OOM
 *   host_services_start_scanners()  khugepaged, NUMA balancing
 *   ... guests run ...
 *   host_services_stop()            every thread above
 *   (the caller destroys its guests: their frames and slots go back)
 *   host_services_close()           swap, pool
 *
 * A thread that cannot start is logged and the host runs without it.
 */
#ifndef GMM_VMM_HOST_SERVICES_H
#define GMM_VMM_HOST_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "balloon/policy.h"
#include "vmm/kcompactd.h"
#include "vmm/khugepaged.h"
#include "vmm/kswapd.h"
#include "vmm/numa_balance.h"

struct host;
struct gmm_config;
struct swap_device;

struct host_services {
	struct swap_device *swapdev;
	struct kswapd kswapd;
	struct kcompactd kcompactd;
	struct balloon_policy balloon_policy;
	struct khugepaged khugepaged;
	struct numa_balance numa_balance;
};

/* The pool (host->pool) and, with host.swap, the swap device; the most
 * guest RAM the host may see is map_bytes (for vm.max_map_count). */
int host_services_open(struct host_services *hs, struct host *host, const struct gmm_config *cfg,
		       uint64_t map_bytes, char *err, size_t errlen);
void host_services_start_reclaim(struct host_services *hs, struct host *host, const struct gmm_config *cfg);
void host_services_start_scanners(struct host_services *hs, struct host *host);
void host_services_stop(struct host_services *hs, struct host *host);
void host_services_close(struct host_services *hs, struct host *host);

#endif
