/* See config.h. */
#include "vmm/config.h"
#include "vmm/numa_topology.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/hugetlb.h"
#include "vmm/size.h"
#include "guest/abi.h"

#define GUEST_MIN_MEM (16ULL << 20)

enum cfg_type { CFG_STR, CFG_SIZE, CFG_INT, CFG_OBJ, CFG_DISTANCES, CFG_CELLS };

struct cfg_key {
	const char *key;
	enum cfg_type type;
	size_t off;
	size_t len;          /* CFG_STR: buffer size */
	long long min, max;  /* CFG_INT */
	const struct cfg_key *sub; /* CFG_OBJ: the nested object's keys */
	size_t nsub;
};

#define STR(st, f)  { #f, CFG_STR, offsetof(struct st, f), sizeof(((struct st *)0)->f), 0, 0, NULL, 0 }

static const struct cfg_key limit_keys[] = {
	{ "max", CFG_SIZE, offsetof(struct limits_config, max), 0, 0, 0, NULL, 0 },
	{ "high", CFG_SIZE, offsetof(struct limits_config, high), 0, 0, 0, NULL, 0 },
	{ "low", CFG_SIZE, offsetof(struct limits_config, low), 0, 0, 0, NULL, 0 },
	{ "min", CFG_SIZE, offsetof(struct limits_config, min), 0, 0, 0, NULL, 0 },
	{ "swap_max", CFG_SIZE, offsetof(struct limits_config, swap_max), 0, 0, 0, NULL, 0 },
};

static const struct cfg_key balloon_keys[] = {
	{ "enabled", CFG_INT, offsetof(struct balloon_user_config, enabled), 0, 0, 1, NULL, 0 },
	{ "stats_period", CFG_INT, offsetof(struct balloon_user_config, stats_period), 0, 0, 3600, NULL, 0 },
	{ "auto", CFG_INT, offsetof(struct balloon_user_config, auto_mode), 0, 0, 1, NULL, 0 },
};

/* guests[].numa.cells[j] (numa_finish() checks them against the guest) */
static const struct cfg_key numa_cell_keys[] = {
	STR(numa_cell_config, cpus),
	{ "mem", CFG_SIZE, offsetof(struct numa_cell_config, mem_bytes), 0, 0, 0, NULL, 0 },
	{ "node", CFG_INT, offsetof(struct numa_cell_config, node), 0, 0, POOL_MAX_NODES - 1, NULL, 0 },
};

static const struct cfg_key guest_numa_keys[] = {
	STR(numa_guest_config, policy),
	STR(numa_guest_config, nodes),
	STR(numa_guest_config, weights),
	{ "vcpu_node", CFG_INT, offsetof(struct numa_guest_config, vcpu_node), 0, 0, POOL_MAX_NODES - 1, NULL, 0 },
	{ "balancing", CFG_INT, offsetof(struct numa_guest_config, balancing), 0, 0, 1, NULL, 0 },
	{ "cells", CFG_CELLS, offsetof(struct numa_guest_config, nr_cells), 0, 0, 0, NULL, 0 },
};

static const struct cfg_key guest_keys[] = {
	{ "name", CFG_STR, offsetof(struct vm_config, name), VM_NAME_MAX, 0, 0, NULL, 0 },
	{ "mem", CFG_SIZE, offsetof(struct vm_config, mem_bytes), 0, 0, 0, NULL, 0 },
	{ "vcpus", CFG_INT, offsetof(struct vm_config, vcpus), 0, 1, GMM_MAX_VCPUS, NULL, 0 },
	STR(vm_config, kernel),
	STR(vm_config, initrd),
	STR(vm_config, cmdline),
	STR(vm_config, console),
	STR(vm_config, thp),
	STR(vm_config, backend),
	{ "fault_around", CFG_SIZE, offsetof(struct vm_config, fault_around_bytes), 0, 0, 0, NULL, 0 },
	{ "prefault", CFG_INT, offsetof(struct vm_config, prefault), 0, 0, 1, NULL, 0 },
	{ "dirty_log", CFG_INT, offsetof(struct vm_config, dirty_log), 0, 0, 1, NULL, 0 },
	{ "oom_score_adj", CFG_INT, offsetof(struct vm_config, oom_score_adj), 0, -1000, 1000, NULL, 0 },
	STR(vm_config, hugepages),
	{ "limits", CFG_OBJ, offsetof(struct vm_config, limits), 0, 0, 0, limit_keys,
	  sizeof(limit_keys) / sizeof(limit_keys[0]) },
	{ "balloon", CFG_OBJ, offsetof(struct vm_config, balloon), 0, 0, 0, balloon_keys,
	  sizeof(balloon_keys) / sizeof(balloon_keys[0]) },
	{ "numa", CFG_OBJ, offsetof(struct vm_config, numa), 0, 0, 0, guest_numa_keys,
	  sizeof(guest_numa_keys) / sizeof(guest_numa_keys[0]) },
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const struct cfg_key pool_keys[] = {
	{ "size", CFG_SIZE, offsetof(struct pool_config, size_bytes), 0, 0, 0, NULL, 0 },
	{ "nodes", CFG_INT, offsetof(struct pool_config, nodes), 0, 1, POOL_MAX_NODES, NULL, 0 },
	{ "min_free", CFG_SIZE, offsetof(struct pool_config, min_free_bytes), 0, 0, 0, NULL, 0 },
	{ "debug", CFG_INT, offsetof(struct pool_config, debug), 0, 0, 1, NULL, 0 },
	{ "reserve", CFG_SIZE, offsetof(struct pool_config, reserve_bytes), 0, 0, 0, NULL, 0 },
	{ "hugetlb_2m", CFG_SIZE, offsetof(struct pool_config, hugetlb_2m_bytes), 0, 0, 0, NULL, 0 },
	{ "hugetlb_1g", CFG_SIZE, offsetof(struct pool_config, hugetlb_1g_bytes), 0, 0, 0, NULL, 0 },
	{ "home_frames", CFG_INT, offsetof(struct pool_config, home_frames), 0, 0, 1, NULL, 0 },
	{ "home", CFG_SIZE, offsetof(struct pool_config, home_bytes), 0, 0, 0, NULL, 0 },
};

static const struct cfg_key swap_keys[] = {
	STR(swap_config, path),
	{ "size", CFG_SIZE, offsetof(struct swap_config, size_bytes), 0, 0, 0, NULL, 0 },
};

static const struct cfg_key reclaim_keys[] = {
	STR(reclaim_config, victims),
};

static const struct cfg_key numa_keys[] = {
	{ "emulate", CFG_INT, offsetof(struct numa_host_config, emulate), 0, 1, POOL_MAX_NODES, NULL, 0 },
	{ "distances", CFG_DISTANCES, offsetof(struct numa_host_config, nr_distance_rows), 0, 0, 0, NULL, 0 },
};

static const struct cfg_key compaction_keys[] = {
	{ "proactiveness", CFG_INT, offsetof(struct compaction_config, proactiveness), 0, 0, 100, NULL, 0 },
};

static const struct cfg_key host_keys[] = {
	STR(host_config, accel),
	STR(host_config, control),
	{ "pool", CFG_OBJ, offsetof(struct host_config, pool), 0, 0, 0, pool_keys, NKEYS(pool_keys) },
	{ "swap", CFG_OBJ, offsetof(struct host_config, swap), 0, 0, 0, swap_keys, NKEYS(swap_keys) },
	{ "reclaim", CFG_OBJ, offsetof(struct host_config, reclaim), 0, 0, 0, reclaim_keys, NKEYS(reclaim_keys) },
	{ "numa", CFG_OBJ, offsetof(struct host_config, numa), 0, 0, 0, numa_keys, NKEYS(numa_keys) },
	{ "compaction", CFG_OBJ, offsetof(struct host_config, compaction), 0, 0, 0, compaction_keys,
	  NKEYS(compaction_keys) },
	{ "self_serve_faults", CFG_INT, offsetof(struct host_config, self_serve_faults), 0, 0, 1, NULL, 0 },
};

static const struct cfg_key *key_find(const struct cfg_key *keys, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

/* Set one field from its text form (flags give text; JSON strings too). */
static int field_set_text(const struct cfg_key *k, void *base, const char *text, const char *path,
			  char *err, size_t errlen)
{
	char *field = (char *)base + k->off;
	uint64_t bytes;
	long long v;
	char *end;

	switch (k->type) {
	case CFG_STR:
		if (strlen(text) >= k->len) {
			snprintf(err, errlen, "%s: longer than %zu characters", path, k->len - 1);
			return -EINVAL;
		}
		strcpy(field, text);
		return 0;
	case CFG_SIZE:
		if (size_parse(text, &bytes)) {
			snprintf(err, errlen, "%s: \"%s\" is not a size (use 512M, 2G or bytes)", path, text);
			return -EINVAL;
		}
		memcpy(field, &bytes, sizeof(bytes));
		return 0;
	case CFG_OBJ:
		snprintf(err, errlen, "%s: must be an object", path);
		return -EINVAL;
	case CFG_DISTANCES:
		snprintf(err, errlen, "%s: must be a square array of arrays of numbers", path);
		return -EINVAL;
	case CFG_CELLS:
		snprintf(err, errlen, "%s: must be an array of cell objects ({\"cpus\", \"mem\", \"node\"})", path);
		return -EINVAL;
	case CFG_INT:
		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno || end == text || *end || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s: \"%s\" must be a whole number from %lld to %lld", path, text,
				 k->min, k->max);
			return -EINVAL;
		}
		*(int *)field = (int)v;
		return 0;
	}
	return -EINVAL;
}

static int apply_object(json_t *obj, const struct cfg_key *keys, size_t n, void *base, const char *path,
			char *err, size_t errlen);

/* host.numa.distances: [[10, 20], [20, 10]], as a SLIT: square, 10 on the
 * diagonal, symmetric, 11..254 elsewhere. */
static int distances_set(struct numa_host_config *n, json_t *val, const char *path, char *err, size_t errlen)
{
	size_t rows = json_is_array(val) ? json_array_size(val) : 0;

	if (!rows || rows > POOL_MAX_NODES) {
		snprintf(err, errlen, "%s: must be an array of 1 to %d rows", path, POOL_MAX_NODES);
		return -EINVAL;
	}
	for (size_t a = 0; a < rows; a++) {
		json_t *row = json_array_get(val, a);

		if (!json_is_array(row) || json_array_size(row) != rows) {
			snprintf(err, errlen, "%s[%zu]: must be an array of %zu numbers (square)", path, a, rows);
			return -EINVAL;
		}
		for (size_t b = 0; b < rows; b++) {
			json_t *v = json_array_get(row, b);
			json_int_t d = json_is_integer(v) ? json_integer_value(v) : -1;

			if (a == b ? d != 10 : d < 11 || d > 254) {
				snprintf(err, errlen, "%s[%zu][%zu]: %s", path, a, b,
					 a == b ? "a node's distance to itself is 10" : "must be 11 to 254");
				return -EINVAL;
			}
			n->distance[a][b] = (uint8_t)d;
		}
	}
	for (size_t a = 0; a < rows; a++)
		for (size_t b = 0; b < rows; b++)
			if (n->distance[a][b] != n->distance[b][a]) {
				snprintf(err, errlen, "%s: not symmetric at [%zu][%zu]", path, a, b);
				return -EINVAL;
			}
	n->nr_distance_rows = (int)rows;
	return 0;
}

/* guests[].numa.cells: [{"cpus": "0-1", "mem": "256M", "node": 1}, ...],
 * at most STAGE2_MAX_CELLS; each cell's keys through the key table. */
static int cells_set(struct numa_guest_config *n, json_t *val, const char *path, char *err, size_t errlen)
{
	size_t nr = json_is_array(val) ? json_array_size(val) : 0;
	char sub[300];

	if (!json_is_array(val) || nr > STAGE2_MAX_CELLS) {
		snprintf(err, errlen, "%s: must be an array of at most %d cells ({\"cpus\", \"mem\", \"node\"})",
			 path, STAGE2_MAX_CELLS);
		return -EINVAL;
	}
	for (size_t j = 0; j < nr; j++) {
		struct numa_cell_config *c = &n->cells[j];
		int ret;

		memset(c, 0, sizeof(*c));
		c->node = -1;
		snprintf(sub, sizeof(sub), "%s[%d]", path, (int)j);
		ret = apply_object(json_array_get(val, j), numa_cell_keys, sizeof(numa_cell_keys) /
				   sizeof(numa_cell_keys[0]), c, sub, err, errlen);
		if (ret)
			return ret;
	}
	n->nr_cells = (int)nr;
	return 0;
}

static int field_set_json(const struct cfg_key *k, void *base, json_t *val, const char *path,
			  char *err, size_t errlen)
{
	char text[64];

	if (k->type == CFG_OBJ)
		return apply_object(val, k->sub, k->nsub, (char *)base + k->off, path, err, errlen);
	if (k->type == CFG_DISTANCES)
		return distances_set((struct numa_host_config *)((char *)base + k->off -
							  offsetof(struct numa_host_config, nr_distance_rows)),
				     val, path, err, errlen);
	if (k->type == CFG_CELLS)
		return cells_set((struct numa_guest_config *)((char *)base + k->off -
							   offsetof(struct numa_guest_config, nr_cells)),
				 val, path, err, errlen);

	if (json_is_string(val))
		return field_set_text(k, base, json_string_value(val), path, err, errlen);
	if (json_is_integer(val) && k->type != CFG_STR) {
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(val));
		return field_set_text(k, base, text, path, err, errlen);
	}
	snprintf(err, errlen, "%s: must be %s", path,
		 k->type == CFG_STR ? "a string" : k->type == CFG_SIZE ? "a size string (\"512M\") or bytes" :
		 "a number");
	return -EINVAL;
}

static int apply_object(json_t *obj, const struct cfg_key *keys, size_t n, void *base, const char *path,
			char *err, size_t errlen)
{
	const char *key;
	json_t *val;
	char sub[256];

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object", path);
		return -EINVAL;
	}
	json_object_foreach(obj, key, val) {
		const struct cfg_key *k = key_find(keys, n, key);
		int ret;

		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (!k) {
			snprintf(err, errlen, "%s: unknown key", sub);
			return -EINVAL;
		}
		ret = field_set_json(k, base, val, sub, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

void config_guest_defaults(struct vm_config *g)
{
	memset(g, 0, sizeof(*g));
	g->limits = (struct limits_config){ LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET, LIMIT_UNSET };
	g->mem_bytes = 256ULL << 20;
	g->vcpus = 1;
	strcpy(g->thp, "always");
	strcpy(g->backend, "pool");
	strcpy(g->hugepages, "none");
	g->fault_around_bytes = GUEST_DEFAULT_FAULT_AROUND;
}

void config_init(struct gmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->host.accel, "auto");
	cfg->host.pool.nodes = 1;
	cfg->host.pool.reserve_bytes = POOL_RESERVE_UNSET;
	cfg->host.pool.home_frames = 1;
	cfg->host.self_serve_faults = 1;
	cfg->host.compaction.proactiveness = 20;   /* the kernel's default */
}

int config_guest_from_json(struct vm_config *g, const void *obj, const char *path, char *err, size_t errlen)
{
	return apply_object((json_t *)obj, guest_keys, NKEYS(guest_keys), g, path, err, errlen);
}

static int load_guests(struct gmm_config *cfg, json_t *arr, char *err, size_t errlen)
{
	size_t i;
	json_t *g;
	char path[32];

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "guests: must be an array of guest objects");
		return -EINVAL;
	}
	json_array_foreach(arr, i, g) {
		int ret;

		snprintf(path, sizeof(path), "guests[%zu]", i);
		if (cfg->nr_guests == GMM_MAX_GUESTS) {
			snprintf(err, errlen, "%s: at most %d guests", path, GMM_MAX_GUESTS);
			return -E2BIG;
		}
		config_guest_defaults(&cfg->guests[cfg->nr_guests]);
		ret = config_guest_from_json(&cfg->guests[cfg->nr_guests], g, path, err, errlen);
		if (ret)
			return ret;
		cfg->nr_guests++;
	}
	return 0;
}

/* The top level of a config already parsed: "host", "guests", "comment".
 * name is what errors call the config (its file). */
static int apply_root(struct gmm_config *cfg, json_t *root, const char *name, char *err, size_t errlen)
{
	const char *key;
	json_t *val;
	int ret = 0;

	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: the top level must be an object with \"host\" and \"guests\"", name);
		return -EINVAL;
	}
	json_object_foreach(root, key, val) {
		if (!strcmp(key, "host"))
			ret = apply_object(val, host_keys, NKEYS(host_keys), &cfg->host, "host", err, errlen);
		else if (!strcmp(key, "guests"))
			ret = load_guests(cfg, val, err, errlen);
		else if (!strcmp(key, "comment"))
			ret = 0;
		else {
			snprintf(err, errlen, "%s: unknown key", key);
			ret = -EINVAL;
		}
		if (ret)
			break;
	}
	return ret;
}

/* root as jansson parsed it (NULL: jerr says why), applied and released. */
static int apply_parsed(struct gmm_config *cfg, json_t *root, const json_error_t *jerr, const char *name, char *err,
			size_t errlen)
{
	int ret;

	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", name, jerr->line, jerr->column, jerr->text);
		return -EINVAL;
	}
	ret = apply_root(cfg, root, name, err, errlen);
	json_decref(root);
	return ret;
}

int config_load_file(struct gmm_config *cfg, const char *file, char *err, size_t errlen)
{
	json_error_t jerr;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", file);
	snprintf(cfg->dir, sizeof(cfg->dir), "%s", dirname(dir));
	return apply_parsed(cfg, json_load_file(file, JSON_REJECT_DUPLICATES, &jerr), &jerr, file, err, errlen);
}

int config_load_buffer(struct gmm_config *cfg, const char *buf, size_t len, const char *name, char *err,
		       size_t errlen)
{
	json_error_t jerr;

	cfg->dir[0] = '\0'; /* no file: a relative path is taken as given */
	return apply_parsed(cfg, json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), &jerr, name, err, errlen);
}

/* Split "k=v,k=v" with double quotes protecting commas inside a value. */
int config_add_guest_flag(struct gmm_config *cfg, const char *spec, char *err, size_t errlen)
{
	struct vm_config *g;
	const char *p = spec;
	char key[32], val[GMM_CMDLINE_MAX], path[64];

	if (cfg->nr_guests == GMM_MAX_GUESTS) {
		snprintf(err, errlen, "--guest: at most %d guests", GMM_MAX_GUESTS);
		return -E2BIG;
	}
	g = &cfg->guests[cfg->nr_guests];
	config_guest_defaults(g);
	while (*p) {
		size_t kn = 0, vn = 0;
		bool quoted = false;
		const struct cfg_key *k;
		int ret;

		while (*p && *p != '=' && *p != ',' && kn < sizeof(key) - 1)
			key[kn++] = *p++;
		key[kn] = '\0';
		if (*p != '=') {
			snprintf(err, errlen, "--guest: \"%s\": expected key=value", key);
			return -EINVAL;
		}
		p++;
		while (*p && (quoted || *p != ',')) {
			if (*p == '"') {
				quoted = !quoted;
				p++;
				continue;
			}
			if (vn == sizeof(val) - 1) {
				snprintf(err, errlen, "--guest: %s: value too long", key);
				return -EINVAL;
			}
			val[vn++] = *p++;
		}
		val[vn] = '\0';
		if (quoted) {
			snprintf(err, errlen, "--guest: %s: unterminated quote", key);
			return -EINVAL;
		}
		if (*p == ',')
			p++;
		snprintf(path, sizeof(path), "--guest %s", key);
		k = key_find(guest_keys, NKEYS(guest_keys), key);
		if (!k) {
			snprintf(err, errlen, "%s: unknown key (name, mem, vcpus, kernel, initrd, cmdline, console, thp, backend, fault_around, prefault, dirty_log, hugepages, oom_score_adj, limits, balloon, numa)", path);
			return -EINVAL;
		}
		ret = field_set_text(k, g, val, path, err, errlen);
		if (ret)
			return ret;
	}
	cfg->nr_guests++;
	return 0;
}

bool config_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* A relative kernel or initrd path is tried as given, then next to the
 * config file. file is g->kernel or g->initrd, key its name in errors. */
static int resolve_path(struct gmm_config *cfg, char *file, size_t size, const char *path, const char *key,
			char *err, size_t errlen)
{
	char alt[PATH_MAX * 2];

	if (access(file, R_OK) == 0)
		return 0;
	if (file[0] != '/' && cfg->dir[0]) {
		snprintf(alt, sizeof(alt), "%s/%s", cfg->dir, file);
		if (access(alt, R_OK) == 0 && strlen(alt) < size) {
			strcpy(file, alt);
			return 0;
		}
	}
	snprintf(err, errlen, "%s.%s: %s: %s", path, key, file, strerror(errno));
	return -ENOENT;
}

/*
 * hugepages: none | 2M | 1G, written back in canonical case. Only the pool
 * backend: an anon guest would be MAP_HUGETLB memory outside the pool and
 * its sizing, so it is refused. RAM must be whole pages: with the device
 * hole at 3G, 1G pages then fit both RAM slots (0 and 4G) exactly.
 */
static int hugepages_finish(struct vm_config *g, const char *path, char *err, size_t errlen)
{
	enum hugetlb_size s;
	uint64_t page;
	char a[32];

	if (hugetlb_size_parse(g->hugepages, &s)) {
		snprintf(err, errlen, "%s.hugepages: \"%s\" must be none, 2M or 1G", path, g->hugepages);
		return -EINVAL;
	}
	strcpy(g->hugepages, hugetlb_size_name(s));
	if (s == HUGETLB_NONE)
		return 0;
	if (strcmp(g->backend, "pool")) {
		snprintf(err, errlen, "%s.hugepages: %s needs backend pool (not %s)", path, g->hugepages, g->backend);
		return -EINVAL;
	}
	page = 1ULL << (hugetlb_size_order(s) + 12);
	if (g->mem_bytes % page) {
		snprintf(err, errlen, "%s.mem: %s must be whole %s pages with hugepages=%s", path,
			 size_format(g->mem_bytes, a), g->hugepages, g->hugepages);
		return -EINVAL;
	}
	return 0;
}

/* One guest's own rules (not the ones across guests or with the pool);
 * path names it in errors ("guests[1]"). */
static int guest_check(struct gmm_config *cfg, struct vm_config *g, const char *path, const char *default_kernel,
		       char *err, size_t errlen)
{
	char a[32];

	if (!config_name_ok(g->name)) {
		snprintf(err, errlen, "%s.name: \"%s\": use letters, digits, '-', '_' and '.'", path, g->name);
		return -EINVAL;
	}
	if (g->mem_bytes < GUEST_MIN_MEM || g->mem_bytes % 4096 ||
	    g->mem_bytes > GUEST_MEM_MAX_SPAN - (GMM_GPA_HOLE_END - GMM_GPA_HOLE_START)) {
		snprintf(err, errlen, "%s.mem: %s must be a multiple of 4K from 16M to 42G", path,
			 size_format(g->mem_bytes, a));
		return -EINVAL;
	}
	if (strcmp(g->thp, "always") && strcmp(g->thp, "madvise") && strcmp(g->thp, "never")) {
		snprintf(err, errlen, "%s.thp: \"%s\" must be always, madvise or never", path, g->thp);
		return -EINVAL;
	}
	if (strcmp(g->backend, "pool") && strcmp(g->backend, "anon")) {
		snprintf(err, errlen, "%s.backend: \"%s\" must be pool or anon", path, g->backend);
		return -EINVAL;
	}
	if (strcmp(g->backend, "pool") && (g->limits.max != LIMIT_UNSET || g->limits.high != LIMIT_UNSET ||
					   g->limits.low != LIMIT_UNSET || g->limits.min != LIMIT_UNSET ||
					   g->limits.swap_max != LIMIT_UNSET)) {
		snprintf(err, errlen, "%s.limits: limits need backend=pool", path);
		return -EINVAL;
	}
	if (g->limits.max != LIMIT_UNSET && g->limits.max < STAGE2_LIMIT_MAX_MIN_BYTES) {
		snprintf(err, errlen, "%s.limits.max: at least 4M (the guest's system area and a block)", path);
		return -EINVAL;
	}
	if (!g->balloon.enabled && (g->balloon.auto_mode || g->balloon.stats_period)) {
		snprintf(err, errlen, "%s.balloon: auto and stats_period need \"enabled\": 1", path);
		return -EINVAL;
	}
	if (g->balloon.auto_mode && strcmp(g->backend, "pool")) {
		snprintf(err, errlen, "%s.balloon.auto: the host policy needs backend=pool", path);
		return -EINVAL;
	}
	if (g->dirty_log && strcmp(g->backend, "pool")) {
		snprintf(err, errlen, "%s.dirty_log: write tracking needs backend=pool", path);
		return -EINVAL;
	}
	if (hugepages_finish(g, path, err, errlen))
		return -EINVAL;
	if (g->fault_around_bytes < 4096 || g->fault_around_bytes > (2ULL << 20) ||
	    (g->fault_around_bytes & (g->fault_around_bytes - 1))) {
		snprintf(err, errlen, "%s.fault_around: %s must be a power of two from 4K to 2M", path,
			 size_format(g->fault_around_bytes, a));
		return -EINVAL;
	}
	if (!g->kernel[0]) {
		if (!default_kernel || strlen(default_kernel) >= sizeof(g->kernel)) {
			snprintf(err, errlen, "%s.kernel: missing, and no default test guest was found", path);
			return -ENOENT;
		}
		strcpy(g->kernel, default_kernel);
	}
	if (g->initrd[0] && resolve_path(cfg, g->initrd, sizeof(g->initrd), path, "initrd", err, errlen))
		return -ENOENT;
	return resolve_path(cfg, g->kernel, sizeof(g->kernel), path, "kernel", err, errlen);
}

static int guest_finish(struct gmm_config *cfg, int i, const char *default_kernel, char *err, size_t errlen)
{
	struct vm_config *g = &cfg->guests[i];
	char path[32];

	snprintf(path, sizeof(path), "guests[%d]", i);
	if (!g->name[0])
		snprintf(g->name, sizeof(g->name), "guest%d", i);
	for (int j = 0; j < i; j++) {
		if (!strcmp(cfg->guests[j].name, g->name)) {
			snprintf(err, errlen, "%s.name: \"%s\" is already used by guests[%d]", path, g->name, j);
			return -EEXIST;
		}
	}
	return guest_check(cfg, g, path, default_kernel, err, errlen);
}

/* "0-2,5" -> a node mask; -1 for anything else or a node >= nr_nodes. */
static int64_t nodelist_parse(const char *s, int nr_nodes)
{
	uint64_t mask;

	return id_list_parse(s, nr_nodes, &mask) ? -1 : (int64_t)mask;
}

/* One cell: its node, its mem (whole 2 MiB blocks: the fault path takes
 * blocks of up to 2 MiB, aligned, which must not straddle two cells) and
 * its vCPUs, none already in another cell. */
static int cell_check(const struct vm_config *g, int j, const char *path, int nr_nodes, uint64_t *cpus_seen,
		      uint64_t *cpus, char *err, size_t errlen)
{
	const struct numa_cell_config *c = &g->numa.cells[j];
	char a[32];

	if (c->node < 0) {
		snprintf(err, errlen, "%s.cells[%d].node: missing (the pool node its memory is bound to)", path, j);
		return -EINVAL;
	}
	if (c->node >= nr_nodes) {
		snprintf(err, errlen, "%s.cells[%d].node: %d, but the pool has %d node(s)", path, j, c->node, nr_nodes);
		return -EINVAL;
	}
	if (!c->mem_bytes) {
		snprintf(err, errlen, "%s.cells[%d].mem: missing (its share of the guest's RAM)", path, j);
		return -EINVAL;
	}
	if (c->mem_bytes % POOL_ALIGN_BYTES) {
		snprintf(err, errlen, "%s.cells[%d].mem: %s must be whole 2M blocks", path, j,
			 size_format(c->mem_bytes, a));
		return -EINVAL;
	}
	if (id_list_parse(c->cpus, g->vcpus, cpus)) {
		snprintf(err, errlen, "%s.cells[%d].cpus: \"%s\" must be a list of the guest's vCPUs (0-%d), "
			 "like \"0-1,3\"", path, j, c->cpus, g->vcpus - 1);
		return -EINVAL;
	}
	if (*cpus & *cpus_seen) {
		snprintf(err, errlen, "%s.cells[%d].cpus: vCPU %d is in an earlier cell too", path, j,
			 __builtin_ctzll(*cpus & *cpus_seen));
		return -EINVAL;
	}
	*cpus_seen |= *cpus;
	return 0;
}

/*
 * guests[].numa.cells: each cell's memory bound to its node, its vCPUs
 * local to it. Cells cut RAM in order; their mem adds up to the guest's
 * and their cpus cover each vCPU once. Cells and a policy do not mix:
 * the cells are the policy.
 */
static int cells_finish(struct vm_config *g, const char *path, int nr_nodes, char *err, size_t errlen)
{
	struct numa_guest_config *n = &g->numa;
	struct stage2_numa *p = &n->parsed;
	uint64_t seen = 0, sum = 0, all = g->vcpus >= 64 ? ~0ULL : (1ULL << g->vcpus) - 1;
	char a[32], b[32];

	if (!n->nr_cells)
		return 0;
	if (p->mode != MPOL_DEFAULT || p->nodemask) {
		snprintf(err, errlen, "%s.cells: a cell binds its memory to its node; use cells or a policy", path);
		return -EINVAL;
	}
	if (n->vcpu_node) {
		snprintf(err, errlen, "%s.vcpu_node: the cells say which node each vCPU is on", path);
		return -EINVAL;
	}
	if (strcmp(g->backend, "pool") || strcmp(g->hugepages, "none")) {
		snprintf(err, errlen, "%s.cells: NUMA cells need backend=pool and hugepages=none", path);
		return -EINVAL;
	}
	for (int j = 0; j < n->nr_cells; j++) {
		uint64_t cpus;

		if (cell_check(g, j, path, nr_nodes, &seen, &cpus, err, errlen))
			return -EINVAL;
		sum += n->cells[j].mem_bytes;
		if (sum > g->mem_bytes)
			break;
		p->cell_end_pages[j] = sum >> 12;
		p->cell_node[j] = (uint8_t)n->cells[j].node;
		for (int v = 0; v < g->vcpus; v++)
			if ((cpus >> v) & 1)
				p->vcpu_cell[v] = (uint8_t)j;
	}
	if (sum != g->mem_bytes) {
		snprintf(err, errlen, "%s.cells: the cells' mem add up to %s%s, but the guest's mem is %s", path,
			 size_format(sum, a), sum > g->mem_bytes ? " or more" : "", size_format(g->mem_bytes, b));
		return -EINVAL;
	}
	if (seen != all) {
		snprintf(err, errlen, "%s.cells: vCPU %d is in no cell's cpus (each vCPU in one cell)", path,
			 __builtin_ctzll(~seen & all));
		return -EINVAL;
	}
	p->nr_cells = n->nr_cells;
	return 0;
}

/* guests[].numa: the policy checked against the pool's nodes and parsed
 * into stage 2's form (mm/mempolicy.c's rules: bind, preferred and
 * interleave need nodes; default and local take none). */
static int numa_finish(struct vm_config *g, const char *gpath, int nr_nodes, char *err, size_t errlen)
{
	struct numa_guest_config *n = &g->numa;
	struct stage2_numa *p = &n->parsed;
	char path[48];
	int64_t mask = 0;
	int mode;

	snprintf(path, sizeof(path), "%s.numa", gpath);
	memset(p, 0, sizeof(*p));
	if (!n->policy[0])
		strcpy(n->policy, "default");
	for (mode = 0; mode < NR_MPOL && strcmp(n->policy, stage2_mpol_names[mode]); mode++)
		;
	if (mode == NR_MPOL) {
		snprintf(err, errlen, "%s.policy: \"%s\" must be default, local, bind, preferred, preferred-many, "
			 "interleave or weighted-interleave", path, n->policy);
		return -EINVAL;
	}
	if (n->nodes[0] && (mask = nodelist_parse(n->nodes, nr_nodes)) <= 0) {
		snprintf(err, errlen, "%s.nodes: \"%s\" must be a list of the pool's nodes (0-%d), like \"0-1,3\"",
			 path, n->nodes, nr_nodes - 1);
		return -EINVAL;
	}
	if ((mode == MPOL_DEFAULT || mode == MPOL_LOCAL) != !mask) {
		snprintf(err, errlen, "%s.nodes: %s", path, mask ? "default and local take no nodes" :
			 "bind, preferred and interleave need nodes");
		return -EINVAL;
	}
	if (mode == MPOL_PREFERRED && __builtin_popcountll((uint64_t)mask) != 1) {
		snprintf(err, errlen, "%s.nodes: preferred takes one node (preferred-many takes several)", path);
		return -EINVAL;
	}
	if (n->vcpu_node >= nr_nodes) {
		snprintf(err, errlen, "%s.vcpu_node: %d, but the pool has %d node(s)", path, n->vcpu_node, nr_nodes);
		return -EINVAL;
	}
	if ((mode == MPOL_WEIGHTED_INTERLEAVE) != (n->weights[0] != 0)) {
		snprintf(err, errlen, "%s.weights: %s", path, n->weights[0] ? "only weighted-interleave takes weights" :
			 "weighted-interleave needs weights, one per node of nodes");
		return -EINVAL;
	}
	if (n->weights[0]) {
		const char *s = n->weights;
		int nid = -1;

		for (int k = 0; k < __builtin_popcountll((uint64_t)mask); k++) {
			char *end;
			long w = strtol(s, &end, 10);

			while (!((mask >> ++nid) & 1))
				;
			if (end == s || w < 1 || w > 100 || (*end && *end != ',')) {
				snprintf(err, errlen, "%s.weights: \"%s\" must be one weight (1-100) per node of nodes",
					 path, n->weights);
				return -EINVAL;
			}
			p->weights[nid] = (uint8_t)w;
			s = *end ? end + 1 : end;
		}
		if (*s) {
			snprintf(err, errlen, "%s.weights: more weights than nodes", path);
			return -EINVAL;
		}
	}
	if ((n->balancing || mode != MPOL_DEFAULT) && strcmp(g->backend, "pool")) {
		snprintf(err, errlen, "%s: NUMA placement needs backend=pool", path);
		return -EINVAL;
	}
	p->mode = (enum stage2_mpol)mode;
	p->nodemask = (uint64_t)mask;
	p->vcpu_node = n->vcpu_node;
	p->balancing = n->balancing != 0;
	return cells_finish(g, path, nr_nodes, err, errlen);
}

/* A host with several memory nodes: one pool node per host node, its
 * distances the host's SLIT (docs/numa.md). One node: nothing changes. */
static int numa_host_nodes(struct gmm_config *cfg, char *err, size_t errlen)
{
	struct pool_config *p = &cfg->host.pool;
	struct host_topology t;

	if (host_topology_read(HOST_TOPO_SYSFS, &t) || t.nr_nodes < 2)
		return 0;
	if (cfg->host.numa.nr_distance_rows) {
		snprintf(err, errlen, "host.numa.distances: this host has %d NUMA nodes and its own distances; "
			 "give distances only with host.numa.emulate", t.nr_nodes);
		return -EINVAL;
	}
	p->nodes = t.nr_nodes < POOL_MAX_NODES ? t.nr_nodes : POOL_MAX_NODES;
	p->real_nodes = 1;
	for (int i = 0; i < p->nodes; i++) {
		p->host_node[i] = t.host_node[i];
		snprintf(p->node_cpus[i], sizeof(p->node_cpus[i]), "%s", t.cpulist[i]);
		for (int j = 0; j < p->nodes; j++)
			p->distance[i][j] = t.distance[i][j];
	}
	return 0;
}

/* host.pool: default to every guest's RAM and its tables (no overcommit);
 * each node is whole 2 MiB pageblocks. */
static int pool_finish(struct gmm_config *cfg, char *err, size_t errlen)
{
	struct pool_config *p = &cfg->host.pool;
	uint64_t per_node, sum = 0;
	char a[32];

	/* host.numa.emulate is the spelling of pool.nodes (numa=fake) */
	if (cfg->host.numa.emulate) {
		if (p->nodes != 1 && p->nodes != cfg->host.numa.emulate) {
			snprintf(err, errlen, "host.numa.emulate: %d, but host.pool.nodes says %d", cfg->host.numa.emulate,
				 p->nodes);
			return -EINVAL;
		}
		p->nodes = cfg->host.numa.emulate;
	}
	if (cfg->host.numa.nr_distance_rows && cfg->host.numa.nr_distance_rows != p->nodes) {
		snprintf(err, errlen, "host.numa.distances: %d rows for %d nodes", cfg->host.numa.nr_distance_rows,
			 p->nodes);
		return -EINVAL;
	}
	if (!cfg->host.numa.emulate && p->nodes == 1 && numa_host_nodes(cfg, err, errlen))
		return -EINVAL;
	if (cfg->host.numa.nr_distance_rows)
		memcpy(p->distance, cfg->host.numa.distance, sizeof(p->distance));
	if (!p->size_bytes) {
		uint64_t unit = POOL_ALIGN_BYTES * p->nodes, all = 0;

		/* only pool-backed guests take frames: an anon guest's RAM is
		 * plain anonymous memory and it has no stage-2 table. Counted
		 * in, three 1 GiB anon guests got a 3 GiB pool nobody used,
		 * whose descriptors (64 bytes a frame, memmap_init() writes
		 * them all) were 50 MiB of gmm's own memory */
		for (int i = 0; i < cfg->nr_guests; i++) {
			if (strcmp(cfg->guests[i].backend, "pool"))
				continue;
			all += cfg->guests[i].mem_bytes;
			if (!strcmp(cfg->guests[i].hugepages, "none"))
				sum += cfg->guests[i].mem_bytes;
		}
		/* room for stage-2 table frames (1/512 of RAM, and upper levels;
		 * a hugetlb guest's tables are normal frames too) and the VMM's
		 * own frames, so no guest is refused memory it was given */
		sum += all / 64 + POOL_HEADROOM_BYTES;
		if (sum < POOL_MIN_NODE_BYTES * p->nodes)
			sum = POOL_MIN_NODE_BYTES * p->nodes;
		p->size_bytes = (sum + unit - 1) / unit * unit;
	}
	per_node = p->size_bytes / p->nodes;
	if (p->size_bytes % POOL_ALIGN_BYTES || per_node % POOL_ALIGN_BYTES || per_node < POOL_MIN_NODE_BYTES ||
	    p->size_bytes > POOL_MAX_BYTES) {
		snprintf(err, errlen, "host.pool.size: %s must be whole 2M blocks, at least 32M per node (%d), "
			 "at most 4T", size_format(p->size_bytes, a), p->nodes);
		return -EINVAL;
	}
	if (p->reserve_bytes == POOL_RESERVE_UNSET) {
		p->reserve_bytes = p->size_bytes / 8 / POOL_ALIGN_BYTES * POOL_ALIGN_BYTES;
		if (p->reserve_bytes > POOL_DEFAULT_RESERVE_BYTES)
			p->reserve_bytes = POOL_DEFAULT_RESERVE_BYTES;
	}
	if (p->reserve_bytes % POOL_ALIGN_BYTES || p->reserve_bytes > p->size_bytes / 4 ||
	    p->reserve_bytes > (512ULL << 20)) {
		snprintf(err, errlen, "host.pool.reserve: %s must be whole 2M blocks, at most 512M and a quarter "
			 "of the pool", size_format(p->reserve_bytes, a));
		return -EINVAL;
	}
	if (p->min_free_bytes > p->size_bytes / 4) {
		snprintf(err, errlen, "host.pool.min_free: %s is more than a quarter of the pool",
			 size_format(p->min_free_bytes, a));
		return -EINVAL;
	}
	return 0;
}

/* host.pool.hugetlb_2m / _1g: default to the RAM of the guests asking for
 * that page size (no overcommit, like the kernel's hugetlb); whole pages. */
static int hugetlb_finish(struct gmm_config *cfg, char *err, size_t errlen)
{
	struct pool_config *p = &cfg->host.pool;
	uint64_t *bytes[NR_HUGETLB_SIZES] = { &p->hugetlb_2m_bytes, &p->hugetlb_1g_bytes };
	static const char *const field[NR_HUGETLB_SIZES] = { "hugetlb_2m", "hugetlb_1g" };
	char a[32];

	for (int s = 0; s < NR_HUGETLB_SIZES; s++) {
		uint64_t page = 1ULL << (hugetlb_size_order((enum hugetlb_size)s) + 12), sum = 0;

		for (int i = 0; i < cfg->nr_guests; i++)
			if (!strcmp(cfg->guests[i].hugepages, hugetlb_size_name((enum hugetlb_size)s)))
				sum += cfg->guests[i].mem_bytes;
		if (!*bytes[s])
			*bytes[s] = sum;
		if (*bytes[s] % page || *bytes[s] > POOL_MAX_BYTES) {
			snprintf(err, errlen, "host.pool.%s: %s must be whole %s pages, at most 4T", field[s],
				 size_format(*bytes[s], a), hugetlb_size_name((enum hugetlb_size)s));
			return -EINVAL;
		}
	}
	return 0;
}

/* host.swap: both path and size or neither (swap.h checks the sizes); a
 * relative path is taken next to the config file, like its other files,
 * so it does not depend on where gmm was started. The file itself is
 * looked at only by swap_open(). */
static int swap_finish(struct gmm_config *cfg, char *err, size_t errlen)
{
	struct swap_config *s = &cfg->host.swap;
	char alt[PATH_MAX * 2];

	if (swap_config_validate(s, err, errlen))
		return -EINVAL;
	if (!s->path[0] || s->path[0] == '/' || !cfg->dir[0])
		return 0;
	snprintf(alt, sizeof(alt), "%s/%s", cfg->dir, s->path);
	if (strlen(alt) >= sizeof(s->path)) {
		snprintf(err, errlen, "host.swap.path: %s: too long once put next to the config file", s->path);
		return -EINVAL;
	}
	strcpy(s->path, alt);
	return 0;
}

/* host.pool.home (docs/fault-path.md#home-frames): 0 with home_frames on
 * is the span of the guests that get a home range (stage2.c's
 * home_eligible(): thp=never, no hugetlb pages, no NUMA cells, one pool
 * node), each its guest-physical pages, the device hole included. */
static int home_finish(struct gmm_config *cfg, char *err, size_t errlen)
{
	struct pool_config *p = &cfg->host.pool;
	char a[32];

	if (p->home_frames && !p->home_bytes && p->nodes == 1) {
		for (int i = 0; i < cfg->nr_guests; i++) {
			const struct vm_config *g = &cfg->guests[i];
			uint64_t span = g->mem_bytes <= GMM_GPA_HOLE_START ? g->mem_bytes :
					GMM_GPA_HOLE_END + (g->mem_bytes - GMM_GPA_HOLE_START);

			if (!strcmp(g->thp, "never") && !strcmp(g->hugepages, "none") && !strcmp(g->backend, "pool") &&
			    !g->numa.parsed.nr_cells)
				p->home_bytes += (span + POOL_ALIGN_BYTES - 1) / POOL_ALIGN_BYTES * POOL_ALIGN_BYTES;
		}
	}
	if (p->home_bytes % POOL_ALIGN_BYTES || p->home_bytes > POOL_MAX_BYTES) {
		snprintf(err, errlen, "host.pool.home: %s must be whole 2M blocks, at most 4T",
			 size_format(p->home_bytes, a));
		return -EINVAL;
	}
	return 0;
}

static int host_finish(struct gmm_config *cfg, char *err, size_t errlen)
{
	if (strcmp(cfg->host.accel, "auto") && strcmp(cfg->host.accel, "kvm") && strcmp(cfg->host.accel, "native")) {
		snprintf(err, errlen, "host.accel: \"%s\" must be auto, kvm or native", cfg->host.accel);
		return -EINVAL;
	}
	if (!cfg->host.reclaim.victims[0])
		strcpy(cfg->host.reclaim.victims, "lru");
	if (strcmp(cfg->host.reclaim.victims, "lru") && strcmp(cfg->host.reclaim.victims, "random")) {
		snprintf(err, errlen, "host.reclaim.victims: \"%s\" must be lru or random", cfg->host.reclaim.victims);
		return -EINVAL;
	}
	return 0;
}

int config_finish(struct gmm_config *cfg, const char *default_kernel, char *err, size_t errlen)
{
	if (!cfg->nr_guests) {
		snprintf(err, errlen, "no guests: give --config FILE or --guest name=...,mem=...");
		return -EINVAL;
	}
	if (host_finish(cfg, err, errlen))
		return -EINVAL;
	for (int i = 0; i < cfg->nr_guests; i++) {
		int ret = guest_finish(cfg, i, default_kernel, err, errlen);

		if (ret)
			return ret;
	}
	if (pool_finish(cfg, err, errlen) || swap_finish(cfg, err, errlen))
		return -EINVAL;
	for (int i = 0; i < cfg->nr_guests; i++) {
		char path[32];

		snprintf(path, sizeof(path), "guests[%d]", i);
		if (numa_finish(&cfg->guests[i], path, cfg->host.pool.nodes, err, errlen))
			return -EINVAL;
	}
	return home_finish(cfg, err, errlen) || hugetlb_finish(cfg, err, errlen) ? -EINVAL : 0;
}

int config_finish_host(struct gmm_config *cfg, uint64_t default_pool_bytes, char *err, size_t errlen)
{
	if (cfg->nr_guests) {
		snprintf(err, errlen, "guests[]: the daemon's guests are its domains (virsh define); "
			 "its config has only \"host\"");
		return -EINVAL;
	}
	if (!cfg->host.pool.size_bytes)
		cfg->host.pool.size_bytes = default_pool_bytes;
	if (host_finish(cfg, err, errlen) || pool_finish(cfg, err, errlen) || swap_finish(cfg, err, errlen) ||
	    home_finish(cfg, err, errlen))
		return -EINVAL;
	return hugetlb_finish(cfg, err, errlen);
}

int config_finish_guest(struct gmm_config *cfg, struct vm_config *g, const char *default_kernel, char *err,
			size_t errlen)
{
	int ret = guest_check(cfg, g, g->name, default_kernel, err, errlen);

	if (ret)
		return ret;
	return numa_finish(g, g->name, cfg->host.pool.nodes, err, errlen) ? -EINVAL : 0;
}
