/* Config parsing: sizes, the key table, guest flags, cross-field rules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/config.h"
#include "vmm/size.h"

Test(size, parses_suffixes_and_bytes)
{
	uint64_t b;

	cr_assert_eq(size_parse("4096", &b), 0);
	cr_assert_eq(b, 4096);
	cr_assert_eq(size_parse("512M", &b), 0);
	cr_assert_eq(b, 512ULL << 20);
	cr_assert_eq(size_parse("2G", &b), 0);
	cr_assert_eq(b, 2ULL << 30);
	cr_assert_eq(size_parse("64KiB", &b), 0);
	cr_assert_eq(b, 64ULL << 10);
	cr_assert_eq(size_parse("1t", &b), 0);
	cr_assert_eq(b, 1ULL << 40);
}

Test(size, rejects_garbage_and_overflow)
{
	uint64_t b;

	cr_assert_neq(size_parse("", &b), 0);
	cr_assert_neq(size_parse("12Q", &b), 0);
	cr_assert_neq(size_parse("-5M", &b), 0);
	cr_assert_neq(size_parse("1.5G", &b), 0);
	cr_assert_neq(size_parse("99999999999999999999", &b), 0);
	cr_assert_neq(size_parse("99999999999T", &b), 0);
	cr_assert_neq(size_parse(NULL, &b), 0);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	strcpy(path, "/tmp/gmm-cfg-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(const char *json, struct gmm_config *cfg, char *err)
{
	char *p = write_tmp(json);
	int ret;

	config_init(cfg);
	ret = config_load_file(cfg, p, err, CONFIG_ERR_MAX);
	if (!ret)
		ret = config_finish(cfg, "/bin/sh", err, CONFIG_ERR_MAX);
	unlink(p);
	return ret;
}

static struct gmm_config cfg;

Test(config, a_buffer_loads_like_a_file_and_its_errors_carry_the_given_name)
{
	static const char good[] = "{\"guests\":[{\"name\":\"m\",\"mem\":\"64M\"}]}";
	static const char bad[] = "{\"guests\":[{\"name\":\"m\",\"mem\":}]}";
	char err[CONFIG_ERR_MAX] = "";

	config_init(&cfg);
	cr_assert_eq(config_load_buffer(&cfg, good, strlen(good), "mem.json", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_finish(&cfg, "/bin/sh", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nr_guests, 1);
	cr_assert_eq(cfg.guests[0].mem_bytes, 64ULL << 20);
	config_init(&cfg);
	cr_assert_eq(config_load_buffer(&cfg, bad, strlen(bad), "mem.json", err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "mem.json:1:", 11), "%s", err);
	/* len one short of the closing brace: the parser must stop at len */
	config_init(&cfg);
	cr_assert_eq(config_load_buffer(&cfg, good, strlen(good) - 1, "mem.json", err, sizeof(err)), -EINVAL,
		     "a buffer cut short is not read past its length");
}

Test(config, loads_host_and_guests)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"host\":{\"accel\":\"native\"},\"guests\":[{\"name\":\"a\",\"mem\":\"64M\","
			  "\"vcpus\":2,\"cmdline\":\"workload=touch\"},{\"mem\":33554432}]}", &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.host.accel, "native");
	cr_assert_eq(cfg.nr_guests, 2);
	cr_assert_str_eq(cfg.guests[0].name, "a");
	cr_assert_eq(cfg.guests[0].mem_bytes, 64ULL << 20);
	cr_assert_eq(cfg.guests[0].vcpus, 2);
	cr_assert_str_eq(cfg.guests[0].kernel, "/bin/sh");
	cr_assert_str_eq(cfg.guests[1].name, "guest1");
	cr_assert_eq(cfg.guests[1].mem_bytes, 32ULL << 20);
}

Test(config, unknown_key_is_refused_with_its_path)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"name\":\"a\"},{\"name\":\"b\",\"memory\":\"1G\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[1].memory: unknown key"), "%s", err);
}

Test(config, bad_size_names_the_field)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"mem\":\"12Q\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].mem") && strstr(err, "12Q"), "%s", err);
}

Test(config, vcpus_out_of_range_is_refused)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"vcpus\":0}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].vcpus"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"vcpus\":65}]}", &cfg, err), 0);
	cr_assert_neq(load("{\"guests\":[{\"vcpus\":\"two\"}]}", &cfg, err), 0);
}

Test(config, duplicate_names_and_bad_names_are_refused)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "already used"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"name\":\"a b\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].name"), "%s", err);
}

Test(config, memory_limits_are_checked)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"mem\":\"1M\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].mem"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"mem\":\"100G\"}]}", &cfg, err), 0);
	cr_assert_neq(load("{\"guests\":[{\"mem\":\"16781313\"}]}", &cfg, err), 0); /* not 4K aligned */
}

Test(config, missing_kernel_names_the_path)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"kernel\":\"/nonexistent/k.elf\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].kernel") && strstr(err, "/nonexistent/k.elf"), "%s", err);
}

Test(config, json_syntax_error_gives_line_and_column)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\": [\n  {\"name\": }\n]}", &cfg, err), 0);
	cr_assert(strstr(err, ":2:"), "%s", err);
}

Test(config, wrong_types_are_refused)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":{\"name\":\"a\"}}", &cfg, err), 0);
	cr_assert(strstr(err, "guests"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"name\":5}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].name"), "%s", err);
	cr_assert_neq(load("[1,2]", &cfg, err), 0);
	cr_assert_neq(load("{\"host\":{\"accel\":\"tcg\"},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.accel"), "%s", err);
}

Test(config, guest_flag_parses_quoted_values_with_commas)
{
	char err[CONFIG_ERR_MAX] = "";

	config_init(&cfg);
	cr_assert_eq(config_add_guest_flag(&cfg, "name=a,mem=512M,vcpus=2,cmdline=\"workload=zipf size=64M, x=1\"",
					   err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.guests[0].name, "a");
	cr_assert_eq(cfg.guests[0].mem_bytes, 512ULL << 20);
	cr_assert_eq(cfg.guests[0].vcpus, 2);
	cr_assert_str_eq(cfg.guests[0].cmdline, "workload=zipf size=64M, x=1");
}

Test(config, guest_flag_errors_name_the_key)
{
	char err[CONFIG_ERR_MAX] = "";

	config_init(&cfg);
	cr_assert_neq(config_add_guest_flag(&cfg, "name=a,color=blue", err, sizeof(err)), 0);
	cr_assert(strstr(err, "color"), "%s", err);
	cr_assert_neq(config_add_guest_flag(&cfg, "name=a,mem", err, sizeof(err)), 0);
	cr_assert_neq(config_add_guest_flag(&cfg, "cmdline=\"open", err, sizeof(err)), 0);
	cr_assert(strstr(err, "unterminated"), "%s", err);
	cr_assert_neq(config_add_guest_flag(&cfg, "vcpus=x", err, sizeof(err)), 0);
	cr_assert(strstr(err, "vcpus"), "%s", err);
}

Test(config, thp_takes_always_madvise_or_never)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"guests\":[{\"thp\":\"never\"},{}]}", &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.guests[0].thp, "never");
	cr_assert_str_eq(cfg.guests[1].thp, "always");
	cr_assert_eq(load("{\"guests\":[{\"thp\":\"madvise\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"thp\":\"sometimes\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].thp"), "%s", err);
}

Test(config, no_guests_is_an_error)
{
	char err[CONFIG_ERR_MAX] = "";

	config_init(&cfg);
	cr_assert_neq(config_finish(&cfg, "/bin/sh", err, sizeof(err)), 0);
	cr_assert(strstr(err, "no guests"), "%s", err);
}

Test(config, missing_initrd_names_the_field)
{
	struct gmm_config cfg;
	char err[CONFIG_ERR_MAX];

	cr_assert_neq(load("{\"guests\":[{\"name\":\"a\",\"mem\":\"64M\",\"initrd\":\"no-such-initrd\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].initrd: no-such-initrd"), "%s", err);
}

Test(config, relative_initrd_is_found_next_to_the_config)
{
	struct gmm_config cfg;
	char err[CONFIG_ERR_MAX], json[256], initrd[64];

	strcpy(initrd, write_tmp("not really a cpio")); /* load() reuses the buffer */

	/* write_tmp() puts both files in /tmp: name the initrd relative to it */
	snprintf(json, sizeof(json), "{\"guests\":[{\"name\":\"a\",\"mem\":\"64M\",\"initrd\":\"%s\"}]}",
		 strrchr(initrd, '/') + 1);
	cr_assert(chdir("/") == 0);
	cr_assert_eq(load(json, &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.guests[0].initrd, initrd);
	unlink(initrd);
}

Test(config, pool_defaults_to_the_guests_ram_in_whole_pageblocks)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(load("{\"guests\":[{\"mem\":\"64M\"},{\"mem\":\"17M\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.nodes, 1);
	/* 81M of RAM + 81M/64 + 16M of headroom, rounded up to 2M */
	cr_assert_eq(cfg.host.pool.size_bytes, 100ULL << 20);
	cr_assert_eq(load("{\"host\":{\"pool\":{\"nodes\":2}},\"guests\":[{\"mem\":\"16M\"}]}", &cfg, err), 0,
		     "%s", err);
	cr_assert_eq(cfg.host.pool.size_bytes, 64ULL << 20, "at least 32M a node");
}

Test(config, default_pool_leaves_out_anon_guests_ram)
{
	char err[CONFIG_ERR_MAX];

	/* an anon guest's RAM is the VMM's anonymous memory, outside the
	 * pool: only the pool guest's 64M (+ 1M of tables + 16M) counts */
	cr_assert_eq(load("{\"guests\":[{\"mem\":\"64M\"},{\"mem\":\"1G\",\"backend\":\"anon\"}]}", &cfg, err), 0,
		     "%s", err);
	cr_assert_eq(cfg.host.pool.size_bytes, 82ULL << 20);
	cr_assert_eq(load("{\"guests\":[{\"mem\":\"1G\",\"backend\":\"anon\"},{\"mem\":\"1G\",\"backend\":\"anon\"}]}",
			  &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.size_bytes, 32ULL << 20, "the smallest pool, not 2G of descriptors");
}

Test(config, pool_section_is_parsed_and_checked)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(load("{\"host\":{\"pool\":{\"size\":\"1G\",\"nodes\":2,\"min_free\":\"8M\",\"debug\":1}},"
			  "\"guests\":[{}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.size_bytes, 1ULL << 30);
	cr_assert_eq(cfg.host.pool.nodes, 2);
	cr_assert_eq(cfg.host.pool.min_free_bytes, 8ULL << 20);
	cr_assert_eq(cfg.host.pool.debug, 1);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"size\":\"3M\"}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.size"), "%s", err);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"nodes\":9}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.nodes"), "%s", err);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"swap\":1}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.swap: unknown key"), "%s", err);
	cr_assert_neq(load("{\"host\":{\"pool\":\"1G\"},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool: must be an object"), "%s", err);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"size\":\"64M\",\"min_free\":\"32M\"}},\"guests\":[{}]}",
			   &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.min_free"), "%s", err);
}

Test(config, hugepages_takes_none_2m_or_1g_and_defaults_to_none)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"guests\":[{\"hugepages\":\"2m\"},{},{\"mem\":\"1G\",\"hugepages\":\"1G\"},"
			  "{\"hugepages\":\"none\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.guests[0].hugepages, "2M", "written back in canonical case");
	cr_assert_str_eq(cfg.guests[1].hugepages, "none");
	cr_assert_str_eq(cfg.guests[2].hugepages, "1G");
	cr_assert_str_eq(cfg.guests[3].hugepages, "none");
	cr_assert_neq(load("{\"guests\":[{\"hugepages\":\"4M\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].hugepages: \"4M\" must be none, 2M or 1G"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"hugepages\":2}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].hugepages: must be a string"), "%s", err);
}

Test(config, hugepages_guest_flag_is_parsed)
{
	char err[CONFIG_ERR_MAX] = "";

	config_init(&cfg);
	cr_assert_eq(config_add_guest_flag(&cfg, "name=h,mem=64M,hugepages=2M", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_finish(&cfg, "/bin/sh", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.guests[0].hugepages, "2M");
	cr_assert_eq(cfg.host.pool.hugetlb_2m_bytes, 64ULL << 20);
}

Test(config, hugepages_needs_the_pool_backend_and_whole_pages)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_neq(load("{\"guests\":[{\"hugepages\":\"2M\",\"backend\":\"anon\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].hugepages: 2M needs backend pool"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"mem\":\"65M\",\"hugepages\":\"2M\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].mem: 65M must be whole 2M pages"), "%s", err);
	cr_assert_neq(load("{\"guests\":[{\"mem\":\"1536M\",\"hugepages\":\"1G\"}]}", &cfg, err), 0);
	cr_assert(strstr(err, "guests[0].mem: 1536M must be whole 1G pages"), "%s", err);
	/* above the 3G hole: 3G below it, the rest at 4G, both whole 1G pages */
	cr_assert_eq(load("{\"guests\":[{\"mem\":\"5G\",\"hugepages\":\"1G\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.hugetlb_1g_bytes, 5ULL << 30);
}

Test(config, hugetlb_regions_default_to_the_ram_asking_for_them)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"guests\":[{\"mem\":\"64M\",\"hugepages\":\"2M\"},{\"mem\":\"32M\",\"hugepages\":\"2M\"},"
			  "{\"mem\":\"1G\",\"hugepages\":\"1G\"},{\"mem\":\"64M\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.hugetlb_2m_bytes, 96ULL << 20);
	cr_assert_eq(cfg.host.pool.hugetlb_1g_bytes, 1ULL << 30);
	/* the normal pool: the 4 KiB guest's RAM, tables for all RAM
	 * ((96M + 1G + 64M) / 64), 16M of headroom, rounded up to 2M */
	cr_assert_eq(cfg.host.pool.size_bytes, 100ULL << 20);
	cr_assert_eq(load("{\"guests\":[{\"mem\":\"64M\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.hugetlb_2m_bytes, 0, "no hugetlb guest: no region");
	cr_assert_eq(cfg.host.pool.hugetlb_1g_bytes, 0);
}

Test(config, hugetlb_region_sizes_are_whole_pages)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"host\":{\"pool\":{\"hugetlb_2m\":\"128M\",\"hugetlb_1g\":\"2G\"}},"
			  "\"guests\":[{\"mem\":\"64M\",\"hugepages\":\"2M\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.hugetlb_2m_bytes, 128ULL << 20, "an explicit size is kept");
	cr_assert_eq(cfg.host.pool.hugetlb_1g_bytes, 2ULL << 30);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"hugetlb_2m\":\"3M\"}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.hugetlb_2m: 3M must be whole 2M pages"), "%s", err);
	cr_assert_neq(load("{\"host\":{\"pool\":{\"hugetlb_1g\":\"512M\"}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.hugetlb_1g: 512M must be whole 1G pages"), "%s", err);
}

Test(config, swap_section_is_parsed_and_checked)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(load("{\"guests\":[{}]}", &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.host.swap.path, "", "no host.swap: no swap");
	cr_assert_eq(cfg.host.swap.size_bytes, 0);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/var/tmp/gmm.swap\",\"size\":\"1G\"}},\"guests\":[{}]}",
			  &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.host.swap.path, "/var/tmp/gmm.swap");
	cr_assert_eq(cfg.host.swap.size_bytes, 1ULL << 30);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"gmm.swap\",\"size\":67108864}},\"guests\":[{}]}",
			  &cfg, err), 0, "%s", err);
	cr_assert_str_eq(cfg.host.swap.path, "/tmp/gmm.swap", "relative: next to the config file");
	cr_assert_eq(cfg.host.swap.size_bytes, 64ULL << 20, "plain bytes");
}

Test(config, swap_errors_name_the_field)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(load("{\"host\":{\"swap\":{\"size\":\"1G\"}},\"guests\":[{}]}", &cfg, err), -EINVAL);
	cr_assert(strstr(err, "host.swap.path: missing"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/var/tmp/s\"}},\"guests\":[{}]}", &cfg, err), -EINVAL);
	cr_assert(strstr(err, "host.swap.size: missing"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/s\",\"size\":\"3M\"}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.size: 3M must be whole 2M clusters, from 4M to 1T"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/s\",\"size\":\"2M\"}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.size: 2M"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/s\",\"size\":\"2T\"}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.size: 2T"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/s\",\"size\":\"12Q\"}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.size: \"12Q\" is not a size"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":\"/s\",\"prio\":1}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.prio: unknown key"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":\"1G\"},\"guests\":[{}]}", &cfg, err), -EINVAL);
	cr_assert(strstr(err, "host.swap: must be an object"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"swap\":{\"path\":5,\"size\":\"1G\"}},\"guests\":[{}]}", &cfg, err),
		     -EINVAL);
	cr_assert(strstr(err, "host.swap.path: must be a string"), "%s", err);
}

/* ---- numa.cells ---------------------------------------------------------- */

#define CELLS_HOST "{\"host\":{\"numa\":{\"emulate\":2}},\"guests\":[{\"vcpus\":2,\"mem\":\"%s\",\"numa\":{%s}}]}"

static int load_cells(const char *mem, const char *numa, char *err)
{
	char json[1024];

	snprintf(json, sizeof(json), CELLS_HOST, mem, numa);
	return load(json, &cfg, err);
}

Test(config, numa_cells_cut_ram_in_order_and_place_each_vcpu)
{
	char err[CONFIG_ERR_MAX] = "";
	const struct stage2_numa *p;

	cr_assert_eq(load_cells("256M", "\"cells\":[{\"cpus\":\"1\",\"mem\":\"64M\",\"node\":1},"
				"{\"cpus\":\"0\",\"mem\":\"192M\",\"node\":0}]", err), 0, "%s", err);
	p = &cfg.guests[0].numa.parsed;
	cr_assert_eq(p->nr_cells, 2);
	cr_assert_eq(p->cell_end_pages[0], (64ULL << 20) >> 12);
	cr_assert_eq(p->cell_end_pages[1], (256ULL << 20) >> 12);
	cr_assert_eq(p->cell_node[0], 1);
	cr_assert_eq(p->cell_node[1], 0);
	cr_assert_eq(p->vcpu_cell[0], 1);
	cr_assert_eq(p->vcpu_cell[1], 0);
	cr_assert_eq(stage2_numa_cell(p, 0), 0);
	cr_assert_eq(stage2_numa_cell(p, ((64ULL << 20) >> 12) - 1), 0);
	cr_assert_eq(stage2_numa_cell(p, (64ULL << 20) >> 12), 1);
	cr_assert_eq(stage2_numa_cell(p, (256ULL << 20) >> 12), -1);
}

Test(config, numa_cell_may_straddle_the_device_hole)
{
	char err[CONFIG_ERR_MAX] = "";
	const struct stage2_numa *p;
	uint64_t start, end, ram;

	/* 4G of RAM: 3G below the hole, 1G from 4G; cell 1 holds 2G..3G and 4G..5G */
	cr_assert_eq(load_cells("4G", "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"2G\",\"node\":0},"
				"{\"mem\":\"2G\",\"node\":1}]", err), 0, "%s", err);
	p = &cfg.guests[0].numa.parsed;
	stage2_numa_cell_span(p, 0, &start, &end, &ram);
	cr_assert(start == 0 && end == 2ULL << 30 && ram == 2ULL << 30);
	stage2_numa_cell_span(p, 1, &start, &end, &ram);
	cr_assert(start == 2ULL << 30 && end == 5ULL << 30 && ram == 2ULL << 30, "%#lx %#lx %#lx", start, end, ram);
	cr_assert_eq(stage2_numa_cell(p, (3ULL << 30 >> 12) - 1), 1);
	cr_assert_eq(stage2_numa_cell(p, 3ULL << 30 >> 12), -1);      /* the hole */
	cr_assert_eq(stage2_numa_cell(p, 4ULL << 30 >> 12), 1);
	cr_assert_eq(stage2_numa_cell(p, (5ULL << 30 >> 12) - 1), 1);
	cr_assert_eq(stage2_numa_cell(p, 5ULL << 30 >> 12), -1);
	/* a cell ending exactly at 3G ends there, not at 4G */
	cr_assert_eq(load_cells("4G", "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"3G\",\"node\":0},"
				"{\"mem\":\"1G\",\"node\":1}]", err), 0, "%s", err);
	stage2_numa_cell_span(&cfg.guests[0].numa.parsed, 0, &start, &end, &ram);
	cr_assert(start == 0 && end == 3ULL << 30, "%#lx", end);
	stage2_numa_cell_span(&cfg.guests[0].numa.parsed, 1, &start, &end, &ram);
	cr_assert(start == 4ULL << 30 && end == 5ULL << 30, "%#lx %#lx", start, end);
}

Test(config, numa_cells_errors_name_the_field)
{
	static const struct {
		const char *numa, *why;
	} cases[] = {
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"128M\",\"node\":0}]",
		  "guests[0].numa.cells: the cells' mem add up to 128M, but the guest's mem is 256M" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"200M\",\"node\":0},{\"mem\":\"100M\",\"node\":1}]",
		  "guests[0].numa.cells: the cells' mem add up to 300M or more" },
		{ "\"cells\":[{\"cpus\":\"0\",\"mem\":\"256M\",\"node\":0}]",
		  "guests[0].numa.cells: vCPU 1 is in no cell's cpus" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"128M\",\"node\":0},{\"cpus\":\"1\",\"mem\":\"128M\",\"node\":1}]",
		  "guests[0].numa.cells[1].cpus: vCPU 1 is in an earlier cell too" },
		{ "\"cells\":[{\"cpus\":\"0-2\",\"mem\":\"256M\",\"node\":0}]", "guests[0].numa.cells[0].cpus: \"0-2\"" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"256M\",\"node\":2}]",
		  "guests[0].numa.cells[0].node: 2, but the pool has 2 node(s)" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"256M\"}]", "guests[0].numa.cells[0].node: missing" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"node\":0}]", "guests[0].numa.cells[0].mem: missing" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"255M\",\"node\":0},{\"mem\":\"1M\",\"node\":0}]",
		  "guests[0].numa.cells[0].mem: 255M must be whole 2M blocks" },
		{ "\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"256M\",\"node\":0,\"weight\":1}]",
		  "guests[0].numa.cells[0].weight: unknown key" },
		{ "\"cells\":{\"cpus\":\"0-1\"}", "guests[0].numa.cells: must be an array of at most 8 cells" },
		{ "\"cells\":[1]", "guests[0].numa.cells[0]: must be an object" },
		{ "\"policy\":\"interleave\",\"nodes\":\"0-1\",\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"256M\",\"node\":0}]",
		  "guests[0].numa.cells: a cell binds its memory to its node; use cells or a policy" },
		{ "\"vcpu_node\":1,\"cells\":[{\"cpus\":\"0-1\",\"mem\":\"256M\",\"node\":0}]",
		  "guests[0].numa.vcpu_node: the cells say" },
	};
	char err[CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(load_cells("256M", cases[i].numa, err), -EINVAL, "%s", cases[i].numa);
		cr_assert(strstr(err, cases[i].why), "%s\n  got: %s\n  want: %s", cases[i].numa, err, cases[i].why);
	}
}

Test(config, numa_cells_at_most_eight_and_only_on_the_pool_backend)
{
	char err[CONFIG_ERR_MAX] = "", cells[1024] = "\"cells\":[";

	for (int j = 0; j < 9; j++)
		snprintf(cells + strlen(cells), sizeof(cells) - strlen(cells), "%s{\"cpus\":\"\",\"mem\":\"32M\",\"node\":0}",
			 j ? "," : "");
	strcat(cells, "]");
	cr_assert_eq(load_cells("288M", cells, err), -EINVAL);
	cr_assert(strstr(err, "guests[0].numa.cells: must be an array of at most 8 cells"), "%s", err);
	cr_assert_eq(load("{\"host\":{\"numa\":{\"emulate\":2}},\"guests\":[{\"mem\":\"64M\",\"backend\":\"anon\","
			  "\"numa\":{\"cells\":[{\"cpus\":\"0\",\"mem\":\"64M\",\"node\":1}]}}]}", &cfg, err), -EINVAL);
	cr_assert(strstr(err, "guests[0].numa.cells: NUMA cells need backend=pool and hugepages=none"), "%s", err);
	/* no cells: nothing parsed */
	cr_assert_eq(load_cells("256M", "\"cells\":[]", err), 0, "%s", err);
	cr_assert_eq(cfg.guests[0].numa.parsed.nr_cells, 0);
}

Test(config, home_span_defaults_to_the_thp_never_guests_ram_hole_included)
{
	char err[CONFIG_ERR_MAX] = "";

	cr_assert_eq(load("{\"guests\":[{\"name\":\"a\",\"mem\":\"64M\",\"thp\":\"never\"},"
			  "{\"name\":\"b\",\"mem\":\"64M\"},"
			  "{\"name\":\"c\",\"mem\":\"4G\",\"thp\":\"never\"},"
			  "{\"name\":\"d\",\"mem\":\"65M\",\"thp\":\"never\",\"hugepages\":\"none\"}]}",
			  &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.home_frames, 1, "on by default");
	/* a: 64M; b: thp=always, none; c: 3G + the 1G hole + 1G; d: 65M in whole 2M */
	cr_assert_eq(cfg.host.pool.home_bytes, (64ULL << 20) + (5ULL << 30) + (66ULL << 20));
	cr_assert_eq(cfg.host.self_serve_faults, 1);
	cr_assert_eq(load("{\"host\":{\"pool\":{\"home_frames\":0},\"self_serve_faults\":0},"
			  "\"guests\":[{\"thp\":\"never\"}]}", &cfg, err), 0, "%s", err);
	cr_assert_eq(cfg.host.pool.home_bytes, 0, "off: no span");
	cr_assert_eq(cfg.host.self_serve_faults, 0);
	cr_assert_eq(load("{\"host\":{\"pool\":{\"home\":\"128M\"}},\"guests\":[{\"thp\":\"never\"}]}", &cfg, err),
		     0, "%s", err);
	cr_assert_eq(cfg.host.pool.home_bytes, 128ULL << 20, "an explicit span is kept");
	cr_assert_neq(load("{\"host\":{\"pool\":{\"home\":\"3M\"}},\"guests\":[{}]}", &cfg, err), 0);
	cr_assert(strstr(err, "host.pool.home: 3M must be whole 2M blocks"), "%s", err);
}
