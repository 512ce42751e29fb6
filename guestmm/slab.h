/*
 * The slab allocator: SLUB-like object caches carved from buddy frames
 * (mm/slub.c). A slab is a block of 1 << order frames in pool memory (so
 * the pool needs a base) cut into equal objects; free objects are linked
 * through a pointer stored in each object (after the object when the
 * cache has a constructor, so constructed state survives free).
 *
 * Each cpu has an active slab whose free objects it owns outright (the
 * kmem_cache_cpu freelist): allocation pops, a free into that slab pushes,
 * both under the cpu's lock only. Frees into other slabs go to the slab's
 * own freelist under the cache's list_lock; partially free slabs wait on
 * the partial list; an empty slab is given back to the buddy once more
 * than min_partial are cached, or on gmm_kmem_cache_shrink().
 *
 * An object is found from its pointer: address -> frame (virt_to_frame) ->
 * head (frame_head) -> frame->slab_cache, as virt_to_slab() does.
 */
#ifndef GMM_GUESTMM_SLAB_H
#define GMM_GUESTMM_SLAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "guestmm/gfp.h"
#include "guestmm/lock.h"
#include "guestmm/pool.h"

#define SLAB_RECLAIM_ACCOUNT   (1u << 0)   /* slabs are __GFP_RECLAIMABLE */
#define SLAB_HWCACHE_ALIGN     (1u << 1)   /* align objects to 64 bytes */
#define GMM_SLAB_MAX_ORDER     3           /* slub_max_order */

/*
 * kmem_cache_cpu. lock protects freelist, slab, and the counters (written
 * under it, read relaxed by slabinfo). Lock order: cpu lock, then the
 * cache's list_lock; no slab lock is held while frames are allocated.
 */
struct gmm_kmem_cache_cpu {
	struct gmm_lock lock;
	void *freelist;                   /* free objects of slab, owned by this cpu */
	struct gmm_frame *slab;           /* active (frozen) slab, or NULL */
	_Atomic uint64_t nr_alloc;
	_Atomic uint64_t nr_free;
	_Atomic uint64_t alloc_slowpath;
	_Atomic uint64_t free_slowpath;
} __attribute__((aligned(64)));

/*
 * kmem_cache. list_lock protects the partial list, nr_partial, and the
 * freelist/inuse/frozen fields of every slab of this cache.
 * Geometry fields are set at create and read-only afterwards.
 */
struct gmm_kmem_cache {
	char name[32];
	struct gmm_pool *pool;
	unsigned object_size;             /* what the caller asked for */
	unsigned size;                    /* stride: object + free pointer, aligned */
	unsigned offset;                  /* free pointer offset in an object */
	unsigned align;
	unsigned order;                   /* frames per slab: 1 << order */
	unsigned objects;                 /* objects per slab */
	unsigned flags;
	void (*ctor)(void *obj);
	gfp_t slab_gfp;                   /* how slab frames are allocated */

	struct gmm_lock list_lock;
	uint32_t partial;                 /* pfn of first partial slab, FRAME_NIL */
	unsigned long nr_partial;
	unsigned long min_partial;        /* empty slabs kept before freeing */
	_Atomic unsigned long nr_slabs;
	struct gmm_kmem_cache_cpu *cpu;   /* pool->nr_cpus entries */
	struct gmm_kmem_cache *next;      /* pool->caches list (pool->slab_lock) */
};

/* kmem_cache_create(): 0, -EINVAL (no pool base, size 0 or > 8 KiB after
 * alignment with a constructor...), -ENOMEM. */
int gmm_kmem_cache_create(struct gmm_pool *pool, const char *name, size_t size, size_t align,
			  unsigned flags, void (*ctor)(void *), struct gmm_kmem_cache **out);
/* kmem_cache_destroy(): -EBUSY (and nothing freed) while objects remain. */
int gmm_kmem_cache_destroy(struct gmm_kmem_cache *s);

/* kmem_cache_alloc(): NULL when no frame can be had. __GFP_ZERO zeroes. */
void *gmm_kmem_cache_alloc(struct gmm_kmem_cache *s, gfp_t gfp);
/* kmem_cache_free(): a pointer not from this cache is counted, reported
 * and ignored. */
void gmm_kmem_cache_free(struct gmm_kmem_cache *s, void *obj);

/* kmem_cache_shrink(): flush cpu slabs, give every empty slab back.
 * Returns the frames released. */
unsigned long gmm_kmem_cache_shrink(struct gmm_kmem_cache *s);

/* One line of slabinfo. */
struct gmm_slabinfo {
	unsigned long active_objs, num_objs;
	unsigned objsize, objperslab, pagesperslab;
	unsigned long active_slabs, num_slabs;
	unsigned long nr_partial;
	uint64_t allocs, frees, alloc_slowpath, free_slowpath;
};
void gmm_kmem_cache_info(struct gmm_kmem_cache *s, struct gmm_slabinfo *info);

/* kmalloc size classes 8..8192 with 96 and 192; bigger sizes come whole
 * from the buddy (kmalloc_large). size 0 returns NULL. */
void *gmm_kmalloc(struct gmm_pool *pool, size_t size, gfp_t gfp);
void gmm_kfree(struct gmm_pool *pool, const void *p);
/* ksize(): usable size of a kmalloc'd object. */
size_t gmm_ksize(struct gmm_pool *pool, const void *p);
/* The cache gmm_kmalloc(size) uses, NULL beyond 8192 or without base. */
struct gmm_kmem_cache *gmm_kmalloc_cache(struct gmm_pool *pool, size_t size);

/* /proc/slabinfo, version 2.1. */
int gmm_show_slabinfo(struct gmm_pool *pool, FILE *out);

#endif
