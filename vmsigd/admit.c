/* SPDX-License-Identifier: MIT */
/*
 * Admission at accept, before a connection costs anything: the policy is
 * checked on SO_PEERCRED right away (a uid no rule admits gets Error{EPERM}
 * and is closed at once, without a peer record), connections are counted
 * per uid (limits.conn_per_uid) and in all (limits.conn_total, below the
 * descriptor limit so adapters and timers always find room), and a
 * connection that has not sent Hello within limits.hello_ms is closed.
 * Refusals are logged at most 5 times a second, with a count of the rest.
 * A refused socket lingers, shut down, for about LINGER_MS so that a
 * client whose Hello was still on its way reads our Error rather than
 * EPIPE; at most LINGER_MAX linger, the oldest closed first, so a flood
 * costs no more descriptors than that.
 *
 * A uid's count covers its live connections and the sockets sendq.c keeps
 * after a drop while descriptors we sent may still sit unread in them: a
 * peer cannot pin descriptors beyond its cap by reconnecting.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "vmsigd.h"
#include "wire.h"

#define ADMIT_BUCKETS	256
#define HELLO_TICK_MS	250
#define LINGER_MS	200
#define LINGER_MAX	64

struct uidc {
	struct uidc *next;
	uid_t uid;
	unsigned int n;
};

static struct uidc *admit_uids[ADMIT_BUCKETS];
static unsigned int admit_total;
static struct loop_src hello_timer = { .fd = -1 };
static int hello_armed;
static struct ratelimit rl_refuse;
static struct {
	int fd;
	uint64_t at;
} linger[LINGER_MAX];
static unsigned int linger_head, linger_n;

static struct uidc **
slot(uid_t uid)
{
	struct uidc **u = &admit_uids[(unsigned int)uid % ADMIT_BUCKETS];

	while (*u != NULL && (*u)->uid != uid)
		u = &(*u)->next;
	return u;
}

unsigned int
admit_count(uid_t uid)
{
	struct uidc **u = slot(uid);

	return *u != NULL ? (*u)->n : 0;
}

static int
uid_get(uid_t uid)
{
	struct uidc **u = slot(uid);

	if (*u == NULL) {
		if ((*u = calloc(1, sizeof(**u))) == NULL)
			return -ENOMEM;
		(*u)->uid = uid;
	}
	(*u)->n++;
	admit_total++;
	return 0;
}

void
admit_uid_put(uid_t uid)
{
	struct uidc **u = slot(uid), *dead;

	if (*u == NULL)
		return;
	admit_total--;
	if (--(*u)->n == 0) {
		dead = *u;
		*u = dead->next;
		free(dead);
	}
}

static void hello_arm(int on);

/* Closing with its Hello unread would hand the peer ECONNRESET instead of
 * our Error: take what is there first (descriptors that came with it are
 * released by the kernel: no control buffer). */
static void
drain_close(int fd)
{
	unsigned char buf[256];
	int i;

	for (i = 0; i < 4; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	(void)close(fd);
}

static void
linger_pop(void)
{
	drain_close(linger[linger_head].fd);
	linger_head = (linger_head + 1) % LINGER_MAX;
	linger_n--;
}

static void
linger_add(int fd)
{
	if (linger_n == LINGER_MAX)
		linger_pop();
	(void)shutdown(fd, SHUT_WR);
	linger[(linger_head + linger_n) % LINGER_MAX].fd = fd;
	linger[(linger_head + linger_n) % LINGER_MAX].at = loop_now_ms();
	linger_n++;
	hello_arm(1);
}

/* Best effort Error on a socket we close soon after: no peer record. */
static void
refuse(int fd, const struct ucred *cr, enum sock_kind kind, int code,
    const char *fmt, ...)
{
	char text[VMSIG_MSG_MAX];
	unsigned char buf[VMSIG_MSG_MAX + 64];
	unsigned int held = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	n = msg_pack_error(buf, sizeof(buf), 0, code, text);
	if (n > 0)
		(void)send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	linger_add(fd);
	if (ratelimit_ok(&rl_refuse, 5, 1000, &held))
		log_info("%s socket: refused pid %d uid %u: %s%s%.0u%s",
		    kind == SOCK_HOLDER ? "holder" : "adapter", (int)cr->pid,
		    (unsigned)cr->uid, text, held ? " (and " : "", held,
		    held ? " refusals not logged)" : "");
}

static void
hello_arm(int on)
{
	struct itimerspec its = { 0 };

	if (hello_timer.fd < 0 || hello_armed == on)
		return;
	if (on) {
		its.it_value.tv_nsec = HELLO_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(hello_timer.fd, 0, &its, NULL) == 0)
		hello_armed = on;
}

/* Close connections that did not say Hello in time; disarm when none
 * waits.  One pass over the peers a few times a second is cheap next to
 * what the connections themselves cost. */
static void
on_hello_tick(struct loop_src *src, uint32_t events)
{
	uint64_t ticks, now = loop_now_ms();
	struct peer *p, *nx;
	unsigned int waiting = 0;

	(void)events;
	(void)!read(src->fd, &ticks, sizeof(ticks));
	for (p = peer_first(); p != NULL; p = nx) {
		nx = peer_next(p);
		if (peer_role(p) != ROLE_NEW)
			continue;
		if (now - peer_since_ms(p) < limits.hello_ms) {
			waiting++;
			continue;
		}
		peer_fail(p, 0, ETIMEDOUT, "no Hello within %u ms of "
		    "connecting; closed (hello-timeout-ms in vmsigd.conf(5))",
		    limits.hello_ms);
	}
	while (linger_n > 0 && now - linger[linger_head].at >= LINGER_MS)
		linger_pop();
	if (waiting == 0 && linger_n == 0)
		hello_arm(0);
}

int
admit_init(void)
{
	hello_timer.fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC);
	if (hello_timer.fd == -1)
		return -errno;
	hello_timer.cb = on_hello_tick;
	return loop_add(&hello_timer, EPOLLIN);
}

void
admit_accept(int fd, enum sock_kind kind)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	const char *rule;
	struct peer *p;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		(void)close(fd);
		return;
	}
	rule = policy_match(kind == SOCK_HOLDER ? POLICY_HOLDERS :
	    POLICY_ADAPTERS, cr.uid, cr.gid);
	if (rule == NULL) {
		refuse(fd, &cr, kind, EPERM, "policy: rule '%s' does not "
		    "admit uid %u (gid %u, pid %d); see vmsigd.conf(5)",
		    kind == SOCK_HOLDER ? "holders" : "adapters",
		    (unsigned)cr.uid, (unsigned)cr.gid, (int)cr.pid);
		return;
	}
	if (kind == SOCK_HOLDER && admit_count(cr.uid) >= limits.conn_per_uid) {
		refuse(fd, &cr, kind, EUSERS, "uid %u already has %u "
		    "connections, the most max-connections-per-uid allows "
		    "(vmsigd.conf(5)); close some", (unsigned)cr.uid,
		    admit_count(cr.uid));
		return;
	}
	if (kind == SOCK_HOLDER && admit_total >= limits.conn_total) {
		refuse(fd, &cr, kind, EMFILE, "vmsigd holds %u connections, "
		    "its limit (RLIMIT_NOFILE less a reserve for helpers)",
		    admit_total);
		return;
	}
	if (uid_get(cr.uid) < 0) {
		(void)close(fd);
		return;
	}
	if (peer_new(fd, kind, &p) < 0) {
		admit_uid_put(cr.uid);
		(void)close(fd);
		return;
	}
	peer_set_rule(p, rule);
	hello_arm(1);
}
