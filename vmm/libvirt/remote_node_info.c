/*
 * The host facts the node procedures report (remote.h): the pool's size,
 * nodes and free frames (what guests can get: the host's memory as libvirt
 * sees it is gmm's pool), the host's online CPUs and their clock.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guestmm/pool.h"
#include "guestmm/zone.h"
#include "vmm/domains.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/libvirt/remote.h"

/* "cpu MHz : 2400.000" of the first CPU; 0 if /proc/cpuinfo has none. */
static int host_mhz(void)
{
	char line[256];
	double mhz = 0;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : line, "%lf",
							   &mhz) == 1)
			break;
	fclose(f);
	return (int)mhz;
}

static uint64_t node_free_frames(const struct gmm_node *n)
{
	long sum = 0;

	for (int z = 0; z < MAX_NR_ZONES; z++)
		if (n->zones[z])
			sum += zone_free_pages(n->zones[z]);
	return sum > 0 ? (uint64_t)sum : 0;
}

/* "0-3,8" for a cpu set. */
static void cpuset_text(const cpu_set_t *set, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int c = 0; c < CPU_SETSIZE && off < len; c++) {
		int z = c;

		if (!CPU_ISSET(c, set))
			continue;
		while (z + 1 < CPU_SETSIZE && CPU_ISSET(z + 1, set))
			z++;
		off += snprintf(buf + off, len - off, off ? ",%d" : "%d", c);
		if (z > c && off < len)
			off += snprintf(buf + off, len - off, "-%d", z);
		c = z;
	}
}

int remote_node_info_read(struct domains *d, struct remote_node_info *out)
{
	struct host *h = domains_host(d);
	struct host_pool *hp = h ? h->pool : NULL;
	struct gmm_pool *mm = hp ? hp->mm : NULL;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(out, 0, sizeof(*out));
	if (!mm)
		return -ENODEV;
	out->nr_cpus = cpus > 0 ? (int)cpus : 1;
	out->mhz = host_mhz();
	out->nr_nodes = mm->nr_nodes > 0 ? mm->nr_nodes : 1;
	if (out->nr_nodes > REMOTE_NODES_MAX)
		out->nr_nodes = REMOTE_NODES_MAX;
	out->total_bytes = mm->nr_frames * GMM_FRAME_SIZE;
	for (int i = 0; i < out->nr_nodes; i++) {
		const struct gmm_node *n = &mm->nodes[i];

		out->node_total_bytes[i] = (uint64_t)n->spanned_pages * GMM_FRAME_SIZE;
		out->node_free_bytes[i] = node_free_frames(n) * GMM_FRAME_SIZE;
		out->free_bytes += out->node_free_bytes[i];
		for (int j = 0; j < out->nr_nodes; j++)
			out->distance[i][j] = mm->distance[i][j] ? mm->distance[i][j]
								 : (uint8_t)(10 + 10 * (i > j ? i - j : j - i));
		if (hp->real_nodes)
			cpuset_text(&hp->node_cpus[i], out->node_cpus[i], sizeof(out->node_cpus[i]));
	}
	return 0;
}
