/* SPDX-License-Identifier: MIT */
/*
 * The one file of the holder library that speaks protobuf-c: it packs
 * Hello and the holder's requests (subscriptions, status, leases and
 * writes), and turns each decoded frame from the daemon into a struct
 * holder_msg (events into vmsig_event, StatusReply into struct
 * vmsig_status).  Frames are decoded strictly by wire_decode, then
 * checked against this receiver's dispatch table (proto/dispatch.h): what
 * the wire allows but a holder must not accept (a message meant for the
 * daemon, a reply to nothing, a second Welcome, a writable descriptor) is
 * refused here as -EPROTO.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holder_int.h"

int
holder_wire_pack_hello(void *buf, size_t cap, uint64_t req_id,
    const char *name)
{
	return wire_pack_hello(buf, cap, req_id, VMSIG__V1__ROLE__ROLE_HOLDER,
	    name, 0, VMSIG__V1__SOURCE__SOURCE_UNSPECIFIED);
}

/* The lease and write requests: everything the daemon must check (lease,
 * epoch, sizes) it checks itself; here they are only packed. */
static int
pack_lease(Vmsig__V1__Frame *f, const struct holder_req *req, void *buf,
    size_t cap)
{
	Vmsig__V1__LeaseAcquire acq = VMSIG__V1__LEASE_ACQUIRE__INIT;
	Vmsig__V1__LeaseRenew ren = VMSIG__V1__LEASE_RENEW__INIT;
	Vmsig__V1__LeaseRelease rel = VMSIG__V1__LEASE_RELEASE__INIT;
	Vmsig__V1__MemWrite mw = VMSIG__V1__MEM_WRITE__INIT;

	switch (req->kind) {
	case HOLDER_REQ_LEASE_ACQUIRE:
		acq.endpoint = req->endpoint;
		acq.kind = VMSIG__V1__LEASE_KIND__LEASE_MEMWRITE;
		acq.ttl_ms = req->ttl_ms;
		f->msg_case = VMSIG__V1__FRAME__MSG_LEASE_ACQUIRE;
		f->lease_acquire = &acq;
		break;
	case HOLDER_REQ_LEASE_RENEW:
		ren.lease_id = req->lease_id;
		ren.ttl_ms = req->ttl_ms;
		f->msg_case = VMSIG__V1__FRAME__MSG_LEASE_RENEW;
		f->lease_renew = &ren;
		break;
	case HOLDER_REQ_LEASE_RELEASE:
		rel.lease_id = req->lease_id;
		f->msg_case = VMSIG__V1__FRAME__MSG_LEASE_RELEASE;
		f->lease_release = &rel;
		break;
	case HOLDER_REQ_MEM_WRITE:
		mw.endpoint = req->endpoint;
		mw.epoch = req->epoch;
		mw.lease_id = req->lease_id;
		mw.gpa = req->gpa;
		mw.data.data = (uint8_t *)(uintptr_t)req->data;
		mw.data.len = req->len;
		f->msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE;
		f->mem_write = &mw;
		break;
	default:
		return -EINVAL;
	}
	return wire_pack(f, buf, cap);
}

int
holder_wire_pack_request(void *buf, size_t cap, const struct holder_req *req)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Subscribe sub = VMSIG__V1__SUBSCRIBE__INIT;
	Vmsig__V1__Unsubscribe unsub = VMSIG__V1__UNSUBSCRIBE__INIT;
	Vmsig__V1__StatusRequest st = VMSIG__V1__STATUS_REQUEST__INIT;

	f.req_id = req->req_id;
	switch (req->kind) {
	case HOLDER_REQ_SUBSCRIBE:
		sub.n_endpoints = req->nendpoints;
		sub.endpoints = (uint32_t *)(uintptr_t)req->endpoints;
		sub.event_mask = req->event_mask;
		f.msg_case = VMSIG__V1__FRAME__MSG_SUBSCRIBE;
		f.subscribe = &sub;
		break;
	case HOLDER_REQ_UNSUBSCRIBE:
		f.msg_case = VMSIG__V1__FRAME__MSG_UNSUBSCRIBE;
		f.unsubscribe = &unsub;
		break;
	case HOLDER_REQ_STATUS:
		f.msg_case = VMSIG__V1__FRAME__MSG_STATUS;
		f.status = &st;
		break;
	default:
		return pack_lease(&f, req, buf, cap);
	}
	return wire_pack(&f, buf, cap);
}

static int
event_memctx(const Vmsig__V1__Locator *loc, int fd, vmsig_event *ev)
{
	vmsig_memctx mc;
	vmsig_memseg *segs = NULL;

	/* The holder re-checks what the daemon vouches for: a descriptor
	 * that could write guest RAM must never reach the caller, whoever
	 * sent it. */
	if (fdpass_check_rdonly(fd, NULL, NULL) < 0)
		return -EPROTO;
	if (loc->n_segs > 0 &&
	    (segs = calloc(loc->n_segs, sizeof(*segs))) == NULL)
		return -ENOMEM;
	memset(&mc, 0, sizeof(mc));
	wire_locator_decode(loc, &mc, segs);
	mc.epoch = ev->epoch;
	/* Checked just above: the descriptor is read-only whatever the flags
	 * on the wire said. */
	mc.flags |= VMSIG_MEMCTX_RDONLY;
	memcpy(ev->inln, &mc, sizeof(mc));
	ev->payload.data = segs;
	ev->payload.len = loc->n_segs * sizeof(*segs);
	ev->fd = fd;
	return 0;
}

static void
event_body(const Vmsig__V1__Event *e, vmsig_event *ev)
{
	vmsig_memctx_inv inv;
	vmsig_memwritten w;
	vmsig_lease_lost ll;

	switch (e->body_case) {
	case VMSIG__V1__EVENT__BODY_INVALIDATED:
		inv.endpoint = e->endpoint;
		inv.epoch = e->epoch;
		memcpy(ev->inln, &inv, sizeof(inv));
		break;
	case VMSIG__V1__EVENT__BODY_WRITTEN:
		memset(&w, 0, sizeof(w));
		w.gpa = e->written->gpa;
		w.len = e->written->len;
		w.writer = e->written->writer;
		memcpy(ev->inln, &w, sizeof(w));
		break;
	case VMSIG__V1__EVENT__BODY_LEASE_LOST:
		memset(&ll, 0, sizeof(ll));
		ll.lease_id = e->lease_lost->lease_id;
		ll.reason = (uint32_t)e->lease_lost->reason;
		memcpy(ev->inln, &ll, sizeof(ll));
		break;
	default:
		break;
	}
}

static int
parse_event(const wire_frame *f, const int *fds, unsigned int nfds,
    struct holder_msg *m)
{
	const Vmsig__V1__Event *e = f->event;
	vmsig_event *ev;
	int r;

	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -ENOMEM;
	ev->type = (uint32_t)e->type;
	ev->endpoint = e->endpoint;
	ev->source = (uint32_t)e->source;
	ev->epoch = e->epoch;
	ev->seq = e->seq;
	ev->fd = -1;
	if (e->body_case == VMSIG__V1__EVENT__BODY_MEMCTX) {
		r = event_memctx(e->memctx->loc, nfds == 1 ? fds[0] : -1, ev);
		if (r < 0) {
			free(ev);
			return r;
		}
	} else
		event_body(e, ev);
	m->ev = ev;
	return 0;
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	(void)snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static int
status_endpoint(const Vmsig__V1__EndpointStatus *w,
    struct vmsig_status_endpoint *s)
{
	const Vmsig__V1__Locator *loc = w->loc;

	s->endpoint = w->endpoint;
	s->epoch = w->epoch;
	s->has_context = w->has_context;
	s->adapter_peer = w->adapter_peer;
	s->adapter_pid = (pid_t)w->adapter_pid;
	s->ctx.epoch = w->epoch;
	copy_str(s->method, sizeof(s->method), w->method);
	s->lease_id = w->lease_id;
	s->lease_peer = w->lease_peer;
	s->lease_expires_ms = w->lease_expires_ms;
	s->events = w->events;
	s->invalidations = w->invalidations;
	copy_str(s->name, sizeof(s->name), w->name);
	if (loc == NULL)
		return 0;
	if (loc->n_segs > VMSIG_SEGS_MAX)
		return -EPROTO;
	if (loc->n_segs > 0 &&
	    (s->segs = calloc(loc->n_segs, sizeof(*s->segs))) == NULL)
		return -ENOMEM;
	wire_locator_decode(loc, &s->ctx, s->segs);
	return 0;
}

static void
status_peer(const Vmsig__V1__PeerStatus *w, struct vmsig_status_peer *s)
{
	s->peer_id = w->peer_id;
	s->role = (uint32_t)w->role;
	copy_str(s->name, sizeof(s->name), w->name);
	s->pid = (pid_t)w->pid;
	s->uid = (uid_t)w->uid;
	s->gid = (gid_t)w->gid;
	s->endpoint = w->endpoint;
	s->subscribed = w->subscribed;
	s->queued = w->queued;
	s->sent = w->sent;
	copy_str(s->rule, sizeof(s->rule), w->rule);
}

static int
parse_status(const Vmsig__V1__StatusReply *w, struct holder_msg *m)
{
	struct vmsig_status *st;
	size_t i;
	int r;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->pid = (pid_t)w->pid;
	st->uid = (uid_t)w->uid;
	st->uptime_ms = w->uptime_ms;
	st->protocol_errors = w->protocol_errors;
	st->slow_holders = w->slow_holders;
	st->refused_fds = w->refused_fds;
	if (w->n_endpoints > 0) {
		st->endpoints = calloc(w->n_endpoints, sizeof(*st->endpoints));
		if (st->endpoints == NULL)
			goto nomem;
	}
	st->nendpoints = w->n_endpoints;
	for (i = 0; i < w->n_endpoints; i++)
		if ((r = status_endpoint(w->endpoints[i], &st->endpoints[i])) < 0)
			goto fail;
	if (w->n_peers > 0) {
		st->peers = calloc(w->n_peers, sizeof(*st->peers));
		if (st->peers == NULL)
			goto nomem;
	}
	st->npeers = w->n_peers;
	for (i = 0; i < w->n_peers; i++)
		status_peer(w->peers[i], &st->peers[i]);
	m->st = st;
	return 0;
nomem:
	r = -ENOMEM;
fail:
	vmsig_status_free(st);
	return r;
}

void
vmsig_status_free(struct vmsig_status *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nendpoints; i++)
		free(st->endpoints[i].segs);
	free(st->endpoints);
	free(st->peers);
	free(st);
}

static int
parse_error(const Vmsig__V1__Error *e, struct holder_msg *m)
{
	/* The code becomes our return value: it must be an errno. */
	if (e->code == 0 || e->code > 4095)
		return -EPROTO;
	m->code = (int)e->code;
	copy_str(m->message, sizeof(m->message), e->message);
	return 0;
}

/* What a handler gets: the decoded frame, its descriptors, the result. */
struct parse_in {
	const wire_frame *f;
	const int *fds;
	unsigned int nfds;
	struct holder_msg *m;
};

static int
on_welcome(void *conn, void *arg)
{
	struct vmsig_holder *h = conn;
	struct parse_in *in = arg;

	in->m->kind = HOLDER_MSG_WELCOME;
	in->m->peer_id = in->f->welcome->peer_id;
	in->m->proto_version = in->f->welcome->proto_version;
	h->ds.role = HOLDER_ROLE_READY;
	return 0;
}

static int
on_error(void *conn, void *arg)
{
	struct parse_in *in = arg;

	(void)conn;
	in->m->kind = HOLDER_MSG_ERROR;
	return parse_error(in->f->error, in->m);
}

static int
on_ack(void *conn, void *arg)
{
	struct parse_in *in = arg;

	(void)conn;
	in->m->kind = HOLDER_MSG_ACK;
	return 0;
}

static int
on_event(void *conn, void *arg)
{
	struct parse_in *in = arg;

	(void)conn;
	in->m->kind = HOLDER_MSG_EVENT;
	return parse_event(in->f, in->fds, in->nfds, in->m);
}

static int
on_status_reply(void *conn, void *arg)
{
	struct parse_in *in = arg;

	(void)conn;
	in->m->kind = HOLDER_MSG_STATUS;
	return parse_status(in->f->status_reply, in->m);
}

static int
on_lease_granted(void *conn, void *arg)
{
	struct parse_in *in = arg;
	const Vmsig__V1__LeaseGranted *g = in->f->lease_granted;

	(void)conn;
	in->m->kind = HOLDER_MSG_LEASE_GRANTED;
	in->m->lease_id = g->lease_id;
	in->m->expires_ms = g->expires_ms;
	in->m->epoch = g->epoch;
	/* Lease id 0 means "no lease" in Status: never a grant. */
	return g->lease_id != 0 ? 0 : -EPROTO;
}

static int
on_write_done(void *conn, void *arg)
{
	struct parse_in *in = arg;

	(void)conn;
	in->m->kind = HOLDER_MSG_WRITE_DONE;
	in->m->written = in->f->mem_write_done->written;
	return 0;
}

/* A reply must answer a request this connection sent; one that timed out
 * still counts (the caller drops it). */
static int
outstanding(void *conn, uint64_t req_id)
{
	const struct vmsig_holder *h = conn;

	return req_id <= h->next_req;
}

#define R_NEW	DISPATCH_ROLE(0)
#define R_READY	DISPATCH_ROLE(HOLDER_ROLE_READY)
#define REQUEST_REPLY	(DISPATCH_REQ_ID | DISPATCH_REPLY)

/* What a daemon may send a holder, and when.  An Error with req_id 0 is
 * about the connection; with one, it answers that request. */
static const struct dispatch_entry holder_entries[] = {
	[VMSIG__V1__FRAME__MSG_WELCOME] = { "welcome", R_NEW, DISPATCH_ONCE,
	    0, on_welcome },
	[VMSIG__V1__FRAME__MSG_ERROR] = { "error", R_NEW | R_READY,
	    DISPATCH_REPLY, 0, on_error },
	[VMSIG__V1__FRAME__MSG_ACK] = { "ack", R_READY, REQUEST_REPLY, 0,
	    on_ack },
	[VMSIG__V1__FRAME__MSG_EVENT] = { "event", R_READY,
	    DISPATCH_NO_REQ_ID, 1, on_event },
	[VMSIG__V1__FRAME__MSG_STATUS_REPLY] = { "status_reply", R_READY,
	    REQUEST_REPLY, 0, on_status_reply },
	[VMSIG__V1__FRAME__MSG_LEASE_GRANTED] = { "lease_granted", R_READY,
	    REQUEST_REPLY, 0, on_lease_granted },
	[VMSIG__V1__FRAME__MSG_MEM_WRITE_DONE] = { "mem_write_done", R_READY,
	    REQUEST_REPLY, 0, on_write_done },
};

static const struct dispatch_table holder_table = {
	.entries = holder_entries,
	.n = sizeof(holder_entries) / sizeof(holder_entries[0]),
	.outstanding = outstanding,
};

/*
 * Decode one datagram on h's connection and check it against the table
 * and h's state.  On success the message owns the descriptor if it is a
 * MEMCTX event; on failure the descriptors stay the caller's (to close).
 * Returns -EPROTO for anything a daemon must not send a holder (now),
 * -ENOMEM.
 */
int
holder_wire_parse(struct vmsig_holder *h, const void *buf, size_t len,
    const int *fds, unsigned int nfds, struct holder_msg *ret_msg)
{
	struct holder_msg m;
	struct parse_in in = { .fds = fds, .nfds = nfds, .m = &m };
	wire_frame *f;
	int r;

	if (wire_decode(h->arena, buf, len, nfds, &f, NULL) < 0)
		return -EPROTO;
	memset(&m, 0, sizeof(m));
	m.req_id = f->req_id;
	in.f = f;
	r = dispatch_run(&holder_table, &h->ds, (unsigned int)f->msg_case,
	    f->req_id, nfds, h, &in, NULL);
	if (r < 0) {
		holder_msg_clear(&m);
		return r == -ENOMEM ? -ENOMEM : -EPROTO;
	}
	*ret_msg = m;
	return 0;
}

/* Free what a message still owns (an event's descriptor included). */
void
holder_msg_clear(struct holder_msg *m)
{
	vmsig_event_free(m->ev);
	m->ev = NULL;
	vmsig_status_free(m->st);
	m->st = NULL;
}
