/*
 * Page migration on the stage-2 table (docs/numa.md#page-migration),
 * migrate_pages() one level up: a guest page, 4 KiB or a 2 MiB frame,
 * moves to another frame while the guest runs.
 *
 *   EPT entry -> MIGRATING; the window no longer maps the page, so a vCPU
 *   (or a device) touching it stops in the fault path, which waits on
 *   s2->lock; the contents are copied through gmm's own pool mapping; the
 *   new frame is mapped (EPT and window) and the waiters woken; the old
 *   frame is punched and freed.
 *
 * A page that cannot move now is skipped and counted, never half-moved:
 * not present any more (reclaimed, ballooned), in the guest's system area
 * (its page tables and GDT are read by the CPU itself and must never pass
 * through the fault path), a hugetlb page, or pinned. Compaction reaches
 * this through the pool's migrate_frame hook (host_pool.c finds the guest
 * by the frame's owner); NUMA placement and balancing call it directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/buddy.h"
#include "vmm/host_pool.h"
#include "vmm/stage2_internal.h"

/* The frame at src is this guest's mapping of some gfn, of this order,
 * and may move now: 0 with *gfn, -ENOENT if it never will (not this
 * guest's mapping, hugetlb, the system area), -EAGAIN if not now (reclaim
 * or I/O holds it). */
static int migratable(struct stage2 *s2, pfn_t src, unsigned order, gfn_t *gfn)
{
	struct gmm_frame *f = host_pool_frame(s2->hp, src);
	uint64_t e;
	unsigned o;

	/* a home page never moves: its window maps its place (its token
	 * moves instead, home_token_migrate()) */
	if (!f || f->owner != s2->cfg.owner || host_pool_hugetlb(s2->hp, src) || stage2_homed(s2))
		return -ENOENT;
	if (ept_lookup(s2->ept, f->gfn, &e, &o) || !ept_entry_present(e) || ept_entry_pfn(e) != src || o != order)
		return -ENOENT;
	if (f->gfn < STAGE2_SYSTEM_AREA_GFNS || frame_test_unevictable(f))
		return -ENOENT;
	if (frame_test_pinned(f) || frame_test_locked(f) || frame_test_reclaim(f))
		return -EAGAIN;
	*gfn = f->gfn;
	return 0;
}

int stage2_migrate_frame_locked(struct stage2 *s2, pfn_t src, pfn_t dst, unsigned order)
{
	struct gmm_pool *mm = s2->hp->mm;
	uint64_t nr = 1ULL << order;
	struct gmm_frame *sf, *df;
	gfn_t gfn;
	bool active, referenced, workingset;
	int ret = migratable(s2, src, order, &gfn);

	if (ret)
		return ret;
	sf = host_pool_frame(s2->hp, src);
	active = frame_test_active(sf);
	/* what reclaim's aging knows of the page travels with it */
	referenced = frame_test_referenced(sf);
	workingset = frame_test_workingset(sf);
	/* under uffd-wp tracking the PTEs hold what was written: keep it */
	if (s2->dirty_mode == STAGE2_DIRTY_UFFD_WP)
		stage2_dirty_harvest_range_locked(s2, gfn, nr);
	ept_set_migrating(s2->ept, gfn, order, NULL);
	ret = realize_unmap(s2, gfn, nr);
	if (ret) {
		ept_map(s2->ept, gfn, src, order, PROT_GUEST);
		return -EAGAIN;
	}
	/* nobody maps src now: its contents are still */
	host_pool_populate(s2->hp, dst, nr);
	memcpy(frame_mem(mm, dst), frame_mem(mm, src), nr << GMM_FRAME_SHIFT);
	rmap_del(s2, src, 1, order);
	ret = ept_map(s2->ept, gfn, dst, order, PROT_GUEST);
	if (!ret)
		ret = realize_map(s2, gfn, dst, nr);
	if (ret) {
		/* put it back where it was: the old frame is intact; dst goes
		 * back to the caller empty (a freed frame never shows its old
		 * contents to anyone) */
		ept_map(s2->ept, gfn, src, order, PROT_GUEST);
		realize_map(s2, gfn, src, nr);
		rmap_add(s2, gfn, src, 1, order);
		uffd_wake(s2, gfn, nr);
		host_pool_punch(s2->hp, dst, nr);
		return -EAGAIN;
	}
	rmap_add(s2, gfn, dst, 1, order);
	df = host_pool_frame(s2->hp, dst);
	if (referenced)
		frame_set_referenced(df);
	if (workingset)
		frame_set_workingset(df);
	df->numa_last = sf->numa_last;
	if (active)
		gmm_lru_move(mm, &s2->lru, dst, true);
	uffd_wake(s2, gfn, nr);
	host_pool_free(s2->hp, src, order);
	s2_count(s2, S2_PGMIGRATE_SUCCESS, nr);
	return 0;
}

int stage2_migrate_frame(struct stage2 *s2, pfn_t src, pfn_t dst, unsigned order)
{
	int ret;

	pthread_mutex_lock(&s2->lock);
	ret = s2->ept && !s2->stopping ? stage2_migrate_frame_locked(s2, src, dst, order) : -ENOENT;
	if (ret)
		s2_count(s2, S2_PGMIGRATE_FAIL, 1ULL << order);
	pthread_mutex_unlock(&s2->lock);
	return ret;
}

/* The present leaves of a range not on node nid, gathered under the
 * walk (which holds the EPT's lock) and moved after it. */
#define MOVE_BATCH 256
struct move_batch {
	struct stage2 *s2;
	int nid;
	unsigned n;
	gfn_t next;                 /* where the next walk starts */
	pfn_t pfn[MOVE_BATCH];
	unsigned char order[MOVE_BATCH];
};

static int gather_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct move_batch *b = arg;
	pfn_t pfn;

	b->next = gfn + (1ULL << order);
	if (!ept_entry_present(entry))
		return 0;
	pfn = ept_entry_pfn(entry);
	if (frame_nid(b->s2->hp->mm, host_pool_frame(b->s2->hp, pfn)) == b->nid)
		return 0;
	b->pfn[b->n] = pfn;
	b->order[b->n++] = (unsigned char)order;
	return b->n == MOVE_BATCH;
}

long stage2_migrate_to_node(struct stage2 *s2, gfn_t gfn, uint64_t nr, int nid, long *failed)
{
	struct gmm_pool *mm = s2->hp->mm;
	struct move_batch *b = malloc(sizeof(*b));
	long moved = 0, bad = 0;

	if (!b)
		return -ENOMEM;
	b->s2 = s2;
	b->nid = nid;
	b->next = gfn;
	pthread_mutex_lock(&s2->lock);
	while (s2->ept && !s2->stopping && nid >= 0 && nid < mm->nr_nodes && b->next < gfn + nr) {
		int more;

		b->n = 0;
		more = ept_walk(s2->ept, b->next, gfn + nr, gather_leaf, b);
		for (unsigned i = 0; i < b->n; i++) {
			unsigned order = b->order[i];
			pfn_t dst = gmm_alloc_frames(mm, order, __GFP_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, nid);

			/* __GFP_THISNODE without reclaim: migration never pushes
			 * another guest out of the node */
			if (dst == GMM_PFN_NONE || stage2_migrate_frame_locked(s2, b->pfn[i], dst, order)) {
				if (dst != GMM_PFN_NONE)
					gmm_free_frames(mm, dst, order);
				bad += 1L << order;
				s2_count(s2, S2_PGMIGRATE_FAIL, 1ULL << order);
				continue;
			}
			moved += 1L << order;
		}
		if (!more)
			break;
	}
	pthread_mutex_unlock(&s2->lock);
	free(b);
	if (failed)
		*failed = bad;
	return moved;
}
