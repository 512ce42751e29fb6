/*
 * Per-cpu frame lists (the kernel's per_cpu_pages): order-0 frames cached
 * per cpu per zone so the fault path allocates and frees without the zone
 * lock. A list is refilled with `batch` frames under one zone-lock hold
 * (rmqueue_bulk()) and, when it reaches `high`, `batch` frames go back
 * (free_pcppages_bulk()).
 *
 * Why per cpu with a lock rather than per thread: the set of cpus is fixed,
 * so drain_all needs no thread registry and a thread that exits leaves
 * nothing behind; an uncontended spinlock costs one atomic, and threads
 * that happen to share a cpu stay correct.
 */
#include "guestmm/internal.h"

static inline struct gmm_frame *zframe(struct gmm_zone *z, pfn_t pfn)
{
	return &z->pool->frames[pfn];
}

static inline void pcp_push(struct gmm_zone *z, struct gmm_pcp *pcp, pfn_t pfn, int mt)
{
	struct gmm_frame *f = zframe(z, pfn);

	f->mt = mt;
	f->lru_next = pcp->lists[mt];
	atomic_store_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_pcp), memory_order_relaxed);
	pcp->lists[mt] = (uint32_t)pfn;
	pcp->count++;
}

static inline pfn_t pcp_pop(struct gmm_zone *z, struct gmm_pcp *pcp, int mt)
{
	uint32_t pfn = pcp->lists[mt];
	struct gmm_frame *f;

	if (pfn == FRAME_NIL)
		return GMM_PFN_NONE;
	f = zframe(z, pfn);
	pcp->lists[mt] = f->lru_next;
	f->lru_next = FRAME_NIL;
	atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
	pcp->count--;
	return pfn;
}

/* rmqueue_bulk(): up to batch frames of type mt into the list, one zone
 * lock hold. Returns how many were added. */
static int rmqueue_bulk(struct gmm_zone *z, struct gmm_pcp *pcp, enum migratetype mt)
{
	int n = 0;

	lockdep_assert_held(&pcp->lock);
	gmm_lock(&z->lock);
	for (; n < pcp->batch; n++) {
		pfn_t pfn = __rmqueue(z, 0, mt, 0);

		if (pfn == GMM_PFN_NONE)
			break;
		pcp_push(z, pcp, pfn, mt);
	}
	if (zone_free_pages(z) < (long)z->wmark[WMARK_HIGH])
		zone_count(z, WATERMARK_HIGH_HIT, 1);
	gmm_unlock(&z->lock);
	__count_vm_events(&pcp->ev, PCP_REFILL, 1);
	return n;
}

/* free_pcppages_bulk(): give n frames back to the buddy, one zone lock
 * hold, taking from each list in turn. */
static void free_pcppages_bulk(struct gmm_zone *z, struct gmm_pcp *pcp, int n)
{
	int mt = 0, empty = 0;

	lockdep_assert_held(&pcp->lock);
	gmm_lock(&z->lock);
	while (n > 0 && empty < MIGRATE_PCPTYPES) {
		pfn_t pfn = pcp_pop(z, pcp, mt);

		mt = (mt + 1) % MIGRATE_PCPTYPES;
		if (pfn == GMM_PFN_NONE) {
			empty++;
			continue;
		}
		empty = 0;
		__free_one_page(z, pfn, 0);
		n--;
	}
	gmm_unlock(&z->lock);
	__count_vm_events(&pcp->ev, PCP_DRAIN, 1);
}

pfn_t pcp_alloc(struct gmm_zone *z, enum migratetype mt, int cpu)
{
	struct gmm_pcp *pcp = &z->pcp[cpu];
	pfn_t pfn;

	gmm_lock(&pcp->lock);
	pfn = pcp_pop(z, pcp, mt);
	if (pfn == GMM_PFN_NONE && rmqueue_bulk(z, pcp, mt))
		pfn = pcp_pop(z, pcp, mt);
	if (pfn != GMM_PFN_NONE)
		__count_vm_events(&pcp->ev, z->type == ZONE_MOVABLE ? PGALLOC_MOVABLE :
					    PGALLOC_NORMAL, 1);
	gmm_unlock(&pcp->lock);
	return pfn;
}

void pcp_free(struct gmm_zone *z, pfn_t pfn, int cpu)
{
	struct gmm_pcp *pcp = &z->pcp[cpu];
	enum migratetype mt = get_pageblock_migratetype(z, pfn);

	/* Isolated pageblocks must not feed pcp lists; highatomic frames wait
	 * on the movable list and find their type again in the buddy. */
	if (mt >= MIGRATE_PCPTYPES) {
		if (mt == MIGRATE_ISOLATE) {
			buddy_free(z, pfn, 0);
			count_vm_events(&z->pool->cpu_events[cpu], PGFREE, 1);
			return;
		}
		mt = MIGRATE_MOVABLE;
	}
	gmm_lock(&pcp->lock);
	pcp_push(z, pcp, pfn, mt);
	__count_vm_events(&pcp->ev, PGFREE, 1);
	if (pcp->count >= pcp->high)
		free_pcppages_bulk(z, pcp, pcp->batch);
	gmm_unlock(&pcp->lock);
}

void drain_zone_pages(struct gmm_zone *z)
{
	for (int cpu = 0; cpu < z->pool->nr_cpus; cpu++) {
		struct gmm_pcp *pcp = &z->pcp[cpu];

		gmm_lock(&pcp->lock);
		if (pcp->count)
			free_pcppages_bulk(z, pcp, pcp->count);
		gmm_unlock(&pcp->lock);
	}
}

void gmm_drain_all_pages(struct gmm_pool *pool)
{
	for (int i = 0; i < pool->nr_zones; i++)
		drain_zone_pages(&pool->zones[i]);
}

unsigned long zone_pcp_count(struct gmm_zone *z)
{
	unsigned long n = 0;

	/* Racy sum, like the kernel's zoneinfo "count": a snapshot. */
	for (int cpu = 0; cpu < z->pool->nr_cpus; cpu++)
		n += __atomic_load_n(&z->pcp[cpu].count, __ATOMIC_RELAXED);
	return n;
}

/* zone_batchsize(): about 1/4 MiB of the zone per 1024, at most 63,
 * rounded to 2^n - 1 so batches do not line up with buddy boundaries. */
static int zone_batchsize(struct gmm_zone *z)
{
	unsigned long batch = z->managed_pages / 1024;
	int r = 1;

	if (batch > 256)
		batch = 256;
	batch /= 4;
	if (batch < 1)
		batch = 1;
	batch = batch + batch / 2;
	while ((unsigned long)r * 2 <= batch)
		r *= 2;
	return r > 1 ? r - 1 : 1;
}

void pcp_setup(struct gmm_zone *z, int nr_cpus, int batch, int high)
{
	if (batch <= 0)
		batch = zone_batchsize(z);
	if (high <= 0)
		high = 6 * batch;
	if (high <= batch)
		high = batch + 1;
	for (int cpu = 0; cpu < nr_cpus; cpu++) {
		struct gmm_pcp *pcp = &z->pcp[cpu];

		gmm_lock_init(&pcp->lock);
		pcp->count = 0;
		pcp->batch = batch;
		pcp->high = high;
		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			pcp->lists[mt] = FRAME_NIL;
	}
}
