/* SPDX-License-Identifier: MIT */
/*
 * The permission table: for every message a peer may send, in which role
 * it is allowed and who handles it.  A message not allowed for the peer's
 * role (or before Hello) is a protocol error, never silently ignored.
 * Handlers send their own replies; they return -errno only when the peer
 * broke the protocol.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "vmsigd.h"
#include "wire.h"

#define R_NEW		(1u << ROLE_NEW)
#define R_HOLDER	(1u << ROLE_HOLDER)
#define R_ADAPTER	(1u << ROLE_ADAPTER)

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
	vmsig_memctx_reg reg = { 0 };
	struct endpoint *ep;
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
	peer_set_hello(p, ROLE_ADAPTER, m->u.hello.name);
	peer_set_endpoint(p, ep);
	return 0;
}

static int
on_hello(struct peer *p, struct msg *m)
{
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
on_subscribe(struct peer *p, struct msg *m)
{
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
on_unsubscribe(struct peer *p, struct msg *m)
{
	peer_unsubscribe(p);
	peer_ack(p, m->req_id);
	return 0;
}

static int
on_status(struct peer *p, struct msg *m)
{
	static unsigned char buf[VMSIG_FRAME_MAX];
	int n = msg_pack_status(buf, sizeof(buf), m->req_id);

	if (n < 0)
		peer_error(p, m->req_id, -n, "status: cannot build the reply");
	else
		(void)peer_send(p, buf, (size_t)n, -1);
	return 0;
}

static int
on_lease_acquire(struct peer *p, struct msg *m)
{
	lease_acquire(p, m);
	return 0;
}

static int
on_lease_renew(struct peer *p, struct msg *m)
{
	lease_renew(p, m);
	return 0;
}

static int
on_lease_release(struct peer *p, struct msg *m)
{
	lease_release(p, m);
	return 0;
}

static int
on_mem_write(struct peer *p, struct msg *m)
{
	lease_mem_write(p, m);
	return 0;
}

static int
on_memctx_ready(struct peer *p, struct msg *m)
{
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
on_invalidate_request(struct peer *p, struct msg *m)
{
	const char *r = m->u.inval.reason;

	endpoint_invalidate(peer_endpoint(p), r != NULL && *r != '\0' ? r :
	    "the helper asked");
	return 0;
}

/* MemWriteResult and Error from a helper answer our MemWriteCmd. */
static int
on_write_answer(struct peer *p, struct msg *m)
{
	return lease_write_answer(p, m);
}

static const struct {
	const char *name;
	unsigned int roles;
	int (*handler)(struct peer *, struct msg *);
} dispatch_table[MSG__MAX] = {
	[MSG_HELLO] = { "hello", R_NEW, on_hello },
	[MSG_SUBSCRIBE] = { "subscribe", R_HOLDER, on_subscribe },
	[MSG_UNSUBSCRIBE] = { "unsubscribe", R_HOLDER, on_unsubscribe },
	[MSG_STATUS] = { "status", R_HOLDER, on_status },
	[MSG_LEASE_ACQUIRE] = { "lease_acquire", R_HOLDER, on_lease_acquire },
	[MSG_LEASE_RENEW] = { "lease_renew", R_HOLDER, on_lease_renew },
	[MSG_LEASE_RELEASE] = { "lease_release", R_HOLDER, on_lease_release },
	[MSG_MEM_WRITE] = { "mem_write", R_HOLDER, on_mem_write },
	[MSG_MEMCTX_READY] = { "memctx_ready", R_ADAPTER, on_memctx_ready },
	[MSG_INVALIDATE_REQUEST] = { "invalidate_request", R_ADAPTER,
	    on_invalidate_request },
	[MSG_MEM_WRITE_RESULT] = { "mem_write_result", R_ADAPTER,
	    on_write_answer },
	[MSG_ERROR] = { "error", R_ADAPTER, on_write_answer },
};

int
dispatch(struct peer *p, struct msg *m)
{
	enum peer_role role = peer_role(p);

	if ((unsigned int)m->type >= MSG__MAX ||
	    dispatch_table[m->type].handler == NULL)
		return -EPROTO;
	if (!(dispatch_table[m->type].roles & (1u << role))) {
		counters.protocol_errors++;
		peer_fail(p, m->req_id, EPROTO, "protocol error: %s is not "
		    "allowed %s", dispatch_table[m->type].name,
		    role == ROLE_NEW ? "before hello" : "in this role");
		return 0;
	}
	log_debug("peer %u: %s", peer_id(p), dispatch_table[m->type].name);
	return dispatch_table[m->type].handler(p, m);
}
