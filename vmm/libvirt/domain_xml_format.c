/* dumpxml: a domain_def (and its runtime state) as libvirt domain XML.
 * The inverse of domain_xml.c's parser; see domain_xml.h. */
#include "vmm/libvirt/domain_xml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>


/* One document being built; oom is sticky so the builders need no checks. */
struct fx {
	xmlDocPtr doc;
	bool oom;
};

static xmlNode *add(struct fx *f, xmlNode *parent, const char *name, const char *content)
{
	xmlNode *n = parent ? xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)content) : NULL;

	f->oom |= !n;
	return n;
}

static void prop(struct fx *f, xmlNode *n, const char *name, const char *value)
{
	f->oom |= !n || !xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void prop_u64(struct fx *f, xmlNode *n, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	prop(f, n, name, buf);
}

/* <name unit='KiB'>kib</name> */
static xmlNode *add_kib(struct fx *f, xmlNode *parent, const char *name, uint64_t kib)
{
	char buf[24];
	xmlNode *n;

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)kib);
	n = add(f, parent, name, buf);
	prop(f, n, "unit", "KiB");
	return n;
}

static void format_memory(struct fx *f, xmlNode *root, const struct domain_def *d, const struct domain_runtime *rt)
{
	const struct vm_config *c = &d->cfg;
	const struct limits_config *l = rt && rt->limits ? rt->limits : &c->limits;
	xmlNode *mt, *mb;

	add_kib(f, root, "memory", (c->mem_bytes + 1023) >> 10);
	add_kib(f, root, "currentMemory", rt && rt->current_memory_kib ? rt->current_memory_kib :
		d->current_memory_kib);
	if (l->max != LIMIT_UNSET || l->high != LIMIT_UNSET || l->min != LIMIT_UNSET) {
		mt = add(f, root, "memtune", NULL);
		if (l->max != LIMIT_UNSET)
			add_kib(f, mt, "hard_limit", l->max >> 10);
		if (l->high != LIMIT_UNSET)
			add_kib(f, mt, "soft_limit", l->high >> 10);
		if (l->max != LIMIT_UNSET && l->swap_max != LIMIT_UNSET)
			add_kib(f, mt, "swap_hard_limit", (l->max + l->swap_max) >> 10);
		if (l->min != LIMIT_UNSET)
			add_kib(f, mt, "min_guarantee", l->min >> 10);
	}
	if (strcmp(c->hugepages, "none") || !strcmp(c->backend, "anon") || c->prefault) {
		mb = add(f, root, "memoryBacking", NULL);
		if (!strcmp(c->hugepages, "2M") || !strcmp(c->hugepages, "1G")) {
			xmlNode *pg = add(f, add(f, mb, "hugepages", NULL), "page", NULL);

			prop(f, pg, "size", c->hugepages[1] == 'M' ? "2048" : "1048576");
			prop(f, pg, "unit", "KiB");
		}
		if (!strcmp(c->backend, "anon"))
			prop(f, add(f, mb, "source", NULL), "type", "anonymous");
		if (c->prefault)
			prop(f, add(f, mb, "allocation", NULL), "mode", "immediate");
	}
}

/* gmm's policy -> numatune's mode; NULL: not expressible (default, local,
 * weighted-interleave). */
static const char *mode_name(const char *policy)
{
	if (!strcmp(policy, "bind"))
		return "strict";
	if (!strcmp(policy, "preferred") || !strcmp(policy, "preferred-many"))
		return "preferred";
	if (!strcmp(policy, "interleave"))
		return "interleave";
	return NULL;
}

static void format_numatune(struct fx *f, xmlNode *root, const struct numa_guest_config *nu)
{
	const char *mode = mode_name(nu->policy);
	xmlNode *nt, *n;

	if (!nu->nr_cells && (!mode || !nu->nodes[0]))
		return;
	nt = add(f, root, "numatune", NULL);
	if (!nu->nr_cells) {
		n = add(f, nt, "memory", NULL);
		prop(f, n, "mode", mode);
		prop(f, n, "nodeset", nu->nodes);
	}
	for (int j = 0; j < nu->nr_cells; j++) {
		n = add(f, nt, "memnode", NULL);
		prop_u64(f, n, "cellid", (uint64_t)j);
		prop(f, n, "mode", "strict");
		prop_u64(f, n, "nodeset", (uint64_t)(nu->cells[j].node < 0 ? j : nu->cells[j].node));
	}
}

static void format_os_cpu(struct fx *f, xmlNode *root, const struct vm_config *c)
{
	xmlNode *os = add(f, root, "os", NULL), *numa;

	prop(f, add(f, os, "type", "hvm"), "arch", "x86_64");
	if (c->kernel[0])
		add(f, os, "kernel", c->kernel);
	if (c->initrd[0])
		add(f, os, "initrd", c->initrd);
	if (c->cmdline[0])
		add(f, os, "cmdline", c->cmdline);
	if (!c->numa.nr_cells)
		return;
	numa = add(f, add(f, root, "cpu", NULL), "numa", NULL);
	for (int j = 0; j < c->numa.nr_cells; j++) {
		const struct numa_cell_config *cell = &c->numa.cells[j];
		xmlNode *n = add(f, numa, "cell", NULL);

		prop_u64(f, n, "id", (uint64_t)j);
		if (cell->cpus[0])
			prop(f, n, "cpus", cell->cpus);
		prop_u64(f, n, "memory", cell->mem_bytes >> 10);
		prop(f, n, "unit", "KiB");
	}
}

static void format_devices(struct fx *f, xmlNode *root, const struct domain_def *d, const struct domain_runtime *rt)
{
	const struct vm_config *c = &d->cfg;
	xmlNode *dev = add(f, root, "devices", NULL), *n;
	int period = rt && rt->stats_period >= 0 ? rt->stats_period : c->balloon.stats_period;

	if (c->console[0] && strcmp(c->console, "-")) {
		n = add(f, dev, "serial", NULL);
		prop(f, n, "type", "file");
		prop(f, add(f, n, "source", NULL), "path", c->console);
		prop(f, add(f, n, "target", NULL), "port", "0");
		n = add(f, dev, "console", NULL);
		prop(f, n, "type", "file");
		prop(f, add(f, n, "source", NULL), "path", c->console);
		n = add(f, n, "target", NULL);
		prop(f, n, "type", "serial");
		prop(f, n, "port", "0");
	}
	n = add(f, dev, "memballoon", NULL);
	prop(f, n, "model", c->balloon.enabled ? "virtio" : "none");
	if (c->balloon.enabled && period > 0)
		prop_u64(f, add(f, n, "stats", NULL), "period", (uint64_t)period);
}

/* The document, in libvirt's element order. */
static void format_domain(struct fx *f, xmlNode *root, const struct domain_def *d, const struct domain_runtime *rt)
{
	char buf[16];

	prop(f, root, "type", DOMAIN_XML_TYPE);
	if (rt)
		prop_u64(f, root, "id", (uint64_t)(rt->id < 0 ? 0 : rt->id));
	add(f, root, "name", d->cfg.name);
	add(f, root, "uuid", d->uuid);
	format_memory(f, root, d, rt);
	snprintf(buf, sizeof(buf), "%d", d->cfg.vcpus);
	prop(f, add(f, root, "vcpu", buf), "placement", "static");
	format_numatune(f, root, &d->cfg.numa);
	format_os_cpu(f, root, &d->cfg);
	add(f, root, "on_poweroff", "destroy");
	add(f, root, "on_reboot", "destroy");
	add(f, root, "on_crash", "destroy");
	format_devices(f, root, d, rt);
}

char *domain_xml_format(const struct domain_def *def, const struct domain_runtime *rt)
{
	struct fx f = { NULL, false };
	xmlBufferPtr buf = NULL;
	xmlNode *root;
	char *out = NULL;

	xmlInitParser();
	f.doc = xmlNewDoc((const xmlChar *)"1.0");
	root = f.doc ? xmlNewDocNode(f.doc, NULL, (const xmlChar *)"domain", NULL) : NULL;
	if (root) {
		xmlDocSetRootElement(f.doc, root);
		format_domain(&f, root, def, rt);
		buf = f.oom ? NULL : xmlBufferCreate();
	}
	if (buf && xmlNodeDump(buf, f.doc, root, 0, 1) >= 0 &&
	    asprintf(&out, "%s\n", (const char *)xmlBufferContent(buf)) < 0)
		out = NULL;
	if (buf)
		xmlBufferFree(buf);
	if (f.doc)
		xmlFreeDoc(f.doc);
	if (!out)
		errno = ENOMEM;
	return out;
}
