/*
 * hugetlb pages for guests asking for `hugepages: 2M|1G` (docs/hugetlb.md):
 * QEMU's -mem-path /dev/hugepages, libvirt's <hugepages>. A region of the
 * host pool's pfns, after its normal frames, backed by a hugetlbfs memfd
 * (MFD_HUGETLB) of one page size, and its own allocator: like the kernel's
 * hugetlb pool (mm/hugetlb.c's hugepage_freelists), a free list of whole
 * pages, never the buddy. Its frames are never handed out as 4 KiB frames
 * or stage-2 tables, and a page is never split.
 *
 * Descriptors: one struct gmm_frame per 2 MiB of the region, the unit an
 * EPT leaf maps (EPT has 2 MiB leaves only: a 1 GiB page is 512 leaves),
 * so the reverse map and stage2_check() work as for a 2 MiB buddy frame
 * (order 9). A page is zeroed and populated by fallocate() when it is
 * taken, and punched when it is freed, which gives it back to the
 * kernel's hugetlb pool (HugePages_Free) and makes the next use zero.
 *
 * gmm never changes nr_hugepages itself: the administrator reserves the
 * pages, and hugetlb_host_check() refuses to start without enough free.
 *
 * Locking: lock protects free[] and nr_free; descriptors belong to whoever
 * allocated the page (a guest's stage2, under its lock); counters are
 * atomics.
 */
#ifndef GMM_VMM_HUGETLB_H
#define GMM_VMM_HUGETLB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmm/frame.h"

enum hugetlb_size {
	HUGETLB_2M,
	HUGETLB_1G,
	NR_HUGETLB_SIZES,
	HUGETLB_NONE = NR_HUGETLB_SIZES,
};

#define HUGETLB_UNIT_ORDER 9   /* a descriptor, an EPT leaf: 2 MiB */

struct hugetlb_region {
	enum hugetlb_size size;
	unsigned order;              /* page = 1 << order frames: 9 or 18 */
	int memfd;                   /* hugetlbfs memfd, -1: region unused */
	pfn_t start_pfn;
	uint64_t nr_pages;
	struct gmm_frame *units;     /* one per 2 MiB of the region */
	pthread_mutex_t lock;        /* protects free[], nr_free */
	uint32_t *free;              /* stack of free page indices */
	uint64_t nr_free;
	_Atomic uint64_t allocs;         /* pages taken (fallocated) */
	_Atomic uint64_t alloc_failed;   /* none free, or the kernel had none (fallocate) */
	_Atomic uint64_t frees;          /* pages punched and freed */
	_Atomic uint64_t free_refused;   /* a page still mapped (a bug): leaked */
};

/* "2M" / "1G". */
const char *hugetlb_size_name(enum hugetlb_size s);
/* "none", "2M" or "1G" (any case); -EINVAL for anything else. */
int hugetlb_size_parse(const char *text, enum hugetlb_size *out);
/* log2 of the page size in 4 KiB frames: 9 or 18. */
unsigned hugetlb_size_order(enum hugetlb_size s);
/* The kernel's sysfs directory for that page size. */
const char *hugetlb_sysfs_dir(enum hugetlb_size s);

/*
 * Can the kernel give nr_pages pages of size s now? Checks that it knows
 * the size (sysfs), for 1G that the CPU has pdpe1gb, and that free minus
 * reserved pages cover nr_pages. 0, or -errno with a one-line reason in
 * err naming field (the config path) and the file to write.
 */
int hugetlb_host_check(enum hugetlb_size s, uint64_t nr_pages, const char *field, char *err, size_t errlen);

/* Set up a region of bytes (whole pages) at start_pfn, mapped at addr in
 * gmm's view of the pool (aligned to the page size). -errno, err set. */
int hugetlb_region_init(struct hugetlb_region *r, enum hugetlb_size s, pfn_t start_pfn, uint64_t bytes,
			void *addr, char *err, size_t errlen);
/* Close the file (the mapping goes with the pool's). Pages still held
 * go back to the kernel with the file. */
void hugetlb_region_destroy(struct hugetlb_region *r);

static inline bool hugetlb_region_contains(const struct hugetlb_region *r, pfn_t pfn)
{
	return r->memfd >= 0 && pfn >= r->start_pfn && pfn - r->start_pfn < r->nr_pages << r->order;
}

/* The descriptor of the 2 MiB unit holding pfn (caller checked contains). */
static inline struct gmm_frame *hugetlb_unit(const struct hugetlb_region *r, pfn_t pfn)
{
	return &r->units[(pfn - r->start_pfn) >> HUGETLB_UNIT_ORDER];
}

/* A whole page, zeroed and populated (fallocate), its units' descriptors
 * allocated (refcount 1, order 9); GMM_PFN_NONE when none is free or the
 * kernel has none left. */
pfn_t hugetlb_alloc(struct hugetlb_region *r);
/* The EPT leaf over pfn's 2 MiB unit is gone (its mapcount cleared here):
 * once no unit of the page is mapped, the page is punched and freed.
 * Returns 1 if the page was freed, 0 if units are still mapped. */
int hugetlb_put_unit(struct hugetlb_region *r, pfn_t pfn);
/* Free a whole page now (no unit may be mapped: -EBUSY, leaked). */
int hugetlb_free(struct hugetlb_region *r, pfn_t pfn);
/* Free pages (locked read). */
uint64_t hugetlb_nr_free(struct hugetlb_region *r);
/* Bytes the region's file holds now (st_blocks). */
uint64_t hugetlb_held_bytes(const struct hugetlb_region *r);

#endif
