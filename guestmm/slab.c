/*
 * SLUB-like object caches (mm/slub.c): geometry (calculate_order), slab
 * allocation from the buddy, the cpu freelist fast paths, the partial
 * list slow paths, deactivation and shrinking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/internal.h"
#include "guestmm/slab.h"

static inline void *get_freepointer(struct gmm_kmem_cache *s, void *obj)
{
	void *next;

	memcpy(&next, (char *)obj + s->offset, sizeof(next));
	return next;
}

static inline void set_freepointer(struct gmm_kmem_cache *s, void *obj, void *next)
{
	memcpy((char *)obj + s->offset, &next, sizeof(next));
}

static inline void stat_inc(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline pfn_t slab_pfn(struct gmm_kmem_cache *s, struct gmm_frame *slab)
{
	return frame_to_pfn(s->pool, slab);
}

static inline void *slab_address(struct gmm_kmem_cache *s, struct gmm_frame *slab)
{
	return frame_mem(s->pool, slab_pfn(s, slab));
}

/* calculate_order(): the smallest slab holding enough objects (more with
 * more cpus, as slub_min_objects) while wasting at most 1/16. */
static int calculate_order(unsigned size, int nr_cpus)
{
	unsigned min_objects = 4;

	for (int c = nr_cpus; c > 1; c >>= 1)
		min_objects += 4;
	for (unsigned waste_frac = 16; waste_frac >= 4; waste_frac /= 2)
		for (unsigned o = 0; o <= GMM_SLAB_MAX_ORDER; o++) {
			unsigned long bytes = GMM_FRAME_SIZE << o;

			if (bytes / size >= min_objects && (bytes % size) * waste_frac <= bytes)
				return o;
		}
	for (unsigned o = 0; o <= GMM_SLAB_MAX_ORDER; o++)
		if ((GMM_FRAME_SIZE << o) / size >= 1)
			return o;
	return -1;
}

/* Lay out the object: the free pointer sits inside a free object unless a
 * constructor owns its contents (SLUB's s->offset rule). */
static int cache_geometry(struct gmm_kmem_cache *s, size_t size, size_t align)
{
	size_t stride;
	int order;

	if (!align)
		align = sizeof(void *);
	if (s->flags & SLAB_HWCACHE_ALIGN && align < 64)
		align = 64;
	if (align & (align - 1) || align > GMM_FRAME_SIZE)
		return -EINVAL;
	stride = size < sizeof(void *) ? sizeof(void *) : size;
	stride = (stride + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	s->offset = 0;
	if (s->ctor) {
		s->offset = stride;
		stride += sizeof(void *);
	}
	stride = (stride + align - 1) & ~(align - 1);
	order = calculate_order(stride, s->pool->nr_cpus);
	if (order < 0)
		return -EINVAL;
	s->object_size = size;
	s->size = stride;
	s->align = align;
	s->order = order;
	s->objects = (GMM_FRAME_SIZE << order) / stride;
	return 0;
}

int gmm_kmem_cache_create(struct gmm_pool *pool, const char *name, size_t size, size_t align,
			  unsigned flags, void (*ctor)(void *), struct gmm_kmem_cache **out)
{
	struct gmm_kmem_cache *s;
	int err;

	if (!pool->base || !size || size > (GMM_FRAME_SIZE << GMM_SLAB_MAX_ORDER))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "anon");
	s->pool = pool;
	s->flags = flags;
	s->ctor = ctor;
	s->slab_gfp = flags & SLAB_RECLAIM_ACCOUNT ? __GFP_RECLAIMABLE : 0;
	err = cache_geometry(s, size, align);
	s->cpu = err ? NULL : aligned_alloc(64, pool->nr_cpus * sizeof(*s->cpu));
	if (!s->cpu) {
		free(s);
		return err ? err : -ENOMEM;
	}
	memset(s->cpu, 0, pool->nr_cpus * sizeof(*s->cpu));
	for (int c = 0; c < pool->nr_cpus; c++)
		gmm_lock_init(&s->cpu[c].lock);
	gmm_lock_init(&s->list_lock);
	s->partial = FRAME_NIL;
	s->min_partial = 5;
	pthread_mutex_lock(&pool->slab_lock);
	s->next = pool->caches;
	pool->caches = s;
	pthread_mutex_unlock(&pool->slab_lock);
	*out = s;
	return 0;
}

/* allocate_slab(): frames from the buddy, objects linked in address order,
 * each constructed once (setup_object()). No slab lock held. */
static struct gmm_frame *allocate_slab(struct gmm_kmem_cache *s, gfp_t gfp)
{
	gfp_t fgfp = (gfp & (__GFP_RECLAIM | __GFP_HIGH | __GFP_NOFAIL | __GFP_NOWARN |
			     __GFP_THISNODE)) | s->slab_gfp;
	pfn_t pfn = gmm_alloc_frames(s->pool, s->order, fgfp, GMM_NUMA_NO_NODE);
	struct gmm_frame *slab;
	char *p;

	if (pfn == GMM_PFN_NONE)
		return NULL;
	slab = pfn_to_frame(s->pool, pfn);
	p = frame_mem(s->pool, pfn);
	for (unsigned i = 0; i < s->objects; i++) {
		char *obj = p + (size_t)i * s->size;

		if (s->ctor)
			s->ctor(obj);
		set_freepointer(s, obj, i + 1 < s->objects ? obj + s->size : NULL);
	}
	slab->slab_cache = s;
	slab->slab_freelist = p;
	slab->slab_inuse = 0;
	slab->slab_objects = s->objects;
	slab->slab_frozen = 0;
	frame_set_slab(slab);
	atomic_fetch_add_explicit(&s->nr_slabs, 1, memory_order_relaxed);
	count_vm_event(s->pool, SLABS_ALLOCATED);
	return slab;
}

static void discard_slab(struct gmm_kmem_cache *s, struct gmm_frame *slab)
{
	frame_clear_slab(slab);
	slab->slab_cache = NULL;
	slab->slab_freelist = NULL;
	slab->gfn = GMM_GFN_NONE;
	atomic_fetch_sub_explicit(&s->nr_slabs, 1, memory_order_relaxed);
	count_vm_event(s->pool, SLABS_FREED);
	gmm_free_frames(s->pool, slab_pfn(s, slab), s->order);
}

/* Partial list: pfn-linked through lru_next/lru_prev. list_lock held. */
static void add_partial(struct gmm_kmem_cache *s, struct gmm_frame *slab)
{
	uint32_t pfn = (uint32_t)slab_pfn(s, slab);

	lockdep_assert_held(&s->list_lock);
	slab->lru_prev = FRAME_NIL;
	slab->lru_next = s->partial;
	if (s->partial != FRAME_NIL)
		pfn_to_frame(s->pool, s->partial)->lru_prev = pfn;
	s->partial = pfn;
	s->nr_partial++;
}

static void remove_partial(struct gmm_kmem_cache *s, struct gmm_frame *slab)
{
	lockdep_assert_held(&s->list_lock);
	if (slab->lru_prev != FRAME_NIL)
		pfn_to_frame(s->pool, slab->lru_prev)->lru_next = slab->lru_next;
	else
		s->partial = slab->lru_next;
	if (slab->lru_next != FRAME_NIL)
		pfn_to_frame(s->pool, slab->lru_next)->lru_prev = slab->lru_prev;
	slab->lru_next = slab->lru_prev = FRAME_NIL;
	s->nr_partial--;
}

/* Freeze a slab for a cpu: it takes every free object. list_lock held. */
static void *freeze_slab(struct gmm_frame *slab)
{
	void *fl = slab->slab_freelist;

	slab->slab_freelist = NULL;
	slab->slab_inuse = slab->slab_objects;
	slab->slab_frozen = 1;
	return fl;
}

/*
 * deactivate_slab(): the cpu gives its slab back, with the objects still
 * on its freelist. The slab goes to the partial list, or nowhere when full,
 * or back to the buddy when empty and enough empty slabs are cached.
 * Returns the slab to discard (after dropping the locks), or NULL.
 */
static struct gmm_frame *deactivate_slab(struct gmm_kmem_cache *s, struct gmm_kmem_cache_cpu *c)
{
	struct gmm_frame *slab = c->slab;
	void *fl = c->freelist;

	lockdep_assert_held(&c->lock);
	c->slab = NULL;
	c->freelist = NULL;
	if (!slab)
		return NULL;
	gmm_lock(&s->list_lock);
	while (fl) {
		void *next = get_freepointer(s, fl);

		set_freepointer(s, fl, slab->slab_freelist);
		slab->slab_freelist = fl;
		slab->slab_inuse--;
		fl = next;
	}
	slab->slab_frozen = 0;
	if (slab->slab_inuse == 0 && s->nr_partial >= s->min_partial) {
		gmm_unlock(&s->list_lock);
		return slab;
	}
	if (slab->slab_freelist)
		add_partial(s, slab);
	gmm_unlock(&s->list_lock);
	return NULL;
}

/* Remote frees into the active slab, or a partial slab: refill c. */
static bool refill_cpu(struct gmm_kmem_cache *s, struct gmm_kmem_cache_cpu *c)
{
	struct gmm_frame *slab;

	gmm_lock(&s->list_lock);
	if (c->slab && c->slab->slab_freelist) {
		c->freelist = freeze_slab(c->slab);
		gmm_unlock(&s->list_lock);
		return true;
	}
	if (c->slab) {              /* exhausted: it is full, on no list */
		c->slab->slab_frozen = 0;
		c->slab = NULL;
	}
	if (s->partial != FRAME_NIL) {
		slab = pfn_to_frame(s->pool, s->partial);
		remove_partial(s, slab);
		c->freelist = freeze_slab(slab);
		c->slab = slab;
		gmm_unlock(&s->list_lock);
		return true;
	}
	gmm_unlock(&s->list_lock);
	return false;
}

/* Install a new slab as c's active slab; c's lock held, c empty. */
static void install_slab(struct gmm_kmem_cache *s, struct gmm_kmem_cache_cpu *c,
			 struct gmm_frame *slab)
{
	gmm_lock(&s->list_lock);
	c->freelist = freeze_slab(slab);
	gmm_unlock(&s->list_lock);
	c->slab = slab;
}

/* ___slab_alloc(): c's lock held on entry and exit; dropped while a new
 * slab is allocated (the buddy, or reclaim behind it, may need time). */
static void *slab_alloc_slowpath(struct gmm_kmem_cache *s, struct gmm_kmem_cache_cpu *c, gfp_t gfp)
{
	struct gmm_frame *slab;
	void *obj;

	stat_inc(&c->alloc_slowpath);
	if (!refill_cpu(s, c)) {
		gmm_unlock(&c->lock);
		slab = allocate_slab(s, gfp);
		gmm_lock(&c->lock);
		if (!slab)
			return NULL;
		if (c->freelist || refill_cpu(s, c)) {
			/* Someone on this cpu refilled meanwhile: park ours. */
			gmm_lock(&s->list_lock);
			add_partial(s, slab);
			gmm_unlock(&s->list_lock);
		} else {
			install_slab(s, c, slab);
		}
	}
	obj = c->freelist;
	c->freelist = get_freepointer(s, obj);
	return obj;
}

void *gmm_kmem_cache_alloc(struct gmm_kmem_cache *s, gfp_t gfp)
{
	struct gmm_kmem_cache_cpu *c = &s->cpu[gmm_this_cpu(s->pool)];
	void *obj;

	gmm_lock(&c->lock);
	obj = c->freelist;
	if (__builtin_expect(obj != NULL, 1))
		c->freelist = get_freepointer(s, obj);
	else
		obj = slab_alloc_slowpath(s, c, gfp);
	if (obj)
		stat_inc(&c->nr_alloc);
	gmm_unlock(&c->lock);
	if (obj && (gfp & __GFP_ZERO))
		memset(obj, 0, s->object_size);
	return obj;
}

/* __slab_free(): an object of a slab this cpu does not own. */
static void slab_free_slowpath(struct gmm_kmem_cache *s, struct gmm_frame *slab, void *obj)
{
	struct gmm_frame *discard = NULL;
	bool was_full;

	gmm_lock(&s->list_lock);
	was_full = !slab->slab_freelist && !slab->slab_frozen;
	set_freepointer(s, obj, slab->slab_freelist);
	slab->slab_freelist = obj;
	slab->slab_inuse--;
	if (!slab->slab_frozen) {
		if (slab->slab_inuse == 0 && s->nr_partial >= s->min_partial) {
			if (!was_full)
				remove_partial(s, slab);
			discard = slab;
		} else if (was_full) {
			add_partial(s, slab);
		}
	}
	gmm_unlock(&s->list_lock);
	if (discard)
		discard_slab(s, discard);
}

/* The slab head holding obj if obj is an object of s, else NULL. */
static struct gmm_frame *obj_to_slab(struct gmm_kmem_cache *s, const void *obj)
{
	struct gmm_frame *f = virt_to_frame(s->pool, obj);
	struct gmm_frame *slab;
	size_t off;

	if (!f)
		return NULL;
	slab = frame_head(f);
	if (!frame_test_slab(slab) || slab->slab_cache != s)
		return NULL;
	off = (const char *)obj - (const char *)slab_address(s, slab);
	if (off % s->size || off / s->size >= s->objects)
		return NULL;
	return slab;
}

void gmm_kmem_cache_free(struct gmm_kmem_cache *s, void *obj)
{
	struct gmm_frame *slab = obj_to_slab(s, obj);
	struct gmm_kmem_cache_cpu *c;

	if (!slab) {
		count_vm_event(s->pool, BAD_FREE);
		report_corruption(s->pool, GMM_PFN_NONE, "kmem_cache_free of a foreign object");
		return;
	}
	c = &s->cpu[gmm_this_cpu(s->pool)];
	gmm_lock(&c->lock);
	stat_inc(&c->nr_free);
	if (__builtin_expect(c->slab == slab, 1)) {
		set_freepointer(s, obj, c->freelist);
		c->freelist = obj;
		gmm_unlock(&c->lock);
		return;
	}
	stat_inc(&c->free_slowpath);
	gmm_unlock(&c->lock);
	slab_free_slowpath(s, slab, obj);
}

/* flush_all(): deactivate every cpu slab. */
static void flush_all(struct gmm_kmem_cache *s)
{
	for (int cpu = 0; cpu < s->pool->nr_cpus; cpu++) {
		struct gmm_kmem_cache_cpu *c = &s->cpu[cpu];
		struct gmm_frame *discard;

		gmm_lock(&c->lock);
		discard = deactivate_slab(s, c);
		gmm_unlock(&c->lock);
		if (discard)
			discard_slab(s, discard);
	}
}

unsigned long gmm_kmem_cache_shrink(struct gmm_kmem_cache *s)
{
	uint32_t empty = FRAME_NIL;
	unsigned long n = 0;

	flush_all(s);
	gmm_lock(&s->list_lock);
	for (uint32_t pfn = s->partial; pfn != FRAME_NIL;) {
		struct gmm_frame *slab = pfn_to_frame(s->pool, pfn);
		uint32_t next = slab->lru_next;

		if (slab->slab_inuse == 0) {
			remove_partial(s, slab);
			slab->lru_next = empty;
			empty = pfn;
		}
		pfn = next;
	}
	gmm_unlock(&s->list_lock);
	while (empty != FRAME_NIL) {
		struct gmm_frame *slab = pfn_to_frame(s->pool, empty);

		empty = slab->lru_next;
		slab->lru_next = FRAME_NIL;
		discard_slab(s, slab);
		n += 1UL << s->order;
	}
	return n;
}

void gmm_kmem_cache_info(struct gmm_kmem_cache *s, struct gmm_slabinfo *info)
{
	memset(info, 0, sizeof(*info));
	for (int cpu = 0; cpu < s->pool->nr_cpus; cpu++) {
		struct gmm_kmem_cache_cpu *c = &s->cpu[cpu];

		info->allocs += atomic_load_explicit(&c->nr_alloc, memory_order_relaxed);
		info->frees += atomic_load_explicit(&c->nr_free, memory_order_relaxed);
		info->alloc_slowpath += atomic_load_explicit(&c->alloc_slowpath, memory_order_relaxed);
		info->free_slowpath += atomic_load_explicit(&c->free_slowpath, memory_order_relaxed);
	}
	info->active_objs = info->allocs >= info->frees ? info->allocs - info->frees : 0;
	info->num_slabs = atomic_load_explicit(&s->nr_slabs, memory_order_relaxed);
	info->active_slabs = info->num_slabs;
	info->num_objs = info->num_slabs * s->objects;
	info->objsize = s->size;
	info->objperslab = s->objects;
	info->pagesperslab = 1u << s->order;
	info->nr_partial = __atomic_load_n(&s->nr_partial, __ATOMIC_RELAXED);
}

static void unlink_cache(struct gmm_kmem_cache *s)
{
	struct gmm_pool *pool = s->pool;

	pthread_mutex_lock(&pool->slab_lock);
	for (struct gmm_kmem_cache **pp = &pool->caches; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&pool->slab_lock);
}

int gmm_kmem_cache_destroy(struct gmm_kmem_cache *s)
{
	if (!s)
		return 0;
	gmm_kmem_cache_shrink(s);
	if (atomic_load_explicit(&s->nr_slabs, memory_order_relaxed))
		return -EBUSY;
	unlink_cache(s);
	for (int c = 0; c < s->pool->nr_cpus; c++)
		gmm_lock_destroy(&s->cpu[c].lock);
	gmm_lock_destroy(&s->list_lock);
	free(s->cpu);
	free(s);
	return 0;
}

/* Pool teardown: caches go whatever they still hold (the frames go with
 * the pool). */
void slab_destroy_all(struct gmm_pool *pool)
{
	while (pool->caches) {
		struct gmm_kmem_cache *s = pool->caches;

		pool->caches = s->next;
		free(s->cpu);
		free(s);
	}
}

unsigned long slab_nr_pages(struct gmm_pool *pool)
{
	unsigned long n = 0;

	pthread_mutex_lock(&pool->slab_lock);
	for (struct gmm_kmem_cache *s = pool->caches; s; s = s->next)
		n += atomic_load_explicit(&s->nr_slabs, memory_order_relaxed) << s->order;
	pthread_mutex_unlock(&pool->slab_lock);
	return n;
}

/* The slab half of gmm_pool_check(): partial lists and slab heads agree. */
int slab_check(struct gmm_pool *pool, FILE *report)
{
	int bad = 0;

	pthread_mutex_lock(&pool->slab_lock);
	for (struct gmm_kmem_cache *s = pool->caches; s; s = s->next) {
		unsigned long n = 0;

		gmm_lock(&s->list_lock);
		for (uint32_t pfn = s->partial; pfn != FRAME_NIL && n <= pool->nr_frames; n++) {
			struct gmm_frame *slab = pfn_to_frame(pool, pfn);
			unsigned nfree = 0;

			for (void *o = slab->slab_freelist; o && nfree <= s->objects; o = get_freepointer(s, o))
				nfree++;
			if (!frame_test_slab(slab) || slab->slab_cache != s || slab->slab_frozen ||
			    nfree + slab->slab_inuse != slab->slab_objects || !nfree) {
				bad++;
				if (report)
					fprintf(report, "gmm check: slab %s pfn %u: bad partial slab "
						"(inuse %u free %u objects %u frozen %u)\n", s->name, pfn,
						slab->slab_inuse, nfree, slab->slab_objects, slab->slab_frozen);
			}
			pfn = slab->lru_next;
		}
		if (n != s->nr_partial) {
			bad++;
			if (report)
				fprintf(report, "gmm check: slab %s: nr_partial %lu, list holds %lu\n",
					s->name, s->nr_partial, n);
		}
		gmm_unlock(&s->list_lock);
	}
	pthread_mutex_unlock(&pool->slab_lock);
	return bad;
}
