/*
 * libFuzzer target: the virtio-balloon device model (balloon/balloon_dev.c)
 * behind a real virtio-mmio transport, over a fake guest RAM whose
 * contents come from the input: a driver sets the device up with the
 * input's queue layouts and features, then every queue is processed, a
 * target set, statistics asked for, a flush forced and the device reset,
 * as the worker would. A fake backend checks what reaches it: page
 * numbers sorted, unique and allowed (never the "system area" below
 * gfn 16, never past RAM), report ranges inside RAM.
 *
 * Input, little-endian:
 *   0        driver features: bit 0 STATS_VQ, 1 DEFLATE_ON_OOM, 2 REPORTING
 *   1..4     per queue (4): log2 of its size (% 9)
 *   5..28    per queue: desc, avail, used offsets, u16 each, times 16
 *   29..31   target pages (u16), actual written by the "driver" (u8 * 64)
 *   32..     guest RAM contents from gpa 0 (up to RAM_BYTES)
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon_dev.h"
#include "devices/bus.h"

#define BASE        0xd0000000ull
#define RAM_PAGES   256u
#define RAM_BYTES   (RAM_PAGES * 4096u)
#define SYSTEM_GFNS 16u
#define HDR         32

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static uint8_t *ram;

static void *ram_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (gpa > RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return ram + gpa;
}

static bool be_gfn_ok(void *ctx, uint64_t gfn)
{
	(void)ctx;
	return gfn >= SYSTEM_GFNS && gfn < RAM_PAGES;
}

static long be_pages(const uint64_t *gfns, size_t n)
{
	check(n > 0 && n <= BALLOON_MAX_REQUEST_PAGES);
	for (size_t i = 0; i < n; i++) {
		check(be_gfn_ok(NULL, gfns[i]));
		check(!i || gfns[i - 1] < gfns[i]);
	}
	return (long)n;
}

static long be_inflate(void *ctx, const uint64_t *gfns, size_t n)
{
	(void)ctx;
	return be_pages(gfns, n);
}

static long be_deflate(void *ctx, const uint64_t *gfns, size_t n)
{
	(void)ctx;
	return be_pages(gfns, n);
}

static long be_report(void *ctx, uint64_t gfn, uint64_t nr)
{
	(void)ctx;
	check(nr > 0 && be_gfn_ok(NULL, gfn) && be_gfn_ok(NULL, gfn + nr - 1));
	return (long)nr;
}

static long be_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

/* what the guest owes is never more than the target the device may set */
static void be_owed(void *ctx, uint64_t pages)
{
	(void)ctx;
	check(pages <= RAM_PAGES);
}

static void reg_write(struct bus *bus, uint64_t off, uint32_t v)
{
	bus_access(bus, NULL, BASE + off, &v, 4, true);
}

static uint32_t reg_read(struct bus *bus, uint64_t off)
{
	uint32_t v = 0;

	bus_access(bus, NULL, BASE + off, &v, 4, false);
	return v;
}

static uint16_t u16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct balloon_config bc = {
		.mmio_base = BASE,
		.ram_bytes = RAM_BYTES,
		.name = "fuzz",
		.mem = { .gpa_to_hva = ram_gpa_to_hva },
		.be = { .gfn_ok = be_gfn_ok, .inflate = be_inflate, .deflate = be_deflate, .report = be_report,
			.flush = be_flush, .owed = be_owed },
		.no_worker = true,
	};
	static struct balloon_dev d;
	struct balloon_info info;
	struct bus bus;
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;
	unsigned nq = 2;

	if (size < HDR)
		return 0;
	if (!ram)
		ram = malloc(RAM_BYTES);
	memset(ram, 0, RAM_BYTES);
	memcpy(ram, data + HDR, size - HDR < RAM_BYTES ? size - HDR : RAM_BYTES);
	bus_init(&bus);
	check(balloon_dev_init(&d, &bus, &bc) == 0);

	if (data[0] & 1)
		feat |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ, nq++;
	if (data[0] & 2)
		feat |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (data[0] & 4)
		feat |= 1ULL << VIRTIO_BALLOON_F_REPORTING, nq++;
	reg_write(&bus, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(&bus, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(&bus, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	reg_write(&bus, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(&bus, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	reg_write(&bus, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					     VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++) {
		const uint8_t *o = data + 5 + q * 6;

		reg_write(&bus, VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_NUM, 1u << (data[1 + q] % 9));
		reg_write(&bus, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)u16_at(o) * 16);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)u16_at(o + 2) * 16);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)u16_at(o + 4) * 16);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		reg_write(&bus, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(&bus, VIRTIO_MMIO_STATUS, reg_read(&bus, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	for (unsigned q = 0; q < nq; q++)
		reg_write(&bus, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	balloon_dev_process(&d, false);

	balloon_set_target(&d, u16_at(data + 29));
	reg_write(&bus, VIRTIO_MMIO_CONFIG + 4, (uint32_t)data[31] * 64); /* actual */
	reg_write(&bus, VIRTIO_MMIO_CONFIG, 7);                            /* num_pages: the device's */
	balloon_request_stats(&d, 0);
	balloon_dev_process(&d, true);
	balloon_get_info(&d, &info);
	check(info.target_pages <= RAM_PAGES);
	check(info.stat[BALLOON_INFLATED_PAGES] <= info.stat[BALLOON_INFLATE_REQS] * BALLOON_MAX_REQUEST_PAGES);

	reg_write(&bus, VIRTIO_MMIO_STATUS, 0);                            /* reset */
	balloon_dev_process(&d, true);
	balloon_dev_destroy(&d, &bus);
	bus_destroy(&bus);
	return 0;
}
