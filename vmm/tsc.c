/* See tsc.h. */
#include "vmm/tsc.h"

#include <pthread.h>
#include <time.h>

static uint64_t tsc_hz;
static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 3 windows of 10 ms, keep the median: a preempted window reads high. */
static void tsc_calibrate(void)
{
	double est[3];

	for (int i = 0; i < 3; i++) {
		double t0 = now_s(), t1;
		uint64_t c0 = rdtsc(), c1;

		do {
			t1 = now_s();
		} while (t1 - t0 < 0.010);
		c1 = rdtsc();
		est[i] = (c1 - c0) / (t1 - t0);
	}
	for (int i = 0; i < 2; i++)
		for (int j = i + 1; j < 3; j++)
			if (est[j] < est[i]) {
				double t = est[i];
				est[i] = est[j];
				est[j] = t;
			}
	/* round to 1 MHz, as the kernel reports tsc_khz */
	tsc_hz = (uint64_t)(est[1] / 1e6 + 0.5) * 1000000ULL;
}

uint64_t tsc_host_hz(void)
{
	pthread_once(&tsc_once, tsc_calibrate);
	return tsc_hz;
}
