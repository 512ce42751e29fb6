/*
 * A domain's memory through the registry (domains.h): the balloon target
 * (setmem), the guest's RAM (setmaxmem), statistics (dommemstat), limits
 * (memtune) and the NUMA policy (numatune). A live change goes to the
 * running guest's mechanism (the balloon, stage2_set_limits) and to
 * dom->live, which dumpxml shows; a config change goes to the definition
 * and the state dir.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "balloon/balloon_dev.h"
#include "vmm/config.h"
#include "vmm/domains_internal.h"
#include "vmm/host.h"
#include "vmm/stage2.h"

/* Lock, reap, find, and decide live/config: NULL with *ret set if not. */
static struct domain *begin(struct domains *d, const char *name, unsigned affect, bool *live, bool *config,
			    int *ret, char *err, size_t errlen)
{
	struct domain *dom = domains_lock_find(d, name, err, errlen);

	if (!dom) {
		*ret = -ENOENT;
		return NULL;
	}
	*ret = domains_affect(dom, affect, live, config, err, errlen);
	return *ret ? NULL : dom;
}

/* A changed definition: checked as a start would check it, then saved;
 * on failure the old one is put back. */
static int save_def(struct domains *d, struct domain *dom, const struct domain_def *old, char *err, size_t errlen)
{
	struct vm_config check = dom->def.cfg;
	int ret = config_finish_guest(d->host_cfg, &check, d->default_kernel, err, errlen) ? -EINVAL :
		  domains_store_save(d->dir, dom, err, errlen);

	if (ret)
		dom->def = *old;
	return ret;
}

int domains_set_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
		       size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (!dom) {
		domains_unlock(d);
		return ret;
	}
	bytes &= ~4095ULL;
	if (live && !dom->vm->balloon) {
		snprintf(err, errlen, "the domain has no balloon device (<memballoon model='virtio'>): "
			 "its memory cannot change while it runs");
		ret = -EOPNOTSUPP;
	} else if ((live && bytes > dom->live.cfg.mem_bytes) || (config && bytes > dom->def.cfg.mem_bytes)) {
		snprintf(err, errlen, "cannot set memory higher than max memory");
		ret = -EINVAL;
	} else if (bytes < (4ULL << 20)) {
		snprintf(err, errlen, "memory %llu KiB is below the 4 MiB a guest needs",
			 (unsigned long long)(bytes >> 10));
		ret = -EINVAL;
	}
	if (!ret && config && dom->def.cfg.mem_bytes != bytes && !dom->def.cfg.balloon.enabled) {
		snprintf(err, errlen, "currentMemory below memory needs the balloon device (<memballoon model='virtio'>)");
		ret = -EOPNOTSUPP;
	}
	if (!ret && live) {
		ret = balloon_set_target(dom->vm->balloon, (dom->live.cfg.mem_bytes - bytes) >> 12);
		if (ret)
			snprintf(err, errlen, "balloon target out of range");
		else
			dom->live.current_memory_kib = bytes >> 10;
	}
	if (!ret && config) {
		struct domain_def old = dom->def;

		dom->def.current_memory_kib = bytes >> 10;
		ret = save_def(d, dom, &old, err, errlen);
	}
	domains_unlock(d);
	return ret;
}

int domains_set_max_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
			   size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (dom && live) {
		snprintf(err, errlen, "cannot resize the maximum memory on an active domain (gmm has no memory hotplug)");
		ret = -EOPNOTSUPP;
	} else if (dom) {
		struct domain_def old = dom->def;

		bytes &= ~4095ULL;
		dom->def.cfg.mem_bytes = bytes;
		if ((dom->def.current_memory_kib << 10) > bytes || !dom->def.current_memory_kib)
			dom->def.current_memory_kib = bytes >> 10;
		ret = save_def(d, dom, &old, err, errlen);
	}
	domains_unlock(d);
	return ret;
}

int domains_memory_stats(struct domains *d, const char *name, struct domain_mem_stats *out, char *err,
			 size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, DOMAIN_AFFECT_LIVE, &live, &config, &ret, err, errlen);
	struct vm *vm = NULL;
	uint64_t balloon = 0;

	memset(out, 0, sizeof(*out));
	/* the guest's reference, not the registry lock, keeps the vm while
	 * we wait up to a second for its statistics: other calls go on */
	if (dom)
		vm = host_get_guest(d->host, name);
	domains_unlock(d);
	if (!vm)
		return ret;
	out->ram_bytes = vm->cfg.mem_bytes;
	out->rss_bytes = vm_sample_resident(vm);
	if (vm->mem.s2) {
		out->host_swap_in_pages = atomic_load(&vm->mem.s2->stat[S2_PSWPIN]);
		out->host_swap_out_pages = atomic_load(&vm->mem.s2->stat[S2_PSWPOUT]);
		out->host_faults = atomic_load(&vm->mem.s2->stat[S2_FAULTS]);
	}
	out->guest_stats_age_s = -1;
	if (vm->balloon) {
		struct balloon_info bi;

		out->has_balloon = true;
		/* fresh figures if the guest negotiated the stats queue; a
		 * guest that does not answer leaves the last ones */
		balloon_request_stats(vm->balloon, 1000);
		balloon_get_info(vm->balloon, &bi);
		balloon = (uint64_t)bi.actual_pages << 12;
		for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
			out->guest_valid[i] = bi.gstats.valid[i];
			out->guest[i] = bi.gstats.val[i];
		}
		if (bi.gstats.updated_ns) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			out->guest_stats_age_s =
				((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - (int64_t)bi.gstats.updated_ns) /
				1000000000LL;
		}
	}
	out->actual_bytes = out->ram_bytes - (balloon < out->ram_bytes ? balloon : 0);
	host_put_guest(d->host, vm);
	return 0;
}

int domains_set_stats_period(struct domains *d, const char *name, int seconds, unsigned affect, char *err,
			     size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (dom && (seconds < 0 || seconds > 3600)) {
		snprintf(err, errlen, "stats period: 0 to 3600 seconds");
		ret = -EINVAL;
	} else if (dom && ((live && !dom->vm->balloon) || (config && !dom->def.cfg.balloon.enabled))) {
		snprintf(err, errlen, "the domain has no balloon device (<memballoon model='virtio'>)");
		ret = -EOPNOTSUPP;
	} else if (dom) {
		if (live) {
			balloon_set_stats_period(dom->vm->balloon, (unsigned)seconds);
			dom->live.cfg.balloon.stats_period = seconds;
		}
		if (config) {
			struct domain_def old = dom->def;

			dom->def.cfg.balloon.stats_period = seconds;
			ret = save_def(d, dom, &old, err, errlen);
		}
	}
	domains_unlock(d);
	return ret;
}

static uint64_t pages_to_bytes(uint64_t p)
{
	return p == STAGE2_LIMIT_NONE ? LIMIT_UNSET : p << 12;
}

/* A running guest's limits as stage 2 has them now (`gmm limits` may
 * have changed them), in bytes. */
static void live_limits(struct domain *dom, struct limits_config *out)
{
	struct stage2_limits l;

	if (!dom->vm->mem.s2) {
		*out = dom->live.cfg.limits;
		return;
	}
	stage2_get_limits(dom->vm->mem.s2, &l);
	*out = (struct limits_config){ pages_to_bytes(l.max), pages_to_bytes(l.high), pages_to_bytes(l.low),
				       pages_to_bytes(l.min), pages_to_bytes(l.swap_max) };
}

int domains_get_limits(struct domains *d, const char *name, unsigned affect, struct limits_config *out,
		       char *err, size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (dom && live)
		live_limits(dom, out);
	else if (dom)
		*out = dom->def.cfg.limits;
	domains_unlock(d);
	return ret;
}

static void limits_merge(struct limits_config *l, const struct limits_config *set)
{
	const uint64_t *src = &set->max;
	uint64_t *dst = &l->max;

	for (int i = 0; i < 5; i++)
		if (src[i] != LIMIT_KEEP)
			dst[i] = src[i] == LIMIT_UNSET ? LIMIT_UNSET : src[i] & ~4095ULL;
}

int domains_set_limits(struct domains *d, const char *name, const struct limits_config *set, unsigned affect,
		       char *err, size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);
	struct limits_config l;

	if (!dom)
		goto out;
	if (live) {
		live_limits(dom, &l);
		limits_merge(&l, set);
		if (!dom->vm->mem.s2) {
			snprintf(err, errlen, "limits need the pool backend (<memoryBacking><source type='memfd'/>)");
			ret = -EOPNOTSUPP;
			goto out;
		}
		if (l.max != LIMIT_UNSET && l.max < STAGE2_LIMIT_MAX_MIN_BYTES) {
			snprintf(err, errlen, "hard_limit: at least 4 MiB");
			ret = -EINVAL;
			goto out;
		}
		struct stage2_limits pages = limits_pages(&l);

		ret = stage2_set_limits(dom->vm->mem.s2, &pages);
		if (ret) {
			snprintf(err, errlen, "the guest stopped: its memory went back to the pool");
			goto out;
		}
		dom->live.cfg.limits = l;
	}
	if (config) {
		struct domain_def old = dom->def;

		limits_merge(&dom->def.cfg.limits, set);
		ret = save_def(d, dom, &old, err, errlen);
	}
out:
	domains_unlock(d);
	return ret;
}

int domains_get_numa(struct domains *d, const char *name, unsigned affect, char *policy, size_t policy_len,
		     char *nodes, size_t nodes_len, char *err, size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (dom) {
		const struct numa_guest_config *n = live ? &dom->live.cfg.numa : &dom->def.cfg.numa;

		snprintf(policy, policy_len, "%s", n->policy[0] ? n->policy : "default");
		snprintf(nodes, nodes_len, "%s", n->nodes);
	}
	domains_unlock(d);
	return ret;
}

int domains_set_numa(struct domains *d, const char *name, const char *policy, const char *nodes,
		     unsigned affect, char *err, size_t errlen)
{
	bool live, config;
	int ret;
	struct domain *dom = begin(d, name, affect, &live, &config, &ret, err, errlen);

	if (dom && live) {
		snprintf(err, errlen, "gmm sets a guest's NUMA policy when it starts: change it with --config "
			 "(or move its pages with `gmm numa NAME migrate=...`)");
		ret = -EOPNOTSUPP;
	} else if (dom) {
		struct domain_def old = dom->def;
		struct numa_guest_config *n = &dom->def.cfg.numa;

		if (policy && (strlen(policy) >= sizeof(n->policy))) {
			snprintf(err, errlen, "numa mode: \"%s\" is not a policy", policy);
			ret = -EINVAL;
		} else if (nodes && strlen(nodes) >= sizeof(n->nodes)) {
			snprintf(err, errlen, "nodeset: too long");
			ret = -EINVAL;
		} else {
			if (policy)
				strcpy(n->policy, policy);
			if (nodes)
				strcpy(n->nodes, nodes);
			ret = save_def(d, dom, &old, err, errlen);
		}
	}
	domains_unlock(d);
	return ret;
}

char *domains_xml(struct domains *d, const char *name, bool inactive, char *err, size_t errlen)
{
	struct domain *dom = domains_lock_find(d, name, err, errlen);
	char *xml = NULL;

	if (dom && (inactive || !dom->vm)) {
		xml = domain_xml_format(&dom->def, NULL);
	} else if (dom) {
		struct domain_info info;
		struct limits_config l;
		struct domain_runtime rt = { .id = dom->id, .limits = &l, .stats_period = -1 };

		domain_fill_info(dom, &info);
		live_limits(dom, &l);
		rt.current_memory_kib = info.cur_mem_bytes >> 10;
		if (dom->vm->balloon)
			rt.stats_period = dom->live.cfg.balloon.stats_period;
		xml = domain_xml_format(&dom->live, &rt);
	}
	if (dom && !xml)
		snprintf(err, errlen, "cannot format the domain's XML: out of memory");
	domains_unlock(d);
	return xml;
}
