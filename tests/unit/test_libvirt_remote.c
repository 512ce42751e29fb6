/*
 * The libvirt remote program's shared pieces (vmm/libvirt/remote_util.c,
 * remote_program.c): typed parameters on the wire, domains.h errnos as
 * libvirt errors, and the calls that need no domain (the handshake,
 * unsupported procedures) dispatched through the real table.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/remote.h"
#include "vmm/libvirt/rpc.h"

Test(libvirt_remote, typed_params_round_trip_every_type)
{
	struct xdr_enc e;
	struct xdr_dec d;
	struct remote_tparam *p;
	uint32_t n;
	uint64_t v;

	xdr_enc_init(&e, 4096);
	xdr_put_count(&e, 3, 16);
	remote_put_tparam_ullong(&e, "hard_limit", 9007199254740991ULL);
	remote_put_tparam_int(&e, "numa_mode", 2);
	remote_put_tparam_string(&e, "numa_nodeset", "0-1");
	cr_assert_eq(xdr_enc_err(&e), 0);
	xdr_dec_init(&d, e.data, e.len);
	cr_assert_eq(remote_get_tparams(&d, &p, &n, 16), 0);
	cr_assert_eq(xdr_dec_finish(&d), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(p[0].field, "hard_limit");
	cr_assert_eq(p[0].type, VIR_TYPED_PARAM_ULLONG);
	cr_assert_eq(remote_tparam_u64(&p[0], &v), 0);
	cr_assert_eq(v, 9007199254740991ULL);
	cr_assert_eq(p[1].type, VIR_TYPED_PARAM_INT);
	cr_assert_eq(p[1].v.i, 2);
	cr_assert_str_eq(p[2].s, "0-1");
	cr_assert_neq(remote_tparam_u64(&p[2], &v), 0, "a string is not a number");
	remote_tparams_free(p, n);
	xdr_enc_free(&e);
}

Test(libvirt_remote, typed_param_of_unknown_type_or_too_many_is_refused)
{
	struct xdr_enc e;
	struct xdr_dec d;
	struct remote_tparam *p;
	uint32_t n;

	xdr_enc_init(&e, 4096);
	xdr_put_count(&e, 1, 16);
	xdr_put_string(&e, "x", 80);
	xdr_put_i32(&e, 99);
	xdr_put_i32(&e, 0);
	xdr_dec_init(&d, e.data, e.len);
	cr_assert_neq(remote_get_tparams(&d, &p, &n, 16), 0);
	cr_assert_null(p);
	xdr_enc_reset(&e);
	xdr_put_count(&e, 17, 17);
	for (int i = 0; i < 17; i++)
		remote_put_tparam_int(&e, "a", i);
	xdr_dec_init(&d, e.data, e.len);
	cr_assert_neq(remote_get_tparams(&d, &p, &n, 16), 0);
	xdr_enc_free(&e);
}

Test(libvirt_remote, negative_numbers_are_not_sizes)
{
	struct remote_tparam p = { .type = VIR_TYPED_PARAM_LLONG, .v.l = -1 };
	uint64_t v;

	cr_assert_neq(remote_tparam_u64(&p, &v), 0);
	p.type = VIR_TYPED_PARAM_UINT;
	p.v.ui = 7;
	cr_assert_eq(remote_tparam_u64(&p, &v), 0);
	cr_assert_eq(v, 7);
}

Test(libvirt_remote, domains_errnos_map_to_libvirt_codes)
{
	static const struct { int err, code; } map[] = {
		{ -ENOENT, VIR_ERR_NO_DOMAIN },       { -EBADMSG, VIR_ERR_XML_ERROR },
		{ -EEXIST, VIR_ERR_OPERATION_FAILED }, { -EBUSY, VIR_ERR_OPERATION_INVALID },
		{ -EINVAL, VIR_ERR_INVALID_ARG },      { -EOPNOTSUPP, VIR_ERR_OPERATION_UNSUPPORTED },
		{ -ENOMEM, VIR_ERR_INTERNAL_ERROR },   { -EIO, VIR_ERR_INTERNAL_ERROR },
	};
	int code, dom;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		remote_errno_code(map[i].err, &code, &dom);
		cr_assert_eq(code, map[i].code, "errno %d", map[i].err);
		cr_assert_eq(dom, VIR_FROM_DOM);
	}
}

Test(libvirt_remote, error_text_has_libvirts_prefix)
{
	struct rpc_error err;
	char buf[256];
	struct rpc_call_ctl cc = { .err = &err, .err_buf = buf, .err_buf_len = sizeof(buf) };

	remote_fail(&cc, -ENOENT, "no domain with matching name 'x'");
	cr_assert_str_eq(err.message, "Domain not found: no domain with matching name 'x'");
	cr_assert_eq(err.code, VIR_ERR_NO_DOMAIN);
	remote_fail(&cc, -EBUSY, "domain is not running");
	cr_assert_str_eq(err.message, "Requested operation is not valid: domain is not running");
	remote_fail(&cc, -EOPNOTSUPP, "");
	cr_assert_eq(err.code, VIR_ERR_OPERATION_UNSUPPORTED);
	cr_assert(strstr(err.message, "Operation not supported: "));
}

Test(libvirt_remote, char_array_is_four_bytes_a_char_with_the_nul)
{
	struct xdr_enc e;

	xdr_enc_init(&e, 4096);
	remote_put_char_array(&e, "ab", 10);
	cr_assert_eq(e.len, 4 + 3 * 4);
	cr_assert_eq(e.data[3], 3);
	cr_assert_eq(e.data[7], 'a');
	cr_assert_eq(e.data[15], 0);
	xdr_enc_free(&e);
}

Test(libvirt_remote, procedure_table_is_sorted)
{
	for (size_t i = 1; i < remote_program.nr_procs; i++)
		cr_assert_lt(remote_program.procs[i - 1].proc, remote_program.procs[i].proc, "%s",
			     remote_program.procs[i].name);
}

/* One call through rpc_dispatch on the real program, reply decoded. */
static int call(struct remote_conn *rc, int32_t proc, const struct xdr_enc *args, struct rpc_header *h,
		struct xdr_enc *out)
{
	struct rpc_msg m = {
		.hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, VIR_NET_CALL, 5, VIR_NET_OK },
		.body = args ? args->data : NULL, .body_len = args ? args->len : 0,
	};
	struct rpc_reader r;
	struct rpc_msg reply;
	int ret = rpc_dispatch(&remote_program, rc, &m, out);

	cr_assert_eq(ret, RPC_SEND);
	rpc_reader_init(&r, 0);
	rpc_reader_feed(&r, out->data, out->len);
	cr_assert_eq(rpc_reader_next(&r, &reply), 1);
	*h = reply.hdr;
	rpc_reader_free(&r);
	return 0;
}

static int32_t reply_i32(const struct xdr_enc *out, size_t off)
{
	const uint8_t *p = out->data + VIR_NET_MESSAGE_MIN + off;

	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

Test(libvirt_remote, handshake_auth_none_and_features)
{
	struct remote_conn rc;
	struct xdr_enc args, out;
	struct rpc_header h;
	static const struct { int feature, yes; } f[] = {
		{ 9, 1 }, { 10, 1 }, { 14, 1 }, { 15, 1 }, { 1, 0 }, { 8, 0 }, { 12345, 0 }, { -1, 0 },
	};

	remote_conn_init(&rc, NULL, NULL, NULL);
	rpc_enc_init(&out);
	xdr_enc_init(&args, 1024);
	call(&rc, 66, NULL, &h, &out); /* AUTH_LIST */
	cr_assert_eq(h.status, VIR_NET_OK);
	cr_assert_eq(reply_i32(&out, 0), 1);
	cr_assert_eq(reply_i32(&out, 4), 0);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		xdr_enc_reset(&args);
		xdr_put_i32(&args, f[i].feature);
		call(&rc, 60, &args, &h, &out);
		cr_assert_eq(h.status, VIR_NET_OK);
		cr_assert_eq(reply_i32(&out, 0), f[i].yes, "feature %d", f[i].feature);
	}
	xdr_enc_reset(&args);
	xdr_put_opt_string(&args, "gmm:///system", 100);
	xdr_put_u32(&args, 0);
	call(&rc, 1, &args, &h, &out); /* CONNECT_OPEN */
	cr_assert_eq(h.status, VIR_NET_OK);
	cr_assert(rc.opened);
	remote_conn_destroy(&rc);
	xdr_enc_free(&args);
	xdr_enc_free(&out);
}

Test(libvirt_remote, unserved_procedures_say_no_support_and_unknown_ones_rpc_error)
{
	struct remote_conn rc;
	struct xdr_enc args, out;
	struct rpc_header h;

	remote_conn_init(&rc, NULL, NULL, NULL);
	rpc_enc_init(&out);
	xdr_enc_init(&args, 1024);
	xdr_put_string(&args, "whatever arguments", 100);
	call(&rc, 187 + 1, &args, &h, &out); /* DOMAIN_SNAPSHOT_LIST_NAMES */
	cr_assert_eq(h.status, VIR_NET_ERROR);
	cr_assert_eq(reply_i32(&out, 0), VIR_ERR_NO_SUPPORT);
	call(&rc, 100000, NULL, &h, &out);
	cr_assert_eq(h.status, VIR_NET_ERROR);
	cr_assert_eq(reply_i32(&out, 0), VIR_ERR_RPC);
	/* a served procedure with garbage arguments */
	call(&rc, 60, &args, &h, &out);
	cr_assert_eq(h.status, VIR_NET_ERROR);
	cr_assert_eq(reply_i32(&out, 0), VIR_ERR_RPC);
	remote_conn_destroy(&rc);
	xdr_enc_free(&args);
	xdr_enc_free(&out);
}
