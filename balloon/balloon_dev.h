/*
 * The virtio-balloon device model (mechanism; the policy that picks
 * targets is balloon/policy.c). It owns the device's queues and config
 * space on a virtio-mmio transport, and one worker thread per device
 * (gmm-balloonN) that drains the queues when the guest kicks them, asks
 * for fresh statistics every stats period, and flushes ballooned pages
 * still inside huge frames when inflation pauses. What a page given back
 * means for host memory is the backend's business (vmm/balloon_backend.c:
 * stage-2 entries and pool frames); the device only parses and checks.
 *
 * Queues: inflate and deflate (arrays of le32 4 KiB page numbers), stats
 * (F_STATS_VQ: the driver's buffer of tag/value pairs, held by the device
 * and returned to ask for new figures), reporting (F_REPORTING: device-
 * writable buffers naming free guest memory). Offered features: STATS_VQ,
 * DEFLATE_ON_OOM, REPORTING (not MUST_TELL_HOST, not FREE_PAGE_HINT, not
 * PAGE_POISON).
 *
 * A guest's nonsense is counted and dropped (balloon_bad_*): page numbers
 * outside its RAM or inside its system area, odd buffer sizes, a request
 * bigger than BALLOON_MAX_REQUEST_PAGES, stats shorter than one entry, a
 * write to num_pages. A broken queue marks the device DEVICE_NEEDS_RESET.
 *
 * Locking: dev->lock protects the target, the stats snapshot and the
 * counters' non-atomic parts; it is never held while the backend runs or
 * guest memory is read. The worker is the only consumer of the queues.
 */
#ifndef GMM_BALLOON_BALLOON_DEV_H
#define GMM_BALLOON_BALLOON_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "balloon/virtio_balloon.h"
#include "devices/virtio_mmio.h"

#define BALLOON_QUEUE_SIZE          256
#define BALLOON_MAX_REQUEST_PAGES   65536   /* one inflate/deflate buffer chain: 256 KiB of PFNs */
#define BALLOON_FLUSH_DELAY_MS      20      /* huge frames wait this long for the rest of their pages */

/* What ballooned and reported pages mean on the host. gfns sorted, unique,
 * checked by gfn_ok. Each returns pages freed or -errno. */
struct balloon_backend {
	bool (*gfn_ok)(void *ctx, uint64_t gfn);
	long (*inflate)(void *ctx, const uint64_t *gfns, size_t n);
	long (*deflate)(void *ctx, const uint64_t *gfns, size_t n);
	long (*report)(void *ctx, uint64_t gfn, uint64_t nr);
	long (*flush)(void *ctx);
	/* optional: the pages the device asked for that the driver has not
	 * given yet (num_pages - actual while the driver runs, else 0), on
	 * every change, under the device's lock: the guest is freeing memory
	 * meanwhile, and the host may let its faults through first */
	void (*owed)(void *ctx, uint64_t pages);
	void *ctx;
};

enum balloon_stat_item {
	BALLOON_INFLATE_REQS,     /* inflate buffers processed */
	BALLOON_DEFLATE_REQS,
	BALLOON_INFLATED_PAGES,   /* page numbers accepted */
	BALLOON_DEFLATED_PAGES,
	BALLOON_FREED_PAGES,      /* host frames given back by inflation and flushes */
	BALLOON_REPORT_REQS,      /* free page reports processed */
	BALLOON_REPORTED_PAGES,   /* pages named free by reports */
	BALLOON_REPORT_FREED,     /* host frames those reports gave back */
	BALLOON_STATS_UPDATES,    /* statistics buffers received */
	BALLOON_BAD_PFNS,         /* page numbers outside RAM or in the system area: ignored */
	BALLOON_BAD_REQUESTS,     /* malformed buffers (size, direction, too big): dropped */
	BALLOON_BAD_CHAINS,       /* chains the virtqueue refused */
	BALLOON_QUEUE_BROKEN,     /* ring-level errors: DEVICE_NEEDS_RESET */
	BALLOON_BACKEND_ERRORS,   /* the backend failed a request */
	BALLOON_BACKEND_US,       /* time the backend took (inflate, deflate, report, flush) */
	NR_BALLOON_STATS
};
extern const char *const balloon_stat_names[NR_BALLOON_STATS];

/* The guest's last statistics (VIRTIO_BALLOON_S_*), valid[] where sent. */
struct balloon_guest_stats {
	uint64_t val[VIRTIO_BALLOON_S_NR];
	bool valid[VIRTIO_BALLOON_S_NR];
	uint64_t updated_ns;      /* CLOCK_MONOTONIC of the last update, 0 never */
	uint32_t actual_at_update;/* balloon pages when they were taken: free excludes those */
};

struct balloon_dev {
	struct virtio_mmio transport;
	struct balloon_backend be;
	char name[64];
	uint64_t ram_pages;           /* the guest's RAM, a bound for targets */

	pthread_mutex_t lock;
	pthread_cond_t changed;       /* actual, or stats, changed */
	uint32_t num_pages;           /* target, in config space */
	uint32_t actual;              /* as the driver wrote it */
	uint64_t target_set_ns;       /* when num_pages last changed */
	uint64_t target_reached_ns;   /* when actual first equalled it after, 0 not yet */
	uint64_t last_target_ms;      /* how long the last target took (reached - set) */
	struct balloon_guest_stats gstats;
	unsigned stats_period_s;      /* 0: statistics only when asked */
	uint64_t stats_asked_ns;
	bool active;                  /* DRIVER_OK and queues resolved */
	int q_stats, q_report;        /* queue numbers, -1 if not negotiated */
	bool stats_held;              /* the device holds the stats buffer (head below) */
	uint16_t stats_head;
	bool want_stats;              /* give it back at the next chance */
	bool flush_due;
	uint64_t flush_at_ns;

	struct balloon_work *work;    /* the worker's buffers and queue lock (balloon_dev.c) */
	int kick_fd;                  /* eventfd: queue notified, target or stats asked, stop */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	_Atomic uint64_t stat[NR_BALLOON_STATS];
};

struct balloon_config {
	uint64_t mmio_base;
	uint64_t ram_bytes;
	unsigned stats_period_s;
	const char *name;
	struct virtq_mem mem;
	struct balloon_backend be;
	void (*irq)(void *ctx, bool level);
	void *irq_ctx;
	bool no_worker;           /* no thread: the caller runs balloon_dev_process() */
};

/* Register the device on the bus and start its worker. -errno. */
int balloon_dev_init(struct balloon_dev *d, struct bus *mmio, const struct balloon_config *cfg);
/* Stop the worker and unregister; call before the guest's memory goes. */
void balloon_dev_destroy(struct balloon_dev *d, struct bus *mmio);

/* One round of the worker's work: drain every queue, ask for statistics
 * when due, flush huge frames when due (or now). */
void balloon_dev_process(struct balloon_dev *d, bool flush_now);

/* Ask the guest to hold `pages` 4 KiB pages (num_pages). -ERANGE beyond
 * its RAM. */
int balloon_set_target(struct balloon_dev *d, uint64_t pages);
/* Ask for fresh statistics now; wait up to timeout_ms for them (0: do
 * not wait). Returns 0 when they arrived, -ETIMEDOUT, -ENOTSUP without
 * F_STATS_VQ. */
int balloon_request_stats(struct balloon_dev *d, unsigned timeout_ms);
void balloon_set_stats_period(struct balloon_dev *d, unsigned seconds);

/* A consistent snapshot for control and policy. */
struct balloon_info {
	bool active;
	uint64_t features;            /* negotiated */
	uint32_t target_pages, actual_pages;
	uint64_t last_target_ms;      /* time the last reached target took */
	bool target_reached;
	unsigned stats_period_s;
	struct balloon_guest_stats gstats;
	uint64_t stat[NR_BALLOON_STATS];
};
void balloon_get_info(struct balloon_dev *d, struct balloon_info *info);

#endif
