/* workload=touch: write every page of the slice once, in order; the rate is
 * the VMM's first-touch (fault-in) rate. */
#include "guest/plat.h"
#include "guest/verify.h"
#include "guest/workload.h"

int wl_touch(struct wl_ctl *c)
{
	const struct wl_params *p = c->p;
	uint64_t since_pass = 0, verify_cycles = c->r.verify_cycles;

	wl_sync(c, 1);
	c->r.t_start = plat_now_tsc();
	for (const struct wset_seg *s = c->set.seg; s < c->set.seg + c->set.nr_segs; s++)
		for (uint64_t i = 0; i < s->pages; i++) {
			wl_first_touch(c, (uint64_t *)(s->gva + (i << PAGE_SHIFT)));
			c->stamped++;
			if (p->verify && p->verify_every && ++since_pass >= p->verify_every) {
				verify_pass(c);
				since_pass = 0;
			}
		}
	c->r.t_end = wl_phase_end(c, verify_cycles);
	c->r.ops = c->r.pages_touched;
	return wl_finish(c);
}
