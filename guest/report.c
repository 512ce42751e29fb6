/*
 * vCPU 0's closing report: every vCPU's wl_result summed into one, sent as
 * key=value results (GMM_TDEV_RESULT, or "GMM-RESULT key=value" lines under
 * QEMU and on the host), then one human line such as
 *   gmm-guest: zipf 1000000 ops on 256M in 0.52s (1.9M ops/s), verify ok
 */
#include "guest/balloon.h"
#include "guest/plat.h"
#include "guest/workload.h"

struct totals {
	struct wl_result r;
	uint64_t pages;           /* working set */
	double seconds, prefill_seconds, verify_seconds;
	uint64_t verify_passes;   /* full passes over the whole set: min over vCPUs */
};

static double tsc_seconds(const struct wl_ctl *c, uint64_t cycles)
{
	return c->tsc_hz ? (double)cycles / (double)c->tsc_hz : 0.0;
}

static void sum_results(struct wl_ctl *c, int nr, struct totals *t)
{
	uint64_t t0 = UINT64_MAX, t1 = 0, p0 = UINT64_MAX, p1 = 0, vmax = 0;

	*t = (struct totals){ .verify_passes = UINT64_MAX };
	for (int i = 0; i < nr; i++) {
		const struct wl_result *r = wl_peer_result(i);

		t->r.ops += r->ops;
		t->r.pages_touched += r->pages_touched;
		t->r.verify_failures += r->verify_failures;
		t->r.fresh_dirty_pages += r->fresh_dirty_pages;
		t->r.freed_pages += r->freed_pages;
		t->r.grow_pages += r->grow_pages;
		t->r.grow_oom_pages += r->grow_oom_pages;
		t->r.sink ^= r->sink;
		t->r.stall_ops += r->stall_ops;
		t->r.stall_cycles += r->stall_cycles;
		for (int b = 0; b < WL_STALL_BUCKETS; b++)
			t->r.stall_hist[b] += r->stall_hist[b];
		t->verify_passes = r->verify_passes < t->verify_passes ? r->verify_passes : t->verify_passes;
		vmax = r->verify_cycles > vmax ? r->verify_cycles : vmax;
		t0 = r->t_start < t0 ? r->t_start : t0;
		t1 = r->t_end > t1 ? r->t_end : t1;
		if (r->prefill_end) {
			p0 = r->prefill_start < p0 ? r->prefill_start : p0;
			p1 = r->prefill_end > p1 ? r->prefill_end : p1;
		}
	}
	t->pages = c->wset_pages;
	t->seconds = t1 > t0 ? tsc_seconds(c, t1 - t0) : 0.0;
	t->prefill_seconds = p1 > p0 ? tsc_seconds(c, p1 - p0) : 0.0;
	t->verify_seconds = tsc_seconds(c, vmax);
}

static void result_u64(struct wl_ctl *c, const char *key, uint64_t v)
{
	char buf[24];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_putu(&sb, v);
	plat_result(c->cpu, key, buf);
}

static void result_fix(struct wl_ctl *c, const char *key, double v, int decimals)
{
	char buf[32];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_putfix(&sb, v, decimals);
	plat_result(c->cpu, key, buf);
}

static void result_hex(struct wl_ctl *c, const char *key, uint64_t v)
{
	char buf[24];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_putx(&sb, v);
	plat_result(c->cpu, key, buf);
}

void wl_report_balloon(struct wl_ctl *c)
{
	struct balloon_results b;

	balloon_results(&b);
	result_u64(c, "balloon_pages", b.pages);
	result_u64(c, "balloon_inflated", b.inflated);
	result_u64(c, "balloon_deflated", b.deflated);
	result_u64(c, "balloon_oom_deflated", b.oom_deflated);
	result_u64(c, "balloon_reported_pages", b.reported_pages);
	result_u64(c, "balloon_stats_sent", b.stats_sent);
	result_hex(c, "balloon_features", b.features);
}

/*
 * numa.cells as boot_info (version 2+) gives them: numa_cells=N, then
 * numa_cell<j>=<gpa>:<bytes>:<cpu mask>:<node> and the cell vCPU 0 is in
 * (numa_vcpu0_cell). Only under gmm, whose boot_info sits at
 * base + GMM_GPA_BOOT_INFO (the PVH path and the host runner have no
 * cells); nothing without cells.
 */
static void report_cells(struct wl_ctl *c)
{
	const struct gmm_boot_info *bi;
	uint32_t nr;

	if (c->accel != GMM_ACCEL_KVM && c->accel != GMM_ACCEL_NATIVE)
		return;
	bi = (const struct gmm_boot_info *)(uintptr_t)(c->base + GMM_GPA_BOOT_INFO);
	if (bi->magic != GMM_BOOT_MAGIC || bi->version < 2 || !bi->nr_cells)
		return;
	nr = bi->nr_cells < GMM_MAX_CELLS ? bi->nr_cells : GMM_MAX_CELLS;
	result_u64(c, "numa_cells", nr);
	for (uint32_t j = 0; j < nr; j++) {
		const struct gmm_numa_cell *cell = &bi->cells[j];
		char key[16], buf[96];
		struct sbuf sb;

		sb_init(&sb, key, sizeof(key));
		sb_puts(&sb, "numa_cell");
		sb_putu(&sb, j);
		sb_init(&sb, buf, sizeof(buf));
		sb_putx(&sb, cell->gpa);
		sb_putc(&sb, ':');
		sb_putu(&sb, cell->bytes);
		sb_putc(&sb, ':');
		sb_putx(&sb, cell->cpu_mask);
		sb_putc(&sb, ':');
		sb_putu(&sb, cell->node);
		plat_result(c->cpu, key, buf);
		if (cell->cpu_mask & 1)
			result_u64(c, "numa_vcpu0_cell", j);
	}
}

static uint64_t per_sec(uint64_t n, double seconds)
{
	return seconds > 0 ? (uint64_t)((double)n / seconds + 0.5) : 0;
}

/* stalls=1: the slow ops of the timed phase, their total time, and a
 * histogram "n0:n1:..." by log2 us (bucket i: [2^i, 2^(i+1)) us). */
static void report_stalls(struct wl_ctl *c, const struct totals *t)
{
	char buf[WL_STALL_BUCKETS * 21];
	struct sbuf sb;

	result_u64(c, "stall_ops", t->r.stall_ops);
	result_fix(c, "stall_seconds", tsc_seconds(c, t->r.stall_cycles), 6);
	sb_init(&sb, buf, sizeof(buf));
	for (int b = 0; b < WL_STALL_BUCKETS; b++) {
		if (b)
			sb_putc(&sb, ':');
		sb_putu(&sb, t->r.stall_hist[b]);
	}
	plat_result(c->cpu, "stall_hist_log2_us", buf);
}

static void send_results(struct wl_ctl *c, const struct totals *t, uint32_t exit_code)
{
	const struct wl_params *p = c->p;
	bool ops_wl = p->workload == WL_RANDOM || p->workload == WL_ZIPF;

	plat_result(c->cpu, "workload", wl_name(p->workload));
	result_u64(c, "vcpus", (uint64_t)c->nr_cpus);
	plat_result(c->cpu, "platform", plat_name());
	if (t->pages) {
		result_u64(c, "size_bytes", t->pages << PAGE_SHIFT);
		result_u64(c, "wset_pages", t->pages);
	}
	result_u64(c, "pages_touched", t->r.pages_touched);
	result_u64(c, "ops", t->r.ops);
	result_fix(c, "seconds", t->seconds, 6);
	result_u64(c, "ops_per_sec", per_sec(t->r.ops, t->seconds));
	if (p->workload == WL_TOUCH)
		result_u64(c, "pages_per_sec", per_sec(t->r.ops, t->seconds));
	if (ops_wl) {
		result_u64(c, "iters", p->iters);
		if (p->duration_s)
			result_u64(c, "duration", p->duration_s);
		result_u64(c, "write_pct", p->write_pct);
		result_u64(c, "prefill", p->prefill);
		if (p->prefill) {
			result_fix(c, "prefill_seconds", t->prefill_seconds, 6);
			result_u64(c, "prefill_pages_per_sec", per_sec(t->pages, t->prefill_seconds));
		}
	}
	if (ops_wl && p->stalls)
		report_stalls(c, t);
	if (p->workload == WL_ZIPF)
		result_fix(c, "theta", p->theta, 3);
	if (p->workload == WL_IOEXIT && t->r.ops)
		result_fix(c, "io_exit_us", t->seconds * 1e6 / (double)t->r.ops, 3);
	if (p->verify) {
		result_u64(c, "verify_failures", t->r.verify_failures);
		result_u64(c, "fresh_dirty_pages", t->r.fresh_dirty_pages);
		result_u64(c, "verify_passes", t->verify_passes);
		result_fix(c, "verify_seconds", t->verify_seconds, 6);
	} else if (p->grow_bytes) {
		result_u64(c, "verify_failures", t->r.verify_failures);  /* the grown pages are checked */
	}
	if (p->free_wset)
		result_u64(c, "freed_pages", t->r.freed_pages);
	if (p->grow_bytes) {
		result_u64(c, "grow_pages", t->r.grow_pages);
		result_u64(c, "grow_oom_pages", t->r.grow_oom_pages);
	}
	if (p->balloon)
		wl_report_balloon(c);
	report_cells(c);
	result_u64(c, "seed", p->seed);
	result_u64(c, "tsc_hz", c->tsc_hz);
	result_u64(c, "exit_code", exit_code);
}

static void summary_line(struct wl_ctl *c, const struct totals *t)
{
	const struct wl_params *p = c->p;
	char buf[256];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, wl_name(p->workload));
	sb_putc(&sb, ' ');
	sb_putu(&sb, t->r.ops);
	sb_puts(&sb, p->workload == WL_TOUCH ? " pages" : p->workload == WL_GARBAGE ? " accesses" : " ops");
	if (t->pages) {
		sb_puts(&sb, " on ");
		sb_putsize(&sb, t->pages << PAGE_SHIFT);
	}
	sb_puts(&sb, " in ");
	sb_putfix(&sb, t->seconds, t->seconds < 10 ? 2 : 1);
	sb_puts(&sb, "s (");
	sb_putsi(&sb, (double)per_sec(t->r.ops, t->seconds));
	sb_puts(&sb, p->workload == WL_TOUCH ? " pages/s)" : " ops/s)");
	if (p->grow_bytes) {
		sb_puts(&sb, ", grew ");
		sb_putsize(&sb, t->r.grow_pages << PAGE_SHIFT);
		if (t->r.grow_oom_pages) {
			sb_puts(&sb, " (");
			sb_putsize(&sb, t->r.grow_oom_pages << PAGE_SHIFT);
			sb_puts(&sb, " short)");
		}
	}
	if (p->verify || p->grow_bytes) {
		if (t->r.verify_failures) {
			sb_puts(&sb, ", verify FAILED: ");
			sb_putu(&sb, t->r.verify_failures);
			sb_puts(&sb, " bad words");
		} else {
			sb_puts(&sb, ", verify ok");
		}
	}
	if (!c->tsc_hz)
		sb_puts(&sb, " [TSC frequency unknown: no timings]");
	wl_print(c, buf);
}

void wl_report(struct wl_ctl *c, uint32_t exit_code)
{
	struct totals t;

	sum_results(c, c->nr_cpus, &t);
	send_results(c, &t, exit_code);
	summary_line(c, &t);
}
