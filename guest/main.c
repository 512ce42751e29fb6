/*
 * The ring-3 guest's C entry, run by every vCPU: parse the command line,
 * carve this vCPU's slice of the working set, run the workload, and meet
 * the others. vCPU 0 waits for the rest (spinning on counters in guest
 * memory: there are no interrupts to sleep on), aggregates, reports and
 * exits the guest; the others report VCPU_DONE and park. With balloon=1
 * the last vCPU drives the virtio-balloon instead (balloon.c) until
 * vCPU 0 stops it.
 */
#include "guest/balloon.h"
#include "guest/gpool.h"
#include "guest/plat.h"
#include "guest/verify.h"
#include "guest/workload.h"

/* Shared by the vCPUs of this guest (BSS: zero at boot). */
static struct {
	unsigned arrived[2];                      /* per wl_sync() phase */
	unsigned done;                            /* vCPUs past their workload */
	int nr_cpus;                              /* vCPUs running the workload */
	int exit_code[GMM_MAX_VCPUS];
	struct wl_result *result[GMM_MAX_VCPUS];  /* each vCPU's wl_ctl.r */
} shared;

/*
 * The reserve: memory the guest needs for itself, carved off the top of
 * the last RAM range that holds it (wset_init), outside the working set
 * and outside gpool. Every vCPU computes the same layout from the command
 * line and boot_info. Offsets are page-aligned; a part not needed is 0
 * bytes, and with none the guest's memory is exactly the working set's.
 */
struct reserve {
	uint64_t touched;     /* random/zipf prefill=0: a bitmap per vCPU */
	uint64_t gpool;       /* gpool's bitmaps */
	uint64_t grow;        /* grow=: the grown pages' gfns */
	uint64_t balloon;     /* balloon=1: rings, PFN array, statistics */
	uint64_t bytes;
};

void wl_print(struct wl_ctl *c, const char *text)
{
	char buf[256];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: ");
	sb_puts(&sb, text);
	plat_print(c->cpu, buf);
}

void wl_sync(struct wl_ctl *c, unsigned phase)
{
	__atomic_add_fetch(&shared.arrived[phase], 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&shared.arrived[phase], __ATOMIC_ACQUIRE) < (unsigned)c->nr_cpus)
		cpu_relax();
}

const struct wl_result *wl_peer_result(int cpu)
{
	return __atomic_load_n(&shared.result[cpu], __ATOMIC_ACQUIRE);
}

__attribute__((noreturn)) static void bad_cmdline(int cpu, const char *why)
{
	char buf[512];
	struct sbuf sb;

	if (cpu != 0)
		plat_vcpu_done(cpu);
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: bad command line: ");
	sb_puts(&sb, why);
	plat_print(cpu, buf);
	plat_print(cpu, "gmm-guest: usage: workload=touch|random|zipf|hog|crash|garbage|ioexit [size=S] [iters=N] [duration=S] "
		   "[theta=T] [verify=1] [verify_every=N] [seed=N] [vcpus=N] [balloon=1] [hold=S] [free=1] [grow=S] [stalls=1] ... "
		   "(docs/test-guest.md)");
	plat_exit(cpu, GMM_EXIT_BAD_CMDLINE);
}

static bool uses_memory(enum wl_kind w)
{
	return w == WL_TOUCH || w == WL_RANDOM || w == WL_ZIPF || w == WL_HOG;
}

static bool uses_gpool(const struct wl_params *p)
{
	return p->balloon || p->free_wset || p->grow_bytes;
}

static uint64_t page_align(uint64_t bytes)
{
	return (bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* Bytes for the touched-pages bitmaps (random/zipf with prefill=0): one
 * bitmap per vCPU, sized for the largest slice, carved off the top of RAM. */
static uint64_t bitmap_bytes(const struct wl_params *p, const struct gmm_boot_info *bi, int nr)
{
	uint64_t pages = (p->size_bytes ? p->size_bytes : wset_free_bytes(bi)) >> PAGE_SHIFT;
	uint64_t words = (pages / (uint64_t)nr + pages % (uint64_t)nr + 63) / 64;

	if (p->prefill || (p->workload != WL_RANDOM && p->workload != WL_ZIPF))
		return 0;
	return words * 8 * (uint64_t)nr;
}

static void reserve_layout(const struct wl_params *p, const struct gmm_boot_info *bi, int nr, struct reserve *r)
{
	r->touched = 0;
	r->gpool = r->touched + page_align(bitmap_bytes(p, bi, nr));
	r->grow = r->gpool + (uses_gpool(p) ? gpool_reserve_bytes(wset_free_bytes(bi) >> PAGE_SHIFT) : 0);
	r->balloon = r->grow + page_align((p->grow_bytes >> PAGE_SHIFT) * 8);
	r->bytes = r->balloon + (p->balloon ? BALLOON_RESERVE_BYTES : 0);
}

uint64_t wl_reserve_bytes(const struct wl_params *p, const struct gmm_boot_info *bi, int nr_cpus)
{
	struct reserve r;

	reserve_layout(p, bi, nr_cpus, &r);
	return r.bytes;
}

/* The working set and the reserve, the same on every vCPU. Without size=,
 * the set is all free RAM but what grow= will ask of gpool. */
static int carve(struct wl_ctl *c, const struct gmm_boot_info *bi, struct reserve *r, struct wset *ws,
		 uint64_t *reserve_gva, struct sbuf *err)
{
	uint64_t want = c->p->size_bytes;

	reserve_layout(c->p, bi, c->nr_cpus, r);
	if (!want && c->p->grow_bytes) {
		uint64_t free_bytes = wset_free_bytes(bi);

		if (free_bytes <= r->bytes + c->p->grow_bytes) {
			sb_puts(err, "grow: more than the RAM free for the workload");
			return -1;
		}
		want = free_bytes - r->bytes - c->p->grow_bytes;
	}
	*reserve_gva = 0;
	return wset_init(ws, bi, c->base, want, r->bytes, reserve_gva, err);
}

/* vCPU 0 sets up gpool over every page the reserve leaves, the working
 * set (the first ws->pages of them) in use. */
static int setup_gpool(struct wl_ctl *c, const struct gmm_boot_info *bi, const struct reserve *r,
		       const struct wset *ws, uint64_t reserve_gva, struct sbuf *err)
{
	struct wset all;

	if (wset_init(&all, bi, c->base, 0, r->bytes, NULL, err))
		return -1;
	gpool_init(&all, ws->pages, (void *)(reserve_gva + r->gpool));
	return 0;
}

/* This vCPU's slice of the working set, its share of iters and grow=,
 * its bitmap; vCPU 0 also sets gpool up. */
static int setup_slice(struct wl_ctl *c, const struct gmm_boot_info *bi, struct sbuf *err)
{
	uint64_t reserve_gva, per, first, n, nr = (uint64_t)c->nr_cpus, grow = c->p->grow_bytes >> PAGE_SHIFT;
	uint64_t bitmaps = bitmap_bytes(c->p, bi, c->nr_cpus);
	struct reserve r;
	struct wset ws;

	if (carve(c, bi, &r, &ws, &reserve_gva, err))
		return -1;
	if (ws.pages < nr) {
		sb_puts(err, "size: fewer pages than vCPUs");
		return -1;
	}
	per = ws.pages / nr;
	first = per * (uint64_t)c->cpu;
	n = per + (c->cpu == c->nr_cpus - 1 ? ws.pages % nr : 0);
	wset_slice(&ws, first, n, &c->set);
	c->wset_pages = ws.pages;
	c->iters = c->p->iters / nr + (c->cpu == 0 ? c->p->iters % nr : 0);
	if (bitmaps) {
		uint64_t words = bitmaps / 8 / nr;

		c->touched = (uint64_t *)(reserve_gva + r.touched) + words * (uint64_t)c->cpu;
		for (uint64_t i = 0; i < words; i++)  /* RAM under QEMU need not be zero */
			c->touched[i] = 0;
	}
	c->grow_gfns = (uint64_t *)(reserve_gva + r.grow) + grow / nr * (uint64_t)c->cpu;
	c->grow_share = grow / nr + (c->cpu == c->nr_cpus - 1 ? grow % nr : 0);
	if (c->cpu == 0 && uses_gpool(c->p))
		return setup_gpool(c, bi, &r, &ws, reserve_gva, err);
	return 0;
}

/* The balloon's MINFLT: pages the workload first touched, grow= included
 * (relaxed reads of the other vCPUs' live results). */
static uint64_t pages_first_touched(void)
{
	uint64_t n = 0;

	for (int i = 0; i < __atomic_load_n(&shared.nr_cpus, __ATOMIC_RELAXED); i++) {
		const struct wl_result *r = wl_peer_result(i);

		if (r)
			n += __atomic_load_n(&r->pages_touched, __ATOMIC_RELAXED) +
			     __atomic_load_n(&r->grow_pages, __ATOMIC_RELAXED);
	}
	return n;
}

/* The balloon vCPU: the reserve's balloon part, then the driver for good. */
__attribute__((noreturn)) static void run_balloon(struct wl_ctl *c, const struct gmm_boot_info *bi)
{
	static struct balloon_cfg cfg;  /* BSS: balloon_main keeps a pointer */
	uint64_t reserve_gva;
	struct reserve r;
	struct wset ws;
	char ebuf[256];
	struct sbuf err;

	sb_init(&err, ebuf, sizeof(ebuf));
	if (carve(c, bi, &r, &ws, &reserve_gva, &err))
		plat_vcpu_done(c->cpu);  /* vCPU 0 says why and exits */
	cfg = (struct balloon_cfg){
		.cpu = c->cpu,
		.base = c->base,
		.tsc_hz = c->tsc_hz,
		.ram_bytes = c->ram_bytes,
		.features_mask = c->p->balloon_features,
		.mem = (void *)(reserve_gva + r.balloon),
		.minflt = pages_first_touched,
	};
	balloon_main(&cfg);
}

static int run_workload(struct wl_ctl *c)
{
	switch (c->p->workload) {
	case WL_TOUCH:   return wl_touch(c);
	case WL_RANDOM:  return wl_random(c);
	case WL_ZIPF:    return wl_zipf(c);
	case WL_HOG:     return wl_hog(c);
	case WL_CRASH:   return wl_crash(c);
	case WL_GARBAGE: return wl_garbage(c);
	case WL_IOEXIT:  return wl_ioexit(c);
	case NR_WL:      break;
	}
	return GMM_EXIT_BAD_CMDLINE;
}

static void announce(struct wl_ctl *c)
{
	char buf[200];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, wl_name(c->p->workload));
	sb_puts(&sb, " on ");
	sb_putu(&sb, (uint64_t)c->nr_cpus);
	sb_puts(&sb, c->nr_cpus == 1 ? " vCPU (" : " vCPUs (");
	sb_puts(&sb, plat_name());
	sb_puts(&sb, ")");
	if (uses_memory(c->p->workload)) {
		sb_puts(&sb, ", ");
		sb_putsize(&sb, c->wset_pages << PAGE_SHIFT);
		sb_puts(&sb, " working set");
		sb_puts(&sb, c->p->verify ? ", verify on" : "");
	}
	wl_print(c, buf);
}

__attribute__((noreturn)) static void finish(struct wl_ctl *c, int code)
{
	int worst = code;

	shared.exit_code[c->cpu] = code;
	if (c->cpu != 0) {
		__atomic_add_fetch(&shared.done, 1, __ATOMIC_RELEASE);
		plat_vcpu_done(c->cpu);
	}
	while (__atomic_load_n(&shared.done, __ATOMIC_ACQUIRE) < (unsigned)c->nr_cpus - 1)
		cpu_relax();
	if (c->p->balloon)
		balloon_stop(c->tsc_hz);
	for (int i = 1; i < c->nr_cpus; i++)
		if (shared.exit_code[i] > worst)
			worst = shared.exit_code[i];
	wl_report(c, (uint32_t)worst);
	/* crash= on another workload: after the results, so both get tested */
	if (c->p->crash != CRASH_NONE && c->p->workload != WL_CRASH)
		wl_crash_now(c, c->p->crash);
	plat_exit(c->cpu, (uint32_t)worst);
}

/* Everything the command line and boot_info decide, or a one-line error. */
static int configure(struct wl_ctl *c, struct wl_params *p, const char *cmdline,
		     const struct gmm_boot_info *bi, struct sbuf *err)
{
	/* a VMM that says 0 (or too many) vCPUs still gets a guest that exits */
	uint32_t started = bi->nr_vcpus ? bi->nr_vcpus : 1;

	if (started > GMM_MAX_VCPUS)
		started = GMM_MAX_VCPUS;
	if (bi->magic != GMM_BOOT_MAGIC || bi->version < 1) {
		sb_puts(err, "boot_info: bad magic or version");
		return -1;
	}
	c->accel = bi->accel;
	if (cmdline_parse(cmdline, p, err))
		return -1;
	c->balloon_cpu = -1;
	if (p->balloon) {
		/* the last vCPU started drives the balloon; the others are the workload's */
		if (started < 2) {
			sb_puts(err, "balloon: needs a vCPU of its own besides the workload's (the guest has 1)");
			return -1;
		}
		c->balloon_cpu = (int)--started;
	}
	if (p->vcpus > started) {
		sb_puts(err, "vcpus: more than the ");
		sb_putu(err, started);
		sb_puts(err, p->balloon ? " vCPUs the guest has besides the balloon's" : " vCPUs the guest has");
		return -1;
	}
	if ((p->workload == WL_GARBAGE || p->workload == WL_IOEXIT) && !plat_has_port_io()) {
		sb_puts(err, p->workload == WL_GARBAGE ? "workload=garbage: needs a VMM (port I/O and a device hole)" :
			"workload=ioexit: needs a VMM (port I/O)");
		return -1;
	}
	c->nr_cpus = (int)(p->vcpus ? p->vcpus : started);
	if (!uses_memory(p->workload))
		c->nr_cpus = 1;  /* crash, garbage and ioexit are vCPU 0's alone */
	return 0;
}

void guest_main(uint64_t vcpu_id, const char *cmdline, uint64_t ram_bytes, uint64_t base, uint64_t tsc_hz,
		const struct gmm_boot_info *bi)
{
	int cpu = (int)vcpu_id;
	struct wl_params p;
	struct wl_ctl c = { .p = &p, .cpu = cpu, .base = base, .ram_bytes = ram_bytes, .tsc_hz = tsc_hz };
	char ebuf[256];
	struct sbuf err;

	plat_init(cpu, base, bi);
	if (vcpu_id >= GMM_MAX_VCPUS)
		plat_vcpu_done(cpu);
	sb_init(&err, ebuf, sizeof(ebuf));
	if (configure(&c, &p, cmdline, bi, &err))
		bad_cmdline(cpu, ebuf);
	__atomic_store_n(&shared.nr_cpus, c.nr_cpus, __ATOMIC_RELAXED);  /* every vCPU: the same value */
	if (cpu == c.balloon_cpu)
		run_balloon(&c, bi);
	if (cpu >= c.nr_cpus)
		plat_vcpu_done(cpu);  /* not taking part */
	if (uses_memory(p.workload) && setup_slice(&c, bi, &err))
		bad_cmdline(cpu, ebuf);
	rng_seed(&c.rng, p.seed ^ ((uint64_t)(cpu + 1) * 0x9e3779b97f4a7c15ULL));
	__atomic_store_n(&shared.result[cpu], &c.r, __ATOMIC_RELEASE);
	if (cpu == 0)
		announce(&c);
	wl_sync(&c, 0);
	finish(&c, run_workload(&c));
}
