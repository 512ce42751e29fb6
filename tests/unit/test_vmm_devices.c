/* The device bus, the UART and the test device, driven as a guest would. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "devices/bus.h"
#include "devices/testdev.h"
#include "devices/uart.h"
#include "guest/abi.h"
#include "vmm/console.h"

struct probe {
	uint64_t last_off;
	uint32_t last_val;
	int writes;
};

static void probe_write(void *opaque, struct vcpu *v, uint64_t off, const void *data, unsigned size)
{
	struct probe *p = opaque;

	(void)v;
	p->last_off = off;
	p->last_val = 0;
	memcpy(&p->last_val, data, size > 4 ? 4 : size);
	p->writes++;
}

static void probe_read(void *opaque, struct vcpu *v, uint64_t off, void *data, unsigned size)
{
	(void)opaque;
	(void)v;
	memset(data, 0, size);
	*(uint8_t *)data = (uint8_t)off;
}

static const struct bus_ops probe_ops = { .read = probe_read, .write = probe_write };

Test(bus, handlers_see_offsets_inside_their_range)
{
	struct bus bus;
	struct probe p = { 0 };
	uint32_t v = 0x1234;

	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, 0x1000, 0x100, &probe_ops, &p), 0);
	cr_assert_eq(bus_access(&bus, NULL, 0x1010, &v, 4, true), 0);
	cr_assert_eq(p.last_off, 0x10);
	cr_assert_eq(p.last_val, 0x1234);
	cr_assert_eq(bus_access(&bus, NULL, 0x1020, &v, 1, false), 0);
	cr_assert_eq(v & 0xff, 0x20);
	bus_destroy(&bus);
}

Test(bus, overlapping_ranges_are_refused)
{
	struct bus bus;
	struct probe p = { 0 };

	bus_init(&bus);
	cr_assert_eq(bus_register(&bus, 0x1000, 0x100, &probe_ops, &p), 0);
	cr_assert_eq(bus_register(&bus, 0x10ff, 1, &probe_ops, &p), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0xf00, 0x101, &probe_ops, &p), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x1100, 0x10, &probe_ops, &p), 0);
	cr_assert_eq(bus_register(&bus, 0, 0, &probe_ops, &p), -EINVAL);
	cr_assert_eq(bus_register(&bus, ~0ULL - 1, 4, &probe_ops, &p), -EINVAL);
	bus_destroy(&bus);
}

Test(bus, unowned_and_bad_accesses_are_reported_not_dispatched)
{
	struct bus bus;
	struct probe p = { 0 };
	uint64_t v = 0;

	bus_init(&bus);
	bus_register(&bus, 0x1000, 0x10, &probe_ops, &p);
	cr_assert_eq(bus_access(&bus, NULL, 0x2000, &v, 4, true), -ENOENT);
	cr_assert_eq(bus_access(&bus, NULL, 0x100e, &v, 4, true), -EINVAL); /* straddles the end */
	cr_assert_eq(bus_access(&bus, NULL, 0x1000, &v, 3, true), -EINVAL);
	cr_assert_eq(p.writes, 0);
	bus_destroy(&bus);
}

Test(bus, lookup_finds_each_of_many_ranges)
{
	struct bus bus;
	struct probe p[BUS_MAX_RANGES];

	bus_init(&bus);
	memset(p, 0, sizeof(p));
	for (int i = BUS_MAX_RANGES - 1; i >= 0; i--)
		cr_assert_eq(bus_register(&bus, 0x100 * i, 0x10, &probe_ops, &p[i]), 0);
	cr_assert_eq(bus_register(&bus, 0x100000, 1, &probe_ops, &p[0]), -ENOSPC);
	for (int i = 0; i < BUS_MAX_RANGES; i++) {
		uint8_t v = 1;

		cr_assert_eq(bus_access(&bus, NULL, 0x100 * i + 3, &v, 1, true), 0);
		cr_assert_eq(p[i].writes, 1);
	}
	bus_destroy(&bus);
}

static char *console_to_file(struct console *c, const char *path)
{
	unlink(path);
	cr_assert_eq(console_open(c, "t", path), 0);
	return (char *)path;
}

static void read_file(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t got = fread(buf, 1, n - 1, f);

	buf[got] = '\0';
	fclose(f);
}

Test(uart, transmit_bytes_reach_the_console_and_lsr_says_empty)
{
	struct bus pio;
	struct uart u;
	struct console c;
	const char *path = console_to_file(&c, "/tmp/gmm-uart-test.log");
	char buf[128];
	uint8_t v;

	bus_init(&pio);
	cr_assert_eq(uart_init(&u, &pio, 0x3f8, &c), 0);
	for (const char *s = "hi\x01\n"; *s; s++) {
		v = *s;
		bus_access(&pio, NULL, 0x3f8, &v, 1, true);
	}
	bus_access(&pio, NULL, 0x3fd, &v, 1, false);
	cr_assert(v & 0x20, "THRE set");
	v = 0x80; /* DLAB: writes to 0x3f8 set the divisor, print nothing */
	bus_access(&pio, NULL, 0x3fb, &v, 1, true);
	v = 'X';
	bus_access(&pio, NULL, 0x3f8, &v, 1, true);
	console_close(&c);
	read_file(path, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hi?\n"); /* control characters shown escaped */
	unlink(path);
	bus_destroy(&pio);
}

struct td_ctx {
	char mailbox[4096];
	char key[64], value[256];
	int results, exits, done;
	uint32_t code;
};

static const void *td_mailbox(void *ctx, struct vcpu *v)
{
	(void)v;
	return ((struct td_ctx *)ctx)->mailbox;
}

static void td_result(void *ctx, const char *k, const char *v)
{
	struct td_ctx *t = ctx;

	snprintf(t->key, sizeof(t->key), "%s", k);
	snprintf(t->value, sizeof(t->value), "%s", v);
	t->results++;
}

static void td_exit(void *ctx, struct vcpu *v, uint32_t code)
{
	(void)v;
	((struct td_ctx *)ctx)->exits++;
	((struct td_ctx *)ctx)->code = code;
}

static void td_done(void *ctx, struct vcpu *v)
{
	(void)v;
	((struct td_ctx *)ctx)->done++;
}

static const struct testdev_ops td_ops = { td_mailbox, td_result, td_exit, td_done };

Test(testdev, results_exit_and_done_are_parsed_from_the_mailbox)
{
	struct bus pio;
	struct testdev td;
	struct console c;
	struct td_ctx t = { 0 };
	uint32_t cmd, id = 0;

	bus_init(&pio);
	console_to_file(&c, "/tmp/gmm-td-test.log");
	cr_assert_eq(testdev_init(&td, &pio, &td_ops, &t, &c), 0);
	strcpy(t.mailbox, "ops_per_sec=12.5");
	cmd = GMM_TDEV_RESULT;
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	cr_assert_eq(t.results, 1);
	cr_assert_str_eq(t.key, "ops_per_sec");
	cr_assert_str_eq(t.value, "12.5");
	*(uint32_t *)t.mailbox = 7;
	cmd = GMM_TDEV_EXIT;
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	cr_assert_eq(t.exits, 1);
	cr_assert_eq(t.code, 7);
	cmd = GMM_TDEV_VCPU_DONE;
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	cr_assert_eq(t.done, 1);
	bus_access(&pio, NULL, GMM_TDEV_PORT, &id, 4, false);
	cr_assert_eq(id, GMM_TDEV_ID);
	console_close(&c);
	unlink("/tmp/gmm-td-test.log");
	bus_destroy(&pio);
}

Test(testdev, malformed_commands_are_counted_and_ignored)
{
	struct bus pio;
	struct testdev td;
	struct console c;
	struct td_ctx t = { 0 };
	uint32_t cmd;
	uint8_t b = 1;

	bus_init(&pio);
	console_to_file(&c, "/tmp/gmm-td-test2.log");
	testdev_init(&td, &pio, &td_ops, &t, &c);
	memset(t.mailbox, 'A', sizeof(t.mailbox)); /* no NUL, no '=' */
	cmd = GMM_TDEV_RESULT;
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	strcpy(t.mailbox, "Bad Key=1");
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	strcpy(t.mailbox, "=1");
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	cmd = 0xdeadbeef;
	bus_access(&pio, NULL, GMM_TDEV_PORT, &cmd, 4, true);
	bus_access(&pio, NULL, GMM_TDEV_PORT, &b, 1, true); /* wrong size */
	cr_assert_eq(t.results, 0);
	cr_assert_eq(t.exits, 0);
	cr_assert_eq(atomic_load(&td.nr_bad), 5);
	console_close(&c);
	unlink("/tmp/gmm-td-test2.log");
	bus_destroy(&pio);
}
