/* See domain_xml.h: XML -> domain_def. dumpxml is domain_xml_format.c; the
 * mapping is documented in docs/libvirt-xml.md. */
#include "vmm/libvirt/domain_xml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vmm/config.h"

/* libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: "no limit" in <memtune> */
#define MEMTUNE_UNLIMITED_KIB 9007199254740991ULL
#define ELPATH_MAX 160

/*
 * Every element gmm knows, by its path below <domain>. EL_ONE may appear
 * once, EL_MULTI several times; EL_IGNORE is accepted and its whole subtree
 * skipped (the accept-and-ignore list of docs/libvirt-xml.md: keep the two
 * in step). Anything else is refused with its path.
 */
enum el_kind { EL_ONE, EL_MULTI, EL_IGNORE };

static const struct el_rule {
	const char *path;
	enum el_kind kind;
} el_rules[] = {
	{ "name", EL_ONE },
	{ "uuid", EL_ONE },
	{ "memory", EL_ONE },
	{ "currentMemory", EL_ONE },
	{ "vcpu", EL_ONE },
	{ "os", EL_ONE },
	{ "os/type", EL_ONE },
	{ "os/kernel", EL_ONE },
	{ "os/initrd", EL_ONE },
	{ "os/cmdline", EL_ONE },
	{ "memoryBacking", EL_ONE },
	{ "memoryBacking/hugepages", EL_ONE },
	{ "memoryBacking/hugepages/page", EL_ONE },
	{ "memoryBacking/source", EL_ONE },
	{ "memoryBacking/access", EL_ONE },
	{ "memoryBacking/allocation", EL_ONE },
	{ "memtune", EL_ONE },
	{ "memtune/hard_limit", EL_ONE },
	{ "memtune/soft_limit", EL_ONE },
	{ "memtune/min_guarantee", EL_ONE },
	{ "memtune/swap_hard_limit", EL_ONE },
	{ "numatune", EL_ONE },
	{ "numatune/memory", EL_ONE },
	{ "numatune/memnode", EL_MULTI },
	{ "cpu", EL_ONE },
	{ "cpu/numa", EL_ONE },
	{ "cpu/numa/cell", EL_MULTI },
	{ "devices", EL_ONE },
	{ "devices/memballoon", EL_ONE },
	{ "devices/memballoon/stats", EL_ONE },
	{ "devices/serial", EL_ONE },
	{ "devices/serial/source", EL_ONE },
	{ "devices/serial/target", EL_IGNORE },
	{ "devices/console", EL_ONE },
	{ "devices/console/source", EL_ONE },
	{ "devices/console/target", EL_IGNORE },
	{ "features", EL_ONE },
	/* accepted and ignored */
	{ "title", EL_IGNORE },
	{ "description", EL_IGNORE },
	{ "metadata", EL_IGNORE },
	{ "on_poweroff", EL_IGNORE },      /* gmm: the guest stops (destroy) */
	{ "on_reboot", EL_IGNORE },
	{ "on_crash", EL_IGNORE },
	{ "clock", EL_IGNORE },            /* gmm's TSC and RTC are fixed */
	{ "pm", EL_IGNORE },
	{ "features/acpi", EL_IGNORE },    /* gmm always gives Linux ACPI tables */
	{ "features/apic", EL_IGNORE },
	{ "features/pae", EL_IGNORE },
	{ "memoryBacking/nosharepages", EL_IGNORE }, /* gmm never merges guest pages */
	{ "devices/emulator", EL_IGNORE },
	{ "devices/memballoon/address", EL_IGNORE },
	{ "devices/memballoon/alias", EL_IGNORE },
	{ "devices/serial/alias", EL_IGNORE },
	{ "devices/console/alias", EL_IGNORE },
};

/* One parse: where errors go. */
struct px {
	char *err;
	size_t errlen;
	struct domain_def *def;
};

static int fail(struct px *p, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct px *p, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* "<devices><serial>": the element's path below <domain>, for errors. */
static const char *where(const xmlNode *n, char *buf)
{
	char tmp[ELPATH_MAX];

	buf[0] = 0;
	for (; n && n->parent && n->parent->type == XML_ELEMENT_NODE; n = n->parent) {
		snprintf(tmp, sizeof(tmp), "<%s>%s", (const char *)n->name, buf);
		snprintf(buf, ELPATH_MAX, "%s", tmp);
	}
	return buf;
}

static const struct el_rule *rule_find(const char *path)
{
	for (size_t i = 0; i < sizeof(el_rules) / sizeof(el_rules[0]); i++)
		if (!strcmp(el_rules[i].path, path))
			return &el_rules[i];
	return NULL;
}

static bool is_el(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE;
}

/* Every element below n is in el_rules, EL_ONE ones once; text only in leaves. */
static int check_tree(struct px *p, const xmlNode *n, const char *path)
{
	char sub[ELPATH_MAX], w[ELPATH_MAX];

	for (const xmlNode *c = n->children; c; c = c->next) {
		const struct el_rule *r;

		if (!is_el(c))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "/" : "", (const char *)c->name);
		r = c->ns ? NULL : rule_find(sub);
		if (!r)
			return fail(p, -EINVAL, "%s: not supported by gmm", where(c, w));
		if (r->kind == EL_IGNORE)
			continue;
		for (const xmlNode *s = n->children; r->kind == EL_ONE && s != c; s = s->next)
			if (is_el(s) && !strcmp((const char *)s->name, (const char *)c->name))
				return fail(p, -EINVAL, "%s: given more than once", where(c, w));
		if (check_tree(p, c, sub))
			return -EINVAL;
	}
	return 0;
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is_el(c) && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* An attribute's value, or NULL; the caller xmlFree()s it. */
static char *attr(const xmlNode *n, const char *name)
{
	return (char *)xmlGetNoNsProp(n, (const xmlChar *)name);
}

static char *text(const xmlNode *n)
{
	return (char *)xmlNodeGetContent(n);
}

/* A decimal number with optional blanks around it, no sign. */
static int u64_parse(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s)
		return -1;
	*v = x;
	return 0;
}

/* libvirt's scaled integer units (virScaleInteger): b/bytes; k, KiB: 1024;
 * KB: 1000; and so on to E. NULL or empty: KiB. 0 if unknown. */
static uint64_t unit_scale(const char *u)
{
	static const char letters[] = "bkmgtpe";
	const char *l;
	uint64_t base, scale = 1;

	if (!u || !*u)
		return 1024;
	if (!strcasecmp(u, "b") || !strcasecmp(u, "bytes"))
		return 1;
	l = strchr(letters, tolower((unsigned char)u[0]));
	if (!l || l == letters)
		return 0;
	if (!u[1] || !strcasecmp(u + 1, "iB"))
		base = 1024;
	else if (!strcasecmp(u + 1, "B"))
		base = 1000;
	else
		return 0;
	for (long i = 0; i < l - letters; i++)
		scale *= base;
	return scale;
}

/* value (text) in unit -> bytes, rounded up to whole KiB as libvirt does. */
static int scaled_parse(struct px *p, const xmlNode *n, const char *value, const char *unit, uint64_t *bytes)
{
	uint64_t v, scale = unit_scale(unit);
	char w[ELPATH_MAX];

	if (!scale)
		return fail(p, -EINVAL, "%s: unit '%s' must be one of b, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)",
			    where(n, w), unit);
	if (u64_parse(value, &v))
		return fail(p, -EINVAL, "%s: '%s' is not a whole number", where(n, w), value ? value : "");
	if (v > (UINT64_MAX - 1023) / scale)
		return fail(p, -EINVAL, "%s: %s %s is too large", where(n, w), value, unit ? unit : "KiB");
	*bytes = (v * scale + 1023) & ~1023ULL;
	return 0;
}

/* An element like <memory unit='MiB'>512</memory>. */
static int scaled_elem(struct px *p, const xmlNode *n, uint64_t *bytes)
{
	char *t = text(n), *u = attr(n, "unit");
	int ret = scaled_parse(p, n, t, u, bytes);

	xmlFree(t);
	xmlFree(u);
	return ret;
}

/*
 * A libvirt bitmap ("0-3,^2,5") into a mask of numbers below 64, in order:
 * a ^ clears what came before it. Returns NULL or what is wrong.
 */
static const char *set_parse(const char *s, uint64_t *maskp)
{
	uint64_t mask = 0;

	while (*s) {
		bool neg = false;
		char *end;
		long a, b;

		while (isspace((unsigned char)*s))
			s++;
		if (*s == '^') {
			neg = true;
			s++;
		}
		if (!isdigit((unsigned char)*s))
			return "expected a number";
		a = b = strtol(s, &end, 10);
		if (*end == '-' && !neg) {
			s = end + 1;
			if (!isdigit((unsigned char)*s))
				return "expected a number after '-'";
			b = strtol(s, &end, 10);
			if (b < a)
				return "a range must go up";
		}
		if (b > 63)
			return "numbers go up to 63";
		for (long i = a; i <= b; i++)
			mask = neg ? mask & ~(1ULL << i) : mask | (1ULL << i);
		for (s = end; isspace((unsigned char)*s); s++)
			;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return "expected ',' between items";
	}
	if (!mask)
		return "the set is empty";
	*maskp = mask;
	return NULL;
}

/* mask -> "0-1,3", the form gmm's config takes. */
static void set_format(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < 64 && off < len; i++) {
		int j = i;

		if (!((mask >> i) & 1))
			continue;
		while (j < 63 && ((mask >> (j + 1)) & 1))
			j++;
		if (j > i)
			off += (size_t)snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "", i, j);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? "," : "", i);
		i = j;
	}
}

/* The set in attribute name of n, canonical, into buf; required or not. */
static int set_attr(struct px *p, const xmlNode *n, const char *name, bool required, char *buf, size_t len,
		    uint64_t *maskp)
{
	char *v = attr(n, name), w[ELPATH_MAX];
	const char *why;
	uint64_t mask = 0;
	int ret = 0;

	if (!v) {
		if (required)
			return fail(p, -EINVAL, "%s: %s= is required", where(n, w), name);
		buf[0] = 0;
		if (maskp)
			*maskp = 0;
		return 0;
	}
	why = set_parse(v, &mask);
	if (why)
		ret = fail(p, -EINVAL, "%s %s='%s': %s (use a list like '0-1,3')", where(n, w), name, v, why);
	else
		set_format(mask, buf, len);
	if (!ret && maskp)
		*maskp = mask;
	xmlFree(v);
	return ret;
}

static bool hexstr(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" or 32 hex digits -> canonical lowercase. */
static int uuid_parse(const char *s, char *out)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	char hex[33];
	int k = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (strlen(s) >= 32 && hexstr(s, 32)) {
		memcpy(hex, s, 32);
		s += 32;
	} else {
		for (int g = 0; g < 5; g++) {
			if (!hexstr(s, groups[g]) || (g < 4 && s[groups[g]] != '-'))
				return -1;
			memcpy(hex + k, s, (size_t)groups[g]);
			k += groups[g];
			s += groups[g] + (g < 4);
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s)
		return -1;
	for (int i = 0; i < 32; i++)
		hex[i] = (char)tolower((unsigned char)hex[i]);
	snprintf(out, DOMAIN_UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

/* A random (version 4) UUID, as libvirt makes one for a domain without. */
static int uuid_generate(char *out)
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, DOMAIN_UUID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

/* The text of element n into buf, which must hold it. */
static int text_copy(struct px *p, const xmlNode *n, char *buf, size_t len, bool nonempty)
{
	char *t = text(n), w[ELPATH_MAX];
	int ret = 0;

	if (!t)
		return fail(p, -ENOMEM, "%s: out of memory", where(n, w));
	if (strlen(t) >= len)
		ret = fail(p, -EINVAL, "%s: longer than gmm's %zu characters", where(n, w), len - 1);
	else if (nonempty && !t[0])
		ret = fail(p, -EINVAL, "%s: empty", where(n, w));
	else
		strcpy(buf, t);
	xmlFree(t);
	return ret;
}

/* Attribute name of n is absent or one of the '|'-separated values. */
static int attr_check(struct px *p, const xmlNode *n, const char *name, const char *allowed, const char *why)
{
	char *v = attr(n, name), w[ELPATH_MAX], pat[64], *tok, *save;
	bool ok = !v;

	snprintf(pat, sizeof(pat), "%s", allowed);
	for (tok = strtok_r(pat, "|", &save); v && tok && !ok; tok = strtok_r(NULL, "|", &save))
		ok = !strcmp(tok, v);
	if (!ok)
		fail(p, -EINVAL, "%s %s='%s': %s", where(n, w), name, v, why);
	xmlFree(v);
	return ok ? 0 : -EINVAL;
}

/* <domain type='gmm'>: the root and its type. */
static int domain_check(struct px *p, const xmlNode *root)
{
	char *type;
	int ret = 0;

	if (!root || strcmp((const char *)root->name, "domain") || root->ns)
		return fail(p, -EINVAL, "the document's root must be <domain>, not <%s>",
			    root ? (const char *)root->name : "");
	type = attr(root, "type");
	if (!type)
		ret = fail(p, -EINVAL, "<domain>: type='" DOMAIN_XML_TYPE "' is required");
	else if (!strcmp(type, "kvm") || !strcmp(type, "qemu"))
		ret = fail(p, -EINVAL, "<domain type='%s'>: this is gmm's driver: use type='" DOMAIN_XML_TYPE "'", type);
	else if (strcmp(type, DOMAIN_XML_TYPE))
		ret = fail(p, -EINVAL, "<domain type='%s'>: must be type='" DOMAIN_XML_TYPE "'", type);
	xmlFree(type);
	return ret;
}

/* <name>, <uuid>, <memory>, <currentMemory>, <vcpu>. */
static int parse_basics(struct px *p, const xmlNode *root)
{
	struct domain_def *d = p->def;
	xmlNode *n;
	char w[ELPATH_MAX], *t;
	uint64_t v;
	int ret;

	if (!(n = child(root, "name")))
		return fail(p, -EINVAL, "<name>: missing");
	if (text_copy(p, n, d->cfg.name, sizeof(d->cfg.name), true))
		return -EINVAL;
	if (!config_name_ok(d->cfg.name))
		return fail(p, -EINVAL, "<name>: '%s': use letters, digits, '-', '_' and '.'", d->cfg.name);
	if ((n = child(root, "uuid"))) {
		t = text(n);
		ret = t && !uuid_parse(t, d->uuid) ? 0 :
			fail(p, -EINVAL, "<uuid>: '%s' is not a UUID (like 4dea22b3-1d52-d8f3-2516-782e98ab3fa0)",
			     t ? t : "");
		xmlFree(t);
		if (ret)
			return ret;
	} else {
		if (uuid_generate(d->uuid))
			return fail(p, -EIO, "<uuid>: missing, and /dev/urandom gave no bytes for one");
		d->uuid_generated = 1;
	}
	if (!(n = child(root, "memory")))
		return fail(p, -EINVAL, "<memory>: missing");
	if (scaled_elem(p, n, &d->cfg.mem_bytes))
		return -EINVAL;
	d->current_memory_kib = d->cfg.mem_bytes >> 10;
	if ((n = child(root, "currentMemory"))) {
		if (scaled_elem(p, n, &v))
			return -EINVAL;
		if (v > d->cfg.mem_bytes)
			return fail(p, -EINVAL, "<currentMemory>: more than <memory>");
		d->current_memory_kib = v >> 10;
	}
	if ((n = child(root, "vcpu"))) {
		if (attr_check(p, n, "placement", "static", "gmm places vCPUs itself (static)") ||
		    attr_check(p, n, "cpuset", "", "vCPU pinning is not supported by gmm"))
			return -EINVAL;
		t = text(n);
		ret = u64_parse(t, &v) || v < 1 || v > GMM_MAX_VCPUS ?
			fail(p, -EINVAL, "%s: '%s' must be 1 to %d", where(n, w), t ? t : "", GMM_MAX_VCPUS) : 0;
		xmlFree(t);
		if (ret)
			return ret;
		d->cfg.vcpus = (int)v;
		t = attr(n, "current");
		ret = t && (u64_parse(t, &v) || v != (uint64_t)d->cfg.vcpus) ?
			fail(p, -EINVAL, "<vcpu current='%s'>: gmm has no vCPU hotplug (current = the count)", t) : 0;
		xmlFree(t);
	}
	return ret;
}

/* <os>: <type>hvm</type>, <kernel>, <initrd>, <cmdline>. */
static int parse_os(struct px *p, const xmlNode *root)
{
	struct vm_config *c = &p->def->cfg;
	xmlNode *os = child(root, "os"), *n;
	char *t;
	int ret;

	if (!os || !(n = child(os, "type")))
		return fail(p, -EINVAL, "<os><type>: missing (gmm runs <type>hvm</type> guests)");
	if (attr_check(p, n, "arch", "x86_64", "gmm runs x86_64 guests"))
		return -EINVAL;
	t = text(n);
	ret = t && !strcmp(t, "hvm") ? 0 : fail(p, -EINVAL, "<os><type>: '%s' must be hvm", t ? t : "");
	xmlFree(t);
	if (ret)
		return ret;
	if ((n = child(os, "kernel")) && text_copy(p, n, c->kernel, sizeof(c->kernel), true))
		return -EINVAL;
	if ((n = child(os, "initrd")) && text_copy(p, n, c->initrd, sizeof(c->initrd), true))
		return -EINVAL;
	if ((n = child(os, "cmdline")) && text_copy(p, n, c->cmdline, sizeof(c->cmdline), false))
		return -EINVAL;
	return 0;
}

/* <memoryBacking>: hugepages -> hugepages, source -> backend,
 * allocation -> prefault; access must be private. */
static int parse_backing(struct px *p, const xmlNode *root)
{
	struct vm_config *c = &p->def->cfg;
	xmlNode *mb = child(root, "memoryBacking"), *n;
	char *v;
	int ret = 0;

	if (!mb)
		return 0;
	if ((n = child(mb, "hugepages"))) {
		xmlNode *pg = child(n, "page");
		uint64_t size = 2ULL << 20;       /* no <page>: the default huge page size */

		if (pg) {
			char *sz = attr(pg, "size"), *u = attr(pg, "unit");

			if (attr_check(p, pg, "nodeset", "", "per-node huge page sizes are not supported by gmm"))
				ret = -EINVAL;
			else if (!sz)
				ret = fail(p, -EINVAL, "<memoryBacking><hugepages><page>: size= is required");
			else
				ret = scaled_parse(p, pg, sz, u, &size);
			xmlFree(sz);
			xmlFree(u);
			if (ret)
				return ret;
		}
		if (size != (2ULL << 20) && size != (1ULL << 30))
			return fail(p, -EINVAL, "<memoryBacking><hugepages><page>: %llu KiB: gmm has 2048 KiB "
				    "and 1048576 KiB pages", (unsigned long long)(size >> 10));
		strcpy(c->hugepages, size == (2ULL << 20) ? "2M" : "1G");
	}
	if ((n = child(mb, "source"))) {
		if (attr_check(p, n, "type", "memfd|anonymous",
			       "gmm has memfd (its pool) and anonymous memory"))
			return -EINVAL;
		v = attr(n, "type");
		strcpy(c->backend, v && !strcmp(v, "anonymous") ? "anon" : "pool");
		xmlFree(v);
	}
	if ((n = child(mb, "access")) &&
	    attr_check(p, n, "mode", "private", "gmm does not share guest memory with other processes"))
		return -EINVAL;
	if ((n = child(mb, "allocation"))) {
		if (attr_check(p, n, "mode", "immediate|ondemand", "must be immediate or ondemand"))
			return -EINVAL;
		v = attr(n, "mode");
		c->prefault = v && !strcmp(v, "immediate");
		xmlFree(v);
	}
	return 0;
}

/* <memtune> -> limits: hard_limit max, soft_limit high, min_guarantee min;
 * swap_hard_limit is memory plus swap, so swap_max = it - hard_limit. */
static int parse_memtune(struct px *p, const xmlNode *root)
{
	static const struct { const char *el; size_t off; } map[] = {
		{ "hard_limit", offsetof(struct limits_config, max) },
		{ "soft_limit", offsetof(struct limits_config, high) },
		{ "min_guarantee", offsetof(struct limits_config, min) },
		{ "swap_hard_limit", offsetof(struct limits_config, swap_max) },
	};
	struct limits_config *l = &p->def->cfg.limits;
	xmlNode *mt = child(root, "memtune");

	for (size_t i = 0; mt && i < sizeof(map) / sizeof(map[0]); i++) {
		xmlNode *n = child(mt, map[i].el);
		uint64_t v;

		if (!n)
			continue;
		if (scaled_elem(p, n, &v))
			return -EINVAL;
		*(uint64_t *)((char *)l + map[i].off) = (v >> 10) >= MEMTUNE_UNLIMITED_KIB ? LIMIT_UNSET : v;
	}
	if (l->swap_max == LIMIT_UNSET)
		return 0;
	if (l->max == LIMIT_UNSET)
		return fail(p, -EINVAL, "<memtune><swap_hard_limit>: needs <hard_limit> (it limits memory plus swap)");
	if (l->swap_max < l->max)
		return fail(p, -EINVAL, "<memtune><swap_hard_limit>: less than <hard_limit> (it limits memory "
			    "plus swap)");
	l->swap_max -= l->max;
	return 0;
}

/* <cpu><numa><cell id= cpus= memory= unit=>: numa.cells, in id order. */
static int parse_cells(struct px *p, const xmlNode *root)
{
	struct numa_guest_config *nu = &p->def->cfg.numa;
	xmlNode *numa = child(child(root, "cpu"), "numa");
	char w[ELPATH_MAX];

	for (xmlNode *n = numa ? numa->children : NULL; n; n = n->next) {
		struct numa_cell_config *cell;
		char *id, *mem, *unit;
		uint64_t v;
		int ret;

		if (!is_el(n))
			continue;
		if (nu->nr_cells == STAGE2_MAX_CELLS)
			return fail(p, -EINVAL, "%s: gmm has at most %d cells", where(n, w), STAGE2_MAX_CELLS);
		cell = &nu->cells[nu->nr_cells];
		id = attr(n, "id");
		ret = u64_parse(id, &v) || v != (uint64_t)nu->nr_cells ?
			fail(p, -EINVAL, "%s id='%s': cells are numbered 0, 1, ... in order", where(n, w),
			     id ? id : "") : 0;
		xmlFree(id);
		if (ret || attr_check(p, n, "memAccess", "", "not supported by gmm") ||
		    attr_check(p, n, "discard", "", "not supported by gmm") ||
		    set_attr(p, n, "cpus", false, cell->cpus, sizeof(cell->cpus), NULL))
			return -EINVAL;
		mem = attr(n, "memory");
		unit = attr(n, "unit");
		ret = mem ? scaled_parse(p, n, mem, unit, &cell->mem_bytes) :
			fail(p, -EINVAL, "%s: memory= is required", where(n, w));
		xmlFree(mem);
		xmlFree(unit);
		if (ret)
			return ret;
		cell->node = nu->nr_cells;   /* unless a <memnode> says otherwise */
		nu->nr_cells++;
	}
	return 0;
}

/* numatune's mode -> gmm's policy: restrictive is bind too (gmm has no
 * cpuset.mems, only the policy); preferred of several nodes is
 * preferred-many. */
static int mode_map(struct px *p, const xmlNode *n, uint64_t mask, char *policy, size_t len)
{
	char *m = attr(n, "mode"), w[ELPATH_MAX];
	int ret = 0;

	if (!m || !strcmp(m, "strict") || !strcmp(m, "restrictive"))
		snprintf(policy, len, "bind");
	else if (!strcmp(m, "preferred"))
		snprintf(policy, len, "%s", __builtin_popcountll(mask) > 1 ? "preferred-many" : "preferred");
	else if (!strcmp(m, "interleave"))
		snprintf(policy, len, "interleave");
	else
		ret = fail(p, -EINVAL, "%s mode='%s': must be strict, restrictive, preferred or interleave",
			   where(n, w), m);
	xmlFree(m);
	return ret;
}

/* <numatune>: <memory> is the guest's policy; with cells each <memnode>
 * binds one cell to one node. */
static int parse_numatune(struct px *p, const xmlNode *root)
{
	struct numa_guest_config *nu = &p->def->cfg.numa;
	xmlNode *nt = child(root, "numatune"), *n;
	char w[ELPATH_MAX], buf[64], policy[24];
	uint64_t mask, bound = 0;

	if ((n = child(nt, "memory"))) {
		if (attr_check(p, n, "placement", "static", "gmm has no numad: give nodeset="))
			return -EINVAL;
		if (nu->nr_cells)
			return fail(p, -EINVAL, "%s: with <cpu><numa> cells, bind each cell with <memnode cellid= "
				    "nodeset=>", where(n, w));
		if (set_attr(p, n, "nodeset", true, nu->nodes, sizeof(nu->nodes), &mask) ||
		    mode_map(p, n, mask, nu->policy, sizeof(nu->policy)))
			return -EINVAL;
	}
	for (n = nt ? nt->children : NULL; n; n = n->next) {
		char *id;
		uint64_t cid;
		int ret;

		if (!is_el(n) || strcmp((const char *)n->name, "memnode"))
			continue;
		id = attr(n, "cellid");
		ret = u64_parse(id, &cid) || cid >= (uint64_t)nu->nr_cells ?
			fail(p, -EINVAL, "%s cellid='%s': no such <cpu><numa><cell>", where(n, w), id ? id : "") : 0;
		xmlFree(id);
		if (ret || set_attr(p, n, "nodeset", true, buf, sizeof(buf), &mask) ||
		    mode_map(p, n, mask, policy, sizeof(policy)))
			return -EINVAL;
		if (strcmp(policy, "bind") || __builtin_popcountll(mask) != 1)
			return fail(p, -EINVAL, "%s: gmm binds a cell to one node: mode='strict' and a nodeset "
				    "of one node", where(n, w));
		if ((bound >> cid) & 1)
			return fail(p, -EINVAL, "%s cellid='%llu': given more than once", where(n, w),
				    (unsigned long long)cid);
		bound |= 1ULL << cid;
		nu->cells[cid].node = __builtin_ctzll(mask);
	}
	return 0;
}

/* <serial type='file'> / <console type='file'>: the console log path. */
static int parse_console(struct px *p, const xmlNode *n, char *path, size_t len)
{
	char w[ELPATH_MAX], *v;
	xmlNode *src;
	int ret;

	if (attr_check(p, n, "type", "file", "gmm writes the console to a log file: type='file'"))
		return -EINVAL;
	src = child(n, "source");
	v = src ? attr(src, "path") : NULL;
	if (!v || !v[0])
		ret = fail(p, -EINVAL, "%s<source>: path= is required", where(n, w));
	else if (strlen(v) >= len)
		ret = fail(p, -EINVAL, "%s<source>: path is too long", where(n, w));
	else if (path[0] && strcmp(path, v))
		ret = fail(p, -EINVAL, "%s: '%s', but <serial> logs to '%s' (gmm has one console)", where(n, w), v,
			   path);
	else
		ret = snprintf(path, len, "%s", v) < 0;
	xmlFree(v);
	return ret;
}

/* <devices>: memballoon, the serial console; no <memballoon> is
 * libvirt's default, a virtio one. */
static int parse_devices(struct px *p, const xmlNode *root)
{
	struct vm_config *c = &p->def->cfg;
	xmlNode *dev = child(root, "devices"), *n, *st;
	char *v;
	int ret = 0;

	c->balloon.enabled = 1;
	if ((n = child(dev, "memballoon"))) {
		v = attr(n, "model");
		if (!v || (strcmp(v, "virtio") && strcmp(v, "none")))
			ret = fail(p, -EINVAL, "<devices><memballoon model='%s'>: must be virtio or none", v ? v : "");
		c->balloon.enabled = v && !strcmp(v, "virtio");
		xmlFree(v);
		if (ret || attr_check(p, n, "autodeflate", "off", "not supported by gmm") ||
		    attr_check(p, n, "freePageReporting", "off", "not supported by gmm"))
			return -EINVAL;
		if ((st = child(n, "stats"))) {
			uint64_t s;

			v = attr(st, "period");
			ret = u64_parse(v, &s) || s > 3600 ?
				fail(p, -EINVAL, "<devices><memballoon><stats period='%s'>: seconds, 0 to 3600",
				     v ? v : "") : 0;
			xmlFree(v);
			if (ret)
				return ret;
			if (s && !c->balloon.enabled)
				return fail(p, -EINVAL, "<devices><memballoon><stats>: needs model='virtio'");
			c->balloon.stats_period = (int)s;
		}
	}
	if (p->def->current_memory_kib != c->mem_bytes >> 10 && !c->balloon.enabled)
		return fail(p, -EINVAL, "<currentMemory>: less than <memory> needs <memballoon model='virtio'>");
	if ((n = child(dev, "serial")) && parse_console(p, n, c->console, sizeof(c->console)))
		return -EINVAL;
	if ((n = child(dev, "console")) && parse_console(p, n, c->console, sizeof(c->console)))
		return -EINVAL;
	return 0;
}

static int parse_root(struct px *p, const xmlNode *root)
{
	if (domain_check(p, root) || check_tree(p, root, ""))
		return -EINVAL;
	if (parse_basics(p, root) || parse_os(p, root) || parse_backing(p, root) || parse_memtune(p, root) ||
	    parse_cells(p, root) || parse_numatune(p, root) || parse_devices(p, root))
		return -EINVAL;
	return 0;
}

int domain_xml_parse(const char *xml, size_t len, struct domain_def *def, char *err, size_t errlen)
{
	struct px p = { err, errlen, def };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int ret;

	memset(def, 0, sizeof(*def));
	config_guest_defaults(&def->cfg);
	if (!xml || len > INT_MAX)
		return fail(&p, -EINVAL, "no document, or one over 2 GiB");
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return fail(&p, -ENOMEM, "out of memory");
	/* No network, no entity expansion, no DTD loading: the XML is from a client. */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "not well-formed\n");
		msg[strcspn(msg, "\n")] = 0;
		ret = fail(&p, -EINVAL, "XML line %d: %s", e ? e->line : 0, msg);
	} else {
		ret = parse_root(&p, xmlDocGetRootElement(doc));
		xmlFreeDoc(doc);
	}
	xmlFreeParserCtxt(ctxt);
	return ret;
}
