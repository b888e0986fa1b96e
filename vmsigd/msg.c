/* SPDX-License-Identifier: MIT */
/*
 * The core's one translation between wire frames and its own messages.
 * Incoming frames are decoded strictly (proto/wire.c) and turned into a
 * struct msg that points into the decode arena; outgoing frames are built
 * here from the core's own state, never re-encoded from what a peer sent.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmsigd.h"
#include "wire.h"

typedef Vmsig__V1__Frame Frame;

/* Frames only the server sends: a client sending one broke the protocol. */
static int
to_msg(const Frame *f, struct msg *m)
{
	switch (f->msg_case) {
	case VMSIG__V1__FRAME__MSG_HELLO:
		m->type = MSG_HELLO;
		m->u.hello.version = f->hello->proto_version;
		m->u.hello.role = (uint32_t)f->hello->role;
		m->u.hello.endpoint = f->hello->endpoint;
		m->u.hello.source = (uint32_t)f->hello->source;
		m->u.hello.name = f->hello->name;
		m->u.hello.ep_name = f->hello->endpoint_name;
		return 0;
	case VMSIG__V1__FRAME__MSG_SUBSCRIBE:
		m->type = MSG_SUBSCRIBE;
		m->u.subscribe.endpoints = f->subscribe->endpoints;
		m->u.subscribe.n = f->subscribe->n_endpoints;
		m->u.subscribe.mask = f->subscribe->event_mask;
		return 0;
	case VMSIG__V1__FRAME__MSG_UNSUBSCRIBE:
		m->type = MSG_UNSUBSCRIBE;
		return 0;
	case VMSIG__V1__FRAME__MSG_STATUS:
		m->type = MSG_STATUS;
		return 0;
	case VMSIG__V1__FRAME__MSG_LEASE_ACQUIRE:
		m->type = MSG_LEASE_ACQUIRE;
		m->u.lease_acquire.endpoint = f->lease_acquire->endpoint;
		m->u.lease_acquire.kind = (uint32_t)f->lease_acquire->kind;
		m->u.lease_acquire.ttl_ms = f->lease_acquire->ttl_ms;
		return 0;
	case VMSIG__V1__FRAME__MSG_LEASE_RENEW:
		m->type = MSG_LEASE_RENEW;
		m->u.lease.lease_id = f->lease_renew->lease_id;
		m->u.lease.ttl_ms = f->lease_renew->ttl_ms;
		return 0;
	case VMSIG__V1__FRAME__MSG_LEASE_RELEASE:
		m->type = MSG_LEASE_RELEASE;
		m->u.lease.lease_id = f->lease_release->lease_id;
		return 0;
	case VMSIG__V1__FRAME__MSG_MEM_WRITE:
		m->type = MSG_MEM_WRITE;
		m->u.mem_write.endpoint = f->mem_write->endpoint;
		m->u.mem_write.epoch = f->mem_write->epoch;
		m->u.mem_write.lease_id = f->mem_write->lease_id;
		m->u.mem_write.gpa = f->mem_write->gpa;
		m->u.mem_write.data = f->mem_write->data.data;
		m->u.mem_write.len = f->mem_write->data.len;
		return 0;
	case VMSIG__V1__FRAME__MSG_MEMCTX_READY: {
		const Vmsig__V1__Locator *l = f->memctx_ready->loc;

		m->type = MSG_MEMCTX_READY;
		memset(&m->u.ready.pod, 0, sizeof(m->u.ready.pod));
		wire_locator_decode(l, &m->u.ready.pod, m->u.ready.segs);
		m->u.ready.method = f->memctx_ready->method;
		return 0;
	}
	case VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST:
		m->type = MSG_INVALIDATE_REQUEST;
		m->u.inval.reason = f->invalidate_request->reason;
		return 0;
	case VMSIG__V1__FRAME__MSG_MEM_WRITE_RESULT:
		m->type = MSG_MEM_WRITE_RESULT;
		m->u.written.written = f->mem_write_result->written;
		return 0;
	case VMSIG__V1__FRAME__MSG_ERROR:
		m->type = MSG_ERROR;
		m->u.error.code = f->error->code;
		m->u.error.message = f->error->message;
		return 0;
	default:
		return -EBADMSG;
	}
}

int
msg_decode(struct wire_arena *a, const void *buf, size_t len,
    unsigned int nfds, struct msg *m, const char **ret_why)
{
	Frame *f;
	int r;

	_Static_assert(VMSIGD_SEGS_MAX >= VMSIG_SEGS_MAX, "segs fit");
	r = wire_decode(a, buf, len, nfds, &f, ret_why);
	if (r < 0)
		return r;
	memset(m, 0, sizeof(*m));
	m->req_id = f->req_id;
	m->fd = -1;
	if (to_msg(f, m) < 0) {
		*ret_why = "a message only the server sends";
		return -EBADMSG;
	}
	return 0;
}

static int
pack(Frame *f, void *buf, size_t cap)
{
	f->nfds = wire_fds_for(f);
	return wire_pack(f, buf, cap);
}

int
msg_pack_welcome(void *buf, size_t cap, uint64_t req_id, uint32_t peer_id,
    uint32_t epoch)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Welcome w = VMSIG__V1__WELCOME__INIT;

	w.proto_version = VMSIG_PROTO_VERSION;
	w.peer_id = peer_id;
	w.epoch = epoch;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_WELCOME;
	f.welcome = &w;
	return pack(&f, buf, cap);
}

int
msg_pack_error(void *buf, size_t cap, uint64_t req_id, int code,
    const char *message)
{
	return wire_pack_error(buf, cap, req_id, code, message);
}

int
msg_pack_ack(void *buf, size_t cap, uint64_t req_id)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Ack a = VMSIG__V1__ACK__INIT;

	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_ACK;
	f.ack = &a;
	return pack(&f, buf, cap);
}

int
msg_pack_memctx(void *buf, size_t cap, uint32_t endpoint, uint64_t seq,
    const vmsig_memctx *pod, const vmsig_memseg *segs, uint32_t nseg)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__MemctxEvent mc = VMSIG__V1__MEMCTX_EVENT__INIT;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment sv[VMSIG_SEGS_MAX], *sp[VMSIG_SEGS_MAX];

	if (nseg > VMSIG_SEGS_MAX)
		return -EMSGSIZE;
	wire_locator_encode(&l, sv, sp, pod, segs, nseg);
	mc.loc = &l;
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX;
	e.endpoint = endpoint;
	e.epoch = pod->epoch;
	e.seq = seq;
	e.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	e.body_case = VMSIG__V1__EVENT__BODY_MEMCTX;
	e.memctx = &mc;
	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	return pack(&f, buf, cap);
}

int
msg_pack_event(void *buf, size_t cap, uint32_t type, uint32_t endpoint,
    uint32_t epoch, uint64_t seq, const void *inln)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__MemctxInvalidatedEvent inv =
	    VMSIG__V1__MEMCTX_INVALIDATED_EVENT__INIT;
	Vmsig__V1__MemWrittenEvent wr = VMSIG__V1__MEM_WRITTEN_EVENT__INIT;
	Vmsig__V1__LeaseLostEvent ll = VMSIG__V1__LEASE_LOST_EVENT__INIT;
	Vmsig__V1__EndpointGoneEvent gone = VMSIG__V1__ENDPOINT_GONE_EVENT__INIT;

	e.type = (Vmsig__V1__EventType)type;
	e.endpoint = endpoint;
	e.epoch = epoch;
	e.seq = seq;
	e.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	switch (type) {
	case VMSIG_EV_MEMCTX_INVALIDATED:
		e.body_case = VMSIG__V1__EVENT__BODY_INVALIDATED;
		e.invalidated = &inv;
		break;
	case VMSIG_EV_MEMWRITTEN: {
		const vmsig_memwritten *w = inln;

		wr.gpa = w->gpa;
		wr.len = w->len;
		wr.writer = w->writer;
		e.body_case = VMSIG__V1__EVENT__BODY_WRITTEN;
		e.written = &wr;
		break;
	}
	case VMSIG_EV_LEASE_LOST: {
		const vmsig_lease_lost *l = inln;

		ll.lease_id = l->lease_id;
		ll.reason = (Vmsig__V1__LeaseLostReason)l->reason;
		e.body_case = VMSIG__V1__EVENT__BODY_LEASE_LOST;
		e.lease_lost = &ll;
		break;
	}
	case VMSIG_EV_ENDPOINT_GONE:
		e.body_case = VMSIG__V1__EVENT__BODY_GONE;
		e.gone = &gone;
		break;
	default:
		return -EINVAL;
	}
	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	return pack(&f, buf, cap);
}

int
msg_pack_invalidate(void *buf, size_t cap, uint32_t epoch)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Invalidate i = VMSIG__V1__INVALIDATE__INIT;

	i.epoch = epoch;
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE;
	f.invalidate = &i;
	return pack(&f, buf, cap);
}

int
msg_pack_lease_granted(void *buf, size_t cap, uint64_t req_id,
    uint64_t lease_id, uint64_t expires_ms, uint32_t epoch)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__LeaseGranted g = VMSIG__V1__LEASE_GRANTED__INIT;

	g.lease_id = lease_id;
	g.expires_ms = expires_ms;
	g.epoch = epoch;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_LEASE_GRANTED;
	f.lease_granted = &g;
	return pack(&f, buf, cap);
}

int
msg_pack_mem_write_cmd(void *buf, size_t cap, uint64_t req_id,
    uint32_t epoch, uint64_t gpa, const uint8_t *data, size_t len)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemWriteCmd c = VMSIG__V1__MEM_WRITE_CMD__INIT;

	c.epoch = epoch;
	c.gpa = gpa;
	c.data.data = (uint8_t *)data;
	c.data.len = len;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD;
	f.mem_write_cmd = &c;
	return pack(&f, buf, cap);
}

int
msg_pack_mem_write_done(void *buf, size_t cap, uint64_t req_id,
    uint64_t written)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemWriteDone d = VMSIG__V1__MEM_WRITE_DONE__INIT;

	d.written = written;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_DONE;
	f.mem_write_done = &d;
	return pack(&f, buf, cap);
}

/* Endpoint entries point into `segs` storage owned by the caller. */
static void
fill_endpoint(Vmsig__V1__EndpointStatus *es, Vmsig__V1__Locator *l,
    Vmsig__V1__Segment *sv, Vmsig__V1__Segment **sp, struct endpoint *ep)
{
	const vmsig_memctx_reg *reg = endpoint_reg(ep);
	struct peer *a = endpoint_adapter(ep);
	struct endpoint_lease lease;

	es->endpoint = endpoint_id(ep);
	es->epoch = endpoint_epoch(ep);
	es->has_context = endpoint_has_context(ep);
	es->adapter_peer = a != NULL ? peer_id(a) : 0;
	es->adapter_pid = a != NULL ? peer_pid(a) : 0;
	es->events = endpoint_events(ep);
	es->invalidations = endpoint_invalidations(ep);
	es->name = (char *)endpoint_name(ep);
	if (endpoint_lease_get(ep, &lease)) {
		es->lease_id = lease.id;
		es->lease_peer = lease.peer;
		es->lease_expires_ms = lease.expires_ms;
	}
	if (es->has_context && reg != NULL) {
		vmsig_memctx pod;
		const vmsig_memseg *segs = NULL;
		uint32_t nseg = 0;

		reg->describe(reg->ctx, &pod, &segs, &nseg);
		pod.flags |= VMSIG_MEMCTX_RDONLY;	/* as holders see it */
		if (nseg > VMSIG_SEGS_MAX)
			nseg = 0;
		wire_locator_encode(l, sv, sp, &pod, segs, nseg);
		es->loc = l;
		es->method = (char *)endpoint_method(ep);
	}
}

int
msg_pack_status(void *buf, size_t cap, uint64_t req_id)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__StatusReply s = VMSIG__V1__STATUS_REPLY__INIT;
	Vmsig__V1__EndpointStatus *es = NULL, **esp = NULL;
	Vmsig__V1__PeerStatus *ps = NULL, **psp = NULL;
	Vmsig__V1__Locator *locs = NULL;
	Vmsig__V1__Segment *sv = NULL, **sp = NULL;
	struct endpoint *ep;
	struct peer *p;
	size_t ne = 0, np = 0, i;
	int r = -ENOMEM;

	for (ep = endpoint_first(); ep != NULL; ep = endpoint_next(ep))
		ne++;
	for (p = peer_first(); p != NULL; p = peer_next(p))
		np++;
	ne = ne > VMSIG_STATUS_MAX ? VMSIG_STATUS_MAX : ne;
	np = np > VMSIG_STATUS_MAX ? VMSIG_STATUS_MAX : np;
	es = calloc(ne + 1, sizeof(*es));
	esp = calloc(ne + 1, sizeof(*esp));
	locs = calloc(ne + 1, sizeof(*locs));
	sv = calloc((ne + 1) * VMSIG_SEGS_MAX, sizeof(*sv));
	sp = calloc((ne + 1) * VMSIG_SEGS_MAX, sizeof(*sp));
	ps = calloc(np + 1, sizeof(*ps));
	psp = calloc(np + 1, sizeof(*psp));
	if (!es || !esp || !locs || !sv || !sp || !ps || !psp)
		goto out;
	for (i = 0, ep = endpoint_first(); ep != NULL && i < ne;
	    ep = endpoint_next(ep), i++) {
		vmsig__v1__endpoint_status__init(&es[i]);
		vmsig__v1__locator__init(&locs[i]);
		fill_endpoint(&es[i], &locs[i], &sv[i * VMSIG_SEGS_MAX],
		    &sp[i * VMSIG_SEGS_MAX], ep);
		esp[i] = &es[i];
	}
	for (i = 0, p = peer_first(); p != NULL && i < np;
	    p = peer_next(p), i++) {
		vmsig__v1__peer_status__init(&ps[i]);
		ps[i].peer_id = peer_id(p);
		ps[i].role = (Vmsig__V1__Role)peer_role(p);
		ps[i].name = (char *)peer_name(p);
		ps[i].pid = peer_pid(p);
		ps[i].uid = peer_uid(p);
		ps[i].gid = peer_gid(p);
		ps[i].endpoint = peer_endpoint(p) != NULL ?
		    endpoint_id(peer_endpoint(p)) : 0;
		ps[i].subscribed = peer_subscribed(p);
		ps[i].queued = peer_queued(p);
		ps[i].sent = peer_sent(p);
		ps[i].rule = (char *)peer_rule(p);
		psp[i] = &ps[i];
	}
	s.proto_version = VMSIG_PROTO_VERSION;
	s.pid = getpid();
	s.uid = counters.uid;
	s.endpoints = esp;
	s.n_endpoints = ne;
	s.peers = psp;
	s.n_peers = np;
	s.protocol_errors = counters.protocol_errors;
	s.slow_holders = counters.slow_holders;
	s.refused_fds = counters.refused_fds;
	s.uptime_ms = loop_now_ms() - counters.start_ms;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_STATUS_REPLY;
	f.status_reply = &s;
	/* Too many peers for one datagram: show as many as fit. */
	while ((r = pack(&f, buf, cap)) == -EMSGSIZE && s.n_peers > 0)
		s.n_peers /= 2;
out:
	free(es);
	free(esp);
	free(locs);
	free(sv);
	free(sp);
	free(ps);
	free(psp);
	return r;
}
