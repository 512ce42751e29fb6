/*
 * libFuzzer target: a hostile config file or --guest flags.
 *
 * Input: byte 0 picks the form. Even: the rest is a JSON config
 * (`gmm run --config`), loaded with config_load_buffer(). Odd: the rest is
 * up to GMM_MAX_GUESTS + 2 `--guest` specs, one a line, each given to
 * config_add_guest_flag(). Either way config_finish() then checks the
 * whole (default kernel /dev/null: readable, so inputs get past the kernel
 * check to the pool, swap, NUMA, home and hugetlb rules).
 *
 * What must hold: every failure leaves a non-empty, terminated message in
 * err; a config that passes has 1..GMM_MAX_GUESTS guests, each with a name
 * gmm accepts, RAM, at least one vCPU, a thp, backend and hugepages value
 * from its list, an oom_score_adj within -1000..1000, and names that are
 * unique.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void check_err(int ret, const char *err)
{
	if (!ret)
		return;
	check(ret < 0);
	check(memchr(err, '\0', CONFIG_ERR_MAX) != NULL);
	check(err[0] != '\0');
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void check_config(const struct gmm_config *cfg)
{
	static const char *const thp[] = { "always", "madvise", "never", NULL };
	static const char *const backend[] = { "pool", "anon", NULL };
	static const char *const huge[] = { "none", "2M", "1G", NULL };

	check(cfg->nr_guests >= 1 && cfg->nr_guests <= GMM_MAX_GUESTS);
	for (int i = 0; i < cfg->nr_guests; i++) {
		const struct vm_config *g = &cfg->guests[i];

		check(memchr(g->name, '\0', sizeof(g->name)) != NULL);
		check(config_name_ok(g->name));
		check(g->mem_bytes > 0);
		check(g->vcpus >= 1);
		check(one_of(g->thp, thp));
		check(one_of(g->backend, backend));
		check(one_of(g->hugepages, huge));
		check(g->oom_score_adj >= -1000 && g->oom_score_adj <= 1000);
		for (int j = 0; j < i; j++)
			check(strcmp(g->name, cfg->guests[j].name) != 0);
	}
}

/* The --guest form: each line a spec, as the CLI passes them one by one. */
static int load_flags(struct gmm_config *cfg, const uint8_t *data, size_t size, char *err)
{
	char spec[4096];
	size_t at = 0;

	for (int n = 0; n < GMM_MAX_GUESTS + 2 && at < size; n++) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = (nl ? (size_t)(nl - data) : size) - at;
		int ret;

		if (len >= sizeof(spec))
			len = sizeof(spec) - 1;
		memcpy(spec, data + at, len);
		spec[len] = '\0';
		at += len + 1;
		ret = config_add_guest_flag(cfg, spec, err, CONFIG_ERR_MAX);
		check_err(ret, err);
		if (ret)
			return ret;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmm_config cfg; /* ~70 KiB: not on the stack */
	char err[CONFIG_ERR_MAX];
	int ret;

	if (size < 1)
		return 0;
	config_init(&cfg);
	memset(err, 0x5a, sizeof(err));
	if (data[0] % 2 == 0)
		ret = config_load_buffer(&cfg, (const char *)data + 1, size - 1, "fuzz.json", err, sizeof(err));
	else
		ret = load_flags(&cfg, data + 1, size - 1, err);
	check_err(ret, err);
	check(cfg.nr_guests >= 0 && cfg.nr_guests <= GMM_MAX_GUESTS);
	if (ret)
		return 0;
	ret = config_finish(&cfg, "/dev/null", err, sizeof(err));
	check_err(ret, err);
	if (!ret)
		check_config(&cfg);
	return 0;
}
