/*
 * The collapse thread (khugepaged one level up): every scan_sleep_ms it
 * gives each running pool-backed guest a scan of pages_to_scan pages
 * (stage2_khugepaged_scan()), turning 2 MiB ranges fully populated with
 * 4 KiB frames into huge frames. Guests with thp=never are left alone.
 * vmm/ owns the thread; the work is stage2's.
 */
#ifndef GMM_VMM_KHUGEPAGED_H
#define GMM_VMM_KHUGEPAGED_H

#include "vmm/periodic.h"

#define KHUGEPAGED_SCAN_SLEEP_MS 100   /* the kernel's default is 10000 */
#define KHUGEPAGED_PAGES_TO_SCAN 4096  /* the kernel's default: 8 ranges a pass */

struct host;

struct khugepaged {
	struct periodic thread;
};

int khugepaged_start(struct khugepaged *k, struct host *h);
void khugepaged_stop(struct khugepaged *k);

#endif
