/* See khugepaged.h. */
#include "vmm/khugepaged.h"

#include "vmm/host.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

/* One pass over every guest (the periodic thread's). */
static void khugepaged_pass(void *arg)
{
	struct host *h = arg;
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

int khugepaged_start(struct khugepaged *k, struct host *h)
{
	return periodic_start(&k->thread, "gmm-khugepaged", KHUGEPAGED_SCAN_SLEEP_MS, khugepaged_pass, h);
}

void khugepaged_stop(struct khugepaged *k)
{
	periodic_stop(&k->thread);
}
