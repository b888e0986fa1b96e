/* SPDX-License-Identifier: MIT */
/*
 * The endpoint registry: one record per guest, its epoch, its retained
 * context (held through the adapter's vmsig_memctx_reg, never copied), and
 * the multicast of its events.  Only this file changes an epoch.
 *
 * Epochs: 0 until the first context; 1 at the first MemctxReady; +1 at
 * every invalidation of a live context (helper request, helper gone, a new
 * context replacing a live one).  Records outlive their helpers so the epoch
 * of an endpoint never goes back, whichever helper serves it next.
 *
 * Names: a helper may name its endpoint (Hello.endpoint_name).  The name
 * belongs to the record while a helper serves it or may come back (the
 * ENDPOINT_GONE timer), so a restarted helper finds its name again; it is
 * freed when the endpoint is gone.  Two live endpoints never share a name.
 *
 * Contexts reach holders through sendq.c, which bounds the descriptors in
 * flight per holder.  A holder whose uid owns the RAM file could reopen the
 * descriptor for writing through /proc/self/fd, so by default it gets no
 * context (root aside: it can open the file by name anyway); the owner is
 * read with fstat(2) from the descriptor itself, the core opens no file.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "vmsigd.h"
#include "wire.h"

struct endpoint {
	struct endpoint *next;
	uint32_t id;
	uint32_t epoch;
	uint64_t seq;		/* last event's */
	uint64_t ctx_seq;	/* seq of the retained context's MEMCTX */
	uint64_t events, invalidations;
	struct peer *adapter;
	vmsig_memctx_reg reg;
	int has_ctx;
	uid_t owner;		/* of the RAM file, from fstat of its fd */
	char name[VMSIG_NAME_MAX + 1];	/* "" if unnamed */
	struct loop_src gone;	/* timerfd: ENDPOINT_GONE unless one returns */
};

unsigned int endpoint_gone_ms = 5000;
static struct endpoint *endpoints;
/* One packed frame at a time: the loop is single-threaded. */
static unsigned char ep_buf[VMSIG_FRAME_MAX];

struct endpoint *
endpoint_get(uint32_t id, int create)
{
	struct endpoint *ep;

	for (ep = endpoints; ep != NULL; ep = ep->next)
		if (ep->id == id)
			return ep;
	if (!create || (ep = calloc(1, sizeof(*ep))) == NULL)
		return NULL;
	ep->id = id;
	ep->gone.fd = -1;
	ep->next = endpoints;
	endpoints = ep;
	return ep;
}

struct endpoint *
endpoint_first(void)
{
	return endpoints;
}

struct endpoint *
endpoint_next(struct endpoint *ep)
{
	return ep->next;
}

uint32_t
endpoint_id(const struct endpoint *ep)
{
	return ep->id;
}

uint32_t
endpoint_epoch(const struct endpoint *ep)
{
	return ep->epoch;
}

int
endpoint_has_context(const struct endpoint *ep)
{
	return ep->has_ctx;
}

struct peer *
endpoint_adapter(const struct endpoint *ep)
{
	return ep->adapter;
}

const vmsig_memctx_reg *
endpoint_reg(const struct endpoint *ep)
{
	return ep->adapter != NULL ? &ep->reg : NULL;
}

uint64_t
endpoint_events(const struct endpoint *ep)
{
	return ep->events;
}

uint64_t
endpoint_invalidations(const struct endpoint *ep)
{
	return ep->invalidations;
}

const char *
endpoint_method(const struct endpoint *ep)
{
	return ep->adapter != NULL ? adapter_method(ep->reg.ctx) : "";
}

const char *
endpoint_name(const struct endpoint *ep)
{
	return ep->name;
}

int
endpoint_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > VMSIG_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("._+-", name[i]) != NULL))
			return 0;
	return 1;
}

struct endpoint *
endpoint_by_name(const char *name, const struct endpoint *self)
{
	struct endpoint *ep;

	if (name == NULL || name[0] == '\0')
		return NULL;
	for (ep = endpoints; ep != NULL; ep = ep->next)
		if (ep != self && strcmp(ep->name, name) == 0)
			return ep;
	return NULL;
}

void
endpoint_set_name(struct endpoint *ep, const char *name)
{
	if (name == NULL || name[0] == '\0' || strcmp(ep->name, name) == 0)
		return;
	if (ep->name[0] != '\0')
		log_info("endpoint %u: renamed from '%s' to '%s'", ep->id,
		    ep->name, name);
	(void)snprintf(ep->name, sizeof(ep->name), "%s", name);
}

/* Pack the retained context as MEMCTX{epoch} with the given seq. */
static int
pack_context(struct endpoint *ep, uint64_t seq)
{
	vmsig_memctx pod;
	const vmsig_memseg *segs = NULL;
	uint32_t nseg = 0;

	ep->reg.describe(ep->reg.ctx, &pod, &segs, &nseg);
	pod.epoch = ep->epoch;
	pod.flags |= VMSIG_MEMCTX_RDONLY;
	return msg_pack_memctx(ep_buf, sizeof(ep_buf), ep->id, seq, &pod,
	    segs, nseg);
}

/* 1 if p may have the context: not the RAM file's owner, unless root or
 * the configuration says so (deliver-to-owner).  Otherwise p is told why
 * and dropped. */
static int
owner_ok(struct endpoint *ep, struct peer *p)
{
	if (limits.deliver_to_owner || peer_uid(p) == 0 ||
	    peer_uid(p) != ep->owner)
		return 1;
	sendq_mark(p, ep->id, ep->epoch);
	peer_fail(p, 0, EPERM, "endpoint %u: uid %u owns the RAM file, and "
	    "could reopen a read-only descriptor of it for writing through "
	    "/proc/self/fd; vmsigd gives its contexts to other uids only "
	    "(deliver-to-owner in vmsigd.conf(5))", ep->id,
	    (unsigned)peer_uid(p));
	return 0;
}

/*
 * One share_fd() per multicast: the kernel installs a new descriptor in
 * each receiver, and a holder that cannot take it now is owed the context
 * (sendq.c) rather than given a duplicate to wait with.  So 1000 holders
 * cost 1000 sendmsg, not 1000 dup+close.
 */
static void
multicast_context(struct endpoint *ep)
{
	struct peer *p, *nx;
	struct stat st;
	int n, fd;

	n = pack_context(ep, ep->ctx_seq);
	if (n < 0) {
		log_warnx("endpoint %u: cannot pack its context", ep->id);
		return;
	}
	if ((fd = ep->reg.share_fd(ep->reg.ctx)) < 0) {
		/* EMFILE now need not be EMFILE in 10 ms: every holder that
		 * wants the context is owed it, and the sendq timer retries
		 * (endpoint_deliver) rather than leave it without one for
		 * the whole epoch. */
		log_warnx("endpoint %u: no descriptor to share (%s); owed to "
		    "its holders", ep->id, strerror(-fd));
		for (p = peer_first(); p != NULL; p = nx) {
			nx = peer_next(p);
			if (peer_wants(p, ep->id, VMSIG_EV_MEMCTX) &&
			    owner_ok(ep, p))
				sendq_owe(p, ep->id);
		}
		return;
	}
	/* The owner could write through /proc/self/fd: see owner_ok(). */
	ep->owner = fstat(fd, &st) == 0 ? st.st_uid : 0;
	for (p = peer_first(); p != NULL; p = nx) {
		nx = peer_next(p);
		if (peer_wants(p, ep->id, VMSIG_EV_MEMCTX) &&
		    owner_ok(ep, p))
			sendq_offer(p, ep->id, ep->epoch, ep_buf, (size_t)n,
			    fd);
	}
	(void)close(fd);
}

void
endpoint_multicast(struct endpoint *ep, uint32_t type, const void *inln)
{
	struct peer *p, *nx;
	int n;

	ep->seq++;
	ep->events++;
	n = msg_pack_event(ep_buf, sizeof(ep_buf), type, ep->id, ep->epoch,
	    ep->seq, inln);
	if (n < 0)
		return;
	for (p = peer_first(); p != NULL; p = nx) {
		nx = peer_next(p);
		if (peer_wants(p, ep->id, type))
			(void)peer_send(p, ep_buf, (size_t)n, -1);
	}
}

/* The live context ends: new epoch, tell everyone, end leases. */
static void
end_context(struct endpoint *ep, const char *reason)
{
	vmsig_memctx_inv inv;

	ep->has_ctx = 0;
	ep->epoch++;
	ep->invalidations++;
	log_info("endpoint %u: epoch %u (%s)", ep->id, ep->epoch, reason);
	inv.endpoint = ep->id;
	inv.epoch = ep->epoch;
	endpoint_multicast(ep, VMSIG_EV_MEMCTX_INVALIDATED, &inv);
	lease_epoch_changed(ep, VMSIG_LEASE_EPOCH);
}

uint32_t
endpoint_next_epoch(const struct endpoint *ep)
{
	if (ep->has_ctx)
		return ep->epoch + 1;
	return ep->epoch == 0 ? 1 : ep->epoch;
}

void
endpoint_context_ready(struct endpoint *ep)
{
	if (ep->has_ctx)
		end_context(ep, "the helper offered a new context");
	if (ep->epoch == 0)
		ep->epoch = 1;
	ep->has_ctx = 1;
	ep->seq++;
	ep->events++;
	ep->ctx_seq = ep->seq;
	log_info("endpoint %u: context for epoch %u (method %s)", ep->id,
	    ep->epoch, adapter_method(ep->reg.ctx));
	multicast_context(ep);
}

void
endpoint_invalidate(struct endpoint *ep, const char *reason)
{
	if (!ep->has_ctx) {
		log_debug("endpoint %u: invalidation with no live context",
		    ep->id);
		return;
	}
	end_context(ep, reason);
	/* Last: the helper's new MemctxReady must find the new epoch. */
	ep->reg.invalidate(ep->reg.ctx, ep->epoch);
}

void
endpoint_deliver(struct endpoint *ep, struct peer *p)
{
	int n, fd;

	if (!ep->has_ctx || !owner_ok(ep, p))
		return;
	if ((n = pack_context(ep, ep->ctx_seq)) < 0)
		return;
	if ((fd = ep->reg.share_fd(ep->reg.ctx)) < 0) {
		sendq_owe(p, ep->id);	/* as in multicast_context() */
		return;
	}
	sendq_offer(p, ep->id, ep->epoch, ep_buf, (size_t)n, fd);
	(void)close(fd);
}

void
endpoint_replay(struct peer *holder)
{
	struct endpoint *ep;

	for (ep = endpoints; ep != NULL && !peer_dead(holder); ep = ep->next)
		if (ep->has_ctx &&
		    peer_wants(holder, ep->id, VMSIG_EV_MEMCTX) &&
		    !sendq_has(holder, ep->id, ep->epoch))
			endpoint_deliver(ep, holder);
}

static void
on_gone(struct loop_src *src, uint32_t events)
{
	struct endpoint *ep = src->arg;
	uint64_t ticks;

	(void)events;
	(void)!read(src->fd, &ticks, sizeof(ticks));
	loop_del(src);
	(void)close(src->fd);
	src->fd = -1;
	if (ep->adapter != NULL)
		return;
	log_info("endpoint %u: no helper came back", ep->id);
	ep->name[0] = '\0';	/* free for another endpoint */
	lease_epoch_changed(ep, VMSIG_LEASE_ENDPOINT_GONE);
	endpoint_multicast(ep, VMSIG_EV_ENDPOINT_GONE, NULL);
}

static void
arm_gone(struct endpoint *ep)
{
	struct itimerspec its = { 0 };

	if (ep->gone.fd < 0) {
		ep->gone.fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_NONBLOCK | TFD_CLOEXEC);
		if (ep->gone.fd == -1) {
			log_warn("endpoint %u: timerfd", ep->id);
			return;
		}
		ep->gone.cb = on_gone;
		ep->gone.arg = ep;
		if (loop_add(&ep->gone, EPOLLIN) < 0) {
			(void)close(ep->gone.fd);
			ep->gone.fd = -1;
			return;
		}
	}
	its.it_value.tv_sec = endpoint_gone_ms / 1000;
	its.it_value.tv_nsec = (long)(endpoint_gone_ms % 1000) * 1000000L;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	(void)timerfd_settime(ep->gone.fd, 0, &its, NULL);
}

static void
disarm_gone(struct endpoint *ep)
{
	if (ep->gone.fd < 0)
		return;
	loop_del(&ep->gone);
	(void)close(ep->gone.fd);
	ep->gone.fd = -1;
}

int
endpoint_attach(struct endpoint *ep, struct peer *adapter,
    const vmsig_memctx_reg *reg)
{
	if (ep->adapter != NULL)
		return -EEXIST;
	disarm_gone(ep);
	ep->adapter = adapter;
	ep->reg = *reg;
	ep->reg.endpoint = ep->id;
	return 0;
}

void
endpoint_detach(struct endpoint *ep)
{
	if (ep->adapter == NULL)
		return;
	if (ep->has_ctx)
		end_context(ep, "the helper left");
	adapter_free(ep->reg.ctx);
	memset(&ep->reg, 0, sizeof(ep->reg));
	ep->adapter = NULL;
	/* Holders heard of this endpoint only if it ever had a context. */
	if (ep->epoch > 0)
		arm_gone(ep);
	if (ep->gone.fd < 0)
		ep->name[0] = '\0';	/* gone now: nobody waits for it */
}

void
endpoint_send_to(struct endpoint *ep, struct peer *p, uint32_t type,
    const void *inln)
{
	int n;

	ep->seq++;
	n = msg_pack_event(ep_buf, sizeof(ep_buf), type, ep->id, ep->epoch,
	    ep->seq, inln);
	if (n > 0)
		(void)peer_send(p, ep_buf, (size_t)n, -1);
}
