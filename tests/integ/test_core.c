/* SPDX-License-Identifier: MIT */
/*
 * The real vmsigd with test-adapter and holders: contexts reach every
 * holder with its own read-only descriptor, replay keeps the epoch, an
 * invalidation reaches everyone, an adapter leaving invalidates, a writable
 * descriptor never reaches a holder, a slow holder is dropped without
 * delaying another, a malformed frame drops only its sender, handshake
 * refusals, the receive path's state rules, and descriptor counts that
 * come back to where they started.
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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/memctx.h>

#include "harness.h"
#include "wire.h"

#define RAM_SIZE	(16u << 20)

struct fx {
	char *dir;
	char file[4096];
	struct h_proc d;
	int base_self, base_d;
};

static int
setup(void **state)
{
	static const char *const extra[] = { "--gone-ms", "300",
	    "--queue-frames", "8", NULL };
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		goto fail;
	snprintf(fx->file, sizeof(fx->file), "%s/ram", fx->dir);
	fd = open(fx->file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, RAM_SIZE) == -1)
		goto fail;
	(void)pwrite(fd, "guest!", 6, 0x1000);
	close(fd);
	if (h_vmsigd(fx->dir, extra, &fx->d) < 0)
		goto fail;
	fx->base_self = h_fd_count(0);
	fx->base_d = h_fd_stable(fx->d.pid, 2000);
	*state = fx;
	return 0;
fail:
	if (fx != NULL)
		h_rmdir(fx->dir);
	free(fx);
	return -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int st, same_self = h_fd_count(0) == fx->base_self;
	int same_d = h_fd_settle(fx->d.pid, fx->base_d, 2000) == fx->base_d;

	st = h_stop(&fx->d, SIGTERM, 5000);
	h_rmdir(fx->dir);
	free(fx);
	/* A leaked descriptor in either process fails the scenario. */
	if (!same_self || !same_d) {
		fprintf(stderr, "descriptor counts changed (self %d, vmsigd %d)\n",
		    same_self, same_d);
		return -1;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
check_memctx(vmsig_event *ev, uint32_t epoch)
{
	const vmsig_memctx *m = (const vmsig_memctx *)(const void *)ev->inln;
	char buf[8] = { 0 };
	void *p;

	assert_non_null(ev);
	assert_int_equal(ev->type, VMSIG_EV_MEMCTX);
	assert_int_equal(ev->epoch, epoch);
	assert_int_equal(m->epoch, epoch);
	assert_int_equal(m->kcr3, 0x1000);
	assert_true(m->flags & VMSIG_MEMCTX_RDONLY);
	assert_true(ev->fd >= 0);
	assert_int_equal(fcntl(ev->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	/* Writing through the descriptor is structurally impossible. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ev->fd, 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, ev->fd, 0);
	assert_true(p != MAP_FAILED);
	memcpy(buf, (char *)p + 0x1000, 6);
	assert_string_equal(buf, "guest!");
	munmap(p, 8192);
}

static void
adapter(struct fx *fx, uint32_t ep, struct h_proc *a)
{
	static const char *const extra[] = { "--kcr3", "0x1000", NULL };

	assert_int_equal(h_adapter(fx->dir, ep, fx->file, extra, 0, a), 0);
}

static void
t_two_holders(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h1 = h_holder(fx->dir, "one");
	struct vmsig_holder *h2 = h_holder(fx->dir, "two");
	vmsig_event *e1, *e2;
	struct stat s1, s2;
	struct h_proc a;

	assert_non_null(h1);
	assert_non_null(h2);
	adapter(fx, 1, &a);
	e1 = h_expect(h1, VMSIG_EV_MEMCTX, 5000);
	e2 = h_expect(h2, VMSIG_EV_MEMCTX, 5000);
	check_memctx(e1, 1);
	check_memctx(e2, 1);
	/* Each holder has its own descriptor of the same file. */
	assert_int_equal(fstat(e1->fd, &s1), 0);
	assert_int_equal(fstat(e2->fd, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	vmsig_event_free(e1);
	vmsig_event_free(e2);
	assert_int_equal(h_say(&a, "quit"), 0);
	e1 = h_expect(h1, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	assert_non_null(e1);
	vmsig_event_free(e1);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	/* Its gone timer fires and closes: the descriptor count settles. */
	e1 = h_expect(h1, VMSIG_EV_ENDPOINT_GONE, 5000);
	assert_non_null(e1);
	vmsig_event_free(e1);
	vmsig_holder_close(h1);
	vmsig_holder_close(h2);
}

static void
t_invalidate_and_replay(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h1 = h_holder(fx->dir, "one"), *late;
	vmsig_event *ev;
	const vmsig_memctx_inv *inv;
	uint64_t seq;
	struct h_proc a;

	adapter(fx, 2, &a);
	ev = h_expect(h1, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 1);
	assert_non_null(vmsig_holder_mem(h1, 2, NULL, NULL));
	vmsig_event_free(ev);
	assert_int_equal(h_say(&a, "invalidate test"), 0);
	ev = h_expect(h1, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	assert_non_null(ev);
	inv = (const vmsig_memctx_inv *)(const void *)ev->inln;
	assert_int_equal(inv->endpoint, 2);
	assert_int_equal(inv->epoch, 2);
	/* The tracker dropped the dead context before handing us the event. */
	assert_null(vmsig_holder_mem(h1, 2, NULL, NULL));
	vmsig_event_free(ev);
	ev = h_expect(h1, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 2);
	seq = ev->seq;
	vmsig_event_free(ev);
	/* A late subscriber gets the retained context, epoch and seq intact. */
	late = h_holder(fx->dir, "late");
	assert_non_null(late);
	ev = h_expect(late, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 2);
	assert_int_equal(ev->seq, seq);
	vmsig_event_free(ev);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	ev = h_expect(late, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 3);
	vmsig_event_free(ev);
	ev = h_expect(late, VMSIG_EV_ENDPOINT_GONE, 5000);
	assert_non_null(ev);
	vmsig_event_free(ev);
	vmsig_holder_close(h1);
	vmsig_holder_close(late);
}

/* A helper killed outright: its context dies; the next one gets epoch+1. */
static void
t_adapter_killed(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "one");
	vmsig_event *ev;
	struct h_proc a;

	adapter(fx, 3, &a);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 1);
	vmsig_event_free(ev);
	(void)h_stop(&a, SIGKILL, 5000);
	ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 2);
	vmsig_event_free(ev);
	adapter(fx, 3, &a);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 2);
	vmsig_event_free(ev);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	vmsig_event_free(ev);
	ev = h_expect(h, VMSIG_EV_ENDPOINT_GONE, 5000);
	assert_non_null(ev);
	vmsig_event_free(ev);
	vmsig_holder_close(h);
}

static void
t_writable_refused(void **state)
{
	static const char *const extra[] = { "--kcr3", "0x1000", "--rdwr",
	    NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "one");
	struct vmsig_status *st = NULL;
	struct h_proc a;
	int status;

	assert_int_equal(h_adapter(fx->dir, 4, fx->file, extra, 1, &a), 0);
	status = h_wait_exit(&a, 5000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);	/* the core's Error */
	assert_true(h_quiet(h, 300));
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->refused_fds, 1);
	vmsig_status_free(st);
	vmsig_holder_close(h);
}

static void
t_second_adapter_eexist(void **state)
{
	static const char *const extra[] = { "--kcr3", "0x1000", NULL };
	struct fx *fx = *state;
	struct h_proc a, b;
	char line[256];
	int status;

	adapter(fx, 5, &a);
	assert_int_equal(h_adapter(fx->dir, 5, fx->file, extra, 1, &b), 0);
	assert_int_equal(h_wait_line(&b, "error", 5000, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "17"));	/* EEXIST */
	status = h_wait_exit(&b, 5000);
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	/* Let the gone timer of endpoint 5 fire (300 ms) and close. */
	{
		struct vmsig_holder *h = h_holder(fx->dir, "wait");
		vmsig_event *ev = h_expect(h, VMSIG_EV_ENDPOINT_GONE, 5000);

		assert_non_null(ev);
		vmsig_event_free(ev);
		vmsig_holder_close(h);
	}
}

/* A raw connection that sends what it likes. */
static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Read the Error a refused peer gets, then end of stream. */
static uint32_t
raw_error(int fd)
{
	struct wire_arena *ar = wire_arena_new();
	unsigned char buf[VMSIG_FRAME_MAX];
	wire_frame *f;
	uint32_t code = 0;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	assert_true(n > 0);
	assert_int_equal(wire_decode(ar, buf, (size_t)n, 0, &f, NULL), 0);
	assert_int_equal(f->msg_case, VMSIG__V1__FRAME__MSG_ERROR);
	code = f->error->code;
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
	wire_arena_free(ar);
	return code;
}

static void
raw_hello(int fd, uint32_t version, int role)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;
	unsigned char buf[256];
	int n;

	h.proto_version = version;
	h.role = role;
	h.endpoint = 9;
	h.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	f.req_id = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	n = wire_pack(&f, buf, sizeof(buf));
	assert_int_equal(send(fd, buf, (size_t)n, 0), n);
}

static void
t_handshake_refusals(void **state)
{
	static const unsigned char garbage[] = { 0xff, 0xff, 0xff, 0xff };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "bystander");
	struct vmsig_status *st = NULL;
	int fd;

	assert_non_null(h);
	fd = raw_connect(h_hsock(fx->dir));
	raw_hello(fd, 99, VMSIG__V1__ROLE__ROLE_HOLDER);
	assert_int_equal(raw_error(fd), EPROTONOSUPPORT);
	close(fd);
	fd = raw_connect(h_hsock(fx->dir));
	raw_hello(fd, 1, VMSIG__V1__ROLE__ROLE_ADAPTER);
	assert_int_equal(raw_error(fd), EPERM);
	close(fd);
	fd = raw_connect(h_asock(fx->dir));
	raw_hello(fd, 1, VMSIG__V1__ROLE__ROLE_HOLDER);
	assert_int_equal(raw_error(fd), EPERM);
	close(fd);
	/* A malformed frame drops its sender, nobody else. */
	fd = raw_connect(h_hsock(fx->dir));
	assert_int_equal(send(fd, garbage, sizeof(garbage), 0), 4);
	assert_int_equal(raw_error(fd), EPROTO);
	close(fd);
	/* A request before hello is a protocol error too. */
	fd = raw_connect(h_hsock(fx->dir));
	{
		Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
		Vmsig__V1__StatusRequest sr = VMSIG__V1__STATUS_REQUEST__INIT;
		unsigned char buf[64];
		int n;

		f.req_id = 3;
		f.msg_case = VMSIG__V1__FRAME__MSG_STATUS;
		f.status = &sr;
		n = wire_pack(&f, buf, sizeof(buf));
		assert_int_equal(send(fd, buf, (size_t)n, 0), n);
	}
	assert_int_equal(raw_error(fd), EPROTO);
	close(fd);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->protocol_errors, 2);
	vmsig_status_free(st);
	vmsig_holder_close(h);
}

/* Read the Welcome of a raw connection. */
static void
raw_welcome(int fd)
{
	struct wire_arena *ar = wire_arena_new();
	unsigned char buf[VMSIG_FRAME_MAX];
	wire_frame *f;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	assert_true(n > 0);
	assert_int_equal(wire_decode(ar, buf, (size_t)n, 0, &f, NULL), 0);
	assert_int_equal(f->msg_case, VMSIG__V1__FRAME__MSG_WELCOME);
	wire_arena_free(ar);
}

/*
 * The receive path's promises: a holder that hangs up with frames unread
 * is no protocol error; an adapter's answer to a command vmsigd never sent
 * gets an Error{EPROTO}; a Hello whose name holds a NUL is refused.
 */
static void
t_receive_path(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "bystander"), *quitter;
	struct vmsig_status *st = NULL;
	struct pollfd pfd = { .events = POLLIN };
	unsigned char buf[256];
	vmsig_event *ev;
	struct h_proc a;
	char *x;
	int fd, n;

	assert_non_null(h);
	adapter(fx, 7, &a);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 1);
	vmsig_event_free(ev);
	/* The replay of endpoint 7 sits unread when the holder goes. */
	quitter = h_holder(fx->dir, "quitter");
	assert_non_null(quitter);
	pfd.fd = vmsig_holder_fd(quitter);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	vmsig_holder_close(quitter);
	/* An answer to nothing. */
	fd = raw_connect(h_asock(fx->dir));
	raw_hello(fd, 1, VMSIG__V1__ROLE__ROLE_ADAPTER);
	raw_welcome(fd);
	{
		Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
		Vmsig__V1__MemWriteResult w = VMSIG__V1__MEM_WRITE_RESULT__INIT;

		w.written = 8;
		f.req_id = 77;
		f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_RESULT;
		f.mem_write_result = &w;
		n = wire_pack(&f, buf, sizeof(buf));
		assert_int_equal(send(fd, buf, (size_t)n, 0), n);
	}
	assert_int_equal(raw_error(fd), EPROTO);
	close(fd);
	/* "ad\0min" would arrive as "ad" if the bytes were not checked. */
	fd = raw_connect(h_hsock(fx->dir));
	n = wire_pack_hello(buf, sizeof(buf), 1, VMSIG__V1__ROLE__ROLE_HOLDER,
	    "adXmin", 0, 0);
	assert_true(n > 0);
	x = memchr(buf, 'X', (size_t)n);
	assert_non_null(x);
	*x = '\0';
	assert_int_equal(send(fd, buf, (size_t)n, 0), n);
	assert_int_equal(raw_error(fd), EPROTO);
	close(fd);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->protocol_errors, 2);
	vmsig_status_free(st);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	vmsig_holder_close(h);
}

/* A holder that never reads is dropped; the other one misses nothing. */
static void
t_slow_holder(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *slow = h_holder(fx->dir, "slow");
	struct vmsig_holder *fast = h_holder(fx->dir, "fast");
	struct vmsig_status *st = NULL;
	vmsig_event *ev;
	struct h_proc a;
	int i, r;

	adapter(fx, 6, &a);
	ev = h_expect(fast, VMSIG_EV_MEMCTX, 5000);
	check_memctx(ev, 1);
	vmsig_event_free(ev);
	/* More events than the socket buffer and the queue (8) hold. */
	for (i = 0; i < 300; i++) {
		assert_int_equal(h_say(&a, "invalidate load"), 0);
		ev = h_expect(fast, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
		assert_non_null(ev);
		assert_int_equal(ev->epoch, (uint32_t)i + 2);
		vmsig_event_free(ev);
		ev = h_expect(fast, VMSIG_EV_MEMCTX, 5000);
		assert_non_null(ev);
		assert_int_equal(ev->epoch, (uint32_t)i + 2);
		vmsig_event_free(ev);
	}
	assert_int_equal(vmsig_holder_status(fast, 5000, &st), 0);
	assert_int_equal(st->slow_holders, 1);
	vmsig_status_free(st);
	/* The slow one finds its queue cut short and the connection gone. */
	for (i = 0; i < 2000; i++) {
		ev = NULL;
		r = vmsig_holder_next(slow, 1000, &ev);
		vmsig_event_free(ev);
		if (r != 1)
			break;
	}
	assert_int_equal(r, -EPIPE);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
	ev = h_expect(fast, VMSIG_EV_MEMCTX_INVALIDATED, 5000);
	vmsig_event_free(ev);
	ev = h_expect(fast, VMSIG_EV_ENDPOINT_GONE, 5000);
	assert_non_null(ev);
	vmsig_event_free(ev);
	vmsig_holder_close(slow);
	vmsig_holder_close(fast);
}

/* A status round trip: vmsigd has handled everything sent before. */
static void
sync_daemon(struct fx *fx)
{
	struct vmsig_holder *h = h_holder(fx->dir, "check");
	struct vmsig_status *st = NULL;

	assert_non_null(h);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	vmsig_status_free(st);
	vmsig_holder_close(h);
	/* ... and our own close of that connection too. */
	h = h_holder(fx->dir, "check2");
	assert_non_null(h);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	vmsig_status_free(st);
	vmsig_holder_close(h);
}

static void
churn(struct fx *fx, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct vmsig_holder *h = NULL;

		assert_int_equal(vmsig_holder_open(h_hsock(fx->dir), "churn",
		    5000, &h), 0);
		if (i % 2 == 0)
			assert_int_equal(vmsig_holder_subscribe(h, NULL, 0, 0,
			    5000), 0);
		vmsig_holder_close(h);
	}
	sync_daemon(fx);
}

/*
 * 10,000 connections: descriptor count and RSS of vmsigd stay flat.  Under
 * AddressSanitizer the allocator's own caches grow during the first batch
 * whatever the program does, so there the flatness is measured across a
 * second batch of the same size.
 */
static void
t_churn(void **state)
{
	struct fx *fx = *state;
	long rss0, rss1;
	int fd0;

	churn(fx, 200);		/* warm up allocator arenas */
#ifdef __SANITIZE_ADDRESS__
	churn(fx, 10000);
#endif
	fd0 = h_fd_settle(fx->d.pid, fx->base_d, 2000);
	rss0 = h_rss_kib(fx->d.pid);
	churn(fx, 10000);
	rss1 = h_rss_kib(fx->d.pid);
	fprintf(stderr, "churn: vmsigd fds %d -> %d, RSS %ld -> %ld KiB\n",
	    fd0, h_fd_count(fx->d.pid), rss0, rss1);
	assert_int_equal(h_fd_settle(fx->d.pid, fd0, 2000), fd0);
	assert_true(rss1 - rss0 < 512);
}

/* systemd socket activation: the sockets come as fds 3 and 4 by name. */
static void
t_socket_activation(void **state)
{
	char *dir = h_tmpdir(), hs[4096], as[4096], l1[4200], l2[4200];
	char sa[] = "/usr/bin/systemd-socket-activate", bin[4096];
	struct vmsig_holder *h;
	struct vmsig_status *st = NULL;
	struct h_proc p;

	(void)state;
	if (access(sa, X_OK) != 0) {
		h_rmdir(dir);
		skip();
	}
	snprintf(hs, sizeof(hs), "%s", h_hsock(dir));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsigd"));
	snprintf(l1, sizeof(l1), "--listen=%s", hs);
	snprintf(l2, sizeof(l2), "--listen=%s", as);
	{
		/* It passes no environment on unless told: the daemon's
		 * ASAN_OPTIONS (harness.c) must reach it. */
		char self[32];
		char *argv[] = { sa, "--seqpacket", l1, l2,
		    "--fdname=holder:adapter", "--setenv=ASAN_OPTIONS", bin,
		    "-f", "--allow-holder", self, "--deliver-to-owner", NULL };

		/* As h_vmsigd(): admit the user running the test. */
		snprintf(self, sizeof(self), "uid:%u", (unsigned)geteuid());

		assert_int_equal(h_spawn(argv, 0, 0, &p), 0);
	}
	assert_int_equal(h_wait_socket(hs, 5000), 0);
	h = h_holder(dir, "activated");
	assert_non_null(h);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->pid, p.pid);	/* systemd-socket-activate execs */
	vmsig_status_free(st);
	vmsig_holder_close(h);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	h_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_two_holders, setup, teardown),
		cmocka_unit_test_setup_teardown(t_invalidate_and_replay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_adapter_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_writable_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_second_adapter_eexist, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_handshake_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_receive_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_slow_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(t_churn, setup, teardown),
		cmocka_unit_test(t_socket_activation),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
