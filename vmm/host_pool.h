/*
 * The host pool: the memory gmm manages for its guests ("host physical
 * memory" in DESIGN.md). A sparse memfd of host.pool.size, mapped once into
 * gmm (the VMM's own view, for zeroing, copying and slab memory), and the
 * guestmm pool (frames, buddy, zones, slab) that hands its frames out.
 *
 * Host memory held is the memfd's allocated blocks (st_blocks): a frame
 * that was never touched, or whose range was punched when it was freed,
 * holds nothing.
 *
 * pfns: [0, mm->nr_frames) are the normal frames (the buddy's); then the
 * home frames (home_frames.h), in the same file, with descriptors of
 * their own past the buddy's; after them, each aligned to its page size,
 * a hugetlb region per page size in
 * use (hugetlb.h): pfns of a second file, hugetlbfs, mapped right after
 * the normal range in gmm's view, so frame_mem() works on every pfn. The
 * realizer asks host_pool_fd_offset() which file and offset a pfn is.
 */
#ifndef GMM_VMM_HOST_POOL_H
#define GMM_VMM_HOST_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "guestmm/pool.h"
#include "vmm/config.h"
#include "vmm/frame_recycle.h"
#include "vmm/home_frames.h"
#include "vmm/hugetlb.h"
#include "vmm/zero_reserve.h"

struct stage2_swap;
struct stage2;
struct kswapd;

#define HOST_POOL_MAX_OWNERS 128   /* frame owner ids: a guest's id + 1 */
struct kcompactd;

struct host_pool {
	int memfd;                   /* a file on gmm's private tmpfs, or a memfd */
	char *base;                  /* the pool mapped into gmm, pfn 0 first */
	uint64_t size_bytes;         /* the normal frames' part of the file */
	struct home_frames home;     /* the home frames' part after it (home_frames.h) */
	uint64_t span_bytes;         /* gmm's view: normal frames, gaps, hugetlb regions */
	struct hugetlb_region huge[NR_HUGETLB_SIZES]; /* memfd -1: size not in use */
	bool shmem_thp;              /* backing can hold 2 MiB folios (tmpfs huge=within_size) */
	struct gmm_pool *mm;         /* guestmm: frames, buddy, zones, slab */
	struct zero_reserve reserve; /* populated, zeroed 2 MiB blocks for the fault path */
	struct frame_recycle recycle; /* evicted frames kept unpunched for swap-ins */
	_Atomic uint64_t punched_frames;   /* frames given back to the host */
	_Atomic uint64_t populated_frames; /* frames populated ahead of use */
	_Atomic uint64_t mapped_free_refused; /* frees of a still-mapped frame (a bug) */
	struct stage2_swap *swap;    /* host.swap, NULL: none; set before guests exist */
	bool reclaim_random;         /* host.reclaim.victims=random: no aging (a baseline) */
	bool self_serve_faults;      /* host.self_serve_faults: native vCPUs serve their faults */
	struct kswapd *_Atomic kswapd; /* the reclaim threads, NULL until started */
	struct kcompactd *_Atomic kcompactd; /* the compaction threads (kcompactd.h), NULL until started */
	/* the OOM killer (oom_kill.h): returns an enum oom_result */
	int (*oom_kill)(void *ctx, uint32_t requester, const char *why);
	void *oom_ctx;
	/* who owns a frame, for compaction's migrate_frame hook: owner id ->
	 * the guest's stage 2, while its memory is the pool's (owners_lock;
	 * held across a migration, so a guest's release waits for it) */
	pthread_rwlock_t owners_lock;
	struct stage2 *owners[HOST_POOL_MAX_OWNERS];
	/* real NUMA nodes (docs/numa.md): each pool node's frames are bound
	 * to its host node; vCPUs of a guest on that node run on its CPUs */
	bool real_nodes;
	cpu_set_t node_cpus[POOL_MAX_NODES];
};

/* Returns -errno with a one-line reason in err. */
int host_pool_create(const struct pool_config *cfg, struct host_pool **out, char *err, size_t errlen);
void host_pool_destroy(struct host_pool *hp);
/* Bytes of host memory the pool holds now (allocated memfd blocks). */
uint64_t host_pool_held_bytes(const struct host_pool *hp);

/* Pin the calling thread to pool node nid's CPUs when the node is a real
 * one (a no-op for emulated nodes, which have no CPUs of their own). */
int host_pool_pin_to_node(struct host_pool *hp, int nid);

/* A guest's frames are its stage 2's from now (s2) until NULL: compaction
 * moves them through stage2_migrate_frame(). */
void host_pool_set_owner(struct host_pool *hp, uint32_t owner, struct stage2 *s2);

/* Give frames [pfn, pfn+nr) back to the host (fallocate PUNCH_HOLE). The
 * caller has unmapped them from every window first: a window page still
 * mapped over a punched range would silently refault a fresh page. */
int host_pool_punch(struct host_pool *hp, pfn_t pfn, uint64_t nr);
/* Populate [pfn, pfn+nr) with zeroed host pages now, so mapping them later
 * costs no allocation or zeroing: an aligned 2 MiB block becomes one 2 MiB
 * folio (shmem_thp), anything else 4 KiB folios. */
int host_pool_populate(struct host_pool *hp, pfn_t pfn, uint64_t nr);
/* The same in 4 KiB folios whatever the range, for frames mapped and
 * freed one by one (a 4 KiB folio is punched without splitting anything). */
int host_pool_populate_small(struct host_pool *hp, pfn_t pfn, uint64_t nr);
/* Free a block and give its memory back: punch, then gmm_free_frames(). */
int host_pool_free(struct host_pool *hp, pfn_t pfn, unsigned order);
/* The same for n order-0 frames; runs of contiguous pfns are punched with
 * one call. */
void host_pool_free_frames(struct host_pool *hp, const pfn_t *pfns, size_t n);
/* qsort() order for pfns: sorted, a batch's neighbours free in one punch. */
int host_pool_cmp_pfn(const void *a, const void *b);

/* After a 2 MiB allocation that returned pfn: on failure (GMM_PFN_NONE)
 * wake node nid's kcompactd (GMM_NUMA_NO_NODE: every node's), which
 * compacts if that can make a huge frame (kcompactd.c). Never blocks. */
void kcompactd_wake_if_failed(struct host_pool *hp, pfn_t pfn, int nid, unsigned order);

/* The file and offset that back pfn: the normal file, or a hugetlb
 * region's. -EINVAL for a pfn the pool does not have. */
int host_pool_fd_offset(const struct host_pool *hp, pfn_t pfn, int *fd, off_t *off);
/* The hugetlb region holding pfn, or NULL (a normal frame). */
struct hugetlb_region *host_pool_hugetlb(struct host_pool *hp, pfn_t pfn);
/* True if the pool has this pfn (normal or hugetlb). */
bool host_pool_pfn_valid(struct host_pool *hp, pfn_t pfn);
/* pfn's descriptor: the frame's, or its hugetlb 2 MiB unit's. */
struct gmm_frame *host_pool_frame(struct host_pool *hp, pfn_t pfn);

#endif
