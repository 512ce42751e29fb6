/*
 * Pool set-up: nodes and zones over the pfn range, the frame array, the
 * per-cpu sets, watermarks, and every frame handed to the buddy
 * (memblock_free_all() -> __free_pages_core() in the kernel).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guestmm/internal.h"
#include "guestmm/slab.h"

#define MAX_ORDER_NR_PAGES (1UL << MAX_ORDER)

static void zone_init(struct gmm_pool *pool, struct gmm_zone *z, int id, int nid,
		      enum zone_type type, pfn_t start, unsigned long nr)
{
	pfn_t pb_start = start & ~(pageblock_nr_pages - 1);
	pfn_t pb_end = (start + nr + pageblock_nr_pages - 1) & ~(pageblock_nr_pages - 1);

	gmm_lock_init(&z->lock);
	z->pool = pool;
	z->id = id;
	z->nid = nid;
	z->type = type;
	z->name = zone_names[type];
	z->start_pfn = start;
	z->spanned_pages = z->present_pages = z->managed_pages = nr;
	for (int o = 0; o <= MAX_ORDER; o++)
		for (int mt = 0; mt < MIGRATE_TYPES; mt++)
			z->free_area[o].free_list[mt] = FRAME_NIL;
	/* memmap_init(): every pageblock starts movable, as at boot. */
	memset(z->pageblock_mt, MIGRATE_MOVABLE, (pb_end - pb_start) >> pageblock_order);
	for (pfn_t p = start; p < start + nr; p++) {
		struct gmm_frame *f = &pool->frames[p];

		f->zone_id = (uint8_t)id;
		f->lru_next = f->lru_prev = FRAME_NIL;
		f->gfn = GMM_GFN_NONE;
	}
}

/* __free_pages_core() over the zone: the largest aligned blocks that fit. */
static void zone_free_all(struct gmm_zone *z)
{
	pfn_t end = z->start_pfn + z->spanned_pages;

	gmm_lock(&z->lock);
	for (pfn_t pfn = z->start_pfn; pfn < end;) {
		unsigned order = MAX_ORDER;

		while (order && ((pfn & ((1UL << order) - 1)) || pfn + (1UL << order) > end))
			order--;
		__free_one_page(z, pfn, order);
		pfn += 1UL << order;
	}
	gmm_unlock(&z->lock);
}

/* node_zonelists (build_zonelists()): the node itself first, then the
 * others by distance (ties: lower node id, as find_next_best_node()),
 * highest zone first within a node. */
static void build_zonelists(struct gmm_pool *pool)
{
	for (int n = 0; n < pool->nr_nodes; n++) {
		struct gmm_node *node = &pool->nodes[n];
		bool used[GMM_MAX_NODES] = { false };

		node->nr_zonelist = 0;
		for (int k = 0; k < pool->nr_nodes; k++) {
			int best = -1;

			for (int m = 0; m < pool->nr_nodes; m++)
				if (!used[m] && (best < 0 || pool->distance[n][m] < pool->distance[n][best]))
					best = m;
			used[best] = true;
			for (int t = MAX_NR_ZONES - 1; t >= 0; t--)
				if (pool->nodes[best].zones[t])
					node->zonelist[node->nr_zonelist++] = pool->nodes[best].zones[t];
		}
	}
}

/* The descriptor array is aligned to 64 << MAX_ORDER bytes so frame_head()
 * can find a head by masking a descriptor's address. */
static int pool_alloc_arrays(struct gmm_pool *pool, int nr_zones)
{
	size_t fbytes = pool->nr_desc_frames * sizeof(struct gmm_frame);
	uintptr_t a;

	pool->frames_map_bytes = fbytes + GMM_FRAME_ARRAY_ALIGN;
	pool->frames_map = mmap(NULL, pool->frames_map_bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool->frames_map == MAP_FAILED) {
		pool->frames_map = NULL;
		return -ENOMEM;
	}
	a = ((uintptr_t)pool->frames_map + GMM_FRAME_ARRAY_ALIGN - 1) & ~(GMM_FRAME_ARRAY_ALIGN - 1);
	pool->frames = (struct gmm_frame *)a;
	pool->zones = calloc(nr_zones, sizeof(*pool->zones));
	pool->cpu_events = aligned_alloc(64, pool->nr_cpus * sizeof(*pool->cpu_events));
	/* Debug: which free frames carry poison. Frames never used since the
	 * pool was created carry none (poisoning the whole pool up front
	 * would populate every page of a sparse memfd). */
	if (pool->debug)
		pool->poisoned = calloc((pool->nr_frames + 63) / 64, sizeof(uint64_t));
	if (!pool->zones || !pool->cpu_events || (pool->debug && !pool->poisoned))
		return -ENOMEM;
	memset(pool->cpu_events, 0, pool->nr_cpus * sizeof(*pool->cpu_events));
	return 0;
}

static int zone_alloc_arrays(struct gmm_pool *pool, struct gmm_zone *z, unsigned long nr)
{
	size_t pcp_bytes = pool->nr_cpus * sizeof(struct gmm_pcp);

	z->pageblock_mt = calloc(nr / pageblock_nr_pages + 2, 1);
	z->pcp = aligned_alloc(64, pcp_bytes);
	if (!z->pageblock_mt || !z->pcp)
		return -ENOMEM;
	memset(z->pcp, 0, pcp_bytes);
	return 0;
}

/* Split each node into Normal and (optionally) Movable, MAX_ORDER-aligned. */
static int layout_nodes(struct gmm_pool *pool, const struct gmm_pool_config *cfg)
{
	uint64_t per_node = (pool->nr_frames / pool->nr_nodes) & ~(MAX_ORDER_NR_PAGES - 1);
	int zid = 0;

	if (!per_node)
		return -EINVAL;
	for (int n = 0; n < pool->nr_nodes; n++) {
		struct gmm_node *node = &pool->nodes[n];
		pfn_t start = n * per_node;
		uint64_t nr = n == pool->nr_nodes - 1 ? pool->nr_frames - start : per_node;
		uint64_t movable = (nr * cfg->movable_percent / 100) & ~(MAX_ORDER_NR_PAGES - 1);
		int err;

		if (movable >= nr)
			movable = 0;
		node->nid = n;
		node->start_pfn = start;
		node->spanned_pages = nr;
		for (int t = 0; t < MAX_NR_ZONES; t++) {
			uint64_t znr = t == ZONE_NORMAL ? nr - movable : movable;
			pfn_t zstart = t == ZONE_NORMAL ? start : start + nr - movable;

			if (!znr)
				continue;
			err = zone_alloc_arrays(pool, &pool->zones[zid], znr);
			if (err)
				return err;
			zone_init(pool, &pool->zones[zid], zid, n, t, zstart, znr);
			node->zones[t] = &pool->zones[zid++];
		}
	}
	pool->nr_zones = zid;
	return 0;
}

static int pool_config_ok(const struct gmm_pool_config *cfg)
{
	int nodes = cfg->nr_nodes ? cfg->nr_nodes : 1;

	if (!cfg->nr_frames || cfg->nr_frames + cfg->nr_outside_frames >= FRAME_NIL || nodes < 0 ||
	    nodes > GMM_MAX_NODES || cfg->movable_percent > 90)
		return -EINVAL;
	return 0;
}

int gmm_pool_create(const struct gmm_pool_config *cfg, struct gmm_pool **out)
{
	struct gmm_pool *pool;
	int err = pool_config_ok(cfg);

	if (err)
		return err;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->nr_frames = cfg->nr_frames;
	pool->nr_desc_frames = cfg->nr_frames + cfg->nr_outside_frames;
	pool->base = cfg->base;
	pool->debug = cfg->debug;
	pool->nr_nodes = cfg->nr_nodes ? cfg->nr_nodes : 1;
	for (int a = 0; a < GMM_MAX_NODES; a++)
		for (int b = 0; b < GMM_MAX_NODES; b++)
			pool->distance[a][b] = cfg->distance[a][b] ? cfg->distance[a][b] :
					       (uint8_t)(10 + 10 * (a > b ? a - b : b - a));
	pool->nr_cpus = cfg->nr_cpus > 0 ? cfg->nr_cpus : (int)sysconf(_SC_NPROCESSORS_CONF);
	if (pool->nr_cpus < 1)
		pool->nr_cpus = 1;
	if (cfg->hooks)
		pool->hooks = *cfg->hooks;
	pthread_mutex_init(&pool->slab_lock, NULL);
	err = pool_alloc_arrays(pool, pool->nr_nodes * MAX_NR_ZONES);
	if (!err)
		err = layout_nodes(pool, cfg);
	if (!err)
		err = kmalloc_init(pool);
	if (err) {
		gmm_pool_destroy(pool);
		return err;
	}
	build_zonelists(pool);
	for (int i = 0; i < pool->nr_zones; i++) {
		pcp_setup(&pool->zones[i], pool->nr_cpus, cfg->pcp_batch, cfg->pcp_high);
		zone_free_all(&pool->zones[i]);
	}
	setup_per_zone_wmarks(pool, cfg->min_free_frames, cfg->watermark_scale_factor);
	*out = pool;
	return 0;
}

void gmm_pool_destroy(struct gmm_pool *pool)
{
	if (!pool)
		return;
	slab_destroy_all(pool);
	for (int i = 0; pool->zones && i < pool->nr_nodes * MAX_NR_ZONES; i++) {
		free(pool->zones[i].pageblock_mt);
		free(pool->zones[i].pcp);
	}
	free(pool->zones);
	free(pool->cpu_events);
	free(pool->poisoned);
	if (pool->frames_map)
		munmap(pool->frames_map, pool->frames_map_bytes);
	pthread_mutex_destroy(&pool->slab_lock);
	free(pool);
}

uint64_t gmm_pool_free_frames(struct gmm_pool *pool)
{
	uint64_t n = 0;

	for (int i = 0; i < pool->nr_zones; i++)
		n += zone_free_pages(&pool->zones[i]);
	return n;
}

uint64_t gmm_pool_pcp_frames(struct gmm_pool *pool)
{
	uint64_t n = 0;

	for (int i = 0; i < pool->nr_zones; i++)
		n += zone_pcp_count(&pool->zones[i]);
	return n;
}
