/*
 * A thread that runs one pass of some background work, sleeps
 * period_ms, and again, until stopped: what khugepaged, NUMA balancing's
 * scanner and the balloon policy each are (the kernel's kthreads that
 * sleep between passes). Stopping wakes it from its sleep at once.
 */
#ifndef GMM_VMM_PERIODIC_H
#define GMM_VMM_PERIODIC_H

#include <pthread.h>
#include <stdbool.h>

struct periodic {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* stop */
	bool stop, started;
	unsigned period_ms;
	void (*pass)(void *arg);      /* runs without lock held */
	void *arg;
};

/* Start the thread, named name (at most 15 characters). -errno. */
int periodic_start(struct periodic *p, const char *name, unsigned period_ms, void (*pass)(void *arg), void *arg);
/* Wait for the pass in progress, stop and join. Idempotent. */
void periodic_stop(struct periodic *p);

#endif
