/*
 * The domain registry: definitions, lifecycle and lookups (domains.h).
 * Memory, limits and NUMA are in domains_mem.c, the state dir in
 * domains_store.c.
 *
 * A running domain is a struct vm in the host (host_add_guest), so the
 * control socket, kswapd, the OOM killer and the balloon policy see it as
 * they see `gmm run`'s guests. A guest that stops by itself (its workload
 * exited, it crashed, the OOM killer chose it) is reaped here: its vCPUs
 * joined, its frames and swap slots given back, its struct vm destroyed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balloon/balloon_dev.h"
#include "vmm/config.h"
#include "vmm/domains_internal.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"

void domains_lock(struct domains *d)
{
	pthread_mutex_lock(&d->lock);
}

void domains_unlock(struct domains *d)
{
	struct domains_event ev[DOMAINS_MAX_EVENTS];
	int n = d->nr_pending;
	domains_event_fn fn = d->event_fn;
	void *ctx = d->event_ctx;

	memcpy(ev, d->pending, (size_t)n * sizeof(ev[0]));
	d->nr_pending = 0;
	if (!fn || !n) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->events_in_flight++;
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < n; i++)
		fn(ctx, &ev[i].info, ev[i].event, ev[i].detail);
	pthread_mutex_lock(&d->lock);
	if (!--d->events_in_flight)
		pthread_cond_broadcast(&d->events_done);
	pthread_mutex_unlock(&d->lock);
}

void domains_raise(struct domains *d, const struct domain *dom, int event, int detail)
{
	struct domains_event *e;

	if (!d->event_fn)
		return;
	if (d->nr_pending == DOMAINS_MAX_EVENTS) {
		log_warn("daemon: more than %d lifecycle events at once: %s's dropped", DOMAINS_MAX_EVENTS,
			 dom->def.cfg.name);
		return;
	}
	e = &d->pending[d->nr_pending++];
	domain_fill_info(dom, &e->info);
	e->event = event;
	e->detail = detail;
}

struct domain *domains_find(struct domains *d, const char *name)
{
	for (int i = 0; i < d->nr; i++)
		if (!strcmp(d->dom[i]->def.cfg.name, name))
			return d->dom[i];
	return NULL;
}

static struct domain *find_uuid(struct domains *d, const char *uuid)
{
	for (int i = 0; i < d->nr; i++)
		if (!strcmp(d->dom[i]->def.uuid, uuid))
			return d->dom[i];
	return NULL;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

static void uuid_to_raw(const char *text, uint8_t raw[16])
{
	int n = 0;

	for (const char *p = text; *p && n < 16; p++) {
		if (*p == '-')
			continue;
		raw[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		p++;
	}
}

static uint64_t vcpu_cpu_time_ns(struct vm *vm)
{
	uint64_t sum = 0;

	for (int i = 0; i < vm->nr_vcpus; i++) {
		clockid_t cid;
		struct timespec ts;

		if (!vm->vcpus[i].thread_started || pthread_getcpuclockid(vm->vcpus[i].thread, &cid) ||
		    clock_gettime(cid, &ts))
			continue;
		sum += (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	return sum;
}

void domain_fill_info(const struct domain *dom, struct domain_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", dom->def.cfg.name);
	snprintf(out->uuid, sizeof(out->uuid), "%s", dom->def.uuid);
	uuid_to_raw(dom->def.uuid, out->uuid_raw);
	out->id = dom->id;
	out->state = dom->state;
	out->reason = dom->reason;
	out->persistent = dom->persistent;
	out->autostart = dom->autostart;
	out->exit_code = dom->exit_code;
	snprintf(out->stop_reason, sizeof(out->stop_reason), "%s", dom->stop_reason);
	if (dom->vm) {
		struct vm *vm = dom->vm;
		uint64_t balloon = 0;

		if (vm->balloon) {
			struct balloon_info bi;

			balloon_get_info(vm->balloon, &bi);
			balloon = (uint64_t)bi.actual_pages << 12;
		}
		out->vcpus = vm->nr_vcpus;
		out->max_mem_bytes = vm->cfg.mem_bytes;
		out->cur_mem_bytes = vm->cfg.mem_bytes - (balloon < vm->cfg.mem_bytes ? balloon : 0);
		out->cpu_time_ns = vcpu_cpu_time_ns(vm);
	} else {
		out->vcpus = dom->def.cfg.vcpus;
		out->max_mem_bytes = dom->def.cfg.mem_bytes;
		out->cur_mem_bytes = dom->def.current_memory_kib << 10;
	}
}

/* The guest has stopped (or we asked it to): join, give its memory back,
 * forget the vm. Under d->lock. */
static void stop_finish(struct domains *d, struct domain *dom)
{
	struct vm *vm = dom->vm;
	int detail;

	vm_wait(vm);
	pthread_mutex_lock(&vm->lock);
	dom->exit_code = vm->exit_code;
	snprintf(dom->stop_reason, sizeof(dom->stop_reason), "%s", vm->stop_reason);
	if (dom->stop_kind)
		dom->reason = dom->stop_kind;
	else
		dom->reason = vm->crashed ? DOMAIN_SHUTOFF_CRASHED : DOMAIN_SHUTOFF_SHUTDOWN;
	pthread_mutex_unlock(&vm->lock);
	vm_release_memory(vm);
	host_remove_guest(d->host, vm);
	vm_destroy(vm);
	dom->vm = NULL;
	dom->id = -1;
	dom->state = DOMAIN_SHUTOFF;
	dom->stop_kind = 0;
	log_info("%s: shut off (%s)", dom->def.cfg.name, dom->stop_reason);
	detail = dom->reason == DOMAIN_SHUTOFF_DESTROYED ? DOMAIN_EVENT_STOPPED_DESTROYED :
		 dom->reason == DOMAIN_SHUTOFF_CRASHED	 ? DOMAIN_EVENT_STOPPED_CRASHED :
		 dom->reason == DOMAIN_SHUTOFF_DAEMON	 ? DOMAIN_EVENT_STOPPED_DESTROYED :
							   DOMAIN_EVENT_STOPPED_SHUTDOWN;
	domains_raise(d, dom, DOMAIN_EVENT_STOPPED, detail);
}

static void domain_forget(struct domains *d, struct domain *dom)
{
	for (int i = 0; i < d->nr; i++) {
		if (d->dom[i] != dom)
			continue;
		memmove(&d->dom[i], &d->dom[i + 1], (size_t)(d->nr - i - 1) * sizeof(d->dom[0]));
		d->nr--;
		break;
	}
	free(dom);
}

void domains_reap_locked(struct domains *d)
{
	for (int i = 0; i < d->nr; i++) {
		struct domain *dom = d->dom[i];

		if (!dom->vm || !vm_is_stopped(dom->vm))
			continue;
		stop_finish(d, dom);
		if (!dom->persistent) {
			domain_forget(d, dom);
			i--;
		}
	}
}

void domains_reap(struct domains *d)
{
	domains_lock(d);
	domains_reap_locked(d);
	domains_unlock(d);
}

/* Frame owner ids are small (HOST_POOL_MAX_OWNERS): a running guest takes
 * the lowest free one; libvirt's ids only grow. */
static int owner_slot(struct domains *d)
{
	for (int slot = 0; slot < HOST_POOL_MAX_OWNERS - 1; slot++) {
		bool used = false;

		for (int i = 0; i < d->nr && !used; i++)
			used = d->dom[i]->vm && d->dom[i]->vm->id == slot;
		if (!used)
			return slot;
	}
	return -1;
}

static int start_locked(struct domains *d, struct domain *dom, char *err, size_t errlen)
{
	struct domain_def *live = &dom->live;
	struct vm *vm;
	int slot = owner_slot(d), ret;

	*live = dom->def;
	ret = config_finish_guest(d->host_cfg, &live->cfg, d->default_kernel, err, errlen);
	if (ret)
		return -EINVAL;
	if (slot < 0 || d->host->nr_guests >= HOST_MAX_GUESTS) {
		snprintf(err, errlen, "%d guests are running: the most one gmm runs", d->host->nr_guests);
		return -ENOSPC;
	}
	ret = vm_create(&live->cfg, d->host->accel, d->host->pool, slot, &vm, err, errlen);
	if (ret)
		return ret;
	if (vm->balloon && live->current_memory_kib && (live->current_memory_kib << 10) < live->cfg.mem_bytes)
		balloon_set_target(vm->balloon, (live->cfg.mem_bytes - (live->current_memory_kib << 10)) >> 12);
	ret = host_add_guest(d->host, vm);
	if (!ret) {
		ret = vm_start(vm);
		if (ret)
			host_remove_guest(d->host, vm);
	}
	if (ret) {
		snprintf(err, errlen, "cannot start its vCPUs: %s", strerror(ret < 0 ? -ret : ret));
		vm_destroy(vm);
		return -EIO;
	}
	dom->vm = vm;
	dom->id = ++d->next_id;
	dom->state = DOMAIN_RUNNING;
	dom->reason = DOMAIN_RUNNING_BOOTED;
	dom->stop_kind = 0;
	dom->stop_reason[0] = '\0';
	log_info("%s: started (id %d, %d vCPUs, %llu MiB)", dom->def.cfg.name, dom->id, vm->nr_vcpus,
		 (unsigned long long)(live->cfg.mem_bytes >> 20));
	domains_raise(d, dom, DOMAIN_EVENT_STARTED, DOMAIN_EVENT_STARTED_BOOTED);
	return 0;
}

/* Parse and check a definition: the XML's own rules, then the host's
 * (kernel readable, nodes the pool has) on a copy, so define refuses what
 * start would. */
static int def_parse(struct domains *d, const char *xml, size_t len, struct domain_def *def, char *err,
		     size_t errlen)
{
	struct vm_config check;
	char why[DOMAINS_ERR_MAX];

	if (domain_xml_parse(xml, len, def, err, errlen))
		return -EBADMSG;
	check = def->cfg;
	if (config_finish_guest(d->host_cfg, &check, d->default_kernel, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -EBADMSG;
	}
	return 0;
}

/* A new definition's name and uuid against the registry: the same name
 * must keep its uuid (an XML without <uuid> takes the existing one), and
 * a uuid belongs to one name. *existing: the domain it redefines. */
static int def_claim(struct domains *d, struct domain_def *def, struct domain **existing, char *err,
		     size_t errlen)
{
	struct domain *by_name = domains_find(d, def->cfg.name), *by_uuid;

	if (by_name && def->uuid_generated)
		memcpy(def->uuid, by_name->def.uuid, sizeof(def->uuid));
	by_uuid = find_uuid(d, def->uuid);
	if (by_name && strcmp(by_name->def.uuid, def->uuid)) {
		snprintf(err, errlen, "domain '%s' already exists with uuid %s", def->cfg.name, by_name->def.uuid);
		return -EEXIST;
	}
	if (by_uuid && by_uuid != by_name) {
		snprintf(err, errlen, "domain '%s' is already defined with uuid %s", by_uuid->def.cfg.name,
			 def->uuid);
		return -EEXIST;
	}
	*existing = by_name;
	return 0;
}

static struct domain *domain_new(struct domains *d, const struct domain_def *def, char *err, size_t errlen)
{
	struct domain *dom;

	if (d->nr == DOMAINS_MAX) {
		snprintf(err, errlen, "%d domains are defined: the most gmm keeps", DOMAINS_MAX);
		return NULL;
	}
	dom = calloc(1, sizeof(*dom));
	if (!dom) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dom->def = *def;
	dom->id = -1;
	dom->state = DOMAIN_SHUTOFF;
	dom->reason = DOMAIN_SHUTOFF_UNKNOWN;
	d->dom[d->nr++] = dom;
	return dom;
}

struct load_ctx {
	struct domains *d;
	int loaded;
};

static void load_one(void *ctx, const char *xml, size_t len, bool autostart, const char *file)
{
	struct load_ctx *lc = ctx;
	struct domain_def *def = calloc(1, sizeof(*def));
	struct domain *dom, *existing = NULL;
	char err[DOMAINS_ERR_MAX], bad[PATH_MAX + 8];

	if (!def)
		return;
	/* only the XML's own rules: a kernel that went away is start's error */
	if (domain_xml_parse(xml, len, def, err, sizeof(err)) || def_claim(lc->d, def, &existing, err, sizeof(err)) ||
	    existing) {
		snprintf(bad, sizeof(bad), "%s.bad", file);
		log_warn("daemon: %s: %s: kept as %s, not defined", file, existing ? "a second definition of its name" : err,
			 bad);
		rename(file, bad);
		free(def);
		return;
	}
	dom = domain_new(lc->d, def, err, sizeof(err));
	if (dom) {
		dom->persistent = true;
		dom->autostart = autostart;
		lc->loaded++;
	} else {
		log_warn("daemon: %s: %s", file, err);
	}
	free(def);
}

int domains_open(struct host *host, struct gmm_config *host_cfg, const char *state_dir, const char *default_kernel,
		 struct domains **out, char *err, size_t errlen)
{
	struct domains *d = calloc(1, sizeof(*d));
	struct load_ctx lc = { d, 0 };
	int ret;

	if (!d)
		return -ENOMEM;
	if (strlen(state_dir) >= sizeof(d->dir) - 64) {
		snprintf(err, errlen, "--state-dir: %s: too long", state_dir);
		free(d);
		return -ENAMETOOLONG;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->events_done, NULL);
	d->host = host;
	d->host_cfg = host_cfg;
	strcpy(d->dir, state_dir);
	snprintf(d->default_kernel, sizeof(d->default_kernel), "%s", default_kernel ? default_kernel : "");
	ret = domains_store_init(d->dir, err, errlen);
	if (!ret) {
		ret = domains_store_load(d->dir, load_one, &lc);
		if (ret < 0)
			snprintf(err, errlen, "%s/domains: %s", d->dir, strerror(-ret));
	}
	if (ret < 0) {
		domains_close(d);
		return ret;
	}
	log_info("daemon: %d domain(s) defined in %s", lc.loaded, d->dir);
	*out = d;
	return 0;
}

int domains_autostart(struct domains *d)
{
	int started = 0;

	domains_lock(d);
	for (int i = 0; i < d->nr; i++) {
		struct domain *dom = d->dom[i];
		char err[DOMAINS_ERR_MAX];

		if (!dom->autostart || dom->vm)
			continue;
		if (start_locked(d, dom, err, sizeof(err))) {
			log_warn("daemon: autostart %s: %s", dom->def.cfg.name, err);
			dom->reason = DOMAIN_SHUTOFF_FAILED;
			continue;
		}
		started++;
	}
	domains_unlock(d);
	return started;
}

static void stop_locked(struct domain *dom, int kind)
{
	static const char *const why[] = {
		[DOMAIN_SHUTOFF_SHUTDOWN] = "shutdown",
		[DOMAIN_SHUTOFF_DESTROYED] = "destroyed",
		[DOMAIN_SHUTOFF_DAEMON] = "the daemon shut down",
	};

	dom->stop_kind = kind;
	vm_request_stop(dom->vm, kind == DOMAIN_SHUTOFF_SHUTDOWN ? 0 : -1, false, why[kind]);
}

void domains_stop_all(struct domains *d)
{
	domains_lock(d);
	domains_reap_locked(d);
	for (int i = 0; i < d->nr; i++)
		if (d->dom[i]->vm)
			stop_locked(d->dom[i], DOMAIN_SHUTOFF_DAEMON);
	/* every guest was asked first, so they park together; then each is
	 * waited for and its memory freed */
	for (int i = 0; i < d->nr; i++) {
		struct domain *dom = d->dom[i];

		if (!dom->vm)
			continue;
		stop_finish(d, dom);
		if (!dom->persistent) {
			domain_forget(d, dom);
			i--;
		}
	}
	domains_unlock(d);
}

void domains_close(struct domains *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->nr; i++) {
		if (d->dom[i]->vm) { /* domains_stop_all() was not called: stop it here */
			stop_locked(d->dom[i], DOMAIN_SHUTOFF_DAEMON);
			stop_finish(d, d->dom[i]);
		}
		free(d->dom[i]);
	}
	pthread_cond_destroy(&d->events_done);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int lookup(struct domain *dom, struct domain_info *out)
{
	if (dom)
		domain_fill_info(dom, out);
	return dom ? 0 : -ENOENT;
}

int domains_lookup_name(struct domains *d, const char *name, struct domain_info *out)
{
	int ret;

	domains_lock(d);
	domains_reap_locked(d);
	ret = lookup(domains_find(d, name), out);
	domains_unlock(d);
	return ret;
}

int domains_lookup_uuid(struct domains *d, const uint8_t uuid[16], struct domain_info *out)
{
	struct domain *dom = NULL;
	int ret;

	domains_lock(d);
	domains_reap_locked(d);
	for (int i = 0; i < d->nr && !dom; i++) {
		uint8_t raw[16];

		uuid_to_raw(d->dom[i]->def.uuid, raw);
		if (!memcmp(raw, uuid, 16))
			dom = d->dom[i];
	}
	ret = lookup(dom, out);
	domains_unlock(d);
	return ret;
}

int domains_lookup_id(struct domains *d, int id, struct domain_info *out)
{
	struct domain *dom = NULL;
	int ret;

	domains_lock(d);
	domains_reap_locked(d);
	for (int i = 0; i < d->nr && !dom; i++)
		if (d->dom[i]->vm && d->dom[i]->id == id)
			dom = d->dom[i];
	ret = lookup(dom, out);
	domains_unlock(d);
	return ret;
}

static int info_cmp(const void *a, const void *b)
{
	const struct domain_info *x = a, *y = b;

	if ((x->id >= 0) != (y->id >= 0))
		return x->id >= 0 ? -1 : 1;
	if (x->id >= 0)
		return x->id - y->id;
	return strcmp(x->name, y->name);
}

int domains_list(struct domains *d, struct domain_info *out, int max, int *total)
{
	struct domain_info *all;
	int n;

	domains_lock(d);
	domains_reap_locked(d);
	all = calloc((size_t)d->nr + 1, sizeof(*all));
	n = all ? d->nr : 0;
	for (int i = 0; i < n; i++)
		domain_fill_info(d->dom[i], &all[i]);
	domains_unlock(d);
	qsort(all, (size_t)n, sizeof(*all), info_cmp);
	if (total)
		*total = n;
	if (n > max)
		n = max;
	if (n > 0)
		memcpy(out, all, (size_t)n * sizeof(*out));
	free(all);
	return n;
}

/* A new definition from xml, its name and uuid claimed, with the registry
 * locked (the caller unlocks, and frees *def). */
static int def_begin(struct domains *d, const char *xml, size_t len, struct domain_def **def,
		     struct domain **existing, char *err, size_t errlen)
{
	int ret;

	*existing = NULL;
	*def = calloc(1, sizeof(**def));
	ret = *def ? def_parse(d, xml, len, *def, err, errlen) : -ENOMEM;
	domains_lock(d);
	domains_reap_locked(d);
	return ret ? ret : def_claim(d, *def, existing, err, errlen);
}

int domains_define_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen)
{
	struct domain_def *def;
	struct domain *dom;
	int ret = def_begin(d, xml, len, &def, &dom, err, errlen);

	if (!ret) {
		bool was_persistent = dom && dom->persistent;
		struct domain saved;

		if (!dom) {
			dom = domain_new(d, def, err, errlen);
			ret = dom ? 0 : -ENOSPC;
		} else {
			saved = *dom;
			dom->def = *def;
		}
		if (!ret) {
			dom->persistent = true;
			ret = domains_store_save(d->dir, dom, err, errlen);
			if (ret && was_persistent) {
				*dom = saved;
			} else if (ret && dom->vm) {
				dom->def = saved.def;
				dom->persistent = false;
			} else if (ret) {
				domain_forget(d, dom);
				dom = NULL;
			}
		}
		if (!ret) {
			domains_raise(d, dom, DOMAIN_EVENT_DEFINED,
				      was_persistent ? DOMAIN_EVENT_DEFINED_UPDATED : DOMAIN_EVENT_DEFINED_ADDED);
			log_info("%s: defined (%s)", dom->def.cfg.name, dom->def.uuid);
			if (out)
				domain_fill_info(dom, out);
		}
	}
	domains_unlock(d);
	free(def);
	return ret;
}

int domains_create_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen)
{
	struct domain_def *def;
	struct domain *dom;
	int ret = def_begin(d, xml, len, &def, &dom, err, errlen);

	if (!ret && dom) {
		snprintf(err, errlen, "domain '%s' is already defined: start it with `virsh start %s`",
			 def->cfg.name, def->cfg.name);
		ret = -EEXIST;
	}
	if (!ret) {
		dom = domain_new(d, def, err, errlen);
		ret = dom ? start_locked(d, dom, err, errlen) : -ENOSPC;
		if (ret && dom)
			domain_forget(d, dom);
		else if (out)
			domain_fill_info(dom, out);
	}
	domains_unlock(d);
	free(def);
	return ret;
}

struct domain *domains_lock_find(struct domains *d, const char *name, char *err, size_t errlen)
{
	struct domain *dom;

	domains_lock(d);
	domains_reap_locked(d);
	dom = domains_find(d, name);
	if (!dom)
		snprintf(err, errlen, "no domain with matching name '%s'", name);
	return dom;
}

int domains_undefine(struct domains *d, const char *name, char *err, size_t errlen)
{
	struct domain *dom;
	int ret = 0;

	dom = domains_lock_find(d, name, err, errlen);
	if (!dom) {
		ret = -ENOENT;
	} else if (!dom->persistent) {
		snprintf(err, errlen, "cannot undefine transient domain");
		ret = -EBUSY;
	} else {
		domains_store_remove(d->dir, name);
		dom->persistent = false;
		dom->autostart = false;
		domains_raise(d, dom, DOMAIN_EVENT_UNDEFINED, DOMAIN_EVENT_UNDEFINED_REMOVED);
		log_info("%s: undefined", name);
		if (!dom->vm)
			domain_forget(d, dom);
	}
	domains_unlock(d);
	return ret;
}

int domains_start(struct domains *d, const char *name, char *err, size_t errlen)
{
	struct domain *dom;
	int ret;

	dom = domains_lock_find(d, name, err, errlen);
	if (!dom) {
		ret = -ENOENT;
	} else if (dom->vm) {
		snprintf(err, errlen, "domain is already running");
		ret = -EBUSY;
	} else {
		ret = start_locked(d, dom, err, errlen);
		if (ret)
			dom->reason = DOMAIN_SHUTOFF_FAILED;
	}
	domains_unlock(d);
	return ret;
}

static int stop_one(struct domains *d, const char *name, int kind, char *err, size_t errlen)
{
	struct domain *dom;
	int ret = 0;

	dom = domains_lock_find(d, name, err, errlen);
	if (!dom) {
		ret = -ENOENT;
	} else if (!dom->vm) {
		snprintf(err, errlen, "domain is not running");
		ret = -EBUSY;
	} else {
		stop_locked(dom, kind);
		stop_finish(d, dom);
		if (!dom->persistent)
			domain_forget(d, dom);
	}
	domains_unlock(d);
	return ret;
}

int domains_shutdown(struct domains *d, const char *name, char *err, size_t errlen)
{
	return stop_one(d, name, DOMAIN_SHUTOFF_SHUTDOWN, err, errlen);
}

int domains_destroy(struct domains *d, const char *name, char *err, size_t errlen)
{
	return stop_one(d, name, DOMAIN_SHUTOFF_DESTROYED, err, errlen);
}

int domains_set_autostart(struct domains *d, const char *name, bool on, char *err, size_t errlen)
{
	struct domain *dom;
	int ret = 0;

	dom = domains_lock_find(d, name, err, errlen);
	if (!dom) {
		ret = -ENOENT;
	} else if (!dom->persistent) {
		snprintf(err, errlen, "cannot set autostart for transient domain");
		ret = -EBUSY;
	} else if (dom->autostart != on) {
		ret = domains_store_set_autostart(d->dir, name, on, err, errlen);
		if (!ret)
			dom->autostart = on;
	}
	domains_unlock(d);
	return ret;
}

int domains_get_autostart(struct domains *d, const char *name, bool *on, char *err, size_t errlen)
{
	struct domain *dom;

	dom = domains_lock_find(d, name, err, errlen);
	if (dom)
		*on = dom->autostart;
	domains_unlock(d);
	return dom ? 0 : -ENOENT;
}

int domains_affect(struct domain *dom, unsigned affect, bool *live, bool *config, char *err, size_t errlen)
{
	if (affect & ~(unsigned)(DOMAIN_AFFECT_LIVE | DOMAIN_AFFECT_CONFIG)) {
		snprintf(err, errlen, "unsupported flags (0x%x)", affect & ~3u);
		return -EINVAL;
	}
	*live = affect & DOMAIN_AFFECT_LIVE;
	*config = affect & DOMAIN_AFFECT_CONFIG;
	if (!affect) {
		*live = dom->vm != NULL;
		*config = !dom->vm;
	}
	if (*live && !dom->vm) {
		snprintf(err, errlen, "domain is not running");
		return -EBUSY;
	}
	if (*config && !dom->persistent) {
		snprintf(err, errlen, "transient domains do not have any persistent config");
		return -EBUSY;
	}
	return 0;
}

struct host *domains_host(struct domains *d)
{
	return d->host;
}

void domains_set_event_cb(struct domains *d, domains_event_fn fn, void *ctx)
{
	domains_lock(d);
	d->event_fn = fn;
	d->event_ctx = ctx;
	while (d->events_in_flight) /* the old callback may still be running */
		pthread_cond_wait(&d->events_done, &d->lock);
	domains_unlock(d);
}
