/*
 * Debugging (mm/page_poison.c, mm/debug.c, and a checker in the spirit of
 * CONFIG_DEBUG_VM): poison free frames, check the poison when a frame is
 * handed out again, report damage, and walk the whole pool for
 * inconsistencies.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guestmm/internal.h"

const char *const frame_flag_names[NR_FRAME_FLAGS] = {
	"locked", "referenced", "uptodate", "dirty", "lru", "active", "workingset", "head",
	"swapbacked", "swapcache", "reclaim", "unevictable", "mlocked", "reserved", "pinned",
	"balloon", "offline", "hwpoison", "buddy", "pcp", "slab", "large_kmalloc", "idle", "isolated",
	"armed_early",
};

void report_corruption(struct gmm_pool *pool, pfn_t pfn, const char *what)
{
	if (pool->hooks.corruption) {
		pool->hooks.corruption(pool, pfn, what, pool->hooks.ctx);
		return;
	}
	if (pfn == GMM_PFN_NONE)
		fprintf(stderr, "gmm: mm: %s\n", what);
	else
		fprintf(stderr, "gmm: mm: pfn %llu: %s\n", (unsigned long long)pfn, what);
}

static void poison_bits(struct gmm_pool *pool, pfn_t pfn, unsigned long nr, bool set)
{
	for (unsigned long i = 0; i < nr; i++) {
		_Atomic uint64_t *w = &pool->poisoned[(pfn + i) / 64];
		uint64_t bit = 1ULL << ((pfn + i) % 64);

		if (set)
			atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
		else
			atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
	}
}

static bool poison_bit(struct gmm_pool *pool, pfn_t pfn)
{
	return atomic_load_explicit(&pool->poisoned[pfn / 64], memory_order_relaxed) &
	       (1ULL << (pfn % 64));
}

/* kernel_poison_pages(): fill with PAGE_POISON, remember it is there. */
void poison_frames(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	if (!pool->base || !pool->poisoned)
		return;
	memset(frame_mem(pool, pfn), GMM_PAGE_POISON, GMM_FRAME_SIZE << order);
	poison_bits(pool, pfn, 1UL << order, true);
}

/* check_poison_mem(): compare 8 bytes at a time. */
static bool poison_intact(const void *mem, size_t bytes)
{
	const uint64_t pat = 0x0101010101010101ULL * GMM_PAGE_POISON;
	const uint64_t *w = mem;

	for (size_t i = 0; i < bytes / 8; i++)
		if (w[i] != pat)
			return false;
	return true;
}

/* Frames that were never freed since the pool was created carry no
 * poison and are not checked. */
bool check_poison(struct gmm_pool *pool, pfn_t pfn, unsigned order)
{
	bool ok = true;

	if (!pool->base || !pool->poisoned)
		return true;
	for (unsigned long i = 0; i < (1UL << order) && ok; i++) {
		if (!poison_bit(pool, pfn + i) || poison_intact(frame_mem(pool, pfn + i), GMM_FRAME_SIZE))
			continue;
		count_vm_event(pool, POISON_CORRUPT);
		report_corruption(pool, pfn + i, "poison overwritten while free (use after free?)");
		ok = false;
	}
	poison_bits(pool, pfn, 1UL << order, false);
	return ok;
}

/* State the checker gives each frame of a zone. */
enum frame_seen {
	SEEN_NONE,
	SEEN_BUDDY_HEAD,
	SEEN_BUDDY_TAIL,
	SEEN_PCP,
};

/*
 * Frames with no reference on no free list, kept as runs of consecutive
 * pfns: a block on its way to the buddy is one run however large (a
 * 2 MiB frame is 512 suspects), so only a pool with more scattered
 * suspects than this is reported without its second look.
 */
#define CHECK_MAX_SUSPECT_RUNS 256

struct pfn_run {
	pfn_t start;
	unsigned long nr;
};

struct check_ctx {
	struct gmm_pool *pool;
	FILE *report;
	int problems;
	bool quiet;                 /* a second look: only the suspects count */
	unsigned nr_suspects;       /* runs in suspects[] */
	struct pfn_run suspects[CHECK_MAX_SUSPECT_RUNS];
};

/* nr frames from pfn with the same problem: nr problems, one line. */
static void problem_run(struct check_ctx *cc, struct gmm_zone *z, pfn_t pfn, unsigned long nr, const char *what)
{
	if (cc->quiet)
		return;
	cc->problems += (int)nr;
	if (cc->report && nr == 1)
		fprintf(cc->report, "gmm check: node %d zone %s pfn %llu: %s\n", z->nid, z->name,
			(unsigned long long)pfn, what);
	else if (cc->report)
		fprintf(cc->report, "gmm check: node %d zone %s pfns %llu-%llu (%lu frames): %s\n", z->nid,
			z->name, (unsigned long long)pfn, (unsigned long long)(pfn + nr - 1), nr, what);
}

static void problem(struct check_ctx *cc, struct gmm_zone *z, pfn_t pfn, const char *what)
{
	problem_run(cc, z, pfn, 1, what);
}

/* Mark [pfn, pfn + nr) as seen, reporting overlaps. */
static void mark(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen, pfn_t pfn,
		 unsigned long nr, enum frame_seen how)
{
	for (unsigned long i = 0; i < nr; i++) {
		unsigned long idx = pfn + i - z->start_pfn;

		if (seen[idx] != SEEN_NONE) {
			problem(cc, z, pfn + i, "frame on two free lists (overlap)");
			return;
		}
		seen[idx] = i == 0 ? how : SEEN_BUDDY_TAIL;
	}
}

static void check_free_block(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen,
			     pfn_t pfn, unsigned order, int mt)
{
	struct gmm_frame *f = pfn_to_frame(cc->pool, pfn);

	if (!zone_spans_pfn(z, pfn) || !zone_spans_pfn(z, pfn + (1UL << order) - 1)) {
		problem(cc, z, pfn, "free block outside its zone");
		return;
	}
	if (pfn & ((1UL << order) - 1))
		problem(cc, z, pfn, "free block not aligned to its order");
	if (!frame_test_buddy(f))
		problem(cc, z, pfn, "free block head without buddy flag");
	if (f->order != order)
		problem(cc, z, pfn, "free block order differs from its list");
	if (f->mt != mt)
		problem(cc, z, pfn, "free block migratetype differs from its list");
	if (get_pageblock_migratetype(z, pfn) != (enum migratetype)mt)
		problem(cc, z, pfn, "free block on a list other than its pageblock type");
	mark(cc, z, seen, pfn, 1UL << order, SEEN_BUDDY_HEAD);
}

static void check_free_lists(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen)
{
	long total = 0;

	for (unsigned o = 0; o <= MAX_ORDER; o++) {
		unsigned long area_n = 0;

		for (int mt = 0; mt < MIGRATE_TYPES; mt++) {
			unsigned long n = 0;
			uint32_t prev = FRAME_NIL;

			for (uint32_t pfn = z->free_area[o].free_list[mt]; pfn != FRAME_NIL;) {
				if (!pfn_valid(cc->pool, pfn) || n > z->spanned_pages) {
					problem(cc, z, pfn, "free list corrupt (bad link or loop)");
					break;
				}
				if (pfn_to_frame(cc->pool, pfn)->lru_prev != prev)
					problem(cc, z, pfn, "free list back link wrong");
				check_free_block(cc, z, seen, pfn, o, mt);
				n++;
				prev = pfn;
				pfn = pfn_to_frame(cc->pool, pfn)->lru_next;
			}
			if (n != z->free_area[o].nr_free_mt[mt])
				problem(cc, z, z->start_pfn, "nr_free per migratetype mismatch");
			area_n += n;
			total += (long)n << o;
		}
		if (area_n != z->free_area[o].nr_free)
			problem(cc, z, z->start_pfn, "nr_free mismatch");
	}
	if (total != zone_free_pages(z))
		problem(cc, z, z->start_pfn, "free_pages differs from the free lists");
}

static void check_pcp_lists(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen)
{
	for (int cpu = 0; cpu < cc->pool->nr_cpus; cpu++) {
		struct gmm_pcp *pcp = &z->pcp[cpu];
		int n = 0;

		for (int mt = 0; mt < MIGRATE_PCPTYPES; mt++)
			for (uint32_t pfn = pcp->lists[mt]; pfn != FRAME_NIL; n++) {
				if (!zone_spans_pfn(z, pfn) || n > pcp->high + pcp->batch) {
					problem(cc, z, pfn, "pcp list corrupt");
					break;
				}
				if (!frame_test_pcp(pfn_to_frame(cc->pool, pfn)))
					problem(cc, z, pfn, "pcp frame without pcp flag");
				mark(cc, z, seen, pfn, 1, SEEN_PCP);
				pfn = pfn_to_frame(cc->pool, pfn)->lru_next;
			}
		if (n != pcp->count)
			problem(cc, z, z->start_pfn, "pcp count mismatch");
	}
}

/* A frame with no reference: extend the last run or start one; with no
 * room left it is reported at once, unconfirmed. */
static void add_suspect(struct check_ctx *cc, struct gmm_zone *z, pfn_t pfn)
{
	struct pfn_run *last = cc->nr_suspects ? &cc->suspects[cc->nr_suspects - 1] : NULL;

	if (last && last->start + last->nr == pfn)
		last->nr++;
	else if (cc->nr_suspects < CHECK_MAX_SUSPECT_RUNS)
		cc->suspects[cc->nr_suspects++] = (struct pfn_run){ pfn, 1 };
	else
		problem(cc, z, pfn, "frame lost: neither free nor allocated");
}

/* Every frame not on a list must be allocated: a head with references
 * (its tails pointing at it) or a frame taken out of use. */
static void check_descriptors(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen)
{
	pfn_t end = z->start_pfn + z->spanned_pages;

	for (pfn_t pfn = z->start_pfn; pfn < end;) {
		struct gmm_frame *f = pfn_to_frame(cc->pool, pfn);
		uint8_t s = seen[pfn - z->start_pfn];
		unsigned long nr;

		if (s != SEEN_NONE) {
			if (s == SEEN_BUDDY_TAIL && (frame_test_buddy(f) || frame_test_pcp(f)))
				problem(cc, z, pfn, "frame inside a free block flagged free");
			pfn++;
			continue;
		}
		if (frame_test_buddy(f) || frame_test_pcp(f))
			problem(cc, z, pfn, "free flag on a frame on no free list");
		if (frame_test_hwpoison(f)) {
			pfn++;
			continue;
		}
		if (frame_test_flag(f, FRAME_isolated) && frame_ref_count(f) <= 0) {
			/* a migration destination compaction holds: the whole block */
			pfn += 1UL << f->order;
			continue;
		}
		if (frame_ref_count(f) <= 0) {
			/* lost, or on its way to a free list: a thread that
			 * dropped the last reference waits for the locks this
			 * walk holds. Looked at again after it (check_zone). */
			add_suspect(cc, z, pfn);
			pfn++;
			continue;
		}
		nr = 1UL << frame_order(f);
		for (unsigned long i = 1; i < nr && pfn + i < end; i++)
			if (frame_head(f + i) != f)
				problem(cc, z, pfn + i, "tail frame not pointing at its head");
		pfn += nr;
	}
}

static void walk_zone(struct check_ctx *cc, struct gmm_zone *z, uint8_t *seen)
{
	memset(seen, 0, z->spanned_pages);
	for (int cpu = 0; cpu < cc->pool->nr_cpus; cpu++)
		gmm_lock(&z->pcp[cpu].lock);
	gmm_lock(&z->lock);
	check_free_lists(cc, z, seen);
	check_pcp_lists(cc, z, seen);
	check_descriptors(cc, z, seen);
	gmm_unlock(&z->lock);
	for (int cpu = cc->pool->nr_cpus - 1; cpu >= 0; cpu--)
		gmm_unlock(&z->pcp[cpu].lock);
}

/* Walk the zone under its locks; a frame that looked lost is reported
 * only if a second walk a few milliseconds later, once the threads that
 * waited on the locks went on, finds it lost again. */
static void check_zone(struct check_ctx *cc, struct gmm_zone *z)
{
	uint8_t *seen = calloc(z->spanned_pages, 1);
	struct pfn_run first[CHECK_MAX_SUSPECT_RUNS];
	unsigned nr_first;

	if (!seen) {
		problem(cc, z, z->start_pfn, "checker out of memory");
		return;
	}
	cc->nr_suspects = 0;
	walk_zone(cc, z, seen);
	nr_first = cc->nr_suspects;
	memcpy(first, cc->suspects, nr_first * sizeof(first[0]));
	if (nr_first) {
		struct timespec pause = { 0, 5 * 1000 * 1000 };

		nanosleep(&pause, NULL);
		cc->quiet = true;
		cc->nr_suspects = 0;
		walk_zone(cc, z, seen);
		cc->quiet = false;
		/* lost: a frame in a run of both walks */
		for (unsigned i = 0; i < nr_first; i++)
			for (unsigned j = 0; j < cc->nr_suspects; j++) {
				const struct pfn_run *b = &cc->suspects[j];
				pfn_t lo = first[i].start > b->start ? first[i].start : b->start;
				pfn_t hi_a = first[i].start + first[i].nr, hi_b = b->start + b->nr;
				pfn_t hi = hi_a < hi_b ? hi_a : hi_b;

				if (lo < hi)
					problem_run(cc, z, lo, hi - lo, "frame lost: neither free nor allocated");
			}
	}
	free(seen);
}

int gmm_pool_check(struct gmm_pool *pool, FILE *report)
{
	struct check_ctx cc = { .pool = pool, .report = report };

	for (int i = 0; i < pool->nr_zones; i++)
		check_zone(&cc, &pool->zones[i]);
	return cc.problems + slab_check(pool, report);
}
