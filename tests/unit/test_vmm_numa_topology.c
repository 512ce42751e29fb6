/* The host topology reader over a fake /sys/devices/system/node tree:
 * the nodes with memory, their CPUs, sizes and distances. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "vmm/numa_topology.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void fake_tree(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/gmm-topo-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (int n = 0; n < 3; n++) {
		snprintf(path, sizeof(path), "%s/node%d", dir, n);
		mkdir(path, 0700);
	}
	/* node 2 is online without memory (a CPU-only node) */
	put("online", "0-2\n");
	put("has_memory", "0-1\n");
	put("node0/cpulist", "0-1,4\n");
	put("node0/meminfo", "Node 0 MemTotal:       1048576 kB\n");
	put("node0/distance", "10 21 31\n");
	put("node1/cpulist", "2-3\n");
	put("node1/meminfo", "Node 1 MemTotal:       2097152 kB\n");
	put("node1/distance", "21 10 31\n");
	put("node2/distance", "31 31 10\n");
}

static void rm_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(numa_topology, .init = fake_tree, .fini = rm_tree);

Test(numa_topology, nodes_with_memory_their_cpus_sizes_and_distances_are_read)
{
	struct host_topology t;
	cpu_set_t set;

	cr_assert_eq(host_topology_read(dir, &t), 0);
	cr_assert_eq(t.nr_nodes, 2, "the memoryless node is not a pool node");
	cr_assert_eq(t.host_node[1], 1);
	cr_assert_eq(t.mem_bytes[1], 2ULL << 30);
	cr_assert_str_eq(t.cpulist[0], "0-1,4");
	cr_assert_eq(t.distance[0][0], 10);
	cr_assert_eq(t.distance[0][1], 21);
	cr_assert_eq(t.distance[1][0], 21);
	cr_assert_eq(host_topology_cpuset(t.cpulist[0], &set), 0);
	cr_assert(CPU_ISSET(4, &set) && CPU_ISSET(1, &set) && !CPU_ISSET(2, &set));
}

Test(numa_topology, a_missing_tree_or_nonsense_is_an_error_not_a_guess)
{
	struct host_topology t;
	cpu_set_t set;

	cr_assert_lt(host_topology_read("/nonexistent/gmm", &t), 0);
	put("has_memory", "zero\n");
	cr_assert_lt(host_topology_read(dir, &t), 0);
	put("has_memory", "0-1\n");
	put("node1/distance", "21\n");
	cr_assert_lt(host_topology_read(dir, &t), 0, "a short distance row");
	cr_assert_lt(host_topology_cpuset("3-1", &set), 0);
	cr_assert_lt(host_topology_cpuset("", &set), 0);
}

Test(numa_topology, this_host_reads_too)
{
	struct host_topology t;

	if (host_topology_read(HOST_TOPO_SYSFS, &t))
		cr_skip_test("no %s on this kernel", HOST_TOPO_SYSFS);
	cr_assert_geq(t.nr_nodes, 1);
	cr_assert_eq(t.distance[0][0], 10);
}
