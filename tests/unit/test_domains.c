/*
 * The daemon's domain registry (vmm/domains.c, domains_store.c,
 * domains_mem.c) without starting guests: definitions, the state dir,
 * names and uuids, autostart, what a shut-off domain refuses. Starting
 * and stopping real guests is tests/integration/test_virsh.py's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/domains.h"
#include "vmm/host.h"

static char dir[64];
static struct host host;
static struct gmm_config hcfg;
static struct domains *d;
static char err[DOMAINS_ERR_MAX];

/* any readable file will do as a kernel: nothing is started */
#define KERNEL "/bin/true"

static void open_registry(void)
{
	cr_assert_eq(domains_open(&host, &hcfg, dir, KERNEL, &d, err, sizeof(err)), 0, "%s", err);
}

static void setup(void)
{
	char e[CONFIG_ERR_MAX];

	strcpy(dir, "/tmp/gmm-test-domains-XXXXXX");
	cr_assert(mkdtemp(dir));
	host_init(&host, NULL);
	config_init(&hcfg);
	cr_assert_eq(config_finish_host(&hcfg, 64 << 20, e, sizeof(e)), 0, "%s", e);
	open_registry();
}

static void teardown(void)
{
	char cmd[128];

	domains_close(d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static char *xml_of(const char *name, const char *uuid, const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "<domain type='gmm'><name>%s</name>%s%s%s<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
		 "<os><type>hvm</type></os>%s</domain>",
		 name, uuid ? "<uuid>" : "", uuid ? uuid : "", uuid ? "</uuid>" : "", extra ? extra : "");
	return buf;
}

static int define(const char *name, const char *uuid, const char *extra, struct domain_info *info)
{
	const char *x = xml_of(name, uuid, extra);

	return domains_define_xml(d, x, strlen(x), info, err, sizeof(err));
}

static bool exists(const char *rel)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

#define UUID_A "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
#define UUID_B "11111111-2222-3333-4444-555555555555"

TestSuite(domains, .init = setup, .fini = teardown);

Test(domains, define_writes_the_definition_and_a_restart_reads_it_back)
{
	struct domain_info info;

	cr_assert_eq(define("web", UUID_A, NULL, &info), 0, "%s", err);
	cr_assert_str_eq(info.uuid, UUID_A);
	cr_assert(info.persistent);
	cr_assert_eq(info.state, DOMAIN_SHUTOFF);
	cr_assert_eq(info.id, -1);
	cr_assert(exists("domains/web.xml"));
	domains_close(d);
	open_registry();
	cr_assert_eq(domains_lookup_name(d, "web", &info), 0);
	cr_assert_str_eq(info.uuid, UUID_A);
	cr_assert_eq(info.max_mem_bytes, 64 << 20);
	cr_assert_eq(info.uuid_raw[0], 0x4d);
	cr_assert_eq(info.uuid_raw[15], 0xa0);
}

Test(domains, redefining_without_a_uuid_keeps_the_domains_uuid)
{
	struct domain_info a, b;

	cr_assert_eq(define("web", NULL, NULL, &a), 0, "%s", err);
	cr_assert_eq(define("web", NULL, "<vcpu>2</vcpu>", &b), -EBADMSG); /* two <vcpu>: refused */
	cr_assert_eq(define("web", NULL, NULL, &b), 0, "%s", err);
	cr_assert_str_eq(a.uuid, b.uuid);
}

Test(domains, a_name_keeps_its_uuid_and_a_uuid_its_name)
{
	cr_assert_eq(define("web", UUID_A, NULL, NULL), 0, "%s", err);
	cr_assert_eq(define("web", UUID_B, NULL, NULL), -EEXIST);
	cr_assert(strstr(err, "already exists with uuid " UUID_A), "%s", err);
	cr_assert_eq(define("db", UUID_A, NULL, NULL), -EEXIST);
	cr_assert(strstr(err, "'web'"), "%s", err);
}

Test(domains, bad_xml_is_refused_and_nothing_is_written)
{
	const char *x = "<domain type='kvm'><name>x</name></domain>";

	cr_assert_eq(domains_define_xml(d, x, strlen(x), NULL, err, sizeof(err)), -EBADMSG);
	cr_assert(err[0]);
	cr_assert_eq(domains_define_xml(d, "<<<", 3, NULL, err, sizeof(err)), -EBADMSG);
	cr_assert_not(exists("domains/x.xml"));
}

Test(domains, the_host_rules_are_checked_at_define)
{
	/* the pool has one node: a policy bound to node 3 cannot start */
	cr_assert_eq(define("web", NULL, "<numatune><memory mode='strict' nodeset='3'/></numatune>", NULL), -EBADMSG);
	cr_assert(strstr(err, "numa"), "%s", err);
}

Test(domains, autostart_is_a_link_that_survives_a_restart_and_undefine_removes_both)
{
	bool on = false;

	cr_assert_eq(define("web", NULL, NULL, NULL), 0, "%s", err);
	cr_assert_eq(domains_set_autostart(d, "web", true, err, sizeof(err)), 0, "%s", err);
	cr_assert(exists("autostart/web.xml"));
	domains_close(d);
	open_registry();
	cr_assert_eq(domains_get_autostart(d, "web", &on, err, sizeof(err)), 0);
	cr_assert(on);
	cr_assert_eq(domains_undefine(d, "web", err, sizeof(err)), 0, "%s", err);
	cr_assert_not(exists("autostart/web.xml"));
	cr_assert_not(exists("domains/web.xml"));
	cr_assert_eq(domains_lookup_name(d, "web", &(struct domain_info){ 0 }), -ENOENT);
}

Test(domains, a_definition_that_does_not_parse_is_set_aside_not_fatal)
{
	char path[160];
	FILE *f;

	cr_assert_eq(define("good", NULL, NULL, NULL), 0, "%s", err);
	domains_close(d);
	snprintf(path, sizeof(path), "%s/domains/broken.xml", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs("<domain type='gmm'><name>broken</name>", f);
	fclose(f);
	open_registry();
	cr_assert_eq(domains_lookup_name(d, "good", &(struct domain_info){ 0 }), 0);
	cr_assert_eq(domains_lookup_name(d, "broken", &(struct domain_info){ 0 }), -ENOENT);
	cr_assert(exists("domains/broken.xml.bad"));
}

Test(domains, list_is_sorted_and_lookups_miss_cleanly)
{
	struct domain_info out[4];
	uint8_t raw[16] = { 0 };
	int total = 0;

	cr_assert_eq(define("zeta", NULL, NULL, NULL), 0, "%s", err);
	cr_assert_eq(define("alpha", NULL, NULL, NULL), 0, "%s", err);
	cr_assert_eq(domains_list(d, out, 4, &total), 2);
	cr_assert_eq(total, 2);
	cr_assert_str_eq(out[0].name, "alpha");
	cr_assert_str_eq(out[1].name, "zeta");
	cr_assert_eq(domains_list(d, out, 1, &total), 1);
	cr_assert_eq(total, 2);
	cr_assert_eq(domains_lookup_id(d, 1, &out[0]), -ENOENT);
	cr_assert_eq(domains_lookup_uuid(d, raw, &out[0]), -ENOENT);
	cr_assert_eq(domains_lookup_name(d, "nope", &out[0]), -ENOENT);
	cr_assert_eq(domains_start(d, "nope", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "'nope'"), "%s", err);
}

Test(domains, a_shut_off_domain_refuses_live_changes_and_takes_config_ones)
{
	struct limits_config set = { LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP, LIMIT_KEEP }, got;
	struct domain_info info;

	cr_assert_eq(define("web", NULL, "<devices><memballoon model='virtio'/></devices>", NULL), 0, "%s", err);
	cr_assert_eq(domains_destroy(d, "web", err, sizeof(err)), -EBUSY);
	cr_assert_eq(domains_set_memory(d, "web", 32 << 20, DOMAIN_AFFECT_LIVE, err, sizeof(err)), -EBUSY);
	cr_assert_eq(domains_set_memory(d, "web", 128 << 20, DOMAIN_AFFECT_CONFIG, err, sizeof(err)), -EINVAL);
	cr_assert_eq(domains_set_memory(d, "web", 32 << 20, DOMAIN_AFFECT_CURRENT, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(domains_lookup_name(d, "web", &info), 0);
	cr_assert_eq(info.cur_mem_bytes, 32 << 20);
	cr_assert_eq(domains_set_max_memory(d, "web", 48 << 20, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(domains_lookup_name(d, "web", &info), 0);
	cr_assert_eq(info.max_mem_bytes, 48 << 20);
	set.max = 40 << 20;
	cr_assert_eq(domains_set_limits(d, "web", &set, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(domains_get_limits(d, "web", 0, &got, err, sizeof(err)), 0);
	cr_assert_eq(got.max, 40 << 20);
	cr_assert_eq(got.high, LIMIT_UNSET);
	/* and it is in the file */
	domains_close(d);
	open_registry();
	cr_assert_eq(domains_get_limits(d, "web", DOMAIN_AFFECT_CONFIG, &got, err, sizeof(err)), 0);
	cr_assert_eq(got.max, 40 << 20);
	cr_assert_eq(domains_set_numa(d, "web", "interleave", "0", DOMAIN_AFFECT_LIVE, err, sizeof(err)), -EBUSY);
}

Test(domains, a_domain_without_a_balloon_cannot_have_less_current_memory)
{
	cr_assert_eq(define("web", NULL, "<devices><memballoon model='none'/></devices>", NULL), 0, "%s", err);
	cr_assert_eq(domains_set_memory(d, "web", 32 << 20, DOMAIN_AFFECT_CONFIG, err, sizeof(err)), -EOPNOTSUPP);
	cr_assert(strstr(err, "balloon"), "%s", err);
}
