/*
 * The swap slot allocator (swap.h), after mm/swapfile.c: swap_map holds a
 * use count per slot, clusters of 512 slots sit on a free list or a
 * nonfull list, and each stream fills a current cluster of its own from
 * the front, so what one reclaim pass writes lands in neighbouring slots
 * (one pwritev() out, one preadv() readahead back).
 */
#include <errno.h>
#include <stdlib.h>

#include "vmm/swap_internal.h"

const char *const swap_stat_names[NR_SWAP_STATS] = {
	[SWAP_TOTAL_SLOTS] = "total_slots",
	[SWAP_USED_SLOTS] = "used_slots",
	[SWAP_FREE_CLUSTERS] = "free_clusters",
	[SWAP_ALLOC_FAIL] = "alloc_fail",
	[SWAP_WRITES] = "writes",
	[SWAP_READS] = "reads",
	[SWAP_WRITE_CALLS] = "write_calls",
	[SWAP_READ_CALLS] = "read_calls",
	[SWAP_BYTES_WRITTEN] = "bytes_written",
	[SWAP_BYTES_READ] = "bytes_read",
	[SWAP_WRITE_ERRORS] = "write_errors",
	[SWAP_READ_ERRORS] = "read_errors",
	[SWAP_BAD_SLOTS] = "bad_slots",
	[SWAP_INJECTED_ERRORS] = "injected_errors",
};

/* --- cluster lists ------------------------------------------------------ */

static void list_add_tail(struct swap_device *sd, struct cluster_list *l, uint32_t c, enum cluster_state state)
{
	struct swap_cluster *ci = &sd->clusters[c];

	lockdep_assert_held(&sd->lock);
	ci->state = (uint8_t)state;
	ci->next = CLUSTER_NONE;
	ci->prev = l->tail;
	if (l->tail == CLUSTER_NONE)
		l->head = c;
	else
		sd->clusters[l->tail].next = c;
	l->tail = c;
	l->nr++;
	if (l == &sd->free_clusters)
		atomic_store_explicit(&sd->stat[SWAP_FREE_CLUSTERS], l->nr, memory_order_relaxed);
}

static void list_del(struct swap_device *sd, struct cluster_list *l, uint32_t c)
{
	struct swap_cluster *ci = &sd->clusters[c];

	lockdep_assert_held(&sd->lock);
	if (ci->prev == CLUSTER_NONE)
		l->head = ci->next;
	else
		sd->clusters[ci->prev].next = ci->next;
	if (ci->next == CLUSTER_NONE)
		l->tail = ci->prev;
	else
		sd->clusters[ci->next].prev = ci->prev;
	ci->prev = ci->next = CLUSTER_NONE;
	l->nr--;
	if (l == &sd->free_clusters)
		atomic_store_explicit(&sd->stat[SWAP_FREE_CLUSTERS], l->nr, memory_order_relaxed);
}

static struct cluster_list *cluster_list_of(struct swap_device *sd, uint32_t c)
{
	switch ((enum cluster_state)sd->clusters[c].state) {
	case CLUSTER_FREE:
		return &sd->free_clusters;
	case CLUSTER_NONFULL:
		return &sd->nonfull_clusters;
	case CLUSTER_FULL:
	case CLUSTER_CURRENT:
		break;
	}
	return NULL;
}

/* Put a cluster no stream owns on the list its count says. */
static void cluster_settle(struct swap_device *sd, uint32_t c)
{
	struct swap_cluster *ci = &sd->clusters[c];
	struct cluster_list *l = cluster_list_of(sd, c);
	enum cluster_state want = !ci->count ? CLUSTER_FREE :
		ci->count == SWAP_CLUSTER_SLOTS ? CLUSTER_FULL : CLUSTER_NONFULL;

	lockdep_assert_held(&sd->lock);
	if (ci->state == CLUSTER_CURRENT) {
		if (ci->count)
			return;
		/* empty: back on the free list whichever stream had it, as
		 * the kernel frees an empty cluster (free_cluster()) */
		sd->streams[ci->stream].cluster = CLUSTER_NONE;
		ci->state = CLUSTER_FULL;
	}
	if (ci->state == want)
		return;
	if (l)
		list_del(sd, l, c);
	if (want == CLUSTER_FULL)
		ci->state = CLUSTER_FULL;
	else
		list_add_tail(sd, want == CLUSTER_FREE ? &sd->free_clusters : &sd->nonfull_clusters, c, want);
}

int swap_slots_init(struct swap_device *sd)
{
	sd->nr_clusters = (uint32_t)(sd->nr_slots / SWAP_CLUSTER_SLOTS);
	sd->swap_map = calloc(sd->nr_slots, sizeof(*sd->swap_map));
	sd->clusters = calloc(sd->nr_clusters, sizeof(*sd->clusters));
	if (!sd->swap_map || !sd->clusters) {
		swap_slots_destroy(sd);
		return -ENOMEM;
	}
	gmm_lock_init(&sd->lock);
	sd->free_clusters = (struct cluster_list){ CLUSTER_NONE, CLUSTER_NONE, 0 };
	sd->nonfull_clusters = (struct cluster_list){ CLUSTER_NONE, CLUSTER_NONE, 0 };
	for (unsigned s = 0; s < SWAP_NR_STREAMS; s++)
		sd->streams[s] = (struct swap_stream){ CLUSTER_NONE, 0 };

	gmm_lock(&sd->lock);
	/* slot 0 is the header: cluster 0 starts with one slot used */
	atomic_store_explicit(&sd->swap_map[0], SWAP_MAP_BAD, memory_order_relaxed);
	sd->clusters[0].count = 1;
	for (uint32_t c = 0; c < sd->nr_clusters; c++) {
		sd->clusters[c].state = CLUSTER_FULL;   /* on no list yet */
		cluster_settle(sd, c);
	}
	gmm_unlock(&sd->lock);
	atomic_store(&sd->stat[SWAP_TOTAL_SLOTS], sd->nr_slots - 1);
	return 0;
}

void swap_slots_destroy(struct swap_device *sd)
{
	free((void *)sd->swap_map);
	free(sd->clusters);
	sd->swap_map = NULL;
	sd->clusters = NULL;
}

/* --- allocation --------------------------------------------------------- */

/* Take a free slot at or after from in cluster c, or return 0. */
static uint64_t cluster_scan(struct swap_device *sd, uint32_t c, uint32_t from)
{
	uint64_t base = (uint64_t)c * SWAP_CLUSTER_SLOTS;

	lockdep_assert_held(&sd->lock);
	if (sd->clusters[c].count == SWAP_CLUSTER_SLOTS)
		return 0;
	for (uint32_t i = from; i < SWAP_CLUSTER_SLOTS; i++) {
		if (swap_map_get(sd, base + i))
			continue;
		atomic_store_explicit(&sd->swap_map[base + i], 1, memory_order_relaxed);
		sd->clusters[c].count++;
		swap_count_event(sd, SWAP_USED_SLOTS, 1);
		return base + i;
	}
	return 0;
}

/* Give up a stream's current cluster: it goes where its count says. */
static void stream_release(struct swap_device *sd, struct swap_stream *st)
{
	uint32_t c = st->cluster;

	if (c == CLUSTER_NONE)
		return;
	st->cluster = CLUSTER_NONE;
	sd->clusters[c].state = CLUSTER_FULL;   /* on no list: settle moves it */
	cluster_settle(sd, c);
}

/* A new current cluster: a free one first (neighbours stay neighbours),
 * then a partly used one, scanned from its start. */
static bool stream_refill(struct swap_device *sd, struct swap_stream *st)
{
	struct cluster_list *l = sd->free_clusters.nr ? &sd->free_clusters : &sd->nonfull_clusters;
	uint32_t c = l->head;

	if (c == CLUSTER_NONE)
		return false;
	list_del(sd, l, c);
	sd->clusters[c].state = CLUSTER_CURRENT;
	sd->clusters[c].stream = (uint8_t)(st - sd->streams);
	st->cluster = c;
	st->next = 0;
	return true;
}

/* Last resort: a free slot in another stream's current cluster. */
static uint64_t steal_slot(struct swap_device *sd)
{
	for (unsigned s = 0; s < SWAP_NR_STREAMS; s++) {
		uint64_t slot;

		if (sd->streams[s].cluster == CLUSTER_NONE)
			continue;
		slot = cluster_scan(sd, sd->streams[s].cluster, 0);
		if (slot)
			return slot;
	}
	return 0;
}

static uint64_t alloc_one(struct swap_device *sd, struct swap_stream *st)
{
	lockdep_assert_held(&sd->lock);
	for (;;) {
		uint64_t slot;

		if (st->cluster == CLUSTER_NONE && !stream_refill(sd, st))
			return steal_slot(sd);
		slot = cluster_scan(sd, st->cluster, st->next);
		if (slot) {
			st->next = (uint32_t)(slot % SWAP_CLUSTER_SLOTS) + 1;
			if (sd->clusters[st->cluster].count == SWAP_CLUSTER_SLOTS)
				stream_release(sd, st);
			return slot;
		}
		/* reached the end; slots freed behind us are found again when
		 * the cluster comes back from the nonfull list */
		stream_release(sd, st);
	}
}

unsigned swap_alloc_batch(struct swap_device *sd, unsigned stream, unsigned nr, uint64_t *slots)
{
	struct swap_stream *st = &sd->streams[stream % SWAP_NR_STREAMS];
	unsigned got = 0;

	gmm_lock(&sd->lock);
	while (got < nr) {
		uint64_t slot = alloc_one(sd, st);

		if (!slot)
			break;
		slots[got++] = slot;
	}
	gmm_unlock(&sd->lock);
	if (got < nr)
		swap_count_event(sd, SWAP_ALLOC_FAIL, 1);
	return got;
}

uint64_t swap_alloc(struct swap_device *sd, unsigned stream)
{
	uint64_t slot;

	return swap_alloc_batch(sd, stream, 1, &slot) ? slot : 0;
}

/* --- references --------------------------------------------------------- */

static bool slot_ok(struct swap_device *sd, uint64_t slot)
{
	if (swap_slot_in_use(sd, slot))
		return true;
	swap_count_event(sd, SWAP_BAD_SLOTS, 1);
	return false;
}

/* Set a slot's map byte; a slot that becomes free gives its cluster a
 * slot back (a cluster left empty returns to the free list). */
static void slot_set(struct swap_device *sd, uint64_t slot, uint8_t v)
{
	uint32_t c = (uint32_t)(slot / SWAP_CLUSTER_SLOTS);

	lockdep_assert_held(&sd->lock);
	atomic_store_explicit(&sd->swap_map[slot], v, memory_order_relaxed);
	if (v)
		return;
	sd->clusters[c].count--;
	atomic_fetch_sub_explicit(&sd->stat[SWAP_USED_SLOTS], 1, memory_order_relaxed);
	cluster_settle(sd, c);
}

static int slot_free_locked(struct swap_device *sd, uint64_t slot)
{
	uint8_t v;

	if (!slot_ok(sd, slot))
		return -EINVAL;
	v = swap_map_get(sd, slot);
	if (!(v & SWAP_COUNT_MASK)) {     /* cached only: no reference to drop */
		swap_count_event(sd, SWAP_BAD_SLOTS, 1);
		return -EINVAL;
	}
	slot_set(sd, slot, (uint8_t)(v - 1));
	return 0;
}

int swap_free_batch(struct swap_device *sd, const uint64_t *slots, unsigned n)
{
	int ret = 0;

	gmm_lock(&sd->lock);
	for (unsigned i = 0; i < n; i++)
		if (slot_free_locked(sd, slots[i]))
			ret = -EINVAL;
	gmm_unlock(&sd->lock);
	return ret;
}

int swap_free(struct swap_device *sd, uint64_t slot)
{
	return swap_free_batch(sd, &slot, 1);
}

int swap_dup(struct swap_device *sd, uint64_t slot)
{
	int ret = -EINVAL;
	uint8_t v;

	gmm_lock(&sd->lock);
	if (slot_ok(sd, slot)) {
		v = swap_map_get(sd, slot);
		ret = (v & SWAP_COUNT_MASK) >= SWAP_MAP_MAX ? -EOVERFLOW : 0;
		if (!ret)
			slot_set(sd, slot, (uint8_t)(v + 1));
	}
	gmm_unlock(&sd->lock);
	return ret;
}

/* Set (add) or clear the cache bit. */
static int slot_cache(struct swap_device *sd, uint64_t slot, bool add)
{
	int ret = -EINVAL;
	uint8_t v;

	gmm_lock(&sd->lock);
	if (slot_ok(sd, slot)) {
		v = swap_map_get(sd, slot);
		if (add && (v & SWAP_HAS_CACHE))
			ret = -EEXIST;
		else if (!add && !(v & SWAP_HAS_CACHE))
			swap_count_event(sd, SWAP_BAD_SLOTS, 1);
		else {
			slot_set(sd, slot, add ? (uint8_t)(v | SWAP_HAS_CACHE) : (uint8_t)(v & ~SWAP_HAS_CACHE));
			ret = 0;
		}
	}
	gmm_unlock(&sd->lock);
	return ret;
}

int swap_cache_add(struct swap_device *sd, uint64_t slot)
{
	return slot_cache(sd, slot, true);
}

int swap_cache_del(struct swap_device *sd, uint64_t slot)
{
	return slot_cache(sd, slot, false);
}

int swap_count(struct swap_device *sd, uint64_t slot)
{
	if (!slot_ok(sd, slot))
		return -EINVAL;
	return swap_map_get(sd, slot) & SWAP_COUNT_MASK;
}
