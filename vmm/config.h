/*
 * gmm's configuration: JSON files (configs/NAME.json) and the same guest
 * fields as --guest flags. A key table maps each JSON path to a typed field,
 * so unknown keys are refused and every error names its path:
 *   gmm: config: guests[1].mem: "12Q" is not a size (use 512M, 2G or bytes)
 */
#ifndef GMM_VMM_CONFIG_H
#define GMM_VMM_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/swap.h"
#include "vmm/vm.h"

#define GMM_MAX_GUESTS 32
#define CONFIG_ERR_MAX 512

#define POOL_MAX_NODES 8
#define POOL_ALIGN_BYTES (2ULL << 20)     /* a pageblock */
#define POOL_MIN_NODE_BYTES (32ULL << 20)
#define POOL_MAX_BYTES (4ULL << 40)
#define POOL_HEADROOM_BYTES (16ULL << 20)
#define POOL_DEFAULT_RESERVE_BYTES (32ULL << 20)  /* or an eighth of a smaller pool */
#define POOL_RESERVE_UNSET UINT64_MAX
#define GUEST_DEFAULT_FAULT_AROUND (64ULL << 10)

/* host.pool: the host memory gmm manages (guestmm/ pool over a memfd). */
struct pool_config {
	uint64_t size_bytes;          /* 0: the guests' RAM added up, plus room for tables */
	int nodes;                    /* emulated NUMA nodes, 1..POOL_MAX_NODES */
	uint64_t min_free_bytes;      /* min_free_kbytes' twin; 0: derived */
	int debug;                    /* poison freed frames, check on alloc */
	uint64_t reserve_bytes;       /* zeroed frames kept populated ahead, per kind */
	/* home frames (docs/fault-path.md#home-frames): the span handed out
	 * as one range per guest; 0 with home_frames on: the guests' RAM */
	uint64_t home_bytes;
	int home_frames;              /* 1 (default): guests get home ranges; 0: off */
	/* hugetlb regions (docs/hugetlb.md): 0 = the RAM of the guests asking
	 * for that page size; whole pages */
	uint64_t hugetlb_2m_bytes;
	uint64_t hugetlb_1g_bytes;
	uint8_t distance[POOL_MAX_NODES][POOL_MAX_NODES]; /* from host.numa; 0: by |a - b| */
	int real_nodes;               /* nodes are the host's own (not emulated) */
	int host_node[POOL_MAX_NODES]; /* ... their host node ids */
	char node_cpus[POOL_MAX_NODES][256]; /* ... their CPUs ("0-3"), for pinning vCPUs */
};

/* host.reclaim: how reclaim picks its victims. lru ages the lists from the
 * dirty log, hinting faults and refaults; random takes any resident page,
 * the baseline bench-overcommit compares aging against. */
struct reclaim_config {
	char victims[8];              /* lru (default) | random */
};

/* host.numa (docs/numa.md): emulated nodes on a one-node host (numa=fake),
 * and their distances (SLIT values, 10 = local); 0: the pool's nodes. */
struct numa_host_config {
	int emulate;
	int nr_distance_rows;         /* 0: 10 + 10 * |a - b| */
	uint8_t distance[POOL_MAX_NODES][POOL_MAX_NODES];
};

/* host.compaction (docs/compaction.md): kcompactd's proactive compaction,
 * the kernel's vm.compaction_proactiveness (0: only when an allocation of
 * a huge frame failed; 100: keep the pool as defragmented as it can). */
struct compaction_config {
	int proactiveness;            /* 0..100, default 20 */
};

struct host_config {
	char accel[16];               /* auto | kvm | native */
	char control[PATH_MAX];       /* control socket path, empty: none */
	struct pool_config pool;
	struct swap_config swap;      /* host.swap (docs/swap.md); empty path: no swap */
	struct reclaim_config reclaim; /* host.reclaim (docs/reclaim.md) */
	struct numa_host_config numa; /* host.numa (docs/numa.md) */
	struct compaction_config compaction; /* host.compaction (docs/compaction.md) */
	/* native accelerator: a homed guest's vCPU serves its own stage-2
	 * faults (docs/fault-path.md#self-served-faults); 0: the fault thread */
	int self_serve_faults;
};

struct gmm_config {
	struct host_config host;
	int nr_guests;
	struct vm_config guests[GMM_MAX_GUESTS];
	char dir[PATH_MAX];           /* the config file's directory */
};

void config_init(struct gmm_config *cfg);
/* A guest name gmm accepts: [A-Za-z0-9._-]+ (the config's and libvirt's). */
bool config_name_ok(const char *s);
/* Parse a JSON file into cfg (adds its guests). Returns -errno with err set. */
int config_load_file(struct gmm_config *cfg, const char *path, char *err, size_t errlen);
/* The same from len bytes of JSON in memory; name is what errors call it.
 * Relative kernel paths are taken as given (there is no file to be next
 * to). */
int config_load_buffer(struct gmm_config *cfg, const char *buf, size_t len, const char *name, char *err,
		       size_t errlen);
/* Parse "name=a,mem=512M,vcpus=2,kernel=PATH,cmdline=\"...\"" into a new guest. */
int config_add_guest_flag(struct gmm_config *cfg, const char *spec, char *err, size_t errlen);
/* Defaults filled in and every cross-field rule checked (unique names,
 * kernel readable, mem within limits). default_kernel is used when a
 * guest names none. */
int config_finish(struct gmm_config *cfg, const char *default_kernel, char *err, size_t errlen);
/* The daemon's config: the host alone (guests are its domains); a pool
 * size not given is default_pool_bytes. */
int config_finish_host(struct gmm_config *cfg, uint64_t default_pool_bytes, char *err, size_t errlen);
/* One guest started at run time on a host config_finish_host() checked:
 * its own rules and its NUMA policy against the pool's nodes; errors are
 * named by the guest's name ("web-1.mem: ..."). */
int config_finish_guest(struct gmm_config *cfg, struct vm_config *g, const char *default_kernel, char *err,
			size_t errlen);
/* Parse one guest's JSON object (daemon definitions use the same keys). */
int config_guest_from_json(struct vm_config *g, const void *json_obj, const char *path,
			   char *err, size_t errlen);
void config_guest_defaults(struct vm_config *g);

#endif
