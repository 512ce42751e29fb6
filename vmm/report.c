/* See report.h. */
#include "vmm/report.h"

#include <stdlib.h>
#include <string.h>

#include "vmm/stage2.h"
#include "vmm/vm.h"

/* A reported value as a JSON number when it is one, else a string. */
static json_t *value_json(const char *v)
{
	char *end;
	long long i;
	double d;

	if (!*v)
		return json_string(v);
	i = strtoll(v, &end, 10);
	if (!*end)
		return json_integer(i);
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		return json_string(v); /* hex (a mask): as written, strtod would make it a float */
	d = strtod(v, &end);
	if (!*end)
		return json_real(d);
	return json_string(v);
}

static const char *guest_outcome(const struct vm *vm)
{
	if (vm->state == VM_CREATED)
		return "created";
	if (vm->state == VM_RUNNING)
		return "running";
	if (vm->crashed)
		return "crashed";
	if (vm->exited)
		return "exited";
	return vm->state == VM_STOPPING ? "stopping" : "stopped";
}

/* The stage-2 counters (docs/fault-path.md): frames, faults, latency, EPT.
 * Once the guest's memory went back to the pool, the frame and EPT counts
 * are those it held at that moment ("released": true). */
static json_t *report_stage2_json(struct stage2 *s2)
{
	json_t *o = json_object(), *hist = json_array();
	uint64_t timed = 0; /* faults served by the fault thread (prefault's are not timed) */

	pthread_mutex_lock(&s2->lock); /* the EPT goes away when the memory is released */
	/* memory.stat's inactive_anon / active_anon / unevictable, in pages,
	 * read with resident_frames under the lock so they add up */
	json_object_set_new(o, "inactive_anon", json_integer((json_int_t)gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON)));
	json_object_set_new(o, "active_anon", json_integer((json_int_t)gmm_lru_pages(&s2->lru, LRU_ACTIVE_ANON)));
	json_object_set_new(o, "unevictable", json_integer((json_int_t)atomic_load(&s2->unevictable_frames)));
	json_object_set_new(o, "swap_pages", json_integer((json_int_t)atomic_load(&s2->swap_pages)));
	/* resident pages whose slot still holds them (docs/swap.md) */
	json_object_set_new(o, "swapcached_pages", json_integer((json_int_t)atomic_load(&s2->kept_pages)));
	json_object_set_new(o, "released", json_boolean(s2->released));
	json_object_set_new(o, "resident_frames", json_integer((json_int_t)(s2->released ? s2->final_resident :
						atomic_load(&s2->resident_frames))));
	json_object_set_new(o, "table_frames", json_integer((json_int_t)(s2->released ? s2->final_tables :
						atomic_load(&s2->table_frames))));
	/* frames of the current block not mapped yet: allocated, the guest's */
	/* home frames: the first pfn of the guest's range, -1 without */
	json_object_set_new(o, "home_pfn", json_integer(stage2_homed(s2) ? (json_int_t)s2->home : -1));
	json_object_set_new(o, "cursor_frames", json_integer(s2->released ? s2->final_cursor : stage2_cursor_frames(s2)));
	for (int i = 0; i < NR_EPT_STAT_ITEMS; i++)
		json_object_set_new(o, ept_stat_names[i], json_integer((json_int_t)(s2->released ? s2->final_ept[i] :
							ept_stat(s2->ept, i))));
	pthread_mutex_unlock(&s2->lock);
	json_object_set_new(o, "peak_resident_frames",
			    json_integer((json_int_t)atomic_load(&s2->peak_resident_frames)));
	json_object_set_new(o, "window", json_integer((json_int_t)(uintptr_t)s2->mem->window));
	json_object_set_new(o, "fault_around_pages", json_integer(s2->cfg.fault_around_pages));
	for (int i = 0; i < NR_S2_STATS; i++)
		json_object_set_new(o, stage2_stat_names[i], json_integer((json_int_t)atomic_load(&s2->stat[i])));
	json_object_set_new(o, "dirty_log", json_string(stage2_dirty_mode_name(s2->dirty_mode)));
	json_object_set_new(o, "fault_p50_us", json_real(stage2_latency_quantile_us(s2, 0.50)));
	json_object_set_new(o, "fault_p99_us", json_real(stage2_latency_quantile_us(s2, 0.99)));
	for (int b = 0; b < STAGE2_LAT_BUCKETS; b++) {
		uint64_t n = atomic_load(&s2->lat_hist[b]);

		timed += n;
		json_array_append_new(hist, json_integer((json_int_t)n));
	}
	json_object_set_new(o, "fault_mean_us", json_real(timed ? atomic_load(&s2->lat_sum_ns) / 1e3 / timed : 0));
	json_object_set_new(o, "fault_latency_log2_us", hist);
	return o;
}

json_t *report_guest_json(struct vm *vm)
{
	static const char *const promoted[] = { "pages_touched", "ops_per_sec", "verify_failures" };
	json_t *o = json_object(), *results = json_object();

	pthread_mutex_lock(&vm->lock);
	json_object_set_new(o, "guest", json_string(vm->cfg.name));
	json_object_set_new(o, "accel", json_string(vm->accel->name));
	json_object_set_new(o, "state", json_string(guest_outcome(vm)));
	json_object_set_new(o, "exit_code", vm->state == VM_STOPPED || vm->state == VM_STOPPING ?
				json_integer(vm->exit_code) : json_null());
	if (vm->stop_reason[0])
		json_object_set_new(o, "stop_reason", json_string(vm->stop_reason));
	json_object_set_new(o, "pages_touched", json_integer(0));
	for (size_t i = 0; i < sizeof(promoted) / sizeof(promoted[0]); i++) {
		for (int r = 0; r < vm->nr_results; r++)
			if (!strcmp(vm->results[r].key, promoted[i]))
				json_object_set_new(o, promoted[i], value_json(vm->results[r].value));
	}
	for (int r = 0; r < vm->nr_results; r++)
		json_object_set_new(results, vm->results[r].key, value_json(vm->results[r].value));
	json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)vm->peak_resident_bytes));
	pthread_mutex_unlock(&vm->lock);
	json_object_set_new(o, "run_seconds", json_real(vm_run_seconds(vm)));
	json_object_set_new(o, "vcpus", json_integer(vm->nr_vcpus));
	json_object_set_new(o, "mem_bytes", json_integer((json_int_t)vm->cfg.mem_bytes));
	json_object_set_new(o, "thp", json_string(vm->cfg.thp));
	json_object_set_new(o, "hugepages", json_string(vm->cfg.hugepages));
	json_object_set_new(o, "exits_io", json_integer((json_int_t)atomic_load(&vm->stat.exits_io)));
	json_object_set_new(o, "exits_mmio", json_integer((json_int_t)atomic_load(&vm->stat.exits_mmio)));
	json_object_set_new(o, "pio_unhandled", json_integer((json_int_t)atomic_load(&vm->stat.pio_unhandled)));
	json_object_set_new(o, "mmio_unhandled", json_integer((json_int_t)atomic_load(&vm->stat.mmio_unhandled)));
	json_object_set_new(o, "testdev_bad", json_integer((json_int_t)atomic_load(&vm->tdev.nr_bad)));
	json_object_set_new(o, "backend", json_string(vm->mem.backend == GUEST_MEM_POOL ? "pool" : "anon"));
	if (vm->mem.s2)
		json_object_set_new(o, "stage2", report_stage2_json(vm->mem.s2));
	json_object_set_new(o, "results", results);
	return o;
}
