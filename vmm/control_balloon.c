/*
 * The control socket's `balloon` command (docs/balloon.md): read a
 * guest's balloon (target, actual, how long the last target took, the
 * guest's statistics, the device's counters, what stage 2 holds) and set
 * it: {"cmd": "balloon", "guest": "a", "set": {"target": "256M"}}.
 *
 * set keys: target (balloon size: memory taken from the guest, as
 * Firecracker's amount_mib and virtio's num_pages), guest_mem (the size
 * the guest should keep, as QEMU's `balloon` command: target = RAM -
 * guest_mem), stats_period (seconds, 0: on demand), auto (0/1: the host
 * policy may inflate it under pressure), refresh (1: ask the guest for
 * fresh statistics and wait up to a second for them).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon_dev.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/size.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

static const char *const gstat_names[VIRTIO_BALLOON_S_NR] = {
	[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
	[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
	[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
	[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
	[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
	[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
	[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
	[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
	[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
	[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
};

static const struct {
	unsigned bit;
	const char *name;
} feature_names[] = {
	{ VIRTIO_BALLOON_F_STATS_VQ, "stats_vq" },
	{ VIRTIO_BALLOON_F_DEFLATE_ON_OOM, "deflate_on_oom" },
	{ VIRTIO_BALLOON_F_REPORTING, "free_page_reporting" },
};

json_t *balloon_info_json(struct vm *vm)
{
	struct balloon_info bi;
	json_t *o, *gs = json_object(), *dev = json_object(), *feat = json_array(), *s2j = json_object();
	struct stage2 *s2 = vm->mem.s2;
	uint64_t now_age;

	balloon_get_info(vm->balloon, &bi);
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (bi.features & (1ULL << feature_names[i].bit))
			json_array_append_new(feat, json_string(feature_names[i].name));
	for (int i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		if (bi.gstats.valid[i])
			json_object_set_new(gs, gstat_names[i], json_integer((json_int_t)bi.gstats.val[i]));
	if (bi.gstats.updated_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now_age = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - bi.gstats.updated_ns) / 1000000;
		json_object_set_new(gs, "age_ms", json_integer((json_int_t)now_age));
	}
	for (int i = 0; i < NR_BALLOON_STATS; i++)
		json_object_set_new(dev, balloon_stat_names[i], json_integer((json_int_t)bi.stat[i]));
	if (s2) {
		static const enum stage2_stat_item items[] = {
			S2_BALLOON_INFLATED, S2_BALLOON_DEFLATED, S2_BALLOON_FREED, S2_BALLOON_REFAULTS,
			S2_BALLOON_HUGE_WHOLE, S2_BALLOON_HUGE_SPLIT, S2_REPORTED_PAGES, S2_REPORTED_FREED,
			S2_BALLOON_OWED_ALLOCS,
		};
		uint64_t ballooned;

		for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			json_object_set_new(s2j, stage2_stat_names[items[i]],
					    json_integer((json_int_t)atomic_load(&s2->stat[items[i]])));
		json_object_set_new(s2j, "balloon_pending_pages",
				    json_integer((json_int_t)atomic_load(&s2->balloon_pending_pages)));
		json_object_set_new(s2j, "balloon_owed_pages",
				    json_integer((json_int_t)atomic_load(&s2->balloon_owed_pages)));
		/* BALLOONED entries in the table, as ept/ counts them */
		pthread_mutex_lock(&s2->lock);
		ballooned = s2->released ? s2->final_ept[EPT_BALLOONED] : s2->ept ? ept_stat(s2->ept, EPT_BALLOONED) : 0;
		pthread_mutex_unlock(&s2->lock);
		json_object_set_new(s2j, "ept_ballooned_pages", json_integer((json_int_t)ballooned));
		json_object_set_new(s2j, "resident_bytes",
				    json_integer((json_int_t)(atomic_load(&s2->resident_frames) << 12)));
	}
	o = json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:b, s:I, s:o, s:o, s:o}",
		      "active", bi.active, "features", feat,
		      "target_pages", (json_int_t)bi.target_pages,
		      "target_bytes", (json_int_t)((uint64_t)bi.target_pages << 12),
		      "actual_pages", (json_int_t)bi.actual_pages,
		      "actual_bytes", (json_int_t)((uint64_t)bi.actual_pages << 12),
		      "target_reached", bi.target_reached,
		      "last_target_ms", (json_int_t)bi.last_target_ms,
		      "stats_period", (json_int_t)bi.stats_period_s,
		      "auto", vm->cfg.balloon.auto_mode != 0,
		      "auto_pages", (json_int_t)atomic_load(&vm->balloon_auto_pages),
		      "guest_stats", gs, "device", dev, "stage2", s2j);
	json_object_set_new(o, "ram_bytes", json_integer((json_int_t)vm->cfg.mem_bytes));
	return o;
}

/* A size ("256M", bytes) or a whole number, as a JSON string or integer. */
static int value_u64(json_t *v, bool size, uint64_t *out)
{
	char *end;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_true(v) || json_is_false(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	if (size)
		return size_parse(json_string_value(v), out) ? -EINVAL : 0;
	errno = 0;
	*out = strtoull(json_string_value(v), &end, 10);
	return errno || end == json_string_value(v) || *end ? -EINVAL : 0;
}

static const char *balloon_apply(struct vm *vm, json_t *set)
{
	struct balloon_dev *d = vm->balloon;
	const char *key;
	json_t *val;
	bool refresh = false;

	if (!json_is_object(set))
		return "\"set\" must be an object (target, guest_mem, stats_period, auto, refresh)";
	/* check everything before changing anything */
	json_object_foreach(set, key, val) {
		uint64_t v;
		bool size = !strcmp(key, "target") || !strcmp(key, "guest_mem");

		if (!size && strcmp(key, "stats_period") && strcmp(key, "auto") && strcmp(key, "refresh"))
			return "unknown balloon setting (target, guest_mem, stats_period, auto, refresh)";
		if (value_u64(val, size, &v))
			return size ? "target and guest_mem are sizes (\"256M\") or bytes" :
				      "stats_period, auto and refresh are whole numbers";
		if (size && v > vm->cfg.mem_bytes)
			return "target and guest_mem cannot exceed the guest's RAM";
		if (!strcmp(key, "stats_period") && v > 3600)
			return "stats_period: 0 to 3600 seconds";
		if ((!strcmp(key, "auto") || !strcmp(key, "refresh")) && v > 1)
			return "auto and refresh are 0 or 1";
		if (!strcmp(key, "auto") && v && !vm->mem.s2)
			return "auto: the host policy needs backend=pool";
	}
	json_object_foreach(set, key, val) {
		uint64_t v = 0;

		value_u64(val, !strcmp(key, "target") || !strcmp(key, "guest_mem"), &v);
		if (!strcmp(key, "target") || !strcmp(key, "guest_mem")) {
			uint64_t pages = !strcmp(key, "target") ? v >> 12 : (vm->cfg.mem_bytes - v) >> 12;

			if (balloon_set_target(d, pages))
				return "target out of range";
			atomic_store(&vm->balloon_auto_pages, 0); /* the user's target now */
		} else if (!strcmp(key, "stats_period")) {
			balloon_set_stats_period(d, (unsigned)v);
		} else if (!strcmp(key, "auto")) {
			vm->cfg.balloon.auto_mode = (int)v;
		} else {
			refresh = v != 0;
		}
	}
	if (refresh) {
		int r = balloon_request_stats(d, 1000);

		if (r == -ENOTSUP)
			return "refresh: the driver did not negotiate the statistics queue";
		if (r)
			return "refresh: the guest sent no statistics within a second";
	}
	return NULL;
}

json_t *cmd_balloon(struct host *h, json_t *req, const char **err)
{
	const char *name = json_string_value(json_object_get(req, "guest"));
	json_t *set = json_object_get(req, "set"), *o = NULL;
	struct vm *vm;

	if (!name) {
		*err = "missing \"guest\" (a guest name)";
		return NULL;
	}
	vm = host_get_guest(h, name);
	if (!vm) {
		*err = "no such guest";
		return NULL;
	}
	if (!vm->balloon)
		*err = "the guest has no balloon device (config: \"balloon\": {\"enabled\": 1})";
	else if (vm->mem.released || vm_is_stopped(vm))
		*err = set ? "the guest stopped" : NULL;
	if (!*err && set && !vm_is_stopped(vm))
		*err = balloon_apply(vm, set);
	if (!*err)
		o = balloon_info_json(vm);
	host_put_guest(h, vm);
	return o;
}
