/* SPDX-License-Identifier: MIT */
/*
 * The core's permission table: for every message a peer may send, in which
 * role and state it is allowed and who handles it; proto/dispatch.c
 * enforces it.  A message not allowed for the peer's role (or before
 * Hello, or without its req_id) is a protocol error: the peer gets an
 * Error and is dropped.  Handlers send their own replies; they return
 * -errno only when the peer broke the protocol.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "vmsigd.h"
#include "wire.h"

static int
hello_holder(struct peer *p, struct msg *m)
{
	if (!policy_allows(POLICY_HOLDERS, p, m->req_id)) {
		peer_drop(p, "refused by the holders rule");
		return 0;
	}
	peer_set_hello(p, ROLE_HOLDER, m->u.hello.name);
	return 0;
}

static int
hello_adapter(struct peer *p, struct msg *m)
{
	uint32_t id = m->u.hello.endpoint;
	const char *name = m->u.hello.ep_name != NULL ? m->u.hello.ep_name :
	    "";
	vmsig_memctx_reg reg = { 0 };
	struct endpoint *ep, *other;
	struct adapter *a;

	if (!policy_allows(POLICY_ADAPTERS, p, m->req_id)) {
		peer_drop(p, "refused by the adapters rule");
		return 0;
	}
	if (id == 0 || m->u.hello.source != VMSIG_SRC_MEMCTX) {
		peer_fail(p, m->req_id, EINVAL, "hello: an adapter names an "
		    "endpoint > 0 and source MEMCTX");
		return 0;
	}
	if (name[0] != '\0' && !endpoint_name_valid(name)) {
		peer_fail(p, m->req_id, EINVAL, "hello: an endpoint name is "
		    "1..64 bytes of A-Z a-z 0-9 . _ + -");
		return 0;
	}
	if ((other = endpoint_by_name(name, endpoint_get(id, 0))) != NULL) {
		if (endpoint_adapter(other) != NULL)
			peer_fail(p, m->req_id, EEXIST, "hello: name '%s' is "
			    "endpoint %u's (helper peer %u); stop it first",
			    name, endpoint_id(other),
			    peer_id(endpoint_adapter(other)));
		else
			peer_fail(p, m->req_id, EEXIST, "hello: name '%s' is "
			    "endpoint %u's, whose helper left; it is free "
			    "once that endpoint is gone", name,
			    endpoint_id(other));
		return 0;
	}
	if ((ep = endpoint_get(id, 1)) == NULL ||
	    (a = adapter_new(p, &reg)) == NULL) {
		peer_fail(p, m->req_id, ENOMEM, "hello: out of memory");
		return 0;
	}
	if (endpoint_attach(ep, p, &reg) < 0) {
		adapter_free(a);
		peer_fail(p, m->req_id, EEXIST, "hello: endpoint %u already "
		    "has a live helper (peer %u); stop it first", id,
		    peer_id(endpoint_adapter(ep)));
		return 0;
	}
	endpoint_set_name(ep, name);
	peer_set_hello(p, ROLE_ADAPTER, m->u.hello.name);
	peer_set_endpoint(p, ep);
	return 0;
}

static int
on_hello(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	enum peer_role want = peer_kind(p) == SOCK_HOLDER ? ROLE_HOLDER :
	    ROLE_ADAPTER;
	unsigned char buf[64];
	int n;

	if (m->u.hello.version != VMSIG_PROTO_VERSION) {
		peer_fail(p, m->req_id, EPROTONOSUPPORT, "hello: protocol "
		    "version %u not supported (this vmsigd speaks %u)",
		    m->u.hello.version, VMSIG_PROTO_VERSION);
		return 0;
	}
	if (m->u.hello.role != (uint32_t)want) {
		peer_fail(p, m->req_id, EPERM, "hello: the %s socket takes "
		    "role %s only", want == ROLE_HOLDER ? "holder" : "adapter",
		    want == ROLE_HOLDER ? "HOLDER" : "ADAPTER");
		return 0;
	}
	if (want == ROLE_HOLDER)
		(void)hello_holder(p, m);
	else
		(void)hello_adapter(p, m);
	if (peer_role(p) == ROLE_NEW)
		return 0;	/* refused above */
	(want == ROLE_ADAPTER ? log_info : log_debug)("peer %u: %s '%s' "
	    "(pid %d uid %u)", peer_id(p),
	    want == ROLE_HOLDER ? "holder" : "adapter", peer_name(p),
	    (int)peer_pid(p), (unsigned)peer_uid(p));
	n = msg_pack_welcome(buf, sizeof(buf), m->req_id, peer_id(p),
	    peer_endpoint(p) != NULL ?
	    endpoint_next_epoch(peer_endpoint(p)) : 0);
	if (n > 0)
		(void)peer_send(p, buf, (size_t)n, -1);
	return 0;
}

static int
on_subscribe(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	if (peer_subscribe(p, m->u.subscribe.endpoints, m->u.subscribe.n,
	    m->u.subscribe.mask) < 0) {
		peer_error(p, m->req_id, ENOMEM, "subscribe: out of memory");
		return 0;
	}
	peer_ack(p, m->req_id);
	/* After the Ack: the replay is ordinary events. */
	endpoint_replay(p);
	return 0;
}

static int
on_unsubscribe(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	peer_unsubscribe(p);
	peer_ack(p, m->req_id);
	return 0;
}

static int
on_status(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	static unsigned char buf[VMSIG_FRAME_MAX];
	int n = msg_pack_status(buf, sizeof(buf), m->req_id);

	if (n < 0)
		peer_error(p, m->req_id, -n, "status: cannot build the reply");
	else
		(void)peer_send(p, buf, (size_t)n, -1);
	return 0;
}

static int
on_lease_acquire(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	lease_acquire(p, m);
	return 0;
}

static int
on_lease_renew(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	lease_renew(p, m);
	return 0;
}

static int
on_lease_release(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	lease_release(p, m);
	return 0;
}

static int
on_mem_write(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	lease_mem_write(p, m);
	return 0;
}

static int
on_memctx_ready(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	struct endpoint *ep = peer_endpoint(p);
	const char *why = NULL;

	if (adapter_set_context(endpoint_reg(ep)->ctx, m, &why) < 0) {
		counters.refused_fds++;
		peer_fail(p, m->req_id, EPERM, "memctx_ready refused: %s", why);
		return 0;
	}
	endpoint_context_ready(ep);
	return 0;
}

static int
on_invalidate_request(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	const char *r = m->u.inval.reason;

	endpoint_invalidate(peer_endpoint(p), r != NULL && *r != '\0' ? r :
	    "the helper asked");
	return 0;
}

/* MemWriteResult and Error from a helper answer our MemWriteCmd. */
static int
on_write_answer(void *conn, void *arg)
{
	struct peer *p = conn;
	struct msg *m = arg;
	return lease_write_answer(p, m);
}

#define R_NEW		DISPATCH_ROLE(ROLE_NEW)
#define R_HOLDER	DISPATCH_ROLE(ROLE_HOLDER)
#define R_ADAPTER	DISPATCH_ROLE(ROLE_ADAPTER)
#define REQUEST		DISPATCH_REQ_ID
#define ANSWER		(DISPATCH_REQ_ID | DISPATCH_REPLY)

/*
 * What each role may send.  Hello is once (the role it sets is the
 * record); holder requests carry a req_id their answers echo; the helper
 * speaks unasked only to offer or give up a context, and otherwise
 * answers our MemWriteCmd (lease.c matches the answer to the command and
 * returns -EPROTO for one we never sent).
 */
static const struct dispatch_entry dispatch_entries[MSG__MAX] = {
	[MSG_HELLO] = { "hello", R_NEW, DISPATCH_ONCE, 0, on_hello },
	[MSG_SUBSCRIBE] = { "subscribe", R_HOLDER, REQUEST, 0, on_subscribe },
	[MSG_UNSUBSCRIBE] = { "unsubscribe", R_HOLDER, REQUEST, 0,
	    on_unsubscribe },
	[MSG_STATUS] = { "status", R_HOLDER, REQUEST, 0, on_status },
	[MSG_LEASE_ACQUIRE] = { "lease_acquire", R_HOLDER, REQUEST, 0,
	    on_lease_acquire },
	[MSG_LEASE_RENEW] = { "lease_renew", R_HOLDER, REQUEST, 0,
	    on_lease_renew },
	[MSG_LEASE_RELEASE] = { "lease_release", R_HOLDER, REQUEST, 0,
	    on_lease_release },
	[MSG_MEM_WRITE] = { "mem_write", R_HOLDER, REQUEST, 0, on_mem_write },
	[MSG_MEMCTX_READY] = { "memctx_ready", R_ADAPTER, DISPATCH_NO_REQ_ID,
	    1, on_memctx_ready },
	[MSG_INVALIDATE_REQUEST] = { "invalidate_request", R_ADAPTER,
	    DISPATCH_NO_REQ_ID, 0, on_invalidate_request },
	[MSG_MEM_WRITE_RESULT] = { "mem_write_result", R_ADAPTER, ANSWER, 0,
	    on_write_answer },
	[MSG_ERROR] = { "error", R_ADAPTER, ANSWER, 0, on_write_answer },
};

static const struct dispatch_table dispatch_table = {
	.entries = dispatch_entries,
	.n = MSG__MAX,
	.outstanding = NULL,	/* lease_write_answer matches answers */
};

int
dispatch(struct peer *p, struct msg *m)
{
	struct dispatch_state st = { .role = peer_role(p) };
	const char *why = NULL;
	int r;

	if (st.role != ROLE_NEW)
		st.seen = 1ull << MSG_HELLO;
	log_debug("peer %u: %s", peer_id(p),
	    dispatch_name(&dispatch_table, (unsigned int)m->type));
	r = dispatch_run(&dispatch_table, &st, (unsigned int)m->type,
	    m->req_id, m->fd >= 0 ? 1 : 0, p, m, &why);
	if (r < 0) {
		/* The peer broke the protocol: it hears why, then goes.
		 * (Handlers return -errno without dropping the peer.) */
		counters.protocol_errors++;
		peer_fail(p, m->req_id, EPROTO, "protocol error: %s %s",
		    dispatch_name(&dispatch_table, (unsigned int)m->type),
		    why != NULL ? why : "answers no request that was sent");
	}
	return r;
}
