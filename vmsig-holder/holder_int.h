/* SPDX-License-Identifier: MIT */
/*
 * Private to the holder connection (holder.c, holder_io.c, holder_wire.c,
 * holder_track.c, holder_lease.c, holder_write.c, event.c): the connection
 * itself, the decoded form of what the daemon sends, and what each file
 * lends the others.  Only
 * holder_wire.c sees the generated protobuf-c names; everything else works
 * on struct holder_msg.
 *
 * Runs in: holder
 */
#ifndef VMSIG_HOLDER_INT_H
#define VMSIG_HOLDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <vmsig/holder.h>

#include "dispatch.h"
#include "wire.h"

/* Events a connection keeps for next() before it gives up on the holder. */
#define HOLDER_QUEUE_MAX	16384u
/* Default wait for the daemon's answer to a handshake or a request. */
#define HOLDER_TIMEOUT_MS	5000

/* The connection's dispatch role once Welcome came (0 before). */
#define HOLDER_ROLE_READY	1u

/* What the daemon may send a holder. */
enum holder_msg_kind {
	HOLDER_MSG_WELCOME = 1,
	HOLDER_MSG_ERROR,
	HOLDER_MSG_ACK,
	HOLDER_MSG_EVENT,
	HOLDER_MSG_STATUS,
	HOLDER_MSG_LEASE_GRANTED,
	HOLDER_MSG_WRITE_DONE,
};

/* One decoded frame.  ev and st are owned by the message until taken. */
struct holder_msg {
	enum holder_msg_kind kind;
	uint64_t req_id;
	uint32_t peer_id;		/* WELCOME */
	uint32_t proto_version;		/* WELCOME */
	int code;			/* ERROR: positive errno */
	char message[VMSIG_MSG_MAX + 1];	/* ERROR */
	vmsig_event *ev;		/* EVENT */
	struct vmsig_status *st;	/* STATUS */
	uint64_t lease_id;		/* LEASE_GRANTED */
	uint64_t expires_ms;		/* LEASE_GRANTED: vmsigd's monotonic ms */
	uint32_t epoch;			/* LEASE_GRANTED */
	uint64_t written;		/* WRITE_DONE */
};

/* Requests a holder sends (holder_wire_pack_request). */
enum holder_req_kind {
	HOLDER_REQ_SUBSCRIBE = 1,
	HOLDER_REQ_UNSUBSCRIBE,
	HOLDER_REQ_STATUS,
	HOLDER_REQ_LEASE_ACQUIRE,
	HOLDER_REQ_LEASE_RENEW,
	HOLDER_REQ_LEASE_RELEASE,
	HOLDER_REQ_MEM_WRITE,
};

struct holder_req {
	enum holder_req_kind kind;
	uint64_t req_id;
	const uint32_t *endpoints;	/* SUBSCRIBE */
	size_t nendpoints;
	uint32_t event_mask;
	uint32_t endpoint;		/* LEASE_ACQUIRE, MEM_WRITE */
	uint32_t ttl_ms;		/* LEASE_ACQUIRE, LEASE_RENEW */
	uint64_t lease_id;		/* LEASE_RENEW/RELEASE, MEM_WRITE */
	uint32_t epoch;			/* MEM_WRITE */
	uint64_t gpa;			/* MEM_WRITE */
	const void *data;		/* MEM_WRITE: borrowed, len bytes */
	size_t len;
};

/*
 * The tracked context of one endpoint.  The mapping is made on the first
 * vmsig_holder_mem() of the epoch, from the descriptor and locator kept
 * here: a holder that never reads pays a dup(2) per epoch, not an mmap.
 */
struct holder_track {
	uint32_t endpoint;
	uint32_t epoch;
	uint64_t kcr3;
	int fd;				/* -1: no context this epoch */
	uint64_t low;
	uint32_t flags;
	uint32_t nseg;
	vmsig_memseg *segs;		/* nseg entries, owned */
	struct vmsig_mem *mem;		/* NULL: not mapped (yet) */
	struct vmsig_win *win;		/* NULL: not opened (yet) */
	int win_err;			/* why it could not be, last time */
	uint32_t win_backoff_ms;	/* wait before the next try */
	int64_t win_retry_ms;		/* CLOCK_MONOTONIC ms of that try */
};

struct holder_qent {
	struct holder_qent *next;
	vmsig_event *ev;
};

struct vmsig_holder {
	int fd;
	uint32_t peer_id;
	uint64_t next_req;		/* last req_id used; ids are never reused */
	/* 0 while usable; otherwise what every later call returns (-EPIPE,
	 * -EPROTO, or the code of a connection-level Error). */
	int dead;
	struct dispatch_state ds;	/* what may arrive now (holder_wire.c) */
	struct wire_arena *arena;
	unsigned char *buf;		/* VMSIG_FRAME_MAX bytes */
	struct holder_qent *qhead, *qtail;
	size_t qlen;
	struct holder_track *track;
	size_t ntrack;
	char error[VMSIG_MSG_MAX + 1];
};

/* holder_wire.c: frames <-> holder_msg. */
int holder_wire_pack_hello(void *buf, size_t cap, uint64_t req_id,
    const char *name);
int holder_wire_pack_request(void *buf, size_t cap,
    const struct holder_req *req);
int holder_wire_parse(struct vmsig_holder *h, const void *buf, size_t len,
    const int *fds, unsigned int nfds, struct holder_msg *ret_msg);
void holder_msg_clear(struct holder_msg *m);

/* holder_io.c: datagrams, deadlines, the event queue. */
int64_t holder_io_deadline(int timeout_ms);
int holder_io_remaining(int64_t deadline);
int holder_io_send(struct vmsig_holder *h, const void *buf, size_t len,
    int64_t deadline);
int holder_io_recv(struct vmsig_holder *h, struct holder_msg *ret_msg);
int holder_io_wait(struct vmsig_holder *h, int64_t deadline);
int holder_io_enqueue(struct vmsig_holder *h, vmsig_event *ev);
vmsig_event *holder_io_dequeue(struct vmsig_holder *h);
void holder_io_fail(struct vmsig_holder *h, int err);
int holder_io_other(struct vmsig_holder *h, struct holder_msg *m);
int holder_io_request(struct vmsig_holder *h, struct holder_req *req,
    int timeout_ms, struct holder_msg *ret_msg);

/* holder_track.c: the per-endpoint memory context. */
void holder_track_event(struct vmsig_holder *h, const vmsig_event *ev);
void holder_track_clear(struct vmsig_holder *h);

#endif
