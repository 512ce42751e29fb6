/* See frame_recycle.h. */
#include "vmm/frame_recycle.h"

#include <stdlib.h>
#include <time.h>

#include "vmm/host_pool.h"

#define SHRINK_CHUNK 256 /* frames punched per drop of a node's lock */

const char *const frame_recycle_stat_names[NR_RECYCLE_STATS] = {
	[RECYCLE_KEPT] = "kept",
	[RECYCLE_TAKEN] = "taken",
	[RECYCLE_DRAINED] = "drained",
	[RECYCLE_FULL] = "full",
};

static void count(struct frame_recycle *r, enum frame_recycle_stat i, uint64_t n)
{
	if (n)
		atomic_fetch_add_explicit(&r->stat[i], n, memory_order_relaxed);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void frame_recycle_init(struct frame_recycle *r)
{
	for (int nid = 0; nid < GMM_MAX_NODES; nid++) {
		pthread_mutex_init(&r->node[nid].lock, NULL);
		r->node[nid].nr = r->node[nid].cap = 0;
	}
	for (int i = 0; i < NR_RECYCLE_STATS; i++)
		atomic_init(&r->stat[i], 0);
}

void frame_recycle_size(struct host_pool *hp)
{
	int nodes = hp->mm->nr_nodes > 0 ? hp->mm->nr_nodes : 1;
	uint64_t cap = hp->mm->nr_frames / (uint64_t)nodes / 50;

	cap = cap > FRAME_RECYCLE_MIN ? cap : FRAME_RECYCLE_MIN;
	cap = cap < FRAME_RECYCLE_MAX ? cap : FRAME_RECYCLE_MAX;
	for (int nid = 0; nid < nodes; nid++)
		hp->recycle.node[nid].cap = (unsigned)cap;
}

void frame_recycle_destroy(struct frame_recycle *r)
{
	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		pthread_mutex_destroy(&r->node[nid].lock);
}

/* What prep_new_frames() leaves in a fresh order-0 allocation: the frame
 * forgets the guest page it backed, its aging and its swap entry. */
static void frame_as_new(struct gmm_frame *f)
{
	atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
	atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
	f->lru_next = f->lru_prev = FRAME_NIL;
	f->numa_last = 0;
	f->gfn = GMM_GFN_NONE;
	f->private = 0;
	f->owner = 0;
	f->memcg_id = 0;
}

size_t frame_recycle_put(struct host_pool *hp, pfn_t *pfns, size_t n)
{
	struct frame_recycle *r = &hp->recycle;
	size_t rest = 0;

	for (size_t i = 0; i < n; i++) {
		struct gmm_frame *f = pfn_valid(hp->mm, pfns[i]) ? pfn_to_frame(hp->mm, pfns[i]) : NULL;
		struct frame_recycle_node *rn = f ? &r->node[frame_nid(hp->mm, f)] : NULL;
		bool kept = false;

		/* only a pool frame exactly as eviction leaves it: order 0,
		 * ours alone, mapped by no window */
		if (f && frame_ref_count(f) == 1 && f->order == 0 && !atomic_load(&f->mapcount)) {
			pthread_mutex_lock(&rn->lock);
			if (rn->nr < rn->cap) {
				frame_as_new(f);
				rn->pfn[rn->nr++] = pfns[i];
				rn->last_put_ms = now_ms();
				count(r, RECYCLE_KEPT, 1);
				kept = true;
			}
			pthread_mutex_unlock(&rn->lock);
		}
		if (!kept) {
			count(r, RECYCLE_FULL, 1);
			pfns[rest++] = pfns[i];
		}
	}
	return rest;
}

/* The top nr frames if they are consecutive pfns (an eviction batch goes
 * on in pfn order, and the prefill put neighbouring gfns in neighbouring
 * frames, so its top is often a run): the first, or GMM_PFN_NONE. */
static pfn_t take_from(struct frame_recycle *r, struct frame_recycle_node *rn, unsigned nr)
{
	pfn_t pfn = GMM_PFN_NONE;

	pthread_mutex_lock(&rn->lock);
	if (rn->nr >= nr) {
		unsigned base = rn->nr - nr, i = 1;

		while (i < nr && rn->pfn[base + i] == rn->pfn[base] + i)
			i++;
		if (i == nr) {
			pfn = rn->pfn[base];
			rn->nr = base;
			count(r, RECYCLE_TAKEN, nr);
		}
	}
	pthread_mutex_unlock(&rn->lock);
	return pfn;
}

pfn_t frame_recycle_take(struct host_pool *hp, int nid, unsigned nr)
{
	struct frame_recycle *r = &hp->recycle;
	int nodes = hp->mm->nr_nodes > 0 ? hp->mm->nr_nodes : 1;
	pfn_t pfn = GMM_PFN_NONE;

	if (!nr)
		return pfn;
	if (nid >= 0 && nid < nodes)
		pfn = take_from(r, &r->node[nid], nr);
	else
		for (int i = 0; i < nodes && pfn == GMM_PFN_NONE; i++)
			pfn = take_from(r, &r->node[i], nr);
	return pfn;
}

/* Pop up to max of node nid's frames into out; idle_ms > 0: only if the
 * stack was not fed for that long. Counted here, under the lock, as every
 * move is: frames + taken + drained = kept at any moment a reader sees. */
static unsigned pop_node(struct frame_recycle *r, struct frame_recycle_node *rn, pfn_t *out, uint64_t max,
			 unsigned idle_ms)
{
	unsigned n = 0;

	pthread_mutex_lock(&rn->lock);
	if (!idle_ms || now_ms() - rn->last_put_ms >= idle_ms)
		while (rn->nr && n < max)
			out[n++] = rn->pfn[--rn->nr];
	count(r, RECYCLE_DRAINED, n);
	pthread_mutex_unlock(&rn->lock);
	return n;
}

static uint64_t shrink(struct host_pool *hp, int nid, uint64_t nr_frames, unsigned idle_ms)
{
	struct frame_recycle *r = &hp->recycle;
	int nodes = hp->mm->nr_nodes > 0 ? hp->mm->nr_nodes : 1;
	uint64_t freed = 0;

	for (int i = 0; i < nodes && freed < nr_frames; i++) {
		pfn_t give[SHRINK_CHUNK];
		unsigned n;

		if (nid >= 0 && i != nid)
			continue;
		/* a chunk at a time, the node's lock dropped around the punches */
		while (freed < nr_frames) {
			uint64_t want = nr_frames - freed < SHRINK_CHUNK ? nr_frames - freed : SHRINK_CHUNK;

			n = pop_node(r, &r->node[i], give, want, idle_ms);
			if (!n)
				break;
			/* in pfn order, so neighbours go in one punch */
			qsort(give, n, sizeof(pfn_t), host_pool_cmp_pfn);
			host_pool_free_frames(hp, give, n);
			freed += n;
			idle_ms = 0; /* an idle stack goes whole */
		}
	}
	return freed;
}

uint64_t frame_recycle_shrink(struct host_pool *hp, int nid, uint64_t nr_frames)
{
	return shrink(hp, nid, nr_frames, 0);
}

uint64_t frame_recycle_shrink_idle(struct host_pool *hp, int nid, unsigned idle_ms)
{
	return shrink(hp, nid, UINT64_MAX, idle_ms ? idle_ms : 1);
}

uint64_t frame_recycle_frames(struct host_pool *hp)
{
	uint64_t n = 0;

	for (int nid = 0; nid < GMM_MAX_NODES; nid++) {
		pthread_mutex_lock(&hp->recycle.node[nid].lock);
		n += hp->recycle.node[nid].nr;
		pthread_mutex_unlock(&hp->recycle.node[nid].lock);
	}
	return n;
}
