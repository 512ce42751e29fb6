/* See khugepaged.h. */
#include "vmm/khugepaged.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmm/host.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

static void scan_all(struct host *h)
{
	struct vm *vms[HOST_MAX_GUESTS];
	int n = host_get_all(h, vms, HOST_MAX_GUESTS);

	for (int i = 0; i < n; i++) {
		/* references held: the guest is not destroyed under us, and
		 * stage2 refuses work once the guest is stopping */
		if (vms[i]->mem.s2 && !vm_is_stopped(vms[i]))
			stage2_khugepaged_scan(vms[i]->mem.s2, KHUGEPAGED_PAGES_TO_SCAN / 512);
		host_put_guest(h, vms[i]);
	}
}

static void *khugepaged_thread(void *arg)
{
	struct khugepaged *k = arg;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&k->lock);
		scan_all(k->host);
		pthread_mutex_lock(&k->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += KHUGEPAGED_SCAN_SLEEP_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!k->stop && pthread_cond_timedwait(&k->wake, &k->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int khugepaged_start(struct khugepaged *k, struct host *h)
{
	memset(k, 0, sizeof(*k));
	k->host = h;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->wake, NULL);
	if (pthread_create(&k->thread, NULL, khugepaged_thread, k))
		return -EAGAIN;
	pthread_setname_np(k->thread, "gmm-khugepaged");
	k->started = true;
	return 0;
}

void khugepaged_stop(struct khugepaged *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->started = false;
	pthread_cond_destroy(&k->wake);
	pthread_mutex_destroy(&k->lock);
}
