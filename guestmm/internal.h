/*
 * guestmm internals shared between its .c files (mm/internal.h). Not part
 * of any module contract: nothing outside guestmm/ includes this.
 */
#ifndef GMM_GUESTMM_INTERNAL_H
#define GMM_GUESTMM_INTERNAL_H

#include "guestmm/buddy.h"
#include "guestmm/pool.h"
#include "guestmm/zone.h"

/* Free list primitives (buddy.c). Zone lock held. */
void add_to_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt);
void del_from_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order);
void move_to_free_list(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt);

/* __rmqueue() and __free_one_page() with the zone lock held (buddy.c). */
pfn_t __rmqueue(struct gmm_zone *z, unsigned order, enum migratetype mt, int alloc_flags);
void __free_one_page(struct gmm_zone *z, pfn_t pfn, unsigned order);

/* Highatomic reserve (buddy.c). */
void reserve_highatomic_pageblock(struct gmm_zone *z, pfn_t pfn);
bool unreserve_highatomic_pageblock(struct gmm_zone *z);

/* Pageblocks (pageblock.c). Zone lock held. */
void change_pageblock_range(struct gmm_zone *z, pfn_t pfn, unsigned order, enum migratetype mt);
/* prep_move_freepages_block(): false if pfn's pageblock is not wholly in
 * the zone; else the free frames in it, and allocated frames that look
 * movable (on an LRU). */
bool prep_move_freepages_block(struct gmm_zone *z, pfn_t pfn, unsigned long *free,
			       unsigned long *movable);
/* move_freepages_block(): set pfn's pageblock to mt and move every free
 * block in it (or the larger free block holding it) to mt's lists, keeping
 * free lists in step with pageblock types. Returns the frames moved. */
unsigned long move_freepages_block(struct gmm_zone *z, pfn_t pfn, enum migratetype mt);

/* Per-cpu lists (pcp.c). */
pfn_t pcp_alloc(struct gmm_zone *z, enum migratetype mt, int cpu);
void pcp_free(struct gmm_zone *z, pfn_t pfn, int cpu);
void pcp_setup(struct gmm_zone *z, int nr_cpus, int batch, int high);
void drain_zone_pages(struct gmm_zone *z);

/* Debug (mm_debug.c): poison on free, check on allocation. */
#define GMM_PAGE_POISON 0xaa      /* the kernel's PAGE_POISON pattern */
void poison_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order);
/* true if the block's poison is intact; else reports and counts. */
bool check_poison(struct gmm_pool *pool, pfn_t pfn, unsigned order);
void report_corruption(struct gmm_pool *pool, pfn_t pfn, const char *what);

/* Slab checker part (slab.c): problems found in this pool's caches. */
int slab_check(struct gmm_pool *pool, FILE *report);
void slab_destroy_all(struct gmm_pool *pool);
int kmalloc_init(struct gmm_pool *pool);
unsigned long slab_nr_pages(struct gmm_pool *pool);

/* Write n items of the zone-held event set, summed by vmstat. */
#define zone_count(z, item, n) __count_vm_events(&(z)->ev, (item), (n))

#endif
