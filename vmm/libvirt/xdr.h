/*
 * XDR (RFC 4506) as libvirt's remote protocol uses it: big-endian 4-byte
 * units; hyper is 8 bytes; strings and opaques carry a length word and are
 * zero-padded to 4 bytes; an optional value ("*" in the .x files) is a
 * 4-byte flag then the value; an array is a count then its elements.
 *
 * The encoder appends to a growable buffer with a byte limit; the decoder
 * walks a received body and never reads past it. Both keep the first error
 * (sticky): every later call is a no-op that returns it, so a caller may
 * chain calls and look at xdr_*_err() once at the end. The decoder also
 * records where and why it first failed, for the one log line at the edge.
 */
#ifndef GMM_LIBVIRT_XDR_H
#define GMM_LIBVIRT_XDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xdr_enc {
	uint8_t *data;
	size_t len;        /* bytes written */
	size_t cap;        /* bytes allocated */
	size_t max_bytes;  /* len never exceeds this (-EMSGSIZE) */
	int err;           /* first error, 0 if none */
};

int xdr_enc_init(struct xdr_enc *e, size_t max_bytes);
void xdr_enc_free(struct xdr_enc *e);
/* Forget the contents and any error, keep the buffer. */
void xdr_enc_reset(struct xdr_enc *e);
static inline int xdr_enc_err(const struct xdr_enc *e) { return e->err; }

int xdr_put_u32(struct xdr_enc *e, uint32_t v);
int xdr_put_i32(struct xdr_enc *e, int32_t v);
int xdr_put_u64(struct xdr_enc *e, uint64_t v);
int xdr_put_i64(struct xdr_enc *e, int64_t v);
int xdr_put_bool(struct xdr_enc *e, bool v);
int xdr_put_enum(struct xdr_enc *e, int32_t v);
/* A non-NULL string of at most max_len bytes (-E2BIG beyond). */
int xdr_put_string(struct xdr_enc *e, const char *s, uint32_t max_len);
/* libvirt's remote_string: NULL is flag 0, else flag 1 and the string. */
int xdr_put_opt_string(struct xdr_enc *e, const char *s, uint32_t max_len);
int xdr_put_opaque_fixed(struct xdr_enc *e, const void *p, uint32_t n);
int xdr_put_opaque(struct xdr_enc *e, const void *p, uint32_t n, uint32_t max_len);
/* The flag of an optional value; the caller encodes the value if true. */
int xdr_put_opt(struct xdr_enc *e, bool present);
/* An array's count (-E2BIG above max_count); the caller puts elements. */
int xdr_put_count(struct xdr_enc *e, uint32_t n, uint32_t max_count);
/* Overwrite 4 bytes already written at off (a length patched later). */
int xdr_patch_u32(struct xdr_enc *e, size_t off, uint32_t v);

struct xdr_dec {
	const uint8_t *data;
	size_t len;
	size_t pos;
	int err;           /* first error: -EBADMSG truncated, -E2BIG over a
			    * max, -EINVAL bad bool/flag, -EILSEQ NUL in a
			    * string, -ENOMEM */
	size_t err_pos;    /* offset of the field that failed */
	const char *err_what; /* static text naming the failure */
};

void xdr_dec_init(struct xdr_dec *d, const void *data, size_t len);
static inline int xdr_dec_err(const struct xdr_dec *d) { return d->err; }
static inline size_t xdr_dec_left(const struct xdr_dec *d) { return d->len - d->pos; }
/* The error if any, else -EBADMSG if bytes are left over, else 0. */
int xdr_dec_finish(struct xdr_dec *d);

/* On error every getter leaves its outputs zeroed/NULL. */
int xdr_get_u32(struct xdr_dec *d, uint32_t *v);
int xdr_get_i32(struct xdr_dec *d, int32_t *v);
int xdr_get_u64(struct xdr_dec *d, uint64_t *v);
int xdr_get_i64(struct xdr_dec *d, int64_t *v);
/* Strict: only 0 and 1 are booleans (RFC 4506 4.4). */
int xdr_get_bool(struct xdr_dec *d, bool *v);
int xdr_get_enum(struct xdr_dec *d, int32_t *v);
/* A malloc()ed NUL-terminated copy; the caller frees it. */
int xdr_get_string(struct xdr_dec *d, char **s, uint32_t max_len);
/* NULL when the flag is 0. */
int xdr_get_opt_string(struct xdr_dec *d, char **s, uint32_t max_len);
int xdr_get_opaque_fixed(struct xdr_dec *d, void *p, uint32_t n);
/* *p points into the decoder's buffer: valid while that buffer is. */
int xdr_get_opaque(struct xdr_dec *d, const uint8_t **p, uint32_t *n, uint32_t max_len);
int xdr_get_opt(struct xdr_dec *d, bool *present);
/*
 * An array's count. Besides max_count, a count whose elements could not
 * fit in the bytes left (each takes at least min_elem_bytes) is refused
 * before the caller allocates for it: garbage cannot ask for gigabytes.
 */
int xdr_get_count(struct xdr_dec *d, uint32_t *n, uint32_t max_count, uint32_t min_elem_bytes);

#endif
