/*
 * The swap device: one swap file (host.swap), the block layer under
 * reclaim's swap-out and the fault path's swap-in (docs/swap.md). Modelled
 * on the kernel's mm/swapfile.c: a swap_map of per-slot use counts, slots
 * handed out from 2 MiB clusters (swap_cluster_info) so the pages one
 * caller swaps out together land in neighbouring slots and come back with
 * one read, and the page I/O batched: runs of consecutive slots are one
 * pwritev()/preadv(). The file is opened with O_DIRECT, so swapped pages do
 * not sit in the host's page cache as well (that would undo the reclaim).
 *
 * No LRU and no stage-2 here: reclaim picks the pages, writes them with
 * swap_write_pages() and frees a frame only when its write succeeded; the
 * fault path reads with swap_read_pages(). A slot number is the EPT's swap
 * offset (40 bits) and swap_type() its 6-bit type; slot 0 is never handed
 * out (it holds the file's header, as the kernel's slot 0 holds mkswap's),
 * so 0 can mean "no slot".
 *
 * The file: created if missing (mode 0600: it holds guest memory), or
 * reused when it is empty or a previous gmm swap file (its header says so);
 * any other existing file is refused, never truncated, and a file another
 * gmm has open (flock) is refused with -EBUSY. Its size is fallocate()d up
 * front. State is not persistent: every open starts with all slots free,
 * and close punches the data out (the size stays; the file is not
 * unlinked: the path is the user's).
 *
 * Locking: one spinlock per device (the kernel's si->lock; cluster locks
 * are not worth it at gmm's rates) protects the allocator: clusters, their
 * lists, the streams' current clusters and writes to swap_map. Page I/O
 * runs without it: several vCPU fault threads may read while a reclaim
 * thread writes. A slot's I/O is the caller's to order against its
 * alloc/free (write before publishing the entry, free after the last
 * read), as the kernel's swap cache orders it. Stats are atomics read
 * without a lock.
 */
#ifndef GMM_VMM_SWAP_H
#define GMM_VMM_SWAP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SWAP_PAGE_BYTES 4096ULL
#define SWAP_CLUSTER_SLOTS 512U                    /* SWAPFILE_CLUSTER */
#define SWAP_CLUSTER_BYTES (SWAP_PAGE_BYTES * SWAP_CLUSTER_SLOTS)
#define SWAP_MIN_BYTES (2 * SWAP_CLUSTER_BYTES)    /* 4M */
#define SWAP_MAX_BYTES (1ULL << 40)                /* 1T: a 256 MiB swap_map */
#define SWAP_MAX_TYPES 64                          /* the EPT's 6-bit swap type */
#define SWAP_NR_STREAMS 64                         /* current clusters; streams modulo this */
#define SWAP_MAP_MAX 0x3e                          /* references per slot (SWAP_MAP_MAX) */
#define SWAP_HAS_CACHE 0x40                        /* swap_map bit: a frame caches the slot */

/* host.swap: config's typed form, checked by swap_config_validate(). */
struct swap_config {
	char path[PATH_MAX];          /* empty: no swap */
	uint64_t size_bytes;          /* whole 2 MiB clusters, SWAP_MIN_BYTES..SWAP_MAX_BYTES */
};

/* Counters, counted where the event happens; the printed name is the
 * lowercase name in swap_stat_names[]. Pages, not calls, unless _calls. */
enum swap_stat_item {
	SWAP_TOTAL_SLOTS,       /* usable slots (the file's size in pages, less slot 0) */
	SWAP_USED_SLOTS,        /* slots with a reference or a cache bit (inuse_pages) */
	SWAP_FREE_CLUSTERS,     /* clusters on the free list */
	SWAP_ALLOC_FAIL,        /* allocations that found no free slot (swpout fallback) */
	SWAP_WRITES,            /* pages written (pswpout) */
	SWAP_READS,             /* pages read (pswpin) */
	SWAP_WRITE_CALLS,       /* pwritev() calls: writes / write_calls is the coalescing */
	SWAP_READ_CALLS,        /* preadv() calls */
	SWAP_BYTES_WRITTEN,
	SWAP_BYTES_READ,
	SWAP_WRITE_ERRORS,      /* pages whose write failed: their frames must be kept */
	SWAP_READ_ERRORS,       /* pages whose read failed */
	SWAP_BAD_SLOTS,         /* refused slot numbers: out of range, slot 0, not in use */
	SWAP_INJECTED_ERRORS,   /* I/O calls failed on purpose (swap_inject_errors()) */
	NR_SWAP_STATS
};
extern const char *const swap_stat_names[NR_SWAP_STATS];

enum swap_dir { SWAP_WRITE, SWAP_READ };

struct swap_device;

/* host.swap without touching the filesystem: both path and size, or
 * neither; size in whole clusters within bounds. err names the field
 * ("host.swap.size: ..."). Returns 0 or -EINVAL. */
int swap_config_validate(const struct swap_config *cfg, char *err, size_t errlen);

/*
 * mkswap + swapon in one: open or create cfg->path (O_DIRECT|O_CLOEXEC),
 * fallocate its size, write the header, lock it, and build an empty slot
 * map. type (0..SWAP_MAX_TYPES-1) is the EPT swap type its entries carry.
 * Returns 0 with *out set, or -errno with a one-line err naming the path
 * and the cause: missing directory (-ENOENT), a directory or not a regular
 * file (-EISDIR, -EINVAL), read-only filesystem (-EROFS), permission
 * (-EACCES), someone else's file (-EEXIST), in use (-EBUSY), no space
 * (-ENOSPC), O_DIRECT unsupported by the filesystem (-EINVAL, naming its
 * type), bad size (-EINVAL).
 */
int swap_open(const struct swap_config *cfg, unsigned type, struct swap_device **out, char *err,
	      size_t errlen);
/* Punch the data out, unlock and close. Every slot is gone: the caller
 * has stopped every guest that had entries here. */
void swap_close(struct swap_device *sd);

unsigned swap_type(const struct swap_device *sd);
const char *swap_path(const struct swap_device *sd);
/* The filesystem the file is on ("ext4", "tmpfs", ...); a tmpfs or ramfs
 * swap file is memory, and swap_show() says so. */
const char *swap_fs_name(const struct swap_device *sd);

/*
 * Slots (swap_slots.c; take and drop sd's lock).
 *
 * swap_alloc: one slot with one reference, or 0 when the device is full
 * (counted in alloc_fail: reclaim then falls back). stream names who is
 * swapping out (a reclaim thread, a guest; any number, modulo
 * SWAP_NR_STREAMS): each stream fills its own current cluster in order,
 * so its successive pages get successive slots; then a free cluster; then
 * partly used ones (scan_swap_map_slots()).
 * swap_alloc_batch: up to nr slots into slots[], in order, consecutive
 * where the cluster allows; returns how many (a short count is one
 * alloc_fail).
 */
uint64_t swap_alloc(struct swap_device *sd, unsigned stream);
unsigned swap_alloc_batch(struct swap_device *sd, unsigned stream, unsigned nr, uint64_t *slots);

/*
 * References, like swap_duplicate()/swap_free(): a slot is free when its
 * count is 0 and no frame caches it. swap_dup adds a reference (an entry
 * copied); swap_free drops one (an entry gone: the page came back dirty,
 * or its guest stopped); a whole cluster freed goes back on the free list.
 * swap_cache_add marks the slot as cached by a frame (swapcache_prepare():
 * -EEXIST if another fault already did, so one of two racing swap-ins
 * reads); swap_cache_del clears it. swap_count: the references, not the
 * cache bit (__swap_count()).
 * Each returns -EINVAL for a bad slot (0, out of range, or free), counted
 * in bad_slots and otherwise ignored; swap_dup -EOVERFLOW at SWAP_MAP_MAX.
 * swap_free_batch frees each (one lock hold) and returns 0 or -EINVAL if
 * any was bad.
 */
int swap_dup(struct swap_device *sd, uint64_t slot);
int swap_free(struct swap_device *sd, uint64_t slot);
int swap_free_batch(struct swap_device *sd, const uint64_t *slots, unsigned n);
int swap_cache_add(struct swap_device *sd, uint64_t slot);
int swap_cache_del(struct swap_device *sd, uint64_t slot);
int swap_count(struct swap_device *sd, uint64_t slot);

/*
 * Page I/O (swap_io.c; no lock held, any thread). pages[i] is 4 KiB-aligned
 * host memory (pool frames as mapped in gmm) for slots[i], which must be
 * allocated. Runs of consecutive slots (slots[i+1] == slots[i] + 1) go in
 * one pwritev()/preadv() of up to a cluster; the caller orders its pages
 * by slot to get them.
 * Returns how many pages were written/read (n: all). status, when not
 * NULL, gets one entry per page: 0, or -errno for a page that was not
 * written/read (-EINVAL for a bad slot or an unaligned page, -EIO,
 * -ENOSPC, ...). A failed run does not stop the runs after it. A page
 * whose write failed is counted in write_errors, and its frame must be
 * kept: nothing is lost because a frame is freed only after its write.
 * swap_read_page: one page, 0 or -errno.
 */
unsigned swap_write_pages(struct swap_device *sd, const uint64_t *slots, void *const *pages, unsigned n,
			  int *status);
unsigned swap_read_pages(struct swap_device *sd, const uint64_t *slots, void *const *pages, unsigned n,
			 int *status);
int swap_read_page(struct swap_device *sd, uint64_t slot, void *page);

/* Tests: make every nth pwritev()/preadv() call fail with -err (a
 * positive errno, e.g. EIO) without issuing it; every_nth 1 fails all,
 * 0 stops. Counted in injected_errors and the write/read errors. */
void swap_inject_errors(struct swap_device *sd, enum swap_dir dir, unsigned every_nth, int err);

/* One counter, read without a lock. */
uint64_t swap_stat(const struct swap_device *sd, enum swap_stat_item item);
/* /proc/swaps: a header, then one line per device (sizes in KiB). */
void swap_show(struct swap_device *const *sds, int nr, FILE *f);
/* "name value" lines, one per counter, after the path and filesystem. */
void swap_stat_show(const struct swap_device *sd, FILE *f);

#endif
