/*
 * What the mapping benches (bench_window.c, bench_hintfault.c) share: a
 * microsecond clock, dying with errno's story, and a sibling thread that
 * keeps the process on the other CPU, as vCPU threads keep gmm there, so
 * a zap's TLB flush is the remote one it is in gmm.
 */
#ifndef GMM_BENCH_SIBLING_H
#define GMM_BENCH_SIBLING_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline void bench_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

struct bench_sibling {
	pthread_t thread;
	atomic_bool stop;
	char buf[64 * 4096]; /* its own pages, written one word a page */
};

static inline void *bench_sibling_run(void *arg)
{
	struct bench_sibling *s = arg;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
		for (size_t i = 0; i < sizeof(s->buf); i += 4096)
			s->buf[i]++;
	return NULL;
}

/* 0, or -1 with errno set */
static inline int bench_sibling_start(struct bench_sibling *s)
{
	atomic_store(&s->stop, false);
	errno = pthread_create(&s->thread, NULL, bench_sibling_run, s);
	return errno ? -1 : 0;
}

static inline void bench_sibling_stop(struct bench_sibling *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
}

#endif
