/* See gpool.h. */
#include "guest/gpool.h"

#include "guest/x86.h"

/* A run of the index space that is contiguous in guest-physical memory
 * (one boot_info range, less the reserve). */
struct gpool_seg {
	uint64_t first;     /* index of its first page */
	uint64_t gfn;       /* gfn of its first page */
	uint64_t pages;
};

/* One pool per guest, in the image's BSS: shared by every vCPU. */
static struct {
	int lock;                   /* protects everything below once ready */
	bool ready;                 /* set (release) at the end of gpool_init() */
	uint64_t total;             /* pages in the index space */
	int nr_segs;
	struct gpool_seg seg[GMM_MAX_RANGES];
	uint64_t *free_map;         /* bit set: free (allocatable) */
	uint64_t *balloon_map;      /* bit set: ballooned */
	uint64_t *reported_map;     /* bit set: free and reported (only with free_map's bit) */
	uint64_t *backed_map;       /* bit set: written since the host last dropped it: the
				     * host holds a frame for it (balloon these first) */
	uint64_t nr_free, nr_isolated, nr_balloon, nr_reported;
	/* Hints, so the common searches do not rescan the working set: no
	 * free page below free_lo or at/above free_hi, no ballooned page
	 * below balloon_lo. */
	uint64_t free_lo, free_hi, balloon_lo;
	uint64_t report_cursor;     /* where the next report search starts */
} pool;

static void pool_lock(void)
{
	/* xchg: an atomic read-modify-write that ring 3 may use */
	while (__atomic_exchange_n(&pool.lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&pool.lock, __ATOMIC_RELAXED))
			cpu_relax();
}

static void pool_unlock(void)
{
	__atomic_store_n(&pool.lock, 0, __ATOMIC_RELEASE);
}

static bool test_bit(const uint64_t *map, uint64_t i)
{
	return (map[i >> 6] >> (i & 63)) & 1;
}

static void set_bit(uint64_t *map, uint64_t i)
{
	map[i >> 6] |= 1ULL << (i & 63);
}

static void clear_bit(uint64_t *map, uint64_t i)
{
	map[i >> 6] &= ~(1ULL << (i & 63));
}

static uint64_t map_words(uint64_t pages)
{
	return (pages + 63) / 64;
}

uint64_t gpool_reserve_bytes(uint64_t pages)
{
	return (4 * map_words(pages) * 8 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

static const struct gpool_seg *seg_of_index(uint64_t i)
{
	for (int s = 0; s < pool.nr_segs; s++)
		if (i - pool.seg[s].first < pool.seg[s].pages)
			return &pool.seg[s];
	return NULL;
}

static uint64_t index_gfn(uint64_t i)
{
	const struct gpool_seg *s = seg_of_index(i);

	return s->gfn + (i - s->first);
}

/* The index of gfn, or GPOOL_NONE when gpool does not cover it. */
static uint64_t gfn_index(uint64_t gfn)
{
	for (int s = 0; s < pool.nr_segs; s++)
		if (gfn - pool.seg[s].gfn < pool.seg[s].pages)
			return pool.seg[s].first + (gfn - pool.seg[s].gfn);
	return GPOOL_NONE;
}

void gpool_init(const struct wset *all, uint64_t in_use, void *mem)
{
	uint64_t words = map_words(all->pages), first = 0;

	pool.total = all->pages;
	pool.nr_segs = all->nr_segs;
	for (int s = 0; s < all->nr_segs; s++) {
		pool.seg[s] = (struct gpool_seg){ first, (all->seg[s].gva - all->base) >> PAGE_SHIFT,
						  all->seg[s].pages };
		first += all->seg[s].pages;
	}
	pool.free_map = mem;
	pool.balloon_map = pool.free_map + words;
	pool.reported_map = pool.balloon_map + words;
	pool.backed_map = pool.reported_map + words;
	/* the reserve is RAM nobody has written under gmm, but not under QEMU */
	for (uint64_t w = 0; w < 4 * words; w++)
		pool.free_map[w] = 0;
	for (uint64_t i = 0; i < in_use; i++)
		set_bit(pool.backed_map, i); /* the working set: the workload writes it */
	for (uint64_t i = in_use; i < pool.total; i++) {
		if (!(i & 63) && i + 64 <= pool.total) {
			pool.free_map[i >> 6] = ~0ULL;  /* a whole word at a time */
			i += 63;
			continue;
		}
		set_bit(pool.free_map, i);
	}
	pool.nr_free = pool.total - in_use;
	pool.free_lo = in_use;
	pool.free_hi = pool.total;
	pool.balloon_lo = pool.total;
	pool.report_cursor = in_use;
	__atomic_store_n(&pool.ready, true, __ATOMIC_RELEASE);
}

bool gpool_ready(void)
{
	return __atomic_load_n(&pool.ready, __ATOMIC_ACQUIRE);
}

void gpool_wait_ready(void)
{
	while (!gpool_ready())
		cpu_relax();
}

/* free -> in use (or ballooned, or isolated: the caller sets that). */
static void take_free(uint64_t i)
{
	clear_bit(pool.free_map, i);
	pool.nr_free--;
	if (test_bit(pool.reported_map, i)) {
		clear_bit(pool.reported_map, i);
		pool.nr_reported--;
	}
}

/* -> free; reported only when the host was just told. */
static void put_free(uint64_t i, bool reported)
{
	set_bit(pool.free_map, i);
	pool.nr_free++;
	if (reported) {
		set_bit(pool.reported_map, i);
		clear_bit(pool.backed_map, i); /* the host dropped its contents */
		pool.nr_reported++;
	}
	if (i < pool.free_lo)
		pool.free_lo = i;
	if (i >= pool.free_hi)
		pool.free_hi = i + 1;
}

uint64_t gpool_alloc(void)
{
	uint64_t found = GPOOL_NONE;

	pool_lock();
	for (uint64_t w = pool.free_lo >> 6; w < map_words(pool.total); w++) {
		if (pool.free_map[w]) {
			found = (w << 6) + (uint64_t)__builtin_ctzll(pool.free_map[w]);
			break;
		}
	}
	if (found == GPOOL_NONE) {
		pool.free_lo = pool.total;
	} else {
		take_free(found);
		set_bit(pool.backed_map, found); /* its user writes it */
		pool.free_lo = found + 1;
		found = index_gfn(found);
	}
	pool_unlock();
	return found;
}

void gpool_free(uint64_t gfn, uint64_t n)
{
	pool_lock();
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = gfn_index(gfn + k);

		if (i == GPOOL_NONE || test_bit(pool.free_map, i) || test_bit(pool.balloon_map, i))
			continue;
		put_free(i, false);
	}
	pool_unlock();
}

/* free -> ballooned */
static void take_for_balloon(uint64_t i)
{
	take_free(i);
	clear_bit(pool.backed_map, i); /* the host gets it back */
	set_bit(pool.balloon_map, i);
	pool.nr_balloon++;
	if (i < pool.balloon_lo)
		pool.balloon_lo = i;
}

unsigned gpool_take_for_balloon(unsigned max, uint64_t *out)
{
	unsigned n = 0;
	uint64_t i;

	pool_lock();
	/* first the free pages the host still holds frames for (used, then
	 * freed): ballooning those gives the host memory back, as Linux's
	 * balloon gets the buddy's recently freed, hot pages first */
	for (uint64_t w = map_words(pool.total); w-- > 0 && n < max;) {
		uint64_t bits = pool.free_map[w] & pool.backed_map[w];

		while (bits && n < max) {
			i = (w << 6) + 63 - (uint64_t)__builtin_clzll(bits);
			bits &= ~(1ULL << (i & 63));
			take_for_balloon(i);
			out[n++] = index_gfn(i);
		}
	}
	/* then never-touched ones, highest first */
	i = pool.free_hi;
	while (n < max && i > 0) {
		uint64_t w = (i - 1) >> 6;
		uint64_t bits = pool.free_map[w] & (~0ULL >> (63 - ((i - 1) & 63)));

		if (!bits) {
			i = w << 6;
			continue;
		}
		i = (w << 6) + 63 - (uint64_t)__builtin_clzll(bits);
		take_for_balloon(i);
		out[n++] = index_gfn(i);
	}
	/* nothing free at or above i now */
	pool.free_hi = i;
	pool_unlock();
	return n;
}

unsigned gpool_list_ballooned(unsigned max, uint64_t *out)
{
	unsigned n = 0;

	pool_lock();
	for (uint64_t w = pool.balloon_lo >> 6; w < map_words(pool.total) && n < max; w++) {
		uint64_t bits = pool.balloon_map[w];

		if (!bits && n == 0)
			pool.balloon_lo = (w + 1) << 6;
		for (; bits && n < max; bits &= bits - 1)
			out[n++] = index_gfn((w << 6) + (uint64_t)__builtin_ctzll(bits));
	}
	pool_unlock();
	return n;
}

void gpool_return_from_balloon(const uint64_t *gfns, unsigned n)
{
	pool_lock();
	for (unsigned k = 0; k < n; k++) {
		uint64_t i = gfn_index(gfns[k]);

		if (i == GPOOL_NONE || !test_bit(pool.balloon_map, i))
			continue;
		clear_bit(pool.balloon_map, i);
		pool.nr_balloon--;
		put_free(i, false);
	}
	pool_unlock();
}

/* The next index in [i, end) whose "free and unreported" bit is `want`,
 * or end. */
static uint64_t scan_unreported(uint64_t i, uint64_t end, bool want)
{
	while (i < end) {
		uint64_t w = i >> 6;
		uint64_t bits = pool.free_map[w] & ~pool.reported_map[w];

		bits = (want ? bits : ~bits) & (~0ULL << (i & 63));
		if (bits) {
			i = (w << 6) + (uint64_t)__builtin_ctzll(bits);
			return i < end ? i : end;
		}
		i = (w + 1) << 6;
	}
	return end;
}

/* A run in [from, to), not crossing a segment (it must be one contiguous
 * guest-physical range for the device). Isolates it; 0 if none. */
static uint64_t find_run(uint64_t from, uint64_t to, uint64_t min, uint64_t max, uint64_t *first)
{
	uint64_t i = from;

	while (i < to) {
		uint64_t s = scan_unreported(i, to, true), seg_end, e;

		if (s >= to)
			break;
		seg_end = seg_of_index(s)->first + seg_of_index(s)->pages;
		e = scan_unreported(s, seg_end < to ? seg_end : to, false);
		if (e - s >= min) {
			uint64_t n = e - s < max ? e - s : max;

			for (uint64_t k = s; k < s + n; k++)
				take_free(k);
			pool.nr_isolated += n;
			*first = s;
			return n;
		}
		i = e;
	}
	return 0;
}

uint64_t gpool_next_unreported_run(uint64_t min_pages, uint64_t max_pages, uint64_t *gfn)
{
	uint64_t n, first = 0, cursor;

	if (!min_pages || max_pages < min_pages)
		return 0;
	pool_lock();
	cursor = pool.report_cursor < pool.total ? pool.report_cursor : 0;
	n = find_run(cursor, pool.total, min_pages, max_pages, &first);
	if (!n)
		n = find_run(0, cursor, min_pages, max_pages, &first);
	if (n) {
		pool.report_cursor = first + n;
		*gfn = index_gfn(first);
	}
	pool_unlock();
	return n;
}

void gpool_mark_reported(uint64_t gfn, uint64_t n, bool reported)
{
	pool_lock();
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = gfn_index(gfn + k);

		if (i == GPOOL_NONE || test_bit(pool.free_map, i) || test_bit(pool.balloon_map, i))
			continue;
		pool.nr_isolated--;
		put_free(i, reported);
	}
	pool_unlock();
}

void gpool_counts(struct gpool_counts *out)
{
	pool_lock();
	*out = (struct gpool_counts){
		.total_pages = pool.total,
		.free_pages = pool.nr_free,
		.isolated_pages = pool.nr_isolated,
		.balloon_pages = pool.nr_balloon,
		.reported_pages = pool.nr_reported,
	};
	pool_unlock();
}
