/* SPDX-License-Identifier: MIT */
/*
 * The holder's side of the socket: deadlines, sending a datagram, receiving
 * and decoding one, the queue of events that arrive while a request waits
 * for its reply, and the request/reply exchange itself (matched by req_id).
 * Any protocol error makes the connection unusable: the socket is shut down
 * so nothing more (descriptors included) can arrive, and every later call
 * returns the same error.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "holder_int.h"
#include "num.h"

static int64_t
now_ms(void)
{
	return (int64_t)num_now_ms();
}

/* A deadline for timeout_ms; -1 (no deadline) for a negative timeout. */
int64_t
holder_io_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return now_ms() + timeout_ms;
}

/* Milliseconds left for poll(2): -1 forever, 0 when past the deadline. */
int
holder_io_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

void
holder_io_fail(struct vmsig_holder *h, int err)
{
	if (h->dead != 0)
		return;
	h->dead = err;
	/* Nothing more may arrive, descriptors least of all; the daemon sees
	 * the connection end. */
	(void)shutdown(h->fd, SHUT_RDWR);
}

static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&p, 1, holder_io_remaining(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Wait until the socket is readable: 1, 0 at the deadline, or -errno. */
int
holder_io_wait(struct vmsig_holder *h, int64_t deadline)
{
	return wait_fd(h->fd, POLLIN, deadline);
}

int
holder_io_send(struct vmsig_holder *h, const void *buf, size_t len,
    int64_t deadline)
{
	int r;

	for (;;) {
		r = fdpass_send(h->fd, buf, len, NULL, 0);
		if (r != -EAGAIN)
			break;
		r = wait_fd(h->fd, POLLOUT, deadline);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
	}
	if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
		holder_io_fail(h, -EPIPE);
		return -EPIPE;
	}
	return r;
}

/*
 * Receive and decode one datagram.  Returns 1 and *ret_msg, 0 when nothing
 * is waiting, or the connection's error (-EPIPE, -EPROTO, ...), which also
 * marks it dead.  No path leaves a received descriptor open unless the
 * message owns it.
 */
int
holder_io_recv(struct vmsig_holder *h, struct holder_msg *ret_msg)
{
	int fds[VMSIG_FRAME_MAX_FDS];
	unsigned int nfds = 0;
	size_t len = 0;
	int r;

	if (h->dead != 0)
		return h->dead;
	r = fdpass_recv(h->fd, h->buf, VMSIG_FRAME_MAX, fds,
	    VMSIG_FRAME_MAX_FDS, &len, &nfds);
	if (r == -EAGAIN || r == -EINTR)
		return 0;
	if (r == 0 || r == -ECONNRESET) {
		holder_io_fail(h, -EPIPE);
		return -EPIPE;
	}
	if (r < 0) {
		/* Truncated datagram or ancillary data: the daemon broke
		 * the framing.  fdpass_recv closed what came. */
		holder_io_fail(h, r == -EMSGSIZE || r == -ETOOMANYREFS ?
		    -EPROTO : r);
		return h->dead;
	}
	r = holder_wire_parse(h, h->buf, len, fds, nfds, ret_msg);
	if (r < 0) {
		fdpass_close(fds, nfds);
		holder_io_fail(h, r == -ENOMEM ? -ENOMEM : -EPROTO);
		return h->dead;
	}
	return 1;
}

int
holder_io_enqueue(struct vmsig_holder *h, vmsig_event *ev)
{
	struct holder_qent *q;

	/* A holder that never calls next() must not grow without bound;
	 * like the daemon's slow-holder rule, it loses the connection. */
	if (h->qlen >= HOLDER_QUEUE_MAX || (q = malloc(sizeof(*q))) == NULL) {
		vmsig_event_free(ev);
		holder_io_fail(h, -ENOBUFS);
		return -ENOBUFS;
	}
	q->next = NULL;
	q->ev = ev;
	if (h->qtail != NULL)
		h->qtail->next = q;
	else
		h->qhead = q;
	h->qtail = q;
	h->qlen++;
	return 0;
}

vmsig_event *
holder_io_dequeue(struct vmsig_holder *h)
{
	struct holder_qent *q = h->qhead;
	vmsig_event *ev;

	if (q == NULL)
		return NULL;
	h->qhead = q->next;
	if (h->qhead == NULL)
		h->qtail = NULL;
	h->qlen--;
	ev = q->ev;
	free(q);
	return ev;
}

/*
 * A message that is not the reply we wait for.  Events are queued; a reply
 * to an earlier request that timed out is dropped; an Error for the
 * connection (req_id 0) ends it with the daemon's code.  (A reply to a
 * request never sent, or a second Welcome, never gets here: the dispatch
 * table refuses it in holder_wire_parse.)
 */
int
holder_io_other(struct vmsig_holder *h, struct holder_msg *m)
{
	int r = 0;

	if (m->kind == HOLDER_MSG_EVENT) {
		r = holder_io_enqueue(h, m->ev);
		m->ev = NULL;
	} else if (m->kind == HOLDER_MSG_ERROR && m->req_id == 0) {
		memcpy(h->error, m->message, sizeof(h->error));
		holder_io_fail(h, -m->code);
		r = -m->code;
	}
	holder_msg_clear(m);
	return r;
}

/* Read what is waiting until the reply to req_id arrives. */
static int
await_reply(struct vmsig_holder *h, uint64_t req_id, int64_t deadline,
    struct holder_msg *ret_msg)
{
	struct holder_msg m;
	unsigned int budget;
	int r;

	for (;;) {
		r = holder_io_wait(h, deadline);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		/* Bounded: a flood of events cannot starve the deadline. */
		for (budget = 0; budget < 256; budget++) {
			r = holder_io_recv(h, &m);
			if (r <= 0)
				break;
			if (m.kind != HOLDER_MSG_EVENT && m.req_id == req_id) {
				*ret_msg = m;
				return 0;
			}
			if ((r = holder_io_other(h, &m)) < 0)
				return r;
		}
		if (r < 0)
			return r;
		if (holder_io_remaining(deadline) == 0)
			return -ETIMEDOUT;
	}
}

/*
 * Send a request and wait for its reply.  Returns 0 and *ret_msg (an Ack
 * or StatusReply: an Error reply becomes its -code, its message kept in
 * h->error), -ETIMEDOUT, or the connection's error.
 */
int
holder_io_request(struct vmsig_holder *h, struct holder_req *req,
    int timeout_ms, struct holder_msg *ret_msg)
{
	struct holder_msg m;
	int64_t deadline;
	int n, r;

	if (h->dead != 0)
		return h->dead;
	deadline = holder_io_deadline(timeout_ms < 0 ? HOLDER_TIMEOUT_MS :
	    timeout_ms);
	req->req_id = ++h->next_req;
	n = holder_wire_pack_request(h->buf, VMSIG_FRAME_MAX, req);
	if (n < 0)
		return n;
	if ((r = holder_io_send(h, h->buf, (size_t)n, deadline)) < 0)
		return r;
	if ((r = await_reply(h, req->req_id, deadline, &m)) < 0)
		return r;
	if (m.kind == HOLDER_MSG_ERROR) {
		memcpy(h->error, m.message, sizeof(h->error));
		return -m.code;
	}
	*ret_msg = m;
	return 0;
}
