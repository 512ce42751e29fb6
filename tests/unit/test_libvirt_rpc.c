/* libvirt remote RPC wire layer: XDR, framing, reader, replies, dispatch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/rpc.h"
#include "vmm/libvirt/xdr.h"

/* ---- XDR ---- */

Test(libvirt_xdr, every_type_round_trips)
{
	struct xdr_enc e;
	struct xdr_dec d;
	uint8_t uuid[16], uuid2[16];
	const uint8_t *op;
	uint32_t u32, n;
	int32_t i32, en;
	uint64_t u64;
	int64_t i64;
	bool b, opt;
	char *s, *ns;

	for (int i = 0; i < 16; i++)
		uuid[i] = i * 17;
	xdr_enc_init(&e, 4096);
	xdr_put_u32(&e, 0xdeadbeef);
	xdr_put_i32(&e, -5);
	xdr_put_u64(&e, 0x0123456789abcdefull);
	xdr_put_i64(&e, INT64_MIN);
	xdr_put_bool(&e, true);
	xdr_put_enum(&e, 3);
	xdr_put_string(&e, "hello", 64);
	xdr_put_opt_string(&e, NULL, 64);
	xdr_put_opaque_fixed(&e, uuid, 16);
	xdr_put_opaque(&e, "abc", 3, 8);
	xdr_put_opt(&e, true);
	xdr_put_count(&e, 2, 4);
	cr_assert_eq(xdr_enc_err(&e), 0);
	cr_assert_eq(e.len, 4 + 4 + 8 + 8 + 4 + 4 + 12 + 4 + 16 + 8 + 4 + 4);

	xdr_dec_init(&d, e.data, e.len);
	xdr_get_u32(&d, &u32);
	xdr_get_i32(&d, &i32);
	xdr_get_u64(&d, &u64);
	xdr_get_i64(&d, &i64);
	xdr_get_bool(&d, &b);
	xdr_get_enum(&d, &en);
	xdr_get_string(&d, &s, 64);
	xdr_get_opt_string(&d, &ns, 64);
	xdr_get_opaque_fixed(&d, uuid2, 16);
	xdr_get_opaque(&d, &op, &n, 8);
	cr_assert_eq(xdr_dec_err(&d), 0);
	cr_assert_eq(u32, 0xdeadbeef);
	cr_assert_eq(i32, -5);
	cr_assert_eq(u64, 0x0123456789abcdefull);
	cr_assert_eq(i64, INT64_MIN);
	cr_assert(b);
	cr_assert_eq(en, 3);
	cr_assert_str_eq(s, "hello");
	cr_assert_null(ns);
	cr_assert_arr_eq(uuid, uuid2, 16);
	cr_assert_eq(n, 3);
	cr_assert_eq(memcmp(op, "abc", 3), 0);
	xdr_get_opt(&d, &opt);
	cr_assert(opt);
	xdr_get_count(&d, &n, 4, 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(xdr_dec_finish(&d), 0);
	free(s);
	xdr_enc_free(&e);
}

Test(libvirt_xdr, strings_are_padded_with_zeros_big_endian)
{
	struct xdr_enc e;
	static const uint8_t want[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0 };

	xdr_enc_init(&e, 64);
	xdr_put_string(&e, "hello", 5);
	cr_assert_eq(e.len, sizeof(want));
	cr_assert_arr_eq(e.data, want, sizeof(want));
	xdr_enc_free(&e);
}

Test(libvirt_xdr, truncated_input_fails_every_type_without_reading_past)
{
	/* Each prefix of a valid encoding fails somewhere; ASan watches the reads. */
	struct xdr_enc e;

	xdr_enc_init(&e, 256);
	xdr_put_u64(&e, 1);
	xdr_put_string(&e, "abcdefg", 16);
	xdr_put_opt_string(&e, "x", 16);
	for (size_t cut = 0; cut < e.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		struct xdr_dec d;
		uint64_t v;
		char *a, *b;

		memcpy(copy, e.data, cut);
		xdr_dec_init(&d, copy, cut);
		xdr_get_u64(&d, &v);
		xdr_get_string(&d, &a, 16);
		xdr_get_opt_string(&d, &b, 16);
		cr_assert_eq(xdr_dec_err(&d), -EBADMSG, "cut %zu", cut);
		cr_assert_str_eq(d.err_what, "truncated");
		free(a);
		free(b);
		free(copy);
	}
	xdr_enc_free(&e);
}

Test(libvirt_xdr, first_error_is_sticky_and_names_its_offset)
{
	static const uint8_t buf[] = { 0, 0, 0, 7, 0, 0, 0, 1 };
	struct xdr_dec d;
	bool b;
	uint32_t v;

	xdr_dec_init(&d, buf, sizeof(buf));
	cr_assert_eq(xdr_get_bool(&d, &b), -EINVAL);
	cr_assert_not(b);
	cr_assert_eq(xdr_get_u32(&d, &v), -EINVAL); /* no read after the error */
	cr_assert_eq(v, 0);
	cr_assert_eq(d.err_pos, 0);
	cr_assert_eq(xdr_dec_finish(&d), -EINVAL);
}

Test(libvirt_xdr, string_over_max_is_refused_both_ways)
{
	struct xdr_enc e;
	struct xdr_dec d;
	char *s;

	xdr_enc_init(&e, 64);
	cr_assert_eq(xdr_put_string(&e, "toolong", 6), -E2BIG);
	cr_assert_eq(xdr_put_u32(&e, 1), -E2BIG);
	xdr_enc_reset(&e);
	xdr_put_string(&e, "toolong", 7);
	xdr_dec_init(&d, e.data, e.len);
	cr_assert_eq(xdr_get_string(&d, &s, 6), -E2BIG);
	cr_assert_null(s);
	xdr_enc_free(&e);
}

Test(libvirt_xdr, string_with_nul_and_huge_length_are_refused)
{
	static const uint8_t nul[] = { 0, 0, 0, 3, 'a', 0, 'b', 0 };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd' };
	struct xdr_dec d;
	const uint8_t *p;
	uint32_t n;
	char *s;

	xdr_dec_init(&d, nul, sizeof(nul));
	cr_assert_eq(xdr_get_string(&d, &s, 16), -EILSEQ);
	xdr_dec_init(&d, huge, sizeof(huge));
	cr_assert_eq(xdr_get_opaque(&d, &p, &n, UINT32_MAX), -EBADMSG);
	cr_assert_null(p);
}

Test(libvirt_xdr, bad_optional_flag_and_oversized_count_are_refused)
{
	static const uint8_t flag2[] = { 0, 0, 0, 2 };
	static const uint8_t count[] = { 0, 0, 0, 3, 0, 0, 0, 0 };
	struct xdr_dec d;
	uint32_t n;
	char *s;

	xdr_dec_init(&d, flag2, sizeof(flag2));
	cr_assert_eq(xdr_get_opt_string(&d, &s, 8), -EINVAL);
	xdr_dec_init(&d, count, sizeof(count));
	cr_assert_eq(xdr_get_count(&d, &n, 2, 0), -E2BIG);
	/* 3 elements of >= 4 bytes cannot fit in the 4 bytes left. */
	xdr_dec_init(&d, count, sizeof(count));
	cr_assert_eq(xdr_get_count(&d, &n, 100, 4), -EBADMSG);
	cr_assert_eq(n, 0);
}

Test(libvirt_xdr, encoder_stops_at_max_bytes)
{
	struct xdr_enc e;

	xdr_enc_init(&e, 8);
	xdr_put_u64(&e, 1);
	cr_assert_eq(xdr_put_u32(&e, 2), -EMSGSIZE);
	cr_assert_eq(e.len, 8);
	xdr_enc_free(&e);
}

/* ---- framing and the reader ---- */

static size_t build_call(uint8_t *buf, uint32_t prog, int32_t proc, uint32_t serial,
			 const void *body, size_t body_len)
{
	struct xdr_enc e;
	struct rpc_header h = { .prog = prog, .vers = 1, .proc = proc, .serial = serial };
	size_t n;

	if (prog == KEEPALIVE_PROGRAM)
		h.type = VIR_NET_MESSAGE;
	rpc_enc_init(&e);
	rpc_msg_begin(&e, &h);
	xdr_put_opaque_fixed(&e, body, body_len);
	cr_assert_eq(rpc_msg_end(&e), 0);
	memcpy(buf, e.data, e.len);
	n = e.len;
	xdr_enc_free(&e);
	return n;
}

Test(libvirt_rpc, reader_fed_one_byte_at_a_time_yields_each_message)
{
	uint8_t wire[256];
	size_t n = 0;
	struct rpc_reader r;
	struct rpc_msg m;
	int got = 0;

	n += build_call(wire + n, REMOTE_PROGRAM, 66, 1, NULL, 0);
	n += build_call(wire + n, REMOTE_PROGRAM, 60, 2, "\0\0\0\x09", 4);
	rpc_reader_init(&r, 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(rpc_reader_feed(&r, wire + i, 1), 0);
		while (rpc_reader_next(&r, &m) == 1) {
			got++;
			cr_assert_eq(m.hdr.serial, (uint32_t)got);
			cr_assert_eq(m.hdr.prog, REMOTE_PROGRAM);
			cr_assert_eq(m.body_len, got == 1 ? 0u : 4u);
		}
	}
	cr_assert_eq(got, 2);
	cr_assert_eq(r.stats[RPC_MSGS_IN], 2);
	cr_assert_eq(r.stats[RPC_BYTES_IN], n);
	rpc_reader_free(&r);
}

Test(libvirt_rpc, reader_splits_several_messages_in_one_chunk)
{
	uint8_t wire[512];
	size_t n = 0;
	struct rpc_reader r;
	struct rpc_msg m;

	for (uint32_t s = 1; s <= 3; s++)
		n += build_call(wire + n, REMOTE_PROGRAM, 3, s, "abcd", 4);
	n += 2; /* the start of a 4th message's length word */
	wire[n - 2] = wire[n - 1] = 0;
	rpc_reader_init(&r, 0);
	cr_assert_eq(rpc_reader_feed(&r, wire, n), 0);
	for (uint32_t s = 1; s <= 3; s++) {
		cr_assert_eq(rpc_reader_next(&r, &m), 1);
		cr_assert_eq(m.hdr.serial, s);
		cr_assert_eq(memcmp(m.body, "abcd", 4), 0);
	}
	cr_assert_eq(rpc_reader_next(&r, &m), 0);
	rpc_reader_free(&r);
}

static void expect_length_closes(uint32_t len, enum rpc_stat_item stat)
{
	uint8_t w[4] = { len >> 24, len >> 16, len >> 8, len };
	struct rpc_reader r;
	struct rpc_msg m;

	rpc_reader_init(&r, 0);
	rpc_reader_feed(&r, w, 4);
	cr_assert_eq(rpc_reader_next(&r, &m), -EMSGSIZE, "len %u", len);
	cr_assert_eq(r.stats[stat], 1);
	/* Dead for good: nothing after a bad length can be framed. */
	cr_assert_eq(rpc_reader_feed(&r, w, 4), -EMSGSIZE);
	cr_assert_eq(rpc_reader_next(&r, &m), -EMSGSIZE);
	rpc_reader_free(&r);
}

Test(libvirt_rpc, length_0_27_or_over_max_closes_the_stream)
{
	expect_length_closes(0, RPC_REJECT_LEN_SHORT);
	expect_length_closes(27, RPC_REJECT_LEN_SHORT);
	expect_length_closes(GMM_RPC_MESSAGE_MAX + 1, RPC_REJECT_LEN_LONG);
	expect_length_closes(0xffffffff, RPC_REJECT_LEN_LONG);
}

Test(libvirt_rpc, length_28_is_an_empty_body_and_max_is_accepted)
{
	uint8_t w[28] = { 0, 0, 0, 28 };
	struct rpc_reader r;
	struct rpc_msg m;

	rpc_reader_init(&r, 64);
	rpc_reader_feed(&r, w, 28);
	cr_assert_eq(rpc_reader_next(&r, &m), 1);
	cr_assert_eq(m.body_len, 0);
	w[3] = 64;
	rpc_reader_feed(&r, w, 4);
	cr_assert_eq(rpc_reader_next(&r, &m), 0); /* 64 is allowed: wait */
	rpc_reader_free(&r);
}

Test(libvirt_rpc, feeding_without_draining_past_twice_max_closes)
{
	uint8_t junk[64] = { 0 };
	struct rpc_reader r;

	rpc_reader_init(&r, 64);
	cr_assert_eq(rpc_reader_feed(&r, junk, 64), 0);
	cr_assert_eq(rpc_reader_feed(&r, junk, 64), 0);
	cr_assert_eq(rpc_reader_feed(&r, junk, 1), -ENOBUFS);
	cr_assert_eq(r.stats[RPC_REJECT_OVERRUN], 1);
	rpc_reader_free(&r);
}

/* ---- replies and dispatch ---- */

/* Hand-computed: an error reply to call serial 7, procedure 999. */
static const uint8_t unknown_proc_reply[] = {
	0x00, 0x00, 0x00, 0x64,                         /* length 100 */
	0x20, 0x00, 0x80, 0x86, 0x00, 0x00, 0x00, 0x01, /* REMOTE_PROGRAM, v1 */
	0x00, 0x00, 0x03, 0xe7, 0x00, 0x00, 0x00, 0x01, /* proc 999, REPLY */
	0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, /* serial 7, ERROR */
	0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x07, /* VIR_ERR_RPC, VIR_FROM_RPC */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x16, /* message: present, 22 */
	'u', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 'p', 'r', 'o', 'c',
	'e', 'd', 'u', 'r', 'e', ':', ' ', '9', '9', '9', 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,                         /* level VIR_ERR_ERROR */
	0x00, 0x00, 0x00, 0x00,                         /* dom: null */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* str1-3 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* int1, int2: -1 */
	0x00, 0x00, 0x00, 0x00,                         /* net: null */
};

static int h_get_version(struct rpc_call_ctl *cc)
{
	return xdr_put_u64(cc->ret, 9000000);
}

static int h_lookup(struct rpc_call_ctl *cc)
{
	char *name;

	if (xdr_get_string(cc->args, &name, 256))
		return -EBADMSG;
	rpc_error_set(cc->err, cc->err_buf, cc->err_buf_len, VIR_ERR_NO_DOMAIN, VIR_FROM_DOM,
		      "Domain not found: no domain with matching name '%s'", name);
	free(name);
	return -ENOENT;
}

static const struct rpc_proc test_procs[] = {
	{ 4, "CONNECT_GET_VERSION", h_get_version },
	{ 23, "DOMAIN_LOOKUP_BY_NAME", h_lookup },
};
static const struct rpc_program test_prog = {
	REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, test_procs, 2, NULL,
};

static int dispatch_wire(const uint8_t *wire, size_t n, struct xdr_enc *out)
{
	struct rpc_reader r;
	struct rpc_msg m;
	int ret;

	rpc_reader_init(&r, 0);
	rpc_reader_feed(&r, wire, n);
	cr_assert_eq(rpc_reader_next(&r, &m), 1);
	ret = rpc_dispatch(&test_prog, NULL, &m, out);
	rpc_reader_free(&r);
	return ret;
}

Test(libvirt_rpc, unknown_procedure_reply_matches_hand_computed_bytes)
{
	uint8_t wire[64];
	struct xdr_enc out;
	size_t n = build_call(wire, REMOTE_PROGRAM, 999, 7, NULL, 0);

	rpc_enc_init(&out);
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_SEND);
	cr_assert_eq(out.len, sizeof(unknown_proc_reply));
	cr_assert_arr_eq(out.data, unknown_proc_reply, sizeof(unknown_proc_reply));
	xdr_enc_free(&out);
}

Test(libvirt_rpc, keepalive_ping_gets_pong_and_pong_gets_nothing)
{
	static const uint8_t pong[] = {
		0, 0, 0, 28, 0x6b, 0x65, 0x65, 0x70, 0, 0, 0, 1,
		0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t wire[64];
	struct xdr_enc out;
	size_t n = build_call(wire, KEEPALIVE_PROGRAM, KEEPALIVE_PROC_PING, 0, NULL, 0);

	rpc_enc_init(&out);
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_SEND);
	cr_assert_eq(out.len, sizeof(pong));
	cr_assert_arr_eq(out.data, pong, sizeof(pong));
	n = build_call(wire, KEEPALIVE_PROGRAM, KEEPALIVE_PROC_PONG, 0, NULL, 0);
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_NO_REPLY);
	xdr_enc_free(&out);
}

Test(libvirt_rpc, handler_reply_carries_serial_and_ok_status)
{
	uint8_t wire[64];
	struct xdr_enc out;
	struct xdr_dec d;
	size_t n = build_call(wire, REMOTE_PROGRAM, 4, 42, NULL, 0);
	uint32_t w[7];
	uint64_t v;

	rpc_enc_init(&out);
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_SEND);
	xdr_dec_init(&d, out.data, out.len);
	for (int i = 0; i < 7; i++)
		xdr_get_u32(&d, &w[i]);
	xdr_get_u64(&d, &v);
	cr_assert_eq(xdr_dec_finish(&d), 0);
	cr_assert_eq(w[0], 36);
	cr_assert_eq(w[3], 4);
	cr_assert_eq(w[4], VIR_NET_REPLY);
	cr_assert_eq(w[5], 42);
	cr_assert_eq(w[6], VIR_NET_OK);
	cr_assert_eq(v, 9000000);
	xdr_enc_free(&out);
}

/* Decode an error reply's code, domain and message. */
static void expect_error(const struct xdr_enc *out, int code, int domain, const char *msg)
{
	struct xdr_dec d;
	uint32_t w;
	int32_t c, dom;
	char *m;

	xdr_dec_init(&d, out->data, out->len);
	for (int i = 0; i < 7; i++)
		xdr_get_u32(&d, &w);
	cr_assert_eq(w, VIR_NET_ERROR);
	xdr_get_i32(&d, &c);
	xdr_get_i32(&d, &dom);
	xdr_get_opt_string(&d, &m, 1024);
	cr_assert_eq(xdr_dec_err(&d), 0);
	cr_assert_eq(c, code);
	cr_assert_eq(dom, domain);
	cr_assert_str_eq(m, msg);
	free(m);
}

Test(libvirt_rpc, handler_error_and_bad_arguments_become_error_replies)
{
	uint8_t wire[128];
	struct xdr_enc out, args;
	size_t n;

	rpc_enc_init(&out);
	xdr_enc_init(&args, 64);
	xdr_put_string(&args, "vm1", 64);
	n = build_call(wire, REMOTE_PROGRAM, 23, 1, args.data, args.len);
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_SEND);
	expect_error(&out, VIR_ERR_NO_DOMAIN, VIR_FROM_DOM,
		     "Domain not found: no domain with matching name 'vm1'");

	/* Trailing bytes after the arguments. */
	xdr_put_u32(&args, 0);
	n = build_call(wire, REMOTE_PROGRAM, 23, 2, args.data, args.len);
	dispatch_wire(wire, n, &out);
	expect_error(&out, VIR_ERR_RPC, VIR_FROM_RPC, "Unable to decode message payload");

	/* Truncated arguments. */
	n = build_call(wire, REMOTE_PROGRAM, 23, 3, args.data, 6);
	dispatch_wire(wire, n, &out);
	expect_error(&out, VIR_ERR_RPC, VIR_FROM_RPC, "Unable to decode message payload");
	xdr_enc_free(&args);
	xdr_enc_free(&out);
}

Test(libvirt_rpc, wrong_program_version_or_status_is_an_rpc_error)
{
	uint8_t wire[64];
	struct xdr_enc out;
	size_t n;

	rpc_enc_init(&out);
	n = build_call(wire, 0x12345678, 4, 1, NULL, 0);
	dispatch_wire(wire, n, &out);
	expect_error(&out, VIR_ERR_RPC, VIR_FROM_RPC,
		     "program mismatch (actual 12345678, expected 20008086)");
	n = build_call(wire, REMOTE_PROGRAM, 4, 1, NULL, 0);
	wire[11] = 2; /* version */
	dispatch_wire(wire, n, &out);
	expect_error(&out, VIR_ERR_RPC, VIR_FROM_RPC, "version mismatch (actual 2, expected 1)");
	n = build_call(wire, REMOTE_PROGRAM, 4, 1, NULL, 0);
	wire[27] = 1; /* status */
	dispatch_wire(wire, n, &out);
	expect_error(&out, VIR_ERR_RPC, VIR_FROM_RPC, "Unexpected message status 1");
	n = build_call(wire, REMOTE_PROGRAM, 4, 1, NULL, 0);
	wire[19] = VIR_NET_REPLY; /* a client's reply waits for nothing */
	cr_assert_eq(dispatch_wire(wire, n, &out), RPC_NO_REPLY);
	xdr_enc_free(&out);
}

Test(libvirt_rpc, error_constants_match_virterror_h)
{
	cr_assert_eq(VIR_ERR_INTERNAL_ERROR, 1);
	cr_assert_eq(VIR_ERR_NO_SUPPORT, 3);
	cr_assert_eq(VIR_ERR_INVALID_ARG, 8);
	cr_assert_eq(VIR_ERR_XML_ERROR, 27);
	cr_assert_eq(VIR_ERR_RPC, 39);
	cr_assert_eq(VIR_ERR_NO_DOMAIN, 42);
	cr_assert_eq(VIR_ERR_OPERATION_INVALID, 55);
	cr_assert_eq(VIR_FROM_DOM, 6);
	cr_assert_eq(VIR_FROM_RPC, 7);
	cr_assert_eq(VIR_FROM_REMOTE, 13);
}
