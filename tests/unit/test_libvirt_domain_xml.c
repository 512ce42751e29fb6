/* libvirt domain XML <-> guest config (vmm/libvirt/domain_xml.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/libvirt/domain_xml.h"

static const char full_xml[] =
	"<domain type='gmm'>\n"
	"  <name>web-1</name>\n"
	"  <uuid>4DEA22B3-1D52-D8F3-2516-782E98AB3FA0</uuid>\n"
	"  <title>ignored</title>\n"
	"  <memory unit='MiB'>512</memory>\n"
	"  <currentMemory unit='KiB'>393216</currentMemory>\n"
	"  <memtune>\n"
	"    <hard_limit unit='MiB'>384</hard_limit>\n"
	"    <soft_limit unit='MiB'>256</soft_limit>\n"
	"    <swap_hard_limit unit='GiB'>1</swap_hard_limit>\n"
	"    <min_guarantee unit='MiB'>64</min_guarantee>\n"
	"  </memtune>\n"
	"  <memoryBacking><nosharepages/><source type='memfd'/><access mode='private'/>"
	"<allocation mode='immediate'/></memoryBacking>\n"
	"  <vcpu placement='static'>4</vcpu>\n"
	"  <numatune><memnode cellid='0' mode='strict' nodeset='1'/></numatune>\n"
	"  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/boot/vmlinux</kernel>"
	"<cmdline>console=ttyS0 quiet</cmdline></os>\n"
	"  <features><acpi/><apic/></features>\n"
	"  <cpu><numa><cell id='0' cpus='0-1' memory='256' unit='MiB'/>"
	"<cell id='1' cpus='2,3' memory='262144'/></numa></cpu>\n"
	"  <clock offset='utc'/>\n"
	"  <on_poweroff>destroy</on_poweroff>\n"
	"  <devices>\n"
	"    <emulator>/usr/bin/gmm</emulator>\n"
	"    <serial type='file'><source path='/var/log/gmm/web-1.log'/><target port='0'/></serial>\n"
	"    <console type='file'><source path='/var/log/gmm/web-1.log'/><target type='serial'/></console>\n"
	"    <memballoon model='virtio'><stats period='5'/></memballoon>\n"
	"  </devices>\n"
	"</domain>\n";

static int parse(const char *xml, struct domain_def *d, char *err)
{
	err[0] = 0;
	return domain_xml_parse(xml, strlen(xml), d, err, DOMAIN_XML_ERR_MAX);
}

/* A minimal document with extra put inside <domain>. */
static int parse_with(const char *extra, struct domain_def *d, char *err)
{
	char xml[4096];

	snprintf(xml, sizeof(xml), "<domain type='gmm'><name>a</name><memory unit='MiB'>256</memory>"
		 "<os><type>hvm</type></os>%s</domain>", extra);
	return parse(xml, d, err);
}

static void assert_refused(const char *extra, const char *msg)
{
	struct domain_def d;
	char err[DOMAIN_XML_ERR_MAX];

	cr_assert_eq(parse_with(extra, &d, err), -EINVAL, "%s: accepted", extra);
	cr_assert_str_eq(err, msg, "%s", extra);
}

static struct domain_def def, def2;

Test(domain_xml, full_example_maps_to_guest_config)
{
	char err[DOMAIN_XML_ERR_MAX];
	const struct vm_config *c = &def.cfg;

	cr_assert_eq(parse(full_xml, &def, err), 0, "%s", err);
	cr_assert_str_eq(def.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
	cr_assert_eq(def.uuid_generated, 0);
	cr_assert_str_eq(c->name, "web-1");
	cr_assert_eq(c->mem_bytes, 512ULL << 20);
	cr_assert_eq(def.current_memory_kib, 393216);
	cr_assert_eq(c->vcpus, 4);
	cr_assert_str_eq(c->kernel, "/boot/vmlinux");
	cr_assert_str_eq(c->cmdline, "console=ttyS0 quiet");
	cr_assert_str_eq(c->console, "/var/log/gmm/web-1.log");
	cr_assert_str_eq(c->backend, "pool");
	cr_assert_eq(c->prefault, 1);
	cr_assert_str_eq(c->hugepages, "none");
	cr_assert_eq(c->balloon.enabled, 1);
	cr_assert_eq(c->balloon.stats_period, 5);
	cr_assert_eq(c->numa.nr_cells, 2);
	cr_assert_str_eq(c->numa.cells[0].cpus, "0-1");
	cr_assert_eq(c->numa.cells[0].mem_bytes, 256ULL << 20);
	cr_assert_eq(c->numa.cells[0].node, 1);          /* from <memnode> */
	cr_assert_str_eq(c->numa.cells[1].cpus, "2-3");
	cr_assert_eq(c->numa.cells[1].mem_bytes, 256ULL << 20);
	cr_assert_eq(c->numa.cells[1].node, 1);          /* its id: no <memnode> */
	cr_assert_eq(c->limits.max, 384ULL << 20);
	cr_assert_eq(c->limits.high, 256ULL << 20);
	cr_assert_eq(c->limits.min, 64ULL << 20);
	cr_assert_eq(c->limits.low, LIMIT_UNSET);
}

Test(domain_xml, parsed_config_passes_config_finish)
{
	static struct gmm_config cfg;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(parse(full_xml, &def, err), 0, "%s", err);
	config_init(&cfg);
	cfg.host.pool.nodes = 2;
	cfg.guests[cfg.nr_guests++] = def.cfg;
	strcpy(cfg.guests[0].kernel, "/bin/sh");
	cr_assert_eq(config_finish(&cfg, "/bin/sh", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.guests[0].numa.parsed.nr_cells, 2);
}

Test(domain_xml, memtune_swap_max_is_swap_hard_limit_minus_hard_limit)
{
	char err[DOMAIN_XML_ERR_MAX];

	cr_assert_eq(parse(full_xml, &def, err), 0, "%s", err);
	cr_assert_eq(def.cfg.limits.swap_max, (1ULL << 30) - (384ULL << 20));
	cr_assert_eq(parse_with("<memtune><hard_limit unit='GiB'>1</hard_limit><swap_hard_limit unit='GiB'>1"
				"</swap_hard_limit><soft_limit>9007199254740991</soft_limit></memtune>", &def, err), 0,
		     "%s", err);
	cr_assert_eq(def.cfg.limits.swap_max, 0);
	cr_assert_eq(def.cfg.limits.high, LIMIT_UNSET);   /* libvirt's "unlimited" */
	assert_refused("<memtune><swap_hard_limit>1024</swap_hard_limit></memtune>",
		       "<memtune><swap_hard_limit>: needs <hard_limit> (it limits memory plus swap)");
	assert_refused("<memtune><hard_limit>2048</hard_limit><swap_hard_limit>1024</swap_hard_limit></memtune>",
		       "<memtune><swap_hard_limit>: less than <hard_limit> (it limits memory plus swap)");
}

static void assert_same(const struct domain_def *a, const struct domain_def *b)
{
	cr_assert_str_eq(a->uuid, b->uuid);
	cr_assert_eq(a->current_memory_kib, b->current_memory_kib);
	cr_assert(!memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)), "configs differ");
}

static void round_trip(const char *xml)
{
	char err[DOMAIN_XML_ERR_MAX], *out;

	cr_assert_eq(parse(xml, &def, err), 0, "%s", err);
	out = domain_xml_format(&def, NULL);
	cr_assert_not_null(out);
	cr_assert_eq(parse(out, &def2, err), 0, "%s in\n%s", err, out);
	assert_same(&def, &def2);
	free(out);
}

Test(domain_xml, round_trip_gives_the_same_def)
{
	round_trip(full_xml);
	round_trip("<domain type='gmm'><name>b</name><uuid>00112233445566778899aabbccddeeff</uuid>"
		   "<memory unit='GiB'>2</memory><vcpu>2</vcpu><numatune><memory mode='preferred' nodeset='0-2,^1'/>"
		   "</numatune><memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages>"
		   "<source type='anonymous'/></memoryBacking><os><type>hvm</type><initrd>/i &amp; &lt;x&gt;</initrd>"
		   "</os><devices><memballoon model='none'/></devices></domain>");
	cr_assert_str_eq(def2.cfg.numa.policy, "preferred-many");
	cr_assert_str_eq(def2.cfg.numa.nodes, "0,2");
	cr_assert_str_eq(def2.cfg.hugepages, "1G");
	cr_assert_str_eq(def2.cfg.backend, "anon");
	cr_assert_str_eq(def2.cfg.initrd, "/i & <x>");
	cr_assert_eq(def2.cfg.balloon.enabled, 0);
	round_trip("<domain type='gmm'><name>c</name><uuid>00112233-4455-6677-8899-aabbccddeeff</uuid>"
		   "<memory>262144</memory><numatune><memory mode='interleave' nodeset='0-1'/></numatune>"
		   "<memoryBacking><hugepages/></memoryBacking><os><type>hvm</type></os></domain>");
	cr_assert_str_eq(def2.cfg.numa.policy, "interleave");
	cr_assert_str_eq(def2.cfg.hugepages, "2M");
}

Test(domain_xml, running_dumpxml_has_id_and_live_state)
{
	struct limits_config live = { 200ULL << 20, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, 100ULL << 20 };
	struct domain_runtime rt = { .id = 7, .current_memory_kib = 300 * 1024, .limits = &live, .stats_period = 2 };
	char err[DOMAIN_XML_ERR_MAX], *out;

	cr_assert_eq(parse(full_xml, &def, err), 0, "%s", err);
	out = domain_xml_format(&def, &rt);
	cr_assert_not_null(out);
	cr_assert(strstr(out, "<domain type=\"gmm\" id=\"7\">"), "%s", out);
	cr_assert(strstr(out, "<currentMemory unit=\"KiB\">307200</currentMemory>"), "%s", out);
	cr_assert(strstr(out, "<hard_limit unit=\"KiB\">204800</hard_limit>"), "%s", out);
	cr_assert(strstr(out, "<swap_hard_limit unit=\"KiB\">307200</swap_hard_limit>"), "%s", out);
	cr_assert(strstr(out, "<stats period=\"2\"/>"), "%s", out);
	cr_assert_eq(parse(out, &def2, err), 0, "%s", err);   /* a running domain's XML defines it again */
	cr_assert_eq(def2.cfg.limits.swap_max, 100ULL << 20);
	free(out);
	out = domain_xml_format(&def, NULL);
	cr_assert(!strncmp(out, "<domain type=\"gmm\">\n", 19), "%s", out);
	free(out);
}

Test(domain_xml, missing_uuid_is_generated_v4)
{
	char err[DOMAIN_XML_ERR_MAX], first[DOMAIN_UUID_LEN];

	cr_assert_eq(parse_with("", &def, err), 0, "%s", err);
	cr_assert_eq(def.uuid_generated, 1);
	cr_assert_eq(strlen(def.uuid), 36);
	cr_assert_eq(def.uuid[14], '4');
	cr_assert(strchr("89ab", def.uuid[19]));
	cr_assert_eq(domain_xml_parse(full_xml, 0, &def2, err, sizeof(err)), -EINVAL);  /* empty: no crash */
	strcpy(first, def.uuid);
	cr_assert_eq(parse_with("", &def, err), 0, "%s", err);
	cr_assert_str_neq(def.uuid, first);
	/* defaults: libvirt's virtio balloon, currentMemory = memory */
	cr_assert_eq(def.cfg.balloon.enabled, 1);
	cr_assert_eq(def.current_memory_kib, 256 * 1024);
	cr_assert_eq(def.cfg.vcpus, 1);
}

Test(domain_xml, unsupported_elements_are_named)
{
	assert_refused("<devices><disk type='file'/></devices>", "<devices><disk>: not supported by gmm");
	assert_refused("<devices><serial type='file'><log file='/x'/></serial></devices>",
		       "<devices><serial><log>: not supported by gmm");
	assert_refused("<features><hyperv/></features>", "<features><hyperv>: not supported by gmm");
	assert_refused("<cputune/>", "<cputune>: not supported by gmm");
	assert_refused("<memoryBacking><locked/></memoryBacking>", "<memoryBacking><locked>: not supported by gmm");
	assert_refused("<vcpu>1</vcpu><vcpu>2</vcpu>", "<vcpu>: given more than once");
	assert_refused("<devices><serial type='pty'/></devices>",
		       "<devices><serial> type='pty': gmm writes the console to a log file: type='file'");
	assert_refused("<devices><memballoon model='xen'/></devices>",
		       "<devices><memballoon model='xen'>: must be virtio or none");
	assert_refused("<memoryBacking><access mode='shared'/></memoryBacking>",
		       "<memoryBacking><access> mode='shared': gmm does not share guest memory with other processes");
	assert_refused("<memoryBacking><hugepages><page size='4' unit='KiB'/></hugepages></memoryBacking>",
		       "<memoryBacking><hugepages><page>: 4 KiB: gmm has 2048 KiB and 1048576 KiB pages");
	assert_refused("<currentMemory unit='MiB'>128</currentMemory><devices><memballoon model='none'/></devices>",
		       "<currentMemory>: less than <memory> needs <memballoon model='virtio'>");
}

Test(domain_xml, bad_units_and_numbers_are_refused)
{
	assert_refused("<currentMemory unit='furlong'>1</currentMemory>",
		       "<currentMemory>: unit 'furlong' must be one of b, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)");
	assert_refused("<currentMemory unit='MiB'>-1</currentMemory>", "<currentMemory>: '-1' is not a whole number");
	assert_refused("<currentMemory unit='EiB'>100</currentMemory>", "<currentMemory>: 100 EiB is too large");
	assert_refused("<currentMemory unit='GiB'>1</currentMemory>", "<currentMemory>: more than <memory>");
	assert_refused("<vcpu>0</vcpu>", "<vcpu>: '0' must be 1 to 64");
	assert_refused("<vcpu current='1'>2</vcpu>", "<vcpu current='1'>: gmm has no vCPU hotplug (current = the count)");
}

Test(domain_xml, units_scale_like_libvirt)
{
	char err[DOMAIN_XML_ERR_MAX];

	cr_assert_eq(parse("<domain type='gmm'><name>u</name><memory unit='G'>1</memory><currentMemory unit='MB'>"
			   "1000</currentMemory><os><type>hvm</type></os></domain>", &def, err), 0, "%s", err);
	cr_assert_eq(def.cfg.mem_bytes, 1ULL << 30);
	cr_assert_eq(def.current_memory_kib, 1000000000ULL / 1024 + 1);   /* rounded up to KiB */
	cr_assert_eq(parse("<domain type='gmm'><name>u</name><memory unit='bytes'>33554432</memory>"
			   "<os><type>hvm</type></os></domain>", &def, err), 0, "%s", err);
	cr_assert_eq(def.cfg.mem_bytes, 32ULL << 20);
}

Test(domain_xml, numatune_modes_and_nodesets)
{
	char err[DOMAIN_XML_ERR_MAX];

	cr_assert_eq(parse_with("<numatune><memory mode='restrictive' nodeset='0-3,^2'/></numatune>", &def, err), 0,
		     "%s", err);
	cr_assert_str_eq(def.cfg.numa.policy, "bind");
	cr_assert_str_eq(def.cfg.numa.nodes, "0-1,3");
	cr_assert_eq(parse_with("<numatune><memory nodeset='1'/></numatune>", &def, err), 0, "%s", err);
	cr_assert_str_eq(def.cfg.numa.policy, "bind");   /* strict is libvirt's default */
	cr_assert_eq(parse_with("<numatune><memory mode='preferred' nodeset='1'/></numatune>", &def, err), 0);
	cr_assert_str_eq(def.cfg.numa.policy, "preferred");
	assert_refused("<numatune><memory mode='strict' nodeset='0-'/></numatune>",
		       "<numatune><memory> nodeset='0-': expected a number after '-' (use a list like '0-1,3')");
	assert_refused("<numatune><memory mode='strict' nodeset='3-1'/></numatune>",
		       "<numatune><memory> nodeset='3-1': a range must go up (use a list like '0-1,3')");
	assert_refused("<numatune><memory mode='strict' nodeset='1,^1'/></numatune>",
		       "<numatune><memory> nodeset='1,^1': the set is empty (use a list like '0-1,3')");
	assert_refused("<numatune><memory mode='strict' nodeset='a'/></numatune>",
		       "<numatune><memory> nodeset='a': expected a number (use a list like '0-1,3')");
	assert_refused("<numatune><memory mode='strict'/></numatune>", "<numatune><memory>: nodeset= is required");
	assert_refused("<numatune><memory mode='strict' placement='auto'/></numatune>",
		       "<numatune><memory> placement='auto': gmm has no numad: give nodeset=");
	assert_refused("<numatune><memory mode='local' nodeset='0'/></numatune>",
		       "<numatune><memory> mode='local': must be strict, restrictive, preferred or interleave");
	assert_refused("<numatune><memnode cellid='0' nodeset='0'/></numatune>",
		       "<numatune><memnode> cellid='0': no such <cpu><numa><cell>");
	assert_refused("<cpu><numa><cell id='0' memory='256' unit='MiB'/></numa></cpu>"
		       "<numatune><memnode cellid='0' mode='interleave' nodeset='0-1'/></numatune>",
		       "<numatune><memnode>: gmm binds a cell to one node: mode='strict' and a nodeset of one node");
	assert_refused("<cpu><numa><cell id='0' memory='256' unit='MiB'/></numa></cpu><numatune>"
		       "<memnode cellid='0' nodeset='0'/><memnode cellid='0' nodeset='1'/></numatune>",
		       "<numatune><memnode> cellid='0': given more than once");
	assert_refused("<cpu><numa><cell id='1' memory='256' unit='MiB'/></numa></cpu>",
		       "<cpu><numa><cell> id='1': cells are numbered 0, 1, ... in order");
	assert_refused("<cpu><numa><cell id='0'/></numa></cpu>", "<cpu><numa><cell>: memory= is required");
}

Test(domain_xml, bad_uuid_and_wrong_type_are_refused)
{
	struct domain_def d;
	char err[DOMAIN_XML_ERR_MAX];

	assert_refused("<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa</uuid>",
		       "<uuid>: '4dea22b3-1d52-d8f3-2516-782e98ab3fa' is not a UUID "
		       "(like 4dea22b3-1d52-d8f3-2516-782e98ab3fa0)");
	assert_refused("<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0x</uuid>",
		       "<uuid>: '4dea22b3-1d52-d8f3-2516-782e98ab3fa0x' is not a UUID "
		       "(like 4dea22b3-1d52-d8f3-2516-782e98ab3fa0)");
	cr_assert_eq(parse("<domain type='kvm'><name>a</name></domain>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "<domain type='kvm'>: this is gmm's driver: use type='gmm'");
	cr_assert_eq(parse("<domain><name>a</name></domain>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "<domain>: type='gmm' is required");
	cr_assert_eq(parse("<network/>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "the document's root must be <domain>, not <network>");
	cr_assert_eq(parse("<domain type='gmm'><memory>1</memory></domain>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "<name>: missing");
	cr_assert_eq(parse("<domain type='gmm'><name>a b</name></domain>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "<name>: 'a b': use letters, digits, '-', '_' and '.'");
	cr_assert_eq(parse("<domain type='gmm'><name>a</name><memory>262144</memory></domain>", &d, err), -EINVAL);
	cr_assert_str_eq(err, "<os><type>: missing (gmm runs <type>hvm</type> guests)");
}

Test(domain_xml, malformed_xml_is_an_error)
{
	static const char *const bad[] = {
		"", "<", "<domain type='gmm'>", "<domain type='gmm'><name>a</nam></domain>", "not xml at all",
		"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
		"<domain type='gmm'><name>&e;</name></domain>",
	};
	struct domain_def d;
	char err[DOMAIN_XML_ERR_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i], &d, err), -EINVAL, "%s: accepted", bad[i]);
		cr_assert(err[0], "%s: no error text", bad[i]);
	}
	cr_assert_eq(parse("<domain type='gmm'><name>a</nam></domain>", &d, err), -EINVAL);
	cr_assert(!strncmp(err, "XML line 1: ", 12), "%s", err);
	cr_assert_eq(domain_xml_parse(NULL, 0, &d, err, sizeof(err)), -EINVAL);
}
