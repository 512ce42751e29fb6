/*
 * A fake domain registry (vmm/domains.h) for exercising the libvirt
 * remote procedures without a host: the fuzzer links it instead of
 * vmm/domains.c, and it can back a probe server for stock virsh. Domains
 * live in a small table; "XML" is only searched for <name>, <memory> (KiB)
 * and <vcpu>. Errors follow domains.h's errno contract. Not part of gmm.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"

#define FAKE_MAX 16

struct fake_dom {
	bool used;
	struct domain_info info;
	struct limits_config limits;
	char policy[32], nodes[64];
	int stats_period;
};

struct domains {
	pthread_mutex_t lock;
	struct fake_dom dom[FAKE_MAX];
	int next_id;
	domains_event_fn ev;
	void *ev_ctx;
};

static struct domains fake = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_id = 1 };

struct domains *fake_domains(void)
{
	return &fake;
}

/* Forget everything (between fuzz inputs). */
void fake_domains_reset(void)
{
	pthread_mutex_lock(&fake.lock);
	memset(fake.dom, 0, sizeof(fake.dom));
	fake.next_id = 1;
	pthread_mutex_unlock(&fake.lock);
}

static void event(struct domains *d, const struct domain_info *i, int ev, int detail)
{
	if (d->ev)
		d->ev(d->ev_ctx, i, ev, detail);
}

static struct fake_dom *by_name(struct domains *d, const char *name)
{
	for (int i = 0; i < FAKE_MAX; i++)
		if (d->dom[i].used && !strcmp(d->dom[i].info.name, name))
			return &d->dom[i];
	return NULL;
}

static int fail(char *err, size_t len, int ret, const char *what)
{
	if (err && len)
		snprintf(err, len, "%s", what);
	return ret;
}

/* Look up under the lock and copy out; -ENOENT. */
#define WITH_DOM(d, name, f, err, errlen)                                                                  \
	struct fake_dom *f;                                                                                 \
	pthread_mutex_lock(&(d)->lock);                                                                     \
	f = by_name(d, name);                                                                               \
	if (!f) {                                                                                           \
		pthread_mutex_unlock(&(d)->lock);                                                           \
		return fail(err, errlen, -ENOENT, "no domain with matching name");                          \
	}

int domains_lookup_name(struct domains *d, const char *name, struct domain_info *out)
{
	WITH_DOM(d, name, f, NULL, 0);
	*out = f->info;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_lookup_uuid(struct domains *d, const uint8_t uuid[16], struct domain_info *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < FAKE_MAX; i++)
		if (d->dom[i].used && !memcmp(d->dom[i].info.uuid_raw, uuid, 16)) {
			*out = d->dom[i].info;
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int domains_lookup_id(struct domains *d, int id, struct domain_info *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < FAKE_MAX; i++)
		if (d->dom[i].used && id >= 0 && d->dom[i].info.id == id) {
			*out = d->dom[i].info;
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int domains_list(struct domains *d, struct domain_info *out, int max, int *total)
{
	int n = 0, t = 0;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < FAKE_MAX; i++)
		if (d->dom[i].used) {
			if (n < max)
				out[n++] = d->dom[i].info;
			t++;
		}
	pthread_mutex_unlock(&d->lock);
	*total = t;
	return n;
}

/* The text between <tag ...> and </tag>, into buf. */
static bool xml_elem(const char *xml, size_t len, const char *tag, char *buf, size_t buflen)
{
	char open[32], close[32];
	const char *a = xml, *b, *end = xml + len;

	snprintf(open, sizeof(open), "<%s", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	for (;;) {
		a = memmem(a, (size_t)(end - a), open, strlen(open));
		if (!a)
			return false;
		a += strlen(open);
		if (a < end && (*a == '>' || *a == ' '))
			break;
	}
	a = memchr(a, '>', (size_t)(end - a));
	if (!a)
		return false;
	a++;
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b || (size_t)(b - a) >= buflen)
		return false;
	memcpy(buf, a, (size_t)(b - a));
	buf[b - a] = 0;
	return true;
}

static int parse(const char *xml, size_t len, struct domain_info *i, char *err, size_t errlen)
{
	char v[64];

	memset(i, 0, sizeof(*i));
	if (!xml_elem(xml, len, "name", i->name, sizeof(i->name)) || !i->name[0] ||
	    strspn(i->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(i->name))
		return fail(err, errlen, -EBADMSG, "<name>: missing or not a gmm guest name");
	i->max_mem_bytes = 128 << 20;
	if (xml_elem(xml, len, "memory", v, sizeof(v)))
		i->max_mem_bytes = strtoull(v, NULL, 10) << 10;
	if (!i->max_mem_bytes || i->max_mem_bytes > (64ULL << 30))
		return fail(err, errlen, -EBADMSG, "<memory>: out of range");
	i->vcpus = 1;
	if (xml_elem(xml, len, "vcpu", v, sizeof(v)))
		i->vcpus = atoi(v);
	if (i->vcpus < 1 || i->vcpus > 64)
		return fail(err, errlen, -EBADMSG, "<vcpu>: out of range");
	i->cur_mem_bytes = i->max_mem_bytes;
	/* a uuid from the name: stable across redefinitions */
	for (size_t k = 0; k < strlen(i->name); k++)
		i->uuid_raw[k % 16] = (uint8_t)(i->uuid_raw[k % 16] * 31 + (uint8_t)i->name[k]);
	i->uuid_raw[15] ^= 0x5a;
	i->id = -1;
	i->state = DOMAIN_SHUTOFF;
	i->persistent = true;
	i->exit_code = -1;
	return 0;
}

static int define(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		  size_t errlen, bool start)
{
	struct domain_info i;
	struct fake_dom *f;
	int ret = parse(xml, len, &i, err, errlen);

	if (ret)
		return ret;
	pthread_mutex_lock(&d->lock);
	f = by_name(d, i.name);
	for (int k = 0; !f && k < FAKE_MAX; k++)
		if (!d->dom[k].used)
			f = &d->dom[k];
	if (!f || (start && f->used)) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, f ? -EEXIST : -ENOSPC, f ? "domain exists" : "too many domains");
	}
	if (!f->used) {
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->limits = (struct limits_config){ LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET };
		snprintf(f->policy, sizeof(f->policy), "default");
		f->info = i;
	} else {
		i.id = f->info.id;
		i.state = f->info.state;
		i.autostart = f->info.autostart;
		f->info = i;
	}
	if (start) {
		f->info.persistent = false;
		f->info.state = DOMAIN_RUNNING;
		f->info.id = d->next_id++;
	}
	*out = f->info;
	pthread_mutex_unlock(&d->lock);
	event(d, out, start ? 2 : 0, 0);
	return 0;
}

int domains_define_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen)
{
	return define(d, xml, len, out, err, errlen, false);
}

int domains_create_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen)
{
	return define(d, xml, len, out, err, errlen, true);
}

int domains_undefine(struct domains *d, const char *name, char *err, size_t errlen)
{
	struct domain_info i;

	WITH_DOM(d, name, f, err, errlen);
	if (f->info.state == DOMAIN_RUNNING)
		f->info.persistent = false;
	else
		f->used = false;
	i = f->info;
	pthread_mutex_unlock(&d->lock);
	event(d, &i, 1, 0);
	return 0;
}

static int set_running(struct domains *d, const char *name, bool run, int reason, char *err, size_t errlen)
{
	struct domain_info i;

	WITH_DOM(d, name, f, err, errlen);
	if ((f->info.state == DOMAIN_RUNNING) == run) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EBUSY, run ? "domain is already running" : "domain is not running");
	}
	f->info.state = run ? DOMAIN_RUNNING : DOMAIN_SHUTOFF;
	f->info.reason = reason;
	f->info.id = run ? d->next_id++ : -1;
	f->info.cur_mem_bytes = f->info.max_mem_bytes;
	i = f->info;
	if (!run && !f->info.persistent)
		f->used = false;
	pthread_mutex_unlock(&d->lock);
	event(d, &i, run ? 2 : 5, reason);
	return 0;
}

int domains_start(struct domains *d, const char *name, char *err, size_t errlen)
{
	return set_running(d, name, true, DOMAIN_RUNNING_BOOTED, err, errlen);
}

int domains_shutdown(struct domains *d, const char *name, char *err, size_t errlen)
{
	return set_running(d, name, false, DOMAIN_SHUTOFF_SHUTDOWN, err, errlen);
}

int domains_destroy(struct domains *d, const char *name, char *err, size_t errlen)
{
	return set_running(d, name, false, DOMAIN_SHUTOFF_DESTROYED, err, errlen);
}

int domains_set_autostart(struct domains *d, const char *name, bool on, char *err, size_t errlen)
{
	WITH_DOM(d, name, f, err, errlen);
	f->info.autostart = on;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_get_autostart(struct domains *d, const char *name, bool *on, char *err, size_t errlen)
{
	WITH_DOM(d, name, f, err, errlen);
	*on = f->info.autostart;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

char *domains_xml(struct domains *d, const char *name, bool inactive, char *err, size_t errlen)
{
	char *xml = NULL;
	int n;

	pthread_mutex_lock(&d->lock);
	struct fake_dom *f = by_name(d, name);

	if (f)
		n = asprintf(&xml, "<domain type='gmm'%s>\n  <name>%s</name>\n  <memory unit='KiB'>%llu</memory>\n"
			     "  <vcpu>%d</vcpu>\n</domain>\n",
			     inactive || f->info.id < 0 ? "" : " id='1'", f->info.name,
			     (unsigned long long)(f->info.max_mem_bytes >> 10), f->info.vcpus);
	pthread_mutex_unlock(&d->lock);
	if (!f)
		fail(err, errlen, -ENOENT, "no domain with matching name");
	else if (n < 0)
		xml = NULL;
	return xml;
}

int domains_set_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
		       size_t errlen)
{
	(void)affect;
	WITH_DOM(d, name, f, err, errlen);
	if (bytes > f->info.max_mem_bytes) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EINVAL, "memory above the guest's RAM");
	}
	f->info.cur_mem_bytes = bytes;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_set_max_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
			   size_t errlen)
{
	WITH_DOM(d, name, f, err, errlen);
	if (affect & DOMAIN_AFFECT_LIVE || (!affect && f->info.state == DOMAIN_RUNNING)) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EOPNOTSUPP, "gmm cannot change a running guest's RAM");
	}
	if (!bytes) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EINVAL, "memory 0");
	}
	f->info.max_mem_bytes = bytes;
	if (f->info.cur_mem_bytes > bytes)
		f->info.cur_mem_bytes = bytes;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_memory_stats(struct domains *d, const char *name, struct domain_mem_stats *out, char *err,
			 size_t errlen)
{
	WITH_DOM(d, name, f, err, errlen);
	if (f->info.state != DOMAIN_RUNNING) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EBUSY, "domain is not running");
	}
	memset(out, 0, sizeof(*out));
	out->ram_bytes = f->info.max_mem_bytes;
	out->actual_bytes = f->info.cur_mem_bytes;
	out->rss_bytes = f->info.cur_mem_bytes / 2;
	out->has_balloon = true;
	out->guest_valid[4] = out->guest_valid[5] = true;
	out->guest[4] = f->info.cur_mem_bytes / 4;
	out->guest[5] = f->info.cur_mem_bytes;
	out->guest_stats_age_s = 1;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_set_stats_period(struct domains *d, const char *name, int seconds, unsigned affect, char *err,
			     size_t errlen)
{
	(void)affect;
	WITH_DOM(d, name, f, err, errlen);
	f->stats_period = seconds;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_get_limits(struct domains *d, const char *name, unsigned affect, struct limits_config *out,
		       char *err, size_t errlen)
{
	(void)affect;
	WITH_DOM(d, name, f, err, errlen);
	*out = f->limits;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void keep(uint64_t *dst, uint64_t v)
{
	if (v != LIMIT_KEEP)
		*dst = v;
}

int domains_set_limits(struct domains *d, const char *name, const struct limits_config *set, unsigned affect,
		       char *err, size_t errlen)
{
	(void)affect;
	WITH_DOM(d, name, f, err, errlen);
	keep(&f->limits.max, set->max);
	keep(&f->limits.high, set->high);
	keep(&f->limits.low, set->low);
	keep(&f->limits.min, set->min);
	keep(&f->limits.swap_max, set->swap_max);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_get_numa(struct domains *d, const char *name, unsigned affect, char *policy, size_t policy_len,
		     char *nodes, size_t nodes_len, char *err, size_t errlen)
{
	(void)affect;
	WITH_DOM(d, name, f, err, errlen);
	snprintf(policy, policy_len, "%s", f->policy);
	snprintf(nodes, nodes_len, "%s", f->nodes);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int domains_set_numa(struct domains *d, const char *name, const char *policy, const char *nodes,
		     unsigned affect, char *err, size_t errlen)
{
	WITH_DOM(d, name, f, err, errlen);
	if (affect & DOMAIN_AFFECT_LIVE || (!affect && f->info.state == DOMAIN_RUNNING)) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EOPNOTSUPP, "gmm binds a guest's NUMA policy at start");
	}
	if (strlen(nodes) >= sizeof(f->nodes) || strspn(nodes, "0123456789,-") != strlen(nodes)) {
		pthread_mutex_unlock(&d->lock);
		return fail(err, errlen, -EINVAL, "bad nodeset");
	}
	snprintf(f->policy, sizeof(f->policy), "%s", policy);
	snprintf(f->nodes, sizeof(f->nodes), "%s", nodes);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void domains_set_event_cb(struct domains *d, domains_event_fn fn, void *ctx)
{
	pthread_mutex_lock(&d->lock);
	d->ev = fn;
	d->ev_ctx = ctx;
	pthread_mutex_unlock(&d->lock);
}

/* Two emulated nodes of 1 GiB, 4 CPUs. */
int remote_node_info_read(struct domains *d, struct remote_node_info *out)
{
	(void)d;
	memset(out, 0, sizeof(*out));
	out->nr_cpus = 4;
	out->mhz = 2000;
	out->nr_nodes = 2;
	for (int i = 0; i < 2; i++) {
		out->node_total_bytes[i] = 1ULL << 30;
		out->node_free_bytes[i] = 768ULL << 20;
		out->total_bytes += out->node_total_bytes[i];
		out->free_bytes += out->node_free_bytes[i];
		for (int j = 0; j < 2; j++)
			out->distance[i][j] = i == j ? 10 : 20;
	}
	return 0;
}
