/* SPDX-License-Identifier: MIT */
/*
 * The MEMWRITE lease and leased writes.  A lease is exclusive per endpoint,
 * bound to the epoch it was granted in, and timed by a timerfd on the loop:
 * it ends by expiry, release, its holder leaving, or the epoch moving
 * (a lease never outlives its epoch).  A MemWrite is accepted only from the
 * lease holder for the current epoch and forwarded to the helper, which
 * checks bounds and --writable itself; its answer goes back to the writer,
 * then MEMWRITTEN goes to every subscriber of the endpoint.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "vmsigd.h"
#include "wire.h"

struct lease {
	struct lease *next;
	struct loop_src timer;
	struct endpoint *ep;
	struct peer *holder;
	uint64_t id;
	uint64_t expires_ms;
	uint32_t epoch;
};

/* A write forwarded to a helper, waiting for its answer. */
struct pending {
	struct pending *next;
	uint64_t cmd_id;	/* our req_id towards the helper */
	uint64_t req_id;	/* the holder's */
	struct peer *writer;	/* NULL once it left */
	struct endpoint *ep;
	uint64_t gpa, len;
};

static struct lease *leases;
static struct pending *pendings;
static uint64_t lease_next_id = 1, cmd_next_id = 1;
static unsigned char lease_buf[VMSIG_FRAME_MAX];

static struct lease *
lease_of(const struct endpoint *ep)
{
	struct lease *l;

	for (l = leases; l != NULL; l = l->next)
		if (l->ep == ep)
			return l;
	return NULL;
}

int
endpoint_lease_get(const struct endpoint *ep, struct endpoint_lease *ret)
{
	struct lease *l = lease_of(ep);

	if (l == NULL)
		return 0;
	ret->id = l->id;
	ret->peer = peer_id(l->holder);
	ret->expires_ms = l->expires_ms;
	return 1;
}

static void
lease_free(struct lease *l)
{
	struct lease **pp;

	for (pp = &leases; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	loop_del(&l->timer);
	(void)close(l->timer.fd);
	l->timer.fd = -1;
	if (loop_defer_free(l, free) < 0)
		log_warnx("lease %llu: out of memory, leaking it",
		    (unsigned long long)l->id);
}

/* The log's words for a LEASE_LOST reason. */
static const char *
reason_text(uint32_t reason)
{
	switch (reason) {
	case VMSIG_LEASE_EXPIRED: return "it expired";
	case VMSIG_LEASE_EPOCH: return "the epoch changed";
	case VMSIG_LEASE_RELEASED: return "released";
	case VMSIG_LEASE_ENDPOINT_GONE: return "the helper left";
	default: return "unknown reason";
	}
}

/* End a lease and tell its holder why (unless it is the one who left). */
static void
lease_end(struct lease *l, uint32_t reason)
{
	vmsig_lease_lost ll = { .lease_id = l->id, .reason = reason };

	log_info("endpoint %u: lease %llu of peer %u ended: %s",
	    endpoint_id(l->ep), (unsigned long long)l->id,
	    peer_id(l->holder), reason_text(reason));
	if (reason != VMSIG_LEASE_RELEASED)
		endpoint_send_to(l->ep, l->holder, VMSIG_EV_LEASE_LOST, &ll);
	lease_free(l);
}

static int
arm(struct lease *l, uint32_t ttl_ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ttl_ms / 1000;
	its.it_value.tv_nsec = (long)(ttl_ms % 1000) * 1000000L;
	l->expires_ms = loop_now_ms() + ttl_ms;
	return timerfd_settime(l->timer.fd, 0, &its, NULL) == -1 ? -errno : 0;
}

static void
on_expire(struct loop_src *src, uint32_t events)
{
	struct lease *l = src->arg;
	uint64_t ticks;

	(void)events;
	(void)!read(src->fd, &ticks, sizeof(ticks));
	/* A renewal may have raced the timer: trust the deadline. */
	if (loop_now_ms() + 1 < l->expires_ms)
		return;
	lease_end(l, VMSIG_LEASE_EXPIRED);
}

static void
grant(struct peer *p, uint64_t req_id, struct lease *l)
{
	int n = msg_pack_lease_granted(lease_buf, sizeof(lease_buf), req_id,
	    l->id, l->expires_ms, l->epoch);

	if (n > 0)
		(void)peer_send(p, lease_buf, (size_t)n, -1);
}

static int
valid_ttl(uint32_t ttl)
{
	return ttl >= 1 && ttl <= VMSIG_TTL_MAX_MS;
}

void
lease_acquire(struct peer *p, const struct msg *m)
{
	struct endpoint *ep = endpoint_get(m->u.lease_acquire.endpoint, 0);
	uint32_t ttl = m->u.lease_acquire.ttl_ms;
	struct lease *l;

	if (m->u.lease_acquire.kind != 1 || !valid_ttl(ttl)) {
		peer_error(p, m->req_id, EINVAL, "lease: kind must be MEMWRITE "
		    "and ttl_ms 1..%u", VMSIG_TTL_MAX_MS);
		return;
	}
	if (ep == NULL || !endpoint_has_context(ep)) {
		peer_error(p, m->req_id, ENOENT, "lease: endpoint %u has no "
		    "context now; wait for MEMCTX", m->u.lease_acquire.endpoint);
		return;
	}
	if (!policy_allows(POLICY_WRITERS, p, m->req_id))
		return;
	if ((l = lease_of(ep)) != NULL) {
		uint64_t now = loop_now_ms();

		peer_error(p, m->req_id, EBUSY, "lease: endpoint %u is held "
		    "by peer %u for %llu ms more", endpoint_id(ep),
		    peer_id(l->holder), (unsigned long long)(l->expires_ms >
		    now ? l->expires_ms - now : 0));
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->timer.fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1) {
		free(l);
		peer_error(p, m->req_id, ENOMEM, "lease: out of resources");
		return;
	}
	l->timer.cb = on_expire;
	l->timer.arg = l;
	l->ep = ep;
	l->holder = p;
	l->id = lease_next_id++;
	l->epoch = endpoint_epoch(ep);
	if (arm(l, ttl) < 0 || loop_add(&l->timer, EPOLLIN) < 0) {
		(void)close(l->timer.fd);
		free(l);
		peer_error(p, m->req_id, ENOMEM, "lease: cannot arm its timer");
		return;
	}
	l->next = leases;
	leases = l;
	log_info("endpoint %u: lease %llu to peer %u for %u ms",
	    endpoint_id(ep), (unsigned long long)l->id, peer_id(p), ttl);
	grant(p, m->req_id, l);
}

static struct lease *
held_by(struct peer *p, uint64_t id)
{
	struct lease *l;

	for (l = leases; l != NULL; l = l->next)
		if (l->id == id && l->holder == p)
			return l;
	return NULL;
}

void
lease_renew(struct peer *p, const struct msg *m)
{
	struct lease *l = held_by(p, m->u.lease.lease_id);

	if (l == NULL) {
		peer_error(p, m->req_id, ENOENT, "lease %llu: you hold no "
		    "such lease (expired or ended?)",
		    (unsigned long long)m->u.lease.lease_id);
		return;
	}
	if (!valid_ttl(m->u.lease.ttl_ms) || arm(l, m->u.lease.ttl_ms) < 0) {
		peer_error(p, m->req_id, EINVAL, "lease: ttl_ms 1..%u",
		    VMSIG_TTL_MAX_MS);
		return;
	}
	grant(p, m->req_id, l);
}

void
lease_release(struct peer *p, const struct msg *m)
{
	struct lease *l = held_by(p, m->u.lease.lease_id);

	if (l == NULL) {
		peer_error(p, m->req_id, ENOENT, "lease %llu: you hold no "
		    "such lease", (unsigned long long)m->u.lease.lease_id);
		return;
	}
	lease_end(l, VMSIG_LEASE_RELEASED);
	peer_ack(p, m->req_id);
}

void
lease_mem_write(struct peer *p, const struct msg *m)
{
	struct endpoint *ep = endpoint_get(m->u.mem_write.endpoint, 0);
	struct lease *l;
	struct pending *w;
	int n;

	if (ep == NULL || !endpoint_has_context(ep) ||
	    m->u.mem_write.epoch != endpoint_epoch(ep)) {
		peer_error(p, m->req_id, ESTALE, "write: epoch %u is not the "
		    "current epoch of endpoint %u; wait for MEMCTX",
		    m->u.mem_write.epoch, m->u.mem_write.endpoint);
		return;
	}
	l = held_by(p, m->u.mem_write.lease_id);
	if (l == NULL || l->ep != ep) {
		peer_error(p, m->req_id, EPERM, "write: you do not hold the "
		    "MEMWRITE lease of endpoint %u", endpoint_id(ep));
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		peer_error(p, m->req_id, ENOMEM, "write: out of memory");
		return;
	}
	w->cmd_id = cmd_next_id++;
	w->req_id = m->req_id;
	w->writer = p;
	w->ep = ep;
	w->gpa = m->u.mem_write.gpa;
	w->len = m->u.mem_write.len;
	n = msg_pack_mem_write_cmd(lease_buf, sizeof(lease_buf), w->cmd_id,
	    endpoint_epoch(ep), w->gpa, m->u.mem_write.data, w->len);
	if (n < 0 || peer_send(endpoint_adapter(ep), lease_buf, (size_t)n,
	    -1) < 0) {
		free(w);
		peer_error(p, m->req_id, EIO, "write: the helper is not "
		    "reachable");
		return;
	}
	w->next = pendings;
	pendings = w;
}

static struct pending *
take_pending(struct endpoint *ep, uint64_t cmd_id)
{
	struct pending **pp, *w;

	for (pp = &pendings; (w = *pp) != NULL; pp = &w->next)
		if (w->cmd_id == cmd_id && w->ep == ep) {
			*pp = w->next;
			return w;
		}
	return NULL;
}

/* The helper answered a MemWriteCmd: result (err == 0) or Error. */
int
lease_write_answer(struct peer *adapter, const struct msg *m)
{
	struct endpoint *ep = peer_endpoint(adapter);
	struct pending *w = ep != NULL ? take_pending(ep, m->req_id) : NULL;
	vmsig_memwritten mw;
	int n;

	if (w == NULL)
		return -EPROTO;	/* an answer to nothing we asked */
	if (w->writer != NULL && m->type == MSG_ERROR)
		peer_error(w->writer, w->req_id, (int)m->u.error.code,
		    "write: vmsig-memctx of endpoint %u refused it: %s",
		    endpoint_id(ep),
		    m->u.error.message != NULL ? m->u.error.message : "");
	if (m->type == MSG_MEM_WRITE_RESULT) {
		if (w->writer != NULL) {
			n = msg_pack_mem_write_done(lease_buf, sizeof(lease_buf),
			    w->req_id, m->u.written.written);
			if (n > 0)
				(void)peer_send(w->writer, lease_buf, (size_t)n, -1);
		}
		mw.gpa = w->gpa;
		mw.len = m->u.written.written;
		mw.writer = w->writer != NULL ? peer_id(w->writer) : 0;
		mw._pad = 0;
		endpoint_multicast(ep, VMSIG_EV_MEMWRITTEN, &mw);
	}
	free(w);
	return 0;
}

void
lease_epoch_changed(struct endpoint *ep, uint32_t reason)
{
	struct lease *l = lease_of(ep);
	struct pending **pp, *w;

	if (l != NULL)
		lease_end(l, reason);
	for (pp = &pendings; (w = *pp) != NULL;) {
		if (w->ep != ep) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (w->writer != NULL)
			peer_error(w->writer, w->req_id, ESTALE, "write: the "
			    "epoch of endpoint %u changed before it landed",
			    endpoint_id(ep));
		free(w);
	}
}

void
lease_peer_gone(struct peer *p)
{
	struct lease *l, *nx;
	struct pending *w;

	for (l = leases; l != NULL; l = nx) {
		nx = l->next;
		if (l->holder == p)
			lease_end(l, VMSIG_LEASE_RELEASED);
	}
	for (w = pendings; w != NULL; w = w->next)
		if (w->writer == p)
			w->writer = NULL;
}
