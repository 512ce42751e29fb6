/*
 * The control socket's `numa` command (docs/numa.md): without "guest",
 * the pool's nodes (size, free, distances); with one, its policy,
 * numastat per node and numa_maps per RAM slot, and with "migrate":
 * {"node": N} every page of the guest moved to node N first (what
 * migratepages(8) does for a process). With numa.cells, "cells" gives
 * numa_maps per cell too.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "guestmm/pool.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

static json_t *nodes_json(struct host *h)
{
	struct gmm_pool *mm = h->pool->mm;
	json_t *arr = json_array();

	for (int nid = 0; nid < mm->nr_nodes; nid++) {
		json_t *dist = json_array();
		uint64_t managed = 0, free = 0;

		for (int z = 0; z < mm->nr_zones; z++) {
			if (mm->zones[z].nid != nid)
				continue;
			managed += mm->zones[z].managed_pages;
			free += (uint64_t)zone_free_pages(&mm->zones[z]);
		}
		for (int m = 0; m < mm->nr_nodes; m++)
			json_array_append_new(dist, json_integer(mm->distance[nid][m]));
		json_array_append_new(arr, json_pack("{s:i, s:I, s:I, s:o}", "node", nid,
						     "size_bytes", (json_int_t)(managed << 12),
						     "free_bytes", (json_int_t)(free << 12), "distances", dist));
	}
	return arr;
}

/* numa_maps per cell (numa.cells): its span, its node and its pages on
 * each node; every page should be on the cell's own node. */
static json_t *cells_json(struct vm *vm)
{
	const struct stage2_numa *p = &vm->mem.s2->cfg.numa;
	int nr_nodes = vm->mem.s2->hp->mm->nr_nodes;
	json_t *arr = json_array();

	for (int j = 0; j < p->nr_cells; j++) {
		uint64_t pages[GMM_MAX_NODES], huge, start, end, ram;
		json_t *m;

		stage2_numa_cell_span(p, j, &start, &end, &ram);
		if (stage2_numa_maps(vm->mem.s2, start >> 12, (end - start) >> 12, pages, &huge))
			continue;
		m = json_pack("{s:i, s:I, s:I, s:I, s:i, s:I}", "cell", j, "start", (json_int_t)start, "end",
			      (json_int_t)end, "bytes", (json_int_t)ram, "node", p->cell_node[j], "huge", (json_int_t)huge);
		for (int nid = 0; nid < nr_nodes; nid++) {
			char key[16];

			snprintf(key, sizeof(key), "N%d", nid);
			json_object_set_new(m, key, json_integer((json_int_t)pages[nid]));
		}
		json_array_append_new(arr, m);
	}
	return arr;
}

static json_t *guest_numa_json(struct vm *vm)
{
	struct stage2 *s2 = vm->mem.s2;
	int nr_nodes = s2->hp->mm->nr_nodes;
	json_t *stat = json_object(), *maps = json_array();

	for (int nid = 0; nid < nr_nodes; nid++) {
		json_t *n = json_object();
		char key[16];

		for (int i = 0; i < NR_NUMA_STATS; i++)
			json_object_set_new(n, stage2_numa_stat_names[i],
					    json_integer((json_int_t)atomic_load(&s2->numa_stat[nid][i])));
		snprintf(key, sizeof(key), "node%d", nid);
		json_object_set_new(stat, key, n);
	}
	for (int i = 0; i < vm->mem.nr_slots; i++) {
		const struct guest_mem_slot *sl = &vm->mem.slots[i];
		uint64_t pages[GMM_MAX_NODES], huge;
		json_t *m;

		if (stage2_numa_maps(s2, sl->gpa >> 12, sl->bytes >> 12, pages, &huge))
			continue;
		m = json_pack("{s:I, s:I, s:s, s:I}", "start", (json_int_t)sl->gpa, "end",
			      (json_int_t)(sl->gpa + sl->bytes), "policy", vm->cfg.numa.policy[0] ? vm->cfg.numa.policy :
			      "default", "huge", (json_int_t)huge);
		for (int nid = 0; nid < nr_nodes; nid++) {
			char key[16];

			snprintf(key, sizeof(key), "N%d", nid);
			json_object_set_new(m, key, json_integer((json_int_t)pages[nid]));
		}
		json_array_append_new(maps, m);
	}
	return json_pack("{s:s, s:s, s:i, s:b, s:o, s:o, s:o, s:I, s:I}", "policy",
			 vm->cfg.numa.policy[0] ? vm->cfg.numa.policy : "default", "nodes", vm->cfg.numa.nodes,
			 "vcpu_node", vm->cfg.numa.vcpu_node, "balancing", vm->cfg.numa.balancing != 0,
			 "numastat", stat, "numa_maps", maps, "cells", cells_json(vm),
			 "pgmigrate_success", (json_int_t)atomic_load(&s2->stat[S2_PGMIGRATE_SUCCESS]),
			 "pgmigrate_fail", (json_int_t)atomic_load(&s2->stat[S2_PGMIGRATE_FAIL]));
}

json_t *cmd_numa(struct host *h, json_t *req, const char **err)
{
	const char *name = json_string_value(json_object_get(req, "guest"));
	json_t *migrate = json_object_get(req, "migrate"), *o = NULL;
	struct vm *vm;

	if (!name) {
		if (migrate) {
			*err = "migrate needs \"guest\"";
			return NULL;
		}
		return json_pack("{s:o}", "nodes", nodes_json(h));
	}
	vm = host_get_guest(h, name);
	if (!vm) {
		*err = "no such guest";
		return NULL;
	}
	if (!vm->mem.s2 || vm->mem.released) {
		*err = vm->mem.s2 ? "the guest stopped: its memory went back to the pool" :
				    "the guest's RAM is not in the pool (backend anon)";
		goto out;
	}
	if (migrate) {
		json_t *node = json_object_get(migrate, "node");
		json_int_t nid = json_is_integer(node) ? json_integer_value(node) : -1;
		long moved = 0, failed = 0;

		if (!json_is_object(migrate) || nid < 0 || nid >= h->pool->mm->nr_nodes) {
			*err = "migrate: {\"node\": N} with N one of the pool's nodes";
			goto out;
		}
		for (int i = 0; i < vm->mem.nr_slots; i++) {
			long f = 0;

			moved += stage2_migrate_to_node(vm->mem.s2, vm->mem.slots[i].gpa >> 12,
							vm->mem.slots[i].bytes >> 12, (int)nid, &f);
			failed += f;
		}
		o = guest_numa_json(vm);
		json_object_set_new(o, "migrated", json_integer(moved));
		json_object_set_new(o, "migrate_failed", json_integer(failed));
		goto out;
	}
	o = guest_numa_json(vm);
out:
	host_put_guest(h, vm);
	return o;
}
