/*
 * The reserve of zeroed frames: 2 MiB blocks taken from the buddy and
 * populated with zeroed host pages by a background thread, so the stage-2
 * fault path maps memory that is already there. On this machine the host's
 * first touch of a pool page costs about 10 us, populating ahead with
 * fallocate() about 1.4 us a page (docs/fault-path.md), and that work is
 * off the vCPU's path.
 *
 * Two kinds of block: "small" (4 KiB folios, split into frames for 4 KiB
 * guest pages and fault-around) and "huge" (one 2 MiB shmem folio, mapped
 * whole into a THP-backed guest). Each kind is filled up to max_blocks
 * only once a guest has asked for it (zero_reserve_want()), and refilled
 * when it drops to half, like a watermark. Blocks in the reserve are
 * allocated frames: they count as held, never as free.
 *
 * Locking: lock protects the stacks and counters; the thread populates
 * with no lock held.
 */
#ifndef GMM_VMM_ZERO_RESERVE_H
#define GMM_VMM_ZERO_RESERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guestmm/frame.h"

struct host_pool;

#define ZERO_RESERVE_MAX_BLOCKS 256   /* 512 MiB per kind at most */

enum zero_kind { ZERO_SMALL, ZERO_HUGE, NR_ZERO_KINDS };

struct zero_stack {
	pfn_t blocks[ZERO_RESERVE_MAX_BLOCKS];
	int nr;
	bool wanted;
	uint64_t hits, misses, refills;
};

struct zero_reserve {
	struct host_pool *hp;
	int max_blocks;               /* per kind; 0: reserve off */
	pthread_mutex_t lock;
	pthread_cond_t work;          /* a stack fell to half, or stop */
	struct zero_stack kind[NR_ZERO_KINDS];
	bool stop;
	bool started;
	pthread_t thread;
};

/* reserve_bytes: per kind, rounded down to 2 MiB blocks (0: no reserve). */
int zero_reserve_start(struct zero_reserve *zr, struct host_pool *hp, uint64_t reserve_bytes);
/* Stop the thread and give every block back (punched and freed). */
void zero_reserve_stop(struct zero_reserve *zr);
/* A guest will take blocks of this kind: start keeping them. */
void zero_reserve_want(struct zero_reserve *zr, enum zero_kind kind);
/* A populated order-9 block of this kind, or GMM_PFN_NONE when the
 * reserve is empty (the caller then allocates and populates itself). */
pfn_t zero_reserve_take(struct zero_reserve *zr, enum zero_kind kind);
/* Bytes the reserve holds now. */
uint64_t zero_reserve_bytes(struct zero_reserve *zr);

#endif
