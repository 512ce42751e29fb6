/*
 * workload=hog: keep touching memory until stopped. Walks forward through
 * the slice, one touch every step= bytes, and wraps around at the end, so
 * the first pass grows the guest to its whole working set and later passes
 * keep every page in use (dirty, and checked under verify=1: a page that
 * went to swap must come back intact). rate= caps new pages per second.
 * Never returns; vCPU 0 prints progress every print_every= seconds and
 * refreshes its results, so a VMM sees live figures.
 */
#include "guest/plat.h"
#include "guest/verify.h"
#include "guest/workload.h"

struct hog {
	uint64_t ops, passes;      /* published with relaxed atomics */
	uint64_t next_print, last_print, last_ops;
};

static void publish(struct wl_ctl *c, const struct hog *h)
{
	__atomic_store_n(&c->r.ops, h->ops, __ATOMIC_RELAXED);
	__atomic_store_n(&c->r.hog_passes, h->passes, __ATOMIC_RELAXED);
	__atomic_store_n(&c->r.pages_touched, c->r.pages_touched, __ATOMIC_RELAXED);
}

static void report_progress(struct wl_ctl *c, struct hog *h, uint64_t now)
{
	uint64_t ops = 0, pages = 0, passes = UINT64_MAX;
	double secs = (double)(now - h->last_print) / (double)c->tsc_hz, rate;
	char buf[160], val[32];
	struct sbuf sb;

	for (int i = 0; i < c->nr_cpus; i++) {
		const struct wl_result *r = wl_peer_result(i);
		uint64_t p = __atomic_load_n(&r->hog_passes, __ATOMIC_RELAXED);

		ops += __atomic_load_n(&r->ops, __ATOMIC_RELAXED);
		pages += __atomic_load_n(&r->pages_touched, __ATOMIC_RELAXED);
		passes = p < passes ? p : passes;
	}
	rate = secs > 0 ? (double)(ops - h->last_ops) / secs : 0;
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "hog: ");
	sb_putsize(&sb, pages << PAGE_SHIFT);
	sb_puts(&sb, " touched, pass ");
	sb_putu(&sb, passes + 1);
	sb_puts(&sb, ", ");
	sb_putsi(&sb, rate);
	sb_puts(&sb, " touches/s");
	wl_print(c, buf);

	sb_init(&sb, val, sizeof(val));
	sb_putu(&sb, pages);
	plat_result(c->cpu, "pages_touched", val);
	sb_init(&sb, val, sizeof(val));
	sb_putu(&sb, ops);
	plat_result(c->cpu, "ops", val);
	sb_init(&sb, val, sizeof(val));
	sb_putu(&sb, passes);
	plat_result(c->cpu, "hog_passes", val);
	if (c->p->balloon)
		wl_report_balloon(c);  /* hog never reports at the end: live figures */
	h->last_ops = ops;
	h->last_print = now;
	h->next_print = now + c->p->print_every_s * c->tsc_hz;
}

/* rate=: the n-th new page may not be touched before t_start + n/rate. */
static void throttle(struct wl_ctl *c, uint64_t new_pages)
{
	uint64_t due;

	if (!c->p->rate_pages)
		return;
	due = c->r.t_start + (uint64_t)((double)new_pages * (double)c->tsc_hz / (double)c->p->rate_pages);
	while (plat_now_tsc() < due)
		cpu_relax();
}

/* The first visit of a page in a pass: pass 0 touches (stamps) it, later
 * passes check its stamp. */
static void visit_page(struct wl_ctl *c, uint64_t *page, uint64_t pass)
{
	if (pass == 0)
		wl_first_touch(c, page);
	else if (c->p->verify)
		verify_check_page(c, page);
}

int wl_hog(struct wl_ctl *c)
{
	const uint64_t step = c->p->step_bytes, bytes = c->set.pages << PAGE_SHIFT;
	struct hog h = { 0 };
	uint64_t pos = 0, last_page = UINT64_MAX, new_pages = 0;

	wl_sync(c, 1);
	c->r.t_start = h.last_print = plat_now_tsc();
	h.next_print = c->r.t_start + c->p->print_every_s * c->tsc_hz;
	for (;;) {
		uint64_t i = pos >> PAGE_SHIFT;
		uint64_t *page = wset_page(&c->set, i);
		unsigned w = (unsigned)(pos & (PAGE_SIZE - 1)) >> 3;

		if (i != last_page) {
			visit_page(c, page, h.passes);
			last_page = i;
			throttle(c, ++new_pages);
		}
		if (c->p->verify)
			page[w] = verify_word(verify_key(wset_gfn(&c->set, page), c->p->seed), w);
		else
			page[w] = pos ^ h.passes;
		h.ops++;
		pos += step;
		if (pos >= bytes) {
			pos = 0;
			h.passes++;
			last_page = UINT64_MAX;
			c->stamped = c->set.pages;
		}
		if (!(h.ops & 63)) {
			uint64_t now;

			publish(c, &h);
			if (c->cpu == 0 && c->tsc_hz && (now = plat_now_tsc()) >= h.next_print)
				report_progress(c, &h, now);
		}
	}
}
