/*
 * The control socket's commands, one table. Each handler gets the request
 * object and returns the reply's payload or sets an error. Later mechanisms
 * (limits, balloon, stats views) add rows here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "balloon/policy.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/kcompactd.h"
#include "vmm/kswapd.h"
#include "vmm/report.h"
#include "vmm/size.h"
#include "vmm/stage2.h"
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
	if (vm->balloon)
		json_object_set_new(o, "balloon", balloon_info_json(vm));
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

/* The hugetlb regions in use, by page size: pages, free pages, what
 * the host holds (the file's blocks) and the allocator's counters. */
static json_t *pool_hugetlb_json(struct host_pool *hp)
{
	json_t *o = json_object();

	for (int s = 0; s < NR_HUGETLB_SIZES; s++) {
		struct hugetlb_region *r = &hp->huge[s];

		if (r->memfd < 0)
			continue;
		json_object_set_new(o, hugetlb_size_name(r->size), json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"page_bytes", (json_int_t)(1ULL << (r->order + 12)),
			"nr_hugepages", (json_int_t)r->nr_pages,
			"free_hugepages", (json_int_t)hugetlb_nr_free(r),
			"held_bytes", (json_int_t)hugetlb_held_bytes(r),
			"allocs", (json_int_t)atomic_load(&r->allocs),
			"alloc_failed", (json_int_t)atomic_load(&r->alloc_failed),
			"frees", (json_int_t)atomic_load(&r->frees),
			"free_refused", (json_int_t)atomic_load(&r->free_refused)));
	}
	return o;
}

/* `pool`: the host pool at a glance: frames, what the host holds, the
 * reserve, the frees the realizer refused (a still-mapped frame), and the
 * hugetlb regions. */
static json_t *cmd_pool(struct host *h, json_t *req, const char **err)
{
	struct host_pool *hp = h->pool;
	uint64_t free_frames, pcp_frames;

	(void)req;
	if (!hp) {
		*err = "this gmm has no host pool";
		return NULL;
	}
	struct zero_reserve *zr = &hp->reserve;
	json_t *o, *reserve, *recycle;

	free_frames = gmm_pool_free_frames(hp->mm);
	pcp_frames = gmm_pool_pcp_frames(hp->mm);
	pthread_mutex_lock(&zr->lock);
	reserve = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "blocks", zr->nr, "max_blocks", zr->max_blocks,
			    "hits", (json_int_t)zr->hits, "misses", (json_int_t)zr->misses,
			    "waits", (json_int_t)zr->waits, "refills", (json_int_t)zr->refills,
			    "refill_failures", (json_int_t)zr->refill_failures, "drained", (json_int_t)zr->drained);
	pthread_mutex_unlock(&zr->lock);
	o = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o}}", "pool",
			 "nr_frames", (json_int_t)hp->mm->nr_frames,
			 "free_frames", (json_int_t)(free_frames + pcp_frames),
			 "allocated_frames", (json_int_t)(hp->mm->nr_frames - free_frames - pcp_frames),
			 "held_bytes", (json_int_t)host_pool_held_bytes(hp),
			 "reserve_bytes", (json_int_t)zero_reserve_bytes(&hp->reserve),
			 "populated_frames", (json_int_t)atomic_load(&hp->populated_frames),
			 "punched_frames", (json_int_t)atomic_load(&hp->punched_frames),
			 "mapped_free_refused", (json_int_t)atomic_load(&hp->mapped_free_refused),
			 "size_bytes", (json_int_t)hp->size_bytes,
			 "shmem_thp", hp->shmem_thp,
			 "hugetlb", pool_hugetlb_json(hp));
	json_object_set_new(json_object_get(o, "pool"), "reserve", reserve);
	recycle = json_pack("{s:I}", "frames", (json_int_t)frame_recycle_frames(hp));
	for (int i = 0; i < NR_RECYCLE_STATS; i++)
		json_object_set_new(recycle, frame_recycle_stat_names[i],
				    json_integer((json_int_t)atomic_load(&hp->recycle.stat[i])));
	json_object_set_new(json_object_get(o, "pool"), "recycle", recycle);
	{
		uint64_t ranges, range_frames, tokens;

		home_frames_counts(&hp->home, &ranges, &range_frames, &tokens);
		json_object_set_new(json_object_get(o, "pool"), "home",
				    json_pack("{s:I, s:I, s:I, s:I, s:I}", "span_frames", (json_int_t)hp->home.nr,
					      "ranges", (json_int_t)ranges, "range_frames", (json_int_t)range_frames,
					      "tokens", (json_int_t)tokens,
					      "refused", (json_int_t)atomic_load(&hp->home.refused)));
	}
	if (hp->kswapd) {
		json_t *k = json_object();

		json_t *nodes = json_array();

		/* summed over the nodes, then each node's kswapdN on its own */
		for (int i = 0; i < NR_KSWAPD_STATS; i++)
			json_object_set_new(k, kswapd_stat_names[i],
					    json_integer((json_int_t)kswapd_stat(hp->kswapd, (enum kswapd_stat_item)i)));
		for (int nid = 0; nid < hp->kswapd->nr_nodes; nid++) {
			json_t *kn = json_pack("{s:i}", "nid", nid);

			for (int i = 0; i < NR_KSWAPD_STATS; i++)
				json_object_set_new(kn, kswapd_stat_names[i],
						    json_integer((json_int_t)atomic_load(&hp->kswapd->node[nid].stat[i])));
			json_array_append_new(nodes, kn);
		}
		json_object_set_new(k, "nodes", nodes);
		json_object_set_new(json_object_get(o, "pool"), "kswapd", k);
	}
	if (h->balloon_policy) {
		json_t *b = json_object();

		for (int i = 0; i < NR_BPOL_STATS; i++)
			json_object_set_new(b, balloon_policy_stat_names[i],
					    json_integer((json_int_t)atomic_load(&h->balloon_policy->stat[i])));
		json_object_set_new(json_object_get(o, "pool"), "balloon_policy", b);
	}
	if (hp->swap) {
		struct swap_device *sd = stage2_swap_device(hp->swap);
		json_t *sw = json_pack("{s:s, s:s}", "path", swap_path(sd), "filesystem", swap_fs_name(sd));

		for (int i = 0; i < NR_SWAP_STATS; i++)
			json_object_set_new(sw, swap_stat_names[i], json_integer((json_int_t)swap_stat(sd, i)));
		json_object_set_new(json_object_get(o, "pool"), "swap", sw);
	}
	return o;
}

/* The flags of the frame at pfn (of its head, for a huge frame). */
static json_t *frame_flags_json(struct stage2 *s2, pfn_t pfn)
{
	struct gmm_frame *f = host_pool_frame(s2->hp, pfn);
	json_t *arr = json_array();

	for (int b = 0; b < NR_FRAME_FLAGS; b++)
		if (frame_test_flag(f, (enum frame_flag_bit)b))
			json_array_append_new(arr, json_string(frame_flag_names[b]));
	return arr;
}

/* `translate`: where a guest page lives: its EPT entry, decoded. */
static json_t *cmd_translate(struct host *h, json_t *req, const char **err)
{
	struct vm *vm = req_guest(h, req, err);
	json_t *gpa_j = json_object_get(req, "gpa");
	uint64_t entry = 0;
	unsigned order = 0;
	json_t *o = NULL;
	int ret;

	if (!vm)
		return NULL;
	if (!vm->mem.s2) {
		*err = "the guest's RAM is not in the pool (backend anon)";
	} else if (!json_is_integer(gpa_j) || json_integer_value(gpa_j) < 0) {
		*err = "missing \"gpa\" (a guest-physical address)";
	} else if ((ret = stage2_translate(vm->mem.s2, (uint64_t)json_integer_value(gpa_j), &entry, &order))) {
		*err = ret == -ENODEV ? "the guest stopped: its memory went back to the pool" : "gpa is not guest RAM";
	} else {
		o = json_pack("{s:I, s:b, s:I, s:i, s:I}", "entry", (json_int_t)entry,
			      "present", ept_entry_present(entry),
			      "pfn", ept_entry_present(entry) ? (json_int_t)ept_entry_pfn(entry) : (json_int_t)-1,
			      "order", (int)order, "state", (json_int_t)ept_entry_state(entry));
		if (ept_entry_present(entry))
			json_object_set_new(o, "frame_flags", frame_flags_json(vm->mem.s2, ept_entry_pfn(entry)));
	}
	host_put_guest(h, vm);
	return o;
}

/* `dirty_log`: write tracking of one guest ("op": start, stop, harvest
 * or status). A harvest replies with the pages written since the last
 * one and, with "runs": true, the runs [gpa, pages] (at most max_runs). */
struct runs_ctx {
	json_t *runs;
	size_t max;
	bool truncated;
};

static void add_run(void *arg, gfn_t gfn, uint64_t nr)
{
	struct runs_ctx *c = arg;

	if (json_array_size(c->runs) >= c->max) {
		c->truncated = true;
		return;
	}
	json_array_append_new(c->runs, json_pack("[I, I]", (json_int_t)(gfn << 12), (json_int_t)nr));
}

#define DIRTY_LOG_MAX_RUNS 4096

static json_t *dirty_log_status(struct stage2 *s2)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:f}", "mode", stage2_dirty_mode_name(s2->dirty_mode),
			 "harvests", (json_int_t)atomic_load(&s2->stat[S2_DIRTY_HARVESTS]),
			 "pages", (json_int_t)atomic_load(&s2->stat[S2_DIRTY_PAGES]),
			 "last_harvest_pages", (json_int_t)s2->dirty_last_pages,
			 "last_harvest_us", (double)s2->dirty_last_ns / 1000.0);
}

static json_t *cmd_dirty_log(struct host *h, json_t *req, const char **err)
{
	struct vm *vm = req_guest(h, req, err);
	const char *op = req_str(req, "op");
	struct runs_ctx rc = { .max = DIRTY_LOG_MAX_RUNS };
	struct stage2 *s2;
	json_t *o = NULL;
	long ret = 0;

	if (!vm)
		return NULL;
	s2 = vm->mem.s2;
	if (!op)
		op = "status";
	if (!s2) {
		*err = "the guest's RAM is not in the pool (backend anon)";
	} else if (!strcmp(op, "status")) {
		o = dirty_log_status(s2);
	} else if (!strcmp(op, "start") || !strcmp(op, "stop")) {
		bool start = !strcmp(op, "start");

		ret = start ? stage2_dirty_start(s2) : stage2_dirty_stop(s2);
		if (ret == -EALREADY)
			*err = start ? "write tracking is already on" : "write tracking is off";
		else if (ret == -EOPNOTSUPP)
			*err = "no write tracking here: the kernel lacks userfaultfd WP_ASYNC (Linux 6.7)";
		else if (ret == -ENODEV)
			*err = "the guest stopped: its memory went back to the pool";
		else if (ret)
			*err = "write tracking failed (see gmm's log)";
		else
			o = dirty_log_status(s2);
	} else if (!strcmp(op, "harvest")) {
		bool want_runs = json_is_true(json_object_get(req, "runs"));

		rc.runs = json_array();
		ret = stage2_dirty_harvest(s2, want_runs ? add_run : NULL, &rc);
		if (ret == -ENOTCONN)
			*err = "write tracking is off (op start)";
		else if (ret == -ENODEV)
			*err = "the guest stopped: its memory went back to the pool";
		else if (ret < 0)
			*err = "harvest failed (see gmm's log)";
		else {
			o = json_pack("{s:s, s:I, s:f}", "mode", stage2_dirty_mode_name(s2->dirty_mode),
				      "pages", (json_int_t)ret, "harvest_us", (double)s2->dirty_last_ns / 1000.0);
			if (want_runs) {
				json_object_set(o, "runs", rc.runs);
				json_object_set_new(o, "runs_truncated", json_boolean(rc.truncated));
			}
		}
		json_decref(rc.runs);
	} else {
		*err = "\"op\" must be start, stop, harvest or status";
	}
	host_put_guest(h, vm);
	return o;
}

/* `check`: the consistency checkers (guestmm's, and each guest's stage 2
 * against its frame descriptors); the reply lists every problem. */
/*
 * The buddy checker on a running pool: a frame another thread is freeing
 * has no reference an instant before it reaches a free list, and looks
 * lost to a walk that passes just then. A walk that finds problems is
 * repeated (a few times, 10 ms apart) and the last one is reported: a
 * real problem persists.
 */
#define POOL_CHECK_TRIES 3

static int pool_check_settled(struct gmm_pool *mm, FILE *f)
{
	for (int i = 1;; i++) {
		if (!gmm_pool_check(mm, NULL) || i == POOL_CHECK_TRIES)
			return gmm_pool_check(mm, f);
		usleep(10000);
	}
}

static json_t *cmd_check(struct host *h, json_t *req, const char **err)
{
	struct vm *vms[HOST_MAX_GUESTS];
	int n = host_get_all(h, vms, HOST_MAX_GUESTS), problems = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *o;

	(void)req;
	if (!f) {
		for (int i = 0; i < n; i++)
			host_put_guest(h, vms[i]);
		*err = "out of memory";
		return NULL;
	}
	if (h->pool)
		problems += pool_check_settled(h->pool->mm, f);
	for (int i = 0; i < n; i++) {
		if (vms[i]->mem.s2)
			problems += stage2_check(vms[i]->mem.s2, f);
		host_put_guest(h, vms[i]);
	}
	fclose(f);
	o = json_pack("{s:i, s:s%}", "problems", problems, "report", text, len);
	free(text);
	return o;
}

/* `limits`: a guest's memcg knobs and memory.events; "set" changes some
 * ({"max": "512M", "high": null, ...}: a size, bytes, or null for none). */
static const char *const limit_names[] = { "max", "high", "low", "min", "swap_max" };

static uint64_t *limit_field(struct stage2_limits *l, int i)
{
	uint64_t *f[] = { &l->max, &l->high, &l->low, &l->min, &l->swap_max };

	return f[i];
}

/* memory.stat's keys that mean the same here: sizes in bytes, events as
 * counts (the rest of the guest's counters are in `stat`). */
static json_t *memory_stat_json(struct stage2 *s2)
{
	static const struct {
		const char *key;
		enum stage2_stat_item item;
	} events[] = {
		{ "pgfault", S2_FAULTS },           { "pgscan", S2_PGSCAN },
		{ "pgsteal", S2_PGSTEAL },          { "pgrefill", S2_PGREFILL },
		{ "pgactivate", S2_PGACTIVATE },    { "pgdeactivate", S2_PGDEACTIVATE },
		{ "pgrotated", S2_PGROTATED },      { "pswpin", S2_PSWPIN },
		{ "pswpout", S2_PSWPOUT },          { "workingset_refault_anon", S2_WORKINGSET_REFAULT },
		{ "workingset_activate_anon", S2_WORKINGSET_ACTIVATE },
		{ "thp_split_page", S2_THP_SPLIT }, { "numa_hint_faults", S2_HINT_FAULTS },
	};
	json_t *o = json_object();

	pthread_mutex_lock(&s2->lock); /* the list sizes add up to anon */
	json_object_set_new(o, "anon", json_integer((json_int_t)(atomic_load(&s2->resident_frames) << 12)));
	json_object_set_new(o, "inactive_anon",
			    json_integer((json_int_t)(gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON) << 12)));
	json_object_set_new(o, "active_anon", json_integer((json_int_t)(gmm_lru_pages(&s2->lru, LRU_ACTIVE_ANON) << 12)));
	json_object_set_new(o, "unevictable", json_integer((json_int_t)(atomic_load(&s2->unevictable_frames) << 12)));
	pthread_mutex_unlock(&s2->lock);
	json_object_set_new(o, "swap", json_integer((json_int_t)(atomic_load(&s2->swap_pages) << 12)));
	json_object_set_new(o, "swapcached", json_integer((json_int_t)(atomic_load(&s2->kept_pages) << 12)));
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		json_object_set_new(o, events[i].key, json_integer((json_int_t)atomic_load(&s2->stat[events[i].item])));
	return o;
}

static json_t *limits_json(struct stage2 *s2)
{
	struct stage2_limits l;
	json_t *lim = json_object(), *ev, *stat;

	stage2_get_limits(s2, &l);
	for (int i = 0; i < 5; i++) {
		uint64_t v = *limit_field(&l, i);

		json_object_set_new(lim, limit_names[i], v == STAGE2_LIMIT_NONE ? json_null() : json_integer((json_int_t)(v << 12)));
	}
	ev = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		       "low", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_LOW]),
		       "high", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_HIGH]),
		       "max", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_MAX]),
		       "oom", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_OOM]),
		       "oom_kill", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_OOM_KILL]),
		       "swap_max", (json_int_t)atomic_load(&s2->stat[S2_MEMCG_SWAP_MAX]));
	/* memory.current and memory.swap.current from the same reads as
	 * the stat beside them: the guest runs meanwhile, and one reply must
	 * not say two things (a page swapped between two reads did) */
	stat = memory_stat_json(s2);
	return json_pack("{s:o, s:O, s:O, s:o, s:o}", "limits", lim, "current_bytes", json_object_get(stat, "anon"),
			 "swap_current_bytes", json_object_get(stat, "swap"), "events", ev, "stat", stat);
}

static json_t *cmd_limits(struct host *h, json_t *req, const char **err)
{
	struct vm *vm = req_guest(h, req, err);
	json_t *set = json_object_get(req, "set"), *o = NULL;
	struct stage2_limits l;

	if (!vm)
		return NULL;
	if (!vm->mem.s2) {
		*err = "the guest's RAM is not in the pool (backend anon)";
		goto out;
	}
	if (set && !json_is_object(set)) {
		*err = "\"set\" must be an object of limits (max, high, low, min, swap_max)";
		goto out;
	}
	if (set) {
		const char *key;
		json_t *val;

		stage2_get_limits(vm->mem.s2, &l);
		json_object_foreach(set, key, val) {
			int i;
			uint64_t bytes;

			for (i = 0; i < 5 && strcmp(key, limit_names[i]); i++)
				;
			if (i == 5) {
				*err = "unknown limit (max, high, low, min, swap_max)";
				goto out;
			}
			if (json_is_null(val) || (json_is_string(val) && !strcmp(json_string_value(val), "max"))) {
				*limit_field(&l, i) = STAGE2_LIMIT_NONE;
				continue;
			}
			if (json_is_integer(val) && json_integer_value(val) >= 0)
				bytes = (uint64_t)json_integer_value(val);
			else if (!json_is_string(val) || size_parse(json_string_value(val), &bytes)) {
				*err = "a limit is a size (\"512M\"), bytes, or null / \"max\" for none";
				goto out;
			}
			if (i == 0 && bytes < STAGE2_LIMIT_MAX_MIN_BYTES) {
				*err = "limits.max: at least 4M";
				goto out;
			}
			*limit_field(&l, i) = bytes >> 12;
		}
		if (stage2_set_limits(vm->mem.s2, &l)) {
			*err = "the guest stopped: its memory went back to the pool";
			goto out;
		}
	}
	o = limits_json(vm->mem.s2);
out:
	host_put_guest(h, vm);
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
	{ "pool", cmd_pool },
	{ "translate", cmd_translate },
	{ "check", cmd_check },
	{ "dirty_log", cmd_dirty_log },
	{ "limits", cmd_limits },
	{ "balloon", cmd_balloon },
	{ "numa", cmd_numa },
	{ "compact", cmd_compact },
	{ "domains", cmd_domains },
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
