/* The host's NUMA topology (numa_topology.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/numa_topology.h"

#define MPOL_BIND_MODE 2   /* linux/mempolicy.h's MPOL_BIND */

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		ret = -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

int id_list_parse(const char *s, int limit, uint64_t *maskp)
{
	uint64_t mask = 0;

	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		if (b >= limit)
			return -1;
		for (long n = a; n <= b; n++)
			mask |= 1ULL << n;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	*maskp = mask;
	return 0;
}

int host_topology_read(const char *dir, struct host_topology *t)
{
	char path[512], line[1024];
	uint64_t mem, online;
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/has_memory", dir);
	ret = read_line(path, line, sizeof(line));
	if (ret) {
		snprintf(path, sizeof(path), "%s/online", dir);
		ret = read_line(path, line, sizeof(line));
	}
	if (ret)
		return ret;
	if (id_list_parse(line, 64, &mem) || !mem)
		return -EINVAL;
	for (int id = 0; id < 64 && t->nr_nodes < HOST_TOPO_MAX_NODES; id++) {
		int i = t->nr_nodes;
		char *p;

		if (!((mem >> id) & 1))
			continue;
		t->host_node[i] = id;
		snprintf(path, sizeof(path), "%s/node%d/cpulist", dir, id);
		if (read_line(path, t->cpulist[i], sizeof(t->cpulist[i])))
			t->cpulist[i][0] = '\0';
		snprintf(path, sizeof(path), "%s/node%d/meminfo", dir, id);
		if (!read_line(path, line, sizeof(line)) && (p = strstr(line, "MemTotal:")))
			t->mem_bytes[i] = strtoull(p + 9, NULL, 10) << 10;
		t->nr_nodes++;
	}
	/* distances: each node's row lists every online node; keep the
	 * columns of the nodes with memory */
	snprintf(path, sizeof(path), "%s/online", dir);
	if (read_line(path, line, sizeof(line)) || id_list_parse(line, 64, &online) || !online)
		online = mem;
	for (int i = 0; i < t->nr_nodes; i++) {
		char *s = line, *end;
		int col = 0;

		snprintf(path, sizeof(path), "%s/node%d/distance", dir, t->host_node[i]);
		if (read_line(path, line, sizeof(line)))
			return -EIO;
		for (int id = 0; id < 64; id++) {
			long d;

			if (!((online >> id) & 1))
				continue;
			d = strtol(s, &end, 10);
			if (end == s)
				return -EINVAL;
			s = end;
			if ((mem >> id) & 1 && col < t->nr_nodes)
				t->distance[i][col++] = (uint8_t)(d < 10 ? 10 : d > 254 ? 254 : d);
		}
		if (col != t->nr_nodes)
			return -EINVAL;
	}
	return 0;
}

int host_topology_cpuset(const char *cpulist, cpu_set_t *set)
{
	const char *s = cpulist;

	CPU_ZERO(set);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;

		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b >= CPU_SETSIZE)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		if (*end && *end != ',')
			return -EINVAL;
		s = *end ? end + 1 : end;
	}
	return CPU_COUNT(set) ? 0 : -EINVAL;
}

int host_topology_mbind(void *addr, uint64_t len, int node)
{
	unsigned long mask[2] = { 0, 0 };

	if (node < 0 || node >= 128)
		return -EINVAL;
	mask[node / 64] = 1UL << (node % 64);
	/* libnuma is not a dependency: the raw system call */
	return syscall(SYS_mbind, addr, len, MPOL_BIND_MODE, mask, 128UL, 0U) ? -errno : 0;
}
