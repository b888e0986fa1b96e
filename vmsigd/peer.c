/* SPDX-License-Identifier: MIT */
/*
 * One connection: its credentials (SO_PEERCRED, taken at accept), its role
 * once Hello fixed it, its holder subscription, and a bounded outbound
 * queue.  A frame is sent at once when the queue is empty; otherwise, or
 * when the socket is full, it waits in the queue.  A holder whose queue
 * overflows is dropped: it never delays anyone else, and on reconnect it
 * gets the retained contexts again.  Frames with a descriptor never wait
 * here: sendq.c counts them per peer and delivers them later itself.
 *
 * Dropped peers stay on the list, marked dead, until the loop's batch ends,
 * so iterating the list while a send drops someone is always safe.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vmsigd.h"
#include "wire.h"

struct qent {
	struct qent *next;
	int fd;
	size_t len;
	unsigned char data[];
};

struct peer {
	struct loop_src src;		/* src.fd is the socket; -1 once dead */
	struct peer *prev, *next;
	uint32_t id;
	enum sock_kind kind;
	enum peer_role role;
	int dead;
	char name[VMSIG_NAME_MAX + 1];
	struct ucred cred;
	int subscribed;
	uint32_t sub_mask;
	uint32_t *sub_eps;		/* NULL: every endpoint */
	size_t sub_n;
	struct endpoint *ep;		/* adapter: its endpoint */
	struct qent *qhead, *qtail;
	unsigned int qframes;
	size_t qbytes;
	uint64_t sent;
	uint64_t since_ms;		/* accepted at */
	char rule[96];		/* the policy entry that admitted it: a copy,
				 * since a reload (SIGHUP) rewrites the table */
	struct sendq *sq;		/* sendq.c: descriptors in flight */
};

struct peer_queue_limits peer_limits = { .frames = 256, .bytes = 1u << 20 };

static struct peer *peers_head;
static uint32_t peers_next_id = 1;
static unsigned char peer_rbuf[VMSIG_FRAME_MAX];
static struct wire_arena *peer_arena;

static void on_peer(struct loop_src *src, uint32_t events);

int
peer_new(int fd, enum sock_kind kind, struct peer **ret_p)
{
	struct peer *p;
	socklen_t len = sizeof(p->cred);

	if (peer_arena == NULL && (peer_arena = wire_arena_new()) == NULL)
		return -ENOMEM;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) == -1) {
		int r = -errno;

		free(p);
		return r;
	}
	p->src.fd = fd;
	p->src.cb = on_peer;
	p->src.arg = p;
	p->kind = kind;
	p->id = peers_next_id++;
	p->since_ms = loop_now_ms();
	if (loop_add(&p->src, EPOLLIN) < 0) {
		int r = -errno;

		free(p);
		return r;
	}
	p->next = peers_head;
	if (peers_head != NULL)
		peers_head->prev = p;
	peers_head = p;
	log_debug("peer %u: connected to the %s socket (pid %d uid %u)",
	    p->id, kind == SOCK_HOLDER ? "holder" : "adapter",
	    (int)p->cred.pid, (unsigned)p->cred.uid);
	if (ret_p != NULL)
		*ret_p = p;
	return 0;
}

static void
queue_clear(struct peer *p)
{
	struct qent *q;

	while ((q = p->qhead) != NULL) {
		p->qhead = q->next;
		if (q->fd >= 0)
			(void)close(q->fd);
		free(q);
	}
	p->qtail = NULL;
	p->qframes = 0;
	p->qbytes = 0;
}

static void
peer_free(void *arg)
{
	struct peer *p = arg;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		peers_head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	sendq_free(p);
	free(p->sub_eps);
	free(p);
}

void
peer_drop(struct peer *p, const char *why)
{
	struct endpoint *ep = p->ep;

	if (p->dead)
		return;
	p->dead = 1;
	/* Holders come and go by the thousand; adapters are news. */
	(p->role == ROLE_ADAPTER ? log_info : log_debug)("peer %u (%s, "
	    "pid %d): %s", p->id, p->name[0] != '\0' ? p->name : "?",
	    (int)p->cred.pid, why);
	loop_del(&p->src);
	queue_clear(p);
	/* Closes the socket, or keeps it while descriptors we sent may sit
	 * unread in it (they count against us until read or purged). */
	sendq_peer_gone(p, p->src.fd);
	p->src.fd = -1;
	p->ep = NULL;
	lease_peer_gone(p);
	/* After the peer is dead, so the multicast that follows skips it. */
	if (ep != NULL)
		endpoint_detach(ep);
	if (loop_defer_free(p, peer_free) < 0)
		log_warnx("peer %u: out of memory, leaking its record", p->id);
}

void
peer_drop_all(void)
{
	struct peer *p;

	for (p = peer_first(); p != NULL; p = peer_next(p))
		peer_drop(p, "vmsigd is stopping");
}

static int
enqueue(struct peer *p, const void *buf, size_t len, int fd)
{
	struct qent *q;

	if (p->qframes + 1 > peer_limits.frames ||
	    p->qbytes + len > peer_limits.bytes) {
		if (p->role == ROLE_HOLDER)
			counters.slow_holders++;
		peer_drop(p, "outbound queue full: the peer does not read");
		return -ENOBUFS;
	}
	if ((q = malloc(sizeof(*q) + len)) == NULL) {
		peer_drop(p, "out of memory queueing a frame");
		return -ENOMEM;
	}
	q->fd = -1;
	if (fd >= 0 && (q->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		free(q);
		peer_drop(p, "cannot duplicate a descriptor to queue");
		return -EMFILE;
	}
	memcpy(q->data, buf, len);
	q->len = len;
	q->next = NULL;
	if (p->qtail != NULL)
		p->qtail->next = q;
	else
		p->qhead = q;
	p->qtail = q;
	p->qframes++;
	p->qbytes += len;
	if (p->qframes == 1)
		(void)loop_mod(&p->src, EPOLLIN | EPOLLOUT);
	return 0;
}

int
peer_send(struct peer *p, const void *buf, size_t len, int fd)
{
	int r;

	if (p->dead)
		return -EPIPE;
	if (fd >= 0 && p->qhead != NULL)
		return -EAGAIN;		/* after what waits: order holds */
	if (p->qhead == NULL) {
		r = fdpass_send(p->src.fd, buf, len, &fd, fd >= 0 ? 1 : 0);
		if (r == 0) {
			p->sent++;
			return 0;
		}
		/* Descriptors in flight are counted per user by the kernel
		 * (ETOOMANYREFS) and socket memory may run short (ENOBUFS):
		 * the caller defers this peer's frame, nobody is dropped. */
		if (fd >= 0 && (r == -EAGAIN || r == -ETOOMANYREFS ||
		    r == -ENOBUFS || r == -ENOMEM))
			return r;
		if (r != -EAGAIN) {
			peer_drop(p, "send failed");
			return r;
		}
	}
	return enqueue(p, buf, len, -1);
}

static void
flush_queue(struct peer *p)
{
	struct qent *q;
	int r;

	while ((q = p->qhead) != NULL) {
		r = fdpass_send(p->src.fd, q->data, q->len, &q->fd,
		    q->fd >= 0 ? 1 : 0);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			peer_drop(p, "send failed");
			return;
		}
		p->sent++;
		p->qhead = q->next;
		if (p->qhead == NULL)
			p->qtail = NULL;
		p->qframes--;
		p->qbytes -= q->len;
		if (q->fd >= 0)
			(void)close(q->fd);
		free(q);
	}
	(void)loop_mod(&p->src, EPOLLIN);
	sendq_kick(p);
}

static void
vreply(struct peer *p, uint64_t req_id, int code, const char *fmt,
    va_list ap)
{
	char text[VMSIG_MSG_MAX];
	unsigned char buf[VMSIG_MSG_MAX + 64];
	int n;

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	n = msg_pack_error(buf, sizeof(buf), req_id, code, text);
	if (n > 0)
		(void)peer_send(p, buf, (size_t)n, -1);
}

void
peer_fail(struct peer *p, uint64_t req_id, int code, const char *fmt, ...)
{
	char why[VMSIG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vreply(p, req_id, code, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Best effort: the Error may still sit in the queue and die with it. */
	if (!p->dead && p->qhead == NULL)
		(void)shutdown(p->src.fd, SHUT_WR);
	peer_drop(p, why);
}

void
peer_error(struct peer *p, uint64_t req_id, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(p, req_id, code, fmt, ap);
	va_end(ap);
}

void
peer_ack(struct peer *p, uint64_t req_id)
{
	unsigned char buf[32];
	int n = msg_pack_ack(buf, sizeof(buf), req_id);

	if (n > 0)
		(void)peer_send(p, buf, (size_t)n, -1);
}

/* One datagram: decode, dispatch, close whatever descriptor is left. */
static int
read_one(struct peer *p)
{
	struct msg m;
	const char *why = NULL;
	size_t len = 0;
	unsigned int nfds = 0;
	int fds[VMSIG_FRAME_MAX_FDS] = { -1 };
	int r;

	r = fdpass_recv(p->src.fd, peer_rbuf, sizeof(peer_rbuf), fds,
	    VMSIG_FRAME_MAX_FDS, &len, &nfds);
	if (r == -EAGAIN)
		return 0;
	/* A peer that closes with our frames unread in its socket makes
	 * the kernel report ECONNRESET: a hang-up, not a protocol error. */
	if (r == 0 || r == -ECONNRESET) {
		peer_drop(p, "disconnected");
		return 0;
	}
	if (r < 0) {
		counters.protocol_errors++;
		peer_fail(p, 0, EPROTO, "protocol error: %s",
		    r == -EMSGSIZE ? "datagram truncated (over 64 KiB)" :
		    r == -ETOOMANYREFS ? "too many descriptors" :
		    "receive failed");
		return 0;
	}
	r = msg_decode(peer_arena, peer_rbuf, len, nfds, &m, &why);
	if (r < 0) {
		fdpass_close(fds, nfds);
		counters.protocol_errors++;
		peer_fail(p, 0, EPROTO, "protocol error: %s", why);
		return 0;
	}
	m.fd = nfds > 0 ? fds[0] : -1;
	r = dispatch(p, &m);
	if (m.fd >= 0)
		(void)close(m.fd);
	if (r < 0 && !p->dead) {
		counters.protocol_errors++;
		peer_drop(p, "protocol error");
	}
	return 1;
}

static void
on_peer(struct loop_src *src, uint32_t events)
{
	struct peer *p = src->arg;
	int i;

	if (events & EPOLLOUT)
		flush_queue(p);
	/* A few frames per wakeup: one chatty peer must not starve others. */
	for (i = 0; i < 16 && !p->dead && (events & (EPOLLIN | EPOLLHUP |
	    EPOLLERR)); i++)
		if (read_one(p) == 0)
			break;
}

int
peer_fd(const struct peer *p)
{
	return p->dead ? -1 : p->src.fd;
}

uint64_t
peer_since_ms(const struct peer *p)
{
	return p->since_ms;
}

const char *
peer_rule(const struct peer *p)
{
	return p->rule;
}

void
peer_set_rule(struct peer *p, const char *rule)
{
	(void)snprintf(p->rule, sizeof(p->rule), "%s", rule != NULL ? rule :
	    "");
}

struct sendq *
peer_sendq(const struct peer *p)
{
	return p->sq;
}

void
peer_set_sendq(struct peer *p, struct sendq *sq)
{
	p->sq = sq;
}

int
peer_dead(const struct peer *p)
{
	return p->dead;
}

enum sock_kind
peer_kind(const struct peer *p)
{
	return p->kind;
}

uint32_t
peer_id(const struct peer *p)
{
	return p->id;
}

enum peer_role
peer_role(const struct peer *p)
{
	return p->role;
}

pid_t
peer_pid(const struct peer *p)
{
	return p->cred.pid;
}

uid_t
peer_uid(const struct peer *p)
{
	return p->cred.uid;
}

gid_t
peer_gid(const struct peer *p)
{
	return p->cred.gid;
}

int
peer_subscribed(const struct peer *p)
{
	return p->subscribed;
}

unsigned int
peer_queued(const struct peer *p)
{
	return p->qframes;
}

uint64_t
peer_sent(const struct peer *p)
{
	return p->sent;
}

struct endpoint *
peer_endpoint(const struct peer *p)
{
	return p->ep;
}

void
peer_set_endpoint(struct peer *p, struct endpoint *ep)
{
	p->ep = ep;
}

const char *
peer_name(const struct peer *p)
{
	return p->name;
}

void
peer_set_hello(struct peer *p, enum peer_role role, const char *name)
{
	p->role = role;
	(void)snprintf(p->name, sizeof(p->name), "%s",
	    name != NULL ? name : "");
}

int
peer_subscribe(struct peer *p, const uint32_t *eps, size_t n, uint32_t mask)
{
	uint32_t *copy = NULL;

	if (n > 0) {
		if ((copy = calloc(n, sizeof(*copy))) == NULL)
			return -ENOMEM;
		memcpy(copy, eps, n * sizeof(*copy));
	}
	free(p->sub_eps);
	p->sub_eps = copy;
	p->sub_n = n;
	p->sub_mask = mask;
	p->subscribed = 1;
	return 0;
}

void
peer_unsubscribe(struct peer *p)
{
	free(p->sub_eps);
	p->sub_eps = NULL;
	p->sub_n = 0;
	p->subscribed = 0;
}

int
peer_wants(const struct peer *p, uint32_t endpoint, uint32_t type)
{
	size_t i;

	if (p->dead || !p->subscribed || p->role != ROLE_HOLDER)
		return 0;
	if (p->sub_mask != 0 && !(p->sub_mask & VMSIG_EV_BIT(type)))
		return 0;
	if (p->sub_eps == NULL)
		return 1;
	for (i = 0; i < p->sub_n; i++)
		if (p->sub_eps[i] == endpoint)
			return 1;
	return 0;
}

static struct peer *
skip_dead(struct peer *p)
{
	while (p != NULL && p->dead)
		p = p->next;
	return p;
}

struct peer *
peer_first(void)
{
	return skip_dead(peers_head);
}

struct peer *
peer_next(struct peer *p)
{
	return skip_dead(p->next);
}
