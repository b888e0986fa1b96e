/* SPDX-License-Identifier: MIT */
/*
 * The holder connection library against a fake daemon that lives in the
 * test: a listening SOCK_SEQPACKET socket in a temporary directory, real
 * frames packed with the generated protobuf-c code and sent with
 * fdpass_send, real descriptors.  A helper thread plays the daemon whenever
 * the library blocks waiting for it (handshake, requests); everything else
 * is sent from the test itself before the library reads it.  Each test
 * checks that no descriptor leaks (the count in /proc/self/fd).
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>

#include "wire.h"
#include "../common/tproc.h"

#define PEER_ID		7u
#define IO_MS		5000

struct fake {
	char dir[200];
	char path[256];
	char file[256];
	int lfd;		/* listening socket */
	int cfd;		/* the accepted holder connection */
	int fdbase;		/* open descriptors before the test */
	pthread_t thr;
	void (*script)(struct fake *);
	int bad;		/* the thread saw something wrong */
	uint64_t req_id;	/* last request the thread read */
	int req_case;
	uint64_t seg1_off;	/* file offset of send_memctx's 2nd segment */
	struct vmsig_holder *h;
};

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

/* ---- the fake daemon's frames ------------------------------------------ */

static void
send_frame(int fd, Vmsig__V1__Frame *f, const int *fds, unsigned int nfds)
{
	unsigned char buf[VMSIG_FRAME_MAX];
	int n;

	f->nfds = nfds;
	n = wire_pack(f, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(fdpass_send(fd, buf, (size_t)n, fds, nfds), 0);
}

static void
send_welcome(int fd, uint64_t req_id)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Welcome w = VMSIG__V1__WELCOME__INIT;

	w.proto_version = 1;
	w.peer_id = PEER_ID;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_WELCOME;
	f.welcome = &w;
	send_frame(fd, &f, NULL, 0);
}

static void
send_error(int fd, uint64_t req_id, uint32_t code, const char *msg)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Error e = VMSIG__V1__ERROR__INIT;

	e.code = code;
	e.message = (char *)(uintptr_t)msg;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_ERROR;
	f.error = &e;
	send_frame(fd, &f, NULL, 0);
}

static void
send_ack(int fd, uint64_t req_id)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Ack a = VMSIG__V1__ACK__INIT;

	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_ACK;
	f.ack = &a;
	send_frame(fd, &f, NULL, 0);
}

/* An event of a body-less type (INVALIDATED, GONE) or MEMWRITTEN. */
static void
send_simple_event(int fd, uint32_t type, uint32_t ep, uint32_t epoch,
    uint64_t seq)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__MemctxInvalidatedEvent inv =
	    VMSIG__V1__MEMCTX_INVALIDATED_EVENT__INIT;
	Vmsig__V1__EndpointGoneEvent gone = VMSIG__V1__ENDPOINT_GONE_EVENT__INIT;
	Vmsig__V1__MemWrittenEvent w = VMSIG__V1__MEM_WRITTEN_EVENT__INIT;

	e.type = (Vmsig__V1__EventType)type;
	e.endpoint = ep;
	e.epoch = epoch;
	e.seq = seq;
	e.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	if (type == VMSIG_EV_MEMCTX_INVALIDATED) {
		e.body_case = VMSIG__V1__EVENT__BODY_INVALIDATED;
		e.invalidated = &inv;
	} else if (type == VMSIG_EV_MEMWRITTEN) {
		w.gpa = 0x2000;
		w.len = 0x10;
		w.writer = 9;
		e.body_case = VMSIG__V1__EVENT__BODY_WRITTEN;
		e.written = &w;
	} else {
		e.body_case = VMSIG__V1__EVENT__BODY_GONE;
		e.gone = &gone;
	}
	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	send_frame(fd, &f, NULL, 0);
}

/* A MEMCTX event; nsegs of a fixed two-segment table; nfds descriptors
 * of `file` opened with `mode` (nfds may differ from the frame's 1). */
static void
send_memctx(struct fake *fk, uint32_t ep, uint32_t epoch, uint64_t low,
    size_t nsegs, int mode, unsigned int nfds)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__MemctxEvent me = VMSIG__V1__MEMCTX_EVENT__INIT;
	Vmsig__V1__Locator loc = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment s0 = VMSIG__V1__SEGMENT__INIT;
	Vmsig__V1__Segment s1 = VMSIG__V1__SEGMENT__INIT;
	Vmsig__V1__Segment *segs[2] = { &s0, &s1 };
	unsigned char buf[VMSIG_FRAME_MAX];
	int fds[2] = { -1, -1 };
	unsigned int i;
	int n;

	s0.gpa = 0;
	s0.len = 0x8000;
	s0.file_off = 0;
	s1.gpa = 0x100000000ull;
	s1.len = 0x8000;
	s1.file_off = fk->seg1_off;
	loc.kcr3 = 0x1aa000;
	loc.low = low;
	loc.flags = 0;
	loc.n_segs = nsegs;
	loc.segs = segs;
	me.loc = &loc;
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX;
	e.endpoint = ep;
	e.epoch = epoch;
	e.seq = epoch * 10u;
	e.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	e.body_case = VMSIG__V1__EVENT__BODY_MEMCTX;
	e.memctx = &me;
	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	f.nfds = 1;
	for (i = 0; i < nfds; i++) {
		fds[i] = open(fk->file, mode | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	n = wire_pack(&f, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(fdpass_send(fk->cfd, buf, (size_t)n, fds, nfds), 0);
	fdpass_close(fds, nfds);
}

/* Read one frame the library sent; returns its message case. */
static int
recv_frame(struct fake *fk, uint64_t *ret_req)
{
	struct pollfd p = { .fd = fk->cfd, .events = POLLIN };
	unsigned char buf[VMSIG_FRAME_MAX];
	struct wire_arena *a;
	wire_frame *f;
	unsigned int nfds;
	size_t len;
	int fds[1], r = -1;

	if (poll(&p, 1, IO_MS) != 1 ||
	    fdpass_recv(fk->cfd, buf, sizeof(buf), fds, 1, &len, &nfds) != 1)
		return -1;
	fdpass_close(fds, nfds);
	a = wire_arena_new();
	if (a != NULL && wire_decode(a, buf, len, nfds, &f, NULL) == 0) {
		*ret_req = f->req_id;
		r = (int)f->msg_case;
		if (r == VMSIG__V1__FRAME__MSG_HELLO &&
		    (f->hello->role != VMSIG__V1__ROLE__ROLE_HOLDER ||
		    f->hello->proto_version != 1))
			r = -1;
	}
	wire_arena_free(a);
	return r;
}

/* ---- the thread that answers while the library blocks ------------------ */

static void *
fake_thread(void *arg)
{
	struct fake *fk = arg;

	fk->script(fk);
	return NULL;
}

static void
fake_run(struct fake *fk, void (*script)(struct fake *))
{
	fk->script = script;
	fk->bad = 0;
	assert_int_equal(pthread_create(&fk->thr, NULL, fake_thread, fk), 0);
}

static void
fake_join(struct fake *fk)
{
	assert_int_equal(pthread_join(fk->thr, NULL), 0);
	assert_int_equal(fk->bad, 0);
}

static void
script_accept(struct fake *fk)
{
	struct pollfd p = { .fd = fk->lfd, .events = POLLIN };

	if (poll(&p, 1, IO_MS) != 1 ||
	    (fk->cfd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		fk->bad = 1;
		return;
	}
	if (recv_frame(fk, &fk->req_id) != VMSIG__V1__FRAME__MSG_HELLO ||
	    fk->req_id == 0)
		fk->bad = 1;
}

static void
script_welcome(struct fake *fk)
{
	script_accept(fk);
	if (!fk->bad)
		send_welcome(fk->cfd, fk->req_id);
}

static void
script_refuse(struct fake *fk)
{
	script_accept(fk);
	if (!fk->bad)
		send_error(fk->cfd, fk->req_id, EPERM, "uid 1000 may not hold");
}

/* Read one request and remember it; the test answers it. */
static void
script_request(struct fake *fk)
{
	fk->req_case = recv_frame(fk, &fk->req_id);
	if (fk->req_case < 0 || fk->req_id == 0)
		fk->bad = 1;
}

static void
script_refuse_request(struct fake *fk)
{
	script_request(fk);
	if (!fk->bad)
		send_error(fk->cfd, fk->req_id, EPERM, "status is for root");
}

/* Subscribe: two events before the Ack, one after. */
static void
script_subscribe(struct fake *fk)
{
	script_request(fk);
	if (fk->bad || fk->req_case != VMSIG__V1__FRAME__MSG_SUBSCRIBE) {
		fk->bad = 1;
		return;
	}
	send_simple_event(fk->cfd, VMSIG_EV_MEMCTX_INVALIDATED, 3, 2, 1);
	send_memctx(fk, 3, 2, 0x10000, 0, O_RDONLY, 1);
	send_ack(fk->cfd, fk->req_id);
	send_simple_event(fk->cfd, VMSIG_EV_ENDPOINT_GONE, 3, 2, 3);
}

static void
script_status(struct fake *fk)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__StatusReply sr = VMSIG__V1__STATUS_REPLY__INIT;
	Vmsig__V1__EndpointStatus es = VMSIG__V1__ENDPOINT_STATUS__INIT;
	Vmsig__V1__EndpointStatus *esp[1] = { &es };
	Vmsig__V1__Locator loc = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment s0 = VMSIG__V1__SEGMENT__INIT;
	Vmsig__V1__Segment *segs[1] = { &s0 };
	Vmsig__V1__PeerStatus p0 = VMSIG__V1__PEER_STATUS__INIT;
	Vmsig__V1__PeerStatus p1 = VMSIG__V1__PEER_STATUS__INIT;
	Vmsig__V1__PeerStatus *pp[2] = { &p0, &p1 };

	script_request(fk);
	if (fk->bad || fk->req_case != VMSIG__V1__FRAME__MSG_STATUS) {
		fk->bad = 1;
		return;
	}
	s0.gpa = 0x1000;
	s0.len = 0x2000;
	s0.file_off = 0x3000;
	loc.kcr3 = 0x1aa000;
	loc.low = 0x80000000;
	loc.flags = 1;
	loc.n_segs = 1;
	loc.segs = segs;
	es.endpoint = 4;
	es.epoch = 2;
	es.has_context = 1;
	es.adapter_peer = 11;
	es.adapter_pid = 4242;
	es.loc = &loc;
	es.method = "lowstub";
	es.events = 5;
	p0.peer_id = 11;
	p0.role = VMSIG__V1__ROLE__ROLE_ADAPTER;
	p0.name = "vmsig-memctx";
	p0.pid = 4242;
	p0.endpoint = 4;
	p1.peer_id = PEER_ID;
	p1.role = VMSIG__V1__ROLE__ROLE_HOLDER;
	p1.name = "test_holder";
	p1.uid = 1000;
	p1.gid = 100;
	p1.subscribed = 1;
	p1.queued = 3;
	sr.proto_version = 1;
	sr.pid = 99;
	sr.n_endpoints = 1;
	sr.endpoints = esp;
	sr.n_peers = 2;
	sr.peers = pp;
	sr.protocol_errors = 6;
	sr.refused_fds = 1;
	sr.uptime_ms = 1234;
	f.req_id = fk->req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_STATUS_REPLY;
	f.status_reply = &sr;
	send_frame(fk->cfd, &f, NULL, 0);
}

/* ---- fixtures ----------------------------------------------------------- */

static int
setup(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned char page[0x10000];
	struct fake *fk;
	size_t i;
	int fd;

	fk = calloc(1, sizeof(*fk));
	if (fk == NULL)
		return -1;
	fk->fdbase = count_fds();
	fk->cfd = -1;
	fk->seg1_off = 0x8000;
	(void)snprintf(fk->dir, sizeof(fk->dir), "%s/vmsig-th.XXXXXX",
	    t_tmpdir());
	if (mkdtemp(fk->dir) == NULL)
		return -1;
	(void)snprintf(fk->path, sizeof(fk->path), "%s/holder.sock", fk->dir);
	(void)snprintf(fk->file, sizeof(fk->file), "%s/ram", fk->dir);
	for (i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 7u + 1u);
	fd = open(fk->file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		return -1;
	(void)close(fd);
	memcpy(sun.sun_path, fk->path, strlen(fk->path) + 1);
	fk->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fk->lfd < 0 ||
	    bind(fk->lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fk->lfd, 4) == -1)
		return -1;
	*state = fk;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *fk = *state;
	int leaked;

	vmsig_holder_close(fk->h);
	if (fk->cfd >= 0)
		(void)close(fk->cfd);
	(void)close(fk->lfd);
	(void)unlink(fk->path);
	(void)unlink(fk->file);
	(void)rmdir(fk->dir);
	leaked = count_fds() - fk->fdbase;
	free(fk);
	/* Every descriptor the test or the library opened is closed. */
	return leaked == 0 ? 0 : -1;
}

/* Connect the library to the fake daemon and complete the handshake. */
static void
fake_open(struct fake *fk)
{
	fake_run(fk, script_welcome);
	assert_int_equal(vmsig_holder_open(fk->path, "test_holder", IO_MS,
	    &fk->h), 0);
	fake_join(fk);
}

/* The next event, which must be of `type`. */
static vmsig_event *
expect_event(struct fake *fk, uint32_t type)
{
	vmsig_event *ev = NULL;

	assert_int_equal(vmsig_holder_next(fk->h, IO_MS, &ev), 1);
	assert_non_null(ev);
	assert_int_equal(ev->type, type);
	return ev;
}

/* ---- handshake ---------------------------------------------------------- */

static void
test_open_ok(void **state)
{
	struct fake *fk = *state;

	fake_open(fk);
	assert_int_equal(vmsig_holder_peer_id(fk->h), PEER_ID);
	assert_true(vmsig_holder_fd(fk->h) >= 0);
	assert_string_equal(vmsig_holder_error(fk->h), "");
	assert_int_equal(vmsig_holder_pending(fk->h), 0);
}

static void
test_open_refused(void **state)
{
	struct fake *fk = *state;
	struct vmsig_holder *h = NULL;

	fake_run(fk, script_refuse);
	assert_int_equal(vmsig_holder_open(fk->path, NULL, IO_MS, &h), -EPERM);
	fake_join(fk);
	assert_null(h);
	assert_string_equal(vmsig_holder_error(NULL), "uid 1000 may not hold");
}

static void
test_open_timeout(void **state)
{
	struct fake *fk = *state;
	struct vmsig_holder *h = NULL;
	struct timespec t0, t1;
	long ms;

	/* Nobody accepts: the connection sits in the backlog, unanswered. */
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vmsig_holder_open(fk->path, "x", 100, &h), -ETIMEDOUT);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 90 && ms < 2000);
	assert_null(h);
}

static void
test_open_nodaemon(void **state)
{
	struct fake *fk = *state;
	struct vmsig_holder *h = NULL;
	char path[256];
	char name[80];

	(void)snprintf(path, sizeof(path), "%s/absent.sock", fk->dir);
	assert_int_equal(vmsig_holder_open(path, "x", IO_MS, &h), -ENOENT);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(vmsig_holder_open(fk->path, name, IO_MS, &h), -EINVAL);
	assert_int_equal(vmsig_holder_open(fk->path, "x", IO_MS, NULL), -EINVAL);
	assert_null(h);
}

/* ---- requests, the queue ------------------------------------------------ */

static void
test_subscribe_queues(void **state)
{
	struct fake *fk = *state;
	uint32_t eps[1] = { 3 };
	vmsig_event *ev;

	fake_open(fk);
	fake_run(fk, script_subscribe);
	assert_int_equal(vmsig_holder_subscribe(fk->h, eps, 1, 0, IO_MS), 0);
	fake_join(fk);
	/* The two events sent before the Ack were kept, in order. */
	assert_int_equal(vmsig_holder_pending(fk->h), 2);
	ev = expect_event(fk, VMSIG_EV_MEMCTX_INVALIDATED);
	assert_int_equal(ev->endpoint, 3);
	assert_int_equal(((vmsig_memctx_inv *)(void *)ev->inln)->epoch, 2);
	assert_int_equal(ev->fd, -1);
	vmsig_event_free(ev);
	ev = expect_event(fk, VMSIG_EV_MEMCTX);
	assert_true(ev->fd >= 0);
	vmsig_event_free(ev);
	ev = expect_event(fk, VMSIG_EV_ENDPOINT_GONE);
	assert_int_equal(ev->seq, 3);
	vmsig_event_free(ev);
	assert_int_equal(vmsig_holder_next(fk->h, 50, &ev), 0);
}

/* A reply that comes after its request timed out is dropped quietly. */
static void
test_late_reply_dropped(void **state)
{
	struct fake *fk = *state;
	vmsig_event *ev;

	fake_open(fk);
	fake_run(fk, script_request);
	assert_int_equal(vmsig_holder_subscribe(fk->h, NULL, 0, 0, 100),
	    -ETIMEDOUT);
	fake_join(fk);
	send_ack(fk->cfd, fk->req_id);
	send_simple_event(fk->cfd, VMSIG_EV_ENDPOINT_GONE, 1, 1, 1);
	ev = expect_event(fk, VMSIG_EV_ENDPOINT_GONE);
	vmsig_event_free(ev);
	/* An Ack for a request never sent is a protocol error. */
	send_ack(fk->cfd, fk->req_id + 100);
	assert_int_equal(vmsig_holder_next(fk->h, IO_MS, &ev), -EPROTO);
}

static void
test_status(void **state)
{
	struct fake *fk = *state;
	struct vmsig_status *st = NULL;

	fake_open(fk);
	fake_run(fk, script_status);
	assert_int_equal(vmsig_holder_status(fk->h, IO_MS, &st), 0);
	fake_join(fk);
	assert_non_null(st);
	assert_int_equal(st->pid, 99);
	assert_int_equal(st->uptime_ms, 1234);
	assert_int_equal(st->protocol_errors, 6);
	assert_int_equal(st->refused_fds, 1);
	assert_int_equal(st->nendpoints, 1);
	assert_int_equal(st->endpoints[0].endpoint, 4);
	assert_int_equal(st->endpoints[0].epoch, 2);
	assert_true(st->endpoints[0].has_context);
	assert_int_equal(st->endpoints[0].adapter_pid, 4242);
	assert_int_equal(st->endpoints[0].ctx.kcr3, 0x1aa000);
	assert_int_equal(st->endpoints[0].ctx.low, 0x80000000);
	assert_int_equal(st->endpoints[0].ctx.nseg, 1);
	assert_int_equal(st->endpoints[0].segs[0].file_off, 0x3000);
	assert_string_equal(st->endpoints[0].method, "lowstub");
	assert_int_equal(st->endpoints[0].events, 5);
	assert_int_equal(st->npeers, 2);
	assert_string_equal(st->peers[0].name, "vmsig-memctx");
	assert_int_equal(st->peers[0].role, 2);
	assert_int_equal(st->peers[1].uid, 1000);
	assert_int_equal(st->peers[1].gid, 100);
	assert_int_equal(st->peers[1].queued, 3);
	assert_true(st->peers[1].subscribed);
	vmsig_status_free(st);
}

static void
test_status_refused(void **state)
{
	struct fake *fk = *state;
	struct vmsig_status *st = NULL;

	fake_open(fk);
	fake_run(fk, script_refuse_request);
	assert_int_equal(vmsig_holder_status(fk->h, IO_MS, &st), -EPERM);
	fake_join(fk);
	assert_string_equal(vmsig_holder_error(fk->h), "status is for root");
	assert_null(st);
	/* A refused request leaves the connection usable. */
	fake_run(fk, script_subscribe);
	assert_int_equal(vmsig_holder_subscribe(fk->h, NULL, 0, 0, IO_MS), 0);
	fake_join(fk);
	assert_string_equal(vmsig_holder_error(fk->h), "");
}

/* ---- events and their descriptors --------------------------------------- */

static void
test_memctx_event(void **state)
{
	struct fake *fk = *state;
	const vmsig_memctx *mc;
	const vmsig_memseg *segs;
	vmsig_event *ev;
	uint32_t nseg = 99;
	int before, fd;

	fake_open(fk);
	send_memctx(fk, 5, 3, 0x10000, 2, O_RDONLY, 1);
	ev = expect_event(fk, VMSIG_EV_MEMCTX);
	assert_int_equal(ev->endpoint, 5);
	assert_int_equal(ev->epoch, 3);
	assert_int_equal(ev->seq, 30);
	assert_int_equal(ev->source, VMSIG_SRC_MEMCTX);
	mc = (const vmsig_memctx *)(const void *)ev->inln;
	assert_int_equal(mc->kcr3, 0x1aa000);
	assert_int_equal(mc->low, 0x10000);
	assert_int_equal(mc->epoch, 3);
	assert_int_equal(mc->nseg, 2);
	assert_true(mc->flags & VMSIG_MEMCTX_RDONLY);
	segs = vmsig_memctx_segs(ev, &nseg);
	assert_non_null(segs);
	assert_int_equal(nseg, 2);
	assert_int_equal(segs[1].gpa, 0x100000000ull);
	assert_int_equal(segs[1].len, 0x8000);
	assert_int_equal(segs[1].file_off, 0x8000);
	assert_int_equal(fcntl(ev->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(ev->fd, F_GETFD) & FD_CLOEXEC);
	/* Freeing the event closes its descriptor. */
	before = count_fds();
	vmsig_event_free(ev);
	assert_int_equal(count_fds(), before - 1);

	/* A taken descriptor is the caller's: free leaves it open. */
	send_memctx(fk, 5, 3, 0x10000, 0, O_RDONLY, 1);
	ev = expect_event(fk, VMSIG_EV_MEMCTX);
	assert_null(vmsig_memctx_segs(ev, &nseg));
	assert_int_equal(nseg, 0);
	fd = vmsig_event_take_fd(ev);
	assert_true(fd >= 0);
	assert_int_equal(vmsig_event_take_fd(ev), -EBADF);
	before = count_fds();
	vmsig_event_free(ev);
	assert_int_equal(count_fds(), before);
	assert_int_equal(close(fd), 0);
}

static void
test_other_events(void **state)
{
	struct fake *fk = *state;
	const vmsig_memwritten *w;
	vmsig_event *ev;

	fake_open(fk);
	send_simple_event(fk->cfd, VMSIG_EV_MEMWRITTEN, 2, 1, 4);
	ev = expect_event(fk, VMSIG_EV_MEMWRITTEN);
	w = (const vmsig_memwritten *)(const void *)ev->inln;
	assert_int_equal(w->gpa, 0x2000);
	assert_int_equal(w->len, 0x10);
	assert_int_equal(w->writer, 9);
	vmsig_event_free(ev);
	assert_int_equal(vmsig_holder_next(fk->h, 0, &ev), 0);
	/* The daemon leaves: -EPIPE, and again. */
	(void)close(fk->cfd);
	fk->cfd = -1;
	assert_int_equal(vmsig_holder_next(fk->h, IO_MS, &ev), -EPIPE);
	assert_int_equal(vmsig_holder_next(fk->h, 0, &ev), -EPIPE);
	assert_int_equal(vmsig_holder_subscribe(fk->h, NULL, 0, 0, IO_MS),
	    -EPIPE);
}

/* Writing into the guest must stay impossible on the holder side. */
static void
test_memctx_rdwr_refused(void **state)
{
	struct fake *fk = *state;
	vmsig_event *ev = NULL;
	int before;

	fake_open(fk);
	before = count_fds();
	send_memctx(fk, 1, 1, 0x10000, 0, O_RDWR, 1);
	assert_int_equal(vmsig_holder_next(fk->h, IO_MS, &ev), -EPROTO);
	assert_null(ev);
	assert_int_equal(count_fds(), before);
	assert_int_equal(vmsig_holder_next(fk->h, 0, &ev), -EPROTO);
}

/* Each way a daemon can break the protocol: -EPROTO, no descriptor kept. */
enum bad_kind {
	BAD_GARBAGE,
	BAD_NFDS_NO_FD,		/* frame says 1 descriptor, none came */
	BAD_FD_UNDECLARED,	/* MEMCTX whose frame says 0 */
	BAD_TWO_FDS,
	BAD_WELCOME_AGAIN,
	BAD_EVENT_REQ_ID,
	BAD_UNKNOWN_FIELD,
	BAD_MAX_
};

static void
send_bad(struct fake *fk, enum bad_kind k)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__EndpointGoneEvent g = VMSIG__V1__ENDPOINT_GONE_EVENT__INIT;
	unsigned char buf[256];
	int fd, n;

	e.type = VMSIG__V1__EVENT_TYPE__EVENT_ENDPOINT_GONE;
	e.body_case = VMSIG__V1__EVENT__BODY_GONE;
	e.gone = &g;
	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	switch (k) {
	case BAD_GARBAGE:
		memset(buf, 0xff, sizeof(buf));
		assert_int_equal(fdpass_send(fk->cfd, buf, 64, NULL, 0), 0);
		break;
	case BAD_NFDS_NO_FD:
		f.nfds = 1;
		n = wire_pack(&f, buf, sizeof(buf));
		assert_int_equal(fdpass_send(fk->cfd, buf, (size_t)n, NULL, 0), 0);
		break;
	case BAD_FD_UNDECLARED:
		fd = open(fk->file, O_RDONLY | O_CLOEXEC);
		n = wire_pack(&f, buf, sizeof(buf));
		assert_int_equal(fdpass_send(fk->cfd, buf, (size_t)n, &fd, 1), 0);
		(void)close(fd);
		break;
	case BAD_TWO_FDS:
		send_memctx(fk, 1, 1, 0x10000, 0, O_RDONLY, 2);
		break;
	case BAD_WELCOME_AGAIN:
		send_welcome(fk->cfd, 0);
		break;
	case BAD_EVENT_REQ_ID:
		f.req_id = 5;
		send_frame(fk->cfd, &f, NULL, 0);
		break;
	case BAD_UNKNOWN_FIELD:
		n = wire_pack(&f, buf, sizeof(buf));
		buf[n++] = 0xf8;	/* field 31, varint: not in Frame */
		buf[n++] = 0x01;
		buf[n++] = 0x01;
		assert_int_equal(fdpass_send(fk->cfd, buf, (size_t)n, NULL, 0), 0);
		break;
	default:
		fail();
	}
}

static void
test_malformed(void **state)
{
	struct fake *fk = *state;
	vmsig_event *ev = NULL;
	int k, before;

	for (k = 0; k < BAD_MAX_; k++) {
		fake_open(fk);
		before = count_fds();
		/* A good event first: it is still delivered. */
		send_simple_event(fk->cfd, VMSIG_EV_ENDPOINT_GONE, 1, 1, 1);
		send_bad(fk, (enum bad_kind)k);
		vmsig_event_free(expect_event(fk, VMSIG_EV_ENDPOINT_GONE));
		print_message("bad frame %d\n", k);
		assert_int_equal(vmsig_holder_next(fk->h, IO_MS, &ev), -EPROTO);
		assert_null(ev);
		assert_int_equal(count_fds(), before);
		vmsig_holder_close(fk->h);
		fk->h = NULL;
		(void)close(fk->cfd);
		fk->cfd = -1;
	}
}

/* ---- the context tracker ------------------------------------------------- */

static void
test_tracker(void **state)
{
	struct fake *fk = *state;
	struct vmsig_mem *mem;
	unsigned char b[4];
	uint64_t kcr3 = 0;
	uint32_t epoch = 0;
	vmsig_event *ev;

	fake_open(fk);
	assert_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));
	send_memctx(fk, 1, 1, 0x10000, 0, O_RDONLY, 1);
	ev = expect_event(fk, VMSIG_EV_MEMCTX);
	mem = vmsig_holder_mem(fk->h, 1, &epoch, &kcr3);
	assert_non_null(mem);
	assert_int_equal(epoch, 1);
	assert_int_equal(kcr3, 0x1aa000);
	assert_int_equal(vmsig_mem_read_pa(mem, 0x100, b, sizeof(b), NULL), 0);
	assert_int_equal(b[0], (unsigned char)(0x100 * 7 + 1));
	/* The tracker holds its own descriptor: the event's may go. */
	vmsig_event_free(ev);
	assert_int_equal(vmsig_mem_read_pa(mem, 0x101, b, 1, NULL), 0);
	assert_null(vmsig_holder_mem(fk->h, 2, NULL, NULL));

	send_simple_event(fk->cfd, VMSIG_EV_MEMWRITTEN, 1, 1, 2);
	vmsig_event_free(expect_event(fk, VMSIG_EV_MEMWRITTEN));
	assert_non_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));

	send_simple_event(fk->cfd, VMSIG_EV_MEMCTX_INVALIDATED, 1, 2, 3);
	vmsig_event_free(expect_event(fk, VMSIG_EV_MEMCTX_INVALIDATED));
	assert_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));

	/* A stale MEMCTX of the dead epoch is delivered, not tracked. */
	send_memctx(fk, 1, 1, 0x10000, 2, O_RDONLY, 1);
	vmsig_event_free(expect_event(fk, VMSIG_EV_MEMCTX));
	assert_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));

	send_memctx(fk, 1, 2, 0x10000, 2, O_RDONLY, 1);
	vmsig_event_free(expect_event(fk, VMSIG_EV_MEMCTX));
	assert_non_null(vmsig_holder_mem(fk->h, 1, &epoch, NULL));
	assert_int_equal(epoch, 2);
	assert_int_equal(vmsig_mem_read_pa(vmsig_holder_mem(fk->h, 1, NULL,
	    NULL), 0x100000000ull, b, 1, NULL), 0);
	assert_int_equal(b[0], (unsigned char)(0x8000 * 7 + 1));

	send_simple_event(fk->cfd, VMSIG_EV_ENDPOINT_GONE, 1, 2, 4);
	vmsig_event_free(expect_event(fk, VMSIG_EV_ENDPOINT_GONE));
	assert_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));
}

/* A context that cannot be opened still reaches the caller. */
static void
test_tracker_open_fails(void **state)
{
	struct fake *fk = *state;
	vmsig_event *ev;

	fake_open(fk);
	/* a segment past the end of the 64 KiB file */
	fk->seg1_off = 0x100000;
	send_memctx(fk, 1, 1, 0x10000, 2, O_RDONLY, 1);
	ev = expect_event(fk, VMSIG_EV_MEMCTX);
	assert_true(ev->fd >= 0);
	assert_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));
	vmsig_event_free(ev);
	/* A later good one is tracked. */
	send_memctx(fk, 1, 1, 0x10000, 0, O_RDONLY, 1);
	vmsig_event_free(expect_event(fk, VMSIG_EV_MEMCTX));
	assert_non_null(vmsig_holder_mem(fk->h, 1, NULL, NULL));
}

static void
test_bad_args(void **state)
{
	struct fake *fk = *state;
	vmsig_event *ev;

	fake_open(fk);
	assert_int_equal(vmsig_holder_next(NULL, 0, &ev), -EINVAL);
	assert_int_equal(vmsig_holder_next(fk->h, 0, NULL), -EINVAL);
	assert_int_equal(vmsig_holder_subscribe(fk->h, NULL, 2, 0, 0), -EINVAL);
	assert_int_equal(vmsig_holder_status(fk->h, 0, NULL), -EINVAL);
	assert_int_equal(vmsig_holder_fd(NULL), -EINVAL);
	assert_null(vmsig_holder_mem(NULL, 1, NULL, NULL));
	vmsig_holder_close(NULL);
	vmsig_status_free(NULL);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_ok),
		T(test_open_refused),
		T(test_open_timeout),
		T(test_open_nodaemon),
		T(test_subscribe_queues),
		T(test_late_reply_dropped),
		T(test_status),
		T(test_status_refused),
		T(test_memctx_event),
		T(test_other_events),
		T(test_memctx_rdwr_refused),
		T(test_malformed),
		T(test_tracker),
		T(test_tracker_open_fails),
		T(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
