/*
 * make bench-replacement: how many misses a replacement policy can save on
 * bench-overcommit's guest workload, simulated, no guest and no gmm.
 *
 * One guest of bench-overcommit touches `pages` pages with a Zipf law
 * (theta), rank k at page (k - 1) * mult mod pages as guest/wl_zipf.c
 * scatters them, while about `resident` of them fit in its share of the
 * pool. Each access to a page that is not resident is a miss (a swap-in,
 * or a first fault). Three policies, each from two starts:
 *
 *   lru          exact LRU: what gmm's active/inactive lists approximate
 *                (the kernel's too)
 *   random       a uniformly random resident page is evicted
 *                (host.reclaim.victims=random)
 *   static_best  the `resident` hottest ranks are kept once they come in;
 *                a colder page is evicted at once. For independent
 *                references (a Zipf law) this is the best a policy that
 *                does not know the future can do in the long run (Aho,
 *                Denning and Ullman's A0), so it bounds what any aging,
 *                LFU or tiering scheme could win over LRU; from the cold
 *                start a close bound.
 *
 *   cold  the timed phase right after the prefill, as the bench measures
 *         it: the prefill wrote pages 0..pages-1 in order, so the last
 *         `resident` of them are what is resident (newest last)
 *   warm  the same number of ops after a warm-up of twice as many
 *
 * Environment: GMM_BENCH_REPLACEMENT_PAGES (131072: 512M of 4 KiB pages),
 * _RESIDENT (85000, what a guest of bench-overcommit holds in its timed
 * phase, docs/benchmarks.md), _THETA (1.2), _OPS (2000000), _SEED (1).
 * The last line is one JSON object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/rng.h"
#include "guest/zipf.h"

#define NIL UINT32_MAX

struct sim_params {
	uint32_t pages, resident;
	double theta;
	uint64_t ops, seed;
};

/* The workload: the guest's own Zipf sampler and scatter (guest/zipf.c,
 * linked hosted as gmm-bare links it), so the simulated guest draws what
 * the real one draws. */
struct workload {
	const struct sim_params *p;
	struct zipf z;
	uint32_t *rank_of;   /* page -> rank - 1 */
	uint32_t *page_of;   /* rank - 1 -> page */
	struct rng rng;
};

static int workload_init(struct workload *w, const struct sim_params *p)
{
	uint64_t mult = zipf_scatter_mult(p->pages);

	w->p = p;
	zipf_init(&w->z, p->pages, p->theta);
	w->rank_of = malloc(p->pages * sizeof(*w->rank_of));
	w->page_of = malloc(p->pages * sizeof(*w->page_of));
	if (!w->rank_of || !w->page_of)
		return -1;
	for (uint32_t k = 0; k < p->pages; k++) {
		w->page_of[k] = (uint32_t)((uint64_t)k * mult % p->pages);
		w->rank_of[w->page_of[k]] = k;
	}
	return 0;
}

/* as guest/main.c seeds vCPU 0 */
static void workload_reset(struct workload *w)
{
	rng_seed(&w->rng, w->p->seed ^ 0x9e3779b97f4a7c15ULL);
}

static uint32_t workload_next_page(struct workload *w)
{
	return w->page_of[zipf_sample(&w->z, &w->rng) - 1];
}

/* The resident set, with what each policy needs: an LRU list (newest at
 * head) and a dense array for random picks. */
struct cache {
	uint32_t n, cap;
	uint32_t *prev, *next, head, tail;
	uint32_t *slot, *members; /* page -> index in members[], NIL if out */
};

static void cache_free(struct cache *c)
{
	free(c->prev);
	free(c->next);
	free(c->slot);
	free(c->members);
}

static int cache_init(struct cache *c, uint32_t pages, uint32_t cap)
{
	c->n = 0;
	c->cap = cap;
	c->head = c->tail = NIL;
	c->prev = malloc(pages * sizeof(uint32_t));
	c->next = malloc(pages * sizeof(uint32_t));
	c->slot = malloc(pages * sizeof(uint32_t));
	c->members = malloc(cap * sizeof(uint32_t));
	if (!c->prev || !c->next || !c->slot || !c->members) {
		cache_free(c);
		return -1;
	}
	memset(c->slot, 0xff, pages * sizeof(uint32_t));
	return 0;
}

static bool cache_has(const struct cache *c, uint32_t page)
{
	return c->slot[page] != NIL;
}

static void list_unlink(struct cache *c, uint32_t page)
{
	if (c->prev[page] != NIL)
		c->next[c->prev[page]] = c->next[page];
	else
		c->head = c->next[page];
	if (c->next[page] != NIL)
		c->prev[c->next[page]] = c->prev[page];
	else
		c->tail = c->prev[page];
}

static void list_push_head(struct cache *c, uint32_t page)
{
	c->prev[page] = NIL;
	c->next[page] = c->head;
	if (c->head != NIL)
		c->prev[c->head] = page;
	else
		c->tail = page;
	c->head = page;
}

static void cache_insert(struct cache *c, uint32_t page)
{
	c->slot[page] = c->n;
	c->members[c->n++] = page;
	list_push_head(c, page);
}

static void cache_remove(struct cache *c, uint32_t page)
{
	uint32_t i = c->slot[page], last = c->members[--c->n];

	c->members[i] = last;
	c->slot[last] = i;
	c->slot[page] = NIL;
	list_unlink(c, page);
}

static void cache_touch(struct cache *c, uint32_t page)
{
	list_unlink(c, page);
	list_push_head(c, page);
}

enum policy { POLICY_LRU, POLICY_RANDOM, POLICY_STATIC_BEST, NR_POLICIES };
static const char *const policy_name[NR_POLICIES] = { "lru", "random", "static_best" };

/* The page to evict for a miss on `page` (NIL: do not cache `page`). */
static uint32_t pick_victim(struct cache *c, const struct workload *w, enum policy pol, uint32_t page,
			    struct rng *rng)
{
	switch (pol) {
	case POLICY_LRU:
		return c->tail;
	case POLICY_RANDOM:
		return c->members[rng_below(rng, c->n)];
	case POLICY_STATIC_BEST:
		if (w->rank_of[page] >= c->cap)
			return NIL; /* colder than the whole kept set */
		/* the oldest resident page outside the hot set: one is there,
		 * since `page` is hot and not resident */
		for (uint32_t v = c->tail; v != NIL; v = c->prev[v])
			if (w->rank_of[v] >= c->cap)
				return v;
		return c->tail;
	default:
		return c->tail;
	}
}

/* Run ops accesses; the misses. */
static uint64_t run_ops(struct cache *c, struct workload *w, enum policy pol, uint64_t ops, struct rng *rng)
{
	uint64_t misses = 0;

	for (uint64_t i = 0; i < ops; i++) {
		uint32_t page = workload_next_page(w), victim;

		if (cache_has(c, page)) {
			if (pol == POLICY_LRU || pol == POLICY_STATIC_BEST)
				cache_touch(c, page);
			continue;
		}
		misses++;
		if (c->n < c->cap) {
			cache_insert(c, page);
			continue;
		}
		victim = pick_victim(c, w, pol, page, rng);
		if (victim == NIL)
			continue;
		cache_remove(c, victim);
		cache_insert(c, page);
	}
	return misses;
}

/* The misses of ops accesses under pol, from a cold or a warm start. */
static int simulate(struct workload *w, enum policy pol, bool warm, uint64_t *misses)
{
	const struct sim_params *p = w->p;
	struct rng rng;
	struct cache c;

	rng_seed(&rng, ~p->seed);

	if (cache_init(&c, p->pages, p->resident))
		return -1;
	/* the prefill's order: page 0 first, so the last `resident` pages
	 * are resident and the newest is at the head */
	for (uint32_t page = p->pages - p->resident; page < p->pages; page++)
		cache_insert(&c, page);
	workload_reset(w);
	if (warm)
		run_ops(&c, w, pol, 2 * p->ops, &rng);
	*misses = run_ops(&c, w, pol, p->ops, &rng);
	cache_free(&c);
	return 0;
}

/* A whole number from the environment, or def when unset; exits on
 * anything else (a sign, a suffix, text, more than max). */
static uint64_t env_u64(const char *name, uint64_t def, uint64_t max)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || x > max) {
		fprintf(stderr, "bench-replacement: %s=%s: want a whole number up to %llu\n", name, v,
			(unsigned long long)max);
		exit(1);
	}
	return x;
}

int main(void)
{
	struct sim_params p = {
		.pages = (uint32_t)env_u64("GMM_BENCH_REPLACEMENT_PAGES", 131072, UINT32_MAX - 1),
		.resident = (uint32_t)env_u64("GMM_BENCH_REPLACEMENT_RESIDENT", 85000, UINT32_MAX - 1),
		.ops = env_u64("GMM_BENCH_REPLACEMENT_OPS", 2000000, UINT64_MAX / 4),
		.seed = env_u64("GMM_BENCH_REPLACEMENT_SEED", 1, UINT64_MAX),
		.theta = 1.2,
	};
	const char *theta = getenv("GMM_BENCH_REPLACEMENT_THETA");
	uint64_t misses[2][NR_POLICIES];
	struct workload w;

	if (theta && *theta) {
		char *end;

		p.theta = strtod(theta, &end);
		if (*end || !(p.theta >= 0 && p.theta <= 10)) {
			fprintf(stderr, "bench-replacement: GMM_BENCH_REPLACEMENT_THETA=%s: want 0 to 10\n", theta);
			return 1;
		}
	}
	if (p.pages < 2 || p.resident < 1 || p.resident >= p.pages || !p.ops) {
		fprintf(stderr, "bench-replacement: need 1 <= RESIDENT < PAGES and OPS > 0\n");
		return 1;
	}
	if (workload_init(&w, &p)) {
		fprintf(stderr, "bench-replacement: out of memory\n");
		return 1;
	}
	printf("bench-replacement: zipf theta %.2f over %u pages, %u resident, %llu ops, seed %llu\n", p.theta,
	       p.pages, p.resident, (unsigned long long)p.ops, (unsigned long long)p.seed);
	printf("%-12s %12s %12s\n", "misses", "cold start", "warm");
	for (int pol = 0; pol < NR_POLICIES; pol++) {
		for (int warm = 0; warm < 2; warm++)
			if (simulate(&w, pol, warm, &misses[warm][pol])) {
				fprintf(stderr, "bench-replacement: out of memory\n");
				return 1;
			}
		printf("%-12s %12llu %12llu\n", policy_name[pol], (unsigned long long)misses[0][pol],
		       (unsigned long long)misses[1][pol]);
	}
	printf("{\"pages\": %u, \"resident\": %u, \"theta\": %g, \"ops\": %llu, \"seed\": %llu", p.pages, p.resident,
	       p.theta, (unsigned long long)p.ops, (unsigned long long)p.seed);
	for (int warm = 0; warm < 2; warm++)
		for (int pol = 0; pol < NR_POLICIES; pol++)
			printf(", \"%s_%s_misses\": %llu", warm ? "warm" : "cold", policy_name[pol],
			       (unsigned long long)misses[warm][pol]);
	printf(", \"cold_ratio_lru_vs_static_best\": %.3f, \"warm_ratio_lru_vs_static_best\": %.3f}\n",
	       (double)misses[0][POLICY_LRU] / (double)(misses[0][POLICY_STATIC_BEST] ?: 1),
	       (double)misses[1][POLICY_LRU] / (double)(misses[1][POLICY_STATIC_BEST] ?: 1));
	free(w.rank_of);
	free(w.page_of);
	return 0;
}
