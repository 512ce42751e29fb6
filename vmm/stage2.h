/*
 * A guest's RAM in the host pool: its stage-2 table (ept/), the realizer
 * that makes the guest's window follow the table, and the fault path that
 * fills it on demand (docs/fault-path.md).
 *
 *   vCPU touches a page that is not present
 *     -> the window's anonymous memory there is registered with
 *        userfaultfd: the access stops and the guest's fault thread reads
 *        the stage-2 fault (KVM faults it in through get_user_pages, the
 *        native accelerator touches it directly: the same path)
 *     -> stage2_fault(): EPT lookup; a frame run from this guest's current
 *        block (a zeroed, populated 2 MiB block from the reserve, split
 *        into frames); EPT map; mmap of the pool range over the window
 *        (MAP_FIXED | MAP_POPULATE) -> UFFDIO_WAKE.
 *
 * A guest with home frames (home_frames.h, stage2_home.c) differs: its
 * window maps its own range of the pool file once, gfn g at pfn home + g,
 * and a fault fills the page there (UFFDIO_ZEROPAGE, UFFDIO_COPY of a
 * swap-in, UFFDIO_CONTINUE) with no mmap; on the native accelerator its
 * vCPU serves its own faults (stage2_sigbus()).
 *
 * A fault maps an aligned fault-around block (default 16 frames, 64 KiB)
 * with one mmap, or, on a THP guest, a whole 2 MiB frame. A hugetlb guest
 * (hugepages=2M|1G, docs/hugetlb.md) maps the whole hugetlb page holding
 * the gfn, one mmap of it (a 1 GiB page is 512 2 MiB EPT leaves but one
 * host PUD mapping), and never anything smaller: no page, no fallback,
 * the guest is stopped out of memory. Every frame's descriptor records
 * its owner and gfn (the reverse map).
 *
 * Locking: stage2->lock serializes every change to the window and the
 * EPT (fault thread, prefault, teardown); DESIGN.md's order is guest
 * lifecycle > window mmap > EPT > lruvec > zone. Counters are atomics,
 * read unlocked.
 */
#ifndef GMM_VMM_STAGE2_H
#define GMM_VMM_STAGE2_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/ept.h"
#include "guestmm/frame.h"
#include "guestmm/lru.h"
#include "vmm/swap.h"

struct host_pool;
struct guest_mem;
struct hugetlb_region;
struct arm_ahead_entry;

#define STAGE2_MAX_VCPUS 64
#define STAGE2_LAT_BUCKETS 16  /* fault service time, log2 microseconds: <1, <2, <4 .. >=16384 */

enum stage2_stat_item {
	S2_FAULTS,              /* stage-2 faults served (userfaultfd messages and prefault's calls) */
	S2_FAULT_PRESENT,       /* already mapped by a racing fault: woken only */
	S2_FAULTAROUND_PAGES,   /* fault-around hits: pages mapped ahead of a fault, in its block */
	S2_FAULT_HUGE,          /* faults served with a 2 MiB frame */
	S2_RESERVE_HITS,        /* blocks taken populated from the reserve */
	S2_RESERVE_MISSES,      /* blocks allocated and populated on the fault path */
	S2_PREFAULT_PAGES,      /* pages mapped by prefault at start */
	S2_OOM,                 /* the pool could not give a frame */
	S2_BAD_FAULTS,          /* faults outside RAM or failing to map: counted, zero-filled */
	S2_THP_SPLIT,           /* 2 MiB frames split into 4 KiB (thp_split_page) */
	S2_THP_COLLAPSE_INPLACE,/* 512 frames already one block, merged (thp_collapse_alloc's twin) */
	S2_THP_COLLAPSE_COPY,   /* 512 scattered frames copied into a new block (thp_collapse_alloc) */
	S2_THP_COLLAPSE_FAILED, /* a candidate range that could not be collapsed */
	S2_KHUGEPAGED_FULL_SCANS, /* passes over the whole guest (khugepaged_full_scans) */
	S2_DIRTY_HARVESTS,      /* write-tracking harvests */
	S2_DIRTY_PAGES,         /* pages harvested as written, summed over harvests */
	S2_FAULT_HUGETLB,       /* faults served with a hugetlb page (2M or 1G) */
	/* reclaim and swap (stage2_swap.c), the kernel's vmstat names */
	S2_PGSCAN,              /* inactive pages looked at for eviction */
	S2_PGSTEAL,             /* pages reclaimed (written to swap, frame freed) */
	S2_PGREFILL,            /* active pages looked at for deactivation */
	S2_PGACTIVATE,          /* pages moved to the active list */
	S2_PGDEACTIVATE,        /* pages moved to the inactive list */
	S2_PSWPIN,              /* pages read back from swap */
	S2_PSWPOUT,             /* pages written to swap */
	S2_SWAPCACHE_HITS,      /* faults on a page whose write was still in flight: no read */
	S2_PGSTEAL_CLEAN,       /* ... of pgsteal, pages unwritten since their swap-in: their kept slot, no write */
	S2_SWAPCACHE_DIRTIED,   /* kept slots freed because their page was written (or changed hands) */
	S2_WORKINGSET_REFAULT,  /* swap-ins of a page evicted before */
	S2_WORKINGSET_ACTIVATE, /* ... back soon enough to go straight to the active list */
	S2_SWAP_WRITE_FAILED,   /* pages whose swap write failed: kept in memory */
	S2_SWAP_FULL,           /* evictions refused for want of a swap slot */
	S2_THP_SPLIT_SWAP,      /* 2 MiB frames split to be swapped out (thp_split_page's swap share) */
	S2_HINT_ARMED,          /* pages unmapped for a hinting fault, frames kept (numa_pte_updates) */
	S2_HINT_ARM_ZAPS,       /* madvise() calls that armed them: runs of consecutive gfns */
	S2_HINT_ARMED_AHEAD,    /* ... of them armed by kswapd halfway down the inactive list */
	S2_HINT_FAULTS,         /* armed pages the guest touched: referenced (numa_hint_faults) */
	S2_EVICT_ZAPS,          /* madvise() calls that unmapped pages being evicted (not armed idle) */
	S2_MINOR_UNARMED,       /* minor faults on present pages nobody armed (PTEs the host dropped) */
	S2_PGROTATED,           /* inactive pages seen for the first time: armed and put back */
	S2_PGSCAN_RANDOM,       /* pages picked by reclaim.victims=random */
	/* memory.events (stage2_limits.c): limits crossed */
	S2_MEMCG_LOW,           /* reclaimed below limits.low under global pressure */
	S2_MEMCG_HIGH,          /* faults that found the guest above limits.high: throttled, reclaimed */
	S2_MEMCG_MAX,           /* faults that found the guest at limits.max: reclaimed first */
	S2_MEMCG_OOM,           /* limits.max could not be kept by reclaim */
	S2_MEMCG_OOM_KILL,      /* ... and the guest was stopped for it */
	S2_MEMCG_SWAP_MAX,      /* evictions refused by limits.swap_max */
	/* ballooning (stage2_balloon.c, docs/balloon.md) */
	S2_BALLOON_INFLATED,    /* pages the guest's balloon gave back (BALLOONED entries made) */
	S2_BALLOON_DEFLATED,    /* pages it took back */
	S2_BALLOON_FREED,       /* frames freed by inflation: host memory returned */
	S2_BALLOON_REFAULTS,    /* faults on a BALLOONED entry: a fresh zero frame */
	S2_BALLOON_HUGE_WHOLE,  /* 2 MiB frames freed whole, every page ballooned */
	S2_BALLOON_HUGE_SPLIT,  /* 2 MiB frames split to free the pages ballooned in them */
	S2_BALLOON_OWED_ALLOCS, /* fault allocations while the balloon owed pages: may dip to min/2 */
	S2_REPORTED_PAGES,      /* pages the guest reported free (free page reporting) */
	S2_REPORTED_FREED,      /* frames freed by those reports */
	/* page migration and NUMA (stage2_migrate.c, stage2_numa.c, docs/numa.md) */
	S2_PGMIGRATE_SUCCESS,   /* pages moved to another frame */
	S2_PGMIGRATE_FAIL,      /* pages that could not move now: skipped */
	S2_NUMA_HINT_FAULTS,    /* hinting faults seen by NUMA balancing */
	S2_NUMA_HINT_FAULTS_LOCAL, /* ... from the page's own node */
	S2_NUMA_PAGES_MIGRATED, /* pages balancing moved to their toucher's node */
	S2_NUMA_MIGRATE_RATELIMITED, /* moves the rate limit put off */
	/* self-served faults (stage2_thread.c, docs/fault-path.md#self-served-faults) */
	S2_FAULT_SELF,          /* faults the touching vCPU served itself, in its SIGBUS handler */
	S2_FAULT_FORWARDED,     /* SIGBUS faults of other threads, handed to the fault thread */
	NR_S2_STATS
};
extern const char *const stage2_stat_names[NR_S2_STATS];

/*
 * Write tracking (stage2_dirty.c, docs/write-tracking.md): which pages the
 * guest wrote since the last harvest. Under KVM, KVM's dirty log on the
 * memslots (the accelerator supplies it as stage2_dirty_ops); elsewhere,
 * userfaultfd write-protect in its asynchronous mode on the window, read
 * back and re-armed with one PAGEMAP_SCAN walk.
 */
enum stage2_dirty_mode {
	STAGE2_DIRTY_OFF,
	STAGE2_DIRTY_KVM,      /* KVM_MEM_LOG_DIRTY_PAGES + KVM_GET_DIRTY_LOG */
	STAGE2_DIRTY_UFFD_WP,  /* UFFD_FEATURE_WP_ASYNC + PAGEMAP_SCAN */
};

struct stage2_dirty_ops {
	/* turn the dirty log of RAM slot `slot` on or off */
	int (*enable)(void *ctx, int slot, bool on);
	/* copy slot's bitmap (bit i: the slot's page i was written) and
	 * clear it, re-arming tracking; bitmap is zeroed by the caller */
	int (*fetch)(void *ctx, int slot, uint64_t *bitmap);
	void *ctx;
};

struct stage2_swap;

/* memcg's knobs for one guest, in pages; STAGE2_LIMIT_NONE: no limit. */
#define STAGE2_LIMIT_NONE UINT64_MAX
/* memory.max at least this (bytes): the guest's system area and a block */
#define STAGE2_LIMIT_MAX_MIN_BYTES (4ULL << 20)
struct stage2_limits {
	uint64_t max;       /* memory.max: reclaim, then stop the guest */
	uint64_t high;      /* memory.high: throttle by reclaiming the guest itself */
	uint64_t low;       /* memory.low: global reclaim takes others first */
	uint64_t min;       /* memory.min: global reclaim never goes below */
	uint64_t swap_max;  /* memory.swap.max */
};
/* A guest with no limits: what a stage2_config must say when it sets none
 * (a zeroed struct would be limits of 0 pages). */
#define STAGE2_NO_LIMITS                                                                      \
	((struct stage2_limits){ STAGE2_LIMIT_NONE, STAGE2_LIMIT_NONE, STAGE2_LIMIT_NONE,      \
				 STAGE2_LIMIT_NONE, STAGE2_LIMIT_NONE })

/*
 * NUMA placement (stage2_numa.c, docs/numa.md): the kernel's mempolicy
 * modes over the pool's nodes. "local" is the node the faulting vCPU runs
 * on (numa.vcpu_node); a fault from any other thread (the loader,
 * prefault) is local to node 0, where gmm's own threads run.
 */
enum stage2_mpol {
	MPOL_DEFAULT,            /* local, fall back by distance */
	MPOL_LOCAL,              /* the same, said explicitly */
	MPOL_BIND,               /* only the set, nearest first; never outside */
	MPOL_PREFERRED,          /* one node; elsewhere only once it is below min */
	MPOL_PREFERRED_MANY,     /* the set first, then anywhere */
	MPOL_INTERLEAVE,         /* round robin over the set, per 2 MiB of guest memory */
	MPOL_WEIGHTED_INTERLEAVE,/* the same in proportion to per-node weights */
	NR_MPOL
};
extern const char *const stage2_mpol_names[NR_MPOL];

/*
 * NUMA cells (numa.cells): the guest's RAM cut in order into up to
 * STAGE2_MAX_CELLS ranges, each bound to one pool node (MPOL_BIND with one
 * node), and each vCPU in one cell, local to its node. Ranges are in "RAM
 * offset" pages, which skip the device hole the way guest_mem lays RAM
 * out (gfn below 3 GiB, gfn - the hole's pages above): cell j covers
 * [cell_end_pages[j - 1], cell_end_pages[j]), and a cell may straddle the
 * hole. nr_cells 0: no cells, the policy above applies.
 */
#define STAGE2_MAX_CELLS 8

struct stage2_numa {
	enum stage2_mpol mode;
	uint64_t nodemask;           /* bind, preferred(-many), interleave: the set */
	uint8_t weights[GMM_MAX_NODES]; /* weighted-interleave, per node */
	int vcpu_node;               /* the node the guest's vCPUs run on */
	bool balancing;              /* NUMA balancing: pages follow their vCPUs */
	int nr_cells;                /* 0: no cells */
	uint64_t cell_end_pages[STAGE2_MAX_CELLS]; /* exclusive, RAM offset in pages */
	uint8_t cell_node[STAGE2_MAX_CELLS];       /* the pool node each cell is bound to */
	uint8_t vcpu_cell[STAGE2_MAX_VCPUS];       /* the cell of each vCPU */
};

/* The cell RAM at gfn belongs to, or -1 (no cells, not RAM). */
int stage2_numa_cell(const struct stage2_numa *p, gfn_t gfn);
/* Cell j's guest-physical span [*start, *end): its first and one past its
 * last byte of RAM; a cell straddling the hole spans it too (RAM stops at
 * 3 GiB and continues at 4 GiB), its RAM bytes are *ram_bytes. */
void stage2_numa_cell_span(const struct stage2_numa *p, int j, uint64_t *start, uint64_t *end,
			   uint64_t *ram_bytes);

/* numastat per node, counted in pages as they are placed (mm/vmstat.c's
 * NUMA_HIT..NUMA_OTHER) */
enum stage2_numa_stat {
	NUMA_HIT,                /* placed on the node the policy wanted */
	NUMA_MISS,               /* placed here though another node was wanted */
	NUMA_FOREIGN,            /* wanted here, placed elsewhere */
	NUMA_INTERLEAVE_HIT,     /* interleave placed it where it wanted */
	NUMA_LOCAL,              /* placed on the faulting vCPU's node */
	NUMA_OTHER,              /* placed elsewhere than that */
	NR_NUMA_STATS
};
extern const char *const stage2_numa_stat_names[NR_NUMA_STATS];

struct stage2_config {
	unsigned fault_around_pages;  /* power of two, 1..512 */
	bool thp;                     /* 2 MiB frames at fault time where a 2 MiB range is free */
	bool thp_collapse;            /* khugepaged may collapse full 2 MiB ranges */
	bool prefault;                /* populate all RAM at start */
	struct hugetlb_region *hugetlb; /* non-NULL: all RAM in this region's pages */
	uint32_t owner;               /* guest id stamped into frame descriptors */
	const char *name;             /* for messages */
	/* called once when the pool cannot supply the guest: stop it */
	void (*oom)(void *ctx, const char *why);
	void *ctx;
	/* the accelerator's dirty log, NULL if it has none (native) */
	const struct stage2_dirty_ops *dirty_ops;
	/* where evicted pages go; NULL: no swap, nothing is reclaimed */
	struct stage2_swap *swap;
	struct stage2_limits limits;  /* changed at run time by stage2_set_limits() */
	struct stage2_numa numa;      /* zeroed: default policy, vCPUs on node 0 */
	/* the accelerator runs guest code on the vCPU thread itself (native):
	 * a homed guest's faults may then be served by the touching thread
	 * (stage2_sigbus()) */
	bool self_serve;
};

struct stage2 {
	struct stage2_config cfg;
	struct host_pool *hp;
	struct guest_mem *mem;
	struct ept *ept;
	struct ept_table_ops table_ops; /* table frames from the pool */
	struct gmm_lruvec lru;        /* the guest's frames, inactive and active (its memcg lruvec) */
	int uffd;
	uint64_t uffd_features;       /* what UFFDIO_API granted */
	int stop_fd;                  /* eventfd: the fault thread exits */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;         /* window and EPT changes (see above) */
	/* current block per node: order-0 frames left from a split 2 MiB block */
	struct {
		pfn_t pfn;
		unsigned left;
	} cur[GMM_MAX_NODES];
	int fault_local;              /* the node the fault being served is local to */
	_Atomic int vcpu_tids[STAGE2_MAX_VCPUS]; /* thread ids of the guest's vCPUs (fault_local) */
	_Atomic uint64_t numa_stat[GMM_MAX_NODES][NR_NUMA_STATS];
	gfn_t numa_scan_next;         /* where the next balancing scan starts (lock) */
	uint64_t numa_budget_pages;   /* balancing's migration budget (lock) */
	uint64_t numa_budget_ns;      /* when it was last refilled */
	/* the balancing scanner's pace (numa_balance.c, its thread only) */
	uint64_t numa_seen[3];        /* hint faults, local ones, pages moved at the last scan */
	unsigned numa_backoff, numa_skip; /* periods between scans now, periods left */
	/* sequential fault detection (fault_window()): the gfn after the last
	 * block mapped, and the window a stream has grown to */
	gfn_t fa_next;
	unsigned fa_window;
	/* swap-in readahead (swapin_nr_pages(), lock): the last swap-in's
	 * gfn, the window computed for it and the pages it mapped */
	gfn_t swap_ra_prev;
	unsigned swap_ra_win, swap_ra_mapped;
	gfn_t khugepaged_next;        /* where the next collapse scan starts */
	/* home frames (home_frames.h): gfn g lives at pool pfn home + g and
	 * the window maps [home, home + home_nr) once; GMM_PFN_NONE: this
	 * guest maps frames wherever they are (a VMA each run) */
	pfn_t home;
	uint64_t home_nr;
	/* self-served faults: the userfaultfd raises SIGBUS instead of
	 * queueing (UFFD_FEATURE_SIGBUS); other threads' faults come to the
	 * fault thread as gpas on this pipe */
	bool self_served;
	int fwd_fd[2];
	bool dead;                    /* out of memory: faults are zero-filled until stop */
	bool stopping;                /* stage2_stop() began: no more window changes */
	enum stage2_dirty_mode dirty_mode;
	int pagemap_fd;               /* /proc/self/pagemap (stage2_pagemap_open()): uffd-wp bits */
	uint64_t dirty_last_pages;    /* the last harvest: pages and time */
	uint64_t dirty_last_ns;
	_Atomic uint64_t resident_frames;   /* guest frames mapped */
	_Atomic uint64_t swap_pages;        /* pages in swap slots (SWAPPED entries) */
	_Atomic uint64_t unevictable_frames; /* resident, on no LRU: the system area */
	uint64_t nonresident_age;           /* evictions + activations: workingset clock */
	uint64_t rnd;                       /* reclaim.victims=random's generator (lock) */
	int io_in_flight;                   /* swap writes running without the lock */
	int arms_in_flight;                 /* hinting zaps of a home window, ditto */
	/* pages new on the inactive list, oldest first: armed by kswapd once
	 * they are halfway down it (stage2_age_ahead(); lock) */
	struct arm_ahead_entry *ahead;
	uint32_t ahead_first, ahead_len, ahead_cap;
	/* the swap cache's clean pages (stage2_swapcache.c): a page read
	 * back from swap keeps its slot while the guest has not written it
	 * (the window's uffd-wp bit says so), and its next eviction writes
	 * nothing (lock) */
	bool swap_keep;                     /* this window can tell: homed, uffd-wp async */
	uint32_t *kept_slot;                /* gfn -> the slot its resident page kept, 0: none */
	uint64_t kept_nr;                   /* gfns kept_slot covers */
	_Atomic uint64_t kept_pages;        /* resident pages with a kept slot (SwapCached) */
	pthread_cond_t io_done;             /* either count fell to zero */
	_Atomic uint64_t peak_resident_frames;
	_Atomic uint64_t table_frames;      /* EPT table frames from the pool */
	struct stage2_balloon *balloon;     /* pages ballooned inside huge frames (lock) */
	_Atomic uint64_t balloon_pending_pages; /* ... still backed: not yet given back */
	_Atomic uint64_t balloon_owed_pages; /* asked of its balloon, not given yet (fault_gfp()) */
	_Atomic uint64_t stat[NR_S2_STATS];
	/* what the guest held when its memory was released (the summary) */
	bool released;
	uint64_t final_ept[NR_EPT_STAT_ITEMS];
	uint64_t final_resident, final_tables, final_cursor;
	_Atomic uint64_t lat_hist[STAGE2_LAT_BUCKETS];
	_Atomic uint64_t lat_sum_ns;
};

/* Create the EPT and userfaultfd for mem's RAM; mem's RAM slots are then
 * registered with stage2_register(). Returns -errno. */
int stage2_create(struct stage2 *s2, struct host_pool *hp, struct guest_mem *mem,
		  const struct stage2_config *cfg);
/* Register [hva, hva+len) (anonymous, not present) for stage-2 faults. */
int stage2_register(struct stage2 *s2, void *hva, uint64_t len);
/* A guest with home frames: map its RAM slots over its home range, once,
 * and register them for missing and minor faults (instead of
 * stage2_register()). -errno. */
int stage2_home_map(struct stage2 *s2);
static inline bool stage2_homed(const struct stage2 *s2)
{
	return s2->home != GMM_PFN_NONE;
}
/* Start the fault thread; with cfg.prefault, map all RAM first. */
int stage2_start(struct stage2 *s2);
/* Stop the fault thread. The window must be unmapped next, then
 * stage2_release() gives every frame and table back to the pool; the
 * counters stay readable until stage2_destroy(). */
void stage2_stop(struct stage2 *s2);
void stage2_release(struct stage2 *s2);
void stage2_destroy(struct stage2 *s2);

/* Serve one stage-2 fault at gpa (also used by tests and prefault). */
int stage2_fault(struct stage2 *s2, uint64_t gpa, bool write);

/*
 * Self-served faults (docs/fault-path.md#self-served-faults): a SIGBUS at
 * hva, from a self-served guest's window. `own` (the native accelerator's
 * vCPU of that guest, interrupted in guest code, holding nothing) serves
 * the fault there and then, in its signal handler; any other thread hands
 * it to the guest's fault thread and waits a moment, and its access is
 * retried. False: not such a fault (not a window of a self-served guest,
 * not RAM). Async-signal context: no lock of the caller's is held.
 */
bool stage2_sigbus(uint64_t hva, bool is_write, const struct guest_mem *own);

/*
 * Huge frames after the fault (stage2_thp.c), each taking s2->lock:
 *   stage2_split(): the 2 MiB frame over gfn becomes 512 4 KiB frames;
 *   stage2_unmap_range(): give [gfn, gfn+nr) back to the pool (whole
 *     huge frames whole, partly covered ones split first); returns pages
 *     freed; the next touch is a fresh zero page;
 *   stage2_collapse(): the 2 MiB range around gfn, if all 512 pages are
 *     present as 4 KiB frames, becomes one 2 MiB frame (-EAGAIN if not);
 *   stage2_khugepaged_scan(): look at up to max_ranges ranges from where
 *     the last scan stopped and collapse the candidates (thp_collapse).
 */
int stage2_split(struct stage2 *s2, gfn_t gfn);

/*
 * Reclaim (stage2_swap.c, docs/reclaim.md): shrink_lruvec() for one
 * guest. Deactivates from the active list's tail, then looks at up to
 * nr_to_scan inactive pages from the tail: a referenced one gets a second
 * chance on the active list, the rest are written to swap (2 MiB frames
 * split first) and their frames freed. Returns the pages freed, 0 without
 * swap or candidates. Takes s2->lock except around the swap writes.
 */
long stage2_shrink(struct stage2 *s2, uint64_t nr_to_scan);
/* The same on one pool node's lists only (a node's kswapd): the guest's
 * lruvec on that node (GMM_LRU_ANY_NODE: all, as stage2_shrink()). With
 * reclaim.victims=random the node is not looked at. */
long stage2_shrink_node(struct stage2 *s2, int nid, uint64_t nr_to_scan);
/* kswapd's aging ahead of eviction (stage2_hint.c, docs/reclaim.md): arm
 * the guest's pages new on the inactive list once half the list came in
 * after them, at most max of them looked at. Returns the pages handed to
 * the arm (hint_armed_ahead). */
uint64_t stage2_age_ahead(struct stage2 *s2, uint64_t max);

/* A minor userfault on the window: the guest touched a page reclaim had
 * armed for a hinting fault (stage2_hint.c); it is marked referenced and
 * mapped again. Fault thread only. */
void stage2_hint_fault(struct stage2 *s2, uint64_t gpa, bool write);

/*
 * Per-guest limits (stage2_limits.c, docs/limits.md): the guest is gmm's
 * memcg, its charge the resident pages. stage2_set_limits() replaces them
 * at run time and reclaims down to a lowered max or high at once.
 * stage2_reclaim_protected() says whether global reclaim should leave the
 * guest alone: 2 below min (never), 1 below low (only if nobody else
 * gives), 0 no protection.
 */
int stage2_set_limits(struct stage2 *s2, const struct stage2_limits *l);
void stage2_get_limits(struct stage2 *s2, struct stage2_limits *l);
int stage2_reclaim_protected(struct stage2 *s2);

/* A swap device shared by the guests, with the swap cache (slot -> frame
 * while a write is in flight) and the workingset shadows (eviction time
 * per slot). */
int stage2_swap_create(struct swap_device *dev, struct stage2_swap **out);
void stage2_swap_destroy(struct stage2_swap *sw);
struct swap_device *stage2_swap_device(struct stage2_swap *sw);
long stage2_unmap_range(struct stage2 *s2, gfn_t gfn, uint64_t nr);
/*
 * Ballooning (stage2_balloon.c, docs/balloon.md). gfns are sorted, unique,
 * guest RAM outside the system area (the device checks). Each takes
 * s2->lock and never touches the window's memory.
 *   inflate: the pages become BALLOONED, their frames and swap slots go
 *     back; pages inside a 2 MiB frame wait (pending) until all 512 are
 *     ballooned and the frame goes whole. Returns frames freed, -errno.
 *   flush: split the THP frames holding pending pages and free those
 *     pages (hugetlb pages wait). Returns frames freed.
 *   deflate: the guest takes pages back: BALLOONED becomes NONE (a touch
 *     maps a fresh zero frame), pending pages are simply not pending.
 *   report: free page reporting, pages [gfn, gfn+nr) are free in the
 *     guest: frames go back, the entries stay NONE.
 */
/*
 * Page migration (stage2_migrate.c): the frame at src (order 0 or 9) that
 * maps one of this guest's gfns moves to dst, a free block of the same
 * order the caller allocated and hands over: EPT MIGRATING, window
 * unmapped (touches wait in the fault path), copy, map dst, wake, free
 * src. 0, or -EAGAIN (busy now: reclaim or I/O holds it) / -ENOENT (it
 * never will: not this guest's mapping, hugetlb, the system area, the
 * guest going); either way dst is the caller's, empty. stage2_migrate_to_node(): every present
 * page of [gfn, gfn+nr) not on nid moves there; returns pages moved,
 * *failed those that could not (no frame on nid, busy).
 */
int stage2_migrate_frame(struct stage2 *s2, pfn_t src, pfn_t dst, unsigned order);
int stage2_migrate_frame_locked(struct stage2 *s2, pfn_t src, pfn_t dst, unsigned order);
long stage2_migrate_to_node(struct stage2 *s2, gfn_t gfn, uint64_t nr, int nid, long *failed);

struct stage2_balloon;
long stage2_balloon_inflate(struct stage2 *s2, const gfn_t *gfns, size_t n);
long stage2_balloon_flush(struct stage2 *s2);
/* The balloon device's owed(): pages asked of the guest's balloon and
 * not given yet. While it owes, the guest's faults may dip into the
 * pool's reserve (fault_gfp()). */
void stage2_balloon_owed(struct stage2 *s2, uint64_t pages);
long stage2_balloon_deflate(struct stage2 *s2, const gfn_t *gfns, size_t n);
long stage2_free_page_report(struct stage2 *s2, gfn_t gfn, uint64_t nr);
void stage2_balloon_free(struct stage2 *s2);
/* gfns below this are the guest's system area (page tables, GDT, boot
 * info): never ballooned, never evicted */
#define STAGE2_SYSTEM_AREA_GFNS (0x100000ULL >> 12)
int stage2_collapse(struct stage2 *s2, gfn_t gfn);
long stage2_khugepaged_scan(struct stage2 *s2, long max_ranges);

/*
 * Write tracking. start: from now on writes are recorded (-EOPNOTSUPP if
 * neither mechanism is available, -EALREADY if on). harvest: the pages
 * written since start or the previous harvest; each one present gets its
 * frame marked dirty and referenced (the folio flags reclaim reads) and
 * its EPT leaf accessed and dirty; run(arg, gfn, nr) is called for each
 * run of written pages (may be NULL). Returns pages, or -errno. stop:
 * writes are no longer recorded or trapped.
 */
int stage2_dirty_start(struct stage2 *s2);
long stage2_dirty_harvest(struct stage2 *s2, void (*run)(void *arg, gfn_t gfn, uint64_t nr), void *arg);
int stage2_dirty_stop(struct stage2 *s2);
const char *stage2_dirty_mode_name(enum stage2_dirty_mode mode);

/* numa_maps: pages of [gfn, gfn+nr) present on each node, and how many
 * 2 MiB frames among them. -ENODEV once released. */
int stage2_numa_maps(struct stage2 *s2, gfn_t gfn, uint64_t nr, uint64_t pages[GMM_MAX_NODES], uint64_t *huge);

/* NUMA balancing's scan (task_numa_work()): arm up to max_pages present
 * pages for hinting faults, from where the last scan stopped; returns
 * pages armed (numa_pte_updates). */
long stage2_numa_scan(struct stage2 *s2, uint64_t max_pages);
#define STAGE2_NUMA_RATELIMIT_MBPS 256   /* numa_balancing_rate_limit_mbps */

/* Frames left in the guest's current blocks (allocated, not yet mapped). */
uint64_t stage2_cursor_frames(struct stage2 *s2);
/* A vCPU thread says who it is (at its start): its faults are local to
 * its cell's node (numa.cells), else numa.vcpu_node; everyone else's to
 * node 0. */
void stage2_vcpu_thread(struct stage2 *s2, int vcpu, int tid);
/* The node vCPU vcpu runs on: its cell's, else numa.vcpu_node. */
int stage2_vcpu_node(struct stage2 *s2, int vcpu);
/* The node a fault by thread tid is local to. */
int stage2_tid_node(struct stage2 *s2, int tid);

/* gpa -> its EPT entry and order (under the EPT lock); -EINVAL for a gpa
 * outside the guest's RAM, -ENODEV once the memory was released. */
int stage2_translate(struct stage2 *s2, uint64_t gpa, uint64_t *entry, unsigned *order);

/* Fault latency quantile q (0..1) from the histogram, in microseconds
 * (the bucket's upper bound). */
double stage2_latency_quantile_us(struct stage2 *s2, double q);
/* Walk the EPT and the frame descriptors: every present gfn's frame is
 * owned by this guest and records that gfn, counts agree. Returns the
 * number of problems, each printed to f (may be NULL). */
int stage2_check(struct stage2 *s2, FILE *f);

#endif
