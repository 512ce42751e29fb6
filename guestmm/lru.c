/* LRU lists of guest frames; see lru.h. */
#include "guestmm/lru.h"

#include "guestmm/pool.h"

static uint64_t frame_pages(const struct gmm_frame *f)
{
	return frame_test_head(f) ? 1ULL << f->order : 1;
}

void gmm_lruvec_init(struct gmm_lruvec *lv)
{
	pthread_mutex_init(&lv->lock, NULL);
	lv->next_nid = 0;
	for (int l = 0; l < NR_GMM_LRU_LISTS; l++)
		lv->inserted[l] = 0;
	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		for (int l = 0; l < NR_GMM_LRU_LISTS; l++)
			lv->lists[nid][l] = (struct gmm_lru_head){ FRAME_NIL, FRAME_NIL, 0, 0 };
}

void gmm_lruvec_destroy(struct gmm_lruvec *lv)
{
	pthread_mutex_destroy(&lv->lock);
}

static void list_add_head(struct gmm_pool *pool, struct gmm_lru_head *h, pfn_t pfn)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);

	f->lru_prev = FRAME_NIL;
	f->lru_next = h->first;
	if (h->first != FRAME_NIL)
		pfn_to_frame(pool, h->first)->lru_prev = (uint32_t)pfn;
	else
		h->last = (uint32_t)pfn;
	h->first = (uint32_t)pfn;
	h->nr_pages += frame_pages(f);
	h->nr_entries++;
}

static void list_unlink(struct gmm_pool *pool, struct gmm_lru_head *h, pfn_t pfn)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);

	if (f->lru_prev != FRAME_NIL)
		pfn_to_frame(pool, f->lru_prev)->lru_next = f->lru_next;
	else
		h->first = f->lru_next;
	if (f->lru_next != FRAME_NIL)
		pfn_to_frame(pool, f->lru_next)->lru_prev = f->lru_prev;
	else
		h->last = f->lru_prev;
	f->lru_next = f->lru_prev = FRAME_NIL;
	h->nr_pages -= frame_pages(f);
	h->nr_entries--;
}

static struct gmm_lru_head *head_of(struct gmm_pool *pool, struct gmm_lruvec *lv, const struct gmm_frame *f)
{
	return &lv->lists[frame_nid(pool, f)][frame_test_active(f) ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON];
}

static void add_locked(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);

	if (active)
		frame_set_active(f);
	else
		frame_clear_active(f);
	frame_set_lru(f);
	list_add_head(pool, head_of(pool, lv, f), pfn);
	lv->inserted[active ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON] += frame_pages(f);
}

uint64_t gmm_lru_add(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active)
{
	uint64_t inserted;

	pthread_mutex_lock(&lv->lock);
	if (!frame_test_lru(pfn_to_frame(pool, pfn)))
		add_locked(pool, lv, pfn, active);
	inserted = lv->inserted[active ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON];
	pthread_mutex_unlock(&lv->lock);
	return inserted;
}

void gmm_lru_putback(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active)
{
	gmm_lru_add(pool, lv, pfn, active);
}

bool gmm_lru_del(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);
	bool listed;

	pthread_mutex_lock(&lv->lock);
	listed = frame_test_lru(f);
	if (listed) {
		list_unlink(pool, head_of(pool, lv, f), pfn);
		frame_clear_lru(f);
		frame_clear_active(f);
	}
	pthread_mutex_unlock(&lv->lock);
	return listed;
}

bool gmm_lru_move(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active)
{
	struct gmm_frame *f = pfn_to_frame(pool, pfn);
	bool listed;

	pthread_mutex_lock(&lv->lock);
	listed = frame_test_lru(f);
	if (listed) {
		list_unlink(pool, head_of(pool, lv, f), pfn);
		add_locked(pool, lv, pfn, active);
	}
	pthread_mutex_unlock(&lv->lock);
	return listed;
}

/* The list to take the next frame from: nid's, or (any node) the next
 * non-empty one in turn; NULL if there is none. */
static struct gmm_lru_head *isolate_from(struct gmm_pool *pool, struct gmm_lruvec *lv, int nid,
					 enum gmm_lru_list list)
{
	int nodes = pool->nr_nodes > 0 ? pool->nr_nodes : 1;

	if (nid != GMM_LRU_ANY_NODE)
		return lv->lists[nid][list].last != FRAME_NIL ? &lv->lists[nid][list] : NULL;
	for (int i = 0; i < nodes; i++) {
		struct gmm_lru_head *h = &lv->lists[lv->next_nid][list];

		lv->next_nid = (lv->next_nid + 1) % nodes;
		if (h->last != FRAME_NIL)
			return h;
	}
	return NULL;
}

size_t gmm_lru_isolate(struct gmm_pool *pool, struct gmm_lruvec *lv, int nid, enum gmm_lru_list list, pfn_t *out,
		       size_t max, uint64_t *pages)
{
	struct gmm_lru_head *h;
	size_t n = 0;

	*pages = 0;
	pthread_mutex_lock(&lv->lock);
	while (n < max && (h = isolate_from(pool, lv, nid, list))) {
		pfn_t pfn = h->last;
		struct gmm_frame *f = pfn_to_frame(pool, pfn);

		list_unlink(pool, h, pfn);
		frame_clear_lru(f);
		*pages += frame_pages(f);
		out[n++] = pfn;
	}
	pthread_mutex_unlock(&lv->lock);
	return n;
}

uint64_t gmm_lru_node_pages(struct gmm_lruvec *lv, int nid, enum gmm_lru_list list)
{
	uint64_t n = 0;

	pthread_mutex_lock(&lv->lock);
	for (int i = 0; i < GMM_MAX_NODES; i++)
		if (nid == GMM_LRU_ANY_NODE || nid == i)
			n += lv->lists[i][list].nr_pages;
	pthread_mutex_unlock(&lv->lock);
	return n;
}

uint64_t gmm_lru_inserted(struct gmm_lruvec *lv, enum gmm_lru_list list)
{
	uint64_t n;

	pthread_mutex_lock(&lv->lock);
	n = lv->inserted[list];
	pthread_mutex_unlock(&lv->lock);
	return n;
}

uint64_t gmm_lru_pages(struct gmm_lruvec *lv, enum gmm_lru_list list)
{
	return gmm_lru_node_pages(lv, GMM_LRU_ANY_NODE, list);
}

int gmm_lru_check(struct gmm_pool *pool, struct gmm_lruvec *lv, FILE *f)
{
	int problems = 0;

	pthread_mutex_lock(&lv->lock);
	for (int i = 0; i < GMM_MAX_NODES * NR_GMM_LRU_LISTS; i++) {
		int l = i % NR_GMM_LRU_LISTS, nid = i / NR_GMM_LRU_LISTS;
		struct gmm_lru_head *h = &lv->lists[nid][l];
		uint64_t pages = 0, entries = 0;
		uint32_t prev = FRAME_NIL;

		for (uint32_t p = h->first; p != FRAME_NIL && entries <= pool->nr_desc_frames; p = pfn_to_frame(pool, p)->lru_next) {
			struct gmm_frame *fr = pfn_to_frame(pool, p);

			if (!pfn_has_desc(pool, p)) {
				if (f)
					fprintf(f, "node %d lru %d: pfn %u past the pool\n", nid, l, p);
				problems++;
				break;
			}
			if (fr->lru_prev != prev || !frame_test_lru(fr) || frame_test_active(fr) != (l == LRU_ACTIVE_ANON) ||
			    frame_nid(pool, fr) != nid || atomic_load(&fr->refcount) <= 0) {
				if (f)
					fprintf(f, "node %d lru %d: pfn %u: bad links or flags\n", nid, l, p);
				problems++;
			}
			pages += frame_pages(fr);
			entries++;
			prev = p;
		}
		if (prev != h->last || pages != h->nr_pages || entries != h->nr_entries) {
			if (f)
				fprintf(f, "node %d lru %d: counts or tail disagree with the list\n", nid, l);
			problems++;
		}
	}
	pthread_mutex_unlock(&lv->lock);
	return problems;
}
