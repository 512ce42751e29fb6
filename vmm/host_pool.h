/*
 * The host pool: the memory gmm manages for its guests ("host physical
 * memory" in DESIGN.md). A sparse memfd of host.pool.size, mapped once into
 * gmm (the VMM's own view, for zeroing, copying and slab memory), and the
 * guestmm pool (frames, buddy, zones, slab) that hands its frames out.
 *
 * Host memory held is the memfd's allocated blocks (st_blocks): a frame
 * that was never touched, or whose range was punched when it was freed,
 * holds nothing.
 */
#ifndef GMM_VMM_HOST_POOL_H
#define GMM_VMM_HOST_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmm/pool.h"
#include "vmm/config.h"
#include "vmm/zero_reserve.h"

struct host_pool {
	int memfd;                   /* a file on gmm's private tmpfs, or a memfd */
	char *base;                  /* the pool mapped into gmm, pfn 0 first */
	uint64_t size_bytes;
	bool shmem_thp;              /* backing can hold 2 MiB folios (tmpfs huge=within_size) */
	struct gmm_pool *mm;         /* guestmm: frames, buddy, zones, slab */
	struct zero_reserve reserve; /* populated, zeroed 2 MiB blocks for the fault path */
	_Atomic uint64_t punched_frames;   /* frames given back to the host */
	_Atomic uint64_t populated_frames; /* frames populated ahead of use */
	_Atomic uint64_t mapped_free_refused; /* frees of a still-mapped frame (a bug) */
};

/* Returns -errno with a one-line reason in err. */
int host_pool_create(const struct pool_config *cfg, struct host_pool **out, char *err, size_t errlen);
void host_pool_destroy(struct host_pool *hp);
/* Bytes of host memory the pool holds now (allocated memfd blocks). */
uint64_t host_pool_held_bytes(const struct host_pool *hp);

/* Give frames [pfn, pfn+nr) back to the host (fallocate PUNCH_HOLE). The
 * caller has unmapped them from every window first: a window page still
 * mapped over a punched range would silently refault a fresh page. */
int host_pool_punch(struct host_pool *hp, pfn_t pfn, uint64_t nr);
/* Populate [pfn, pfn+nr) with zeroed host pages now, so mapping them later
 * costs no allocation or zeroing: an aligned 2 MiB block becomes one 2 MiB
 * folio (shmem_thp), anything else 4 KiB folios. */
int host_pool_populate(struct host_pool *hp, pfn_t pfn, uint64_t nr);
/* Free a block and give its memory back: punch, then gmm_free_frames(). */
int host_pool_free(struct host_pool *hp, pfn_t pfn, unsigned order);
/* The same for n order-0 frames; runs of contiguous pfns are punched with
 * one call. */
void host_pool_free_frames(struct host_pool *hp, const pfn_t *pfns, size_t n);

#endif
