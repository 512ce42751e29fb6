/*
 * The control socket's commands, one table. Each handler gets the request
 * object and returns the reply's payload or sets an error. Later mechanisms
 * (limits, balloon, stats views) add rows here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/report.h"
#include "vmm/version.h"
#include "vmm/vm.h"

typedef json_t *(*control_fn)(struct host *h, json_t *req, const char **err);

static const char *req_str(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *cmd_version(struct host *h, json_t *req, const char **err)
{
	(void)req;
	(void)err;
	return json_pack("{s:s, s:s}", "version", GMM_VERSION, "accel", h->accel ? h->accel->name : "none");
}

static json_t *cmd_list(struct host *h, json_t *req, const char **err)
{
	struct vm *vms[HOST_MAX_GUESTS];
	int n = host_get_all(h, vms, HOST_MAX_GUESTS);
	json_t *arr = json_array();

	(void)req;
	(void)err;
	for (int i = 0; i < n; i++) {
		struct vm *vm = vms[i];

		pthread_mutex_lock(&vm->lock);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:i}", "guest", vm->cfg.name,
						     "state", vm_state_name(vm->state),
						     "mem_bytes", (json_int_t)vm->cfg.mem_bytes, "vcpus", vm->nr_vcpus));
		pthread_mutex_unlock(&vm->lock);
		host_put_guest(h, vm);
	}
	return json_pack("{s:o}", "guests", arr);
}

static struct vm *req_guest(struct host *h, json_t *req, const char **err)
{
	const char *name = req_str(req, "guest");
	struct vm *vm;

	if (!name) {
		*err = "missing \"guest\" (a guest name)";
		return NULL;
	}
	vm = host_get_guest(h, name);
	if (!vm)
		*err = "no such guest";
	return vm;
}

static json_t *cmd_stat(struct host *h, json_t *req, const char **err)
{
	struct vm *vm = req_guest(h, req, err);
	json_t *o;

	if (!vm)
		return NULL;
	vm_sample_resident(vm);
	o = report_guest_json(vm);
	host_put_guest(h, vm);
	return json_pack("{s:o}", "stat", o);
}

static json_t *cmd_stop(struct host *h, json_t *req, const char **err)
{
	struct vm *vm = req_guest(h, req, err);

	if (!vm)
		return NULL;
	vm_request_stop(vm, -1, false, "stopped by control request");
	host_put_guest(h, vm);
	return json_object();
}

/* `cat FILE`: one of the pool's text views (buddyinfo, zoneinfo, ...), in
 * the kernel's format; without "file", the list of files. */
static json_t *cmd_cat(struct host *h, json_t *req, const char **err)
{
	const char *file = req_str(req, "file");
	char *text = NULL;
	size_t len = 0;
	json_t *o;
	FILE *f;
	int ret;

	if (!h->pool) {
		*err = "this gmm has no host pool";
		return NULL;
	}
	if (!file) {
		json_t *arr = json_array();

		for (int i = 0; gmm_pool_show_names[i]; i++)
			json_array_append_new(arr, json_string(gmm_pool_show_names[i]));
		return json_pack("{s:o}", "files", arr);
	}
	f = open_memstream(&text, &len);
	if (!f) {
		*err = "out of memory";
		return NULL;
	}
	ret = gmm_pool_show(h->pool->mm, file, f);
	fclose(f);
	if (ret) {
		free(text);
		*err = ret == -ENOENT ? "no such file (gmm cat lists them)" : "could not produce the file";
		return NULL;
	}
	o = json_pack("{s:s, s:s%}", "file", file, "text", text, len);
	free(text);
	return o;
}

static const struct {
	const char *cmd;
	control_fn fn;
} control_cmds[] = {
	{ "version", cmd_version },
	{ "list", cmd_list },
	{ "stat", cmd_stat },
	{ "stop", cmd_stop },
	{ "cat", cmd_cat },
};

json_t *control_dispatch(struct host *h, json_t *req)
{
	const char *cmd = req_str(req, "cmd"), *err = NULL;
	json_t *payload;

	if (!cmd)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "missing \"cmd\"");
	for (size_t i = 0; i < sizeof(control_cmds) / sizeof(control_cmds[0]); i++) {
		if (strcmp(control_cmds[i].cmd, cmd))
			continue;
		payload = control_cmds[i].fn(h, req, &err);
		if (!payload)
			return json_pack("{s:b, s:s}", "ok", 0, "error", err ? err : "failed");
		json_object_set_new(payload, "ok", json_true());
		return payload;
	}
	return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
}
