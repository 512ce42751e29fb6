/*
 * gpool: the test guest's page allocator for the RAM outside the
 * workload's working set, the guest's own "buddy" in miniature. It covers
 * every page of the boot_info RAM ranges free for the workload (wset.c's
 * index space, minus the reserve main.c carves off the top: the
 * touched-page bitmaps, the virtqueues, the balloon's PFN arrays and
 * gpool's own bitmaps all live there, never here).
 *
 * A page is in one of four states:
 *   in use     the working set (the first pages of the index space at
 *              init), or handed out by gpool_alloc();
 *   free       allocatable; may also carry the `reported` bit: the host
 *              was told it is free (free page reporting) and may have
 *              dropped its contents, so its next user sees zeroes;
 *   isolated   free, but pulled off the free map while a report about it
 *              is in flight (like the kernel's page_reporting isolating
 *              pages from the buddy lists);
 *   ballooned  taken by the balloon and given to the host.
 *
 * Pages are named by gfn (gva = base + gfn * 4096). One spinlock (an
 * atomic xchg loop: several vCPUs use the pool, and the guest has nothing
 * to sleep on) protects the bitmaps, the counts and the hints.
 */
#ifndef GMM_GUEST_GPOOL_H
#define GMM_GUEST_GPOOL_H

#include "guest/compiler.h"
#include "guest/wset.h"

#define GPOOL_NONE UINT64_MAX   /* no page */

struct gpool_counts {
	uint64_t total_pages;       /* the index space */
	uint64_t free_pages;        /* allocatable (reported or not) */
	uint64_t isolated_pages;    /* free but in a report in flight */
	uint64_t balloon_pages;
	uint64_t reported_pages;    /* free pages with the reported bit */
};

/* Bytes of reserve gpool needs for an index space of up to `pages`. */
uint64_t gpool_reserve_bytes(uint64_t pages);
/* One vCPU sets the pool up over `all` (every page, in index order), the
 * first `in_use` pages in use, the rest free and unreported; `mem` is
 * gpool_reserve_bytes(all->pages) of reserve. Then it is ready for all. */
void gpool_init(const struct wset *all, uint64_t in_use, void *mem);
bool gpool_ready(void);
/* Spin until gpool_init() has run (another vCPU does it). */
void gpool_wait_ready(void);

/* The lowest free page (in use now, reported bit cleared), or GPOOL_NONE. */
uint64_t gpool_alloc(void);
/* Pages [gfn, gfn + n) in use -> free, unreported. Others are left alone. */
void gpool_free(uint64_t gfn, uint64_t n);

/* Up to max free pages, ballooned now: first those the host still backs
 * (written, then freed: ballooning them gives the host memory back, as
 * Linux's balloon gets recently freed pages from the buddy first), then
 * never-touched ones, highest addresses first (the working set sits at
 * the bottom).
 * Returns how many, gfns in out[]. */
unsigned gpool_take_for_balloon(unsigned max, uint64_t *out);
/* Up to max ballooned pages, lowest first (the most recently inflated:
 * Linux deflates its balloon list in LIFO order). Their state does not
 * change: only the balloon vCPU changes ballooned pages. */
unsigned gpool_list_ballooned(unsigned max, uint64_t *out);
/* Ballooned -> free (the host acknowledged the deflate). */
void gpool_return_from_balloon(const uint64_t *gfns, unsigned n);

/* Free page reporting: the next run of at least min_pages free unreported
 * pages, contiguous in guest-physical memory, at most max_pages long,
 * searched from where the last call stopped (wrapping once). The run is
 * isolated; returns its length (0: none) and its first gfn in *gfn. */
uint64_t gpool_next_unreported_run(uint64_t min_pages, uint64_t max_pages, uint64_t *gfn);
/* An isolated run -> free again, reported (or unreported if !reported:
 * the host did not take the report). */
void gpool_mark_reported(uint64_t gfn, uint64_t n, bool reported);

void gpool_counts(struct gpool_counts *out);

#endif
