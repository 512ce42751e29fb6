/*
 * workload=zipf: reads and writes whose pages follow a Zipf law (theta=):
 * a small hot set takes most accesses, a long cold tail the rest, the shape
 * a reclaim policy has to find. Rank k is page (k-1)*mult mod n with mult
 * coprime to n (scatter=1), so the hot pages are spread over the slice, not
 * packed into its first huge page; scatter=0 keeps rank order.
 */
#include "guest/workload.h"
#include "guest/zipf.h"

struct zipf_pick {
	struct zipf z;
	uint64_t mult;     /* coprime to n: k -> page is a bijection */
	double inv_n;      /* 1/n, for mulmod() */
};

/* a * b mod n without a 64-bit division (about 40 cycles, a third of a
 * sample): the quotient from a double reciprocal is off by at most a few
 * units, fixed up after. a, b < n <= 2^32 (size= is capped at 16T), so the
 * product fits in 64 bits. */
static inline uint64_t mulmod(uint64_t a, uint64_t b, uint64_t n, double inv_n)
{
	uint64_t p = a * b;
	int64_t r = (int64_t)(p - (uint64_t)((double)p * inv_n) * n);

	while (r < 0)
		r += (int64_t)n;
	while (r >= (int64_t)n)
		r -= (int64_t)n;
	return (uint64_t)r;
}

static uint64_t pick_zipf(struct wl_ctl *c, void *arg)
{
	struct zipf_pick *zp = arg;
	uint64_t k = zipf_sample(&zp->z, &c->rng) - 1;

	return zp->mult == 1 ? k : mulmod(k, zp->mult, c->set.pages, zp->inv_n);
}

int wl_zipf(struct wl_ctl *c)
{
	struct zipf_pick zp;

	zipf_init(&zp.z, c->set.pages, c->p->theta);
	zp.mult = c->p->scatter ? zipf_scatter_mult(c->set.pages) : 1;
	zp.inv_n = 1.0 / (double)c->set.pages;
	return wl_access_run(c, pick_zipf, &zp);
}
