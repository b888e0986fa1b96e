/* SPDX-License-Identifier: MIT */
/*
 * Descriptors in flight, per holder.  Every MEMCTX carries a descriptor,
 * and a descriptor sent is charged by the kernel to vmsigd's user until the
 * receiver reads it (or closes its socket): past RLIMIT_NOFILE of them,
 * every sendmsg with a descriptor fails with ETOOMANYREFS, for every
 * holder alike.  So a holder that never reads must not be able to collect
 * them.  The accounting:
 *
 *  - fds: frames with a descriptor sent to the peer since its socket was
 *    last seen empty (SIOCOUTQ 0: the receiver took everything).  An upper
 *    bound of what may sit unread; at limits.peer_fds the socket is asked
 *    again, and if it still holds data the context is owed instead of sent.
 *  - owed: per endpoint, "send the current context when you can".  Owing
 *    coalesces: however many epochs or Subscribes pass, one frame with one
 *    descriptor goes out, of the epoch current then.  A timer asks the
 *    sockets of owing peers again (10 ms, backing off to 1 s) and a drained
 *    frame queue asks at once (sendq_kick).
 *  - sent epoch, per endpoint: a re-Subscribe replays only a context the
 *    peer was not yet sent in the current epoch.
 *  - limits.fds_total: the sum of all peers' fds, half of RLIMIT_NOFILE
 *    (main.c).  At it, only a peer that has read everything (fds 0) is
 *    sent a context, from a reserve of another quarter: holders that do
 *    not read cannot starve those that do, and we stay below the kernel's
 *    limit, so ETOOMANYREFS does not happen at all; if it happens anyway
 *    (another process of our uid), that frame is owed, nobody is dropped.
 *  - kept sockets: closing our end does not take back what sits unread in
 *    the other end, so a dropped holder's socket is shut down (it sees EOF
 *    after what it has) but kept, and counted against its uid (admit.c),
 *    until SIOCOUTQ says its queue is gone.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "log.h"
#include "vmsigd.h"

#define SENDQ_TICK_MS	10
#define SENDQ_BACKOFF_MAX	1000
#define KEPT_BACKOFF_MAX	250

struct sq_ent {
	uint32_t ep;
	uint32_t epoch;		/* last sent (or refused) */
	int owed;
};

struct sendq {
	struct peer *p;
	struct sendq *next, *prev;	/* owing peers */
	int listed;
	unsigned int fds;
	uint64_t check_ms;
	unsigned int backoff_ms;
	struct sq_ent *e;
	unsigned int n, cap;
};

struct kept {
	struct kept *next;
	int fd;
	uid_t uid;
	unsigned int fds;
	uint64_t check_ms;
	unsigned int backoff_ms;
};

static struct sendq *owing;
static struct kept *kept;
static unsigned int sq_inflight, sq_nkept;
static struct loop_src sq_timer = { .fd = -1 };
static int sq_armed;
static uint64_t sq_swept_ms;
static struct ratelimit rl_limit;

/* Bytes the receiver has not taken yet; -1 if unknown (treat as some). */
static int
outq(int fd)
{
	int v = 0;

	if (fd < 0 || ioctl(fd, SIOCOUTQ, &v) == -1)
		return -1;
	return v;
}

static void
arm(int on)
{
	struct itimerspec its = { 0 };

	if (sq_timer.fd < 0 || sq_armed == on)
		return;
	if (on) {
		its.it_value.tv_nsec = SENDQ_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(sq_timer.fd, 0, &its, NULL) == 0)
		sq_armed = on;
}

static struct sendq *
get(struct peer *p)
{
	struct sendq *sq = peer_sendq(p);

	if (sq == NULL) {
		if ((sq = calloc(1, sizeof(*sq))) == NULL)
			return NULL;
		sq->p = p;
		peer_set_sendq(p, sq);
	}
	return sq;
}

static struct sq_ent *
ent(struct sendq *sq, uint32_t epid, int create)
{
	unsigned int i;

	for (i = 0; i < sq->n; i++)
		if (sq->e[i].ep == epid)
			return &sq->e[i];
	if (!create)
		return NULL;
	if (sq->n == sq->cap) {
		unsigned int cap = sq->cap ? sq->cap * 2 : 2;
		struct sq_ent *e = realloc(sq->e, cap * sizeof(*e));

		if (e == NULL)
			return NULL;
		sq->e = e;
		sq->cap = cap;
	}
	memset(&sq->e[sq->n], 0, sizeof(sq->e[0]));
	sq->e[sq->n].ep = epid;
	return &sq->e[sq->n++];
}

static void
list_add(struct sendq *sq)
{
	if (sq->listed)
		return;
	sq->listed = 1;
	sq->prev = NULL;
	sq->next = owing;
	if (owing != NULL)
		owing->prev = sq;
	owing = sq;
	sq->backoff_ms = SENDQ_TICK_MS;
	sq->check_ms = loop_now_ms() + sq->backoff_ms;
	arm(1);
}

static void
list_del(struct sendq *sq)
{
	if (!sq->listed)
		return;
	if (sq->prev != NULL)
		sq->prev->next = sq->next;
	else
		owing = sq->next;
	if (sq->next != NULL)
		sq->next->prev = sq->prev;
	sq->listed = 0;
}

/* The receiver took everything we sent: nothing of ours is in flight. */
static void
refresh(struct sendq *sq)
{
	if (sq->fds > 0 && outq(peer_fd(sq->p)) == 0) {
		sq_inflight -= sq->fds;
		sq->fds = 0;
	}
}

/* At the global limit: ask every socket with descriptors in it, at most
 * every 100 ms (each is one ioctl). */
static void
sweep(void)
{
	uint64_t now = loop_now_ms();
	struct peer *p;

	if (now - sq_swept_ms < 100)
		return;
	sq_swept_ms = now;
	for (p = peer_first(); p != NULL; p = peer_next(p))
		if (peer_sendq(p) != NULL)
			refresh(peer_sendq(p));
}

static int
can_send(struct sendq *sq)
{
	unsigned int held = 0;

	if (sq->fds >= limits.peer_fds)
		refresh(sq);
	if (sq->fds >= limits.peer_fds)
		return 0;
	if (sq_inflight >= limits.fds_total)
		sweep();
	if (sq_inflight < limits.fds_total)
		return 1;
	/* At the limit, what is pinned is pinned by holders that do not
	 * read.  One that has read everything still gets its context, from
	 * a reserve of half as much again: readers are never starved. */
	refresh(sq);
	if (sq->fds == 0 && sq_inflight < limits.fds_total +
	    limits.fds_total / 2)
		return 1;
	if (ratelimit_ok(&rl_limit, 1, 10000, &held))
		log_warnx("%u descriptors unread in holders' sockets, the "
		    "limit: deferring contexts (%u such waits not logged)",
		    sq_inflight, held);
	return 0;
}

int
sendq_has(struct peer *p, uint32_t epid, uint32_t epoch)
{
	struct sendq *sq = peer_sendq(p);
	struct sq_ent *e = sq != NULL ? ent(sq, epid, 0) : NULL;

	return e != NULL && (e->owed || e->epoch == epoch);
}

void
sendq_mark(struct peer *p, uint32_t epid, uint32_t epoch)
{
	struct sendq *sq = get(p);
	struct sq_ent *e = sq != NULL ? ent(sq, epid, 1) : NULL;

	if (e != NULL) {
		e->epoch = epoch;
		e->owed = 0;
	}
}

void
sendq_owe(struct peer *p, uint32_t epid)
{
	struct sendq *sq = get(p);
	struct sq_ent *e = sq != NULL ? ent(sq, epid, 1) : NULL;

	if (e == NULL) {
		peer_drop(p, "out of memory tracking its descriptors");
		return;
	}
	e->owed = 1;
	list_add(sq);
}

void
sendq_offer(struct peer *p, uint32_t epid, uint32_t epoch, const void *buf,
    size_t len, int fd)
{
	struct sendq *sq = get(p);
	struct sq_ent *e = sq != NULL ? ent(sq, epid, 1) : NULL;
	unsigned int held = 0;
	int r;

	if (e == NULL) {
		peer_drop(p, "out of memory tracking its descriptors");
		return;
	}
	if (!e->owed && e->epoch == epoch)
		return;
	if (!can_send(sq)) {
		e->owed = 1;
		list_add(sq);
		return;
	}
	r = peer_send(p, buf, len, fd);
	if (r == 0) {
		e->epoch = epoch;
		e->owed = 0;
		sq->fds++;
		sq_inflight++;
		return;
	}
	if (peer_dead(p))
		return;
	e->owed = 1;
	list_add(sq);
	if (r == -ETOOMANYREFS && ratelimit_ok(&rl_limit, 1, 10000, &held))
		log_warnx("peer %u: too many descriptors in flight for our "
		    "uid (ETOOMANYREFS); deferring (%u such waits not "
		    "logged)", peer_id(p), held);
}

/* Send what sq's peer is owed, as far as it can take it. */
static void
deliver(struct sendq *sq)
{
	struct peer *p = sq->p;
	unsigned int i;

	for (i = 0; i < sq->n && !peer_dead(p); i++) {
		struct sq_ent *e = &sq->e[i];
		struct endpoint *ep;

		if (!e->owed)
			continue;
		ep = endpoint_get(e->ep, 0);
		if (ep == NULL || !endpoint_has_context(ep) ||
		    !peer_wants(p, e->ep, VMSIG_EV_MEMCTX)) {
			e->owed = 0;
			continue;
		}
		endpoint_deliver(ep, p);
		if (e->owed)
			return;		/* still full: keep the rest */
	}
	if (!peer_dead(p))
		list_del(sq);
}

void
sendq_kick(struct peer *p)
{
	struct sendq *sq = peer_sendq(p);

	if (sq != NULL && sq->listed)
		deliver(sq);
}

static void
tick_owing(uint64_t now)
{
	struct sendq *sq, *nx;

	for (sq = owing; sq != NULL; sq = nx) {
		nx = sq->next;
		if (now < sq->check_ms || peer_queued(sq->p) > 0)
			continue;	/* a drained queue kicks it */
		refresh(sq);
		if (sq->fds < limits.peer_fds) {
			sq->backoff_ms = SENDQ_TICK_MS;
			deliver(sq);
			if (!sq->listed)
				continue;
		}
		if (sq->backoff_ms < SENDQ_BACKOFF_MAX)
			sq->backoff_ms *= 2;
		sq->check_ms = now + sq->backoff_ms;
	}
}

static void
tick_kept(uint64_t now)
{
	struct kept **k = &kept, *dead;

	while (*k != NULL) {
		if (now < (*k)->check_ms) {
			k = &(*k)->next;
			continue;
		}
		if (outq((*k)->fd) > 0) {
			if ((*k)->backoff_ms < KEPT_BACKOFF_MAX)
				(*k)->backoff_ms *= 2;
			(*k)->check_ms = now + (*k)->backoff_ms;
			k = &(*k)->next;
			continue;
		}
		dead = *k;
		*k = dead->next;
		(void)close(dead->fd);
		admit_uid_put(dead->uid);
		sq_inflight -= dead->fds;
		sq_nkept--;
		free(dead);
	}
}

static void
on_tick(struct loop_src *src, uint32_t events)
{
	uint64_t ticks, now = loop_now_ms();

	(void)events;
	(void)!read(src->fd, &ticks, sizeof(ticks));
	tick_owing(now);
	tick_kept(now);
	if (owing == NULL && kept == NULL)
		arm(0);
}

int
sendq_init(void)
{
	sq_timer.fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC);
	if (sq_timer.fd == -1)
		return -errno;
	sq_timer.cb = on_tick;
	return loop_add(&sq_timer, EPOLLIN);
}

void
sendq_peer_gone(struct peer *p, int fd)
{
	struct sendq *sq = peer_sendq(p);
	unsigned int fds = sq != NULL ? sq->fds : 0;
	struct kept *k;

	if (sq != NULL) {
		list_del(sq);
		sq->fds = 0;
	}
	if (fds > 0 && outq(fd) != 0 && (k = calloc(1, sizeof(*k))) != NULL) {
		/* EOF for the peer after what it has; ours stays open. */
		(void)shutdown(fd, SHUT_WR);
		k->fd = fd;
		k->uid = peer_uid(p);
		k->fds = fds;
		k->backoff_ms = SENDQ_TICK_MS;
		k->check_ms = loop_now_ms() + k->backoff_ms;
		k->next = kept;
		kept = k;
		sq_nkept++;
		arm(1);
		return;
	}
	(void)close(fd);
	admit_uid_put(peer_uid(p));
	sq_inflight -= fds;
}

void
sendq_free(struct peer *p)
{
	struct sendq *sq = peer_sendq(p);

	if (sq == NULL)
		return;
	list_del(sq);
	free(sq->e);
	free(sq);
	peer_set_sendq(p, NULL);
}

unsigned int
sendq_inflight(void)
{
	return sq_inflight;
}

unsigned int
sendq_kept(void)
{
	return sq_nkept;
}
