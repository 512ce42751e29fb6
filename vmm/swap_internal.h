/*
 * The swap device's insides, shared by swap_slots.c (the allocator),
 * swap_io.c (page I/O) and swap_file.c (open, close, views). Nothing
 * outside vmm/swap*.c includes this.
 */
#ifndef GMM_VMM_SWAP_INTERNAL_H
#define GMM_VMM_SWAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "guestmm/lock.h"
#include "vmm/swap.h"

#define SWAP_MAP_BAD 0x3f          /* slot 0: the header, never handed out */
#define SWAP_COUNT_MASK 0x3f
#define CLUSTER_NONE UINT32_MAX

/* Which list a cluster is on (the kernel's cluster flags). */
enum cluster_state {
	CLUSTER_FREE,       /* no slot used: on sd->free_clusters */
	CLUSTER_NONFULL,    /* some used, owned by no stream: on sd->nonfull_clusters */
	CLUSTER_FULL,       /* every slot used: on no list */
	CLUSTER_CURRENT,    /* a stream's current cluster: on no list */
};

struct swap_cluster {         /* swap_cluster_info */
	uint32_t prev, next;      /* list links, CLUSTER_NONE at the ends */
	uint16_t count;           /* slots in use (cluster 0 counts slot 0) */
	uint8_t state;            /* enum cluster_state */
	uint8_t stream;           /* CLUSTER_CURRENT: whose */
};

struct cluster_list {
	uint32_t head, tail;
	uint32_t nr;
};

struct swap_stream {          /* percpu_cluster, per stream */
	uint32_t cluster;         /* CLUSTER_NONE: none */
	uint32_t next;            /* next slot to try, inside it */
};

/*
 * One swap file. Set at open and read unlocked: path .. nr_clusters, fs.
 * lock protects clusters[], the lists, streams[] and every write to
 * swap_map; swap_map is atomic so page I/O checks a slot without the lock
 * (the caller orders I/O against alloc/free anyway: see swap.h).
 */
struct swap_device {
	char path[PATH_MAX];
	char fs[16];                  /* filesystem name (statfs f_type) */
	bool memory_backed;           /* tmpfs/ramfs: swapping there frees nothing */
	int fd;                       /* O_DIRECT|O_CLOEXEC, flock()ed */
	unsigned type;
	uint64_t nr_slots;            /* the file's pages, slot 0 included */
	uint32_t nr_clusters;

	struct gmm_lock lock;
	_Atomic uint8_t *swap_map;    /* references | SWAP_HAS_CACHE; 0: free */
	struct swap_cluster *clusters;
	struct cluster_list free_clusters, nonfull_clusters;
	struct swap_stream streams[SWAP_NR_STREAMS];

	_Atomic unsigned inject_every[2];   /* by enum swap_dir */
	_Atomic int inject_err[2];
	_Atomic uint64_t inject_calls[2];

	_Atomic uint64_t stat[NR_SWAP_STATS];
};

static inline void swap_count_event(struct swap_device *sd, enum swap_stat_item item, uint64_t n)
{
	atomic_fetch_add_explicit(&sd->stat[item], n, memory_order_relaxed);
}

static inline uint8_t swap_map_get(const struct swap_device *sd, uint64_t slot)
{
	return atomic_load_explicit(&sd->swap_map[slot], memory_order_relaxed);
}

/* A slot I/O may touch: in the file, not slot 0, allocated. */
static inline bool swap_slot_in_use(const struct swap_device *sd, uint64_t slot)
{
	return slot && slot < sd->nr_slots && swap_map_get(sd, slot) && swap_map_get(sd, slot) != SWAP_MAP_BAD;
}

/* swap_slots.c: the allocator's state for nr_slots (cluster 0's slot 0
 * taken), and its teardown. */
int swap_slots_init(struct swap_device *sd);
void swap_slots_destroy(struct swap_device *sd);

#endif
