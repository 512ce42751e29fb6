/* Periodic background threads (periodic.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmm/periodic.h"

static void *periodic_thread(void *arg)
{
	struct periodic *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&p->lock);
		p->pass(p->arg);
		pthread_mutex_lock(&p->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)p->period_ms % 1000 * 1000000L;
		ts.tv_sec += p->period_ms / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int periodic_start(struct periodic *p, const char *name, unsigned period_ms, void (*pass)(void *arg), void *arg)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->period_ms = period_ms;
	p->pass = pass;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	ret = pthread_create(&p->thread, NULL, periodic_thread, p);
	if (ret)
		return -ret;
	pthread_setname_np(p->thread, name);
	p->started = true;
	return 0;
}

void periodic_stop(struct periodic *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->started = false;
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
}
