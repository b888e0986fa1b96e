/* SPDX-License-Identifier: MIT */
/*
 * The MEMWRITE lease from the holder's side: acquire, renew and release are
 * plain request/reply exchanges; the daemon alone decides who holds what
 * and for how long.  A lease that ends on its own (expiry, epoch change,
 * the endpoint gone) is announced by a LEASE_LOST event through
 * vmsig_holder_next(), not by these calls.
 *
 * Runs in: holder
 */
#include <errno.h>

#include "holder_int.h"

/* Send req and expect `kind` back; anything else breaks the protocol. */
static int
lease_request(struct vmsig_holder *h, struct holder_req *req, int timeout_ms,
    enum holder_msg_kind kind, struct holder_msg *ret_msg)
{
	struct holder_msg m;
	int r;

	h->error[0] = '\0';
	if ((r = holder_io_request(h, req, timeout_ms, &m)) < 0)
		return r;
	if (m.kind != kind) {
		holder_msg_clear(&m);
		holder_io_fail(h, -EPROTO);
		return -EPROTO;
	}
	*ret_msg = m;
	return 0;
}

_Static_assert(VMSIG_LEASE_TTL_MAX_MS == VMSIG_TTL_MAX_MS, "holder.h and wire");

static int
valid_ttl(uint32_t ttl_ms)
{
	return ttl_ms >= 1 && ttl_ms <= VMSIG_TTL_MAX_MS;
}

int
vmsig_holder_lease_acquire(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t ttl_ms, int timeout_ms, uint64_t *ret_lease_id,
    uint64_t *ret_expires_ms)
{
	struct holder_req req = { .kind = HOLDER_REQ_LEASE_ACQUIRE };
	struct holder_msg m;
	int r;

	if (h == NULL || ret_lease_id == NULL || endpoint == 0 ||
	    !valid_ttl(ttl_ms))
		return -EINVAL;
	req.endpoint = endpoint;
	req.ttl_ms = ttl_ms;
	r = lease_request(h, &req, timeout_ms, HOLDER_MSG_LEASE_GRANTED, &m);
	if (r < 0)
		return r;
	*ret_lease_id = m.lease_id;
	if (ret_expires_ms != NULL)
		*ret_expires_ms = m.expires_ms;
	return 0;
}

int
vmsig_holder_lease_renew(struct vmsig_holder *h, uint64_t lease_id,
    uint32_t ttl_ms, int timeout_ms, uint64_t *ret_expires_ms)
{
	struct holder_req req = { .kind = HOLDER_REQ_LEASE_RENEW };
	struct holder_msg m;
	int r;

	if (h == NULL || lease_id == 0 || !valid_ttl(ttl_ms))
		return -EINVAL;
	req.lease_id = lease_id;
	req.ttl_ms = ttl_ms;
	r = lease_request(h, &req, timeout_ms, HOLDER_MSG_LEASE_GRANTED, &m);
	if (r < 0)
		return r;
	/* A renewal answers for the lease it renewed, or the daemon is
	 * confused about what we hold. */
	if (m.lease_id != lease_id) {
		holder_io_fail(h, -EPROTO);
		return -EPROTO;
	}
	if (ret_expires_ms != NULL)
		*ret_expires_ms = m.expires_ms;
	return 0;
}

int
vmsig_holder_lease_release(struct vmsig_holder *h, uint64_t lease_id,
    int timeout_ms)
{
	struct holder_req req = { .kind = HOLDER_REQ_LEASE_RELEASE };
	struct holder_msg m;

	if (h == NULL || lease_id == 0)
		return -EINVAL;
	req.lease_id = lease_id;
	return lease_request(h, &req, timeout_ms, HOLDER_MSG_ACK, &m);
}
