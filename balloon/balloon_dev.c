/*
 * virtio-balloon, the device model (balloon_dev.h). The worker drains the
 * queues in whole batches: an inflate buffer of up to 64 Ki page numbers
 * is one backend call, which frees contiguous runs with one hole punch.
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "balloon/balloon_dev.h"

const char *const balloon_stat_names[NR_BALLOON_STATS] = {
	[BALLOON_INFLATE_REQS] = "inflate_requests",
	[BALLOON_DEFLATE_REQS] = "deflate_requests",
	[BALLOON_INFLATED_PAGES] = "inflated_pages",
	[BALLOON_DEFLATED_PAGES] = "deflated_pages",
	[BALLOON_FREED_PAGES] = "freed_pages",
	[BALLOON_REPORT_REQS] = "report_requests",
	[BALLOON_REPORTED_PAGES] = "reported_pages",
	[BALLOON_REPORT_FREED] = "report_freed_pages",
	[BALLOON_STATS_UPDATES] = "stats_updates",
	[BALLOON_BAD_PFNS] = "bad_pfns",
	[BALLOON_BAD_REQUESTS] = "bad_requests",
	[BALLOON_BAD_CHAINS] = "bad_chains",
	[BALLOON_QUEUE_BROKEN] = "queue_broken",
	[BALLOON_BACKEND_ERRORS] = "backend_errors",
	[BALLOON_BACKEND_US] = "backend_us",
};

#define OFFERED_FEATURES                                                                      \
	((1ULL << VIRTIO_BALLOON_F_STATS_VQ) | (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |     \
	 (1ULL << VIRTIO_BALLOON_F_REPORTING))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void count(struct balloon_dev *d, enum balloon_stat_item i, uint64_t n)
{
	atomic_fetch_add_explicit(&d->stat[i], n, memory_order_relaxed);
}

static void kick(struct balloon_dev *d)
{
	uint64_t one = 1;

	if (write(d->kick_fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the worker is awake anyway */
	}
}

/* Per device, only the worker uses these (so no lock beyond queue_lock). */
struct balloon_work {
	pthread_mutex_t qlock;        /* held while the worker touches queues */
	struct virtq_chain chain;
	uint32_t pfns[BALLOON_MAX_REQUEST_PAGES];
	uint64_t gfns[BALLOON_MAX_REQUEST_PAGES];
	uint16_t heads[VIRTQ_MAX_SIZE];  /* chains of the batch being gathered */
};

/* --- transport callbacks (a vCPU thread, transport lock held) ----------- */

static void cfg_bytes(struct balloon_dev *d, uint8_t out[sizeof(struct virtio_balloon_config)])
{
	struct virtio_balloon_config c = { 0 };

	pthread_mutex_lock(&d->lock);
	c.num_pages = d->num_pages;
	c.actual = d->actual;
	pthread_mutex_unlock(&d->lock);
	memcpy(out, &c, sizeof(c));
}

static void balloon_read_config(void *dev, uint32_t off, void *data, unsigned size)
{
	uint8_t bytes[sizeof(struct virtio_balloon_config)];

	cfg_bytes(dev, bytes);
	memcpy(data, bytes + off, size);
}

/* Tell the backend what the guest still owes (d->lock held). */
static void owed_changed(struct balloon_dev *d)
{
	if (d->be.owed)
		d->be.owed(d->be.ctx, d->active && d->num_pages > d->actual ? d->num_pages - d->actual : 0);
}

static void balloon_write_config(void *dev, uint32_t off, const void *data, unsigned size)
{
	struct balloon_dev *d = dev;
	uint32_t v;

	if (off != offsetof(struct virtio_balloon_config, actual) || size != 4) {
		count(d, BALLOON_BAD_REQUESTS, 1); /* num_pages is the device's */
		return;
	}
	memcpy(&v, data, 4);
	pthread_mutex_lock(&d->lock);
	d->actual = v;
	owed_changed(d);
	if (v == d->num_pages && !d->target_reached_ns && d->target_set_ns) {
		d->target_reached_ns = now_ns();
		d->last_target_ms = (d->target_reached_ns - d->target_set_ns) / 1000000;
	}
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

static void balloon_activate(void *dev)
{
	struct balloon_dev *d = dev;
	uint64_t f = d->transport.driver_features;
	int q = 2;

	pthread_mutex_lock(&d->lock);
	/* queues that exist are numbered consecutively (virtio_balloon.h) */
	d->q_stats = f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ) ? q++ : -1;
	d->q_report = f & (1ULL << VIRTIO_BALLOON_F_REPORTING) ? q++ : -1;
	d->active = true;
	d->stats_held = false;
	owed_changed(d);
	pthread_mutex_unlock(&d->lock);
	kick(d);
}

static void balloon_notify(void *dev, unsigned q)
{
	(void)q;
	kick(dev);
}

static void balloon_reset(void *dev)
{
	struct balloon_dev *d = dev;

	/* the worker drains holding qlock: once we have it, it is out */
	pthread_mutex_lock(&d->work->qlock);
	pthread_mutex_lock(&d->lock);
	d->active = false;
	d->stats_held = false;
	d->want_stats = false;
	d->actual = 0;
	d->q_stats = d->q_report = -1;
	owed_changed(d);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&d->work->qlock);
}

static const struct virtio_dev_ops balloon_ops = {
	.read_config = balloon_read_config,
	.write_config = balloon_write_config,
	.activate = balloon_activate,
	.notify = balloon_notify,
	.reset = balloon_reset,
};

/* --- the worker --------------------------------------------------------- */

static struct balloon_work *work_of(struct balloon_dev *d)
{
	return d->work;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Pop the next chain; false when there is none. A malformed chain is
 * counted and skipped; a broken ring marks the device for reset. */
static bool next_chain(struct balloon_dev *d, unsigned q, struct virtq_chain *ch)
{
	struct virtq *vq = &d->transport.vqs[q];

	for (;;) {
		int r = virtq_pop(vq, ch);

		if (r > 0)
			return true;
		if (r == 0)
			return false;
		if (r == -EIO) {
			count(d, BALLOON_QUEUE_BROKEN, 1);
			virtio_mmio_needs_reset(&d->transport);
			return false;
		}
		count(d, BALLOON_BAD_CHAINS, 1); /* given back with length 0 */
		virtio_mmio_signal_used(&d->transport, q);
	}
}

static void put_chain(struct balloon_dev *d, struct virtq *vq, unsigned q, uint16_t head)
{
	virtq_push(vq, head, 0);
	virtio_mmio_signal_used(&d->transport, q);
}

/* The page numbers gathered from a queue's chains go to the backend in
 * one call (sorted, each page once); then every chain goes back. */
static void pfn_batch_done(struct balloon_dev *d, unsigned q, size_t good, const uint16_t *heads, unsigned nr_heads)
{
	struct balloon_work *w = work_of(d);
	struct virtq *vq = &d->transport.vqs[q];
	bool inflate = q == VIRTIO_BALLOON_Q_INFLATE;
	size_t n = good;
	uint64_t t0;
	long r;

	qsort(w->gfns, n, sizeof(uint64_t), cmp_u64);
	good = 0;
	for (size_t i = 0; i < n; i++) /* a page named twice counts once */
		if (!good || w->gfns[good - 1] != w->gfns[i])
			w->gfns[good++] = w->gfns[i];
	t0 = now_ns();
	r = !good ? 0 : inflate ? d->be.inflate(d->be.ctx, w->gfns, good) : d->be.deflate(d->be.ctx, w->gfns, good);
	count(d, BALLOON_BACKEND_US, (now_ns() - t0) / 1000);
	if (r < 0)
		count(d, BALLOON_BACKEND_ERRORS, 1);
	count(d, inflate ? BALLOON_INFLATED_PAGES : BALLOON_DEFLATED_PAGES, good);
	if (inflate && r > 0)
		count(d, BALLOON_FREED_PAGES, (uint64_t)r);
	if (inflate && good) {
		pthread_mutex_lock(&d->lock);
		d->flush_due = true;
		d->flush_at_ns = now_ns() + BALLOON_FLUSH_DELAY_MS * 1000000ULL;
		pthread_mutex_unlock(&d->lock);
	}
	/* only now: a guest may reuse a deflated page once it is back */
	for (unsigned i = 0; i < nr_heads; i++)
		virtq_push(vq, heads[i], 0);
	if (nr_heads)
		virtio_mmio_signal_used(&d->transport, q);
}

/* inflateq or deflateq: each buffer an array of le32 page numbers; the
 * whole queue is one batch (up to BALLOON_MAX_REQUEST_PAGES pages). */
static void drain_pfn_queue(struct balloon_dev *d, unsigned q)
{
	struct balloon_work *w = work_of(d);
	struct virtq *vq = &d->transport.vqs[q];
	bool inflate = q == VIRTIO_BALLOON_Q_INFLATE;
	unsigned nr_heads = 0;
	size_t good = 0;

	while (next_chain(d, q, &w->chain)) {
		struct virtq_chain *ch = &w->chain;
		size_t n = ch->readable_bytes / 4;

		if (ch->writable_bytes || !n || ch->readable_bytes % 4 || n > BALLOON_MAX_REQUEST_PAGES) {
			count(d, BALLOON_BAD_REQUESTS, 1);
			put_chain(d, vq, q, ch->head);
			continue;
		}
		if (good + n > BALLOON_MAX_REQUEST_PAGES || nr_heads == VIRTQ_MAX_SIZE) {
			pfn_batch_done(d, q, good, w->heads, nr_heads);
			good = nr_heads = 0;
		}
		/* copy out of guest memory once, then check each number */
		virtq_chain_read(ch, 0, w->pfns, n * 4);
		for (size_t i = 0; i < n; i++) {
			uint64_t gfn = w->pfns[i];

			if (d->be.gfn_ok(d->be.ctx, gfn))
				w->gfns[good++] = gfn;
			else
				count(d, BALLOON_BAD_PFNS, 1);
		}
		w->heads[nr_heads++] = ch->head;
		count(d, inflate ? BALLOON_INFLATE_REQS : BALLOON_DEFLATE_REQS, 1);
	}
	if (nr_heads)
		pfn_batch_done(d, q, good, w->heads, nr_heads);
}

/* reporting_vq: each device-writable buffer is free guest memory. */
static void drain_report_queue(struct balloon_dev *d, unsigned q)
{
	struct balloon_work *w = work_of(d);
	struct virtq *vq = &d->transport.vqs[q];

	while (next_chain(d, q, &w->chain)) {
		struct virtq_chain *ch = &w->chain;

		if (ch->readable_bytes) {
			count(d, BALLOON_BAD_REQUESTS, 1);
			put_chain(d, vq, q, ch->head);
			continue;
		}
		for (unsigned i = 0; i < ch->nr; i++) {
			uint64_t first = (ch->buf[i].gpa + 4095) >> 12, end = (ch->buf[i].gpa + ch->buf[i].len) >> 12, t0;
			long r;

			if (end <= first)
				continue; /* no whole page in it */
			/* the virtqueue checked the buffer is RAM in one slot;
			 * its first page tells whether it starts in the system area */
			if (!d->be.gfn_ok(d->be.ctx, first) || !d->be.gfn_ok(d->be.ctx, end - 1)) {
				count(d, BALLOON_BAD_PFNS, end - first);
				continue;
			}
			t0 = now_ns();
			r = d->be.report(d->be.ctx, first, end - first);
			count(d, BALLOON_BACKEND_US, (now_ns() - t0) / 1000);
			if (r < 0)
				count(d, BALLOON_BACKEND_ERRORS, 1);
			else
				count(d, BALLOON_REPORT_FREED, (uint64_t)r);
			count(d, BALLOON_REPORTED_PAGES, end - first);
		}
		count(d, BALLOON_REPORT_REQS, 1);
		put_chain(d, vq, q, ch->head);
	}
}

/* statsq: the driver's buffer arrives with figures; the device keeps it
 * and gives it back when it wants new ones. */
static void drain_stats_queue(struct balloon_dev *d, unsigned q)
{
	struct balloon_work *w = work_of(d);
	struct virtq *vq = &d->transport.vqs[q];

	while (next_chain(d, q, &w->chain)) {
		struct virtq_chain *ch = &w->chain;
		struct balloon_guest_stats gs = { 0 };
		size_t n = ch->readable_bytes / sizeof(struct virtio_balloon_stat);
		bool old_held;
		uint16_t old_head;

		if (ch->writable_bytes || !n) {
			count(d, BALLOON_BAD_REQUESTS, 1);
			put_chain(d, vq, q, ch->head);
			continue;
		}
		if (n > 64)
			n = 64; /* ten tags exist; more is repetition */
		for (size_t i = 0; i < n; i++) {
			struct virtio_balloon_stat s;

			virtq_chain_read(ch, i * sizeof(s), &s, sizeof(s));
			if (s.tag < VIRTIO_BALLOON_S_NR) { /* unknown tags: ignored (5.5.6.3) */
				gs.val[s.tag] = s.val;
				gs.valid[s.tag] = true;
			}
		}
		gs.updated_ns = now_ns();
		pthread_mutex_lock(&d->lock);
		old_held = d->stats_held;
		old_head = d->stats_head;
		gs.actual_at_update = d->actual;
		d->gstats = gs;
		d->stats_held = true;
		d->stats_head = ch->head;
		pthread_cond_broadcast(&d->changed);
		pthread_mutex_unlock(&d->lock);
		count(d, BALLOON_STATS_UPDATES, 1);
		if (old_held) /* a second buffer: give the first back */
			put_chain(d, vq, q, old_head);
	}
}

static void give_stats_buffer(struct balloon_dev *d)
{
	bool give;
	uint16_t head = 0;
	int q;

	pthread_mutex_lock(&d->lock);
	give = d->want_stats && d->stats_held && d->q_stats >= 0;
	q = d->q_stats;
	if (give) {
		head = d->stats_head;
		d->stats_held = false;
		d->want_stats = false;
	}
	pthread_mutex_unlock(&d->lock);
	if (give)
		put_chain(d, &d->transport.vqs[q], (unsigned)q, head);
}

static int worker_timeout_ms(struct balloon_dev *d)
{
	uint64_t now = now_ns(), due = UINT64_MAX;

	pthread_mutex_lock(&d->lock);
	if (d->flush_due)
		due = d->flush_at_ns;
	if (d->stats_period_s && d->q_stats >= 0) {
		uint64_t at = d->stats_asked_ns + (uint64_t)d->stats_period_s * 1000000000ULL;

		due = at < due ? at : due;
	}
	pthread_mutex_unlock(&d->lock);
	if (due == UINT64_MAX)
		return 1000;
	return due <= now ? 0 : (int)((due - now) / 1000000 + 1);
}

void balloon_dev_process(struct balloon_dev *d, bool flush_now)
{
	struct balloon_work *w = work_of(d);
	uint64_t now = now_ns();
	bool flush;
	int q_stats, q_report;

	pthread_mutex_lock(&d->lock);
	if (d->stats_period_s && now >= d->stats_asked_ns + (uint64_t)d->stats_period_s * 1000000000ULL) {
		d->want_stats = true;
		d->stats_asked_ns = now;
	}
	pthread_mutex_unlock(&d->lock);

	pthread_mutex_lock(&w->qlock);
	pthread_mutex_lock(&d->lock);
	q_stats = d->active ? d->q_stats : -2;
	q_report = d->q_report;
	pthread_mutex_unlock(&d->lock);
	if (q_stats != -2 && virtio_mmio_driver_ok(&d->transport)) {
		drain_pfn_queue(d, VIRTIO_BALLOON_Q_INFLATE);
		drain_pfn_queue(d, VIRTIO_BALLOON_Q_DEFLATE);
		if (q_report >= 0)
			drain_report_queue(d, (unsigned)q_report);
		if (q_stats >= 0) {
			drain_stats_queue(d, (unsigned)q_stats);
			give_stats_buffer(d);
		}
	}
	pthread_mutex_unlock(&w->qlock);
	/* after the queues: an inflation just done may be due now */
	pthread_mutex_lock(&d->lock);
	flush = d->flush_due && (flush_now || now_ns() >= d->flush_at_ns);
	if (flush)
		d->flush_due = false;
	pthread_mutex_unlock(&d->lock);
	if (flush) {
		uint64_t t0 = now_ns();
		long r = d->be.flush(d->be.ctx);

		count(d, BALLOON_BACKEND_US, (now_ns() - t0) / 1000);
		if (r > 0)
			count(d, BALLOON_FREED_PAGES, (uint64_t)r);
	}
}

static void *balloon_worker(void *arg)
{
	struct balloon_dev *d = arg;

	while (!atomic_load(&d->stop)) {
		struct pollfd pfd = { .fd = d->kick_fd, .events = POLLIN };
		uint64_t v;

		if (poll(&pfd, 1, worker_timeout_ms(d)) > 0 && read(d->kick_fd, &v, sizeof(v)) < 0) {
			/* nothing to read: another wakeup took it */
		}
		if (atomic_load(&d->stop))
			break;
		balloon_dev_process(d, false);
	}
	return NULL;
}

int balloon_dev_init(struct balloon_dev *d, struct bus *mmio, const struct balloon_config *cfg)
{
	struct virtio_mmio_config tc = {
		.base = cfg->mmio_base,
		.device_id = VIRTIO_ID_BALLOON,
		.device_features = OFFERED_FEATURES,
		.config_len = sizeof(struct virtio_balloon_config),
		.nr_queues = VIRTIO_BALLOON_MAX_QUEUES,
		.queue_num_max = BALLOON_QUEUE_SIZE,
		.ops = &balloon_ops,
		.dev = d,
		.mem = cfg->mem,
		.irq = cfg->irq,
		.irq_ctx = cfg->irq_ctx,
	};
	int ret;

	memset(d, 0, sizeof(*d));
	if (!cfg->be.gfn_ok || !cfg->be.inflate || !cfg->be.deflate || !cfg->be.report || !cfg->be.flush)
		return -EINVAL;
	d->be = cfg->be;
	d->ram_pages = cfg->ram_bytes >> 12;
	d->stats_period_s = cfg->stats_period_s;
	d->q_stats = d->q_report = -1;
	snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : "balloon");
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->changed, NULL);
	d->work = calloc(1, sizeof(*d->work));
	if (!d->work)
		return -ENOMEM;
	pthread_mutex_init(&d->work->qlock, NULL);
	d->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->kick_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = virtio_mmio_init(&d->transport, mmio, &tc);
	if (ret)
		goto err;
	if (cfg->no_worker)
		return 0; /* the caller drives balloon_dev_process() (the fuzzer) */
	ret = -pthread_create(&d->thread, NULL, balloon_worker, d);
	if (ret) {
		virtio_mmio_destroy(&d->transport, mmio);
		goto err;
	}
	d->thread_started = true;
	pthread_setname_np(d->thread, "gmm-balloon");
	return 0;
err:
	if (d->kick_fd >= 0)
		close(d->kick_fd);
	d->kick_fd = -1;
	free(d->work);
	d->work = NULL;
	return ret;
}

void balloon_dev_destroy(struct balloon_dev *d, struct bus *mmio)
{
	if (!d->work)
		return;
	if (d->thread_started) {
		atomic_store(&d->stop, true);
		kick(d);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	virtio_mmio_destroy(&d->transport, mmio);
	if (d->kick_fd >= 0)
		close(d->kick_fd);
	d->kick_fd = -1;
	pthread_mutex_lock(&d->lock);
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
	free(d->work);
	d->work = NULL;
}

int balloon_set_target(struct balloon_dev *d, uint64_t pages)
{
	if (pages > d->ram_pages || pages > UINT32_MAX)
		return -ERANGE;
	pthread_mutex_lock(&d->lock);
	if (d->num_pages != (uint32_t)pages) {
		d->num_pages = (uint32_t)pages;
		d->target_set_ns = now_ns();
		d->target_reached_ns = d->actual == d->num_pages ? d->target_set_ns : 0;
		owed_changed(d);
	}
	pthread_mutex_unlock(&d->lock);
	virtio_mmio_config_changed(&d->transport);
	return 0;
}

int balloon_request_stats(struct balloon_dev *d, unsigned timeout_ms)
{
	struct timespec ts;
	uint64_t before;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (!d->active || d->q_stats < 0) {
		pthread_mutex_unlock(&d->lock);
		return -ENOTSUP;
	}
	before = d->gstats.updated_ns;
	d->want_stats = true;
	d->stats_asked_ns = now_ns();
	pthread_mutex_unlock(&d->lock);
	kick(d);
	if (!timeout_ms)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->lock);
	while (d->gstats.updated_ns == before && d->active && !atomic_load(&d->stop) && !ret)
		ret = pthread_cond_timedwait(&d->changed, &d->lock, &ts);
	ret = d->gstats.updated_ns != before ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void balloon_set_stats_period(struct balloon_dev *d, unsigned seconds)
{
	pthread_mutex_lock(&d->lock);
	d->stats_period_s = seconds;
	pthread_mutex_unlock(&d->lock);
	kick(d);
}

void balloon_get_info(struct balloon_dev *d, struct balloon_info *info)
{
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&d->lock);
	info->active = d->active;
	info->target_pages = d->num_pages;
	info->actual_pages = d->actual;
	info->target_reached = d->actual == d->num_pages;
	info->last_target_ms = d->last_target_ms;
	info->stats_period_s = d->stats_period_s;
	info->gstats = d->gstats;
	pthread_mutex_unlock(&d->lock);
	info->features = info->active ? d->transport.driver_features : 0;
	for (int i = 0; i < NR_BALLOON_STATS; i++)
		info->stat[i] = atomic_load_explicit(&d->stat[i], memory_order_relaxed);
}
