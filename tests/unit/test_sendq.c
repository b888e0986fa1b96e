/* SPDX-License-Identifier: MIT */
/*
 * vmsigd/sendq.c: descriptors in flight per holder, on real SOCK_SEQPACKET
 * socketpairs and real descriptors.  Holders and the helper's proxy come in
 * through admit_accept() and the real peer, endpoint and adapter code; a
 * test holder "reads" by draining its end of the pair, and every context it
 * got is told apart by the size of its RAM file (one file per epoch, each
 * of its own size: inode numbers are reused as soon as a file is gone).
 * What is asserted: what reaches the holder (frames, descriptors, which
 * epoch), what is owed and coalesced, the per-holder and global limits and
 * the reserve for holders that read, deferral on EAGAIN and ETOOMANYREFS
 * without a drop, sockets kept after a drop while descriptors sit unread
 * in them (counted against the uid), and the timer that pays what is owed.
 * Tests that need the event loop (which runs once per process) or a
 * different uid run in a child made by t_fork().
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "log.h"
#include "../common/corefix.h"
#include "../common/tproc.h"
#include "wire.h"
#include "../../vmsigd/vmsigd.h"

/* main.c owns it in vmsigd; peer.c counts into it. */
struct counters counters;


static unsigned char rbuf[VMSIG_FRAME_MAX];
static uint32_t next_ep = 100;
static unsigned int next_file;	/* a size per RAM file */

/* ---- log capture (tests/common/corefix.c) ---------------------------- */
static char cap_text[8192];

/* ---- holders and the helper's proxy ------------------------------------ */
struct holder {
	struct peer *p;
	int cfd;		/* the holder's end */
	unsigned int frames, fdframes;
	off_t last_tag;		/* size of the last file received */
	int eof;
};

/* Connect through admission on socket kind; the newest peer is it. */
static struct peer *
connect_peer(enum sock_kind kind, int *ret_cfd)
{
	int sv[2];
	struct peer *p;

	CHK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv) == 0);
	admit_accept(sv[0], kind);
	p = peer_first();
	CHK(p != NULL && peer_fd(p) == sv[0]);
	*ret_cfd = sv[1];
	return p;
}

static void
holder_new(struct holder *h)
{
	memset(h, 0, sizeof(*h));
	h->p = connect_peer(SOCK_HOLDER, &h->cfd);
	peer_set_hello(h->p, ROLE_HOLDER, "test-holder");
	CHK(peer_subscribe(h->p, NULL, 0, 0) == 0);
}

/* Read everything waiting (at most 2000 frames); check each descriptor is
 * a read-only regular file and close it. */
static void
holder_read(struct holder *h)
{
	int i, r, fds[4];
	size_t len;
	unsigned int n;

	for (i = 0; i < 2000; i++) {
		r = fdpass_recv(h->cfd, rbuf, sizeof(rbuf), fds, 4, &len, &n);
		if (r == -EAGAIN)
			return;
		if (r == 0) {
			h->eof = 1;
			return;
		}
		CHK(r == 1);
		h->frames++;
		if (n > 0) {
			struct stat st;

			CHK(n == 1);
			CHK(fstat(fds[0], &st) == 0 && S_ISREG(st.st_mode));
			CHK((fcntl(fds[0], F_GETFL) & O_ACCMODE) == O_RDONLY);
			h->last_tag = st.st_size;
			h->fdframes++;
			fdpass_close(fds, n);
		}
	}
	CHK(!"holder_read: unbounded");
}

static void
holder_close(struct holder *h)
{
	if (!peer_dead(h->p))
		peer_drop(h->p, "test done");
	(void)close(h->cfd);
}

struct ep {
	struct peer *ad;
	int cfd;
	struct adapter *a;
	struct endpoint *ep;
	uint32_t id;
	off_t tag;		/* size of the current context's file */
};

static void
ep_new(struct ep *e)
{
	vmsig_memctx_reg reg;

	memset(e, 0, sizeof(*e));
	e->ad = connect_peer(SOCK_ADAPTER, &e->cfd);
	peer_set_hello(e->ad, ROLE_ADAPTER, "test-adapter");
	e->a = adapter_new(e->ad, &reg);
	CHK(e->a != NULL);
	e->id = next_ep++;
	e->ep = endpoint_get(e->id, 1);
	CHK(e->ep != NULL);
	CHK(endpoint_attach(e->ep, e->ad, &reg) == 0);
	peer_set_endpoint(e->ad, e->ep);
}

/* A fresh (sparse) read-only file of a size no other file of this
 * process had: its size tags the context it carries. */
static int
ep_file(struct ep *e)
{
	char path[256];
	struct stat st;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/test_sendq.XXXXXX",
	    t_tmpdir());
	fd = mkstemp(path);
	CHK(fd >= 0);
	CHK(ftruncate(fd, (off_t)4096 * (2 + next_file++)) == 0);
	(void)close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHK(fd >= 0);
	(void)unlink(path);
	CHK(fstat(fd, &st) == 0);
	e->tag = st.st_size;
	return fd;
}

/* The helper offers the context on fd: MEMCTX goes out. */
static void
ep_offer(struct ep *e, int fd)
{
	struct msg m;
	const char *why = NULL;

	memset(&m, 0, sizeof(m));
	m.type = MSG_MEMCTX_READY;
	m.fd = fd;
	m.u.ready.pod.kcr3 = 0x1aa000;
	m.u.ready.pod.low = 8192;
	m.u.ready.method = "test";
	CHK(adapter_set_context(e->a, &m, &why) == 0);
	endpoint_context_ready(e->ep);
}

static void
ep_ready(struct ep *e)
{
	ep_offer(e, ep_file(e));
}

/* The epoch moves on and the helper offers the next context. */
static void
ep_next(struct ep *e)
{
	int i;

	endpoint_invalidate(e->ep, "test");
	for (i = 0; i < 64; i++)	/* the helper reads its Invalidate */
		if (recv(e->cfd, rbuf, sizeof(rbuf), MSG_DONTWAIT) < 0)
			break;
	ep_ready(e);
}

static void
ep_close(struct ep *e)
{
	if (!peer_dead(e->ad))
		peer_drop(e->ad, "test done");
	(void)close(e->cfd);
}

static int
outq(int fd)
{
	int v = -1;

	CHK(ioctl(fd, SIOCOUTQ, &v) == 0);
	return v;
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
	log_init("test_sendq", LOG_LVL_WARN, 0);
	if (loop_init() < 0)
		return -1;
	(void)snprintf(rule, sizeof(rule), "uid:%u", (unsigned)getuid());
	if (policy_add(POLICY_HOLDERS, rule, &why) < 0 ||
	    policy_add(POLICY_ADAPTERS, rule, &why) < 0 ||
	    policy_add(POLICY_HOLDERS, "uid:65534", &why) < 0 ||
	    policy_add(POLICY_ADAPTERS, "uid:65534", &why) < 0)
		return -1;
	limits.conn_per_uid = 1000;
	limits.conn_total = 1000;
	limits.hello_ms = 60000;
	limits.deliver_to_owner = 1;
	return 0;
}

/* Every in-process test leaves nothing in flight. */
static int
setup(void **s)
{
	(void)s;
	limits.peer_fds = 4;
	limits.fds_total = 1000;
	return sendq_inflight() == 0 && sendq_kept() == 0 ? 0 : -1;
}


/* ---- in-process tests ---------------------------------------------------- */

/* A context goes out once per epoch, with one read-only descriptor, and is
 * counted in flight until the holder has read it. */
static void
t_send_once(void **s)
{
	struct holder h;
	struct ep e;

	(void)s;
	holder_new(&h);
	ep_new(&e);
	ep_ready(&e);
	CHK(sendq_has(h.p, e.id, 1));
	CHK(!sendq_has(h.p, e.id, 2));
	CHK(sendq_inflight() == 1);
	/* Offered again in the same epoch (a replay, a delivery): nothing. */
	endpoint_deliver(e.ep, h.p);
	endpoint_replay(h.p);
	holder_read(&h);
	CHK(h.frames == 1 && h.fdframes == 1 && h.last_tag == e.tag);
	/* Read, but nobody asked the socket yet: still counted. */
	CHK(sendq_inflight() == 1);
	/* The next epoch: INVALIDATED (no descriptor), then MEMCTX. */
	ep_next(&e);
	holder_read(&h);
	CHK(h.frames == 3 && h.fdframes == 2 && h.last_tag == e.tag);
	CHK(sendq_has(h.p, e.id, 2));
	CHK(sendq_inflight() == 2);
	/* A drop with nothing unread closes the socket at once. */
	holder_close(&h);
	CHK(sendq_inflight() == 0 && sendq_kept() == 0);
	ep_close(&e);
}

/* At limits.peer_fds unread, contexts are owed; however many epochs pass,
 * one frame of the epoch current then goes out when the holder reads. */
static void
t_owed_coalesced(void **s)
{
	struct holder h;
	struct ep e;
	unsigned int i;

	(void)s;
	limits.peer_fds = 2;
	holder_new(&h);
	ep_new(&e);
	ep_ready(&e);
	for (i = 0; i < 5; i++)
		ep_next(&e);		/* epochs 2..6 */
	CHK(endpoint_epoch(e.ep) == 6);
	CHK(sendq_inflight() == 2);
	CHK(!peer_dead(h.p));
	CHK(sendq_has(h.p, e.id, 6));	/* owed */
	CHK(outq(peer_fd(h.p)) > 0);
	holder_read(&h);
	CHK(h.fdframes == 2);		/* epochs 1 and 2 only */
	CHK(h.frames == 2 + 5);		/* and every INVALIDATED */
	sendq_kick(h.p);
	holder_read(&h);
	CHK(h.fdframes == 3);
	CHK(h.frames == 8);
	CHK(h.last_tag == e.tag);	/* epoch 6's file */
	/* The kick found its socket empty: only the new one counts. */
	CHK(sendq_inflight() == 1);
	/* Paid: a second kick sends nothing. */
	sendq_kick(h.p);
	holder_read(&h);
	CHK(h.frames == 8);
	holder_close(&h);
	ep_close(&e);
	CHK(sendq_inflight() == 0);
}

/* A full socket (EAGAIN) defers the context; the holder stays. */
static void
t_eagain_deferred(void **s)
{
	struct holder h;
	struct ep e;
	unsigned char junk[1024] = { 0 };
	int i;

	(void)s;
	holder_new(&h);
	ep_new(&e);
	for (i = 0; i < 100000; i++)
		if (send(peer_fd(h.p), junk, sizeof(junk), MSG_DONTWAIT) < 0)
			break;
	CHK(errno == EAGAIN);
	ep_ready(&e);
	CHK(!peer_dead(h.p));
	CHK(sendq_has(h.p, e.id, 1));	/* owed */
	CHK(sendq_inflight() == 0);
	holder_read(&h);
	CHK(h.fdframes == 0 && h.frames == (unsigned int)i);
	sendq_kick(h.p);
	holder_read(&h);
	CHK(h.fdframes == 1 && h.last_tag == e.tag);
	CHK(sendq_inflight() == 1);
	holder_close(&h);
	ep_close(&e);
}

/* A refusal marked as sent is not sent; a holder that was away while the
 * epoch moved is replayed the current context once. */
static void
t_mark_and_replay(void **s)
{
	struct holder h;
	struct ep e;

	(void)s;
	holder_new(&h);
	ep_new(&e);
	sendq_mark(h.p, e.id, 1);
	CHK(sendq_has(h.p, e.id, 1));
	ep_ready(&e);
	holder_read(&h);
	CHK(h.fdframes == 0);
	endpoint_replay(h.p);
	holder_read(&h);
	CHK(h.fdframes == 0);
	/* Away for epoch 2 and 3. */
	peer_unsubscribe(h.p);
	ep_next(&e);
	ep_next(&e);
	holder_read(&h);
	CHK(h.frames == 0);
	CHK(!sendq_has(h.p, e.id, 3));
	CHK(peer_subscribe(h.p, NULL, 0, 0) == 0);
	endpoint_replay(h.p);
	endpoint_replay(h.p);
	holder_read(&h);
	CHK(h.fdframes == 1 && h.last_tag == e.tag);
	CHK(sendq_has(h.p, e.id, 3));
	holder_close(&h);
	ep_close(&e);
	CHK(sendq_inflight() == 0);
}

/* limits.fds_total: a holder that does not read collects at most that
 * many; the total never passes fds_total + fds_total / 2; the wait is
 * logged once.  A holder that reads is served every epoch, but not at
 * once: at the limit only a socket found empty may draw on the reserve,
 * and an epoch change puts INVALIDATED (no descriptor) in it just before
 * MEMCTX, so its context is owed until it has read that and is asked
 * again (a kick here, the timer in vmsigd; see t_timer_pays). */
static void
t_global_reserve(void **s)
{
	struct holder good, bad, late;
	struct ep e;
	const char *log;
	unsigned int i;

	(void)s;
	limits.peer_fds = 100;
	limits.fds_total = 4;
	holder_new(&good);
	holder_new(&bad);		/* first in the multicast */
	ep_new(&e);
	CHK(cf_cap_begin() == 0);
	ep_ready(&e);
	holder_read(&good);
	for (i = 0; i < 8; i++) {
		ep_next(&e);
		CHK(sendq_inflight() <= 6);
		CHK(sendq_has(good.p, e.id, endpoint_epoch(e.ep)));
		holder_read(&good);
		sendq_kick(good.p);
		CHK(sendq_inflight() <= 6);
		holder_read(&good);
		CHK(good.last_tag == e.tag);
	}
	log = cf_cap_end(cap_text, sizeof(cap_text));
	CHK(good.fdframes == 9);
	CHK(!peer_dead(bad.p) && !peer_dead(good.p));
	CHK(sendq_has(bad.p, e.id, 9));	/* owed */
	CHK(cf_count_of(log, "the limit: deferring contexts") == 1);
	/* A holder arriving at the limit with an empty socket is served
	 * from the reserve at once.  (good goes first: its socket is empty,
	 * so a sweep could take its count back and put us below the limit.) */
	holder_close(&good);
	holder_new(&late);
	CHK(sendq_inflight() >= 2);
	limits.fds_total = sendq_inflight();
	endpoint_replay(late.p);
	holder_read(&late);
	CHK(late.fdframes == 1 && late.last_tag == e.tag);
	CHK(sendq_inflight() == limits.fds_total + 1);
	holder_read(&bad);
	CHK(bad.fdframes >= 1 && bad.fdframes <= 4);
	CHK(bad.last_tag != e.tag);
	/* It read: it is paid the current epoch. */
	sendq_kick(bad.p);
	holder_read(&bad);
	CHK(bad.last_tag == e.tag);
	holder_close(&bad);
	holder_close(&late);
	ep_close(&e);
	CHK(sendq_inflight() == 0);
}

/* Dropped with descriptors unread: the socket is shut down but kept (the
 * holder reads what it has, then EOF), counted against its uid and in
 * flight; dropped with nothing unread: closed, uncounted, at once. */
static void
t_kept_after_drop(void **s)
{
	struct holder h, h2;
	struct ep e;
	uid_t uid = getuid();
	unsigned int n0 = admit_count(uid);

	(void)s;
	holder_new(&h);
	holder_new(&h2);
	ep_new(&e);
	CHK(admit_count(uid) == n0 + 3);
	ep_ready(&e);
	CHK(sendq_inflight() == 2);
	holder_read(&h2);
	peer_drop(h2.p, "test");
	CHK(sendq_kept() == 0);
	CHK(admit_count(uid) == n0 + 2);
	holder_read(&h2);
	CHK(h2.eof);
	peer_drop(h.p, "test");
	CHK(sendq_kept() == 1);
	CHK(admit_count(uid) == n0 + 2);	/* the kept socket counts */
	CHK(sendq_inflight() == 1);
	holder_read(&h);
	CHK(h.fdframes == 1 && h.eof);
	/* Only the timer closes it (cf_in_a_child tests): here it stays. */
	(void)close(h.cfd);
	(void)close(h2.cfd);
	ep_close(&e);
	CHK(admit_count(uid) == n0 + 1);
	/* Leave the kept socket's count behind for the child tests only: a
	 * clean slate for later in-process tests is not possible without the
	 * loop, so this test runs last among them. */
}

/* ---- tests in a child ---------------------------------------------------- */
static struct holder ch;
static struct ep ce;
static int child_done;

static void
on_holder(struct loop_src *src, uint32_t events)
{
	(void)src;
	(void)events;
	holder_read(&ch);
	if (ch.last_tag == ce.tag) {
		child_done = 1;
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

static struct loop_src guard = { .fd = -1 };

static void
guard_start(unsigned int ms)
{
	struct itimerspec its = { 0 };

	guard.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHK(guard.fd >= 0);
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	CHK(timerfd_settime(guard.fd, 0, &its, NULL) == 0);
	guard.cb = on_guard;
	CHK(loop_add(&guard, EPOLLIN) == 0);
}

/* The timer pays what is owed once the holder has read: no kick needed. */
static void
child_timer_pays(void)
{
	struct loop_src hs = { .fd = -1 };

	CHK(loop_init() == 0);
	CHK(sendq_init() == 0);
	limits.peer_fds = 1;
	holder_new(&ch);
	ep_new(&ce);
	ep_ready(&ce);
	ep_next(&ce);
	ep_next(&ce);
	CHK(sendq_has(ch.p, ce.id, 3));
	hs.fd = ch.cfd;
	hs.cb = on_holder;
	CHK(loop_add(&hs, EPOLLIN) == 0);
	guard_start(3000);
	CHK(loop_run() == 0);
	CHK(child_done);
	CHK(ch.fdframes == 2);		/* epoch 1, then 3 */
	CHK(alive(ch.p));
}

static void
t_timer_pays(void **s)
{
	(void)s;
	cf_in_a_child(child_timer_pays);
}

/* At the global limit, with a holder that never reads pinning it, a holder
 * that reads gets every epoch through the loop: each context it is owed
 * at the epoch change is paid by the timer once it has read INVALIDATED.
 * Each epoch is started when the previous one arrived; 10 epochs. */
static struct holder cbad;
static unsigned int epochs_seen;
static uint64_t worst_ms, epoch_t0;

static void
on_reader(struct loop_src *src, uint32_t events)
{
	uint64_t dt;

	(void)src;
	(void)events;
	holder_read(&ch);
	if (ch.last_tag != ce.tag)
		return;
	dt = loop_now_ms() - epoch_t0;
	if (dt > worst_ms)
		worst_ms = dt;
	if (++epochs_seen == 10) {
		child_done = 1;
		loop_quit();
		return;
	}
	CHK(sendq_inflight() <= limits.fds_total + limits.fds_total / 2);
	epoch_t0 = loop_now_ms();
	ep_next(&ce);
}

static void
child_reader_at_limit(void)
{
	struct loop_src hs = { .fd = -1 };

	CHK(loop_init() == 0);
	CHK(sendq_init() == 0);
	limits.peer_fds = 100;
	limits.fds_total = 2;
	holder_new(&ch);
	holder_new(&cbad);		/* first in the multicast */
	ep_new(&ce);
	epoch_t0 = loop_now_ms();
	ep_ready(&ce);
	ep_next(&ce);			/* cbad now holds 2: the limit */
	hs.fd = ch.cfd;
	hs.cb = on_reader;
	CHK(loop_add(&hs, EPOLLIN) == 0);
	guard_start(5000);
	CHK(loop_run() == 0);
	CHK(child_done);
	CHK(alive(ch.p) && alive(cbad.p));
	holder_read(&cbad);
	CHK(cbad.fdframes <= 2);
	/* Deferred by a tick or a few, never starved. */
	CHK(worst_ms < 1000);
}

static void
t_reader_at_limit(void **s)
{
	(void)s;
	cf_in_a_child(child_reader_at_limit);
}

/* Out of descriptors (EMFILE) when an owed context is paid: the share_fd
 * of the delivery fails, the context stays owed, nobody is dropped, and it
 * is paid once descriptors are available again. */
static void
child_emfile(void)
{
	struct rlimit rl, tight;
	int lowest;

	CHK(loop_init() == 0);
	limits.peer_fds = 1;
	holder_new(&ch);
	ep_new(&ce);
	ep_ready(&ce);
	ep_next(&ce);
	CHK(sendq_has(ch.p, ce.id, 2));
	holder_read(&ch);
	CHK(ch.fdframes == 1);
	CHK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	lowest = dup(0);
	CHK(lowest >= 0);
	(void)close(lowest);
	tight = rl;
	tight.rlim_cur = (rlim_t)lowest;
	CHK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
	CHK(dup(0) == -1 && errno == EMFILE);
	sendq_kick(ch.p);
	CHK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHK(!peer_dead(ch.p));
	CHK(sendq_has(ch.p, ce.id, 2));
	holder_read(&ch);
	CHK(ch.fdframes == 1);
	sendq_kick(ch.p);
	holder_read(&ch);
	CHK(ch.fdframes == 2 && ch.last_tag == ce.tag);
}

static void
t_emfile_stays_owed(void **s)
{
	(void)s;
	cf_in_a_child(child_emfile);
}

/* Out of descriptors when a new epoch's context is multicast: share_fd
 * fails, every holder that wants it is owed it (not skipped for the whole
 * epoch), and it is paid once descriptors are available again. */
static void
child_emfile_multicast(void)
{
	struct rlimit rl, tight;
	int i, fd, lowest;

	CHK(loop_init() == 0);
	holder_new(&ch);
	ep_new(&ce);
	ep_ready(&ce);
	holder_read(&ch);
	CHK(ch.fdframes == 1);
	endpoint_invalidate(ce.ep, "test");
	for (i = 0; i < 64; i++)	/* the helper reads its Invalidate */
		if (recv(ce.cfd, rbuf, sizeof(rbuf), MSG_DONTWAIT) < 0)
			break;
	fd = ep_file(&ce);
	CHK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	lowest = dup(0);
	CHK(lowest >= 0);
	(void)close(lowest);
	tight = rl;
	tight.rlim_cur = (rlim_t)lowest;
	CHK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
	ep_offer(&ce, fd);
	CHK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHK(!peer_dead(ch.p));
	CHK(sendq_has(ch.p, ce.id, 2));
	holder_read(&ch);
	CHK(ch.fdframes == 1);		/* INVALIDATED only, so far */
	sendq_kick(ch.p);
	holder_read(&ch);
	CHK(ch.fdframes == 2 && ch.last_tag == ce.tag);
}

static void
t_emfile_multicast_owed(void **s)
{
	(void)s;
	cf_in_a_child(child_emfile_multicast);
}

/* A kept socket is closed by the timer once the holder has read it (or
 * closed its end), and its uid count and descriptors go back. */
static uid_t kept_uid;
static unsigned int kept_n0, kept_in0;

static void
on_kept_check(struct loop_src *src, uint32_t events)
{
	uint64_t t;

	(void)events;
	(void)!read(src->fd, &t, sizeof(t));
	if (sendq_kept() == 0 && admit_count(kept_uid) == kept_n0 &&
	    sendq_inflight() == kept_in0) {
		child_done = 1;
		loop_quit();
	}
}

static void
child_kept_closed(void)
{
	struct loop_src chk = { .fd = -1 };
	struct itimerspec its = { 0 };
	unsigned int k0;

	CHK(loop_init() == 0);
	CHK(sendq_init() == 0);
	kept_uid = getuid();
	k0 = sendq_kept();
	holder_new(&ch);
	ep_new(&ce);
	kept_n0 = admit_count(kept_uid) - 1;	/* the holder goes */
	kept_in0 = sendq_inflight();
	ep_ready(&ce);
	peer_drop(ch.p, "test");
	CHK(sendq_kept() == k0 + 1);
	CHK(sendq_inflight() == kept_in0 + 1);
	/* Everything kept before this child (t_kept_after_drop's socket,
	 * whose holder end is closed) goes too. */
	kept_in0 -= k0;
	kept_n0 -= k0;
	holder_read(&ch);
	CHK(ch.fdframes == 1 && ch.eof);
	chk.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHK(chk.fd >= 0);
	its.it_value.tv_nsec = 5000000;
	its.it_interval = its.it_value;
	CHK(timerfd_settime(chk.fd, 0, &its, NULL) == 0);
	chk.cb = on_kept_check;
	CHK(loop_add(&chk, EPOLLIN) == 0);
	guard_start(3000);
	CHK(loop_run() == 0);
	CHK(child_done);
	CHK(sendq_kept() == 0);
}

static void
t_kept_closed_by_timer(void **s)
{
	(void)s;
	cf_in_a_child(child_kept_closed);
}

/* Past RLIMIT_NOFILE descriptors in flight for our uid, sendmsg fails with
 * ETOOMANYREFS: the context is owed, nobody is dropped, it is logged once,
 * and the holder is paid the current epoch after it reads.  Root is exempt
 * (CAP_SYS_RESOURCE), so the child becomes nobody first. */
static void
child_toomanyrefs(void)
{
	struct rlimit rl = { 64, 64 };
	const char *log;
	unsigned int i, sent;
	int hit = 0;

	CHK(loop_init() == 0);
	if (getuid() == 0)
		CHK(setresgid(65534, 65534, 65534) == 0 &&
		    setresuid(65534, 65534, 65534) == 0);
	CHK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	limits.peer_fds = 1000;
	limits.fds_total = 1000;
	holder_new(&ch);
	ep_new(&ce);
	CHK(cf_cap_begin() == 0);
	ep_ready(&ce);
	for (i = 0; i < 200 && hit < 4; i++) {
		sent = sendq_inflight();
		ep_next(&ce);
		if (sendq_inflight() == sent) {
			hit++;
			CHK(sendq_has(ch.p, ce.id, endpoint_epoch(ce.ep)));
		}
		CHK(!peer_dead(ch.p));
	}
	log = cf_cap_end(cap_text, sizeof(cap_text));
	CHK(hit == 4);
	CHK(cf_count_of(log, "(ETOOMANYREFS); deferring") == 1);
	holder_read(&ch);
	CHK(ch.fdframes == sendq_inflight());
	CHK(ch.fdframes > 60 && ch.last_tag != ce.tag);
	sendq_kick(ch.p);
	holder_read(&ch);
	CHK(ch.last_tag == ce.tag);
}

static void
t_toomanyrefs(void **s)
{
	(void)s;
	cf_in_a_child(child_toomanyrefs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_send_once, setup),
		cmocka_unit_test_setup(t_owed_coalesced, setup),
		cmocka_unit_test_setup(t_eagain_deferred, setup),
		cmocka_unit_test_setup(t_mark_and_replay, setup),
		/* Before t_global_reserve: both log through one limiter. */
		cmocka_unit_test(t_toomanyrefs),
		cmocka_unit_test_setup(t_global_reserve, setup),
		cmocka_unit_test(t_timer_pays),
		cmocka_unit_test(t_reader_at_limit),
		cmocka_unit_test(t_emfile_stays_owed),
		cmocka_unit_test(t_emfile_multicast_owed),
		cmocka_unit_test_setup(t_kept_after_drop, setup),
		cmocka_unit_test(t_kept_closed_by_timer),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
