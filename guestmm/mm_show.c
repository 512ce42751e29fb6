/*
 * Text views in the kernel's formats: /proc/buddyinfo, /proc/pagetypeinfo,
 * /proc/zoneinfo, /proc/slabinfo, /proc/vmstat and debugfs
 * extfrag/{unusable_index,extfrag_index}. Counts are read unlocked, as the
 * kernel does: a view is a snapshot, never a lock holder.
 */
#include <errno.h>
#include <string.h>

#include "guestmm/buddy.h"
#include "guestmm/internal.h"
#include "guestmm/slab.h"

static unsigned long nr_free(struct gmm_zone *z, unsigned order)
{
	return atomic_load_explicit(&z->free_area[order].nr_free, memory_order_relaxed);
}

int gmm_show_buddyinfo(struct gmm_pool *pool, FILE *out)
{
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		fprintf(out, "Node %d, zone %8s ", z->nid, z->name);
		for (unsigned o = 0; o <= MAX_ORDER; o++)
			fprintf(out, "%6lu ", nr_free(z, o));
		fputc('\n', out);
	}
	return 0;
}

/* Types pagetypeinfo lists: the kernel skips CMA when it is not built. */
static const int shown_types[] = {
	MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE,
};
#define NR_SHOWN_TYPES (int)(sizeof(shown_types) / sizeof(shown_types[0]))

static void pagetypeinfo_showfree(struct gmm_pool *pool, FILE *out)
{
	fprintf(out, "%-43s ", "Free pages count per migrate type at order");
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		fprintf(out, "%6u ", o);
	fputc('\n', out);
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		for (int t = 0; t < NR_SHOWN_TYPES; t++) {
			fprintf(out, "Node %4d, zone %8s, type %12s ", z->nid, z->name,
				migratetype_names[shown_types[t]]);
			for (unsigned o = 0; o <= MAX_ORDER; o++)
				fprintf(out, "%6lu ", atomic_load_explicit(
					&z->free_area[o].nr_free_mt[shown_types[t]], memory_order_relaxed));
			fputc('\n', out);
		}
	}
}

static void pagetypeinfo_showblockcount(struct gmm_pool *pool, FILE *out)
{
	fprintf(out, "\n%-23s", "Number of blocks type ");
	for (int t = 0; t < NR_SHOWN_TYPES; t++)
		fprintf(out, "%12s ", migratetype_names[shown_types[t]]);
	fputc('\n', out);
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];
		unsigned long count[MIGRATE_TYPES] = { 0 };
		pfn_t end = z->start_pfn + z->spanned_pages;

		for (pfn_t p = z->start_pfn & ~(pageblock_nr_pages - 1); p < end; p += pageblock_nr_pages)
			count[get_pageblock_migratetype(z, p < z->start_pfn ? z->start_pfn : p)]++;
		fprintf(out, "Node %d, zone %8s ", z->nid, z->name);
		for (int t = 0; t < NR_SHOWN_TYPES; t++)
			fprintf(out, "%12lu ", count[shown_types[t]]);
		fputc('\n', out);
	}
}

int gmm_show_pagetypeinfo(struct gmm_pool *pool, FILE *out)
{
	fprintf(out, "Page block order: %d\n", pageblock_order);
	fprintf(out, "Pages per block:  %lu\n", pageblock_nr_pages);
	fputc('\n', out);
	pagetypeinfo_showfree(pool, out);
	pagetypeinfo_showblockcount(pool, out);
	return 0;
}

static void zoneinfo_show_pcp(struct gmm_pool *pool, struct gmm_zone *z, FILE *out)
{
	fprintf(out, "\n  pagesets");
	for (int cpu = 0; cpu < pool->nr_cpus; cpu++) {
		struct gmm_pcp *pcp = &z->pcp[cpu];

		fprintf(out, "\n    cpu: %i\n              count:    %i\n"
			"              high:     %i\n              batch:    %i",
			cpu, __atomic_load_n(&pcp->count, __ATOMIC_RELAXED), pcp->high, pcp->batch);
	}
}

int gmm_show_zoneinfo(struct gmm_pool *pool, FILE *out)
{
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		fprintf(out, "Node %d, zone %8s", z->nid, z->name);
		fprintf(out, "\n  pages free     %ld\n        boost    0\n        min      %lu"
			"\n        low      %lu\n        high     %lu\n        spanned  %lu"
			"\n        present  %lu\n        managed  %lu\n        cma      0",
			zone_free_pages(z), z->wmark[WMARK_MIN], z->wmark[WMARK_LOW],
			z->wmark[WMARK_HIGH], z->spanned_pages, z->present_pages, z->managed_pages);
		fprintf(out, "\n        protection: (%lu", z->lowmem_reserve[0]);
		for (int t = 1; t < MAX_NR_ZONES; t++)
			fprintf(out, ", %lu", z->lowmem_reserve[t]);
		fprintf(out, ")");
		fprintf(out, "\n      nr_free_pages %ld", zone_free_pages(z));
		fprintf(out, "\n      nr_free_pcp   %lu", zone_pcp_count(z));
		fprintf(out, "\n      nr_reserved_highatomic %lu", z->nr_reserved_highatomic);
		zoneinfo_show_pcp(pool, z, out);
		fprintf(out, "\n  node_unreclaimable:  0\n  start_pfn:           %llu\n",
			(unsigned long long)z->start_pfn);
	}
	return 0;
}

/* fill_contig_page_info(): free frames, free blocks, and blocks big
 * enough for `order`. */
struct contig_page_info {
	unsigned long free_pages;
	unsigned long free_blocks_total;
	unsigned long free_blocks_suitable;
};

static void fill_contig_page_info(struct gmm_zone *z, unsigned order, struct contig_page_info *info)
{
	memset(info, 0, sizeof(*info));
	for (unsigned o = 0; o <= MAX_ORDER; o++) {
		unsigned long blocks = nr_free(z, o);

		info->free_blocks_total += blocks;
		info->free_pages += blocks << o;
		if (o >= order)
			info->free_blocks_suitable += blocks << (o - order);
	}
}

int zone_unusable_index(struct gmm_zone *z, unsigned order)
{
	struct contig_page_info info;

	fill_contig_page_info(z, order, &info);
	if (!info.free_pages)
		return 1000;
	return (int)((info.free_pages - (info.free_blocks_suitable << order)) * 1000ULL /
		     info.free_pages);
}

int zone_fragmentation_index(struct gmm_zone *z, unsigned order)
{
	struct contig_page_info info;
	unsigned long requested = 1UL << order;

	fill_contig_page_info(z, order, &info);
	if (!info.free_blocks_total)
		return 0;
	if (info.free_blocks_suitable)
		return -1000;
	return 1000 - (int)((1000 + info.free_pages * 1000ULL / requested) / info.free_blocks_total);
}

static void show_index(struct gmm_pool *pool, FILE *out, int (*fn)(struct gmm_zone *, unsigned),
		       const char *fmt)
{
	for (int i = 0; i < pool->nr_zones; i++) {
		struct gmm_zone *z = &pool->zones[i];

		fprintf(out, "Node %d, zone %8s ", z->nid, z->name);
		for (unsigned o = 0; o <= MAX_ORDER; o++) {
			int idx = fn(z, o);

			/* Only -1000 is negative, so idx % 1000 is never < 0 here. */
			fprintf(out, fmt, idx / 1000, idx % 1000);
		}
		fputc('\n', out);
	}
}

int gmm_show_unusable_index(struct gmm_pool *pool, FILE *out)
{
	show_index(pool, out, zone_unusable_index, "%d.%03d ");
	return 0;
}

int gmm_show_extfrag_index(struct gmm_pool *pool, FILE *out)
{
	show_index(pool, out, zone_fragmentation_index, "%2d.%03d ");
	return 0;
}

int gmm_show_slabinfo(struct gmm_pool *pool, FILE *out)
{
	fprintf(out, "slabinfo - version: 2.1\n");
	fprintf(out, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
		"<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata "
		"<active_slabs> <num_slabs> <sharedavail>\n");
	pthread_mutex_lock(&pool->slab_lock);
	for (struct gmm_kmem_cache *s = pool->caches; s; s = s->next) {
		struct gmm_slabinfo si;

		gmm_kmem_cache_info(s, &si);
		fprintf(out, "%-17s %6lu %6lu %6u %4u %4d", s->name, si.active_objs, si.num_objs,
			si.objsize, si.objperslab, si.pagesperslab);
		fprintf(out, " : tunables %4u %4u %4u", 0, 0, 0);
		fprintf(out, " : slabdata %6lu %6lu %6lu\n", si.active_slabs, si.num_slabs, 0UL);
	}
	pthread_mutex_unlock(&pool->slab_lock);
	return 0;
}

const char *const gmm_pool_show_names[] = {
	"buddyinfo", "pagetypeinfo", "zoneinfo", "slabinfo", "vmstat",
	"extfrag_index", "unusable_index", NULL,
};

static int (*const show_fns[])(struct gmm_pool *, FILE *) = {
	gmm_show_buddyinfo, gmm_show_pagetypeinfo, gmm_show_zoneinfo, gmm_show_slabinfo,
	gmm_show_vmstat, gmm_show_extfrag_index, gmm_show_unusable_index,
};

int gmm_pool_show(struct gmm_pool *pool, const char *name, FILE *out)
{
	for (int i = 0; name && gmm_pool_show_names[i]; i++)
		if (!strcmp(name, gmm_pool_show_names[i]))
			return show_fns[i](pool, out);
	return -ENOENT;
}
