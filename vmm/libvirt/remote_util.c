/*
 * What the remote procedures share (see remote.h): the domain argument,
 * libvirt's errors, flag checks and typed parameters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"

void remote_conn_init(struct remote_conn *rc, struct domains *d, const struct remote_conn_ops *ops,
		      void *client)
{
	memset(rc, 0, sizeof(*rc));
	rc->d = d;
	rc->ops = ops;
	rc->client = client;
	rc->next_ev_id = 1;
	pthread_mutex_init(&rc->ev_lock, NULL);
}

void remote_conn_destroy(struct remote_conn *rc)
{
	pthread_mutex_destroy(&rc->ev_lock);
}

int remote_get_dom(struct xdr_dec *d, struct remote_dom *dom)
{
	memset(dom, 0, sizeof(*dom));
	xdr_get_string(d, &dom->name, REMOTE_STRING_MAX);
	xdr_get_opaque_fixed(d, dom->uuid, VIR_UUID_BUFLEN);
	return xdr_get_i32(d, &dom->id);
}

void remote_dom_free(struct remote_dom *dom)
{
	free(dom->name);
	dom->name = NULL;
}

int remote_put_dom(struct xdr_enc *e, const struct domain_info *info)
{
	xdr_put_string(e, info->name, REMOTE_STRING_MAX);
	xdr_put_opaque_fixed(e, info->uuid_raw, VIR_UUID_BUFLEN);
	return xdr_put_i32(e, info->id);
}

/* libvirt's virErrorMsg() phrases for the codes gmm sends (virerror.c). */
static const char *code_phrase(int code)
{
	switch (code) {
	case VIR_ERR_INTERNAL_ERROR: return "internal error";
	case VIR_ERR_NO_SUPPORT: return "this function is not supported by the connection driver";
	case VIR_ERR_INVALID_ARG: return "invalid argument";
	case VIR_ERR_OPERATION_FAILED: return "operation failed";
	case VIR_ERR_XML_ERROR: return "XML error";
	case VIR_ERR_NO_DOMAIN: return "Domain not found";
	case VIR_ERR_OPERATION_INVALID: return "Requested operation is not valid";
	case VIR_ERR_OPERATION_UNSUPPORTED: return "Operation not supported";
	default: return "error";
	}
}

int remote_err(struct rpc_call_ctl *cc, int code, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rpc_error_set(cc->err, cc->err_buf, cc->err_buf_len, code, VIR_FROM_DOM, "%s: %s", code_phrase(code),
		      text);
	return -EINVAL;
}

void remote_errno_code(int ret, int *code, int *domain)
{
	*domain = VIR_FROM_DOM; /* every error gmm's procedures send is about a domain or the host */
	switch (ret) {
	case -ENOENT: *code = VIR_ERR_NO_DOMAIN; break;
	case -EBADMSG: *code = VIR_ERR_XML_ERROR; break;
	case -EEXIST: *code = VIR_ERR_OPERATION_FAILED; break;
	case -EBUSY: *code = VIR_ERR_OPERATION_INVALID; break;
	case -EINVAL: *code = VIR_ERR_INVALID_ARG; break;
	case -EOPNOTSUPP: *code = VIR_ERR_OPERATION_UNSUPPORTED; break;
	default: *code = VIR_ERR_INTERNAL_ERROR; break;
	}
}

int remote_fail(struct rpc_call_ctl *cc, int ret, const char *text)
{
	int code, domain;

	remote_errno_code(ret, &code, &domain);
	if (!text || !*text)
		text = strerror(-ret);
	remote_err(cc, code, "%s", text);
	return ret < 0 ? ret : -EIO;
}

void remote_uuid_text(const uint8_t u[16], char out[DOMAIN_UUID_LEN])
{
	snprintf(out, DOMAIN_UUID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int remote_find_dom(struct rpc_call_ctl *cc, const struct remote_dom *dom, struct domain_info *info)
{
	struct remote_conn *rc = cc->priv;
	char uuid[DOMAIN_UUID_LEN];

	/* By uuid only, as libvirt's drivers: a handle to a domain that was
	 * undefined must not reach a new one of the same name. */
	if (!domains_lookup_uuid(rc->d, dom->uuid, info))
		return 0;
	remote_uuid_text(dom->uuid, uuid);
	return remote_err(cc, VIR_ERR_NO_DOMAIN, "no domain with matching uuid '%s' (%s)", uuid,
			  dom->name ? dom->name : "");
}

int remote_dom_args(struct rpc_call_ctl *cc, struct domain_info *info, uint32_t *flags)
{
	struct remote_dom dom;
	int ret;

	remote_get_dom(cc->args, &dom);
	if (flags)
		xdr_get_u32(cc->args, flags);
	ret = xdr_dec_err(cc->args);
	if (!ret)
		ret = remote_find_dom(cc, &dom, info);
	remote_dom_free(&dom);
	return ret;
}

int remote_check_flags(struct rpc_call_ctl *cc, uint32_t flags, uint32_t allowed)
{
	if (flags & ~allowed)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "unsupported flags (0x%x)", flags & ~allowed);
	return 0;
}

unsigned remote_affect(uint32_t flags)
{
	/* VIR_DOMAIN_AFFECT_LIVE 1, _CONFIG 2: the same bits as domains.h */
	return flags & (DOMAIN_AFFECT_LIVE | DOMAIN_AFFECT_CONFIG);
}

int remote_put_char_array(struct xdr_enc *e, const char *s, uint32_t max)
{
	size_t n = strlen(s) + 1;

	xdr_put_count(e, (uint32_t)n, max);
	for (size_t i = 0; i < n && !xdr_enc_err(e); i++)
		xdr_put_i32(e, (unsigned char)s[i]);
	return xdr_enc_err(e);
}

static void tparam_head(struct xdr_enc *e, const char *field, int type)
{
	xdr_put_string(e, field, VIR_TYPED_PARAM_FIELD_LENGTH);
	xdr_put_i32(e, type);
}

int remote_put_tparam_ullong(struct xdr_enc *e, const char *field, uint64_t v)
{
	tparam_head(e, field, VIR_TYPED_PARAM_ULLONG);
	return xdr_put_u64(e, v);
}

int remote_put_tparam_int(struct xdr_enc *e, const char *field, int32_t v)
{
	tparam_head(e, field, VIR_TYPED_PARAM_INT);
	return xdr_put_i32(e, v);
}

int remote_put_tparam_string(struct xdr_enc *e, const char *field, const char *s)
{
	tparam_head(e, field, VIR_TYPED_PARAM_STRING);
	return xdr_put_string(e, s, REMOTE_STRING_MAX);
}

/* One remote_typed_param; the union's arm is chosen by the type word. */
static int get_tparam(struct xdr_dec *d, struct remote_tparam *p)
{
	char *field = NULL;
	int32_t type;

	memset(p, 0, sizeof(*p));
	/* libvirt's field is a nonnull string; VIR_TYPED_PARAM_FIELD_LENGTH
	 * includes the NUL */
	if (xdr_get_string(d, &field, VIR_TYPED_PARAM_FIELD_LENGTH - 1))
		return xdr_dec_err(d);
	snprintf(p->field, sizeof(p->field), "%s", field);
	free(field);
	xdr_get_i32(d, &type);
	p->type = type;
	switch (type) {
	case VIR_TYPED_PARAM_INT: return xdr_get_i32(d, &p->v.i);
	case VIR_TYPED_PARAM_UINT: return xdr_get_u32(d, &p->v.ui);
	case VIR_TYPED_PARAM_LLONG: return xdr_get_i64(d, &p->v.l);
	case VIR_TYPED_PARAM_ULLONG: return xdr_get_u64(d, &p->v.ul);
	case VIR_TYPED_PARAM_DOUBLE: {
		uint64_t bits;
		int ret = xdr_get_u64(d, &bits);

		memcpy(&p->v.d, &bits, sizeof(bits));
		return ret;
	}
	case VIR_TYPED_PARAM_BOOLEAN: return xdr_get_i32(d, &p->v.b);
	case VIR_TYPED_PARAM_STRING: return xdr_get_string(d, &p->s, REMOTE_STRING_MAX);
	default:
		/* an arm XDR cannot decode: the payload is malformed */
		if (!d->err) {
			d->err = -EINVAL;
			d->err_pos = d->pos;
			d->err_what = "typed parameter type";
		}
		return d->err;
	}
}

int remote_get_tparams(struct xdr_dec *d, struct remote_tparam **out, uint32_t *n, uint32_t max)
{
	struct remote_tparam *p;
	uint32_t cnt, i;

	*out = NULL;
	*n = 0;
	/* smallest element: empty field (4) + type (4) + an int (4) */
	if (xdr_get_count(d, &cnt, max, 12))
		return xdr_dec_err(d);
	p = calloc(cnt ? cnt : 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < cnt; i++)
		if (get_tparam(d, &p[i]))
			break;
	if (xdr_dec_err(d)) {
		remote_tparams_free(p, i + (i < cnt));
		return xdr_dec_err(d);
	}
	*out = p;
	*n = cnt;
	return 0;
}

void remote_tparams_free(struct remote_tparam *p, uint32_t n)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(p[i].s);
	free(p);
}

int remote_tparam_u64(const struct remote_tparam *p, uint64_t *v)
{
	switch (p->type) {
	case VIR_TYPED_PARAM_ULLONG: *v = p->v.ul; return 0;
	case VIR_TYPED_PARAM_UINT: *v = p->v.ui; return 0;
	case VIR_TYPED_PARAM_LLONG: if (p->v.l < 0) return -EINVAL; *v = (uint64_t)p->v.l; return 0;
	case VIR_TYPED_PARAM_INT: if (p->v.i < 0) return -EINVAL; *v = (uint64_t)p->v.i; return 0;
	default: return -EINVAL;
	}
}
