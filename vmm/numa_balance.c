/* NUMA balancing's scanner (numa_balance.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

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

static void scan_guests(struct numa_balance *nb)
{
	struct vm *vms[HOST_MAX_GUESTS];
	int n = host_get_all(nb->host, vms, HOST_MAX_GUESTS);

	for (int i = 0; i < n; i++) {
		struct stage2 *s2 = vms[i]->mem.s2;

		if (s2 && s2->cfg.numa.balancing && !vm_is_stopped(vms[i]))
			scan_guest(s2);
		host_put_guest(nb->host, vms[i]);
	}
}

static void *numa_balance_thread(void *arg)
{
	struct numa_balance *nb = arg;

	pthread_mutex_lock(&nb->lock);
	while (!nb->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += NUMA_BALANCE_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&nb->wake, &nb->lock, &ts);
		if (nb->stop)
			break;
		pthread_mutex_unlock(&nb->lock);
		scan_guests(nb);
		pthread_mutex_lock(&nb->lock);
	}
	pthread_mutex_unlock(&nb->lock);
	return NULL;
}

int numa_balance_start(struct numa_balance *nb, struct host *h)
{
	bool any = false;
	int ret;

	memset(nb, 0, sizeof(*nb));
	nb->host = h;
	for (int i = 0; i < h->nr_guests; i++)
		any |= h->guests[i].vm->cfg.numa.balancing != 0;
	if (!any)
		return 0;
	pthread_mutex_init(&nb->lock, NULL);
	pthread_cond_init(&nb->wake, NULL);
	ret = -pthread_create(&nb->thread, NULL, numa_balance_thread, nb);
	if (ret)
		return ret;
	pthread_setname_np(nb->thread, "gmm-numabal");
	nb->started = true;
	return 0;
}

void numa_balance_stop(struct numa_balance *nb)
{
	if (!nb->started)
		return;
	pthread_mutex_lock(&nb->lock);
	nb->stop = true;
	pthread_cond_broadcast(&nb->wake);
	pthread_mutex_unlock(&nb->lock);
	pthread_join(nb->thread, NULL);
	nb->started = false;
}
