/*
 * make bench-replacement: how many misses a replacement policy can save on
 * bench-overcommit's guest workload, simulated, no guest and no gmm.
 *
 * One guest of bench-overcommit touches `pages` pages with a Zipf law
 * (theta), rank k at page (k - 1) * mult mod pages as guest/wl_zipf.c
 * scatters them, while about `resident` of them fit in its share of the
 * pool. Each access to a page that is not resident is a miss (a swap-in,
 * or a first fault). Seven policies, each from two starts:
 *
 *   lru          exact LRU: what gmm's active/inactive lists approximate
 *                (the kernel's too)
 *   random       a uniformly random resident page is evicted
 *                (host.reclaim.victims=random)
 *   two_list     gmm's active and inactive lists as vmm/stage2_swap.c keeps
 *                them: a page comes in untested on the inactive list; at
 *                its first visit to the tail it is armed (a hinting fault
 *                will show a touch) and goes round again; at the next, a
 *                touched page is activated, an untouched one evicted. The
 *                inactive list is kept at least the active's size (a share
 *                a shrink), a refault within the active list and half the
 *                inactive is activated (workingset). The kernel's anon
 *                lists work the same way here: a faulted page is young,
 *                its first tail visit marks it referenced and keeps it,
 *                a second young visit activates it (folio_check_references())
 *   two_list_fifo  the same, but an untested page at the tail is evicted
 *                without a test: what arming (zaps, hinting faults) buys
 *   lru_2        LRU-K with K = 2 (O'Neil, O'Neil and Weikum 1993): the
 *                page whose second-last reference is oldest goes, a page
 *                seen once first; every reference seen, as no pager sees
 *                them, and the history of pages out kept. The prefill's
 *                pass is not history (a scan, which LRU-K would otherwise
 *                take for a second reference of every page)
 *   static_best  the `resident` hottest ranks are kept once they come in;
 *                a colder page is evicted at once. For independent
 *                references (a Zipf law) this is the best a policy that
 *                does not know the future can do in the long run (Aho,
 *                Denning and Ullman's A0), so it bounds what any aging,
 *                LFU or tiering scheme could win over LRU; from the cold
 *                start a close bound.
 *   min          Belady's MIN (1966): the resident page referenced again
 *                farthest in the future goes. It needs the future, so no
 *                policy can run it; it is the floor of any demand pager.
 *
 *   cold  the timed phase right after the prefill, as the bench measures
 *         it: the prefill wrote pages 0..pages-1 in order, so the last
 *         `resident` of them are what is resident (newest last)
 *   warm  the same number of ops after a warm-up of twice as many
 *
 * Environment: GMM_BENCH_REPLACEMENT_PAGES (131072: 512M of 4 KiB pages),
 * _RESIDENT (85000, what a guest of bench-overcommit holds in its timed
 * phase, docs/benchmarks.md), _THETA (1.2), _OPS (2000000), _SEED (1).
 * The last line is one JSON object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/rng.h"
#include "guest/zipf.h"

#define NIL UINT32_MAX

struct sim_params {
	uint32_t pages, resident;
	double theta;
	uint64_t ops, seed;
};

/* The workload: the guest's own Zipf sampler and scatter (guest/zipf.c,
 * linked hosted as gmm-bare links it), so the simulated guest draws what
 * the real one draws. */
struct workload {
	const struct sim_params *p;
	struct zipf z;
	uint32_t *rank_of;   /* page -> rank - 1 */
	uint32_t *page_of;   /* rank - 1 -> page */
	struct rng rng;
};

static int workload_init(struct workload *w, const struct sim_params *p)
{
	uint64_t mult = zipf_scatter_mult(p->pages);

	w->p = p;
	zipf_init(&w->z, p->pages, p->theta);
	w->rank_of = malloc(p->pages * sizeof(*w->rank_of));
	w->page_of = malloc(p->pages * sizeof(*w->page_of));
	if (!w->rank_of || !w->page_of)
		return -1;
	for (uint32_t k = 0; k < p->pages; k++) {
		w->page_of[k] = (uint32_t)((uint64_t)k * mult % p->pages);
		w->rank_of[w->page_of[k]] = k;
	}
	return 0;
}

/* as guest/main.c seeds vCPU 0 */
static void workload_reset(struct workload *w)
{
	rng_seed(&w->rng, w->p->seed ^ 0x9e3779b97f4a7c15ULL);
}

static uint32_t workload_next_page(struct workload *w)
{
	return w->page_of[zipf_sample(&w->z, &w->rng) - 1];
}

/* Lists of pages linked through arrays indexed by page (a page is on
 * one list at a time), newest at the head. */
struct page_links {
	uint32_t *prev, *next;
};

struct page_list {
	uint32_t head, tail, nr;
};

static int links_init(struct page_links *k, uint32_t pages)
{
	k->prev = malloc(pages * sizeof(uint32_t));
	k->next = malloc(pages * sizeof(uint32_t));
	return k->prev && k->next ? 0 : -1;
}

static void links_free(struct page_links *k)
{
	free(k->prev);
	free(k->next);
}

static void list_init(struct page_list *l)
{
	l->head = l->tail = NIL;
	l->nr = 0;
}

static void list_unlink(struct page_list *l, const struct page_links *k, uint32_t page)
{
	if (k->prev[page] != NIL)
		k->next[k->prev[page]] = k->next[page];
	else
		l->head = k->next[page];
	if (k->next[page] != NIL)
		k->prev[k->next[page]] = k->prev[page];
	else
		l->tail = k->prev[page];
	l->nr--;
}

static void list_push_head(struct page_list *l, const struct page_links *k, uint32_t page)
{
	k->prev[page] = NIL;
	k->next[page] = l->head;
	if (l->head != NIL)
		k->prev[l->head] = page;
	else
		l->tail = page;
	l->head = page;
	l->nr++;
}

/* The resident set, with what each policy needs: an LRU list (newest at
 * head) and a dense array for random picks. */
struct cache {
	uint32_t n, cap;
	struct page_links links;
	struct page_list lru;
	uint32_t *slot, *members; /* page -> index in members[], NIL if out */
};

static void cache_free(struct cache *c)
{
	links_free(&c->links);
	free(c->slot);
	free(c->members);
}

static int cache_init(struct cache *c, uint32_t pages, uint32_t cap)
{
	c->n = 0;
	c->cap = cap;
	list_init(&c->lru);
	c->slot = malloc(pages * sizeof(uint32_t));
	c->members = malloc(cap * sizeof(uint32_t));
	if (links_init(&c->links, pages) || !c->slot || !c->members) {
		cache_free(c);
		return -1;
	}
	memset(c->slot, 0xff, pages * sizeof(uint32_t));
	return 0;
}

static bool cache_has(const struct cache *c, uint32_t page)
{
	return c->slot[page] != NIL;
}

static void cache_insert(struct cache *c, uint32_t page)
{
	c->slot[page] = c->n;
	c->members[c->n++] = page;
	list_push_head(&c->lru, &c->links, page);
}

static void cache_remove(struct cache *c, uint32_t page)
{
	uint32_t i = c->slot[page], last = c->members[--c->n];

	c->members[i] = last;
	c->slot[last] = i;
	c->slot[page] = NIL;
	list_unlink(&c->lru, &c->links, page);
}

static void cache_touch(struct cache *c, uint32_t page)
{
	list_unlink(&c->lru, &c->links, page);
	list_push_head(&c->lru, &c->links, page);
}

enum policy {
	POLICY_LRU,
	POLICY_RANDOM,
	POLICY_TWO_LIST,
	POLICY_TWO_LIST_FIFO,
	POLICY_LRU_2,
	POLICY_STATIC_BEST,
	POLICY_MIN,
	NR_POLICIES
};
static const char *const policy_name[NR_POLICIES] = { "lru",   "random",      "two_list", "two_list_fifo",
						      "lru_2", "static_best", "min" };

/* The page to evict for a miss on `page` (NIL: do not cache `page`). */
static uint32_t pick_victim(struct cache *c, const struct workload *w, enum policy pol, uint32_t page,
			    struct rng *rng)
{
	switch (pol) {
	case POLICY_LRU:
		return c->lru.tail;
	case POLICY_RANDOM:
		return c->members[rng_below(rng, c->n)];
	case POLICY_STATIC_BEST:
		if (w->rank_of[page] >= c->cap)
			return NIL; /* colder than the whole kept set */
		/* the oldest resident page outside the hot set: one is there,
		 * since `page` is hot and not resident */
		for (uint32_t v = c->lru.tail; v != NIL; v = c->links.prev[v])
			if (w->rank_of[v] >= c->cap)
				return v;
		return c->lru.tail;
	default:
		return c->lru.tail;
	}
}

/*
 * The two-list policies: their own state, beside struct cache (a page is
 * on one of two lists, or out). Reclaim runs as a fault finds the guest
 * at its size: SWAP_CLUSTER_MAX pages a shrink, as gmm's direct reclaim
 * asks for a few dozen.
 */
enum { TL_OUT, TL_INACTIVE, TL_ACTIVE };
#define TL_SHRINK 32U

struct two_list {
	uint32_t cap;
	struct page_links links;
	struct page_list list[3];  /* TL_INACTIVE, TL_ACTIVE (TL_OUT unused) */
	uint32_t *shadow;
	uint8_t *where, *tested, *touched;
	uint32_t age;          /* nonresident_age: evictions and activations */
	bool fifo;             /* two_list_fifo: untested pages go untested */
	uint64_t arms, hints;  /* pages armed (zapped), armed pages touched */
};

static void tl_free(struct two_list *t)
{
	links_free(&t->links);
	free(t->shadow);
	free(t->where);
	free(t->tested);
	free(t->touched);
}

static int tl_init(struct two_list *t, uint32_t pages, uint32_t cap, bool fifo)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap;
	t->fifo = fifo;
	for (int l = 0; l < 3; l++)
		list_init(&t->list[l]);
	t->shadow = malloc(pages * sizeof(uint32_t));
	t->where = calloc(pages, 1);
	t->tested = calloc(pages, 1);
	t->touched = calloc(pages, 1);
	if (links_init(&t->links, pages) || !t->shadow || !t->where || !t->tested || !t->touched) {
		tl_free(t);
		return -1;
	}
	memset(t->shadow, 0xff, pages * sizeof(uint32_t));
	return 0;
}

static void tl_unlink(struct two_list *t, uint32_t page)
{
	list_unlink(&t->list[t->where[page]], &t->links, page);
	t->where[page] = TL_OUT;
}

static void tl_push(struct two_list *t, uint32_t page, int l)
{
	list_push_head(&t->list[l], &t->links, page);
	t->where[page] = (uint8_t)l;
}

/* An armed page joins the inactive list's head: its touch will show. */
static void tl_arm(struct two_list *t, uint32_t page)
{
	t->tested[page] = 1;
	t->touched[page] = 0;
	t->arms++;
	tl_push(t, page, TL_INACTIVE);
}

/* stage2_shrink_node(): deactivate a share, then free nr from the tail. */
static void tl_shrink(struct two_list *t, uint32_t nr)
{
	uint32_t freed = 0, scanned = 0, limit = 2 * (t->list[TL_ACTIVE].nr + t->list[TL_INACTIVE].nr) + nr;

	if (t->list[TL_ACTIVE].nr > t->list[TL_INACTIVE].nr) {
		uint32_t share = (t->list[TL_ACTIVE].nr - t->list[TL_INACTIVE].nr) / 2 + 1;

		for (uint32_t i = 0; i < (share < nr ? share : nr); i++) {
			uint32_t page = t->list[TL_ACTIVE].tail;

			tl_unlink(t, page);
			tl_arm(t, page);
		}
	}
	while (freed < nr && scanned < limit && t->list[TL_INACTIVE].tail != NIL) {
		uint32_t page = t->list[TL_INACTIVE].tail;

		tl_unlink(t, page);
		scanned++;
		if (t->touched[page]) {             /* a second chance */
			t->touched[page] = t->tested[page] = 0;
			tl_push(t, page, TL_ACTIVE);
			t->age++;
		} else if (!t->tested[page] && !t->fifo) {
			tl_arm(t, page);
		} else {                             /* evicted: a shadow */
			t->tested[page] = 0;
			t->shadow[page] = t->age++;
			freed++;
		}
	}
}

static void tl_fault(struct two_list *t, uint32_t page)
{
	uint32_t window = t->list[TL_ACTIVE].nr + t->list[TL_INACTIVE].nr / 2;

	if (t->list[TL_ACTIVE].nr + t->list[TL_INACTIVE].nr >= t->cap)
		tl_shrink(t, TL_SHRINK);
	if (t->shadow[page] != NIL && t->age - t->shadow[page] <= window) {
		tl_push(t, page, TL_ACTIVE);         /* workingset_refault() */
		t->age++;
	} else {
		tl_push(t, page, TL_INACTIVE);
	}
}

/* Run ops accesses under a two-list policy; the misses. A touch is seen
 * only on an armed page (a hinting fault), once. */
static uint64_t tl_run(struct two_list *t, struct workload *w, uint64_t ops)
{
	uint64_t misses = 0;

	for (uint64_t i = 0; i < ops; i++) {
		uint32_t page = workload_next_page(w);

		if (t->where[page] != TL_OUT) {
			if (t->tested[page] && !t->touched[page]) {
				t->touched[page] = 1;
				t->tested[page] = 0;
				t->hints++;
			}
			continue;
		}
		misses++;
		tl_fault(t, page);
	}
	return misses;
}

/*
 * The policies that evict the resident page with the least key, where a
 * page's key changes at each reference to it: a heap of (key, page)
 * entries, one pushed per reference, an entry skipped when it is no
 * longer its page's key (and the heap rebuilt from the live entries when
 * the stale ones pile up).
 *
 *   lru_2  key (penultimate reference, last reference): LRU-K with K = 2
 *          (O'Neil, O'Neil and Weikum 1993), every reference seen and the
 *          history of pages out kept; a page seen once goes first
 *   min    key -(next reference): Belady's MIN, the least a demand pager
 *          can miss, which needs the future: the references are drawn
 *          before the run
 */
struct key {
	uint64_t hi, lo;
};

struct keyed_entry {
	struct key key;
	uint32_t page;
};

struct keyed {
	struct keyed_entry *heap;
	size_t n, max;
	struct key *key;    /* page -> its current key */
	uint8_t *resident;
	uint32_t nr_resident;
};

static bool key_less(struct key a, struct key b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static bool keyed_live(const struct keyed *k, const struct keyed_entry *e)
{
	return k->resident[e->page] && k->key[e->page].hi == e->key.hi && k->key[e->page].lo == e->key.lo;
}

static void keyed_sift_up(struct keyed *k, size_t i)
{
	struct keyed_entry e = k->heap[i];

	for (; i && key_less(e.key, k->heap[(i - 1) / 2].key); i = (i - 1) / 2)
		k->heap[i] = k->heap[(i - 1) / 2];
	k->heap[i] = e;
}

static void keyed_sift_down(struct keyed *k, size_t i)
{
	struct keyed_entry e = k->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= k->n)
			break;
		if (c + 1 < k->n && key_less(k->heap[c + 1].key, k->heap[c].key))
			c++;
		if (!key_less(k->heap[c].key, e.key))
			break;
		k->heap[i] = k->heap[c];
		i = c;
	}
	k->heap[i] = e;
}

/* Keep the live entries only and heapify. A key is never pushed twice
 * (lru_2's holds the reference's time, min's the next reference's, or
 * none after a page's last), so a resident page has one live entry. */
static void keyed_compact(struct keyed *k)
{
	size_t live = 0;

	for (size_t i = 0; i < k->n; i++)
		if (keyed_live(k, &k->heap[i]))
			k->heap[live++] = k->heap[i];
	k->n = live;
	for (size_t i = live / 2; i-- > 0;)
		keyed_sift_down(k, i);
}

/* Page now has key and is resident. */
static void keyed_set(struct keyed *k, uint32_t page, struct key key)
{
	if (k->n == k->max)
		keyed_compact(k);
	k->key[page] = key;
	if (!k->resident[page]) {
		k->resident[page] = 1;
		k->nr_resident++;
	}
	k->heap[k->n] = (struct keyed_entry){ key, page };
	keyed_sift_up(k, k->n++);
}

/* Evict the resident page of least key. */
static void keyed_evict(struct keyed *k)
{
	while (k->n) {
		struct keyed_entry e = k->heap[0];

		k->heap[0] = k->heap[--k->n];
		keyed_sift_down(k, 0);
		if (keyed_live(k, &e)) {
			k->resident[e.page] = 0;
			k->nr_resident--;
			return;
		}
	}
}

static void keyed_free(struct keyed *k)
{
	free(k->heap);
	free(k->key);
	free(k->resident);
}

static int keyed_init(struct keyed *k, uint32_t pages, uint32_t cap)
{
	k->n = 0;
	k->nr_resident = 0;
	k->max = 4 * (size_t)cap + 64; /* above cap + 1: a compaction always frees room */
	k->heap = malloc(k->max * sizeof(*k->heap));
	k->key = calloc(pages, sizeof(*k->key));
	k->resident = calloc(pages, 1);
	if (!k->heap || !k->key || !k->resident) {
		keyed_free(k);
		return -1;
	}
	return 0;
}

/* The key of a page referenced at `now` (references count from 1; 0 is
 * never). lru_2 reads the page's last reference from its key; min wants
 * the page's next reference, UINT64_MAX for none. */
static struct key keyed_ref_key(const struct keyed *k, enum policy pol, uint32_t page, uint64_t now, uint64_t next)
{
	if (pol == POLICY_LRU_2)
		return (struct key){ .hi = k->key[page].lo, .lo = now };
	return (struct key){ .hi = UINT64_MAX - next, .lo = 0 };
}

/* lru_2 or min from a cold or warm start: the prefill's last `resident`
 * pages are resident, page p written at time p + 1, their one reference;
 * no other page has a history. */
static int simulate_keyed(struct workload *w, enum policy pol, bool warm, uint64_t *misses)
{
	const struct sim_params *p = w->p;
	uint64_t total = (warm ? 3 : 1) * p->ops, first = warm ? 2 * p->ops : 0;
	uint32_t *refs = NULL;
	uint64_t *next = NULL, *next_of_page = NULL;
	struct keyed k;
	int ret = -1;

	if (keyed_init(&k, p->pages, p->resident))
		return -1;
	workload_reset(w);
	if (pol == POLICY_MIN) {
		if (total > SIZE_MAX / sizeof(*next))
			goto out; /* the references would not fit: out of memory */
		refs = malloc(total * sizeof(*refs));
		next = malloc(total * sizeof(*next));
		next_of_page = malloc(p->pages * sizeof(*next_of_page));
		if (!refs || !next || !next_of_page)
			goto out;
		for (uint64_t i = 0; i < total; i++)
			refs[i] = workload_next_page(w);
		for (uint32_t page = 0; page < p->pages; page++)
			next_of_page[page] = UINT64_MAX;
		for (uint64_t i = total; i-- > 0;) {
			next[i] = next_of_page[refs[i]];
			next_of_page[refs[i]] = p->pages + 1 + i;
		}
	}
	for (uint32_t page = p->pages - p->resident; page < p->pages; page++)
		keyed_set(&k, page, keyed_ref_key(&k, pol, page, page + 1ULL, next_of_page ? next_of_page[page] : 0));
	*misses = 0;
	for (uint64_t i = 0; i < total; i++) {
		uint32_t page = refs ? refs[i] : workload_next_page(w);

		if (!k.resident[page]) {
			if (i >= first)
				(*misses)++;
			if (k.nr_resident == p->resident)
				keyed_evict(&k);
		}
		keyed_set(&k, page, keyed_ref_key(&k, pol, page, p->pages + 1 + i, next ? next[i] : 0));
	}
	ret = 0;
out:
	free(refs);
	free(next);
	free(next_of_page);
	keyed_free(&k);
	return ret;
}

/* Run ops accesses; the misses. */
static uint64_t run_ops(struct cache *c, struct workload *w, enum policy pol, uint64_t ops, struct rng *rng)
{
	uint64_t misses = 0;

	for (uint64_t i = 0; i < ops; i++) {
		uint32_t page = workload_next_page(w), victim;

		if (cache_has(c, page)) {
			if (pol == POLICY_LRU || pol == POLICY_STATIC_BEST)
				cache_touch(c, page);
			continue;
		}
		misses++;
		if (c->n < c->cap) {
			cache_insert(c, page);
			continue;
		}
		victim = pick_victim(c, w, pol, page, rng);
		if (victim == NIL)
			continue;
		cache_remove(c, victim);
		cache_insert(c, page);
	}
	return misses;
}

/* A two-list policy from the prefill on: every page a first fault, in
 * order, reclaimed as the guest reaches its size (arms counted from the
 * timed phase on, as misses are). */
static int simulate_two_list(struct workload *w, bool fifo, bool warm, uint64_t *misses, uint64_t *arms,
			     uint64_t *hints)
{
	const struct sim_params *p = w->p;
	struct two_list t;

	if (tl_init(&t, p->pages, p->resident, fifo))
		return -1;
	for (uint32_t page = 0; page < p->pages; page++)
		tl_fault(&t, page);
	workload_reset(w);
	if (warm)
		tl_run(&t, w, 2 * p->ops);
	t.arms = t.hints = 0;
	*misses = tl_run(&t, w, p->ops);
	*arms = t.arms;
	*hints = t.hints;
	tl_free(&t);
	return 0;
}

/* The misses of ops accesses under pol, from a cold or a warm start;
 * arms and hints for the two-list policies (0 for the others). */
static int simulate(struct workload *w, enum policy pol, bool warm, uint64_t *misses, uint64_t *arms,
		    uint64_t *hints)
{
	const struct sim_params *p = w->p;
	struct rng rng;
	struct cache c;

	*arms = *hints = 0;
	if (pol == POLICY_TWO_LIST || pol == POLICY_TWO_LIST_FIFO)
		return simulate_two_list(w, pol == POLICY_TWO_LIST_FIFO, warm, misses, arms, hints);
	if (pol == POLICY_LRU_2 || pol == POLICY_MIN)
		return simulate_keyed(w, pol, warm, misses);
	rng_seed(&rng, ~p->seed);

	if (cache_init(&c, p->pages, p->resident))
		return -1;
	/* the prefill's order: page 0 first, so the last `resident` pages
	 * are resident and the newest is at the head */
	for (uint32_t page = p->pages - p->resident; page < p->pages; page++)
		cache_insert(&c, page);
	workload_reset(w);
	if (warm)
		run_ops(&c, w, pol, 2 * p->ops, &rng);
	*misses = run_ops(&c, w, pol, p->ops, &rng);
	cache_free(&c);
	return 0;
}

/* A whole number from the environment, or def when unset; exits on
 * anything else (a sign, a suffix, text, more than max). */
static uint64_t env_u64(const char *name, uint64_t def, uint64_t max)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || x > max) {
		fprintf(stderr, "bench-replacement: %s=%s: want a whole number up to %llu\n", name, v,
			(unsigned long long)max);
		exit(1);
	}
	return x;
}

int main(void)
{
	struct sim_params p = {
		.pages = (uint32_t)env_u64("GMM_BENCH_REPLACEMENT_PAGES", 131072, UINT32_MAX - 1),
		.resident = (uint32_t)env_u64("GMM_BENCH_REPLACEMENT_RESIDENT", 85000, UINT32_MAX - 1),
		.ops = env_u64("GMM_BENCH_REPLACEMENT_OPS", 2000000, UINT64_MAX / 4),
		.seed = env_u64("GMM_BENCH_REPLACEMENT_SEED", 1, UINT64_MAX),
		.theta = 1.2,
	};
	const char *theta = getenv("GMM_BENCH_REPLACEMENT_THETA");
	uint64_t misses[2][NR_POLICIES], arms[2][NR_POLICIES], hints[2][NR_POLICIES];
	struct workload w;

	if (theta && *theta) {
		char *end;

		p.theta = strtod(theta, &end);
		if (*end || !(p.theta >= 0 && p.theta <= 10)) {
			fprintf(stderr, "bench-replacement: GMM_BENCH_REPLACEMENT_THETA=%s: want 0 to 10\n", theta);
			return 1;
		}
	}
	if (p.pages < 2 || p.resident < 1 || p.resident >= p.pages || !p.ops) {
		fprintf(stderr, "bench-replacement: need 1 <= RESIDENT < PAGES and OPS > 0\n");
		return 1;
	}
	if (workload_init(&w, &p)) {
		fprintf(stderr, "bench-replacement: out of memory\n");
		return 1;
	}
	printf("bench-replacement: zipf theta %.2f over %u pages, %u resident, %llu ops, seed %llu\n", p.theta,
	       p.pages, p.resident, (unsigned long long)p.ops, (unsigned long long)p.seed);
	printf("%-14s %12s %12s   %s\n", "misses", "cold start", "warm", "pages armed / touched armed, cold");
	for (int pol = 0; pol < NR_POLICIES; pol++) {
		for (int warm = 0; warm < 2; warm++)
			if (simulate(&w, pol, warm, &misses[warm][pol], &arms[warm][pol], &hints[warm][pol])) {
				fprintf(stderr, "bench-replacement: out of memory\n");
				return 1;
			}
		printf("%-14s %12llu %12llu", policy_name[pol], (unsigned long long)misses[0][pol],
		       (unsigned long long)misses[1][pol]);
		if (pol == POLICY_TWO_LIST || pol == POLICY_TWO_LIST_FIFO)
			printf("   %llu / %llu", (unsigned long long)arms[0][pol], (unsigned long long)hints[0][pol]);
		printf("\n");
	}
	printf("{\"pages\": %u, \"resident\": %u, \"theta\": %g, \"ops\": %llu, \"seed\": %llu", p.pages, p.resident,
	       p.theta, (unsigned long long)p.ops, (unsigned long long)p.seed);
	for (int warm = 0; warm < 2; warm++)
		for (int pol = 0; pol < NR_POLICIES; pol++)
			printf(", \"%s_%s_misses\": %llu", warm ? "warm" : "cold", policy_name[pol],
			       (unsigned long long)misses[warm][pol]);
	for (int warm = 0; warm < 2; warm++)
		printf(", \"%s_two_list_arms\": %llu, \"%s_two_list_hints\": %llu", warm ? "warm" : "cold",
		       (unsigned long long)arms[warm][POLICY_TWO_LIST], warm ? "warm" : "cold",
		       (unsigned long long)hints[warm][POLICY_TWO_LIST]);
	printf(", \"cold_ratio_lru_vs_static_best\": %.3f, \"warm_ratio_lru_vs_static_best\": %.3f",
	       (double)misses[0][POLICY_LRU] / (double)(misses[0][POLICY_STATIC_BEST] ?: 1),
	       (double)misses[1][POLICY_LRU] / (double)(misses[1][POLICY_STATIC_BEST] ?: 1));
	printf(", \"cold_ratio_two_list_vs_lru\": %.3f, \"cold_ratio_two_list_fifo_vs_two_list\": %.3f}\n",
	       (double)misses[0][POLICY_TWO_LIST] / (double)(misses[0][POLICY_LRU] ?: 1),
	       (double)misses[0][POLICY_TWO_LIST_FIFO] / (double)(misses[0][POLICY_TWO_LIST] ?: 1));
	free(w.rank_of);
	free(w.page_of);
	return 0;
}
