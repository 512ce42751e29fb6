/*
 * NUMA balancing's scanner thread (gmm-numabal; the kernel's
 * task_numa_work() run from each task's tick): every
 * NUMA_BALANCE_PERIOD_MS it arms NUMA_BALANCE_SCAN_PAGES pages of each
 * guest with numa.balancing for hinting faults (stage2_numa_scan()); the
 * faults themselves decide what moves (stage2_numa.c). Like the kernel's
 * adaptive scan period, a guest whose hinting faults were nearly all
 * local and moved nothing is scanned half as often, down to once every
 * NUMA_BALANCE_MAX_BACKOFF periods; a migration brings it back to every
 * period. Arming costs the guest a minor fault per page it touches.
 * docs/numa.md.
 */
#ifndef GMM_VMM_NUMA_BALANCE_H
#define GMM_VMM_NUMA_BALANCE_H

#include "vmm/periodic.h"

#define NUMA_BALANCE_PERIOD_MS  250
#define NUMA_BALANCE_SCAN_PAGES 16384   /* 64 MiB a period: numa_balancing_scan_size_mb=256 a second */
#define NUMA_BALANCE_MAX_BACKOFF 64     /* periods: 16 s, the kernel's scan_period_max is 60 s */

struct host;

struct numa_balance {
	struct host *host;
	struct periodic thread;
};

/* Starts the thread only if some guest has numa.balancing. */
int numa_balance_start(struct numa_balance *nb, struct host *h);
void numa_balance_stop(struct numa_balance *nb);

#endif
