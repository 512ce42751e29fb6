/* See home_frames.h. */
#include "vmm/home_frames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/buddy.h"
#include "vmm/host_pool.h"

#define HOME_ALIGN 512ULL  /* 2 MiB of pfns */

int home_frames_init(struct home_frames *h, pfn_t start, uint64_t nr)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->start = start;
	h->nr = nr;
	if (!nr)
		return 0;
	/* at most one token per home frame */
	h->cap_tokens = nr;
	h->tokens = malloc(nr * sizeof(*h->tokens));
	return h->tokens ? 0 : -ENOMEM;
}

void home_frames_destroy(struct home_frames *h, struct host_pool *hp)
{
	if (h->nr_tokens && hp && hp->mm)
		home_tokens_put(hp, h->nr_tokens);
	free(h->tokens);
	h->tokens = NULL;
	pthread_mutex_destroy(&h->lock);
}

/* First fit over the gaps between the ranges handed out. */
pfn_t home_range_get(struct home_frames *h, uint64_t nr)
{
	pfn_t at = h->start, got = GMM_PFN_NONE;
	int i;

	nr = (nr + HOME_ALIGN - 1) & ~(HOME_ALIGN - 1);
	pthread_mutex_lock(&h->lock);
	for (i = 0; i <= h->nr_ranges && h->nr_ranges < HOME_MAX_RANGES; i++) {
		pfn_t end = i < h->nr_ranges ? h->ranges[i].start : h->start + h->nr;

		if (end >= at && end - at >= nr) {
			memmove(&h->ranges[i + 1], &h->ranges[i], (size_t)(h->nr_ranges - i) * sizeof(h->ranges[0]));
			h->ranges[i] = (struct home_range){ at, nr };
			h->nr_ranges++;
			got = at;
			break;
		}
		if (i < h->nr_ranges)
			at = h->ranges[i].start + h->ranges[i].nr;
	}
	pthread_mutex_unlock(&h->lock);
	if (got == GMM_PFN_NONE)
		atomic_fetch_add(&h->refused, 1);
	return got;
}

void home_range_put(struct home_frames *h, pfn_t start, uint64_t nr)
{
	(void)nr;
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->nr_ranges; i++) {
		if (h->ranges[i].start != start)
			continue;
		memmove(&h->ranges[i], &h->ranges[i + 1], (size_t)(h->nr_ranges - i - 1) * sizeof(h->ranges[0]));
		h->nr_ranges--;
		break;
	}
	pthread_mutex_unlock(&h->lock);
}

/* h->lock held */
static void token_push(struct host_pool *hp, pfn_t pfn)
{
	struct home_frames *h = &hp->home;
	struct gmm_frame *f = pfn_to_frame(hp->mm, pfn);

	f->private = h->nr_tokens;
	f->gfn = 0;  /* compaction moves only frames with a reverse map */
	__atomic_store_n(&f->owner, HOME_TOKEN_OWNER, __ATOMIC_RELAXED);
	h->tokens[h->nr_tokens++] = pfn;
}

/* h->lock held; the frame is the caller's to free */
static pfn_t token_pop(struct host_pool *hp)
{
	struct home_frames *h = &hp->home;
	pfn_t pfn = h->tokens[--h->nr_tokens];
	struct gmm_frame *f = pfn_to_frame(hp->mm, pfn);

	__atomic_store_n(&f->owner, 0, __ATOMIC_RELAXED);
	f->gfn = GMM_GFN_NONE;
	f->private = 0;
	return pfn;
}

int home_token_migrate(struct host_pool *hp, pfn_t src, pfn_t dst)
{
	struct home_frames *h = &hp->home;
	struct gmm_frame *s = pfn_to_frame(hp->mm, src), *d = pfn_to_frame(hp->mm, dst);
	int ret = -ENOENT;

	pthread_mutex_lock(&h->lock);
	if (s->private < h->nr_tokens && h->tokens[s->private] == src) {
		d->private = s->private;
		d->gfn = 0;
		__atomic_store_n(&d->owner, HOME_TOKEN_OWNER, __ATOMIC_RELAXED);
		h->tokens[s->private] = dst;
		__atomic_store_n(&s->owner, 0, __ATOMIC_RELAXED);
		s->gfn = GMM_GFN_NONE;
		s->private = 0;
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	if (!ret)
		gmm_free_frames(hp->mm, src, 0);
	return ret;
}

int home_tokens_take(struct host_pool *hp, unsigned nr, gfp_t gfp, int nid)
{
	struct home_frames *h = &hp->home;
	pfn_t got[512];
	unsigned n = 0;

	if (nr > sizeof(got) / sizeof(got[0]))
		return -EINVAL;
	/* never __GFP_ZERO: a token is never written, so it never holds
	 * host memory (a free frame of the buddy is a hole in the file) */
	gfp &= ~__GFP_ZERO;
	for (; n < nr; n++) {
		got[n] = gmm_alloc_frames(hp->mm, 0, gfp, nid);
		if (got[n] == GMM_PFN_NONE)
			break;
	}
	if (n < nr) {
		while (n)
			gmm_free_frames(hp->mm, got[--n], 0);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < nr; i++)
		token_push(hp, got[i]);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void home_tokens_put(struct host_pool *hp, uint64_t nr)
{
	struct home_frames *h = &hp->home;

	while (nr) {
		pfn_t give[64];
		unsigned n = 0;

		pthread_mutex_lock(&h->lock);
		while (n < 64 && n < nr && h->nr_tokens)
			give[n++] = token_pop(hp);
		pthread_mutex_unlock(&h->lock);
		if (!n)
			return; /* more puts than takes: a bug, but nothing to free */
		for (unsigned i = 0; i < n; i++)
			gmm_free_frames(hp->mm, give[i], 0);
		nr -= n;
	}
}

uint64_t home_tokens_held(struct home_frames *h)
{
	uint64_t n;

	pthread_mutex_lock(&h->lock);
	n = h->nr_tokens;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void home_frames_counts(struct home_frames *h, uint64_t *ranges, uint64_t *range_frames, uint64_t *tokens)
{
	pthread_mutex_lock(&h->lock);
	*ranges = (uint64_t)h->nr_ranges;
	*range_frames = 0;
	for (int i = 0; i < h->nr_ranges; i++)
		*range_frames += h->ranges[i].nr;
	*tokens = h->nr_tokens;
	pthread_mutex_unlock(&h->lock);
}
