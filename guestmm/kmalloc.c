/*
 * kmalloc size classes (mm/slab_common.c): 8..8192 in powers of two plus
 * 96 and 192, one cache each, created with the pool when it has a base.
 * Larger requests are whole buddy blocks marked FRAME_large_kmalloc
 * (kmalloc_large()).
 */
#include <errno.h>

#include "guestmm/internal.h"
#include "guestmm/slab.h"

static const unsigned kmalloc_sizes[GMM_KMALLOC_CLASSES] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
};

/* size_index[]: classes for sizes up to 192 in steps of 8, as the kernel's
 * table, so the common small sizes take no loop. */
static const uint8_t size_index[24] = {
	0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
	6, 6, 6, 6, 6, 6, 6, 6,
};

static int kmalloc_index(size_t size)
{
	int i = 7;

	if (size <= 192)
		return size_index[(size - 1) / 8];
	while (i < GMM_KMALLOC_CLASSES && kmalloc_sizes[i] < size)
		i++;
	return i < GMM_KMALLOC_CLASSES ? i : -1;
}

int kmalloc_init(struct gmm_pool *pool)
{
	if (!pool->base)
		return 0;
	for (int i = 0; i < GMM_KMALLOC_CLASSES; i++) {
		char name[32];
		int err;

		snprintf(name, sizeof(name), "kmalloc-%u", kmalloc_sizes[i]);
		err = gmm_kmem_cache_create(pool, name, kmalloc_sizes[i], 0, 0, NULL,
					    &pool->kmalloc_caches[i]);
		if (err)
			return err;
	}
	return 0;
}

struct gmm_kmem_cache *gmm_kmalloc_cache(struct gmm_pool *pool, size_t size)
{
	int i;

	if (!pool->base || !size)
		return NULL;
	i = kmalloc_index(size);
	return i < 0 ? NULL : pool->kmalloc_caches[i];
}

static unsigned get_order(size_t size)
{
	unsigned order = 0;

	while ((GMM_FRAME_SIZE << order) < size)
		order++;
	return order;
}

/* kmalloc_large(): a whole block, head flagged so gmm_kfree() knows. */
static void *kmalloc_large(struct gmm_pool *pool, size_t size, gfp_t gfp)
{
	unsigned order = get_order(size);
	pfn_t pfn;

	if (order > MAX_ORDER)
		return NULL;
	pfn = gmm_alloc_frames(pool, order, gfp, GMM_NUMA_NO_NODE);
	if (pfn == GMM_PFN_NONE)
		return NULL;
	frame_set_large_kmalloc(pfn_to_frame(pool, pfn));
	return frame_mem(pool, pfn);
}

void *gmm_kmalloc(struct gmm_pool *pool, size_t size, gfp_t gfp)
{
	struct gmm_kmem_cache *s;

	if (!pool->base || !size)
		return NULL;
	s = gmm_kmalloc_cache(pool, size);
	if (!s)
		return kmalloc_large(pool, size, gfp);
	return gmm_kmem_cache_alloc(s, gfp);
}

void gmm_kfree(struct gmm_pool *pool, const void *p)
{
	struct gmm_frame *f, *head;

	if (!p)
		return;
	f = virt_to_frame(pool, p);
	head = f ? frame_head(f) : NULL;
	if (head && frame_test_slab(head)) {
		gmm_kmem_cache_free(head->slab_cache, (void *)p);
		return;
	}
	if (head && frame_test_large_kmalloc(head) && p == frame_mem(pool, frame_to_pfn(pool, head))) {
		frame_clear_large_kmalloc(head);
		gmm_free_frames(pool, frame_to_pfn(pool, head), frame_order(head));
		return;
	}
	count_vm_event(pool, BAD_FREE);
	report_corruption(pool, f ? frame_to_pfn(pool, f) : GMM_PFN_NONE, "kfree of a non-kmalloc pointer");
}

size_t gmm_ksize(struct gmm_pool *pool, const void *p)
{
	struct gmm_frame *f = p ? virt_to_frame(pool, p) : NULL;
	struct gmm_frame *head = f ? frame_head(f) : NULL;

	if (!head)
		return 0;
	if (frame_test_slab(head))
		return head->slab_cache->object_size;
	if (frame_test_large_kmalloc(head))
		return GMM_FRAME_SIZE << frame_order(head);
	return 0;
}
