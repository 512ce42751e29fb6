/* See verify.h. */
#include "guest/verify.h"

#include "guest/plat.h"

void verify_stamp(struct wl_ctl *c, uint64_t *page)
{
	uint64_t v = verify_key(wset_gfn(&c->set, page), c->p->seed);

	for (unsigned i = 0; i < WORDS_PER_PAGE; i++) {
		v += VERIFY_WORD_STEP;
		page[i] = v;
	}
}

void verify_mismatch(struct wl_ctl *c, uint64_t *page, unsigned word, uint64_t expected)
{
	uint64_t got = page[word];

	c->r.verify_failures++;
	if (c->reported < VERIFY_REPORT_MAX) {
		char buf[192];
		struct sbuf sb;

		sb_init(&sb, buf, sizeof(buf));
		sb_puts(&sb, "verify: vCPU ");
		sb_putu(&sb, (uint64_t)c->cpu);
		sb_puts(&sb, " gfn ");
		sb_putx(&sb, wset_gfn(&c->set, page));
		sb_puts(&sb, " offset ");
		sb_putx(&sb, word * 8ULL);
		sb_puts(&sb, ": expected ");
		sb_putx(&sb, expected);
		sb_puts(&sb, " got ");
		sb_putx(&sb, got);
		if (++c->reported == VERIFY_REPORT_MAX)
			sb_puts(&sb, " (further mismatches on this vCPU are counted, not shown)");
		wl_print(c, buf);
	}
	/* Repair, so one bad word is counted once, not again by every pass. */
	page[word] = expected;
}

uint64_t verify_check_page(struct wl_ctl *c, uint64_t *page)
{
	uint64_t key = verify_key(wset_gfn(&c->set, page), c->p->seed);
	uint64_t v = key, bad = 0;

	/* Fast path first: one OR-reduction over the page, no branches. */
	for (unsigned i = 0; i < WORDS_PER_PAGE; i++) {
		v += VERIFY_WORD_STEP;
		bad |= page[i] ^ v;
	}
	if (likely(!bad))
		return 0;
	bad = 0;
	for (unsigned i = 0; i < WORDS_PER_PAGE; i++) {
		uint64_t expected = verify_word(key, i);

		if (page[i] != expected) {
			verify_mismatch(c, page, i, expected);
			bad++;
		}
	}
	return bad;
}

void verify_pass(struct wl_ctl *c)
{
	uint64_t t0 = plat_now_tsc();

	for (uint64_t i = 0; i < c->set.pages; i++) {
		if (c->touched ? !wl_is_touched(c, i) : i >= c->stamped)
			continue;
		verify_check_page(c, wset_page(&c->set, i));
	}
	c->r.verify_passes++;
	c->r.verify_cycles += plat_now_tsc() - t0;
}
