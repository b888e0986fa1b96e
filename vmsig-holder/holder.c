/* SPDX-License-Identifier: MIT */
/*
 * The public face of a holder connection: connect and handshake, subscribe
 * and unsubscribe, pull the next event (queued ones first), and ask for the
 * daemon's status.  Each call leaves the context tracker in step with the
 * events handed to the caller, never ahead of them.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder_int.h"

/* Hello is the first request; later ones count on from it. */
#define HELLO_REQ_ID	1u

/* Why the last open() of this thread was refused: a refused open has no
 * connection to keep the daemon's message in. */
static _Thread_local char open_error[VMSIG_MSG_MAX + 1];

static int
connect_path(const char *path, int64_t deadline, int *ret_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	/* A full listen backlog gives EAGAIN on a non-blocking AF_UNIX
	 * connect and poll(2) cannot wait for room: retry briefly. */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		r = -errno;
		if ((r == -EAGAIN || r == -EINTR) &&
		    holder_io_remaining(deadline) > 0) {
			(void)poll(NULL, 0, 10);
			continue;
		}
		(void)close(fd);
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	*ret_fd = fd;
	return 0;
}

/* The default name: the program's, cut at 64 bytes without splitting a
 * UTF-8 sequence (the wire refuses invalid UTF-8). */
static void
default_name(char *buf, size_t cap)
{
	size_t n;

	n = strlen(program_invocation_short_name);
	if (n > cap - 1) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)
		    program_invocation_short_name[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, program_invocation_short_name, n);
	buf[n] = '\0';
}

static int
handshake(struct vmsig_holder *h, const char *name, int64_t deadline)
{
	struct holder_msg m;
	int n, r;

	n = holder_wire_pack_hello(h->buf, VMSIG_FRAME_MAX, HELLO_REQ_ID, name);
	if (n < 0)
		return n;
	if ((r = holder_io_send(h, h->buf, (size_t)n, deadline)) < 0)
		return r;
	h->next_req = HELLO_REQ_ID;
	do {
		r = holder_io_wait(h, deadline);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		r = holder_io_recv(h, &m);
	} while (r == 0);
	if (r < 0)
		return r;
	if (m.kind == HOLDER_MSG_ERROR) {
		memcpy(h->error, m.message, sizeof(h->error));
		return -m.code;
	}
	/* Nothing but Welcome may come before Welcome. */
	if (m.kind != HOLDER_MSG_WELCOME || m.proto_version < 1) {
		holder_msg_clear(&m);
		return -EPROTO;
	}
	h->peer_id = m.peer_id;
	return 0;
}

int
vmsig_holder_open(const char *path, const char *name, int timeout_ms,
    struct vmsig_holder **ret_h)
{
	char defname[VMSIG_NAME_MAX + 1];
	struct vmsig_holder *h;
	int64_t deadline;
	int r;

	if (ret_h == NULL ||
	    (name != NULL && strlen(name) > VMSIG_NAME_MAX))
		return -EINVAL;
	if (path == NULL)
		path = VMSIG_HOLDER_SOCKET;
	if (name == NULL) {
		default_name(defname, sizeof(defname));
		name = defname;
	}
	deadline = holder_io_deadline(timeout_ms < 0 ? HOLDER_TIMEOUT_MS :
	    timeout_ms);
	open_error[0] = '\0';
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->fd = -1;
	h->arena = wire_arena_new();
	h->buf = malloc(VMSIG_FRAME_MAX);
	if (h->arena == NULL || h->buf == NULL)
		r = -ENOMEM;
	else if ((r = connect_path(path, deadline, &h->fd)) == 0)
		r = handshake(h, name, deadline);
	if (r < 0) {
		memcpy(open_error, h->error, sizeof(open_error));
		vmsig_holder_close(h);
		return r;
	}
	*ret_h = h;
	return 0;
}

void
vmsig_holder_close(struct vmsig_holder *h)
{
	vmsig_event *ev;
	int saved = errno;

	if (h == NULL)
		return;
	while ((ev = holder_io_dequeue(h)) != NULL)
		vmsig_event_free(ev);
	holder_track_clear(h);
	if (h->fd >= 0)
		(void)close(h->fd);
	wire_arena_free(h->arena);
	free(h->buf);
	free(h);
	errno = saved;
}

int
vmsig_holder_fd(const struct vmsig_holder *h)
{
	return h != NULL ? h->fd : -EINVAL;
}

uint32_t
vmsig_holder_peer_id(const struct vmsig_holder *h)
{
	return h != NULL ? h->peer_id : 0;
}

const char *
vmsig_holder_error(const struct vmsig_holder *h)
{
	return h != NULL ? h->error : open_error;
}

size_t
vmsig_holder_pending(const struct vmsig_holder *h)
{
	return h != NULL ? h->qlen : 0;
}

static int
simple_request(struct vmsig_holder *h, struct holder_req *req,
    int timeout_ms)
{
	struct holder_msg m;
	int r;

	h->error[0] = '\0';
	if ((r = holder_io_request(h, req, timeout_ms, &m)) < 0)
		return r;
	if (m.kind != HOLDER_MSG_ACK) {
		holder_msg_clear(&m);
		holder_io_fail(h, -EPROTO);
		return -EPROTO;
	}
	return 0;
}

int
vmsig_holder_subscribe(struct vmsig_holder *h, const uint32_t *endpoints,
    size_t nendpoints, uint32_t event_mask, int timeout_ms)
{
	struct holder_req req = { .kind = HOLDER_REQ_SUBSCRIBE };

	if (h == NULL || (nendpoints > 0 && endpoints == NULL) ||
	    nendpoints > VMSIG_SUB_MAX)
		return -EINVAL;
	req.endpoints = endpoints;
	req.nendpoints = nendpoints;
	req.event_mask = event_mask;
	return simple_request(h, &req, timeout_ms);
}

int
vmsig_holder_unsubscribe(struct vmsig_holder *h, int timeout_ms)
{
	struct holder_req req = { .kind = HOLDER_REQ_UNSUBSCRIBE };

	if (h == NULL)
		return -EINVAL;
	return simple_request(h, &req, timeout_ms);
}

int
vmsig_holder_status(struct vmsig_holder *h, int timeout_ms,
    struct vmsig_status **ret_st)
{
	struct holder_req req = { .kind = HOLDER_REQ_STATUS };
	struct holder_msg m;
	int r;

	if (h == NULL || ret_st == NULL)
		return -EINVAL;
	h->error[0] = '\0';
	if ((r = holder_io_request(h, &req, timeout_ms, &m)) < 0)
		return r;
	if (m.kind != HOLDER_MSG_STATUS) {
		holder_msg_clear(&m);
		holder_io_fail(h, -EPROTO);
		return -EPROTO;
	}
	*ret_st = m.st;
	return 0;
}

/*
 * Read until an event arrives: 1 with it queued, 0 at the deadline.  The
 * socket is read before it is polled: under a burst (a fan-out) the frame
 * is usually there already, and a poll(2) per event would double the
 * system calls of the receiving side.
 */
static int
fill_queue(struct vmsig_holder *h, int64_t deadline)
{
	struct holder_msg m;
	int is_event, r;

	for (;;) {
		while ((r = holder_io_recv(h, &m)) > 0) {
			/* Queues an event; drops a late reply; ends the
			 * connection on a connection Error. */
			is_event = m.kind == HOLDER_MSG_EVENT;
			if ((r = holder_io_other(h, &m)) < 0)
				return r;
			if (is_event)
				return 1;
		}
		if (r < 0)
			return r;
		if (holder_io_remaining(deadline) == 0)
			return 0;
		r = holder_io_wait(h, deadline);
		if (r <= 0)
			return r;
	}
}

int
vmsig_holder_next(struct vmsig_holder *h, int timeout_ms,
    vmsig_event **ret_ev)
{
	vmsig_event *ev;
	int r;

	if (h == NULL || ret_ev == NULL)
		return -EINVAL;
	/* Queued events were valid when they came: deliver them even on a
	 * connection that has since died. */
	if (h->qhead == NULL) {
		if (h->dead != 0)
			return h->dead;
		r = fill_queue(h, holder_io_deadline(timeout_ms));
		if (r <= 0)
			return r;
	}
	ev = holder_io_dequeue(h);
	holder_track_event(h, ev);
	*ret_ev = ev;
	return 1;
}
