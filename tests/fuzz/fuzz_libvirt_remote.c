/*
 * libFuzzer target: libvirt remote procedures with hostile arguments.
 *
 * The real procedure table (vmm/libvirt/remote_program.c) runs over a fake
 * domain registry (fake_domains.c: a small in-memory table, no guests),
 * so every decoder and reply encoder of the remote program sees mutated
 * arguments; lifecycle events the calls cause are encoded for a
 * registered callback and checked too.
 *
 * Input: records, each a 2-byte big-endian selector, a 2-byte big-endian
 * body length, then that many bytes of XDR arguments. Selector < 0x8000
 * picks the table's (selector % nr_procs)-th procedure; otherwise
 * (selector & 0x7fff) is sent as the procedure number itself, so
 * unserved and unknown numbers are reached too. Each input starts with a
 * fresh registry holding one domain, "fz" (running), so lookups can hit.
 * Every reply must be one whole message: right length word, the call's
 * serial and procedure, type REPLY.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"
#include "vmm/libvirt/rpc.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

struct domains *fake_domains(void);
void fake_domains_reset(void);

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A message as it would leave the socket: parse it back whole. */
static void check_message(const uint8_t *msg, size_t len, uint32_t type)
{
	struct rpc_reader r;
	struct rpc_msg m;

	check(len >= VIR_NET_MESSAGE_MIN && len <= GMM_RPC_MESSAGE_MAX);
	check(be32(msg) == len);
	check(rpc_reader_init(&r, 0) == 0);
	check(rpc_reader_feed(&r, msg, len) == 0);
	check(rpc_reader_next(&r, &m) == 1);
	check(m.hdr.type == type);
	check(rpc_reader_next(&r, &m) == 0);
	rpc_reader_free(&r);
}

static int event_send(void *arg, const void *msg, size_t len)
{
	(void)arg;
	check_message(msg, len, VIR_NET_MESSAGE);
	return 0;
}

static struct remote_conn conn;
static bool verbose; /* FUZZ_VERBOSE=1: one line per call, to check seeds reach the handlers */
static struct xdr_enc ev_enc;

static void on_event(void *ctx, const struct domain_info *dom, int event, int detail)
{
	(void)ctx;
	remote_event_lifecycle(&conn, dom, event, detail, &ev_enc, event_send, NULL);
}

static void setup(void)
{
	static const char xml[] = "<domain type='gmm'><name>fz</name><memory unit='KiB'>65536</memory></domain>";
	struct domain_info info;
	char err[DOMAINS_ERR_MAX];

	fake_domains_reset();
	remote_conn_destroy(&conn);
	remote_conn_init(&conn, fake_domains(), NULL, NULL);
	/* every domain's events, so encoding them is exercised */
	conn.ev[0] = (struct remote_event_cb){ .id = 1, .any_domain = true };
	conn.next_ev_id = 2;
	check(domains_define_xml(fake_domains(), xml, sizeof(xml) - 1, &info, err, sizeof(err)) == 0);
	check(domains_start(fake_domains(), "fz", err, sizeof(err)) == 0);
}

static void one_call(int32_t proc, uint32_t serial, const uint8_t *body, size_t len, struct xdr_enc *out)
{
	struct rpc_msg m = {
		.hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, VIR_NET_CALL, serial, VIR_NET_OK },
		.body = body, .body_len = len,
	};
	int ret = rpc_dispatch(&remote_program, &conn, &m, out);

	check(ret == RPC_SEND);
	check_message(out->data, out->len, VIR_NET_REPLY);
	check((int32_t)be32(out->data + 12) == proc);
	check(be32(out->data + 20) == serial);
	check(be32(out->data + 24) == VIR_NET_OK || be32(out->data + 24) == VIR_NET_ERROR);
	if (verbose)
		fprintf(stderr, "proc %d: %s\n", proc, be32(out->data + 24) == VIR_NET_OK ? "ok" : "error");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	remote_conn_init(&conn, fake_domains(), NULL, NULL);
	check(rpc_enc_init(&ev_enc) == 0);
	domains_set_event_cb(fake_domains(), on_event, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xdr_enc out;
	uint32_t serial = 1;

	setup();
	check(rpc_enc_init(&out) == 0);
	while (size >= 4) {
		unsigned sel = (unsigned)data[0] << 8 | data[1];
		size_t len = (size_t)data[2] << 8 | data[3];
		int32_t proc;

		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		if (sel < 0x8000)
			proc = remote_program.procs[sel % remote_program.nr_procs].proc;
		else
			proc = (int32_t)(sel & 0x7fff);
		one_call(proc, serial++, data, len, &out);
		data += len;
		size -= len;
	}
	xdr_enc_free(&out);
	return 0;
}
