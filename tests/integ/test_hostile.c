/* SPDX-License-Identifier: MIT */
/*
 * vmsigd under hostile local peers, with the real daemon, the test adapter
 * and raw sockets for the attackers:
 *  - 200 connections x 125 Subscribe{} that never read: each holds at most
 *    --holder-fds descriptors, a re-Subscribe replays nothing already sent,
 *    and a well-behaved holder still sees INVALIDATED then MEMCTX of every
 *    new epoch while the adapter keeps working;
 *  - 20,000 connections from a uid the policy refuses (65534): each is
 *    refused at accept, vmsigd stays under a CPU and a log-line budget, and
 *    a holder and an adapter connect and get their context meanwhile;
 *  - connections per uid capped, and no Hello within the deadline closes;
 *  - at its descriptor limit (EMFILE) vmsigd pauses its listeners instead
 *    of spinning, logs that once a second, and recovers;
 *  - the default policy admits root only (vmsigd --user nobody does not
 *    admit nobody), the configuration adds to it, status names the rule;
 *  - a holder whose uid owns the RAM file gets no context by default.
 * Tests that need a second uid run a child that setuid()s to 65534 and are
 * skipped, with a message, when not root.
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
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <vmsig/holder.h>
#include <vmsig/memctx.h>

#include "harness.h"
#include "../common/tproc.h"
#include "wire.h"

#define RAM_SIZE	(16u << 20)
#define NOBODY		65534
#define HOSTILE		200
#define SUBSCRIBES	125
#define HOLDER_FDS	4	/* vmsigd's default --holder-fds */
#define FLOOD		20000
#define FLOOD_CPU_MS	4000	/* budget: 200 us of CPU per connection */

struct fx {
	char *dir;
	char file[4096];
	char log[4096];
	struct h_proc d;
};

static int
log_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	int n = 0, c;

	if (f == NULL)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Lines of the log that contain what. */
static int
log_count(const char *path, const char *what)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* vmsigd with its log (stderr) in fx->log, so lines can be counted. */
static void
start(struct fx *fx, const char *const extra[])
{
	int saved = dup(STDERR_FILENO), lf, r;

	snprintf(fx->log, sizeof(fx->log), "%s/vmsigd.log", fx->dir);
	lf = open(fx->log, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && lf >= 0);
	dup2(lf, STDERR_FILENO);
	r = h_vmsigd(fx->dir, extra, &fx->d);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(lf);
	assert_int_equal(r, 0);
}

/* The same under RLIMIT_NOFILE = nofile (vmsigd raises the soft limit to
 * the hard one, so both are set in a child before the exec). */
static void
start_nofile(struct fx *fx, unsigned int nofile, const char *const extra[])
{
	static char hs[4096], as[4096], bin[4096];
	const char *argv[24];
	size_t n = 0;

	snprintf(hs, sizeof(hs), "%s", h_hsock(fx->dir));
	snprintf(as, sizeof(as), "%s", h_asock(fx->dir));
	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsigd"));
	snprintf(fx->log, sizeof(fx->log), "%s/vmsigd.log", fx->dir);
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "--holder-socket";
	argv[n++] = hs;
	argv[n++] = "--adapter-socket";
	argv[n++] = as;
	if (geteuid() != 0) {		/* as h_vmsigd() */
		static char self[32];

		snprintf(self, sizeof(self), "uid:%u", (unsigned)geteuid());
		argv[n++] = "--allow-holder";
		argv[n++] = self;
		argv[n++] = "--allow-adapter";
		argv[n++] = self;
		argv[n++] = "--deliver-to-owner";
	}
	for (; extra != NULL && *extra != NULL && n < 22; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	fx->d.in = fx->d.out = -1;
	fx->d.pid = fork();
	assert_true(fx->d.pid >= 0);
	if (fx->d.pid == 0) {
		struct rlimit rl = { nofile, nofile };
		int lf = open(fx->log, O_CREAT | O_WRONLY | O_TRUNC, 0600);

		if (lf < 0 || dup2(lf, STDERR_FILENO) < 0 ||
		    setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(126);
		setenv("ASAN_OPTIONS", "detect_leaks=0:quarantine_size_mb=1",
		    1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(h_wait_socket(hs, 5000), 0);
	assert_int_equal(h_wait_socket(as, 5000), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int fd;

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	/* Others must reach the socket paths (the children are nobody). */
	(void)chmod(fx->dir, 0755);
	snprintf(fx->file, sizeof(fx->file), "%s/ram", fx->dir);
	fd = open(fx->file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, RAM_SIZE) == -1)
		return -1;
	(void)pwrite(fd, "guest!", 6, 0x1000);
	close(fd);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int st = 0;

	if (fx->d.pid > 0)
		st = h_stop(&fx->d, SIGTERM, 5000);
	h_rmdir(fx->dir);
	free(fx);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
adapter(struct fx *fx, uint32_t ep, struct h_proc *a)
{
	static const char *const extra[] = { "--kcr3", "0x1000", NULL };

	assert_int_equal(h_adapter(fx->dir, ep, fx->file, extra, 0, a), 0);
}

static void
expect_ctx(struct vmsig_holder *h, uint32_t epoch)
{
	vmsig_event *ev = h_expect(h, VMSIG_EV_MEMCTX, 10000);

	assert_non_null(ev);
	assert_int_equal(ev->epoch, epoch);
	assert_true(ev->fd >= 0);
	assert_int_equal(fcntl(ev->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	vmsig_event_free(ev);
}

static int
raw_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void
raw_send(int fd, Vmsig__V1__Frame *f)
{
	unsigned char buf[256];
	int n = wire_pack(f, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
}

static void
raw_hello(int fd)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_HOLDER;
	h.name = "hostile";
	f.req_id = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	raw_send(fd, &f);
}

static void
raw_subscribe(int fd, uint64_t req_id)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Subscribe s = VMSIG__V1__SUBSCRIBE__INIT;

	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_SUBSCRIBE;
	f.subscribe = &s;
	raw_send(fd, &f);
}

/* Read what waits on a raw socket without blocking: frames with a
 * descriptor (closed) and the first Error code, if any. */
static int
raw_drain(int fd, uint32_t *ret_error)
{
	struct wire_arena *ar = wire_arena_new();
	static unsigned char buf[VMSIG_FRAME_MAX];
	int nfd = 0;

	for (;;) {
		unsigned int n = 0;
		size_t len = 0;
		int fds[1] = { -1 }, r;
		wire_frame *f;

		r = fdpass_recv(fd, buf, sizeof(buf), fds, 1, &len, &n);
		if (r != 1)
			break;
		if (n > 0) {
			nfd++;
			close(fds[0]);
		}
		if (ret_error != NULL && *ret_error == 0 &&
		    wire_decode(ar, buf, len, n, &f, NULL) == 0 &&
		    f->msg_case == VMSIG__V1__FRAME__MSG_ERROR)
			*ret_error = f->error->code;
	}
	wire_arena_free(ar);
	return nfd;
}

/* Until vmsigd has read all we sent on every socket (our SIOCOUTQ 0). */
static void
wait_read(const int *fds, int n, int timeout_ms)
{
	long end = h_now_ms() + timeout_ms;
	int i, busy;

	do {
		for (i = 0, busy = 0; i < n; i++) {
			int q = 0;

			if (ioctl(fds[i], SIOCOUTQ, &q) == 0 && q > 0)
				busy++;
		}
		if (busy == 0)
			return;
		(void)poll(NULL, 0, 20);
	} while (h_now_ms() < end);
	fail_msg("vmsigd did not read %d sockets in %d ms", busy, timeout_ms);
}

/*
 * Item 1.  Before: 200 x 125 unread Subscribes pinned 25,000 descriptors,
 * past RLIMIT_NOFILE, so every sendmsg with one failed (ETOOMANYREFS) and
 * every holder was dropped.
 */
static void
unread_descriptors(struct fx *fx, int tight)
{
	static int hfd[HOSTILE];
	struct vmsig_holder *h;
	struct vmsig_status *st = NULL;
	vmsig_event *ev;
	struct h_proc a;
	long cpu0, cpu1, t0;
	int i, j, fds_attack, lines0, got, epoch;

	adapter(fx, 1, &a);
	h = h_holder(fx->dir, "good");
	assert_non_null(h);
	expect_ctx(h, 1);
	lines0 = log_lines(fx->log);
	cpu0 = t_cpu_ms(fx->d.pid);
	t0 = h_now_ms();
	for (i = 0; i < HOSTILE; i++) {
		hfd[i] = raw_connect(h_hsock(fx->dir));
		assert_true(hfd[i] >= 0);
		raw_hello(hfd[i]);
		for (j = 0; j < SUBSCRIBES; j++)
			raw_subscribe(hfd[i], 2 + (uint64_t)j);
	}
	wait_read(hfd, HOSTILE, 20000);
	/* Every hostile peer is still connected (it broke no rule). */
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->npeers, HOSTILE + 2);
	vmsig_status_free(st);
	fds_attack = h_fd_count(fx->d.pid);
	/* New epochs: the good holder sees each, the adapter keeps going. */
	for (epoch = 2; epoch <= 7; epoch++) {
		assert_int_equal(h_say(&a, "invalidate hostile"), 0);
		ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 10000);
		assert_non_null(ev);
		assert_int_equal(ev->epoch, (uint32_t)epoch);
		vmsig_event_free(ev);
		expect_ctx(h, (uint32_t)epoch);
	}
	cpu1 = t_cpu_ms(fx->d.pid);
	/* 125 Subscribes replayed epoch 1 once; epochs 2..4 went out; the
	 * rest is owed until the peer reads: HOLDER_FDS in all.  Tight, the
	 * hostile ones share half the descriptor limit: 1 to HOLDER_FDS. */
	got = raw_drain(hfd[1], NULL);
	if (tight)
		assert_true(got >= 1 && got <= HOLDER_FDS);
	else
		assert_int_equal(got, HOLDER_FDS);
	/* A peer that reads gets what it is owed: epoch 7 (coalesced). */
	{
		long end = h_now_ms() + 5000;
		int more = 0;

		while (more == 0 && h_now_ms() < end) {
			(void)poll(NULL, 0, 20);
			more = raw_drain(hfd[1], NULL);
		}
		assert_int_equal(more, 1);
	}
	fprintf(stderr, "item 1%s: %d connections x %d Subscribe{} unread, 6 "
	    "epochs: vmsigd CPU %ld ms over %ld ms, %d descriptors open, "
	    "%d log lines; hostile socket #1 held %d descriptors\n",
	    tight ? " (RLIMIT_NOFILE 512)" : "", HOSTILE, SUBSCRIBES,
	    cpu1 - cpu0, h_now_ms() - t0, fds_attack,
	    log_lines(fx->log) - lines0, got);
	/* The descriptor count includes one socket per connection, no
	 * queued duplicates. */
	assert_true(fds_attack < HOSTILE + 40);
	assert_true(log_lines(fx->log) - lines0 < 40);
	for (i = 0; i < HOSTILE; i++)
		close(hfd[i]);
	/* Kept sockets close once their queues are gone. */
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	vmsig_status_free(st);
	i = h_fd_settle(fx->d.pid, fds_attack - HOSTILE, 5000);
	assert_int_equal(i, fds_attack - HOSTILE);
	vmsig_holder_close(h);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
}

static void
t_unread_descriptors(void **state)
{
	static const char *const extra[] = { "--max-connections-per-uid",
	    "1000", NULL };
	struct fx *fx = *state;

	/* vmsigd is not dumpable: only root reads its /proc/PID/fd. */
	t_need_root("counting vmsigd's descriptors");

	start(fx, extra);
	unread_descriptors(fx, 0);
}

/* The same with 200 x 4 > 256 (half of RLIMIT_NOFILE 512): the hostile
 * ones fill the budget and the good holder is still served from the
 * reserve; no sendmsg fails with ETOOMANYREFS. */
static void
t_unread_descriptors_tight(void **state)
{
	static const char *const extra[] = { "--max-connections-per-uid",
	    "400", NULL };
	struct fx *fx = *state;

	/* vmsigd is not dumpable: only root reads its /proc/PID/fd. */
	t_need_root("counting vmsigd's descriptors");

	start_nofile(fx, 512, extra);
	unread_descriptors(fx, 1);
	assert_int_equal(log_count(fx->log, "ETOOMANYREFS"), 0);
}

static int
become_nobody(void)
{
	if (setgroups(0, NULL) == -1 || setresgid(NOBODY, NOBODY, NOBODY) ==
	    -1 || setresuid(NOBODY, NOBODY, NOBODY) == -1)
		return -1;
	return 0;
}

static int
skip_unless_root(void)
{
	if (geteuid() == 0)
		return 0;
	fprintf(stderr, "skipped: needs root to run a child as uid %d\n",
	    NOBODY);
	return 1;
}

/* The flood: n connections as nobody that never say Hello.  Writes one
 * byte to `progress` at n/4 and one at n, then waits for `go` to end. */
static int
flood_child(const char *path, int n, int progress, int go)
{
	static int ring[FLOOD];
	struct rlimit rl;
	uint32_t code = 0;
	int i, fd, first = -1, keep = n;
	char c = 0;

	/* Keep as many open as our own limit allows; close the oldest
	 * beyond that (vmsigd closed its end of each long before). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64)
		keep = (int)rl.rlim_cur - 64;
	if (keep < 1 || keep > FLOOD || become_nobody() < 0)
		return 10;
	for (i = 0; i < n; i++) {
		if ((fd = raw_connect(path)) < 0)
			return 11;
		if (first < 0)
			first = fd;
		else if (i >= keep && ring[i % keep] != first)
			close(ring[i % keep]);
		ring[i % keep] = fd;
		if (i + 1 == n / 4 && write(progress, "q", 1) != 1)
			return 12;
	}
	/* The first one was refused at once, with a reason. */
	(void)raw_drain(first, &code);
	if (code != EPERM)
		return 13;
	if (write(progress, "d", 1) != 1 || read(go, &c, 1) != 1)
		return 14;
	return 0;
}

/* Item 2. */
static void
t_no_hello_flood(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h;
	struct h_proc a, child = { .in = -1, .out = -1 };
	int prog[2], go[2], fds_mid, fds_end, lines0, lines, st;
	long cpu0, cpu1, t0, t1;
	char c;

	if (skip_unless_root())
		skip();
	start(fx, NULL);
	assert_int_equal(pipe2(prog, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	lines0 = log_lines(fx->log);
	cpu0 = t_cpu_ms(fx->d.pid);
	t0 = h_now_ms();
	child.pid = fork();
	assert_true(child.pid >= 0);
	if (child.pid == 0)
		_exit(flood_child(h_hsock(fx->dir), FLOOD, prog[1], go[0]));
	/* A child that fails ends the pipe: the read says so at once. */
	close(prog[1]);
	close(go[0]);
	if (read(prog[0], &c, 1) != 1) {
		st = h_wait_exit(&child, 5000);
		fail_msg("flood child: exit status %d",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	/* A quarter of the flood is in: a holder and an adapter meanwhile. */
	h = h_holder(fx->dir, "meanwhile");
	assert_non_null(h);
	adapter(fx, 1, &a);
	expect_ctx(h, 1);
	fds_mid = h_fd_count(fx->d.pid);
	assert_int_equal(read(prog[0], &c, 1), 1);
	assert_int_equal(c, 'd');
	/* connect() returns once queued on the listener: the last few
	 * thousand may not be accepted yet.  Until vmsigd's CPU time holds
	 * still for 200 ms (at most 10 s). */
	cpu1 = t_cpu_ms(fx->d.pid);
	for (st = 0, t1 = h_now_ms() + 10000; st < 2 && h_now_ms() < t1; ) {
		long c2;

		(void)poll(NULL, 0, 100);
		c2 = t_cpu_ms(fx->d.pid);
		st = c2 == cpu1 ? st + 1 : 0;
		cpu1 = c2;
	}
	t1 = h_now_ms();
	fds_end = h_fd_count(fx->d.pid);
	lines = log_lines(fx->log) - lines0;
	fprintf(stderr, "item 2: %d connections from uid %d without Hello in "
	    "%ld ms: vmsigd CPU %ld ms, %d log lines, %d descriptors open "
	    "(mid-attack %d)\n", FLOOD, NOBODY, t1 - t0, cpu1 - cpu0, lines,
	    fds_end, fds_mid);
	assert_true(cpu1 - cpu0 < FLOOD_CPU_MS);
	/* 5 refusals a second, plus the adapter's own lines. */
	assert_true(lines <= 5 * (int)((t1 - t0) / 1000 + 1) + 10);
	/* Up to 64 refused sockets linger 200 ms (admit.c), then close. */
	assert_true(fds_end < 40 + 64);
	fds_end = h_fd_settle(fx->d.pid, fds_end - 64, 2000);
	fprintf(stderr, "item 2: %d descriptors once the refused sockets "
	    "stopped lingering\n", fds_end);
	assert_true(fds_end < 40);
	assert_int_equal(write(go[1], "x", 1), 1);
	st = h_wait_exit(&child, 30000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(prog[0]);
	close(go[1]);
	vmsig_holder_close(h);
	assert_int_equal(h_say(&a, "quit"), 0);
	assert_int_equal(h_wait_exit(&a, 5000), 0);
}

/* 80 connections as nobody: 50 admitted (the cap), 30 refused (EUSERS);
 * the 50 say nothing and are closed at the deadline (ETIMEDOUT). */
static int
cap_child(const char *path)
{
	int fd[80], i, n_users = 0, n_timeout = 0;
	long t0;

	if (become_nobody() < 0)
		return 10;
	for (i = 0; i < 80; i++)
		if ((fd[i] = raw_connect(path)) < 0)
			return 11;
	t0 = h_now_ms();
	for (i = 0; i < 80; i++) {
		struct pollfd p = { .fd = fd[i], .events = POLLIN };
		uint32_t code = 0;

		/* The deadline is 500 ms; allow the tick and a slow host. */
		if (poll(&p, 1, 5000) != 1)
			return 12;
		(void)raw_drain(fd[i], &code);
		n_users += code == EUSERS;
		n_timeout += code == ETIMEDOUT;
	}
	if (n_users != 30 || n_timeout != 50)
		return 13;
	if (h_now_ms() - t0 < 300)
		return 14;	/* closed before the deadline */
	return 0;
}

static void
t_conn_cap_and_deadline(void **state)
{
	static const char *const extra[] = { "--allow-holder", "uid:65534",
	    "--max-connections-per-uid", "50", "--hello-timeout-ms", "500",
	    NULL };
	struct fx *fx = *state;
	struct h_proc child = { .in = -1, .out = -1 };
	struct vmsig_holder *h;
	int st;

	if (skip_unless_root())
		skip();
	start(fx, extra);
	child.pid = fork();
	assert_true(child.pid >= 0);
	if (child.pid == 0)
		_exit(cap_child(h_hsock(fx->dir)));
	st = h_wait_exit(&child, 20000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Root has its own count: still admitted. */
	h = h_holder(fx->dir, "root");
	assert_non_null(h);
	vmsig_holder_close(h);
}

/* As nobody: open a holder; 0 admitted, 1 refused with the rule named. */
static int
nobody_child(const char *dir, int want_admitted)
{
	struct vmsig_holder *h = NULL;
	int r;

	if (become_nobody() < 0)
		return 10;
	r = vmsig_holder_open(h_hsock(dir), "nobody", 5000, &h);
	if (want_admitted) {
		if (r < 0)
			return 11;
		/* Stay until the parent has seen us in the status. */
		(void)poll(NULL, 0, 10000);
		return 0;
	}
	if (r != -EPERM || strstr(vmsig_holder_error(NULL), "rule 'holders'")
	    == NULL) {
		fprintf(stderr, "nobody refused: %d (%s)\n", r,
		    vmsig_holder_error(NULL));
		return 12;
	}
	return 0;
}

static const struct vmsig_status_peer *
find_peer(const struct vmsig_status *st, uid_t uid)
{
	size_t i;

	for (i = 0; i < st->npeers; i++)
		if (st->peers[i].uid == uid)
			return &st->peers[i];
	return NULL;
}

/* Item 3: vmsigd as nobody admits root only, unless told. */
static void
t_default_policy(void **state)
{
	static const char *const quiet[] = { "--user", "nobody", NULL };
	static const char *const named[] = { "--user", "nobody",
	    "--allow-holder", "user:nobody", NULL };
	struct fx *fx = *state;
	struct h_proc child = { .in = -1, .out = -1 };
	struct vmsig_holder *h;
	struct vmsig_status *st = NULL;
	const struct vmsig_status_peer *p;
	long end;
	int s;

	if (skip_unless_root())
		skip();
	start(fx, quiet);
	child.pid = fork();
	if (child.pid == 0)
		_exit(nobody_child(fx->dir, 0));
	s = h_wait_exit(&child, 10000);
	assert_true(WIFEXITED(s));
	assert_int_equal(WEXITSTATUS(s), 0);
	h = h_holder(fx->dir, "root");
	assert_non_null(h);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_non_null(p = find_peer(st, 0));
	assert_string_equal(p->rule, "holders uid:0 (default)");
	vmsig_status_free(st);
	st = NULL;
	vmsig_holder_close(h);
	assert_int_equal(h_stop(&fx->d, SIGTERM, 5000), 0);

	start(fx, named);
	child.pid = fork();
	if (child.pid == 0)
		_exit(nobody_child(fx->dir, 1));
	h = h_holder(fx->dir, "root");
	assert_non_null(h);
	end = h_now_ms() + 5000;
	p = NULL;
	do {
		vmsig_status_free(st);
		st = NULL;
		assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
		p = find_peer(st, NOBODY);
	} while ((p == NULL || p->role != 1) && h_now_ms() < end &&
	    poll(NULL, 0, 20) == 0);
	assert_non_null(p);
	assert_string_equal(p->rule, "holders user:nobody (command line)");
	vmsig_status_free(st);
	vmsig_holder_close(h);
	(void)h_stop(&child, SIGTERM, 5000);
}

/* As nobody, the RAM file's owner: subscribe; 0 when the outcome is the
 * wanted one (refused with a message, or a context). */
static int
owner_child(const char *dir, int want_ctx)
{
	struct vmsig_holder *h = NULL;
	vmsig_event *ev = NULL;
	int r;

	if (become_nobody() < 0)
		return 10;
	if (vmsig_holder_open(h_hsock(dir), "owner", 5000, &h) < 0)
		return 11;
	if (vmsig_holder_subscribe(h, NULL, 0, 0, 5000) < 0)
		return 12;
	r = vmsig_holder_next(h, 5000, &ev);
	if (want_ctx)
		return r == 1 && ev->type == VMSIG_EV_MEMCTX ? 0 : 13;
	if (r != -EPERM)
		return 14;
	return strstr(vmsig_holder_error(h), "owns the RAM file") ? 0 : 15;
}

/* Item 7: no context for a holder that could reopen it for writing. */
static void
t_owner_refused(void **state)
{
	static const char *const refuse[] = { "--allow-holder", "uid:65534",
	    NULL };
	static const char *const allow[] = { "--allow-holder", "uid:65534",
	    "--deliver-to-owner", NULL };
	const char *const *extra[2] = { refuse, allow };
	struct fx *fx = *state;
	struct h_proc child = { .in = -1, .out = -1 }, a;
	int k, s;

	if (skip_unless_root())
		skip();
	assert_int_equal(chown(fx->file, NOBODY, NOBODY), 0);
	for (k = 0; k < 2; k++) {
		start(fx, extra[k]);
		adapter(fx, 1, &a);
		child.pid = fork();
		if (child.pid == 0)
			_exit(owner_child(fx->dir, k));
		s = h_wait_exit(&child, 10000);
		assert_true(WIFEXITED(s));
		assert_int_equal(WEXITSTATUS(s), 0);
		assert_int_equal(h_say(&a, "quit"), 0);
		assert_int_equal(h_wait_exit(&a, 5000), 0);
		assert_int_equal(h_stop(&fx->d, SIGTERM, 5000), 0);
	}
}

/*
 * Out of descriptors: vmsigd under a limit of 96 and 150 connections to
 * the adapter socket (root is an adapter; that socket has no per-uid cap)
 * that never say Hello.  accept fails with EMFILE until the deadline
 * closes some: the listeners pause (100 ms) instead of spinning, the
 * failure is logged once a second, and service comes back.
 */
static void
t_emfile_pause(void **state)
{
	static const char *const extra[] = { "--hello-timeout-ms", "1500",
	    NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h;
	struct vmsig_status *st = NULL;
	static int fd[150];
	long cpu0, cpu1;
	int i, lines;

	start_nofile(fx, 96, extra);
	for (i = 0; i < 150; i++)
		assert_true((fd[i] = raw_connect(h_asock(fx->dir))) >= 0);
	/* Let it run into the limit, then measure a second of it. */
	(void)poll(NULL, 0, 200);
	cpu0 = t_cpu_ms(fx->d.pid);
	(void)poll(NULL, 0, 1000);
	cpu1 = t_cpu_ms(fx->d.pid);
	lines = log_count(fx->log, "Too many open files");
	fprintf(stderr, "EMFILE: vmsigd CPU %ld ms in 1 s at its descriptor "
	    "limit, %d accept failures logged\n", cpu1 - cpu0, lines);
	assert_true(lines >= 1 && lines <= 3);
	assert_true(cpu1 - cpu0 < 300);		/* spinning: ~1000 */
	/* The deadline frees descriptors; service comes back. */
	for (i = 0; i < 150; i++)
		close(fd[i]);
	h = h_holder(fx->dir, "after");
	assert_non_null(h);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	vmsig_status_free(st);
	vmsig_holder_close(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_unread_descriptors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_unread_descriptors_tight,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(t_no_hello_flood, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_conn_cap_and_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_default_policy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_owner_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_emfile_pause, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
