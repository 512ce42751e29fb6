/*
 * The virtio-balloon device model driven as a guest driver would, over a
 * fake guest RAM, with a backend that records what reaches it. Each
 * malformed request a guest can make is counted and dropped, and the
 * device keeps serving the next good one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon_dev.h"
#include "devices/bus.h"

#define BASE        0xd0000000ull
#define RAM_PAGES   1024u
#define RAM_BYTES   (RAM_PAGES * 4096ull)
#define SYSTEM_GFNS 256u         /* the first MiB, as gmm's test guest has */
#define QSIZE       16u

static uint8_t *ram;

struct record {
	uint64_t inflated[4096], deflated[4096];
	size_t nr_inflated, nr_deflated;
	uint64_t report_gfn, report_nr;
	int reports, flushes;
	uint64_t owed;
	int owed_calls;
};
static struct record rec;

static void owed(void *ctx, uint64_t pages)
{
	(void)ctx;
	rec.owed = pages;
	rec.owed_calls++;
}

static void *ram_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	return gpa > RAM_BYTES || len > RAM_BYTES - gpa ? NULL : ram + gpa;
}

static bool gfn_ok(void *ctx, uint64_t gfn)
{
	(void)ctx;
	return gfn >= SYSTEM_GFNS && gfn < RAM_PAGES;
}

static long inflate(void *ctx, const uint64_t *g, size_t n)
{
	(void)ctx;
	memcpy(rec.inflated + rec.nr_inflated, g, n * sizeof(*g));
	rec.nr_inflated += n;
	return (long)n;
}

static long deflate(void *ctx, const uint64_t *g, size_t n)
{
	(void)ctx;
	memcpy(rec.deflated + rec.nr_deflated, g, n * sizeof(*g));
	rec.nr_deflated += n;
	return (long)n;
}

static long report(void *ctx, uint64_t gfn, uint64_t nr)
{
	(void)ctx;
	rec.report_gfn = gfn;
	rec.report_nr = nr;
	rec.reports++;
	return (long)nr;
}

static long flush(void *ctx)
{
	(void)ctx;
	rec.flushes++;
	return 0;
}

static struct bus bus;
static struct balloon_dev dev;

static void wr(uint64_t off, uint32_t v)
{
	cr_assert_eq(bus_access(&bus, NULL, BASE + off, &v, 4, true), 0);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v = 0;

	cr_assert_eq(bus_access(&bus, NULL, BASE + off, &v, 4, false), 0);
	return v;
}

/* queue q's rings: desc at 0x10000 + q * 0x1000, avail +0x400, used +0x800 */
static uint64_t desc_gpa(unsigned q) { return 0x10000 + q * 0x1000; }
static struct virtq_desc *desc(unsigned q) { return (struct virtq_desc *)(ram + desc_gpa(q)); }
static uint16_t *avail(unsigned q) { return (uint16_t *)(ram + desc_gpa(q) + 0x400); }
static uint16_t *used(unsigned q) { return (uint16_t *)(ram + desc_gpa(q) + 0x800); }

/* A driver's set-up: features, four queues, DRIVER_OK. */
static void driver_up(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 4; q++) {
		wr(VIRTIO_MMIO_QUEUE_SEL, q);
		wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc_gpa(q));
		wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)desc_gpa(q) + 0x400);
		wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)desc_gpa(q) + 0x800);
		wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

static void setup(void)
{
	struct balloon_config bc = {
		.mmio_base = BASE, .ram_bytes = RAM_BYTES, .name = "t",
		.mem = { .gpa_to_hva = ram_hva },
		.be = { .gfn_ok = gfn_ok, .inflate = inflate, .deflate = deflate, .report = report, .flush = flush,
			.owed = owed },
		.no_worker = true,
	};

	ram = calloc(1, RAM_BYTES);
	memset(&rec, 0, sizeof(rec));
	bus_init(&bus);
	cr_assert_eq(balloon_dev_init(&dev, &bus, &bc), 0);
	driver_up((1u << VIRTIO_BALLOON_F_STATS_VQ) | (1u << VIRTIO_BALLOON_F_REPORTING));
}

static void teardown(void)
{
	balloon_dev_destroy(&dev, &bus);
	bus_destroy(&bus);
	free(ram);
}

/* Put chain `head` (descriptors already written) on queue q; process. */
static void post(unsigned q, uint16_t head)
{
	uint16_t idx = avail(q)[1];

	avail(q)[2 + idx % QSIZE] = head;
	__atomic_store_n(&avail(q)[1], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, q);
	balloon_dev_process(&dev, true);
}

/* A one-buffer chain of page numbers at gpa 0x20000 + slot * 0x1000. */
static void post_pfns(unsigned q, uint16_t slot, const uint32_t *pfns, unsigned n, uint16_t flags)
{
	uint64_t gpa = 0x20000 + (uint64_t)slot * 0x1000;

	memcpy(ram + gpa, pfns, n * 4);
	desc(q)[slot] = (struct virtq_desc){ gpa, n * 4, flags, 0 };
	post(q, slot);
}

static uint64_t st(enum balloon_stat_item i)
{
	struct balloon_info bi;

	balloon_get_info(&dev, &bi);
	return bi.stat[i];
}

/* After any bad request: the device still serves a good one. */
static void still_serves(void)
{
	static const uint32_t good[] = { 600, 601 };
	size_t before = rec.nr_inflated;

	post_pfns(VIRTIO_BALLOON_Q_INFLATE, 9, good, 2, 0);
	cr_assert_eq(rec.nr_inflated, before + 2, "the device serves the next good request");
}

TestSuite(balloon_dev, .init = setup, .fini = teardown);

Test(balloon_dev, inflate_hands_sorted_unique_pages_to_the_backend_and_returns_the_buffer)
{
	static const uint32_t pfns[] = { 300, 299, 300, 301 };

	post_pfns(VIRTIO_BALLOON_Q_INFLATE, 0, pfns, 4, 0);
	cr_assert_eq(rec.nr_inflated, 3);
	cr_assert_eq(rec.inflated[0], 299);
	cr_assert_eq(rec.inflated[2], 301);
	cr_assert_eq(used(VIRTIO_BALLOON_Q_INFLATE)[1], 1, "the buffer came back on the used ring");
	cr_assert_eq(st(BALLOON_INFLATED_PAGES), 3);
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(rec.flushes, 1, "a burst of inflation ends with a flush");
}

Test(balloon_dev, bogus_pfns_and_the_vmms_own_pages_are_counted_and_skipped)
{
	static const uint32_t pfns[] = { 5, 0, 255, RAM_PAGES, 0xffffffffu, 400 };

	post_pfns(VIRTIO_BALLOON_Q_INFLATE, 0, pfns, 6, 0);
	cr_assert_eq(rec.nr_inflated, 1);
	cr_assert_eq(rec.inflated[0], 400);
	cr_assert_eq(st(BALLOON_BAD_PFNS), 5);
	still_serves();
}

Test(balloon_dev, a_buffer_outside_guest_ram_is_refused)
{
	desc(0)[0] = (struct virtq_desc){ RAM_BYTES - 8, 16, 0, 0 };
	post(0, 0);
	desc(0)[1] = (struct virtq_desc){ 0xfffffffffffff000ull, 0x2000, 0, 0 };
	post(0, 1);
	cr_assert_eq(rec.nr_inflated, 0);
	cr_assert_eq(st(BALLOON_BAD_CHAINS), 2);
	cr_assert_eq(used(0)[1], 2, "both heads given back with length 0");
	still_serves();
}

Test(balloon_dev, a_descriptor_loop_is_refused)
{
	memset(ram + 0x20000, 0, 16);
	desc(0)[0] = (struct virtq_desc){ 0x20000, 4, VIRTQ_DESC_F_NEXT, 1 };
	desc(0)[1] = (struct virtq_desc){ 0x20004, 4, VIRTQ_DESC_F_NEXT, 0 };
	post(0, 0);
	cr_assert_eq(rec.nr_inflated, 0);
	cr_assert_eq(st(BALLOON_BAD_CHAINS), 1);
	still_serves();
}

Test(balloon_dev, a_huge_chain_is_refused)
{
	/* a ring of 16 cannot hold a chain longer than 16 without a loop; a
	 * 64-entry chain needs a bigger ring: reset and use size 128 */
	wr(VIRTIO_MMIO_STATUS, 0);
	for (unsigned i = 0; i < 100; i++)
		desc(0)[i] = (struct virtq_desc){ 0x20000 + i * 4, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1) };
	desc(0)[99].flags = 0;
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 128);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x40000);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x41000);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x42000);
	memcpy(ram + 0x40000, desc(0), 100 * sizeof(struct virtq_desc));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	((uint16_t *)(ram + 0x41000))[2] = 0;
	__atomic_store_n(&((uint16_t *)(ram + 0x41000))[1], 1, __ATOMIC_RELEASE);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	balloon_dev_process(&dev, true);
	cr_assert_eq(rec.nr_inflated, 0);
	cr_assert_eq(st(BALLOON_BAD_CHAINS), 1);
}

Test(balloon_dev, wrong_directions_are_refused)
{
	static const uint32_t pfns[] = { 500 };

	post_pfns(VIRTIO_BALLOON_Q_INFLATE, 0, pfns, 1, VIRTQ_DESC_F_WRITE); /* inflate must be readable */
	desc(3)[0] = (struct virtq_desc){ 0x30000, 0x4000, 0, 0 };            /* a report must be writable */
	post(3, 0);
	cr_assert_eq(rec.nr_inflated, 0);
	cr_assert_eq(rec.reports, 0);
	cr_assert_eq(st(BALLOON_BAD_REQUESTS), 2);
	still_serves();
}

Test(balloon_dev, an_avail_index_running_ahead_breaks_the_queue_and_asks_for_a_reset)
{
	__atomic_store_n(&avail(0)[1], (uint16_t)(QSIZE + 5), __ATOMIC_RELEASE);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	balloon_dev_process(&dev, true);
	cr_assert_eq(st(BALLOON_QUEUE_BROKEN), 1);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(rec.nr_inflated, 0);
}

Test(balloon_dev, deflate_and_free_page_reports_reach_the_backend)
{
	static const uint32_t pfns[] = { 700, 701 };

	post_pfns(VIRTIO_BALLOON_Q_DEFLATE, 0, pfns, 2, 0);
	cr_assert_eq(rec.nr_deflated, 2);
	/* a report covering part pages: only the whole ones go */
	desc(3)[0] = (struct virtq_desc){ 0x300800, 0x4000, VIRTQ_DESC_F_WRITE, 0 };
	post(3, 0);
	cr_assert_eq(rec.reports, 1);
	cr_assert_eq(rec.report_gfn, 0x301);
	cr_assert_eq(rec.report_nr, 3);
	/* a report naming the system area is refused */
	desc(3)[1] = (struct virtq_desc){ 0x1000, 0x4000, VIRTQ_DESC_F_WRITE, 0 };
	post(3, 1);
	cr_assert_eq(rec.reports, 1);
	cr_assert_gt(st(BALLOON_BAD_PFNS), 0);
}

Test(balloon_dev, stats_are_kept_and_the_buffer_given_back_when_asked)
{
	struct virtio_balloon_stat s[2] = { { VIRTIO_BALLOON_S_MEMFREE, 12345 }, { 77, 1 } };
	struct balloon_info bi;

	memcpy(ram + 0x25000, s, sizeof(s));
	desc(2)[0] = (struct virtq_desc){ 0x25000, sizeof(s), 0, 0 };
	post(2, 0);
	balloon_get_info(&dev, &bi);
	cr_assert(bi.gstats.valid[VIRTIO_BALLOON_S_MEMFREE]);
	cr_assert_eq(bi.gstats.val[VIRTIO_BALLOON_S_MEMFREE], 12345);
	cr_assert_eq(used(2)[1], 0, "the device holds the stats buffer");
	cr_assert_eq(balloon_request_stats(&dev, 0), 0);
	balloon_dev_process(&dev, true);
	cr_assert_eq(used(2)[1], 1, "asking for statistics gives the buffer back");
}

/* The backend hears what the guest still owes: target less actual while
 * a driver runs, nothing once it paid or reset. */
Test(balloon_dev, the_backend_is_told_what_the_guest_still_owes)
{
	cr_assert_eq(rec.owed, 0);
	cr_assert_eq(balloon_set_target(&dev, 100), 0);
	cr_assert_eq(rec.owed, 100);
	wr(VIRTIO_MMIO_CONFIG + 4, 40);
	cr_assert_eq(rec.owed, 60, "the driver gave 40");
	wr(VIRTIO_MMIO_CONFIG + 4, 100);
	cr_assert_eq(rec.owed, 0, "paid");
	cr_assert_eq(balloon_set_target(&dev, 20), 0);
	cr_assert_eq(rec.owed, 0, "a deflate owes nothing");
	cr_assert_eq(balloon_set_target(&dev, 200), 0);
	cr_assert_eq(rec.owed, 100);
	wr(VIRTIO_MMIO_STATUS, 0);   /* the driver resets: it gives nothing now */
	cr_assert_eq(rec.owed, 0);
	driver_up(1u << VIRTIO_BALLOON_F_STATS_VQ);
	cr_assert_eq(rec.owed, 200, "a new driver owes the whole target");
}

Test(balloon_dev, the_target_is_in_config_space_and_actual_is_the_drivers)
{
	uint32_t cfg[2];

	cr_assert_eq(balloon_set_target(&dev, 100), 0);
	cr_assert_eq(balloon_set_target(&dev, RAM_PAGES + 1), -ERANGE);
	cfg[0] = rd(VIRTIO_MMIO_CONFIG);
	cr_assert_eq(cfg[0], 100);
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_CONFIG, 5); /* num_pages is the device's: ignored, counted */
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 100);
	wr(VIRTIO_MMIO_CONFIG + 4, 100);
	cfg[1] = rd(VIRTIO_MMIO_CONFIG + 4);
	cr_assert_eq(cfg[1], 100);
	cr_assert_eq(st(BALLOON_BAD_REQUESTS), 1);
}
