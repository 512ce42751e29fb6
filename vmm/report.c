/* See report.h. */
#include "vmm/report.h"

#include <stdlib.h>
#include <string.h>

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
	json_object_set_new(o, "exits_io", json_integer((json_int_t)atomic_load(&vm->stat.exits_io)));
	json_object_set_new(o, "exits_mmio", json_integer((json_int_t)atomic_load(&vm->stat.exits_mmio)));
	json_object_set_new(o, "pio_unhandled", json_integer((json_int_t)atomic_load(&vm->stat.pio_unhandled)));
	json_object_set_new(o, "mmio_unhandled", json_integer((json_int_t)atomic_load(&vm->stat.mmio_unhandled)));
	json_object_set_new(o, "testdev_bad", json_integer((json_int_t)atomic_load(&vm->tdev.nr_bad)));
	json_object_set_new(o, "results", results);
	return o;
}
