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

#include <stddef.h>
#include <stdint.h>

#include "guestmm/pool.h"
#include "vmm/config.h"

struct host_pool {
	int memfd;
	char *base;                  /* the pool mapped into gmm, pfn 0 first */
	uint64_t size_bytes;
	struct gmm_pool *mm;         /* guestmm: frames, buddy, zones, slab */
};

/* Returns -errno with a one-line reason in err. */
int host_pool_create(const struct pool_config *cfg, struct host_pool **out, char *err, size_t errlen);
void host_pool_destroy(struct host_pool *hp);
/* Bytes of host memory the pool holds now (allocated memfd blocks). */
uint64_t host_pool_held_bytes(const struct host_pool *hp);

#endif
