/*
 * Home frames (docs/fault-path.md#home-frames): a span of pool pfns past
 * the buddy's, in the same pool file, handed out as one range per guest,
 * a pfn per RAM page: gfn g of a homed guest lives at home + g, and
 * nowhere else. The guest's window maps its range once, linearly, so a
 * fault fills the page in the file and maps it with UFFDIO_CONTINUE, with
 * no mmap() and no VMA of its own (the kernel's page cache of a file
 * mapped once, shmem's shared mapping, one level up).
 *
 * The budget stays the buddy's: a resident home frame holds one *token*,
 * an order-0 frame of the buddy that is never populated nor mapped. So
 * watermarks, kswapd, direct reclaim, the OOM killer and the pool's
 * allocated count see a home page exactly as a frame of the zones, and
 * the pool file never holds more than the pool's size. Tokens are
 * interchangeable (the budget is a count): one stack for the pool.
 *
 * Counters (the control socket's `pool` reply, "home"): span_frames,
 * ranges (handed out now), range_frames (their pfns), tokens (resident
 * home frames now), refused (guests that found no range: today's model).
 */
#ifndef GMM_VMM_HOME_FRAMES_H
#define GMM_VMM_HOME_FRAMES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/frame.h"
#include "guestmm/gfp.h"

struct host_pool;

#define HOME_MAX_RANGES 64
/* The owner a token's descriptor carries (guests are 1..127, the VMM 0):
 * compaction moves a token like a guest's frame, through the pool's
 * migrate hook, by handing the stack its new pfn (no copy: it holds no
 * data). Its `private` is its place on the stack. */
#define HOME_TOKEN_OWNER 0xfffffffeU

struct home_frames {
	pfn_t start;                 /* the span: [start, start + nr) */
	uint64_t nr;
	pthread_mutex_t lock;        /* ranges and the token stack */
	struct home_range {
		pfn_t start;
		uint64_t nr;
	} ranges[HOME_MAX_RANGES];   /* handed out, sorted by start */
	int nr_ranges;
	pfn_t *tokens;               /* the stack: buddy frames held for home frames */
	uint64_t nr_tokens, cap_tokens;
	_Atomic uint64_t refused;
};

/* A span of nr pfns from start (nr 0: none). -ENOMEM. */
int home_frames_init(struct home_frames *h, pfn_t start, uint64_t nr);
void home_frames_destroy(struct home_frames *h, struct host_pool *hp);

static inline bool home_frames_contains(const struct home_frames *h, pfn_t pfn)
{
	return pfn - h->start < h->nr;
}

/* A range of nr pfns (rounded up to 2 MiB, aligned so), or GMM_PFN_NONE
 * when the span has no room left (counted: the guest keeps today's
 * model). Put back with the same nr once none of it is resident. */
pfn_t home_range_get(struct home_frames *h, uint64_t nr);
void home_range_put(struct home_frames *h, pfn_t start, uint64_t nr);

/* nr tokens from the buddy on node nid (gfp as for the frames they stand
 * for): 0, or -ENOMEM with none taken. */
int home_tokens_take(struct host_pool *hp, unsigned nr, gfp_t gfp, int nid);
/* nr home frames were punched: their tokens go back to the buddy. */
void home_tokens_put(struct host_pool *hp, uint64_t nr);
/* Compaction moves the token at src to dst (a free frame it took, handed
 * over with refcount 1): 0 and src freed, or -ENOENT (not a token now). */
int home_token_migrate(struct host_pool *hp, pfn_t src, pfn_t dst);
uint64_t home_tokens_held(struct home_frames *h);
/* The counters above, read together. */
void home_frames_counts(struct home_frames *h, uint64_t *ranges, uint64_t *range_frames, uint64_t *tokens);

#endif
