/*
 * The host's NUMA topology as /sys/devices/system/node tells it (the
 * nodes with memory, their CPUs, sizes and SLIT distances), and what gmm
 * does with real nodes (docs/numa.md): one pool node per host node, its
 * frames bound there with mbind(MPOL_BIND), and vCPU threads pinned to
 * their node's CPUs. Emulated nodes (host.numa.emulate) have no host node.
 */
#ifndef GMM_VMM_NUMA_TOPOLOGY_H
#define GMM_VMM_NUMA_TOPOLOGY_H

#include <sched.h>
#include <stdint.h>

#define HOST_TOPO_MAX_NODES 8
#define HOST_TOPO_SYSFS "/sys/devices/system/node"

struct host_topology {
	int nr_nodes;                              /* nodes with memory, in id order */
	int host_node[HOST_TOPO_MAX_NODES];        /* their ids */
	uint64_t mem_bytes[HOST_TOPO_MAX_NODES];   /* MemTotal */
	char cpulist[HOST_TOPO_MAX_NODES][256];    /* "0-3,8-11"; empty: no CPUs */
	uint8_t distance[HOST_TOPO_MAX_NODES][HOST_TOPO_MAX_NODES];
};

/* Read it from dir (HOST_TOPO_SYSFS; tests pass a fake tree). 0, or -errno
 * (-ENOENT: no such tree, a kernel without NUMA: one node). */
int host_topology_read(const char *dir, struct host_topology *t);
/* "0-2,5" (sysfs's, numactl's and gmm's config's node and CPU lists) ->
 * a mask of numbers below limit (<= 64). 0, or -1 for anything else. */
int id_list_parse(const char *s, int limit, uint64_t *maskp);
/* "0-3,8" -> a CPU set; -EINVAL on anything else. */
int host_topology_cpuset(const char *cpulist, cpu_set_t *set);
/* mbind(MPOL_BIND) [addr, addr+len) to host node `node` (page aligned). */
int host_topology_mbind(void *addr, uint64_t len, int node);

#endif
