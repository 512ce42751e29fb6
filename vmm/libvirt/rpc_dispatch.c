/*
 * Replies and dispatch for libvirt's remote RPC (see rpc.h): error
 * replies shaped like libvirt's own, keepalive PONGs, and the procedure
 * table lookup with libvirt's answers to calls it cannot serve.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/libvirt/rpc.h"

int rpc_error_encode(struct xdr_enc *e, const struct rpc_error *err)
{
	xdr_put_i32(e, err->code);
	xdr_put_i32(e, err->domain);
	xdr_put_opt_string(e, err->message, VIR_NET_MESSAGE_STRING_MAX);
	xdr_put_i32(e, err->level);
	xdr_put_opt(e, false); /* dom: unused by clients */
	xdr_put_opt_string(e, err->str1, VIR_NET_MESSAGE_STRING_MAX);
	xdr_put_opt_string(e, err->str2, VIR_NET_MESSAGE_STRING_MAX);
	xdr_put_opt_string(e, err->str3, VIR_NET_MESSAGE_STRING_MAX);
	xdr_put_i32(e, err->int1);
	xdr_put_i32(e, err->int2);
	return xdr_put_opt(e, false); /* net: unused */
}

void rpc_error_set(struct rpc_error *err, char *buf, size_t buf_len,
		   int code, int domain, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, buf_len, fmt, ap);
	va_end(ap);
	*err = (struct rpc_error){
		.code = code, .domain = domain, .message = buf,
		.level = VIR_ERR_ERROR, .int1 = -1, .int2 = -1,
	};
}

int rpc_reply_error(struct xdr_enc *out, const struct rpc_header *call,
		    uint32_t prog, uint32_t vers, const struct rpc_error *err)
{
	struct rpc_header h = {
		.prog = prog, .vers = vers, .proc = call->proc,
		.type = VIR_NET_REPLY, .serial = call->serial, .status = VIR_NET_ERROR,
	};

	rpc_msg_begin(out, &h);
	rpc_error_encode(out, err);
	return rpc_msg_end(out);
}

bool rpc_is_keepalive(const struct rpc_header *h)
{
	return h->prog == KEEPALIVE_PROGRAM;
}

int rpc_keepalive_pong(struct xdr_enc *out)
{
	struct rpc_header h = {
		.prog = KEEPALIVE_PROGRAM, .vers = KEEPALIVE_PROTOCOL_VERSION,
		.proc = KEEPALIVE_PROC_PONG, .type = VIR_NET_MESSAGE,
	};

	rpc_msg_begin(out, &h);
	return rpc_msg_end(out);
}

const struct rpc_proc *rpc_program_find(const struct rpc_program *p, int32_t proc)
{
	size_t lo = 0, hi = p->nr_procs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->procs[mid].proc == proc)
			return &p->procs[mid];
		if (p->procs[mid].proc < proc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Like virKeepAliveCheckMessage(): answer PING, swallow the rest. */
static int dispatch_keepalive(const struct rpc_msg *m, struct xdr_enc *out)
{
	int ret;

	if (m->hdr.vers != KEEPALIVE_PROTOCOL_VERSION || m->hdr.type != VIR_NET_MESSAGE ||
	    m->hdr.proc != KEEPALIVE_PROC_PING)
		return RPC_NO_REPLY;
	ret = rpc_keepalive_pong(out);
	return ret < 0 ? ret : RPC_SEND;
}

/* The checks of virNetServerProgramDispatch() and ...DispatchCall(), in
 * its order; 0 if the call may go to its handler. */
static int call_check(const struct rpc_program *p, const struct rpc_msg *m,
		      struct rpc_error *err, char *buf, size_t buf_len)
{
	const struct rpc_header *h = &m->hdr;

	if (h->prog != p->prog)
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "program mismatch (actual %x, expected %x)", h->prog, p->prog);
	else if (h->vers != p->vers)
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "version mismatch (actual %x, expected %x)", h->vers, p->vers);
	else if (h->type != VIR_NET_CALL) /* gmm takes no fds: CALL_WITH_FDS too */
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "Unexpected message type %u", h->type);
	else if (h->status != VIR_NET_OK)
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "Unexpected message status %u", h->status);
	else if (!rpc_program_find(p, h->proc) && !p->unknown)
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "unknown procedure: %d", h->proc);
	else
		return 0;
	return -EPROTO;
}

/* Run the handler into out; on failure leave err set for the caller. */
static int call_run(const struct rpc_program *p, void *priv, const struct rpc_msg *m,
		    struct xdr_enc *out, struct rpc_error *err, char *buf, size_t buf_len)
{
	struct rpc_header h = m->hdr;
	const struct rpc_proc *proc;
	struct xdr_dec args;
	struct rpc_call_ctl cc = {
		.hdr = &m->hdr, .args = &args, .ret = out, .err = err,
		.err_buf = buf, .err_buf_len = buf_len, .priv = priv,
	};
	int ret;

	xdr_dec_init(&args, m->body, m->body_len);
	h.type = VIR_NET_REPLY;
	h.status = VIR_NET_OK;
	rpc_msg_begin(out, &h);
	err->code = 0;
	proc = rpc_program_find(p, h.proc);
	ret = proc ? proc->fn(&cc) : p->unknown(&cc);
	/* Bad arguments outrank what the handler made of them. */
	if (xdr_dec_finish(&args)) {
		rpc_error_set(err, buf, buf_len, VIR_ERR_RPC, VIR_FROM_RPC,
			      "Unable to decode message payload");
		return -EBADMSG;
	}
	if (ret < 0) {
		if (!err->code)
			rpc_error_set(err, buf, buf_len, VIR_ERR_INTERNAL_ERROR, VIR_FROM_RPC,
				      "internal error: procedure %d failed (%d)", h.proc, ret);
		return ret;
	}
	return rpc_msg_end(out);
}

int rpc_dispatch(const struct rpc_program *p, void *priv,
		 const struct rpc_msg *m, struct xdr_enc *out)
{
	struct rpc_error err = { 0 };
	char buf[256];
	int ret;

	if (rpc_is_keepalive(&m->hdr))
		return dispatch_keepalive(m, out);
	/* A reply, event or stream packet from a client waits for nothing. */
	if (m->hdr.type != VIR_NET_CALL && m->hdr.type != VIR_NET_CALL_WITH_FDS)
		return RPC_NO_REPLY;

	ret = call_check(p, m, &err, buf, sizeof(buf));
	if (!ret) {
		ret = call_run(p, priv, m, out, &err, buf, sizeof(buf));
		if (!ret)
			return RPC_SEND;
		/* The reply itself did not fit: that is the error to report. */
		if (out->err && !err.code)
			rpc_error_set(&err, buf, sizeof(buf), VIR_ERR_RPC, VIR_FROM_RPC,
				      "reply too large or out of memory (%d)", out->err);
	}
	ret = rpc_reply_error(out, &m->hdr, p->prog, p->vers, &err);
	return ret < 0 ? ret : RPC_SEND;
}
