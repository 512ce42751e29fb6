/*
 * bench_alloc: the guestmm allocators against the C library, same run.
 *
 * Figures are nanoseconds per allocate+free pair, the median of RUNS runs,
 * with the gmm side and the libc side interleaved run by run (A B A B) so
 * machine noise hits both. Two-thread figures run the same loop on two
 * threads at once over one pool and report per-thread ns per pair.
 * The pool is backed by anonymous memory that is never touched in the
 * measured loops (no __GFP_ZERO), so only allocator work is timed.
 * Last line: one JSON object with every figure and the ratios.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "guestmm/buddy.h"
#include "guestmm/pool.h"
#include "guestmm/slab.h"

#define POOL_FRAMES   (1UL << 17)     /* 512 MiB */
#define RUNS          7
#define RING          64
#define TRACE_LEN     4096

enum bench_kind { B_ORDER0, B_ORDER9, B_MIXED, B_SLAB, NR_KINDS };
static const char *const kind_names[NR_KINDS] = { "order0", "order9", "mixed", "slab" };
static const char *const base_names[NR_KINDS] = {
	"aligned_alloc_order0", "aligned_alloc_order9", "aligned_alloc_mixed", "malloc_slab",
};
/* Pairs per run; libc's 2 MiB aligned_alloc is an mmap/munmap pair, so
 * its runs are shorter (ns per pair does not depend on the count). */
static const long iters_gmm[NR_KINDS] = { 2000000, 500000, 500000, 4000000 };
static const long iters_base[NR_KINDS] = { 2000000, 4000, 30000, 4000000 };

static struct gmm_pool *pool;
static struct gmm_kmem_cache *cache64;
static uint8_t trace[TRACE_LEN];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Orders 0-3 mostly, one in 32 an order-9 huge frame. */
static void build_trace(void)
{
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < TRACE_LEN; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		trace[i] = (x % 32 == 0) ? 9 : (uint8_t)(x % 4);
	}
}

static void *base_alloc(unsigned order)
{
	size_t sz = 4096UL << order;

	return aligned_alloc(sz, sz);
}

static double run_gmm(enum bench_kind k)
{
	long n = iters_gmm[k];
	double t0 = now_ns();

	switch (k) {
	case B_ORDER0:
	case B_ORDER9: {
		unsigned order = k == B_ORDER0 ? 0 : 9;

		for (long i = 0; i < n; i++) {
			pfn_t p = gmm_alloc_frames(pool, order, __GFP_MOVABLE, 0);

			gmm_free_frames(pool, p, order);
		}
		break;
	}
	case B_MIXED: {
		pfn_t ring[RING];
		uint8_t ord[RING];

		for (int i = 0; i < RING; i++)
			ring[i] = GMM_PFN_NONE;
		for (long i = 0; i < n; i++) {
			int s = i % RING;

			if (ring[s] != GMM_PFN_NONE)
				gmm_free_frames(pool, ring[s], ord[s]);
			ord[s] = trace[i % TRACE_LEN];
			ring[s] = gmm_alloc_frames(pool, ord[s], __GFP_MOVABLE, 0);
		}
		for (int i = 0; i < RING; i++)
			if (ring[i] != GMM_PFN_NONE)
				gmm_free_frames(pool, ring[i], ord[i]);
		break;
	}
	case B_SLAB:
		for (long i = 0; i < n; i++) {
			void *o = gmm_kmem_cache_alloc(cache64, 0);

			gmm_kmem_cache_free(cache64, o);
		}
		break;
	default:
		break;
	}
	return (now_ns() - t0) / n;
}

static double run_base(enum bench_kind k)
{
	long n = iters_base[k];
	double t0 = now_ns();

	switch (k) {
	case B_ORDER0:
	case B_ORDER9: {
		unsigned order = k == B_ORDER0 ? 0 : 9;

		for (long i = 0; i < n; i++) {
			void *p = base_alloc(order);

			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		break;
	}
	case B_MIXED: {
		void *ring[RING] = { 0 };

		for (long i = 0; i < n; i++) {
			int s = i % RING;

			free(ring[s]);
			ring[s] = base_alloc(trace[i % TRACE_LEN]);
		}
		for (int i = 0; i < RING; i++)
			free(ring[i]);
		break;
	}
	case B_SLAB:
		for (long i = 0; i < n; i++) {
			void *p = malloc(64);

			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		break;
	default:
		break;
	}
	return (now_ns() - t0) / n;
}

struct thread_arg {
	enum bench_kind kind;
	bool gmm;
	double ns;
	pthread_barrier_t *bar;
};

static void *thread_fn(void *p)
{
	struct thread_arg *a = p;

	pthread_barrier_wait(a->bar);
	a->ns = a->gmm ? run_gmm(a->kind) : run_base(a->kind);
	return NULL;
}

/* Two threads at once; the mean of their per-pair times. */
static double run_2t(enum bench_kind k, bool gmm)
{
	pthread_barrier_t bar;
	pthread_t t[2];
	struct thread_arg a[2];

	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct thread_arg){ .kind = k, .gmm = gmm, .bar = &bar };
		pthread_create(&t[i], NULL, thread_fn, &a[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	return (a[0].ns + a[1].ns) / 2;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* fig[k][threads-1][0 = gmm, 1 = base] */
static double fig[NR_KINDS][2][2];

static void measure(enum bench_kind k, int threads)
{
	double g[RUNS], b[RUNS];

	/* Warm-up of both sides, then A B A B. */
	if (threads == 1) {
		run_gmm(k);
		run_base(k);
	}
	for (int r = 0; r < RUNS; r++) {
		g[r] = threads == 1 ? run_gmm(k) : run_2t(k, true);
		b[r] = threads == 1 ? run_base(k) : run_2t(k, false);
	}
	fig[k][threads - 1][0] = median(g, RUNS);
	fig[k][threads - 1][1] = median(b, RUNS);
	printf("%-8s %s: gmm %8.1f ns/pair   %-22s %8.1f ns/pair   ratio %.2f\n",
	       kind_names[k], threads == 1 ? "1t" : "2t", fig[k][threads - 1][0], base_names[k],
	       fig[k][threads - 1][1], fig[k][threads - 1][0] / fig[k][threads - 1][1]);
	fflush(stdout);
}

static void print_json(void)
{
	printf("{");
	for (int k = 0; k < NR_KINDS; k++) {
		printf("\"%s_pair_ns\": %.1f, ", kind_names[k], fig[k][0][0]);
		printf("\"%s_pair_ns_2t\": %.1f, ", kind_names[k], fig[k][1][0]);
		printf("\"%s_pair_ns\": %.1f, ", base_names[k], fig[k][0][1]);
		printf("\"%s_pair_ns_2t\": %.1f, ", base_names[k], fig[k][1][1]);
		printf("\"%s_vs_%s\": %.3f, ", kind_names[k], k == B_SLAB ? "malloc" : "aligned_alloc",
		       fig[k][0][0] / fig[k][0][1]);
		printf("\"%s_vs_%s_2t\": %.3f, ", kind_names[k], k == B_SLAB ? "malloc" : "aligned_alloc",
		       fig[k][1][0] / fig[k][1][1]);
	}
	printf("\"pool_frames\": %lu, \"runs\": %d, \"nr_cpus\": %d}\n", POOL_FRAMES, RUNS,
	       pool->nr_cpus);
}

int main(void)
{
	struct gmm_pool_config cfg = { .nr_frames = POOL_FRAMES };
	void *mem = mmap(NULL, POOL_FRAMES * GMM_FRAME_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int err;

	if (mem == MAP_FAILED) {
		perror("bench_alloc: mmap");
		return 1;
	}
	cfg.base = mem;
	err = gmm_pool_create(&cfg, &pool);
	if (!err)
		err = gmm_kmem_cache_create(pool, "bench-64", 64, 0, 0, NULL, &cache64);
	if (err) {
		fprintf(stderr, "bench_alloc: pool: %s\n", strerror(-err));
		return 1;
	}
	build_trace();
	printf("bench_alloc: %lu frames, %d runs (median), gmm vs libc interleaved\n",
	       POOL_FRAMES, RUNS);
	for (int k = 0; k < NR_KINDS; k++)
		measure(k, 1);
	for (int k = 0; k < NR_KINDS; k++)
		measure(k, 2);
	if (gmm_pool_check(pool, stderr))
		fprintf(stderr, "bench_alloc: pool inconsistent after the run\n");
	print_json();
	gmm_pool_destroy(pool);
	munmap(mem, POOL_FRAMES * GMM_FRAME_SIZE);
	return 0;
}
