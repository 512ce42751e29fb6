/* See balloon.h. */
#include "guest/balloon.h"

#include "balloon/virtio_balloon.h"
#include "guest/gpool.h"
#include "guest/plat.h"
#include "guest/virtio.h"

#define BALLOON_BATCH_PAGES   1024   /* PFNs per inflate/deflate buffer: one page of le32 */
#define BALLOON_BUFS          8      /* buffers per request, one kick: the device drains
				      * them as one batch (Linux: one buffer of 256 PFNs) */
#define BALLOON_OOM_PAGES     256    /* given back per OOM request (Linux: VIRTIO_BALLOON_OOM_NR_PAGES) */
#define BALLOON_POLL_US       1000   /* config space poll period */
#define BALLOON_RETRY_MS      100    /* after an inflate found no free page (Linux sleeps 200 ms) */
#define REPORT_PERIOD_MS      100
#define REPORT_MIN_PAGES      32     /* smallest run worth a report */
#define REPORT_MAX_PAGES      1024   /* per buffer */
#define REPORT_MAX_BUFS       16     /* per request */
#define BALLOON_STOP_WAIT_S   3
#define BALLOON_NR_STATS      8

/* Config space fields (struct virtio_balloon_config). */
#define CFG_NUM_PAGES __builtin_offsetof(struct virtio_balloon_config, num_pages)
#define CFG_ACTUAL    __builtin_offsetof(struct virtio_balloon_config, actual)

_Static_assert(VIRTIO_BALLOON_MAX_QUEUES * VQ_RING_BYTES + (BALLOON_BUFS + 1) * PAGE_SIZE <= BALLOON_RESERVE_BYTES,
	       "rings, PFN arrays and statistics fit the reserve");
_Static_assert(BALLOON_BATCH_PAGES * 4 <= PAGE_SIZE, "the PFN array is one page");

enum balloon_state { BS_STARTING, BS_RUNNING, BS_ABSENT, BS_STOPPED };

/* Shared with the other vCPUs (BSS). The balloon vCPU writes everything
 * but stop and oom_req; figures are stored with relaxed atomics, state
 * with release. */
static struct {
	int state;                    /* enum balloon_state */
	bool oom_capable;             /* DEFLATE_ON_OOM negotiated (set before RUNNING) */
	bool stop;                    /* vCPU 0: finish and stop */
	uint64_t oom_req;             /* OOM requests made (workload vCPUs) */
	uint64_t oom_done;            /* requests served (balloon vCPU) */
	uint64_t oom_last_pages;      /* what the last serving deflate gave back */
	struct balloon_results res;
} shared;

/* The driver's own state: the balloon vCPU alone uses it. */
struct balloon {
	const struct balloon_cfg *cfg;
	struct virtio_dev dev;
	struct vq vqs[VIRTIO_BALLOON_MAX_QUEUES];
	struct vq *inflate_vq, *deflate_vq, *stats_vq, *report_vq;
	uint32_t *pfns;               /* the inflate/deflate buffer (reserve) */
	struct virtio_balloon_stat *stats;  /* the statistics buffer (reserve) */
	uint64_t gfns[BALLOON_BATCH_PAGES * BALLOON_BUFS];
	bool dead;                    /* the device broke: serve stop and OOM only */
	uint32_t held;                /* pages in the balloon (what `actual` says) */
	uint32_t target;              /* num_pages as last read */
	uint32_t announced;           /* the last target reached and printed */
	uint64_t target_tsc;          /* when target took its value */
	bool oom_hold;                /* deflated for OOM: no inflating until num_pages changes */
	uint64_t inflate_retry_tsc;   /* no free page: do not try again before */
	bool short_said;              /* "no free page" printed for this target */
	uint64_t next_report_tsc;
	uint64_t ms;                  /* TSC cycles per millisecond (at least 1) */
};

static void say(const struct balloon *b, const char *text)
{
	char buf[240];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: balloon: ");
	sb_puts(&sb, text);
	plat_print(b->cfg->cpu, buf);
}

static void set_result(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}

static void add_result(uint64_t *field, uint64_t n)
{
	set_result(field, *field + n);  /* one writer: the balloon vCPU */
}

/* Kick and wait for the device to give the nr chains just posted back.
 * False when the device broke instead: it set DEVICE_NEEDS_RESET, checked
 * every 10 ms (an MMIO exit each). */
static bool kick_and_wait(struct balloon *b, struct vq *vq, unsigned nr)
{
	uint64_t next_check = plat_now_tsc() + 10 * b->ms;
	uint32_t used_len;

	vq_kick(vq);
	for (unsigned got = 0; got < nr; got += vq_get_used(vq, &used_len) >= 0) {
		if (plat_now_tsc() >= next_check) {
			if (virtio_status(&b->dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
				return false;
			next_check = plat_now_tsc() + 10 * b->ms;
		}
		cpu_relax();
	}
	return true;
}

/* b->pfns[0..n) as device-readable buffers of a page each, one kick,
 * every one acknowledged. */
static bool tell_host(struct balloon *b, struct vq *vq, unsigned n)
{
	unsigned nr = 0;

	for (unsigned i = 0; i < n; i += BALLOON_BATCH_PAGES, nr++) {
		unsigned len = n - i < BALLOON_BATCH_PAGES ? n - i : BALLOON_BATCH_PAGES;
		struct vq_buf buf = { (uint64_t)(b->pfns + i) - b->cfg->base, len * 4 };

		if (vq_add(vq, &buf, 1, NULL, 0) < 0)
			return false;  /* cannot happen: the ring holds BALLOON_BUFS */
	}
	return kick_and_wait(b, vq, nr);
}

static void device_broke(struct balloon *b)
{
	say(b, "the device needs a reset (DEVICE_NEEDS_RESET); the driver stops using it");
	b->dead = true;
}

static void update_actual(struct balloon *b)
{
	virtio_config_write32(&b->dev, CFG_ACTUAL, b->held);
	set_result(&shared.res.pages, b->held);
}

/* Inflate: up to max free pages (gpool picks), in one request. Pages
 * beyond what a le32 PFN can name (16 TiB) are given straight back. */
static unsigned inflate_batch(struct balloon *b, uint32_t max)
{
	unsigned n = gpool_take_for_balloon(max, b->gfns), ok = 0;

	for (unsigned i = 0; i < n; i++)
		if (b->gfns[i] <= UINT32_MAX)
			b->pfns[ok++] = (uint32_t)b->gfns[i];
	if (ok < n) {
		for (unsigned i = 0, j = 0; i < n; i++)  /* keep the too-high ones in gfns[0..] */
			if (b->gfns[i] > UINT32_MAX)
				b->gfns[j++] = b->gfns[i];
		gpool_return_from_balloon(b->gfns, n - ok);
	}
	if (!ok)
		return 0;
	if (!tell_host(b, b->inflate_vq, ok)) {
		device_broke(b);
		return 0;  /* the pages stay ballooned: the host may have taken them */
	}
	b->held += ok;
	add_result(&shared.res.inflated, ok);
	update_actual(b);
	return ok;
}

/* Deflate: up to max pages back to gpool once the host acknowledged
 * (without MUST_TELL_HOST we could reuse them at once, but the host's
 * bookkeeping is simpler if it hears first, and Linux always tells). */
static unsigned deflate_batch(struct balloon *b, uint32_t max)
{
	unsigned n = gpool_list_ballooned(max, b->gfns);

	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		b->pfns[i] = (uint32_t)b->gfns[i];
	if (!tell_host(b, b->deflate_vq, n)) {
		device_broke(b);
		return 0;
	}
	gpool_return_from_balloon(b->gfns, n);
	b->held -= n;
	add_result(&shared.res.deflated, n);
	update_actual(b);
	return n;
}

/* ---- statistics (STATS_VQ) ---------------------------------------------
 * 5.5.6.3: the driver posts one buffer of tag/value pairs; the device
 * holds it and returns it when it wants fresh figures; the driver refills
 * it and posts it again. */

static void put_stat(struct virtio_balloon_stat *s, uint16_t tag, uint64_t val)
{
	s->tag = tag;
	s->val = val;
}

static void post_stats(struct balloon *b)
{
	struct virtio_balloon_stat *s = b->stats;
	struct gpool_counts gc;
	struct vq_buf buf = { (uint64_t)s - b->cfg->base, BALLOON_NR_STATS * sizeof(*s) };
	uint64_t free_bytes;

	gpool_counts(&gc);
	free_bytes = (gc.free_pages + gc.isolated_pages) << PAGE_SHIFT;
	put_stat(&s[0], VIRTIO_BALLOON_S_SWAP_IN, 0);
	put_stat(&s[1], VIRTIO_BALLOON_S_SWAP_OUT, 0);
	put_stat(&s[2], VIRTIO_BALLOON_S_MAJFLT, 0);
	put_stat(&s[3], VIRTIO_BALLOON_S_MINFLT, b->cfg->minflt ? b->cfg->minflt() : 0);
	put_stat(&s[4], VIRTIO_BALLOON_S_MEMFREE, free_bytes);
	put_stat(&s[5], VIRTIO_BALLOON_S_MEMTOT, b->cfg->ram_bytes);
	put_stat(&s[6], VIRTIO_BALLOON_S_AVAIL, free_bytes);
	put_stat(&s[7], VIRTIO_BALLOON_S_CACHES, 0);
	if (vq_add(b->stats_vq, &buf, 1, NULL, 0) < 0)
		return;
	vq_kick(b->stats_vq);
	add_result(&shared.res.stats_sent, 1);
}

static void poll_stats(struct balloon *b)
{
	uint32_t len;

	if (b->stats_vq && vq_get_used(b->stats_vq, &len) >= 0)
		post_stats(b);
}

/* ---- free page reporting (REPORTING) -----------------------------------
 * Like Linux's page_reporting: isolate runs of free, not yet reported
 * pages, hand them to the device as device-writable buffers (the device
 * may discard their contents), and when it is done put them back as free
 * and reported. A reported page allocated again is simply used: the host
 * backs it with a fresh zero page. Returns true when it sent a full
 * request (more may be waiting). */
static bool report_free_pages(struct balloon *b)
{
	struct vq_buf bufs[REPORT_MAX_BUFS];
	uint64_t gfn[REPORT_MAX_BUFS], len[REPORT_MAX_BUFS], pages = 0;
	unsigned n, max = b->report_vq->num < REPORT_MAX_BUFS ? b->report_vq->num : REPORT_MAX_BUFS;
	bool ok;

	for (n = 0; n < max; n++) {
		len[n] = gpool_next_unreported_run(REPORT_MIN_PAGES, REPORT_MAX_PAGES, &gfn[n]);
		if (!len[n])
			break;
		bufs[n] = (struct vq_buf){ gfn[n] << PAGE_SHIFT, (uint32_t)(len[n] << PAGE_SHIFT) };
		pages += len[n];
	}
	if (!n)
		return false;
	ok = vq_add(b->report_vq, NULL, 0, bufs, n) >= 0 && kick_and_wait(b, b->report_vq, 1);
	for (unsigned i = 0; i < n; i++)
		gpool_mark_reported(gfn[i], len[i], ok);
	if (!ok) {
		device_broke(b);
		return false;
	}
	add_result(&shared.res.reported_pages, pages);
	return n == max;
}

/* ---- the loop ----------------------------------------------------------- */

/* A workload vCPU ran out of memory: give back up to BALLOON_OOM_PAGES
 * and stop inflating until the host sets a new target (as Linux's
 * deflate-on-OOM shrinker leaves the balloon alone until the next config
 * change). Every request made so far is served by this one deflate. */
static void serve_oom(struct balloon *b)
{
	uint64_t req = __atomic_load_n(&shared.oom_req, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	if (req == shared.oom_done)
		return;
	if (!b->dead && b->held) {
		n = deflate_batch(b, b->held < BALLOON_OOM_PAGES ? b->held : BALLOON_OOM_PAGES);
		add_result(&shared.res.oom_deflated, n);
	}
	if (n)
		b->oom_hold = true;
	__atomic_store_n(&shared.oom_last_pages, n, __ATOMIC_RELAXED);
	__atomic_store_n(&shared.oom_done, req, __ATOMIC_RELEASE);
}

static void read_target(struct balloon *b, uint64_t now)
{
	uint32_t t = virtio_config_read32(&b->dev, CFG_NUM_PAGES);

	if (t == b->target)
		return;
	b->target = t;
	b->target_tsc = now;
	b->oom_hold = false;
	b->inflate_retry_tsc = 0;
	b->short_said = false;
}

/* Once per target: the guest has no free page left for it. */
static void say_short(struct balloon *b)
{
	char buf[160];
	struct sbuf sb;

	if (b->short_said)
		return;
	b->short_said = true;
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: balloon: ");
	sb_putu(&sb, b->held);
	sb_puts(&sb, " of ");
	sb_putu(&sb, b->target);
	sb_puts(&sb, " pages: no free page left to inflate (retrying)");
	plat_print(b->cfg->cpu, buf);
}

/* "balloon: N pages (X MiB) after T ms", once per target reached. */
static void announce_reached(struct balloon *b, uint64_t now)
{
	char buf[160];
	struct sbuf sb;

	if (b->held != b->target || b->target == b->announced)
		return;
	b->announced = b->target;
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: balloon: ");
	sb_putu(&sb, b->held);
	sb_puts(&sb, " pages (");
	sb_putu(&sb, b->held >> 8);
	sb_puts(&sb, " MiB) after ");
	sb_putu(&sb, (now - b->target_tsc) / b->ms);
	sb_puts(&sb, " ms");
	plat_print(b->cfg->cpu, buf);
}

enum balloon_step { STEP_INFLATE, STEP_DEFLATE, STEP_REPORT, STEP_IDLE };

static enum balloon_step next_step(const struct balloon *b, uint64_t now)
{
	if (b->dead)
		return STEP_IDLE;
	if (b->target > b->held && !b->oom_hold && now >= b->inflate_retry_tsc)
		return STEP_INFLATE;
	if (b->target < b->held)
		return STEP_DEFLATE;
	if (b->report_vq && now >= b->next_report_tsc)
		return STEP_REPORT;
	return STEP_IDLE;
}

static bool stop_requested(void)
{
	return __atomic_load_n(&shared.stop, __ATOMIC_ACQUIRE);
}

/* About a millisecond, cut short by a stop or an OOM request. */
static void idle(struct balloon *b)
{
	uint64_t until = plat_now_tsc() + BALLOON_POLL_US * b->ms / 1000;

	while (plat_now_tsc() < until && !stop_requested() &&
	       __atomic_load_n(&shared.oom_req, __ATOMIC_RELAXED) == shared.oom_done)
		cpu_relax();
}

static void run(struct balloon *b)
{
	while (!stop_requested()) {
		uint64_t now = plat_now_tsc();
		uint32_t diff;

		poll_stats(b);
		serve_oom(b);
		if (!b->dead)
			read_target(b, now);
		diff = b->target > b->held ? b->target - b->held : b->held - b->target;
		if (diff > BALLOON_BATCH_PAGES * BALLOON_BUFS)
			diff = BALLOON_BATCH_PAGES * BALLOON_BUFS;
		switch (next_step(b, now)) {
		case STEP_INFLATE:
			if (!inflate_batch(b, diff) && !b->dead) {
				say_short(b);
				b->inflate_retry_tsc = now + BALLOON_RETRY_MS * b->ms;
			}
			break;
		case STEP_DEFLATE:
			deflate_batch(b, diff);
			break;
		case STEP_REPORT:
			if (!report_free_pages(b))
				b->next_report_tsc = now + REPORT_PERIOD_MS * b->ms;
			break;
		case STEP_IDLE:
			idle(b);
			break;
		}
		announce_reached(b, plat_now_tsc());
	}
}

/* ---- setup -------------------------------------------------------------- */

static uint64_t wanted_features(const struct balloon_cfg *cfg)
{
	uint64_t balloon = (1ULL << VIRTIO_BALLOON_F_STATS_VQ) | (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			   (1ULL << VIRTIO_BALLOON_F_REPORTING);

	return (balloon & cfg->features_mask) | 1ULL << VIRTIO_F_VERSION_1;
}

/* 3.1.1 and 5.5.5: negotiate, then queues numbered consecutively over
 * the ones negotiated (inflate, deflate, [stats], [reporting]), then
 * DRIVER_OK, then the first statistics buffer. */
static int setup(struct balloon *b, struct sbuf *err)
{
	char *mem = b->cfg->mem;
	unsigned nr = 2;

	if (virtio_negotiate(&b->dev, wanted_features(b->cfg), err))
		return -1;
	b->inflate_vq = &b->vqs[VIRTIO_BALLOON_Q_INFLATE];
	b->deflate_vq = &b->vqs[VIRTIO_BALLOON_Q_DEFLATE];
	if (virtio_has(&b->dev, VIRTIO_BALLOON_F_STATS_VQ))
		b->stats_vq = &b->vqs[nr++];
	if (virtio_has(&b->dev, VIRTIO_BALLOON_F_REPORTING))
		b->report_vq = &b->vqs[nr++];
	for (unsigned q = 0; q < nr; q++)
		if (virtio_setup_vq(&b->dev, &b->vqs[q], q, mem + q * VQ_RING_BYTES, err)) {
			virtio_fail(&b->dev);
			return -1;
		}
	/* after the rings: the PFN array, then the statistics buffer */
	b->pfns = (uint32_t *)(mem + VIRTIO_BALLOON_MAX_QUEUES * VQ_RING_BYTES);
	b->stats = (struct virtio_balloon_stat *)(mem + VIRTIO_BALLOON_MAX_QUEUES * VQ_RING_BYTES + PAGE_SIZE);
	virtio_driver_ok(&b->dev);
	update_actual(b);
	if (b->stats_vq)
		post_stats(b);
	return 0;
}

static void say_found(const struct balloon *b)
{
	char buf[160];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: balloon: virtio-balloon in slot ");
	sb_putu(&sb, b->dev.slot);
	sb_puts(&sb, ", features ");
	sb_putx(&sb, b->dev.features);
	sb_puts(&sb, " (offered ");
	sb_putx(&sb, b->dev.offered);
	sb_puts(&sb, "), on vCPU ");
	sb_putu(&sb, (uint64_t)b->cfg->cpu);
	plat_print(b->cfg->cpu, buf);
}

/* Nothing to drive: say why once, let vCPU 0 know, park. */
__attribute__((noreturn)) static void give_up(struct balloon *b, const char *why)
{
	say(b, why);
	__atomic_store_n(&shared.state, BS_ABSENT, __ATOMIC_RELEASE);
	plat_vcpu_done(b->cfg->cpu);
}

void balloon_main(const struct balloon_cfg *cfg)
{
	static struct balloon b;  /* BSS: the balloon vCPU's stack stays small */
	char ebuf[160], why[200];
	struct sbuf err;

	b = (struct balloon){ .cfg = cfg, .ms = cfg->tsc_hz / 1000 ? cfg->tsc_hz / 1000 : 1000000 };
	gpool_wait_ready();
	if (!plat_has_port_io() || virtio_find(&b.dev, cfg->base, VIRTIO_ID_BALLOON))
		give_up(&b, "no virtio-balloon device found; the balloon vCPU parks");
	sb_init(&err, ebuf, sizeof(ebuf));
	if (setup(&b, &err)) {
		struct sbuf sb;

		sb_init(&sb, why, sizeof(why));
		sb_puts(&sb, "cannot drive the device: ");
		sb_puts(&sb, ebuf);
		give_up(&b, why);
	}
	say_found(&b);
	set_result(&shared.res.features, b.dev.features);
	__atomic_store_n(&shared.res.found, true, __ATOMIC_RELAXED);
	shared.oom_capable = virtio_has(&b.dev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	__atomic_store_n(&shared.state, BS_RUNNING, __ATOMIC_RELEASE);
	run(&b);
	__atomic_store_n(&shared.state, BS_STOPPED, __ATOMIC_RELEASE);
	plat_vcpu_done(cfg->cpu);
}

/* ---- the other vCPUs' side ---------------------------------------------- */

static int state(void)
{
	return __atomic_load_n(&shared.state, __ATOMIC_ACQUIRE);
}

void balloon_stop(uint64_t tsc_hz)
{
	uint64_t t0 = plat_now_tsc(), limit = (tsc_hz ? tsc_hz : 3000000000ULL) * BALLOON_STOP_WAIT_S;

	__atomic_store_n(&shared.stop, true, __ATOMIC_RELEASE);
	while (state() == BS_STARTING || state() == BS_RUNNING) {
		if (plat_now_tsc() - t0 > limit) {
			plat_print(0, "gmm-guest: balloon: the balloon vCPU did not stop in time; its figures may be stale");
			return;
		}
		cpu_relax();
	}
}

bool balloon_deflate_on_oom(void)
{
	uint64_t req;

	while (state() == BS_STARTING)
		cpu_relax();
	if (state() != BS_RUNNING || !shared.oom_capable)
		return false;
	req = __atomic_add_fetch(&shared.oom_req, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&shared.oom_done, __ATOMIC_ACQUIRE) < req) {
		if (state() != BS_RUNNING)
			return false;
		cpu_relax();
	}
	return __atomic_load_n(&shared.oom_last_pages, __ATOMIC_RELAXED) != 0;
}

void balloon_results(struct balloon_results *r)
{
	r->found = __atomic_load_n(&shared.res.found, __ATOMIC_RELAXED);
	r->features = __atomic_load_n(&shared.res.features, __ATOMIC_RELAXED);
	r->pages = __atomic_load_n(&shared.res.pages, __ATOMIC_RELAXED);
	r->inflated = __atomic_load_n(&shared.res.inflated, __ATOMIC_RELAXED);
	r->deflated = __atomic_load_n(&shared.res.deflated, __ATOMIC_RELAXED);
	r->oom_deflated = __atomic_load_n(&shared.res.oom_deflated, __ATOMIC_RELAXED);
	r->reported_pages = __atomic_load_n(&shared.res.reported_pages, __ATOMIC_RELAXED);
	r->stats_sent = __atomic_load_n(&shared.res.stats_sent, __ATOMIC_RELAXED);
}
