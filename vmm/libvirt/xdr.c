/*
 * XDR encoder and decoder for libvirt's remote protocol (see xdr.h).
 * Lengths from the wire are checked against what is left before any use,
 * with arithmetic that cannot overflow (xdr_pad() of a u32 fits size_t).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/libvirt/xdr.h"

#define XDR_UNIT 4u

/* n rounded up to the 4-byte unit, as a size_t so UINT32_MAX does not wrap. */
static size_t xdr_pad(uint32_t n)
{
	return ((size_t)n + XDR_UNIT - 1) & ~(size_t)(XDR_UNIT - 1);
}

/* ---- encoder ---- */

int xdr_enc_init(struct xdr_enc *e, size_t max_bytes)
{
	memset(e, 0, sizeof(*e));
	e->max_bytes = max_bytes;
	return 0;
}

void xdr_enc_free(struct xdr_enc *e)
{
	free(e->data);
	memset(e, 0, sizeof(*e));
}

void xdr_enc_reset(struct xdr_enc *e)
{
	e->len = 0;
	e->err = 0;
}

static int enc_fail(struct xdr_enc *e, int err)
{
	if (!e->err)
		e->err = err;
	return e->err;
}

/* Room for n more bytes, or the sticky error. */
static uint8_t *enc_reserve(struct xdr_enc *e, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (e->err)
		return NULL;
	if (n > e->max_bytes - e->len) {
		enc_fail(e, -EMSGSIZE);
		return NULL;
	}
	if (e->len + n > e->cap) {
		cap = e->cap ? e->cap : 256;
		while (cap < e->len + n)
			cap *= 2;
		if (cap > e->max_bytes)
			cap = e->max_bytes;
		p = realloc(e->data, cap);
		if (!p) {
			enc_fail(e, -ENOMEM);
			return NULL;
		}
		e->data = p;
		e->cap = cap;
	}
	p = e->data + e->len;
	e->len += n;
	return p;
}

static void be32_store(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

int xdr_put_u32(struct xdr_enc *e, uint32_t v)
{
	uint8_t *p = enc_reserve(e, 4);

	if (p)
		be32_store(p, v);
	return e->err;
}

int xdr_put_i32(struct xdr_enc *e, int32_t v) { return xdr_put_u32(e, (uint32_t)v); }
int xdr_put_enum(struct xdr_enc *e, int32_t v) { return xdr_put_u32(e, (uint32_t)v); }
int xdr_put_bool(struct xdr_enc *e, bool v) { return xdr_put_u32(e, v ? 1 : 0); }
int xdr_put_opt(struct xdr_enc *e, bool present) { return xdr_put_u32(e, present ? 1 : 0); }

int xdr_put_u64(struct xdr_enc *e, uint64_t v)
{
	xdr_put_u32(e, (uint32_t)(v >> 32));
	return xdr_put_u32(e, (uint32_t)v);
}

int xdr_put_i64(struct xdr_enc *e, int64_t v) { return xdr_put_u64(e, (uint64_t)v); }

int xdr_put_opaque_fixed(struct xdr_enc *e, const void *src, uint32_t n)
{
	size_t padded = xdr_pad(n);
	uint8_t *p = enc_reserve(e, padded);

	if (p) {
		if (n)
			memcpy(p, src, n);
		memset(p + n, 0, padded - n);
	}
	return e->err;
}

int xdr_put_opaque(struct xdr_enc *e, const void *src, uint32_t n, uint32_t max_len)
{
	if (n > max_len)
		return enc_fail(e, -E2BIG);
	xdr_put_u32(e, n);
	return xdr_put_opaque_fixed(e, src, n);
}

int xdr_put_string(struct xdr_enc *e, const char *s, uint32_t max_len)
{
	size_t n = strlen(s);

	if (n > max_len)
		return enc_fail(e, -E2BIG);
	return xdr_put_opaque(e, s, (uint32_t)n, max_len);
}

int xdr_put_opt_string(struct xdr_enc *e, const char *s, uint32_t max_len)
{
	xdr_put_opt(e, s != NULL);
	return s ? xdr_put_string(e, s, max_len) : e->err;
}

int xdr_put_count(struct xdr_enc *e, uint32_t n, uint32_t max_count)
{
	if (n > max_count)
		return enc_fail(e, -E2BIG);
	return xdr_put_u32(e, n);
}

int xdr_patch_u32(struct xdr_enc *e, size_t off, uint32_t v)
{
	if (e->err)
		return e->err;
	if (off > e->len || e->len - off < 4)
		return enc_fail(e, -EINVAL);
	be32_store(e->data + off, v);
	return 0;
}

/* ---- decoder ---- */

void xdr_dec_init(struct xdr_dec *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = data;
	d->len = len;
}

/* Record the first failure only: later ones are consequences of it. */
static int dec_fail(struct xdr_dec *d, int err, const char *what)
{
	if (!d->err) {
		d->err = err;
		d->err_pos = d->pos;
		d->err_what = what;
	}
	return d->err;
}

int xdr_dec_finish(struct xdr_dec *d)
{
	if (!d->err && d->pos != d->len)
		dec_fail(d, -EBADMSG, "trailing bytes");
	return d->err;
}

/* n bytes at the cursor, advancing it, or NULL with the error set. */
static const uint8_t *dec_take(struct xdr_dec *d, size_t n)
{
	const uint8_t *p;

	if (d->err)
		return NULL;
	if (n > d->len - d->pos) {
		dec_fail(d, -EBADMSG, "truncated");
		return NULL;
	}
	p = d->data + d->pos;
	d->pos += n;
	return p;
}

int xdr_get_u32(struct xdr_dec *d, uint32_t *v)
{
	const uint8_t *p = dec_take(d, 4);

	*v = p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
	return d->err;
}

int xdr_get_i32(struct xdr_dec *d, int32_t *v)
{
	uint32_t u;

	xdr_get_u32(d, &u);
	*v = (int32_t)u;
	return d->err;
}

int xdr_get_enum(struct xdr_dec *d, int32_t *v) { return xdr_get_i32(d, v); }

int xdr_get_u64(struct xdr_dec *d, uint64_t *v)
{
	uint32_t hi, lo;

	xdr_get_u32(d, &hi);
	xdr_get_u32(d, &lo);
	*v = d->err ? 0 : (uint64_t)hi << 32 | lo;
	return d->err;
}

int xdr_get_i64(struct xdr_dec *d, int64_t *v)
{
	uint64_t u;

	xdr_get_u64(d, &u);
	*v = (int64_t)u;
	return d->err;
}

/* A 0/1 word: bool and the optional-value flag share the strictness. */
static int dec_flag(struct xdr_dec *d, bool *v, const char *what)
{
	size_t at = d->pos;
	uint32_t u;

	*v = false;
	if (xdr_get_u32(d, &u))
		return d->err;
	if (u > 1) {
		d->pos = at;
		return dec_fail(d, -EINVAL, what);
	}
	*v = u;
	return 0;
}

int xdr_get_bool(struct xdr_dec *d, bool *v) { return dec_flag(d, v, "bool not 0 or 1"); }
int xdr_get_opt(struct xdr_dec *d, bool *present) { return dec_flag(d, present, "optional flag not 0 or 1"); }

int xdr_get_opaque_fixed(struct xdr_dec *d, void *dst, uint32_t n)
{
	const uint8_t *p = dec_take(d, xdr_pad(n));

	if (p)
		memcpy(dst, p, n);
	else if (n)
		memset(dst, 0, n);
	return d->err;
}

/* Length word then bytes; the length is checked before anything is read. */
static int dec_var(struct xdr_dec *d, const uint8_t **p, uint32_t *n, uint32_t max_len)
{
	size_t at = d->pos;
	uint32_t len;

	*p = NULL;
	*n = 0;
	if (xdr_get_u32(d, &len))
		return d->err;
	if (len > max_len) {
		d->pos = at;
		return dec_fail(d, -E2BIG, "length over its max");
	}
	*p = dec_take(d, xdr_pad(len));
	if (!*p)
		return d->err;
	*n = len;
	return 0;
}

int xdr_get_opaque(struct xdr_dec *d, const uint8_t **p, uint32_t *n, uint32_t max_len)
{
	return dec_var(d, p, n, max_len);
}

int xdr_get_string(struct xdr_dec *d, char **s, uint32_t max_len)
{
	const uint8_t *p;
	uint32_t n;

	*s = NULL;
	if (dec_var(d, &p, &n, max_len))
		return d->err;
	/* A NUL inside would make the C string say less than the wire did. */
	if (memchr(p, 0, n)) {
		d->pos -= 4 + xdr_pad(n);
		return dec_fail(d, -EILSEQ, "NUL inside a string");
	}
	*s = malloc((size_t)n + 1);
	if (!*s)
		return dec_fail(d, -ENOMEM, "out of memory");
	memcpy(*s, p, n);
	(*s)[n] = '\0';
	return 0;
}

int xdr_get_opt_string(struct xdr_dec *d, char **s, uint32_t max_len)
{
	bool present;

	*s = NULL;
	if (xdr_get_opt(d, &present) || !present)
		return d->err;
	return xdr_get_string(d, s, max_len);
}

int xdr_get_count(struct xdr_dec *d, uint32_t *n, uint32_t max_count, uint32_t min_elem_bytes)
{
	size_t at = d->pos;
	uint32_t c;

	*n = 0;
	if (xdr_get_u32(d, &c))
		return d->err;
	if (c > max_count) {
		d->pos = at;
		return dec_fail(d, -E2BIG, "count over its max");
	}
	/* u32 * u32 fits in 64 bits: no overflow in the product. */
	if ((uint64_t)c * min_elem_bytes > xdr_dec_left(d)) {
		d->pos = at;
		return dec_fail(d, -EBADMSG, "count larger than the bytes left");
	}
	*n = c;
	return 0;
}
