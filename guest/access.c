/*
 * What the memory workloads share: the first touch of a page, the prefill
 * phase, the read/write op loop random and zipf run with their own page
 * picker, and the closing verify pass.
 */
#include "guest/plat.h"
#include "guest/verify.h"
#include "guest/workload.h"

/* A page the guest never wrote reads zero: whatever frame the VMM put
 * behind it (a fresh one, a recycled one, one another guest freed), it
 * must not show what that frame held before. */
static void check_fresh(struct wl_ctl *c, const uint64_t *page)
{
	uint64_t any = 0;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		any |= ((const volatile uint64_t *)page)[i];
	if (any)
		c->r.fresh_dirty_pages++;
}

/* A page's first write: under verify, a check that it reads zero, then the
 * whole stamp; else one word (enough to make the VMM back the page). */
void wl_first_touch(struct wl_ctl *c, uint64_t *page)
{
	if (c->p->verify) {
		check_fresh(c, page);
		verify_stamp(c, page);
	} else
		*(volatile uint64_t *)page = wset_gfn(&c->set, page) | 1;
	c->r.pages_touched++;
}

void wl_prefill(struct wl_ctl *c)
{
	c->r.prefill_start = plat_now_tsc();
	for (const struct wset_seg *s = c->set.seg; s < c->set.seg + c->set.nr_segs; s++)
		for (uint64_t i = 0; i < s->pages; i++) {
			wl_first_touch(c, (uint64_t *)(s->gva + (i << PAGE_SHIFT)));
			c->stamped++;
		}
	c->r.prefill_end = plat_now_tsc();
}

/* Page i for an op: with prefill=0 its first use touches (stamps) it. */
static inline uint64_t *op_page(struct wl_ctl *c, uint64_t i)
{
	uint64_t *page = wset_page(&c->set, i);

	if (c->touched && !wl_is_touched(c, i)) {
		wl_first_touch(c, page);
		wl_mark_touched(c, i);
	}
	return page;
}

/* One op: r's low 9 bits pick the word, bits 16+ decide read or write.
 * Returns what a plain read read (0 otherwise): the caller folds it into a
 * local, so reads stay reads without a store per op. */
static inline uint64_t op(struct wl_ctl *c, uint64_t *page, uint64_t r, unsigned write_pct)
{
	unsigned w = (unsigned)(r & (WORDS_PER_PAGE - 1));
	bool write = (unsigned)((r >> 16) % 100) < write_pct;

	if (c->p->verify) {
		uint64_t key = verify_key(wset_gfn(&c->set, page), c->p->seed);

		if (write)
			page[w] = verify_word(key, w);
		else
			verify_check_word(c, page, key, w);
	} else if (write) {
		page[w] = r;
	} else {
		return *(volatile uint64_t *)&page[w];
	}
	return 0;
}

/* stalls=1: one op took cycles; a slow one is counted by its us. */
static void stall_note(struct wl_ctl *c, uint64_t cycles, uint64_t stall_min)
{
	uint64_t us;
	unsigned b;

	if (!stall_min || cycles < stall_min)
		return;
	c->r.stall_ops++;
	c->r.stall_cycles += cycles;
	us = cycles * 1000000 / c->tsc_hz;     /* >= WL_STALL_US, not 0 */
	b = 63 - (unsigned)__builtin_clzll(us);
	c->r.stall_hist[b < WL_STALL_BUCKETS ? b : WL_STALL_BUCKETS - 1]++;
}

uint64_t wl_deadline(struct wl_ctl *c, uint64_t from, uint64_t seconds, const char *unknown)
{
	if (!c->tsc_hz) {
		if (c->cpu == 0)
			wl_print(c, unknown);
		return 0;
	}
	return from + seconds * c->tsc_hz;
}

/* How often the op loop reads the TSC under duration=: a few us of ops. */
#define DEADLINE_CHECK_OPS 4096

int wl_access_run(struct wl_ctl *c, uint64_t (*pick)(struct wl_ctl *c, void *arg), void *arg)
{
	const struct wl_params *p = c->p;
	uint64_t since_pass = 0, verify_cycles, sink = 0, deadline, n;
	uint64_t stall_min = c->tsc_hz * WL_STALL_US / 1000000, t0;

	if (p->prefill)
		wl_prefill(c);
	wl_sync(c, 1);
	c->r.t_start = plat_now_tsc();
	deadline = p->duration_s ? wl_deadline(c, c->r.t_start, p->duration_s,
						"duration: TSC frequency unknown; running iters") : 0;
	verify_cycles = c->r.verify_cycles;
	for (n = 0; n < c->iters; n++) {
		uint64_t i;

		if (deadline && n % DEADLINE_CHECK_OPS == 0 && plat_now_tsc() >= deadline)
			break;
		i = pick(c, arg);

		t0 = p->stalls ? plat_now_tsc() : 0;
		sink ^= op(c, op_page(c, i), rng_next(&c->rng), p->write_pct);
		if (p->stalls)
			stall_note(c, plat_now_tsc() - t0, stall_min);
		if (p->verify && p->verify_every && ++since_pass >= p->verify_every) {
			verify_pass(c);
			since_pass = 0;
		}
	}
	c->r.ops = n;
	c->r.sink ^= sink;
	c->r.t_end = wl_phase_end(c, verify_cycles);
	return wl_finish(c);
}

/* corrupt=N: the checker's self-test. Flip one bit of a random word in N
 * random stamped pages (on vCPU 0's slice), as a VMM that lost a write or
 * returned the wrong page would; the final pass must then find them. With
 * prefill=0 few pages may be stamped: give up after 64 tries per flip. */
static void corrupt_pages(struct wl_ctl *c)
{
	uint64_t done = 0;

	for (uint64_t tries = 0; done < c->p->corrupt && tries < 64 * c->p->corrupt; tries++) {
		uint64_t i = rng_below(&c->rng, c->set.pages);
		uint64_t *page = wset_page(&c->set, i);

		if (c->touched ? !wl_is_touched(c, i) : i >= c->stamped)
			continue;
		page[rng_below(&c->rng, WORDS_PER_PAGE)] ^= 1ULL << rng_below(&c->rng, 64);
		done++;
	}
}

/* The end of a timed phase, moved back by the verify_every passes it ran:
 * `seconds` times the workload, `verify_seconds` the checking. */
uint64_t wl_phase_end(struct wl_ctl *c, uint64_t verify_cycles_at_start)
{
	return plat_now_tsc() - (c->r.verify_cycles - verify_cycles_at_start);
}

int wl_finish(struct wl_ctl *c)
{
	wl_after_main(c);
	if (c->p->corrupt && c->cpu == 0)
		corrupt_pages(c);
	if (c->p->verify && !c->wset_freed)
		verify_pass(c);
	wl_check_grown(c);
	return c->r.verify_failures ? GMM_EXIT_VERIFY_FAILED : GMM_EXIT_OK;
}
