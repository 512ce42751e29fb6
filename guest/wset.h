/*
 * The working set: pages carved from the RAM ranges boot_info says are free
 * for the workload (at most GMM_MAX_RANGES; two around the 3-4 GiB hole),
 * never beyond them, and split into one contiguous slice of page indices
 * per vCPU. Page i of a slice is found by walking its (few) segments.
 */
#ifndef GMM_GUEST_WSET_H
#define GMM_GUEST_WSET_H

#include "guest/abi.h"
#include "guest/compiler.h"
#include "guest/fmt.h"

struct wset_seg {
	uint64_t gva;     /* first page */
	uint64_t pages;
};

struct wset {
	uint64_t base;    /* gva of gpa 0: gfn = (gva - base) >> 12 */
	uint64_t pages;
	int nr_segs;
	struct wset_seg seg[GMM_MAX_RANGES];
};

/* Pages free for the workload, after `reserve_bytes` are taken off the top
 * of the last range (returned in *reserve_gva when reserve_bytes != 0). */
uint64_t wset_free_bytes(const struct gmm_boot_info *bi);
/* want_bytes 0 = everything left. Returns 0, or -1 with err filled. */
int wset_init(struct wset *ws, const struct gmm_boot_info *bi, uint64_t base, uint64_t want_bytes,
	      uint64_t reserve_bytes, uint64_t *reserve_gva, struct sbuf *err);
/* Pages [first, first + pages) of ws as a slice of its own. */
void wset_slice(const struct wset *ws, uint64_t first, uint64_t pages, struct wset *slice);

static inline uint64_t *wset_page(const struct wset *ws, uint64_t i)
{
	const struct wset_seg *s = ws->seg;

	while (i >= s->pages) {
		i -= s->pages;
		s++;
	}
	return (uint64_t *)(s->gva + (i << PAGE_SHIFT));
}

static inline uint64_t wset_gfn(const struct wset *ws, const void *page)
{
	return ((uint64_t)page - ws->base) >> PAGE_SHIFT;
}

#endif
