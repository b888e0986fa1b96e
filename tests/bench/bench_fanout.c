/* SPDX-License-Identifier: MIT */
/*
 * MEMCTX fan-out: the time from an adapter's InvalidateRequest to the last
 * of N subscribed holders receiving the new MEMCTX (N = 1, 100, 1000),
 * next to a baseline measured in the same run: one datagram carrying one
 * descriptor sent to N raw socketpairs and received from all of them.
 * Also vmsigd's resident memory per idle holder.
 *
 * The bench plays the adapter itself (proto/ framing over the real adapter
 * socket) so the clock starts exactly when the request leaves; the holders
 * are real libvmsig-holder connections, context tracker included.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "wire.h"

#define ROUNDS	15
#define MAXH	1000

static char dir[] = "/dev/shm/vmsig-fanout.XXXXXX";
static char hsock[100], asock[100], ram[100];
static pid_t vmsigd_pid;
static unsigned char fbuf[VMSIG_FRAME_MAX];
static struct wire_arena *arena;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_fanout: %s: %s\n", what, strerror(err));
	if (vmsigd_pid > 0)
		kill(vmsigd_pid, SIGKILL);
	exit(1);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp);
	return t[n / 2];
}

static void
start_vmsigd(void)
{
	char bin[512];
	int i;

	snprintf(bin, sizeof(bin), "%s/sbin/vmsigd", VMSIG_BUILD_DIR);
	if ((vmsigd_pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execl(bin, bin, "-f", "--holder-socket", hsock,
		    "--adapter-socket", asock, "--queue-frames", "4096",
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(asock, F_OK) != 0; i++)
		usleep(10000);
	if (i == 500)
		die("vmsigd did not start", ETIMEDOUT);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect", errno);
	return fd;
}

static void
send_frame(int fd, Vmsig__V1__Frame *f, int pass)
{
	int n;

	f->nfds = pass >= 0 ? 1 : 0;
	n = wire_pack(f, fbuf, sizeof(fbuf));
	if (n < 0 || fdpass_send(fd, fbuf, (size_t)n, &pass, pass >= 0) < 0)
		die("send", EIO);
}

static Vmsig__V1__Frame *
recv_frame(int fd)
{
	Vmsig__V1__Frame *f;
	unsigned int nfds = 0;
	size_t len = 0;
	int fds[1];
	ssize_t r;

	do {
		r = fdpass_recv(fd, fbuf, sizeof(fbuf), fds, 1, &len, &nfds);
	} while (r == -EAGAIN);
	if (r <= 0 || wire_decode(arena, fbuf, len, nfds, &f, NULL) < 0)
		die("adapter recv", EPROTO);
	return f;
}

/* The bench as adapter of endpoint 1: hello, welcome, first context. */
static int
adapter_open(int ramfd)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;
	int fd = connect_to(asock);

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_ADAPTER;
	h.endpoint = 1;
	h.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	h.name = "bench";
	f.req_id = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	send_frame(fd, &f, -1);
	if (recv_frame(fd)->msg_case != VMSIG__V1__FRAME__MSG_WELCOME)
		die("adapter refused", EPERM);
	(void)ramfd;
	return fd;
}

static void
adapter_ready(int fd, int ramfd)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemctxReady mr = VMSIG__V1__MEMCTX_READY__INIT;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;

	l.kcr3 = 0x1000;
	l.low = 16u << 20;
	mr.loc = &l;
	mr.method = "bench";
	f.msg_case = VMSIG__V1__FRAME__MSG_MEMCTX_READY;
	f.memctx_ready = &mr;
	send_frame(fd, &f, ramfd);
}

static void
adapter_invalidate(int fd, int ramfd)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__InvalidateRequest ir = VMSIG__V1__INVALIDATE_REQUEST__INIT;

	ir.reason = "bench";
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST;
	f.invalidate_request = &ir;
	send_frame(fd, &f, -1);
	if (recv_frame(fd)->msg_case != VMSIG__V1__FRAME__MSG_INVALIDATE)
		die("no Invalidate", EPROTO);
	adapter_ready(fd, ramfd);
}

/* Drain every holder until each has seen a MEMCTX of `epoch`. */
static void
wait_all(struct vmsig_holder **h, int n, int ep, uint32_t epoch)
{
	struct epoll_event evs[64];
	int left = n, i, k;
	char *done = calloc((size_t)n, 1);

	while (left > 0) {
		k = epoll_wait(ep, evs, 64, 10000);
		if (k <= 0)
			die("holders stalled", ETIMEDOUT);
		for (i = 0; i < k; i++) {
			int idx = evs[i].data.u32;
			vmsig_event *ev = NULL;

			while (vmsig_holder_next(h[idx], 0, &ev) == 1) {
				if (ev->type == VMSIG_EV_MEMCTX &&
				    ev->epoch == epoch && !done[idx]) {
					done[idx] = 1;
					left--;
				}
				vmsig_event_free(ev);
			}
		}
	}
	free(done);
}

static double
fanout(int n, int afd, int ramfd, uint32_t *epoch)
{
	static struct vmsig_holder *h[MAXH];
	double t[ROUNDS];
	int ep = epoll_create1(EPOLL_CLOEXEC), i, r;

	for (i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		if ((r = vmsig_holder_open(hsock, "bench", 5000, &h[i])) < 0 ||
		    (r = vmsig_holder_subscribe(h[i], NULL, 0, 0, 5000)) < 0)
			die("holder", -r);
		epoll_ctl(ep, EPOLL_CTL_ADD, vmsig_holder_fd(h[i]), &e);
	}
	wait_all(h, n, ep, *epoch);	/* the replay */
	for (r = 0; r < ROUNDS; r++) {
		double t0 = now_us();

		adapter_invalidate(afd, ramfd);
		wait_all(h, n, ep, ++*epoch);
		t[r] = now_us() - t0;
	}
	for (i = 0; i < n; i++)
		vmsig_holder_close(h[i]);
	close(ep);
	return median(t, ROUNDS);
}

/* One datagram with one descriptor to n socketpairs, received from all. */
static double
raw_baseline(int n, int ramfd)
{
	static int sp[MAXH][2];
	double t[ROUNDS];
	unsigned char msg[96], in[128];
	int r, i;

	memset(msg, 0x5a, sizeof(msg));
	for (i = 0; i < n; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sp[i]) < 0)
			die("socketpair", errno);
	for (r = 0; r < ROUNDS; r++) {
		double t0 = now_us();

		for (i = 0; i < n; i++)
			if (fdpass_send(sp[i][0], msg, sizeof(msg), &ramfd,
			    1) < 0)
				die("raw send", EIO);
		for (i = 0; i < n; i++) {
			unsigned int nf = 0;
			size_t len;
			int fd = -1;

			if (fdpass_recv(sp[i][1], in, sizeof(in), &fd, 1, &len,
			    &nf) != 1)
				die("raw recv", EIO);
			close(fd);
		}
		t[r] = now_us() - t0;
	}
	for (i = 0; i < n; i++) {
		close(sp[i][0]);
		close(sp[i][1]);
	}
	return median(t, ROUNDS);
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void
rss_per_holder(void)
{
	static struct vmsig_holder *h[MAXH];
	struct vmsig_status *st = NULL;
	long before, after;
	int i;

	before = rss_kib(vmsigd_pid);
	for (i = 0; i < MAXH; i++)
		if (vmsig_holder_open(hsock, "idle", 5000, &h[i]) < 0)
			die("idle holder", EIO);
	/* A status round trip: every hello above has been handled. */
	if (vmsig_holder_status(h[0], 5000, &st) < 0)
		die("status", EIO);
	vmsig_status_free(st);
	after = rss_kib(vmsigd_pid);
	printf("vmsigd RSS: %ld KiB idle, %ld KiB with %d idle holders: "
	    "%.2f KiB per holder\n", before, after, MAXH,
	    (double)(after - before) / MAXH);
	for (i = 0; i < MAXH; i++)
		vmsig_holder_close(h[i]);
}

int
main(void)
{
	static const int ns[] = { 1, 100, 1000 };
	struct rlimit rl;
	uint32_t epoch = 1;
	int ramfd, afd;
	size_t k;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", errno);
	snprintf(hsock, sizeof(hsock), "%s/h.sock", dir);
	snprintf(asock, sizeof(asock), "%s/a.sock", dir);
	snprintf(ram, sizeof(ram), "%s/ram", dir);
	if ((ramfd = open(ram, O_CREAT | O_RDWR | O_CLOEXEC, 0600)) < 0 ||
	    ftruncate(ramfd, 16u << 20) < 0)
		die("ram file", errno);
	close(ramfd);
	ramfd = open(ram, O_RDONLY | O_CLOEXEC);
	arena = wire_arena_new();
	start_vmsigd();
	afd = adapter_open(ramfd);
	adapter_ready(afd, ramfd);
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		double f = fanout(ns[k], afd, ramfd, &epoch);
		double b = raw_baseline(ns[k], ramfd);

		printf("fanout %4d holders: %9.1f us  raw %d socketpairs: "
		    "%8.1f us  ratio %.2f\n", ns[k], f, ns[k], b, f / b);
		fflush(stdout);
	}
	rss_per_holder();
	printf("(fan-out: InvalidateRequest to the last holder's MEMCTX of the "
	    "new epoch, median of %d; the path carries 2 frames per holder, "
	    "INVALIDATED and MEMCTX; the baseline one frame, in one process)\n",
	    ROUNDS);
	close(afd);
	kill(vmsigd_pid, SIGTERM);
	waitpid(vmsigd_pid, NULL, 0);
	unlink(ram);
	rmdir(dir);
	return 0;
}
