/*
 * libvirt's remote RPC wire layer (src/rpc/virnetprotocol.x): framing,
 * the incremental reader, error replies, keepalive and the procedure
 * table. No sockets here: the daemon feeds bytes in and writes the
 * encoded messages out. docs/libvirt.md describes the protocol as gmm
 * speaks it.
 *
 * A message on the wire: a 4-byte big-endian length counting itself,
 * the 24-byte header (struct rpc_header), then the XDR body.
 */
#ifndef GMM_LIBVIRT_RPC_H
#define GMM_LIBVIRT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/xdr.h"

#define VIR_NET_MESSAGE_LEN_MAX     4   /* bytes of the length word */
#define VIR_NET_MESSAGE_HEADER_MAX  24
#define VIR_NET_MESSAGE_MIN         (VIR_NET_MESSAGE_LEN_MAX + VIR_NET_MESSAGE_HEADER_MAX)
/* libvirt allows 32 MiB (VIR_NET_MESSAGE_MAX); nothing gmm answers or
 * accepts comes near 4 MiB, and a smaller cap bounds each connection. */
#define GMM_RPC_MESSAGE_MAX         (4u << 20)
#define VIR_NET_MESSAGE_STRING_MAX  4194304
#define VIR_UUID_BUFLEN             16

#define REMOTE_PROGRAM              0x20008086u
#define REMOTE_PROTOCOL_VERSION     1u
#define KEEPALIVE_PROGRAM           0x6b656570u /* "keep" */
#define KEEPALIVE_PROTOCOL_VERSION  1u
enum { KEEPALIVE_PROC_PING = 1, KEEPALIVE_PROC_PONG = 2 };

enum vir_net_message_type {
	VIR_NET_CALL = 0,
	VIR_NET_REPLY = 1,
	VIR_NET_MESSAGE = 2,
	VIR_NET_STREAM = 3,
	VIR_NET_CALL_WITH_FDS = 4,
	VIR_NET_REPLY_WITH_FDS = 5,
	VIR_NET_STREAM_HOLE = 6,
};

enum vir_net_message_status {
	VIR_NET_OK = 0,
	VIR_NET_ERROR = 1,
	VIR_NET_CONTINUE = 2,
};

/* virErrorNumber, virErrorDomain and virErrorLevel values gmm sends
 * (include/libvirt/virterror.h, libvirt 9.0). */
enum vir_error_number {
	VIR_ERR_INTERNAL_ERROR = 1,
	VIR_ERR_NO_SUPPORT = 3,
	VIR_ERR_INVALID_ARG = 8,
	VIR_ERR_OPERATION_FAILED = 9,
	VIR_ERR_XML_ERROR = 27,
	VIR_ERR_RPC = 39,
	VIR_ERR_NO_DOMAIN = 42,
	VIR_ERR_OPERATION_INVALID = 55,
	VIR_ERR_OPERATION_UNSUPPORTED = 84,
};

enum vir_error_domain {
	VIR_FROM_NONE = 0,
	VIR_FROM_DOM = 6,
	VIR_FROM_RPC = 7,
	VIR_FROM_REMOTE = 13,
};

enum { VIR_ERR_ERROR = 2 }; /* virErrorLevel */

/* virNetMessageHeader */
struct rpc_header {
	uint32_t prog;
	uint32_t vers;
	int32_t proc;
	uint32_t type;    /* enum vir_net_message_type */
	uint32_t serial;
	uint32_t status;  /* enum vir_net_message_status */
};

/* One received message; body points into the reader's buffer and is valid
 * until the next rpc_reader_feed() or rpc_reader_free(). */
struct rpc_msg {
	struct rpc_header hdr;
	const uint8_t *body;
	size_t body_len;
};

/* Reader counters; the printed name is rpc_stat_names[]. */
enum rpc_stat_item {
	RPC_MSGS_IN,
	RPC_BYTES_IN,
	RPC_REJECT_LEN_SHORT,  /* length word below 28 */
	RPC_REJECT_LEN_LONG,   /* length word above max_bytes */
	RPC_REJECT_OVERRUN,    /* fed more than it may buffer */
	NR_RPC_STATS
};
extern const char *const rpc_stat_names[NR_RPC_STATS];

/*
 * Turns a byte stream into whole messages. A bad length word kills the
 * stream for good (every later call returns the same error): after a bad
 * length nothing that follows can be framed, so the connection must close.
 * Not thread-safe: one reader per connection, used by its one thread.
 */
struct rpc_reader {
	uint8_t *buf;
	size_t len;        /* bytes buffered */
	size_t pos;        /* start of the first message not yet returned */
	size_t cap;
	size_t max_bytes;  /* largest length word accepted */
	int err;           /* sticky; nonzero means close the connection */
	uint64_t stats[NR_RPC_STATS];
};

/* max_bytes in [VIR_NET_MESSAGE_MIN, GMM_RPC_MESSAGE_MAX]; 0 is the max. */
int rpc_reader_init(struct rpc_reader *r, size_t max_bytes);
void rpc_reader_free(struct rpc_reader *r);
/*
 * Append bytes as they came off the socket. Call rpc_reader_next() until
 * it returns 0 before feeding more: at most 2 * max_bytes are buffered
 * (-ENOBUFS beyond, which kills the stream).
 */
int rpc_reader_feed(struct rpc_reader *r, const void *bytes, size_t n);
/* 1 and *m filled: a message; 0: need more bytes; <0: close (-EMSGSIZE
 * for a length out of range, or the error that killed the stream). */
int rpc_reader_next(struct rpc_reader *r, struct rpc_msg *m);

/* Start a message in e (length word placeholder + header); encode the
 * body after it, then rpc_msg_end() patches the length. */
int rpc_msg_begin(struct xdr_enc *e, const struct rpc_header *h);
int rpc_msg_end(struct xdr_enc *e);
/* A whole message's encoder: capped at GMM_RPC_MESSAGE_MAX. */
int rpc_enc_init(struct xdr_enc *e);

/* virNetMessageError; dom and net are always sent as null. */
struct rpc_error {
	int32_t code;     /* enum vir_error_number */
	int32_t domain;   /* enum vir_error_domain */
	const char *message;
	int32_t level;
	const char *str1, *str2, *str3;
	int32_t int1, int2;
};

int rpc_error_encode(struct xdr_enc *e, const struct rpc_error *err);
/* Fill err like libvirt's virReportError(): level error, no strs, ints -1.
 * The message is formatted into buf (truncated to buf_len). */
void rpc_error_set(struct rpc_error *err, char *buf, size_t buf_len,
		   int code, int domain, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Reset out to one whole error reply to call: type REPLY, status ERROR,
 * the serial and procedure of the call, the given program/version. */
int rpc_reply_error(struct xdr_enc *out, const struct rpc_header *call,
		    uint32_t prog, uint32_t vers, const struct rpc_error *err);

bool rpc_is_keepalive(const struct rpc_header *h);
/* Reset out to a PONG (keepalive program, type MESSAGE, serial 0, as
 * libvirt's virKeepAliveMessage() sends it). */
int rpc_keepalive_pong(struct xdr_enc *out);

/*
 * The procedure table. A handler decodes its arguments from args, encodes
 * its return value into ret (after the header, already written), and
 * returns 0; or returns <0 after rpc_error_set(err, ...). A handler that
 * fails without setting err->code gets VIR_ERR_INTERNAL_ERROR.
 */
struct rpc_call_ctl {
	const struct rpc_header *hdr;
	struct xdr_dec *args;
	struct xdr_enc *ret;
	struct rpc_error *err;
	char *err_buf;        /* storage for the error message */
	size_t err_buf_len;
	void *priv;           /* the daemon's connection */
};

typedef int (*rpc_handler_fn)(struct rpc_call_ctl *cc);

struct rpc_proc {
	int32_t proc;
	const char *name;     /* REMOTE_PROC_* without the prefix, for logs */
	rpc_handler_fn fn;
};

/* procs sorted by proc number: lookup is a binary search. */
struct rpc_program {
	uint32_t prog;
	uint32_t vers;
	const struct rpc_proc *procs;
	size_t nr_procs;
	/* Runs for a procedure not in procs (NULL: libvirt's "unknown
	 * procedure" RPC error). The remote program answers procedures libvirt
	 * defines but gmm does not serve with VIR_ERR_NO_SUPPORT, as libvirtd
	 * does for a driver lacking them: virsh falls back on that code. */
	rpc_handler_fn unknown;
};

const struct rpc_proc *rpc_program_find(const struct rpc_program *p, int32_t proc);

enum rpc_disposition {
	RPC_SEND,      /* out holds one whole message to send */
	RPC_NO_REPLY,  /* nothing to send (a PONG, a stray non-call) */
};

/*
 * One received message in, at most one message out. Keepalive PINGs get
 * a PONG; calls go to their handler; everything a call gets wrong
 * (program, version, status, unknown procedure, undecodable or leftover
 * arguments) becomes a VIR_ERR_RPC / VIR_FROM_RPC error reply, as
 * libvirt's virNetServerProgramDispatch() answers. Returns the
 * disposition, or <0 (-ENOMEM, -EMSGSIZE) when out cannot be built.
 */
int rpc_dispatch(const struct rpc_program *p, void *priv,
		 const struct rpc_msg *m, struct xdr_enc *out);

#endif
