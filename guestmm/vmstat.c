/*
 * vmstat: the names table beside the enum, summing the per-writer sets,
 * and the /proc/vmstat view.
 */
#include "guestmm/buddy.h"
#include "guestmm/internal.h"
#include "guestmm/vmstat.h"

const char *const gmm_vm_item_names[NR_VM_ITEMS] = {
	[NR_FREE_PAGES]        = "nr_free_pages",
	[NR_FREE_PCP]          = "nr_free_pcp",
	[NR_MANAGED_PAGES]     = "nr_managed_pages",
	[NR_SLAB_PAGES]        = "nr_slab_pages",
	[NR_POISONED_PAGES]    = "nr_poisoned_pages",
	[PGALLOC_NORMAL]       = "pgalloc_normal",
	[PGALLOC_MOVABLE]      = "pgalloc_movable",
	[PGFREE]               = "pgfree",
	[ALLOC_FAIL]           = "alloc_fail",
	[PGALLOC_FALLBACK]     = "pgalloc_fallback",
	[PAGEBLOCK_STEAL]      = "pageblock_steal",
	[HIGHATOMIC_RESERVE]   = "highatomic_reserve",
	[HIGHATOMIC_UNRESERVE] = "highatomic_unreserve",
	[BUDDY_SPLIT]          = "buddy_split",
	[BUDDY_MERGE]          = "buddy_merge",
	[WATERMARK_HIGH_HIT]   = "watermark_high_hit",
	[WATERMARK_LOW_HIT]    = "watermark_low_hit",
	[WATERMARK_MIN_HIT]    = "watermark_min_hit",
	[KSWAPD_WAKE]          = "kswapd_wake",
	[ALLOCSTALL]           = "allocstall",
	[PCP_REFILL]           = "pcp_refill",
	[PCP_DRAIN]            = "pcp_drain",
	[SLABS_ALLOCATED]      = "slabs_allocated",
	[SLABS_FREED]          = "slabs_freed",
	[POISON_CORRUPT]       = "poison_corrupt",
	[DOUBLE_FREE]          = "double_free",
	[BAD_FREE]             = "bad_free",
	[BAD_FREE_TAIL]        = "bad_free_tail",
	[BAD_FREE_ORDER]       = "bad_free_order",
	[COMPACTMIGRATE_SCANNED] = "compact_migrate_scanned",
	[COMPACTFREE_SCANNED]  = "compact_free_scanned",
	[COMPACTISOLATED]      = "compact_isolated",
	[COMPACTSTALL]         = "compact_stall",
	[COMPACTFAIL]          = "compact_fail",
	[COMPACTSUCCESS]       = "compact_success",
	[KCOMPACTD_WAKE]       = "compact_daemon_wake",
	[KCOMPACTD_MIGRATE_SCANNED] = "compact_daemon_migrate_scanned",
	[KCOMPACTD_FREE_SCANNED] = "compact_daemon_free_scanned",
	[PGMIGRATE_SUCCESS]    = "pgmigrate_success",
	[PGMIGRATE_FAIL]       = "pgmigrate_fail",
};

void count_vm_events_pool(struct gmm_pool *pool, enum gmm_vm_item item, uint64_t n)
{
	count_vm_events(&pool->cpu_events[gmm_this_cpu(pool)], item, n);
}

void count_vm_event(struct gmm_pool *pool, enum gmm_vm_item item)
{
	count_vm_events_pool(pool, item, 1);
}

void count_migrate_events(struct gmm_pool *pool, uint64_t succeeded, uint64_t failed)
{
	if (succeeded)
		count_vm_events_pool(pool, PGMIGRATE_SUCCESS, succeeded);
	if (failed)
		count_vm_events_pool(pool, PGMIGRATE_FAIL, failed);
}

static uint64_t ev_read(struct gmm_vm_events *s, enum gmm_vm_item item)
{
	return atomic_load_explicit(&s->ev[item - NR_GAUGES], memory_order_relaxed);
}

static uint64_t sum_event(struct gmm_pool *pool, enum gmm_vm_item item)
{
	uint64_t v = 0;

	for (int cpu = 0; cpu < pool->nr_cpus; cpu++)
		v += ev_read(&pool->cpu_events[cpu], item);
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		v += ev_read(&z->ev, item);
		for (int cpu = 0; cpu < pool->nr_cpus; cpu++)
			v += ev_read(&z->pcp[cpu].ev, item);
	}
	return v;
}

uint64_t gmm_vmstat_get(struct gmm_pool *pool, enum gmm_vm_item item)
{
	uint64_t v = 0;

	switch (item) {
	case NR_FREE_PAGES:
		return gmm_pool_free_frames(pool);
	case NR_FREE_PCP:
		return gmm_pool_pcp_frames(pool);
	case NR_MANAGED_PAGES:
		for (int i = 0; i < pool->nr_zones; i++)
			v += pool->zones[i].managed_pages;
		return v;
	case NR_SLAB_PAGES:
		return slab_nr_pages(pool);
	case NR_POISONED_PAGES:
		for (int i = 0; i < pool->nr_zones; i++)
			v += atomic_load_explicit(&pool->zones[i].nr_poisoned, memory_order_relaxed);
		return v;
	default:
		if (item < NR_GAUGES || item >= NR_VM_ITEMS)
			return 0;
		return sum_event(pool, item);
	}
}

int gmm_show_vmstat(struct gmm_pool *pool, FILE *out)
{
	for (int i = 0; i < NR_VM_ITEMS; i++) {
		if (gmm_vm_item_names[i])
			fprintf(out, "%s %llu\n", gmm_vm_item_names[i],
				(unsigned long long)gmm_vmstat_get(pool, (enum gmm_vm_item)i));
	}
	return 0;
}
