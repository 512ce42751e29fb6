/* The monotonic clock for intervals (fault latencies, stall times, rate
 * budgets): one definition instead of a copy in each user. */
#ifndef GMM_VMM_CLOCK_H
#define GMM_VMM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
