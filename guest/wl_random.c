/* workload=random: reads and writes at uniformly random pages and words;
 * with hot=SIZE only in the first SIZE of the set (the rest is touched by
 * prefill and verify only): a working set with a sharp edge, the one
 * reclaim must learn to keep. */
#include "guest/workload.h"

static uint64_t pick_uniform(struct wl_ctl *c, void *arg)
{
	const uint64_t *pages = arg;

	return rng_below(&c->rng, *pages);
}

int wl_random(struct wl_ctl *c)
{
	uint64_t pages = c->set.pages;

	if (c->p->hot_bytes) {
		/* each vCPU's slice keeps its share of the hot bytes */
		uint64_t hot = c->p->hot_bytes / PAGE_SIZE / (uint64_t)c->nr_cpus;

		pages = hot < 1 ? 1 : (hot < pages ? hot : pages);
	}
	return wl_access_run(c, pick_uniform, &pages);
}
