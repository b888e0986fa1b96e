/* SPDX-License-Identifier: MIT */
/*
 * vmsigd/admit.c: admission at accept, on real SOCK_SEQPACKET socketpairs
 * (SO_PEERCRED is the kernel's: the creator's credentials).  What is
 * asserted: a uid the policy does not admit is refused with Error{EPERM}
 * and no peer record; connections are counted per uid and in all, and the
 * caps refuse with EUSERS and EMFILE; a drop gives the count back; refused
 * sockets linger shut down (the client reads the Error, then EOF, and its
 * late Hello does not meet EPIPE), at most LINGER_MAX of them, the oldest
 * closed first; refusals are logged at most 5 a second, with a count of
 * the rest; a connection without Hello is closed at the deadline and one
 * with Hello is not; adapters are not subject to the holder caps.  Tests
 * that need the event loop (once per process) or another uid run in a
 * child made by t_fork().
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"
#include "../common/corefix.h"
#include "../common/tproc.h"
#include "../../vmsigd/vmsigd.h"

/* main.c owns it in vmsigd; peer.c counts into it. */
struct counters counters;

#define LINGER_MAX	64	/* admit.c */


static unsigned char rbuf[VMSIG_FRAME_MAX];
static struct wire_arena *arena;

/* ---- log capture (tests/common/corefix.c) ---------------------------- */
static char cap_text[65536];

/* ---- helpers ----------------------------------------------------------- */
static int
nfds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHK(d != NULL);
	while ((e = readdir(d)) != NULL && n < 100000)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;		/* the directory's own */
}

/* A connection to socket kind: returns the client end; *ret_p is the peer
 * admitted (NULL when refused). */
static int
conn(enum sock_kind kind, struct peer **ret_p)
{
	struct peer *before = peer_first(), *p;
	int sv[2];

	CHK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv) == 0);
	admit_accept(sv[0], kind);
	p = peer_first();
	if (p != before) {
		CHK(p != NULL && peer_fd(p) == sv[0]);
		*ret_p = p;
	} else
		*ret_p = NULL;
	return sv[1];
}

/* The Error the client end holds: its code, and its text in *ret_text. */
static int
read_error(int cfd, const char **ret_text)
{
	struct msg m;
	const char *why = NULL;
	ssize_t n;

	n = recv(cfd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
	CHK(n > 0);
	CHK(msg_decode(arena, rbuf, (size_t)n, 0, &m, &why) == 0);
	CHK(m.type == MSG_ERROR);
	*ret_text = m.u.error.message;
	return (int)m.u.error.code;
}

static short
revents(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };

	CHK(poll(&pfd, 1, 0) >= 0);
	return pfd.revents;
}

/* Whether p is a live peer: safe after the loop ran (it frees the dead). */
static int
alive(const struct peer *p)
{
	struct peer *q;
	int i;

	for (q = peer_first(), i = 0; q != NULL && i < 100000;
	    q = peer_next(q), i++)
		if (q == p)
			return 1;
	return 0;
}

/* ---- fixtures ---------------------------------------------------------- */
static int
group_setup(void **s)
{
	const char *why = NULL;
	char rule[32];

	(void)s;
	log_init("test_admit", LOG_LVL_INFO, 0);
	if (loop_init() < 0 || (arena = wire_arena_new()) == NULL)
		return -1;
	/* Holders: us and nobody; adapters: nobody only. */
	(void)snprintf(rule, sizeof(rule), "uid:%u", (unsigned)getuid());
	if (policy_add(POLICY_HOLDERS, rule, &why) < 0 ||
	    policy_add(POLICY_HOLDERS, "uid:65534", &why) < 0 ||
	    policy_add(POLICY_ADAPTERS, "uid:65534", &why) < 0)
		return -1;
	if (getuid() == 65534)
		return -1;
	limits.hello_ms = 60000;
	return 0;
}

static int
setup(void **s)
{
	(void)s;
	limits.conn_per_uid = 1000;
	limits.conn_total = 1000;
	return 0;
}


/* ---- tests --------------------------------------------------------------- */

/* Policy refuses at accept: Error{EPERM} naming the rule and the uid, no
 * peer, no count; the socket lingers shut down, so the client reads the
 * Error, then EOF, and a Hello it already had on the way does not fail. */
static void
t_policy_refused(void **s)
{
	struct peer *p;
	const char *text = NULL;
	char want[96];
	unsigned int n0 = admit_count(getuid());
	int cfd;

	(void)s;
	cfd = conn(SOCK_ADAPTER, &p);
	CHK(p == NULL);
	CHK(admit_count(getuid()) == n0);
	CHK(read_error(cfd, &text) == EPERM);
	(void)snprintf(want, sizeof(want), "policy: rule 'adapters' does not "
	    "admit uid %u", (unsigned)getuid());
	CHK(strstr(text, want) != NULL);
	CHK(strstr(text, "vmsigd.conf(5)") != NULL);
	CHK(recv(cfd, rbuf, sizeof(rbuf), MSG_DONTWAIT) == 0);	/* EOF */
	CHK(send(cfd, "hello", 5, MSG_DONTWAIT | MSG_NOSIGNAL) == 5);
	CHK(!(revents(cfd) & POLLHUP));		/* lingering, not closed */
	(void)close(cfd);
}

/* Not a socket: SO_PEERCRED fails, the descriptor is closed, no peer. */
static void
t_not_a_socket(void **s)
{
	struct peer *before = peer_first();
	int pfd[2];

	(void)s;
	CHK(pipe2(pfd, O_CLOEXEC) == 0);
	admit_accept(pfd[0], SOCK_HOLDER);
	CHK(peer_first() == before);
	CHK(fcntl(pfd[0], F_GETFD) == -1 && errno == EBADF);
	(void)close(pfd[1]);
}

/* Per uid: at the cap the next holder is refused with EUSERS; the rule
 * that admitted a peer is recorded; a drop gives the place back. */
static void
t_per_uid_cap(void **s)
{
	struct peer *a, *b, *c;
	const char *text = NULL;
	uid_t uid = getuid();
	unsigned int n0 = admit_count(uid);
	char rule[32];
	int ca, cb, cc;

	(void)s;
	limits.conn_per_uid = n0 + 2;
	ca = conn(SOCK_HOLDER, &a);
	cb = conn(SOCK_HOLDER, &b);
	CHK(a != NULL && b != NULL);
	CHK(admit_count(uid) == n0 + 2);
	(void)snprintf(rule, sizeof(rule), "uid:%u", (unsigned)uid);
	CHK(peer_rule(a) != NULL && strstr(peer_rule(a), rule) != NULL);
	CHK(peer_role(a) == ROLE_NEW && peer_kind(a) == SOCK_HOLDER);
	cc = conn(SOCK_HOLDER, &c);
	CHK(c == NULL);
	CHK(admit_count(uid) == n0 + 2);
	CHK(read_error(cc, &text) == EUSERS);
	(void)snprintf(rule, sizeof(rule), "already has %u connections",
	    n0 + 2);
	CHK(strstr(text, rule) != NULL);
	CHK(strstr(text, "max-connections-per-uid") != NULL);
	(void)close(cc);
	/* A drop (nothing in flight) gives the place back at once. */
	peer_drop(a, "test");
	CHK(admit_count(uid) == n0 + 1);
	cc = conn(SOCK_HOLDER, &c);
	CHK(c != NULL);
	CHK(admit_count(uid) == n0 + 2);
	peer_drop(b, "test");
	peer_drop(c, "test");
	CHK(admit_count(uid) == n0);
	(void)close(ca);
	(void)close(cb);
	(void)close(cc);
}

/* In all: at conn_total the next holder is refused with EMFILE. */
static void
t_total_cap(void **s)
{
	struct peer *a, *b;
	const char *text = NULL;
	uid_t uid = getuid();
	unsigned int n0 = admit_count(uid);
	int ca, cb;

	(void)s;
	/* Every connection of this process is ours (one uid). */
	limits.conn_total = n0 + 1;
	ca = conn(SOCK_HOLDER, &a);
	CHK(a != NULL);
	cb = conn(SOCK_HOLDER, &b);
	CHK(b == NULL);
	CHK(read_error(cb, &text) == EMFILE);
	CHK(strstr(text, "its limit") != NULL);
	CHK(admit_count(uid) == n0 + 1);
	peer_drop(a, "test");
	CHK(admit_count(uid) == n0);
	(void)close(ca);
	(void)close(cb);
}

/* A flood of refusals costs at most LINGER_MAX descriptors: the oldest
 * lingering socket is closed first (its client sees POLLHUP), the newest
 * still lingers. */
static void
t_linger_bounded(void **s)
{
	struct peer *p;
	int first, last, n0, i, cfd;

	(void)s;
	n0 = nfds_open();
	first = conn(SOCK_ADAPTER, &p);
	CHK(p == NULL);
	for (i = 0; i < LINGER_MAX + 20; i++) {
		cfd = conn(SOCK_ADAPTER, &p);
		CHK(p == NULL);
		(void)close(cfd);
	}
	last = conn(SOCK_ADAPTER, &p);
	CHK(p == NULL);
	/* first and last client ends, plus at most LINGER_MAX of ours. */
	CHK(nfds_open() <= n0 + 2 + LINGER_MAX);
	CHK(revents(first) & POLLHUP);
	CHK(!(revents(last) & POLLHUP));
	(void)close(first);
	(void)close(last);
}

/* Block for ms on a timerfd. */
static void
wait_ms(unsigned int ms)
{
	struct itimerspec its = { 0 };
	uint64_t ticks;
	int tfd;

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	CHK(tfd >= 0);
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	CHK(timerfd_settime(tfd, 0, &its, NULL) == 0);
	CHK(read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks));
	(void)close(tfd);
}

/* Refusals are logged at most 5 a second; the first line of the next
 * second says how many were not.  Two waits of a second (the window is
 * admit.c's, and earlier tests may have used this one up). */
static void
t_refusal_log_limited(void **s)
{
	struct peer *p;
	const char *log;
	uint64_t t0;
	int i;

	(void)s;
	wait_ms(1010);
	CHK(cf_cap_begin() == 0);
	t0 = loop_now_ms();
	for (i = 0; i < 40; i++)
		(void)close(conn(SOCK_ADAPTER, &p));
	log = cf_cap_end(cap_text, sizeof(cap_text));
	if (loop_now_ms() - t0 >= 1000)
		skip();		/* the burst outlasted its window */
	CHK(cf_count_of(log, "adapter socket: refused pid") == 5);
	/* Only the first may speak of earlier tests' held-back lines. */
	CHK(cf_count_of(log, "not logged)") <= 1);
	CHK(strchr(log, '\n') != NULL && (strstr(log, "not logged)") ==
	    NULL || strstr(log, "not logged)") < strchr(log, '\n')));
	wait_ms(1010);
	CHK(cf_cap_begin() == 0);
	(void)close(conn(SOCK_ADAPTER, &p));
	log = cf_cap_end(cap_text, sizeof(cap_text));
	CHK(cf_count_of(log, "adapter socket: refused pid") == 1);
	CHK(strstr(log, "(and 35 refusals not logged)") != NULL);
	CHK(strstr(log, "does not admit uid") != NULL);
}

/* ---- tests in a child ---------------------------------------------------- */
static struct {
	int slow_cfd, lingering_cfd;
	int slow_gone, linger_gone;
	uint64_t t0, slow_ms;
	int done;
} hs;

static void
on_check(struct loop_src *src, uint32_t events)
{
	uint64_t t;

	(void)events;
	(void)!read(src->fd, &t, sizeof(t));
	if (!hs.slow_gone && (revents(hs.slow_cfd) & POLLIN)) {
		hs.slow_gone = 1;
		hs.slow_ms = loop_now_ms() - hs.t0;
	}
	if (!hs.linger_gone && (revents(hs.lingering_cfd) & POLLHUP))
		hs.linger_gone = 1;
	if (hs.slow_gone && hs.linger_gone) {
		hs.done = 1;
		loop_quit();
	}
}

static void
on_guard(struct loop_src *src, uint32_t events)
{
	(void)src;
	(void)events;
	loop_quit();
}

static void
add_timer(struct loop_src *src, unsigned int ms, int periodic,
    void (*cb)(struct loop_src *, uint32_t))
{
	struct itimerspec its = { 0 };

	src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHK(src->fd >= 0);
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (periodic)
		its.it_interval = its.it_value;
	CHK(timerfd_settime(src->fd, 0, &its, NULL) == 0);
	src->cb = cb;
	CHK(loop_add(src, EPOLLIN) == 0);
}

/* No Hello within hello_ms: Error{ETIMEDOUT}, closed, count back; a peer
 * that said Hello stays.  A refused socket lingers only ~LINGER_MS. */
static void
child_hello_deadline(void)
{
	struct loop_src chk = { .fd = -1 }, guard = { .fd = -1 };
	struct peer *slow, *quick, *refused;
	const char *text = NULL;
	unsigned int n0;
	int quick_cfd;

	CHK(loop_init() == 0);
	CHK(admit_init() == 0);
	limits.hello_ms = 100;
	n0 = admit_count(getuid());
	hs.t0 = loop_now_ms();
	hs.slow_cfd = conn(SOCK_HOLDER, &slow);
	quick_cfd = conn(SOCK_HOLDER, &quick);
	CHK(slow != NULL && quick != NULL);
	peer_set_hello(quick, ROLE_HOLDER, "quick");
	hs.lingering_cfd = conn(SOCK_ADAPTER, &refused);
	CHK(refused == NULL);
	CHK(!(revents(hs.lingering_cfd) & POLLHUP));
	CHK(admit_count(getuid()) == n0 + 2);
	add_timer(&chk, 5, 1, on_check);
	add_timer(&guard, 3000, 0, on_guard);
	CHK(loop_run() == 0);
	CHK(hs.done);
	CHK(hs.slow_ms >= 100);
	CHK(read_error(hs.slow_cfd, &text) == ETIMEDOUT);
	CHK(strstr(text, "no Hello within 100 ms") != NULL);
	CHK(strstr(text, "hello-timeout-ms") != NULL);
	CHK(recv(hs.slow_cfd, rbuf, sizeof(rbuf), MSG_DONTWAIT) == 0);
	CHK(!alive(slow));
	CHK(alive(quick));
	CHK(!(revents(quick_cfd) & (POLLIN | POLLHUP)));
	CHK(admit_count(getuid()) == n0 + 1);
}

static void
t_hello_deadline(void **s)
{
	(void)s;
	cf_in_a_child(child_hello_deadline);
}

/* Adapters are not subject to the holder caps (nobody's connections: the
 * adapters rule admits uid 65534). */
static void
child_adapter_uncapped(void)
{
	struct peer *h1, *h2, *ad;
	const char *text = NULL;
	int c1, c2, c3;

	CHK(setresgid(65534, 65534, 65534) == 0 &&
	    setresuid(65534, 65534, 65534) == 0);
	CHK(admit_count(65534) == 0);
	limits.conn_per_uid = 1;
	c1 = conn(SOCK_HOLDER, &h1);
	CHK(h1 != NULL);
	c2 = conn(SOCK_HOLDER, &h2);
	CHK(h2 == NULL);
	CHK(read_error(c2, &text) == EUSERS);
	c3 = conn(SOCK_ADAPTER, &ad);
	CHK(ad != NULL && peer_kind(ad) == SOCK_ADAPTER);
	CHK(admit_count(65534) == 2);
	(void)close(c1);
	(void)close(c3);
}

static void
t_adapter_uncapped(void **s)
{
	(void)s;
	t_need_root("the connections come from uid 65534");
	cf_in_a_child(child_adapter_uncapped);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_policy_refused, setup),
		cmocka_unit_test_setup(t_not_a_socket, setup),
		cmocka_unit_test_setup(t_per_uid_cap, setup),
		cmocka_unit_test_setup(t_total_cap, setup),
		cmocka_unit_test_setup(t_linger_bounded, setup),
		cmocka_unit_test_setup(t_hello_deadline, setup),
		cmocka_unit_test_setup(t_adapter_uncapped, setup),
		cmocka_unit_test_setup(t_refusal_log_limited, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
