/*
 * The connection's procedures: the handshake virsh makes (AUTH_LIST,
 * CONNECT_SUPPORTS_FEATURE, CONNECT_OPEN), what `virsh version` and
 * `hostname` ask, and the node: nodeinfo, nodememstats, freecell and the
 * capabilities document (host NUMA cells are the pool's nodes).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/abi.h"
#include "vmm/libvirt/domain_xml.h"
#include "vmm/libvirt/remote.h"
#include "vmm/version.h"

/* virDrvFeature (src/libvirt_internal.h) */
enum {
	VIR_DRV_FEATURE_TYPED_PARAM_STRING = 9,
	VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10,
	VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK = 14,
	VIR_DRV_FEATURE_REMOTE_CLOSE_CALLBACK = 15,
	VIR_DRV_FEATURE_NETWORK_UPDATE_HAS_CORRECT_ORDER = 16,
};

/* What `virsh version` prints as the daemon's libvirt: the protocol gmm
 * speaks is 9.0.0's (major * 1000000 + minor * 1000 + micro). */
#define GMM_LIBVIRT_LIB_VERSION 9000000ULL

REMOTE_HANDLER(auth_list)
{
	xdr_put_count(cc->ret, 1, REMOTE_AUTH_TYPE_LIST_MAX);
	return xdr_put_i32(cc->ret, 0); /* REMOTE_AUTH_NONE: the socket is 0600 and peers are checked */
}

REMOTE_HANDLER(connect_supports_feature)
{
	struct remote_conn *rc = cc->priv;
	int32_t feature;
	int yes = 0;

	if (xdr_get_i32(cc->args, &feature))
		return -EBADMSG;
	switch (feature) {
	case VIR_DRV_FEATURE_PROGRAM_KEEPALIVE:
		/* as libvirtd: asking for it starts the server's pings */
		if (rc->ops && rc->ops->keepalive_start)
			rc->ops->keepalive_start(rc->client);
		yes = 1;
		break;
	case VIR_DRV_FEATURE_TYPED_PARAM_STRING: /* memtune/numatune need it */
	case VIR_DRV_FEATURE_REMOTE_EVENT_CALLBACK: /* events by callback id */
	case VIR_DRV_FEATURE_REMOTE_CLOSE_CALLBACK: /* virsh registers one: see below */
	case VIR_DRV_FEATURE_NETWORK_UPDATE_HAS_CORRECT_ORDER:
		yes = 1;
		break;
	default:
		/* migration and fd passing: not served */
		break;
	}
	return xdr_put_i32(cc->ret, yes);
}

REMOTE_HANDLER(connect_open)
{
	struct remote_conn *rc = cc->priv;
	char *name = NULL;
	uint32_t flags;

	/* The name is the URI minus the transport ("gmm:///system"); any is
	 * fine: this socket serves gmm only. */
	xdr_get_opt_string(cc->args, &name, REMOTE_STRING_MAX);
	xdr_get_u32(cc->args, &flags);
	free(name);
	if (xdr_dec_err(cc->args))
		return -EBADMSG;
	rc->opened = true;
	return 0;
}

REMOTE_HANDLER(connect_close)
{
	struct remote_conn *rc = cc->priv;

	rc->opened = false;
	return 0;
}

/* virsh registers a close callback on every connection. The server's
 * side of it only matters to libvirtd's hypervisor connections closing
 * under the client; gmm's never do, so both calls just succeed. */
REMOTE_HANDLER(connect_register_close_callback)
{
	(void)cc;
	return 0;
}

REMOTE_HANDLER(connect_unregister_close_callback)
{
	(void)cc;
	return 0;
}

REMOTE_HANDLER(connect_get_type)
{
	/* virsh version: "Using API: gmm 9.0.0", "Running hypervisor: gmm 0.1.0" */
	return xdr_put_string(cc->ret, "gmm", REMOTE_STRING_MAX);
}

/* "0.1.0" -> 1000 (libvirt's major * 1000000 + minor * 1000 + micro). */
static uint64_t gmm_version_number(void)
{
	unsigned a = 0, b = 0, c = 0;

	sscanf(GMM_VERSION, "%u.%u.%u", &a, &b, &c);
	return (uint64_t)a * 1000000 + (uint64_t)b * 1000 + c;
}

REMOTE_HANDLER(connect_get_version)
{
	return xdr_put_u64(cc->ret, gmm_version_number());
}

REMOTE_HANDLER(connect_get_lib_version)
{
	return xdr_put_u64(cc->ret, GMM_LIBVIRT_LIB_VERSION);
}

REMOTE_HANDLER(connect_get_hostname)
{
	char host[256] = "localhost";

	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	return xdr_put_string(cc->ret, host, REMOTE_STRING_MAX);
}

REMOTE_HANDLER(connect_get_uri)
{
	return xdr_put_string(cc->ret, "gmm:///system", REMOTE_STRING_MAX);
}

REMOTE_HANDLER(connect_get_max_vcpus)
{
	char *type = NULL;

	xdr_get_opt_string(cc->args, &type, REMOTE_STRING_MAX);
	free(type);
	if (xdr_dec_err(cc->args))
		return -EBADMSG;
	return xdr_put_i32(cc->ret, GMM_MAX_VCPUS);
}

REMOTE_HANDLER(connect_is_secure)
{
	return xdr_put_i32(cc->ret, 1); /* a local unix socket */
}

static int node_info(struct rpc_call_ctl *cc, struct remote_node_info *ni)
{
	struct remote_conn *rc = cc->priv;
	int ret = remote_node_info_read(rc->d, ni);

	if (ret)
		return remote_err(cc, VIR_ERR_INTERNAL_ERROR, "cannot read the host's pool (%s)", strerror(-ret));
	return 0;
}

REMOTE_HANDLER(node_get_info)
{
	struct remote_node_info ni;
	char model[32] = "x86_64";
	int nodes, cores;

	if (node_info(cc, &ni))
		return -EIO;
	/* libvirt wants cpus == nodes * sockets * cores * threads; when the
	 * pool's nodes do not split the CPUs evenly it reports one node, as
	 * its own nodeinfo does for odd topologies */
	nodes = ni.nr_nodes > 0 && ni.nr_cpus % ni.nr_nodes == 0 ? ni.nr_nodes : 1;
	cores = ni.nr_cpus / nodes;
	/* char model[32]: a fixed array of XDR chars, 4 bytes each */
	for (int i = 0; i < 32; i++)
		xdr_put_i32(cc->ret, model[i]);
	xdr_put_u64(cc->ret, ni.total_bytes >> 10); /* KiB */
	xdr_put_i32(cc->ret, ni.nr_cpus);
	xdr_put_i32(cc->ret, ni.mhz);
	xdr_put_i32(cc->ret, nodes);
	xdr_put_i32(cc->ret, 1); /* sockets per node */
	xdr_put_i32(cc->ret, cores);
	return xdr_put_i32(cc->ret, 1); /* threads per core */
}

/* VIR_NODE_MEMORY_STATS_*: the pool in KiB. buffers and cached: the pool
 * has no page cache, so 0. */
REMOTE_HANDLER(node_get_memory_stats)
{
	static const char *const names[] = { "total", "free", "buffers", "cached" };
	struct remote_node_info ni;
	int32_t nparams, cell;
	uint32_t flags;
	uint64_t v[4] = { 0 };

	xdr_get_i32(cc->args, &nparams);
	xdr_get_i32(cc->args, &cell);
	xdr_get_u32(cc->args, &flags);
	if (xdr_dec_err(cc->args))
		return -EBADMSG;
	if (node_info(cc, &ni))
		return -EIO;
	if (cell == -1) { /* VIR_NODE_MEMORY_STATS_ALL_CELLS */
		v[0] = ni.total_bytes;
		v[1] = ni.free_bytes;
	} else if (cell >= 0 && cell < ni.nr_nodes) {
		v[0] = ni.node_total_bytes[cell];
		v[1] = ni.node_free_bytes[cell];
	} else {
		return remote_err(cc, VIR_ERR_INVALID_ARG, "cell number %d out of range (the pool has %d node%s)",
				  cell, ni.nr_nodes, ni.nr_nodes == 1 ? "" : "s");
	}
	if (nparams < 0 || nparams > REMOTE_NODE_MEMORY_STATS_MAX)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "nparams too large");
	/* nparams 0: the caller asks how many there are */
	if (nparams == 0) {
		xdr_put_count(cc->ret, 0, REMOTE_NODE_MEMORY_STATS_MAX);
		return xdr_put_i32(cc->ret, 4);
	}
	if (nparams > 4)
		nparams = 4;
	xdr_put_count(cc->ret, (uint32_t)nparams, REMOTE_NODE_MEMORY_STATS_MAX);
	for (int i = 0; i < nparams; i++) {
		xdr_put_string(cc->ret, names[i], REMOTE_STRING_MAX);
		xdr_put_u64(cc->ret, v[i] >> 10);
	}
	return xdr_put_i32(cc->ret, nparams);
}

REMOTE_HANDLER(node_get_cells_free_memory)
{
	struct remote_node_info ni;
	int32_t start, max;

	xdr_get_i32(cc->args, &start);
	xdr_get_i32(cc->args, &max);
	if (xdr_dec_err(cc->args))
		return -EBADMSG;
	if (node_info(cc, &ni))
		return -EIO;
	if (start < 0 || start >= ni.nr_nodes)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "start cell %d out of range (0-%d)", start,
				  ni.nr_nodes - 1);
	if (max <= 0 || max > REMOTE_NODE_MAX_CELLS)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "maxCells %d out of range", max);
	if (max > ni.nr_nodes - start)
		max = ni.nr_nodes - start;
	xdr_put_count(cc->ret, (uint32_t)max, REMOTE_NODE_MAX_CELLS);
	for (int i = start; i < start + max; i++)
		xdr_put_u64(cc->ret, ni.node_free_bytes[i]); /* bytes, as libvirt's */
	return xdr_enc_err(cc->ret);
}

REMOTE_HANDLER(node_get_free_memory)
{
	struct remote_node_info ni;

	if (node_info(cc, &ni))
		return -EIO;
	return xdr_put_u64(cc->ret, ni.free_bytes);
}

REMOTE_HANDLER(node_get_security_model)
{
	/* No security driver: empty model and DOI (virsh dominfo then prints
	 * no security lines), as libvirt's drivers without one answer. */
	remote_put_char_array(cc->ret, "", REMOTE_SECURITY_MODEL_MAX);
	return remote_put_char_array(cc->ret, "", REMOTE_SECURITY_DOI_MAX);
}

/* ---- capabilities ---- */

struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	if (!b->s) { /* vsnprintf into NULL + 0 would be UB: start with a buffer */
		b->cap = 4096;
		b->s = malloc(b->cap);
		if (!b->s) {
			b->oom = true;
			return;
		}
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->s, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
}

/* The CPUs of node i: a real node's own; emulated nodes share the host's,
 * split into contiguous runs so every CPU is in exactly one cell. */
static void cell_cpus(const struct remote_node_info *ni, int i, int *first, int *n, const char **list)
{
	int per = ni->nr_nodes > 0 ? ni->nr_cpus / ni->nr_nodes : ni->nr_cpus;

	*list = ni->node_cpus[i][0] ? ni->node_cpus[i] : NULL;
	*first = i * per;
	*n = i == ni->nr_nodes - 1 ? ni->nr_cpus - *first : per;
	if (*n < 0)
		*n = 0;
}

static void caps_cpu_list(struct strbuf *b, const char *list)
{
	int ids[1024], n = 0;
	const char *p = list;

	/* "0-3,8" -> ids; malformed text just ends the list */
	while (*p && n < 1024) {
		char *end;
		long a = strtol(p, &end, 10), z;

		if (end == p || a < 0)
			break;
		z = a;
		if (*end == '-') {
			p = end + 1;
			z = strtol(p, &end, 10);
			if (end == p || z < a)
				break;
		}
		for (long c = a; c <= z && n < 1024; c++)
			ids[n++] = (int)c;
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p)
			break;
	}
	sb_printf(b, "          <cpus num='%d'>\n", n);
	for (int i = 0; i < n; i++)
		sb_printf(b, "            <cpu id='%d' socket_id='0' core_id='%d' siblings='%d'/>\n", ids[i], ids[i],
			  ids[i]);
	sb_printf(b, "          </cpus>\n");
}

static void caps_cells(struct strbuf *b, const struct remote_node_info *ni)
{
	sb_printf(b, "    <topology>\n      <cells num='%d'>\n", ni->nr_nodes);
	for (int i = 0; i < ni->nr_nodes; i++) {
		int first, n;
		const char *list;

		sb_printf(b, "        <cell id='%d'>\n", i);
		sb_printf(b, "          <memory unit='KiB'>%llu</memory>\n",
			  (unsigned long long)(ni->node_total_bytes[i] >> 10));
		sb_printf(b, "          <distances>\n");
		for (int j = 0; j < ni->nr_nodes; j++)
			sb_printf(b, "            <sibling id='%d' value='%d'/>\n", j, ni->distance[i][j]);
		sb_printf(b, "          </distances>\n");
		cell_cpus(ni, i, &first, &n, &list);
		if (list) {
			caps_cpu_list(b, list);
		} else {
			sb_printf(b, "          <cpus num='%d'>\n", n);
			for (int c = first; c < first + n; c++)
				sb_printf(b, "            <cpu id='%d' socket_id='0' core_id='%d' siblings='%d'/>\n", c,
					  c, c);
			sb_printf(b, "          </cpus>\n");
		}
		sb_printf(b, "        </cell>\n");
	}
	sb_printf(b, "      </cells>\n    </topology>\n");
}

/* A complete capabilities document: the host (x86_64, the pool's NUMA
 * cells) and one guest (hvm, x86_64, domain type gmm). */
static char *caps_xml(const struct remote_node_info *ni)
{
	struct strbuf b = { 0 };
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = 0;
	sb_printf(&b, "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n");
	sb_printf(&b, "    <power_management/>\n    <iommu support='no'/>\n");
	sb_printf(&b, "    <migration_features/>\n");
	caps_cells(&b, ni);
	sb_printf(&b, "  </host>\n\n  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'>\n");
	sb_printf(&b, "      <wordsize>64</wordsize>\n      <emulator>%s</emulator>\n", exe[0] ? exe : "gmm");
	sb_printf(&b, "      <domain type='%s'/>\n    </arch>\n", DOMAIN_XML_TYPE);
	sb_printf(&b, "    <features>\n      <acpi default='on' toggle='no'/>\n    </features>\n  </guest>\n\n");
	sb_printf(&b, "</capabilities>\n");
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

REMOTE_HANDLER(connect_get_capabilities)
{
	struct remote_node_info ni;
	char *xml;
	int ret;

	if (node_info(cc, &ni))
		return -EIO;
	xml = caps_xml(&ni);
	if (!xml)
		return remote_err(cc, VIR_ERR_INTERNAL_ERROR, "out of memory");
	ret = xdr_put_string(cc->ret, xml, REMOTE_STRING_MAX);
	free(xml);
	return ret;
}
