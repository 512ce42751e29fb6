/* See wset.h. */
#include "guest/wset.h"

/* Page-aligned [start, end) of range i, empty if it holds no whole page. */
static void range_pages(const struct gmm_boot_info *bi, unsigned i, uint64_t *start, uint64_t *end)
{
	const struct gmm_ram_range *r = &bi->ranges[i];
	uint64_t s = (r->gpa + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t e = (r->gpa + r->bytes) & ~(PAGE_SIZE - 1);

	if (r->gpa + r->bytes < r->gpa || e < s)  /* overflow or nothing whole */
		e = s;
	*start = s;
	*end = e;
}

static unsigned nr_ranges(const struct gmm_boot_info *bi)
{
	return bi->nr_ranges < GMM_MAX_RANGES ? bi->nr_ranges : GMM_MAX_RANGES;
}

uint64_t wset_free_bytes(const struct gmm_boot_info *bi)
{
	uint64_t total = 0, s, e;

	for (unsigned i = 0; i < nr_ranges(bi); i++) {
		range_pages(bi, i, &s, &e);
		total += e - s;
	}
	return total;
}

int wset_init(struct wset *ws, const struct gmm_boot_info *bi, uint64_t base, uint64_t want_bytes,
	      uint64_t reserve_bytes, uint64_t *reserve_gva, struct sbuf *err)
{
	uint64_t free_bytes = wset_free_bytes(bi), left, s, e;
	int last = -1;

	reserve_bytes = (reserve_bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	for (unsigned i = 0; i < nr_ranges(bi); i++) {
		range_pages(bi, i, &s, &e);
		if (e - s >= reserve_bytes && e > s)
			last = (int)i;
	}
	if (reserve_bytes && last < 0)
		free_bytes = 0;
	else
		free_bytes -= reserve_bytes;
	if (!want_bytes)
		want_bytes = free_bytes;
	want_bytes &= ~(PAGE_SIZE - 1);
	if (!want_bytes || want_bytes > free_bytes) {
		sb_puts(err, "size=");
		sb_putsize(err, want_bytes);
		sb_puts(err, ": only ");
		sb_putsize(err, free_bytes);
		sb_puts(err, " of RAM is free for the workload");
		return -1;
	}
	ws->base = base;
	ws->pages = want_bytes >> PAGE_SHIFT;
	ws->nr_segs = 0;
	left = ws->pages;
	for (unsigned i = 0; i < nr_ranges(bi) && left; i++) {
		uint64_t n;

		range_pages(bi, i, &s, &e);
		if ((int)i == last)
			e -= reserve_bytes;
		n = (e - s) >> PAGE_SHIFT;
		if (n > left)
			n = left;
		if (!n)
			continue;
		ws->seg[ws->nr_segs++] = (struct wset_seg){ base + s, n };
		left -= n;
	}
	/* the reserve sits at the top of its range, whether or not the set
	 * reached that range */
	if (reserve_bytes && reserve_gva && last >= 0) {
		range_pages(bi, (unsigned)last, &s, &e);
		*reserve_gva = base + e - reserve_bytes;
	}
	return 0;
}

void wset_slice(const struct wset *ws, uint64_t first, uint64_t pages, struct wset *slice)
{
	slice->base = ws->base;
	slice->pages = pages;
	slice->nr_segs = 0;
	for (int i = 0; i < ws->nr_segs && pages; i++) {
		const struct wset_seg *s = &ws->seg[i];
		uint64_t n;

		if (first >= s->pages) {
			first -= s->pages;
			continue;
		}
		n = s->pages - first;
		if (n > pages)
			n = pages;
		slice->seg[slice->nr_segs++] = (struct wset_seg){ s->gva + (first << PAGE_SHIFT), n };
		pages -= n;
		first = 0;
	}
}
