/*
 * What a memory workload that ends (touch, random, zipf) does after its
 * main phase, each step only when asked, in this order:
 *   free=1    give the slice back to gpool (free, unreported), so free
 *             page reporting can hand it to the host; not verified after;
 *   hold=S    keep running S seconds (verify passes under verify=1), so
 *             the host can inflate and deflate a live guest;
 *   grow=SIZE allocate more pages from gpool one by one and stamp them;
 *             when gpool is empty ask the balloon to deflate (with
 *             DEFLATE_ON_OOM), and when that gives nothing stop and count
 *             the pages not grown.
 * None of it is timed into `seconds`.
 */
#include "guest/balloon.h"
#include "guest/gpool.h"
#include "guest/plat.h"
#include "guest/verify.h"
#include "guest/workload.h"

static void free_wset(struct wl_ctl *c)
{
	for (const struct wset_seg *s = c->set.seg; s < c->set.seg + c->set.nr_segs; s++) {
		gpool_free((s->gva - c->base) >> PAGE_SHIFT, s->pages);
		c->r.freed_pages += s->pages;
	}
	c->wset_freed = true;
}

static void hold(struct wl_ctl *c)
{
	uint64_t end = wl_deadline(c, plat_now_tsc(), c->p->hold_s, "hold: TSC frequency unknown; not holding");

	while (plat_now_tsc() < end) {
		if (c->p->verify && !c->wset_freed)
			verify_pass(c);
		else
			for (int i = 0; i < 1000; i++)
				cpu_relax();
	}
}

/* One page from gpool; when it is empty, pages from the balloon for as
 * long as it has some to give (another vCPU may get them first). */
static uint64_t grow_alloc(struct wl_ctl *c)
{
	uint64_t gfn = gpool_alloc();

	while (gfn == GPOOL_NONE && c->p->balloon && balloon_deflate_on_oom())
		gfn = gpool_alloc();
	return gfn;
}

static void say_oom(struct wl_ctl *c)
{
	char buf[160];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "grow: vCPU ");
	sb_putu(&sb, (uint64_t)c->cpu);
	sb_puts(&sb, " out of memory after ");
	sb_putu(&sb, c->r.grow_pages);
	sb_puts(&sb, " of ");
	sb_putu(&sb, c->grow_share);
	sb_puts(&sb, " pages");
	wl_print(c, buf);
}

static void grow(struct wl_ctl *c)
{
	for (uint64_t i = 0; i < c->grow_share; i++) {
		uint64_t gfn = grow_alloc(c);

		if (gfn == GPOOL_NONE) {
			c->r.grow_oom_pages = c->grow_share - i;
			say_oom(c);
			return;
		}
		/* the working set's stamp, keyed by this page's gfn */
		verify_stamp(c, (uint64_t *)(c->base + (gfn << PAGE_SHIFT)));
		c->grow_gfns[i] = gfn;
		__atomic_store_n(&c->r.grow_pages, i + 1, __ATOMIC_RELAXED);  /* the balloon's MINFLT reads it */
	}
}

void wl_after_main(struct wl_ctl *c)
{
	if (c->p->free_wset)
		free_wset(c);
	if (c->p->hold_s)
		hold(c);
	if (c->p->grow_bytes)
		grow(c);
}

void wl_check_grown(struct wl_ctl *c)
{
	for (uint64_t i = 0; i < c->r.grow_pages; i++)
		verify_check_page(c, (uint64_t *)(c->base + (c->grow_gfns[i] << PAGE_SHIFT)));
}
