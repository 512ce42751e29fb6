/*
 * The names of stage2.h's memory policies (enum mpol_mode), as numactl
 * and libvirt's <numatune> spell them: the config parses them, stage 2
 * reports them. A file of its own so the config's checks link without
 * the fault path.
 */
#include "vmm/stage2.h"

const char *const stage2_mpol_names[NR_MPOL] = {
	[MPOL_DEFAULT] = "default",
	[MPOL_LOCAL] = "local",
	[MPOL_BIND] = "bind",
	[MPOL_PREFERRED] = "preferred",
	[MPOL_PREFERRED_MANY] = "preferred-many",
	[MPOL_INTERLEAVE] = "interleave",
	[MPOL_WEIGHTED_INTERLEAVE] = "weighted-interleave",
};
