/* See host_pool.h. */
#include "vmm/host_pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

static void pool_corruption(struct gmm_pool *pool, pfn_t pfn, const char *what, void *ctx)
{
	(void)pool;
	(void)ctx;
	log_error("pool: frame %#llx: %s", (unsigned long long)pfn, what);
}

static const struct gmm_mm_hooks host_pool_hooks = {
	.corruption = pool_corruption,
};

int host_pool_create(const struct pool_config *cfg, struct host_pool **out, char *err, size_t errlen)
{
	struct gmm_pool_config pc = { 0 };
	struct host_pool *hp = calloc(1, sizeof(*hp));
	int ret;

	if (!hp)
		return -ENOMEM;
	hp->memfd = -1;
	hp->size_bytes = cfg->size_bytes;
	hp->memfd = memfd_create("gmm-pool", MFD_CLOEXEC);
	if (hp->memfd < 0 || ftruncate(hp->memfd, (off_t)hp->size_bytes)) {
		ret = -errno;
		snprintf(err, errlen, "host.pool: memfd of %llu bytes: %s", (unsigned long long)hp->size_bytes,
			 strerror(errno));
		goto fail;
	}
	/* MAP_NORESERVE: the pool is sparse; only allocated frames hold memory */
	hp->base = mmap(NULL, hp->size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, hp->memfd, 0);
	if (hp->base == MAP_FAILED) {
		ret = -errno;
		hp->base = NULL;
		snprintf(err, errlen, "host.pool: mapping it: %s", strerror(errno));
		goto fail;
	}
	pc.nr_frames = hp->size_bytes >> GMM_FRAME_SHIFT;
	pc.nr_nodes = cfg->nodes;
	pc.min_free_frames = cfg->min_free_bytes >> GMM_FRAME_SHIFT;
	pc.debug = cfg->debug;
	pc.base = hp->base;
	pc.hooks = &host_pool_hooks;
	ret = gmm_pool_create(&pc, &hp->mm);
	if (ret) {
		snprintf(err, errlen, "host.pool: %s", strerror(-ret));
		goto fail;
	}
	*out = hp;
	return 0;
fail:
	host_pool_destroy(hp);
	return ret;
}

void host_pool_destroy(struct host_pool *hp)
{
	if (!hp)
		return;
	if (hp->mm)
		gmm_pool_destroy(hp->mm);
	if (hp->base)
		munmap(hp->base, hp->size_bytes);
	if (hp->memfd >= 0)
		close(hp->memfd);
	free(hp);
}

uint64_t host_pool_held_bytes(const struct host_pool *hp)
{
	struct stat st;

	if (fstat(hp->memfd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
