/* The host TSC frequency: what the guest's rdtsc counts at (KVM does not
 * scale it here unless asked). Calibrated once against CLOCK_MONOTONIC_RAW. */
#ifndef GMM_VMM_TSC_H
#define GMM_VMM_TSC_H

#include <stdint.h>

uint64_t tsc_host_hz(void);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif
