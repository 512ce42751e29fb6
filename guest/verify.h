/*
 * verify=1: every 8-byte word of a working-set page holds a value that is a
 * function of (gfn, word index, seed), so a page that comes back from
 * reclaim, swap or migration with the wrong contents (zeroed, another
 * page's, stale, shifted) is caught by any read of it. Writes keep the
 * invariant: they rewrite a word with the value it must have.
 */
#ifndef GMM_GUEST_VERIFY_H
#define GMM_GUEST_VERIFY_H

#include "guest/workload.h"

#define VERIFY_WORD_STEP 0xd6e8feb86659fd93ULL  /* odd: distinct per word index */
#define VERIFY_REPORT_MAX 8                     /* mismatches printed per vCPU */

/* The page's key: a strong mix of gfn and seed, so two pages (or two seeds)
 * never share a pattern. */
static inline uint64_t verify_key(uint64_t gfn, uint64_t seed)
{
	uint64_t x = gfn * 0x9e3779b97f4a7c15ULL ^ seed;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Word i of the page: key + (i+1)*step, cheap to produce in a loop. */
static inline uint64_t verify_word(uint64_t key, unsigned i)
{
	return key + (uint64_t)(i + 1) * VERIFY_WORD_STEP;
}

void verify_stamp(struct wl_ctl *c, uint64_t *page);
/* Check all 512 words; count, report and repair mismatches. Returns the count. */
uint64_t verify_check_page(struct wl_ctl *c, uint64_t *page);
/* A single word read back wrong: count, report, repair. */
void verify_mismatch(struct wl_ctl *c, uint64_t *page, unsigned word, uint64_t expected);
/* Check every stamped page of the slice; counted as one pass. */
void verify_pass(struct wl_ctl *c);

static inline void verify_check_word(struct wl_ctl *c, uint64_t *page, uint64_t key, unsigned w)
{
	uint64_t expected = verify_word(key, w);

	if (unlikely(page[w] != expected))
		verify_mismatch(c, page, w, expected);
}

#endif
