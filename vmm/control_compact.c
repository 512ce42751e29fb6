/*
 * The control socket's `compact` command (docs/compaction.md), writing
 * /proc/sys/vm/compact_memory one level up: {"cmd": "compact"} compacts
 * every zone of every node whole; "node": N only node N's zones;
 * "order": O (0..10) each zone until a block of order O is free. `gmm
 * compact [node=N] [order=O]` sends the two in "set" as strings; both
 * spellings are accepted. Runs on the control thread, with the kcompactd
 * threads free to run beside it (compaction serializes on the zone locks
 * and the owners' locks, nothing else).
 *
 * The reply: the best result and each zone's, each zone's extfrag index
 * per order (thousandths, -1000: the order would succeed) and
 * fragmentation score before and after, and how much the compaction
 * counters moved (compact_*, pgmigrate_*).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmm/compaction.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/kcompactd.h"

static const enum gmm_vm_item compact_items[] = {
	COMPACTMIGRATE_SCANNED, COMPACTFREE_SCANNED, COMPACTISOLATED, COMPACTSTALL, COMPACTFAIL,
	COMPACTSUCCESS, KCOMPACTD_WAKE, KCOMPACTD_MIGRATE_SCANNED, KCOMPACTD_FREE_SCANNED,
	PGMIGRATE_SUCCESS, PGMIGRATE_FAIL,
};
#define NR_COMPACT_ITEMS (sizeof(compact_items) / sizeof(compact_items[0]))

/* An integer argument: the request's own key, or the client's "set"
 * string; absent: def. -EINVAL when present but not a whole number in
 * [min, max]. */
static int req_int(json_t *req, const char *key, long long min, long long max, long long def, long long *out)
{
	json_t *set = json_object_get(req, "set"), *v = json_object_get(req, key);
	char *end;

	if (!v && json_is_object(set))
		v = json_object_get(set, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_string(v) && json_string_value(v)[0]) {
		errno = 0;
		*out = strtoll(json_string_value(v), &end, 10);
		if (errno || *end)
			return -EINVAL;
	} else
		return -EINVAL;
	return *out < min || *out > max ? -EINVAL : 0;
}

/* A zone's extfrag index for every order, in thousandths. */
static json_t *extfrag_json(struct gmm_zone *z)
{
	json_t *arr = json_array();

	for (unsigned o = 0; o <= MAX_ORDER; o++)
		json_array_append_new(arr, json_integer(zone_fragmentation_index(z, o)));
	return arr;
}

static json_t *zone_before_json(struct gmm_zone *z)
{
	return json_pack("{s:i, s:s, s:o, s:i}", "node", z->nid, "zone", z->name, "extfrag_index_before",
			 extfrag_json(z), "fragmentation_score_before", (int)fragmentation_score_zone(z));
}

static int compact_args(json_t *req, struct gmm_pool *mm, int *nid, int *order, const char **err)
{
	long long v;

	if (req_int(req, "node", -1, mm->nr_nodes - 1, GMM_NUMA_NO_NODE, &v)) {
		*err = "\"node\" must be a node of the pool (gmm numa lists them), or -1 for all";
		return -EINVAL;
	}
	*nid = (int)v;
	if (req_int(req, "order", -1, MAX_ORDER, -1, &v)) {
		*err = "\"order\" must be 0..10 (9: a 2 MiB frame), or -1 for the whole zone";
		return -EINVAL;
	}
	*order = (int)v;
	return 0;
}

json_t *cmd_compact(struct host *h, json_t *req, const char **err)
{
	struct gmm_pool *mm;
	enum compact_result *results, best;
	uint64_t before[NR_COMPACT_ITEMS];
	json_t *zones, *counters;
	int nid, order;

	if (!h->pool) {
		*err = "this gmm has no host pool";
		return NULL;
	}
	mm = h->pool->mm;
	if (compact_args(req, mm, &nid, &order, err))
		return NULL;
	results = calloc((size_t)mm->nr_zones, sizeof(*results));
	if (!results) {
		*err = "out of memory";
		return NULL;
	}
	zones = json_array();
	for (int i = 0; i < mm->nr_zones; i++)
		json_array_append_new(zones, zone_before_json(&mm->zones[i]));
	for (size_t i = 0; i < NR_COMPACT_ITEMS; i++)
		before[i] = gmm_vmstat_get(mm, compact_items[i]);
	best = compact_node(mm, nid, order, results);
	counters = json_object();
	for (size_t i = 0; i < NR_COMPACT_ITEMS; i++)
		json_object_set_new(counters, gmm_vm_item_names[compact_items[i]],
				    json_integer((json_int_t)(gmm_vmstat_get(mm, compact_items[i]) - before[i])));
	for (int i = 0; i < mm->nr_zones; i++) {
		json_t *zo = json_array_get(zones, (size_t)i);

		json_object_set_new(zo, "result", json_string(compact_result_names[results[i]]));
		json_object_set_new(zo, "extfrag_index_after", extfrag_json(&mm->zones[i]));
		json_object_set_new(zo, "fragmentation_score_after",
				    json_integer(fragmentation_score_zone(&mm->zones[i])));
	}
	free(results);
	return json_pack("{s:i, s:i, s:s, s:b, s:o, s:o}", "node", nid, "order", order, "result",
			 compact_result_names[best], "migrate_hook", mm->hooks.migrate_frame != NULL, "zones",
			 zones, "counters", counters);
}
