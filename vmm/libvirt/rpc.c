/*
 * libvirt remote RPC framing and the incremental reader (see rpc.h).
 * Replies and dispatch are in rpc_dispatch.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/rpc.h"

const char *const rpc_stat_names[NR_RPC_STATS] = {
	[RPC_MSGS_IN] = "msgs_in",
	[RPC_BYTES_IN] = "bytes_in",
	[RPC_REJECT_LEN_SHORT] = "reject_len_short",
	[RPC_REJECT_LEN_LONG] = "reject_len_long",
	[RPC_REJECT_OVERRUN] = "reject_overrun",
};

int rpc_reader_init(struct rpc_reader *r, size_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	if (!max_bytes)
		max_bytes = GMM_RPC_MESSAGE_MAX;
	if (max_bytes < VIR_NET_MESSAGE_MIN || max_bytes > GMM_RPC_MESSAGE_MAX)
		return -EINVAL;
	r->max_bytes = max_bytes;
	return 0;
}

void rpc_reader_free(struct rpc_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

static int reader_kill(struct rpc_reader *r, enum rpc_stat_item why, int err)
{
	r->stats[why]++;
	r->err = err;
	return err;
}

int rpc_reader_feed(struct rpc_reader *r, const void *bytes, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (r->err)
		return r->err;
	/* Drop messages already returned: their rpc_msg may now go stale. */
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (n > 2 * r->max_bytes - r->len)
		return reader_kill(r, RPC_REJECT_OVERRUN, -ENOBUFS);
	if (r->len + n > r->cap) {
		cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		p = realloc(r->buf, cap);
		if (!p)
			return -ENOMEM; /* not sticky: the bytes were not taken */
		r->buf = p;
		r->cap = cap;
	}
	if (n)
		memcpy(r->buf + r->len, bytes, n);
	r->len += n;
	r->stats[RPC_BYTES_IN] += n;
	return 0;
}

static uint32_t be32_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The length word is judged as soon as its 4 bytes are in, before the
 * body arrives: a client cannot make gmm wait for (or buffer) a message
 * it will refuse anyway.
 */
int rpc_reader_next(struct rpc_reader *r, struct rpc_msg *m)
{
	const uint8_t *p = r->buf + r->pos;
	size_t avail = r->len - r->pos;
	uint32_t len;
	struct xdr_dec d;

	if (r->err)
		return r->err;
	if (avail < VIR_NET_MESSAGE_LEN_MAX)
		return 0;
	len = be32_load(p);
	if (len < VIR_NET_MESSAGE_MIN)
		return reader_kill(r, RPC_REJECT_LEN_SHORT, -EMSGSIZE);
	if (len > r->max_bytes)
		return reader_kill(r, RPC_REJECT_LEN_LONG, -EMSGSIZE);
	if (avail < len)
		return 0;

	/* 24 bytes are there, so the header cannot fail to decode. */
	xdr_dec_init(&d, p + VIR_NET_MESSAGE_LEN_MAX, VIR_NET_MESSAGE_HEADER_MAX);
	xdr_get_u32(&d, &m->hdr.prog);
	xdr_get_u32(&d, &m->hdr.vers);
	xdr_get_i32(&d, &m->hdr.proc);
	xdr_get_u32(&d, &m->hdr.type);
	xdr_get_u32(&d, &m->hdr.serial);
	xdr_get_u32(&d, &m->hdr.status);
	m->body = p + VIR_NET_MESSAGE_MIN;
	m->body_len = len - VIR_NET_MESSAGE_MIN;
	r->pos += len;
	r->stats[RPC_MSGS_IN]++;
	return 1;
}

int rpc_enc_init(struct xdr_enc *e)
{
	return xdr_enc_init(e, GMM_RPC_MESSAGE_MAX);
}

int rpc_msg_begin(struct xdr_enc *e, const struct rpc_header *h)
{
	xdr_enc_reset(e);
	xdr_put_u32(e, 0); /* length, patched by rpc_msg_end() */
	xdr_put_u32(e, h->prog);
	xdr_put_u32(e, h->vers);
	xdr_put_i32(e, h->proc);
	xdr_put_u32(e, h->type);
	xdr_put_u32(e, h->serial);
	return xdr_put_u32(e, h->status);
}

int rpc_msg_end(struct xdr_enc *e)
{
	/* The encoder's max_bytes already kept len within a u32. */
	return xdr_patch_u32(e, 0, (uint32_t)e->len);
}
