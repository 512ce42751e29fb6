/*
 * NUMA placement of a guest's frames (docs/numa.md): the kernel's
 * mempolicy (mm/mempolicy.c) applied where stage 2 takes a block for a
 * fault. The policy names a wanted node per gfn (policy_node()) and
 * whether the allocation may leave it; the allocator's zonelists then go
 * by distance. Interleaving is per 2 MiB of guest memory, the unit the
 * fault path takes blocks in (the kernel interleaves THPs per huge page
 * too). Every placement is counted as numastat counts it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "guest/abi.h"
#include "guestmm/buddy.h"
#include "vmm/clock.h"
#include "vmm/host_pool.h"
#include "vmm/stage2_internal.h"

const char *const stage2_numa_stat_names[NR_NUMA_STATS] = {
	[NUMA_HIT] = "numa_hit",
	[NUMA_MISS] = "numa_miss",
	[NUMA_FOREIGN] = "numa_foreign",
	[NUMA_INTERLEAVE_HIT] = "numa_interleave",
	[NUMA_LOCAL] = "numa_local",
	[NUMA_OTHER] = "numa_other",
};

/* The nth set bit of mask (n < popcount). */
static int nth_node(uint64_t mask, unsigned n)
{
	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		if ((mask >> nid) & 1 && !n--)
			return nid;
	return 0;
}

/* The node of mask nearest to `from` (node_distance()). */
static int nearest_node(struct gmm_pool *mm, uint64_t mask, int from)
{
	int best = -1;

	for (int nid = 0; nid < mm->nr_nodes; nid++)
		if ((mask >> nid) & 1 && (best < 0 || mm->distance[from][nid] < mm->distance[from][best]))
			best = nid;
	return best < 0 ? from : best;
}

/* interleave_nid() / weighted_interleave_nid() for the 2 MiB unit of gfn. */
static int interleave_node(const struct stage2_numa *p, gfn_t gfn)
{
	uint64_t unit = gfn >> HUGE_ORDER;
	unsigned total = 0;

	if (p->mode == MPOL_INTERLEAVE)
		return nth_node(p->nodemask, (unsigned)(unit % (unsigned)__builtin_popcountll(p->nodemask)));
	for (int nid = 0; nid < GMM_MAX_NODES; nid++)
		total += (p->nodemask >> nid) & 1 ? p->weights[nid] : 0;
	unit %= total;
	for (int nid = 0; nid < GMM_MAX_NODES; nid++) {
		unsigned w = (p->nodemask >> nid) & 1 ? p->weights[nid] : 0;

		if (unit < w)
			return nid;
		unit -= w;
	}
	return 0;
}

void stage2_vcpu_thread(struct stage2 *s2, int vcpu, int tid)
{
	if (vcpu >= 0 && vcpu < STAGE2_MAX_VCPUS)
		atomic_store(&s2->vcpu_tids[vcpu], tid);
}

int stage2_vcpu_node(struct stage2 *s2, int vcpu)
{
	const struct stage2_numa *p = &s2->cfg.numa;

	if (vcpu < 0 || vcpu >= STAGE2_MAX_VCPUS)
		return 0;
	return p->nr_cells ? p->cell_node[p->vcpu_cell[vcpu]] : p->vcpu_node;
}

int stage2_tid_node(struct stage2 *s2, int tid)
{
	for (int i = 0; i < STAGE2_MAX_VCPUS && tid; i++)
		if (atomic_load_explicit(&s2->vcpu_tids[i], memory_order_relaxed) == tid)
			return stage2_vcpu_node(s2, i);
	return 0;
}

/* --- NUMA cells ---------------------------------------------------------- */

#define HOLE_PAGES ((GMM_GPA_HOLE_END - GMM_GPA_HOLE_START) >> GMM_FRAME_SHIFT)
#define HOLE_START_GFN (GMM_GPA_HOLE_START >> GMM_FRAME_SHIFT)

/* RAM offset (pages) <-> gfn, as guest_mem lays RAM out around the hole. */
static uint64_t ram_page_to_gfn(uint64_t off)
{
	return off < HOLE_START_GFN ? off : off + HOLE_PAGES;
}

int stage2_numa_cell(const struct stage2_numa *p, gfn_t gfn)
{
	uint64_t off;

	if (!p->nr_cells || (gfn >= HOLE_START_GFN && gfn < HOLE_START_GFN + HOLE_PAGES))
		return -1;
	off = gfn < HOLE_START_GFN ? gfn : gfn - HOLE_PAGES;
	for (int j = 0; j < p->nr_cells; j++)
		if (off < p->cell_end_pages[j])
			return j;
	return -1;
}

void stage2_numa_cell_span(const struct stage2_numa *p, int j, uint64_t *start, uint64_t *end,
			   uint64_t *ram_bytes)
{
	uint64_t first = j ? p->cell_end_pages[j - 1] : 0, last = p->cell_end_pages[j];

	*start = ram_page_to_gfn(first) << GMM_FRAME_SHIFT;
	*end = (ram_page_to_gfn(last - 1) + 1) << GMM_FRAME_SHIFT;
	*ram_bytes = (last - first) << GMM_FRAME_SHIFT;
}

int numa_policy_node(struct stage2 *s2, gfn_t gfn, uint64_t *mask, bool *strict)
{
	const struct stage2_numa *p = &s2->cfg.numa;
	struct gmm_pool *mm = s2->hp->mm;
	int local = s2->fault_local < mm->nr_nodes ? s2->fault_local : 0;

	*mask = 0;
	*strict = false;
	if (p->nr_cells) {
		/* a cell's memory is bound to its node: MPOL_BIND with one node */
		int j = stage2_numa_cell(p, gfn), nid = j < 0 ? local : p->cell_node[j];

		*mask = 1ULL << nid;
		*strict = j >= 0;
		return nid;
	}
	switch (p->mode) {
	case MPOL_BIND:
		*mask = p->nodemask;
		*strict = true;
		return nearest_node(mm, p->nodemask, local);
	case MPOL_PREFERRED:
		return nth_node(p->nodemask, 0);
	case MPOL_PREFERRED_MANY:
		*mask = p->nodemask;
		return nearest_node(mm, p->nodemask, local);
	case MPOL_INTERLEAVE:
	case MPOL_WEIGHTED_INTERLEAVE:
		return interleave_node(p, gfn);
	default:
		return local;
	}
}

void numa_count(struct stage2 *s2, int want, pfn_t pfn, uint64_t nr)
{
	struct gmm_pool *mm = s2->hp->mm;
	int got = frame_nid(mm, host_pool_frame(s2->hp, pfn));
	int local = s2->fault_local < mm->nr_nodes ? s2->fault_local : 0;

	if (got == want) {
		atomic_fetch_add_explicit(&s2->numa_stat[got][NUMA_HIT], nr, memory_order_relaxed);
		if (s2->cfg.numa.mode == MPOL_INTERLEAVE || s2->cfg.numa.mode == MPOL_WEIGHTED_INTERLEAVE)
			atomic_fetch_add_explicit(&s2->numa_stat[got][NUMA_INTERLEAVE_HIT], nr, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&s2->numa_stat[got][NUMA_MISS], nr, memory_order_relaxed);
		atomic_fetch_add_explicit(&s2->numa_stat[want][NUMA_FOREIGN], nr, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&s2->numa_stat[got][got == local ? NUMA_LOCAL : NUMA_OTHER], nr,
				  memory_order_relaxed);
}

/*
 * A block of 1 << order frames for gfn where the policy wants it. The
 * wanted node first on its own (__GFP_THISNODE: a preferred node is left
 * only when it cannot give even at min, as the slow path's retry at the
 * min watermark decides), then the policy's set (bind: nothing else),
 * then anywhere by distance. *want is the node the policy wanted.
 */
pfn_t numa_alloc(struct stage2 *s2, unsigned order, gfn_t gfn, gfp_t gfp, int *want)
{
	struct gmm_pool *mm = s2->hp->mm;
	struct gmm_alloc_ctl ac = { .order = order };
	uint64_t mask;
	bool strict;

	*want = numa_policy_node(s2, gfn, &mask, &strict);
	if (mm->nr_nodes == 1)
		return gmm_alloc_frames(mm, order, gfp, 0);
	ac.gfp = gfp | __GFP_THISNODE;
	ac.nid = *want;
	if (!gmm_alloc_frames_ctl(mm, &ac))
		return ac.pfn;
	if (mask) {
		ac.gfp = gfp;
		ac.nodemask = mask;
		if (!gmm_alloc_frames_ctl(mm, &ac))
			return ac.pfn;
	}
	if (strict)
		return GMM_PFN_NONE;
	return gmm_alloc_frames(mm, order, gfp, *want);
}

struct maps_walk {
	struct stage2 *s2;
	uint64_t *pages;          /* per node */
	uint64_t huge;
};

static int maps_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct maps_walk *w = arg;

	(void)gfn;
	if (!ept_entry_present(entry))
		return 0;
	w->pages[frame_nid(w->s2->hp->mm, host_pool_frame(w->s2->hp, ept_entry_pfn(entry)))] += 1ULL << order;
	w->huge += order == HUGE_ORDER;
	return 0;
}

int stage2_numa_maps(struct stage2 *s2, gfn_t gfn, uint64_t nr, uint64_t pages[GMM_MAX_NODES], uint64_t *huge)
{
	struct maps_walk w = { .s2 = s2, .pages = pages };
	int ret = -ENODEV;

	memset(pages, 0, GMM_MAX_NODES * sizeof(uint64_t));
	pthread_mutex_lock(&s2->lock);
	if (s2->ept)
		ret = ept_walk(s2->ept, gfn, gfn + nr, maps_leaf, &w);
	pthread_mutex_unlock(&s2->lock);
	*huge = w.huge;
	return ret < 0 ? ret : 0;
}

/* --- NUMA balancing ------------------------------------------------------ */

/* numa_migrate_check()'s rate limit: at most STAGE2_NUMA_RATELIMIT_MBPS
 * of migrations per second per guest, a second's worth at most banked. */
static bool numa_budget_take(struct stage2 *s2, uint64_t pages)
{
	const uint64_t per_sec = (uint64_t)STAGE2_NUMA_RATELIMIT_MBPS << (20 - GMM_FRAME_SHIFT);
	uint64_t now = mono_ns(), add = (now - s2->numa_budget_ns) * per_sec / 1000000000ULL;

	if (add) {
		s2->numa_budget_pages = s2->numa_budget_pages + add > per_sec ? per_sec : s2->numa_budget_pages + add;
		s2->numa_budget_ns = now;
	}
	if (s2->numa_budget_pages < pages)
		return false;
	s2->numa_budget_pages -= pages;
	return true;
}

bool numa_hint_migrate(struct stage2 *s2, uint64_t e, unsigned order)
{
	struct gmm_pool *mm = s2->hp->mm;
	pfn_t src = ept_entry_pfn(e), dst;
	struct gmm_frame *f = host_pool_frame(s2->hp, src);
	int here = frame_nid(mm, f), nid = s2->fault_local;
	uint64_t last;

	if (!s2->cfg.numa.balancing || mm->nr_nodes == 1 || nid < 0 || nid >= mm->nr_nodes)
		return false;
	s2_count(s2, S2_NUMA_HINT_FAULTS, 1);
	last = f->numa_last;
	f->numa_last = (uint64_t)nid + 1;
	if (here == nid) {
		s2_count(s2, S2_NUMA_HINT_FAULTS_LOCAL, 1);
		return false;
	}
	/* should_numa_migrate_memory()'s two-access filter: move only when
	 * the previous hinting fault came from the same node, so one stray
	 * touch does not drag a page across */
	if (last != (uint64_t)nid + 1)
		return false;
	/* bind keeps pages in its set (the kernel's mpol_misplaced()); a
	 * cell is a bind to its one node */
	if (s2->cfg.numa.mode == MPOL_BIND && !((s2->cfg.numa.nodemask >> nid) & 1))
		return false;
	if (s2->cfg.numa.nr_cells) {
		int j = stage2_numa_cell(&s2->cfg.numa, f->gfn);

		if (j < 0 || s2->cfg.numa.cell_node[j] != nid)
			return false;
	}
	if (!numa_budget_take(s2, 1ULL << order)) {
		s2_count(s2, S2_NUMA_MIGRATE_RATELIMITED, 1);
		return false;
	}
	dst = gmm_alloc_frames(mm, order, __GFP_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, nid);
	if (dst == GMM_PFN_NONE)
		return false;
	if (stage2_migrate_frame_locked(s2, src, dst, order)) {
		gmm_free_frames(mm, dst, order);
		s2_count(s2, S2_PGMIGRATE_FAIL, 1ULL << order);
		return false;
	}
	s2_count(s2, S2_NUMA_PAGES_MIGRATED, 1ULL << order);
	return true;
}

struct scan_batch {
	struct stage2 *s2;
	unsigned n;
	uint64_t pages, max_pages;
	gfn_t next;
	pfn_t pfn[256];
};

static int scan_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct scan_batch *b = arg;
	pfn_t pfn;

	b->next = gfn + (1ULL << order);
	if (!ept_entry_present(entry) || gfn < STAGE2_SYSTEM_AREA_GFNS)
		return 0;
	pfn = ept_entry_pfn(entry);
	if (host_pool_hugetlb(b->s2->hp, pfn))
		return 0;
	b->pfn[b->n++] = pfn;
	b->pages += 1ULL << order;
	return b->n == 256 || b->pages >= b->max_pages;
}

long stage2_numa_scan(struct stage2 *s2, uint64_t max_pages)
{
	struct scan_batch b = { .s2 = s2, .max_pages = max_pages };
	uint64_t before;
	long armed;
	bool wrapped = false;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept || s2->stopping || !minor_registered(s2)) {
		pthread_mutex_unlock(&s2->lock);
		return 0;
	}
	before = atomic_load(&s2->stat[S2_HINT_ARMED]);
	while (b.pages < max_pages) {
		int more;

		b.n = 0;
		b.next = s2->numa_scan_next;
		more = ept_walk(s2->ept, s2->numa_scan_next, EPT_GFN_LIMIT, scan_leaf, &b);
		hint_arm_locked(s2, b.pfn, b.n);
		s2->numa_scan_next = more > 0 ? b.next : 0;
		if (more <= 0) {
			if (wrapped)
				break;
			wrapped = true; /* the end of the guest: around once */
		}
	}
	armed = (long)(atomic_load(&s2->stat[S2_HINT_ARMED]) - before);
	pthread_mutex_unlock(&s2->lock);
	return armed;
}
