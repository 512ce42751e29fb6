/* libvirt RPC over a unix socket: listener and client threads (see rpc_server.h). */
#include "vmm/libvirt/rpc_server.h"
#include "vmm/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RPC_SERVER_MAX_CLIENTS 256
#define READ_CHUNK             65536

const char *const rpc_server_stat_names[NR_SRV_STATS] = {
	[SRV_CLIENTS_ACCEPTED] = "clients_accepted",
	[SRV_CLIENTS_REFUSED] = "clients_refused",
	[SRV_MSGS_IN] = "msgs_in",
	[SRV_CALLS] = "calls",
	[SRV_ERRORS] = "errors",
	[SRV_EVENTS] = "events",
	[SRV_PINGS_SENT] = "pings_sent",
	[SRV_PONGS_SENT] = "pongs_sent",
	[SRV_DROP_KEEPALIVE] = "drop_keepalive",
	[SRV_DROP_MALFORMED] = "drop_malformed",
	[SRV_DROP_SLOW] = "drop_slow",
	[SRV_DISCONNECTS] = "disconnects",
	[SRV_BYTES_IN] = "bytes_in",
	[SRV_BYTES_OUT] = "bytes_out",
};

struct rpc_server_client {
	struct rpc_server *srv;
	int fd;                    /* non-blocking */
	int wake_fd;               /* eventfd: output queued, or stop */
	pthread_t thread;
	void *priv;                /* conn_open's; NULL once closed */
	bool listed;               /* under srv->lock: foreach may show it */
	atomic_bool done;          /* the thread has finished: join it */
	atomic_bool keepalive;     /* server keepalive negotiated */

	pthread_mutex_t lock;      /* protects out*, dead */
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool dead;                 /* dropped: refuse more output */
	enum rpc_server_stat_item drop_why;

	/* used by the client's thread only */
	struct rpc_reader rd;
	struct xdr_enc enc;
	int64_t last_rx_ms;        /* anything received */
	int64_t last_ping_ms;
	int pings_unanswered;
};

struct rpc_server {
	const struct rpc_program *prog;
	struct rpc_server_ops ops;
	void *ctx;
	struct rpc_server_opts opts;
	int listen_fd;
	int wake_fd;               /* eventfd: stop */
	atomic_bool stopping;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	pthread_mutex_t lock;      /* protects clients[], nr_clients */
	struct rpc_server_client *clients[RPC_SERVER_MAX_CLIENTS];
	int nr_clients;
	_Atomic uint64_t stats[NR_SRV_STATS];
};

static void count(struct rpc_server *s, enum rpc_server_stat_item i, uint64_t n)
{
	atomic_fetch_add_explicit(&s->stats[i], n, memory_order_relaxed);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the reader wakes anyway */
	}
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

/* Mark c dropped (any thread, c->lock held): its thread closes it. */
static void client_kill_locked(struct rpc_server_client *c, enum rpc_server_stat_item why)
{
	if (c->dead)
		return;
	c->dead = true;
	c->drop_why = why;
	wake(c->wake_fd);
}

static int client_queue(struct rpc_server_client *c, const void *msg, size_t len)
{
	size_t need, cap;
	uint8_t *p;
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		ret = -EPIPE;
		goto out;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len - c->out_off + len;
	if (need > c->srv->opts.max_out_bytes) {
		client_kill_locked(c, SRV_DROP_SLOW);
		ret = -ENOBUFS;
		goto out;
	}
	if (c->out_off) { /* compact before growing */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap) {
		cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			client_kill_locked(c, SRV_DROP_SLOW);
			ret = -ENOMEM;
			goto out;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, msg, len);
	c->out_len += len;
	wake(c->wake_fd);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int rpc_server_client_send(struct rpc_server_client *c, const void *msg, size_t len)
{
	int ret = client_queue(c, msg, len);

	if (!ret)
		count(c->srv, SRV_EVENTS, 1);
	return ret;
}

/* Write what the socket takes now. false: the connection is broken. */
static bool client_flush(struct rpc_server_client *c, bool *pending)
{
	bool ok = true;
	ssize_t w;

	pthread_mutex_lock(&c->lock);
	while (c->out_off < c->out_len) {
		w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			ok = false;
			break;
		}
		c->out_off += (size_t)w;
		count(c->srv, SRV_BYTES_OUT, (uint64_t)w);
	}
	*pending = c->out_off < c->out_len;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void rpc_server_client_keepalive(struct rpc_server_client *c)
{
	c->last_ping_ms = now_ms();
	atomic_store(&c->keepalive, true);
}

static bool reply_is_error(const struct xdr_enc *e)
{
	/* status is the header's last word: bytes 24..27 of the message */
	return e->len >= VIR_NET_MESSAGE_MIN && e->data[27] == VIR_NET_ERROR && !e->data[24] &&
	       !e->data[25] && !e->data[26];
}

/* Every whole message buffered: dispatch, queue the reply. false: close. */
static bool client_dispatch_all(struct rpc_server_client *c)
{
	struct rpc_server *s = c->srv;
	struct rpc_msg m;
	int ret, disp;

	while ((ret = rpc_reader_next(&c->rd, &m)) == 1) {
		count(s, SRV_MSGS_IN, 1);
		if (!rpc_is_keepalive(&m.hdr) && m.hdr.type == VIR_NET_CALL)
			count(s, SRV_CALLS, 1);
		disp = rpc_dispatch(s->prog, c->priv, &m, &c->enc);
		if (disp < 0) /* out of memory building any reply at all */
			return false;
		if (disp != RPC_SEND)
			continue;
		if (rpc_is_keepalive(&m.hdr))
			count(s, SRV_PONGS_SENT, 1);
		else if (reply_is_error(&c->enc))
			count(s, SRV_ERRORS, 1);
		if (client_queue(c, c->enc.data, c->enc.len) < 0)
			return false;
	}
	if (ret < 0) {
		pthread_mutex_lock(&c->lock);
		client_kill_locked(c, SRV_DROP_MALFORMED);
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	return true;
}

/* Read what is there. false: EOF, error or a stream that cannot be framed. */
static bool client_read(struct rpc_server_client *c)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0) {
			count(c->srv, SRV_DISCONNECTS, 1);
			return false;
		}
		count(c->srv, SRV_BYTES_IN, (uint64_t)n);
		c->last_rx_ms = now_ms();
		c->pings_unanswered = 0;
		if (rpc_reader_feed(&c->rd, buf, (size_t)n) < 0) {
			pthread_mutex_lock(&c->lock);
			client_kill_locked(c, SRV_DROP_MALFORMED);
			pthread_mutex_unlock(&c->lock);
			return false;
		}
		/* drained before the next feed, as the reader asks */
		if (!client_dispatch_all(c))
			return false;
		if ((size_t)n < sizeof(buf))
			return true;
	}
}

/*
 * libvirt's virKeepAliveTimerInternal(): once the client has been idle an
 * interval, ping it every interval; after keepalive_count pings without a
 * byte back, it is dead. Returns false to drop it.
 */
static bool client_keepalive(struct rpc_server_client *c, int64_t now)
{
	struct rpc_server *s = c->srv;
	struct rpc_header h = {
		.prog = KEEPALIVE_PROGRAM, .vers = KEEPALIVE_PROTOCOL_VERSION,
		.proc = KEEPALIVE_PROC_PING, .type = VIR_NET_MESSAGE,
	};
	int64_t since = c->last_rx_ms > c->last_ping_ms ? c->last_rx_ms : c->last_ping_ms;

	if (!atomic_load(&c->keepalive) || now - since < s->opts.keepalive_interval_ms)
		return true;
	if (c->pings_unanswered >= s->opts.keepalive_count) {
		pthread_mutex_lock(&c->lock);
		client_kill_locked(c, SRV_DROP_KEEPALIVE);
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	rpc_msg_begin(&c->enc, &h);
	if (rpc_msg_end(&c->enc) || client_queue(c, c->enc.data, c->enc.len) < 0)
		return false;
	c->pings_unanswered++;
	c->last_ping_ms = now;
	count(s, SRV_PINGS_SENT, 1);
	return true;
}

static int poll_timeout(struct rpc_server_client *c)
{
	return atomic_load(&c->keepalive) ? (c->srv->opts.keepalive_interval_ms + 3) / 4 : 1000;
}

static bool client_is_dead(struct rpc_server_client *c)
{
	bool dead;

	pthread_mutex_lock(&c->lock);
	dead = c->dead;
	pthread_mutex_unlock(&c->lock);
	return dead;
}

static void *client_thread(void *arg)
{
	struct rpc_server_client *c = arg;
	struct rpc_server *s = c->srv;
	bool pending = false;

	pthread_setname_np(pthread_self(), "gmm-libvirt");
	c->last_rx_ms = now_ms();
	while (!atomic_load(&s->stopping)) {
		struct pollfd pfd[2] = {
			{ .fd = c->fd, .events = POLLIN | (pending ? POLLOUT : 0) },
			{ .fd = c->wake_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, poll_timeout(c)) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			drain(c->wake_fd);
		if (client_is_dead(c))
			break;
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && !client_read(c))
			break;
		if (!client_keepalive(c, now_ms()))
			break;
		if (!client_flush(c, &pending))
			break;
	}
	/* Best effort: a reply or error already queued goes out if it can. */
	client_flush(c, &pending);
	pthread_mutex_lock(&c->lock);
	if (c->dead)
		count(s, c->drop_why, 1);
	c->dead = true;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&s->lock);
	c->listed = false; /* no foreach holds priv once we get the lock */
	pthread_mutex_unlock(&s->lock);
	if (s->ops.conn_close)
		s->ops.conn_close(s->ctx, c->priv);
	c->priv = NULL;
	shutdown(c->fd, SHUT_RDWR);
	atomic_store(&c->done, true);
	wake(s->wake_fd); /* the accept thread joins us */
	return NULL;
}

static void client_free(struct rpc_server_client *c)
{
	rpc_reader_free(&c->rd);
	xdr_enc_free(&c->enc);
	pthread_mutex_destroy(&c->lock);
	close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->out);
	free(c);
}

/* A new client: its thread runs until it goes or the server stops. */
static void client_add(struct rpc_server *s, int fd)
{
	struct rpc_server_client *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		count(s, SRV_CLIENTS_REFUSED, 1);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&c->lock, NULL);
	if (c->wake_fd < 0 || rpc_reader_init(&c->rd, s->opts.max_msg_bytes) || rpc_enc_init(&c->enc))
		goto refuse;
	c->priv = s->ops.conn_open ? s->ops.conn_open(s->ctx, c) : NULL;
	if (!c->priv && s->ops.conn_open)
		goto refuse;
	pthread_mutex_lock(&s->lock);
	if (s->nr_clients >= s->opts.max_clients || s->nr_clients >= RPC_SERVER_MAX_CLIENTS ||
	    pthread_create(&c->thread, NULL, client_thread, c)) {
		pthread_mutex_unlock(&s->lock);
		if (s->ops.conn_close && c->priv)
			s->ops.conn_close(s->ctx, c->priv);
		goto refuse;
	}
	c->listed = true;
	s->clients[s->nr_clients++] = c;
	pthread_mutex_unlock(&s->lock);
	count(s, SRV_CLIENTS_ACCEPTED, 1);
	return;
refuse:
	client_free(c);
	count(s, SRV_CLIENTS_REFUSED, 1);
}

/* Join clients whose thread finished (all of them when stopping). */
static void clients_reap(struct rpc_server *s, bool all)
{
	struct rpc_server_client *c;
	int i = 0;

	pthread_mutex_lock(&s->lock);
	while (i < s->nr_clients) {
		c = s->clients[i];
		if (!all && !atomic_load(&c->done)) {
			i++;
			continue;
		}
		s->clients[i] = s->clients[--s->nr_clients];
		pthread_mutex_unlock(&s->lock);
		wake(c->wake_fd);
		pthread_join(c->thread, NULL);
		client_free(c);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

static void accept_one(struct rpc_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!unix_peer_allowed(fd)) {
		close(fd);
		count(s, SRV_CLIENTS_REFUSED, 1);
		return;
	}
	client_add(s, fd);
}

static void *accept_thread(void *arg)
{
	struct rpc_server *s = arg;

	pthread_setname_np(pthread_self(), "gmm-libvirt-acc");
	while (!atomic_load(&s->stopping)) {
		struct pollfd pfd[2] = {
			{ .fd = s->listen_fd, .events = POLLIN },
			{ .fd = s->wake_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			drain(s->wake_fd);
		if (pfd[0].revents & POLLIN)
			accept_one(s);
		clients_reap(s, false);
	}
	return NULL;
}

void rpc_server_foreach_client(struct rpc_server *s,
			       void (*fn)(void *arg, struct rpc_server_client *c, void *priv), void *arg)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nr_clients; i++)
		if (s->clients[i]->listed)
			fn(arg, s->clients[i], s->clients[i]->priv);
	pthread_mutex_unlock(&s->lock);
}

void rpc_server_read_stats(struct rpc_server *s, uint64_t out[NR_SRV_STATS])
{
	for (int i = 0; i < NR_SRV_STATS; i++)
		out[i] = atomic_load_explicit(&s->stats[i], memory_order_relaxed);
}

int rpc_server_nr_clients(struct rpc_server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->nr_clients;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int listen_on(struct rpc_server *s, const char *path, char *err, size_t errlen)
{
	s->listen_fd = unix_listen(path, 64, SOCK_NONBLOCK, err, errlen);
	if (s->listen_fd < 0)
		return s->listen_fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

int rpc_server_start(const char *path, const struct rpc_program *prog, const struct rpc_server_ops *ops,
		     void *ctx, const struct rpc_server_opts *opts, struct rpc_server **out, char *err,
		     size_t errlen)
{
	static const struct rpc_server_opts defaults = RPC_SERVER_OPTS_DEFAULT;
	struct rpc_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->prog = prog;
	s->ops = *ops;
	s->ctx = ctx;
	s->opts = opts ? *opts : defaults;
	s->listen_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	ret = listen_on(s, path, err, errlen);
	if (ret)
		goto fail;
	ret = -pthread_create(&s->thread, NULL, accept_thread, s);
	if (ret) {
		snprintf(err, errlen, "pthread_create: %s", strerror(-ret));
		unlink(s->path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void rpc_server_stop(struct rpc_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	wake(s->wake_fd);
	pthread_join(s->thread, NULL);
	clients_reap(s, true);
	close(s->listen_fd);
	unlink(s->path);
	close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
