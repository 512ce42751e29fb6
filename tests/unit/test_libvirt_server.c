/*
 * The libvirt socket server (vmm/libvirt/rpc_server.c) with a stub
 * program over a real unix socket: calls and replies, several clients,
 * a client that never reads, keepalive pings and drops, malformed
 * streams, events queued from another thread, the counters.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/libvirt/rpc.h"
#include "vmm/libvirt/rpc_server.h"

#define PROG 0x11223344u

/* proc 1: echo an int + 1; proc 2: start keepalive; proc 3: reply with
 * `n` bytes of opaque (to fill a socket) */
static int h_inc(struct rpc_call_ctl *cc)
{
	int32_t v;

	if (xdr_get_i32(cc->args, &v))
		return -EBADMSG;
	return xdr_put_i32(cc->ret, v + 1);
}

static int h_keepalive(struct rpc_call_ctl *cc)
{
	rpc_server_client_keepalive(*(struct rpc_server_client **)cc->priv);
	return 0;
}

static int h_big(struct rpc_call_ctl *cc)
{
	static uint8_t blob[1 << 20];
	uint32_t n;

	if (xdr_get_u32(cc->args, &n))
		return -EBADMSG;
	return xdr_put_opaque(cc->ret, blob, n > sizeof(blob) ? sizeof(blob) : n, sizeof(blob));
}

static const struct rpc_proc procs[] = {
	{ 1, "INC", h_inc },
	{ 2, "KEEPALIVE", h_keepalive },
	{ 3, "BIG", h_big },
};
static const struct rpc_program prog = { PROG, 1, procs, 3, NULL };

/* priv: just the client pointer, for h_keepalive */
static void *t_open(void *ctx, struct rpc_server_client *c)
{
	struct rpc_server_client **p = malloc(sizeof(*p));

	(void)ctx;
	*p = c;
	return p;
}

static void t_close(void *ctx, void *priv)
{
	(void)ctx;
	free(priv);
}

static const struct rpc_server_ops ops = { t_open, t_close };

static char sock_path[108];

static struct rpc_server *start(const struct rpc_server_opts *o)
{
	struct rpc_server *s;
	char err[256];

	snprintf(sock_path, sizeof(sock_path), "/tmp/gmm-test-lv-%d.sock", getpid());
	cr_assert_eq(rpc_server_start(sock_path, &prog, &ops, NULL, o, &s, err, sizeof(err)), 0, "%s", err);
	return s;
}

static int dial(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void send_call(int fd, int32_t proc, uint32_t serial, const void *body, size_t len)
{
	struct rpc_header h = { PROG, 1, proc, VIR_NET_CALL, serial, VIR_NET_OK };
	struct xdr_enc e;

	rpc_enc_init(&e);
	rpc_msg_begin(&e, &h);
	if (len)
		xdr_put_opaque_fixed(&e, body, (uint32_t)len);
	rpc_msg_end(&e);
	cr_assert_eq(send(fd, e.data, e.len, MSG_NOSIGNAL), (ssize_t)e.len);
	xdr_enc_free(&e);
}

static void send_int_call(int fd, int32_t proc, uint32_t serial, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	send_call(fd, proc, serial, b, 4);
}

/* Read one whole message (header into h, body into body); false on EOF
 * or after timeout_ms. */
static bool recv_msg(int fd, struct rpc_header *h, uint8_t *body, size_t *body_len, int timeout_ms)
{
	struct rpc_reader r;
	struct rpc_msg m;
	uint8_t buf[4096];
	bool ok = false;

	rpc_reader_init(&r, 0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		n = recv(fd, buf, 1, 0); /* byte by byte: never read past one message */
		if (n <= 0)
			break;
		rpc_reader_feed(&r, buf, (size_t)n);
		if (rpc_reader_next(&r, &m) == 1) {
			*h = m.hdr;
			if (body) {
				memcpy(body, m.body, m.body_len);
				*body_len = m.body_len;
			}
			ok = true;
			break;
		}
	}
	rpc_reader_free(&r);
	return ok;
}

static int32_t be32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static bool peer_closed(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b[256];

	while (poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = recv(fd, b, sizeof(b), 0);

		if (n <= 0)
			return true;
	}
	return false;
}

Test(libvirt_server, call_gets_its_reply_with_serial)
{
	struct rpc_server *s = start(NULL);
	struct rpc_header h;
	uint8_t body[64];
	size_t len;
	int fd = dial();

	send_int_call(fd, 1, 77, 41);
	cr_assert(recv_msg(fd, &h, body, &len, 2000));
	cr_assert_eq(h.type, VIR_NET_REPLY);
	cr_assert_eq(h.status, VIR_NET_OK);
	cr_assert_eq(h.serial, 77);
	cr_assert_eq(len, 4);
	cr_assert_eq(be32(body), 42);
	close(fd);
	rpc_server_stop(s);
}

Test(libvirt_server, unknown_procedure_is_an_error_reply_and_the_connection_lives)
{
	struct rpc_server *s = start(NULL);
	struct rpc_header h;
	uint64_t st[NR_SRV_STATS];
	int fd = dial();

	send_call(fd, 99, 1, NULL, 0);
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	cr_assert_eq(h.status, VIR_NET_ERROR);
	send_int_call(fd, 1, 2, 1);
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	cr_assert_eq(h.status, VIR_NET_OK);
	rpc_server_read_stats(s, st);
	cr_assert_eq(st[SRV_ERRORS], 1);
	cr_assert_eq(st[SRV_CALLS], 2);
	close(fd);
	rpc_server_stop(s);
}

Test(libvirt_server, ping_gets_pong)
{
	struct rpc_server *s = start(NULL);
	struct rpc_header ping = { KEEPALIVE_PROGRAM, 1, KEEPALIVE_PROC_PING, VIR_NET_MESSAGE, 0, 0 }, h;
	struct xdr_enc e;
	int fd = dial();

	rpc_enc_init(&e);
	rpc_msg_begin(&e, &ping);
	rpc_msg_end(&e);
	send(fd, e.data, e.len, 0);
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	cr_assert_eq(h.prog, KEEPALIVE_PROGRAM);
	cr_assert_eq(h.proc, KEEPALIVE_PROC_PONG);
	xdr_enc_free(&e);
	close(fd);
	rpc_server_stop(s);
}

Test(libvirt_server, bad_length_word_closes_only_that_connection)
{
	struct rpc_server *s = start(NULL);
	uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 };
	struct rpc_header h;
	uint64_t st[NR_SRV_STATS];
	int bad = dial(), good = dial();

	send(bad, junk, sizeof(junk), 0);
	cr_assert(peer_closed(bad, 2000));
	send_int_call(good, 1, 5, 1);
	cr_assert(recv_msg(good, &h, NULL, NULL, 2000));
	rpc_server_read_stats(s, st);
	cr_assert_eq(st[SRV_DROP_MALFORMED], 1);
	close(bad);
	close(good);
	rpc_server_stop(s);
}

Test(libvirt_server, client_that_never_reads_is_dropped_and_blocks_nobody)
{
	struct rpc_server_opts o = RPC_SERVER_OPTS_DEFAULT;
	struct rpc_server *s;
	struct rpc_header h;
	uint64_t st[NR_SRV_STATS] = { 0 };
	int slow, fast;

	o.max_out_bytes = 4 << 20;
	s = start(&o);
	slow = dial();
	fast = dial();
	/* 16 MiB of replies asked for, none read */
	for (int i = 0; i < 16; i++)
		send_int_call(slow, 3, (uint32_t)i, 1 << 20);
	send_int_call(fast, 1, 9, 1);
	cr_assert(recv_msg(fast, &h, NULL, NULL, 2000));
	cr_assert_eq(h.serial, 9);
	for (int i = 0; i < 100 && !st[SRV_DROP_SLOW]; i++) {
		usleep(20000);
		rpc_server_read_stats(s, st);
	}
	cr_assert_eq(st[SRV_DROP_SLOW], 1);
	close(slow);
	close(fast);
	rpc_server_stop(s);
}

Test(libvirt_server, keepalive_pings_an_idle_client_then_drops_a_silent_one)
{
	struct rpc_server_opts o = RPC_SERVER_OPTS_DEFAULT;
	struct rpc_server *s;
	struct rpc_header h;
	uint64_t st[NR_SRV_STATS];
	int fd;

	o.keepalive_interval_ms = 100;
	o.keepalive_count = 3;
	s = start(&o);
	fd = dial();
	send_call(fd, 2, 1, NULL, 0);
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	/* idle: a PING arrives; answering nothing, three pings, then closed */
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	cr_assert_eq(h.prog, KEEPALIVE_PROGRAM);
	cr_assert_eq(h.proc, KEEPALIVE_PROC_PING);
	cr_assert(peer_closed(fd, 3000));
	rpc_server_read_stats(s, st);
	cr_assert_eq(st[SRV_DROP_KEEPALIVE], 1);
	cr_assert_geq(st[SRV_PINGS_SENT], 3);
	close(fd);
	rpc_server_stop(s);
}

Test(libvirt_server, keepalive_is_off_until_asked)
{
	struct rpc_server_opts o = RPC_SERVER_OPTS_DEFAULT;
	struct rpc_server *s;
	struct rpc_header h;
	int fd;

	o.keepalive_interval_ms = 50;
	o.keepalive_count = 1;
	s = start(&o);
	fd = dial();
	cr_assert_not(recv_msg(fd, &h, NULL, NULL, 400));
	send_int_call(fd, 1, 3, 1);
	cr_assert(recv_msg(fd, &h, NULL, NULL, 2000));
	close(fd);
	rpc_server_stop(s);
}

static void queue_event(void *arg, struct rpc_server_client *c, void *priv)
{
	static const uint8_t msg[28] = { 0, 0, 0, 28, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0, 0, 0, 7,
					 0, 0, 0, VIR_NET_MESSAGE };

	(void)priv;
	*(int *)arg += 1;
	rpc_server_client_send(c, msg, sizeof(msg));
}

Test(libvirt_server, messages_queued_from_another_thread_reach_every_client)
{
	struct rpc_server *s = start(NULL);
	struct rpc_header h;
	int a = dial(), b = dial(), n = 0;

	/* both are accepted once a call went through */
	send_int_call(a, 1, 1, 1);
	send_int_call(b, 1, 1, 1);
	cr_assert(recv_msg(a, &h, NULL, NULL, 2000));
	cr_assert(recv_msg(b, &h, NULL, NULL, 2000));
	rpc_server_foreach_client(s, queue_event, &n);
	cr_assert_eq(n, 2);
	cr_assert(recv_msg(a, &h, NULL, NULL, 2000));
	cr_assert_eq(h.proc, 7);
	cr_assert(recv_msg(b, &h, NULL, NULL, 2000));
	cr_assert_eq(h.type, VIR_NET_MESSAGE);
	close(a);
	close(b);
	rpc_server_stop(s);
}

Test(libvirt_server, disconnect_mid_call_harms_nothing_and_stop_joins_all)
{
	struct rpc_server *s = start(NULL);
	struct rpc_header h;
	uint64_t st[NR_SRV_STATS];
	int fd, ok;

	for (int i = 0; i < 8; i++) {
		fd = dial();
		send_int_call(fd, 3, 1, 1 << 20); /* a big reply nobody reads */
		close(fd);
	}
	fd = dial();
	send(fd, "\0\0\0\x40\x11\x22", 6, 0); /* half a message, then gone */
	close(fd);
	ok = dial();
	send_int_call(ok, 1, 2, 1);
	cr_assert(recv_msg(ok, &h, NULL, NULL, 2000));
	for (int i = 0; i < 100 && rpc_server_nr_clients(s) > 1; i++)
		usleep(20000);
	cr_assert_eq(rpc_server_nr_clients(s), 1);
	rpc_server_read_stats(s, st);
	cr_assert_eq(st[SRV_CLIENTS_ACCEPTED], 10);
	rpc_server_stop(s);
	close(ok);
	cr_assert_neq(access(sock_path, F_OK), 0, "the socket file is removed");
}

Test(libvirt_server, socket_is_0600_and_a_live_one_is_not_stolen)
{
	struct rpc_server *s = start(NULL), *s2;
	struct stat st;
	char err[256];

	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(rpc_server_start(sock_path, &prog, &ops, NULL, NULL, &s2, err, sizeof(err)), -EADDRINUSE);
	rpc_server_stop(s);
}
