/*
 * Memory procedures: setmem/setmaxmem (the balloon target and <memory>),
 * dommemstat, memtune (gmm's limits) and numatune (gmm's NUMA policy).
 *
 * The mapping, libvirt -> gmm (docs/libvirt.md):
 *   setmem --live             balloon target (RAM minus the balloon)
 *   hard_limit                limits.max
 *   soft_limit                limits.high
 *   min_guarantee             limits.min
 *   swap_hard_limit           limits.max + limits.swap_max (libvirt counts memory plus swap)
 *   numa_mode strict/restrictive, preferred, interleave
 *                             bind, preferred (preferred-many for several nodes), interleave
 * libvirt speaks KiB; domains.h bytes. "No limit" is libvirt's
 * VIR_DOMAIN_MEMORY_PARAM_UNLIMITED and gmm's LIMIT_UNSET.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"

#define VIR_DOMAIN_MEMORY_PARAM_UNLIMITED 9007199254740991ULL /* INT64_MAX >> 10 */
#define VIR_DOMAIN_MEM_MAXIMUM 4

/* virDomainMemoryStatTags */
enum {
	MST_SWAP_IN, MST_SWAP_OUT, MST_MAJOR_FAULT, MST_MINOR_FAULT, MST_UNUSED, MST_AVAILABLE,
	MST_ACTUAL_BALLOON, MST_RSS, MST_USABLE, MST_LAST_UPDATE, MST_DISK_CACHES,
	MST_HUGETLB_PGALLOC, MST_HUGETLB_PGFAIL, MST_NR
};

/* virtio-balloon statistic tags (the guest's own report) */
enum {
	VB_SWAP_IN, VB_SWAP_OUT, VB_MAJFLT, VB_MINFLT, VB_MEMFREE, VB_MEMTOT, VB_AVAIL, VB_CACHES,
	VB_HTLB_PGALLOC, VB_HTLB_PGFAIL,
};

static struct remote_conn *conn(struct rpc_call_ctl *cc)
{
	return cc->priv;
}

/* KiB from libvirt -> bytes; false if it does not fit */
static bool kib_to_bytes(uint64_t kib, uint64_t *bytes)
{
	if (kib > UINT64_MAX >> 10)
		return false;
	*bytes = kib << 10;
	return true;
}

static int set_memory(struct rpc_call_ctl *cc, const struct domain_info *info, uint64_t kib, uint32_t flags)
{
	char err[DOMAINS_ERR_MAX] = "";
	uint64_t bytes;
	int ret;

	if (remote_check_flags(cc, flags, 1 | 2 | VIR_DOMAIN_MEM_MAXIMUM))
		return -EINVAL;
	if (!kib_to_bytes(kib, &bytes))
		return remote_err(cc, VIR_ERR_INVALID_ARG, "memory size %llu KiB too large",
				  (unsigned long long)kib);
	if (flags & VIR_DOMAIN_MEM_MAXIMUM)
		ret = domains_set_max_memory(conn(cc)->d, info->name, bytes, remote_affect(flags), err,
					     sizeof(err));
	else
		ret = domains_set_memory(conn(cc)->d, info->name, bytes, remote_affect(flags), err, sizeof(err));
	return ret ? remote_fail(cc, ret, err) : 0;
}

/* dom, memory [, flags] */
static int set_memory_call(struct rpc_call_ctl *cc, bool has_flags, uint32_t fixed_flags)
{
	struct domain_info info;
	struct remote_dom dom;
	uint64_t kib;
	uint32_t flags = fixed_flags;
	int ret;

	remote_get_dom(cc->args, &dom);
	xdr_get_u64(cc->args, &kib);
	if (has_flags)
		xdr_get_u32(cc->args, &flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, &info);
	remote_dom_free(&dom);
	return ret ? ret : set_memory(cc, &info, kib, flags);
}

/* virDomainSetMemory(): the live balloon, as libvirt's drivers do */
REMOTE_HANDLER(domain_set_memory)
{
	return set_memory_call(cc, false, DOMAIN_AFFECT_LIVE);
}

/* virDomainSetMaxMemory(): <memory>, current state's */
REMOTE_HANDLER(domain_set_max_memory)
{
	return set_memory_call(cc, false, VIR_DOMAIN_MEM_MAXIMUM);
}

REMOTE_HANDLER(domain_set_memory_flags)
{
	return set_memory_call(cc, true, 0);
}

struct mstat {
	int tag;
	uint64_t val;
};

/* The guest's virtio statistic v (bytes) in KiB, if it sent it */
static bool guest_kib(const struct domain_mem_stats *ms, int v, uint64_t *out)
{
	if (!ms->guest_valid[v])
		return false;
	*out = ms->guest[v] >> 10;
	return true;
}

/*
 * libvirt's tags from gmm's numbers, in tag order. swap_in/swap_out are
 * gmm's own swapping of the guest's RAM (KiB), which the guest cannot
 * see; faults, unused, available, usable and caches are the guest's
 * balloon statistics when it sent them; actual and rss come from gmm.
 */
static int mem_stats_fill(const struct domain_mem_stats *ms, struct mstat *out)
{
	static const struct {
		int tag, vb;
		bool bytes;
	} guest_map[] = {
		{ MST_MAJOR_FAULT, VB_MAJFLT, false }, { MST_MINOR_FAULT, VB_MINFLT, false },
		{ MST_UNUSED, VB_MEMFREE, true },      { MST_AVAILABLE, VB_MEMTOT, true },
		{ MST_USABLE, VB_AVAIL, true },        { MST_DISK_CACHES, VB_CACHES, true },
		{ MST_HUGETLB_PGALLOC, VB_HTLB_PGALLOC, false }, { MST_HUGETLB_PGFAIL, VB_HTLB_PGFAIL, false },
	};
	bool have[MST_NR] = { false };
	uint64_t val[MST_NR] = { 0 };
	int n = 0;

	have[MST_SWAP_IN] = have[MST_SWAP_OUT] = true;
	val[MST_SWAP_IN] = ms->host_swap_in_pages * 4;
	val[MST_SWAP_OUT] = ms->host_swap_out_pages * 4;
	for (size_t i = 0; i < sizeof(guest_map) / sizeof(guest_map[0]); i++) {
		int t = guest_map[i].tag, v = guest_map[i].vb;

		if (guest_map[i].bytes)
			have[t] = guest_kib(ms, v, &val[t]);
		else if ((have[t] = ms->guest_valid[v]))
			val[t] = ms->guest[v];
	}
	have[MST_ACTUAL_BALLOON] = have[MST_RSS] = true;
	val[MST_ACTUAL_BALLOON] = ms->actual_bytes >> 10;
	val[MST_RSS] = ms->rss_bytes >> 10;
	if (ms->guest_stats_age_s >= 0) {
		have[MST_LAST_UPDATE] = true;
		val[MST_LAST_UPDATE] = (uint64_t)(time(NULL) - ms->guest_stats_age_s);
	}
	for (int t = 0; t < MST_NR; t++)
		if (have[t])
			out[n++] = (struct mstat){ t, val[t] };
	return n;
}

REMOTE_HANDLER(domain_memory_stats)
{
	struct domain_mem_stats ms;
	struct domain_info info;
	struct remote_dom dom;
	struct mstat st[MST_NR];
	char err[DOMAINS_ERR_MAX] = "";
	uint32_t max, flags;
	int ret, n;

	remote_get_dom(cc->args, &dom);
	xdr_get_u32(cc->args, &max);
	xdr_get_u32(cc->args, &flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, &info);
	remote_dom_free(&dom);
	if (ret)
		return ret;
	if (max > REMOTE_DOMAIN_MEMORY_STATS_MAX)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "maxStats %u > %d", max, REMOTE_DOMAIN_MEMORY_STATS_MAX);
	if (remote_check_flags(cc, flags, 0))
		return -EINVAL;
	memset(&ms, 0, sizeof(ms));
	ret = domains_memory_stats(conn(cc)->d, info.name, &ms, err, sizeof(err));
	if (ret)
		return remote_fail(cc, ret, err);
	n = mem_stats_fill(&ms, st);
	if ((uint32_t)n > max)
		n = (int)max;
	xdr_put_count(cc->ret, (uint32_t)n, REMOTE_DOMAIN_MEMORY_STATS_MAX);
	for (int i = 0; i < n; i++) {
		xdr_put_i32(cc->ret, st[i].tag);
		xdr_put_u64(cc->ret, st[i].val);
	}
	return xdr_enc_err(cc->ret);
}

REMOTE_HANDLER(domain_set_memory_stats_period)
{
	struct domain_info info;
	struct remote_dom dom;
	char err[DOMAINS_ERR_MAX] = "";
	int32_t period;
	uint32_t flags;
	int ret;

	remote_get_dom(cc->args, &dom);
	xdr_get_i32(cc->args, &period);
	xdr_get_u32(cc->args, &flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, &info);
	remote_dom_free(&dom);
	if (ret)
		return ret;
	if (remote_check_flags(cc, flags, 1 | 2))
		return -EINVAL;
	if (period < 0)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "period %d must be >= 0", period);
	ret = domains_set_stats_period(conn(cc)->d, info.name, period, remote_affect(flags), err, sizeof(err));
	return ret ? remote_fail(cc, ret, err) : 0;
}

/* ---- memtune ---- */

static uint64_t limit_kib(uint64_t bytes)
{
	return bytes == LIMIT_UNSET ? VIR_DOMAIN_MEMORY_PARAM_UNLIMITED : bytes >> 10;
}

/* swap_hard_limit: memory plus swap; unlimited when either is */
static uint64_t swap_hard_kib(const struct limits_config *l)
{
	if (l->max == LIMIT_UNSET || l->swap_max == LIMIT_UNSET || l->max > UINT64_MAX - l->swap_max)
		return VIR_DOMAIN_MEMORY_PARAM_UNLIMITED;
	return limit_kib(l->max + l->swap_max);
}

#define NR_MEM_PARAMS 4

/* A GET_*_PARAMETERS call's arguments (dom, nparams, flags). Returns 1 after answering the
 * two-phase count query (nparams 0: how many there are, virsh's first
 * call) itself; 0 when the caller is to answer with *nparams of its
 * count parameters; <0 on error. */
static int get_params_args(struct rpc_call_ctl *cc, struct domain_info *info, int32_t *nparams,
			   uint32_t *flags, uint32_t max, int32_t count)
{
	struct remote_dom dom;
	int ret;

	remote_get_dom(cc->args, &dom);
	xdr_get_i32(cc->args, nparams);
	xdr_get_u32(cc->args, flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, info);
	remote_dom_free(&dom);
	if (ret)
		return ret;
	if (*nparams < 0 || (uint32_t)*nparams > max)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "nparams %d out of range", *nparams);
	/* VIR_TYPED_PARAM_STRING_OKAY (4) rides along with the affect flags */
	ret = remote_check_flags(cc, *flags, 1 | 2 | 4);
	if (ret)
		return ret;
	if (*nparams == 0) {
		xdr_put_count(cc->ret, 0, max);
		ret = xdr_put_i32(cc->ret, count);
		return ret ? ret : 1;
	}
	if (*nparams > count)
		*nparams = count;
	return 0;
}

REMOTE_HANDLER(domain_get_memory_parameters)
{
	struct limits_config l;
	struct domain_info info;
	char err[DOMAINS_ERR_MAX] = "";
	int32_t nparams;
	uint32_t flags;
	int ret;

	ret = get_params_args(cc, &info, &nparams, &flags, REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX, NR_MEM_PARAMS);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = domains_get_limits(conn(cc)->d, info.name, remote_affect(flags), &l, err, sizeof(err));
	if (ret)
		return remote_fail(cc, ret, err);
	xdr_put_count(cc->ret, (uint32_t)nparams, REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX);
	/* libvirt's order (qemu's three first) */
	const uint64_t v[NR_MEM_PARAMS] = {
		limit_kib(l.max), limit_kib(l.high), swap_hard_kib(&l),
		l.min == LIMIT_UNSET ? 0 : l.min >> 10,
	};
	static const char *const names[NR_MEM_PARAMS] = {
		"hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee",
	};
	for (int i = 0; i < nparams; i++)
		remote_put_tparam_ullong(cc->ret, names[i], v[i]);
	return xdr_put_i32(cc->ret, nparams);
}

/* A memtune value in bytes: unlimited (or above) is LIMIT_UNSET */
static int param_limit(struct rpc_call_ctl *cc, const struct remote_tparam *p, uint64_t *bytes)
{
	uint64_t kib;

	if (remote_tparam_u64(p, &kib))
		return remote_err(cc, VIR_ERR_INVALID_ARG, "invalid type or value for parameter '%s'", p->field);
	if (kib >= VIR_DOMAIN_MEMORY_PARAM_UNLIMITED) {
		*bytes = LIMIT_UNSET;
		return 0;
	}
	*bytes = kib << 10; /* < 2^53 KiB: fits */
	return 0;
}

/* Fill set from the parameters; swap_hard_limit needs the hard limit in
 * force (the new one, else the current one: cur). */
static int memtune_params(struct rpc_call_ctl *cc, const struct remote_tparam *p, uint32_t n,
			  const struct limits_config *cur, struct limits_config *set)
{
	uint64_t swap_hard = LIMIT_KEEP, max;
	bool have_swap = false;

	*set = (struct limits_config){ LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP };
	for (uint32_t i = 0; i < n; i++) {
		uint64_t *dst;

		if (!strcmp(p[i].field, "hard_limit"))
			dst = &set->max;
		else if (!strcmp(p[i].field, "soft_limit"))
			dst = &set->high;
		else if (!strcmp(p[i].field, "min_guarantee"))
			dst = &set->min;
		else if (!strcmp(p[i].field, "swap_hard_limit")) {
			dst = &swap_hard;
			have_swap = true;
		} else
			return remote_err(cc, VIR_ERR_INVALID_ARG, "parameter '%s' not supported", p[i].field);
		if (param_limit(cc, &p[i], dst))
			return -EINVAL;
	}
	if (!have_swap)
		return 0;
	max = set->max != LIMIT_KEEP ? set->max : cur->max;
	if (swap_hard == LIMIT_UNSET) {
		set->swap_max = LIMIT_UNSET;
	} else if (max == LIMIT_UNSET || swap_hard < max) {
		return remote_err(cc, VIR_ERR_INVALID_ARG,
				  "memory hard_limit tunable value must be lower than or equal to swap_hard_limit");
	} else {
		set->swap_max = swap_hard - max;
	}
	return 0;
}

REMOTE_HANDLER(domain_set_memory_parameters)
{
	struct limits_config cur, set;
	struct domain_info info;
	struct remote_dom dom;
	struct remote_tparam *p = NULL;
	char err[DOMAINS_ERR_MAX] = "";
	uint32_t n = 0, flags;
	int ret;

	remote_get_dom(cc->args, &dom);
	remote_get_tparams(cc->args, &p, &n, REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX);
	xdr_get_u32(cc->args, &flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, &info);
	remote_dom_free(&dom);
	if (!ret)
		ret = remote_check_flags(cc, flags, 1 | 2);
	if (!ret) {
		ret = domains_get_limits(conn(cc)->d, info.name, remote_affect(flags), &cur, err, sizeof(err));
		if (ret)
			ret = remote_fail(cc, ret, err);
	}
	if (!ret)
		ret = memtune_params(cc, p, n, &cur, &set);
	if (!ret) {
		ret = domains_set_limits(conn(cc)->d, info.name, &set, remote_affect(flags), err, sizeof(err));
		if (ret)
			ret = remote_fail(cc, ret, err);
	}
	remote_tparams_free(p, n);
	return ret;
}

/* ---- numatune ---- */

/* virDomainNumatuneMemMode */
enum { NUMA_STRICT, NUMA_PREFERRED, NUMA_INTERLEAVE, NUMA_RESTRICTIVE };

static int numa_mode_of(const char *policy)
{
	if (!strcmp(policy, "preferred") || !strcmp(policy, "preferred-many"))
		return NUMA_PREFERRED;
	if (!strcmp(policy, "interleave") || !strcmp(policy, "weighted-interleave"))
		return NUMA_INTERLEAVE;
	return NUMA_STRICT; /* bind; default and local have no libvirt mode: libvirt's default is strict */
}

/* More than one node in "0-1,3"? preferred of several is preferred-many. */
static bool several_nodes(const char *set)
{
	return strchr(set, ',') || strchr(set, '-');
}

REMOTE_HANDLER(domain_get_numa_parameters)
{
	struct domain_info info;
	char policy[32] = "", nodes[128] = "", err[DOMAINS_ERR_MAX] = "";
	int32_t nparams;
	uint32_t flags;
	int ret;

	ret = get_params_args(cc, &info, &nparams, &flags, REMOTE_DOMAIN_NUMA_PARAMETERS_MAX, 2);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = domains_get_numa(conn(cc)->d, info.name, remote_affect(flags), policy, sizeof(policy), nodes,
			       sizeof(nodes), err, sizeof(err));
	if (ret)
		return remote_fail(cc, ret, err);
	xdr_put_count(cc->ret, (uint32_t)nparams, REMOTE_DOMAIN_NUMA_PARAMETERS_MAX);
	remote_put_tparam_int(cc->ret, "numa_mode", numa_mode_of(policy));
	if (nparams > 1)
		remote_put_tparam_string(cc->ret, "numa_nodeset", nodes);
	return xdr_put_i32(cc->ret, nparams);
}

static int numatune_params(struct rpc_call_ctl *cc, const struct remote_tparam *p, uint32_t n, int *mode,
			   char *nodes, size_t nodes_len)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!strcmp(p[i].field, "numa_mode") && p[i].type == VIR_TYPED_PARAM_INT) {
			if (p[i].v.i < NUMA_STRICT || p[i].v.i > NUMA_RESTRICTIVE)
				return remote_err(cc, VIR_ERR_INVALID_ARG, "unsupported numatune mode: '%d'",
						  p[i].v.i);
			*mode = p[i].v.i;
		} else if (!strcmp(p[i].field, "numa_nodeset") && p[i].type == VIR_TYPED_PARAM_STRING) {
			if (strlen(p[i].s) >= nodes_len)
				return remote_err(cc, VIR_ERR_INVALID_ARG, "nodeset '%s' too long", p[i].s);
			snprintf(nodes, nodes_len, "%s", p[i].s);
		} else {
			return remote_err(cc, VIR_ERR_INVALID_ARG, "parameter '%s' not supported or of the "
				      "wrong type", p[i].field);
		}
	}
	return 0;
}

REMOTE_HANDLER(domain_set_numa_parameters)
{
	struct domain_info info;
	struct remote_dom dom;
	struct remote_tparam *p = NULL;
	char policy[32] = "", nodes[128] = "", err[DOMAINS_ERR_MAX] = "";
	const char *newpol;
	uint32_t n = 0, flags;
	int ret, mode;

	remote_get_dom(cc->args, &dom);
	remote_get_tparams(cc->args, &p, &n, REMOTE_DOMAIN_NUMA_PARAMETERS_MAX);
	xdr_get_u32(cc->args, &flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, &info);
	remote_dom_free(&dom);
	if (!ret)
		ret = remote_check_flags(cc, flags, 1 | 2);
	if (!ret) {
		ret = domains_get_numa(conn(cc)->d, info.name, remote_affect(flags), policy, sizeof(policy), nodes,
				       sizeof(nodes), err, sizeof(err));
		if (ret)
			ret = remote_fail(cc, ret, err);
	}
	mode = policy[0] ? numa_mode_of(policy) : NUMA_STRICT;
	if (!ret)
		ret = numatune_params(cc, p, n, &mode, nodes, sizeof(nodes));
	if (!ret) {
		if (mode == NUMA_PREFERRED)
			newpol = several_nodes(nodes) ? "preferred-many" : "preferred";
		else
			newpol = mode == NUMA_INTERLEAVE ? "interleave" : "bind";
		ret = domains_set_numa(conn(cc)->d, info.name, newpol, nodes, remote_affect(flags), err,
				       sizeof(err));
		if (ret)
			ret = remote_fail(cc, ret, err);
	}
	remote_tparams_free(p, n);
	return ret;
}
