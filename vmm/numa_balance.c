/* NUMA balancing's scanner (numa_balance.h). */
#include "vmm/host.h"
#include "vmm/numa_balance.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

/* task_numa_work() with update_task_scan_period()'s idea: faults nearly
 * all local and nothing moved -> scan half as often. */
static void scan_guest(struct stage2 *s2)
{
	uint64_t faults = atomic_load(&s2->stat[S2_NUMA_HINT_FAULTS]),
		 local = atomic_load(&s2->stat[S2_NUMA_HINT_FAULTS_LOCAL]),
		 moved = atomic_load(&s2->stat[S2_NUMA_PAGES_MIGRATED]);
	uint64_t df = faults - s2->numa_seen[0], dl = local - s2->numa_seen[1], dm = moved - s2->numa_seen[2];

	if (s2->numa_skip) {
		s2->numa_skip--;
		return;
	}
	s2->numa_seen[0] = faults;
	s2->numa_seen[1] = local;
	s2->numa_seen[2] = moved;
	if (df && !dm && dl * 8 >= df * 7)
		s2->numa_backoff = s2->numa_backoff ? 2 * s2->numa_backoff : 1;
	else if (dm)
		s2->numa_backoff = 0;
	if (s2->numa_backoff > NUMA_BALANCE_MAX_BACKOFF)
		s2->numa_backoff = NUMA_BALANCE_MAX_BACKOFF;
	s2->numa_skip = s2->numa_backoff;
	stage2_numa_scan(s2, NUMA_BALANCE_SCAN_PAGES);
}

/* One pass over every balancing guest (the periodic thread's). */
static void scan_guests(void *arg)
{
	struct host *h = arg;
	struct vm *vms[HOST_MAX_GUESTS];
	int n = host_get_all(h, vms, HOST_MAX_GUESTS);

	for (int i = 0; i < n; i++) {
		struct stage2 *s2 = vms[i]->mem.s2;

		if (s2 && s2->cfg.numa.balancing && !vm_is_stopped(vms[i]))
			scan_guest(s2);
		host_put_guest(h, vms[i]);
	}
}

int numa_balance_start(struct numa_balance *nb, struct host *h)
{
	bool any = false;

	nb->host = h;
	for (int i = 0; i < h->nr_guests; i++)
		any |= h->guests[i].vm->cfg.numa.balancing != 0;
	return any ? periodic_start(&nb->thread, "gmm-numabal", NUMA_BALANCE_PERIOD_MS, scan_guests, h) : 0;
}

void numa_balance_stop(struct numa_balance *nb)
{
	periodic_stop(&nb->thread);
}
