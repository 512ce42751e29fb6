/* workload=random: reads and writes at uniformly random pages and words. */
#include "guest/workload.h"

static uint64_t pick_uniform(struct wl_ctl *c, void *arg)
{
	(void)arg;
	return rng_below(&c->rng, c->set.pages);
}

int wl_random(struct wl_ctl *c)
{
	return wl_access_run(c, pick_uniform, NULL);
}
