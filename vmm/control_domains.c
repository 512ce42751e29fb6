/*
 * The control socket's `domains` command: a daemon's domains as libvirt
 * sees them (shut-off ones too, with the reason they stopped) and its
 * libvirt endpoint's counters (clients, calls, errors, keepalive drops).
 * `gmm run` has no domains: the command says so.
 */
#include <stdlib.h>

#include "vmm/control.h"
#include "vmm/domains.h"
#include "vmm/host.h"
#include "vmm/libvirt/server.h"

static const char *state_name(enum domain_state s)
{
	switch (s) {
	case DOMAIN_RUNNING: return "running";
	case DOMAIN_SHUTOFF: return "shut off";
	case DOMAIN_CRASHED: return "crashed";
	default: return "no state";
	}
}

json_t *cmd_domains(struct host *h, json_t *req, const char **err)
{
	struct domain_info *info;
	json_t *arr, *o;
	int n, total = 0;

	(void)req;
	if (!h->domains) {
		*err = "not a daemon: `gmm run` has guests, not domains (gmm list)";
		return NULL;
	}
	info = calloc(DOMAINS_MAX, sizeof(*info));
	if (!info) {
		*err = "out of memory";
		return NULL;
	}
	n = domains_list(h->domains, info, DOMAINS_MAX, &total);
	arr = json_array();
	for (int i = 0; i < n; i++) {
		json_t *d = json_pack("{s:s, s:s, s:i, s:s, s:i, s:b, s:b, s:I, s:I, s:i}", "name", info[i].name,
				      "uuid", info[i].uuid, "id", info[i].id, "state", state_name(info[i].state),
				      "reason", info[i].reason, "persistent", info[i].persistent, "autostart",
				      info[i].autostart, "mem_bytes", (json_int_t)info[i].max_mem_bytes,
				      "current_mem_bytes", (json_int_t)info[i].cur_mem_bytes, "vcpus", info[i].vcpus);

		if (info[i].stop_reason[0])
			json_object_set_new(d, "last_stop", json_string(info[i].stop_reason));
		json_array_append_new(arr, d);
	}
	free(info);
	o = json_pack("{s:o}", "domains", arr);
	if (h->libvirt) {
		json_t *lv = json_object();

		libvirt_server_stats(h->libvirt, lv);
		json_object_set_new(o, "libvirt", lv);
	}
	return o;
}
