/*
 * libFuzzer target: a hostile libvirt client's byte stream.
 *
 * Input: byte 0 picks the chunk size the stream is fed in (b % 64 + 1,
 * or the whole rest when 0); the rest is the stream. Every message the
 * reader yields goes through rpc_dispatch() with a table whose handlers
 * decode the argument shapes remote_protocol.x uses most: a domain
 * (name, uuid, id), an optional string and flags (CONNECT_OPEN), and a
 * typed-parameter array (SET_MEMORY_PARAMETERS). Every reply built must
 * carry a correct length word and fit the message cap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/rpc.h"
#include "vmm/libvirt/xdr.h"

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int h_open(struct rpc_call_ctl *cc)
{
	char *uri;
	uint32_t flags;

	xdr_get_opt_string(cc->args, &uri, VIR_NET_MESSAGE_STRING_MAX);
	xdr_get_u32(cc->args, &flags);
	free(uri);
	return 0;
}

static int get_domain(struct xdr_dec *d, char **name)
{
	uint8_t uuid[VIR_UUID_BUFLEN];
	int32_t id;

	xdr_get_string(d, name, VIR_NET_MESSAGE_STRING_MAX);
	xdr_get_opaque_fixed(d, uuid, sizeof(uuid));
	if (xdr_get_i32(d, &id)) {
		/* The name may have decoded before a later field failed. */
		free(*name);
		*name = NULL;
	}
	return xdr_dec_err(d);
}

static int h_domain(struct rpc_call_ctl *cc)
{
	char *name;

	if (get_domain(cc->args, &name))
		return -EBADMSG;
	/* Echo it back: exercises encoding of what was decoded. */
	xdr_put_string(cc->ret, name, VIR_NET_MESSAGE_STRING_MAX);
	free(name);
	return 0;
}

/* remote_typed_param: field, then a union on type (1..6 numbers, 7 string). */
static int h_params(struct rpc_call_ctl *cc)
{
	struct xdr_dec *d = cc->args;
	uint32_t n, flags;
	char *name;

	get_domain(d, &name);
	free(name);
	xdr_get_count(d, &n, 16, 12);
	for (uint32_t i = 0; i < n && !xdr_dec_err(d); i++) {
		int32_t type, i32;
		int64_t i64;
		char *field, *s;

		xdr_get_string(d, &field, 80);
		xdr_get_i32(d, &type);
		switch (type) {
		case 1: case 2: case 6: xdr_get_i32(d, &i32); break;
		case 3: case 4: case 5: xdr_get_i64(d, &i64); break;
		case 7: xdr_get_string(d, &s, VIR_NET_MESSAGE_STRING_MAX); free(s); break;
		default:
			free(field);
			rpc_error_set(cc->err, cc->err_buf, cc->err_buf_len, VIR_ERR_INVALID_ARG,
				      VIR_FROM_REMOTE, "bad parameter type %d", type);
			return -EINVAL;
		}
		free(field);
	}
	xdr_get_u32(d, &flags);
	return 0;
}

static const struct rpc_proc procs[] = {
	{ 1, "CONNECT_OPEN", h_open },
	{ 23, "DOMAIN_LOOKUP_BY_NAME", h_domain },
	{ 197, "DOMAIN_SET_MEMORY_PARAMETERS", h_params },
};
static const struct rpc_program prog = {
	REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, procs, sizeof(procs) / sizeof(procs[0]), NULL,
};

static void check_reply(const struct xdr_enc *out)
{
	check(out->len >= VIR_NET_MESSAGE_MIN && out->len <= GMM_RPC_MESSAGE_MAX);
	check(((uint32_t)out->data[0] << 24 | out->data[1] << 16 | out->data[2] << 8 |
	       out->data[3]) == out->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_reader r;
	struct xdr_enc out;
	struct rpc_msg m;
	size_t chunk, off;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] % 64 + 1 : size;
	rpc_reader_init(&r, 1 << 16);
	rpc_enc_init(&out);
	for (off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		int ret;

		if (rpc_reader_feed(&r, data + off, n))
			break;
		while ((ret = rpc_reader_next(&r, &m)) == 1) {
			check(m.body_len + VIR_NET_MESSAGE_MIN <= r.max_bytes);
			if (rpc_dispatch(&prog, NULL, &m, &out) == RPC_SEND)
				check_reply(&out);
		}
		if (ret < 0)
			break;
	}
	xdr_enc_free(&out);
	rpc_reader_free(&r);
	return 0;
}
