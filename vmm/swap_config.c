/*
 * host.swap's rules (swap.h): what a config may ask for, checked before
 * any file is touched. Apart from swap_file.c so that the config's checks
 * (and their fuzzer) need no file I/O.
 */
#include <errno.h>
#include <stdio.h>

#include "vmm/size.h"
#include "vmm/swap.h"

int swap_config_validate(const struct swap_config *cfg, char *err, size_t errlen)
{
	char a[32];

	if (!cfg->path[0] && !cfg->size_bytes)
		return 0;
	if (!cfg->path[0]) {
		snprintf(err, errlen, "host.swap.path: missing (the swap file to create, with host.swap.size)");
		return -EINVAL;
	}
	if (!cfg->size_bytes) {
		snprintf(err, errlen, "host.swap.size: missing (how big a swap file %s to make)", cfg->path);
		return -EINVAL;
	}
	if (cfg->size_bytes % SWAP_CLUSTER_BYTES || cfg->size_bytes < SWAP_MIN_BYTES ||
	    cfg->size_bytes > SWAP_MAX_BYTES) {
		snprintf(err, errlen, "host.swap.size: %s must be whole 2M clusters, from 4M to 1T",
			 size_format(cfg->size_bytes, a));
		return -EINVAL;
	}
	return 0;
}
