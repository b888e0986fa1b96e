/* SPDX-License-Identifier: MIT */
/*
 * The MEMCTX fan-out measurement shared by the benchmarks (see fanout.h):
 * vmsigd started on a temporary directory, the bench as its adapter, and N
 * holders timed from InvalidateRequest to the last new MEMCTX.
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

#include "fanout.h"

double
fanout_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void
fanout_die(struct fanout_bench *b, const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", b->name, what, strerror(err));
	if (b->vmsigd_pid > 0)
		kill(b->vmsigd_pid, SIGKILL);
	exit(1);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
fanout_median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp);
	return t[n / 2];
}

static void
start_vmsigd(struct fanout_bench *b, const char *const *extra)
{
	const char *argv[32];
	char bin[512];
	int i, n = 0;

	snprintf(bin, sizeof(bin), "%s/sbin/vmsigd", VMSIG_BUILD_DIR);
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "--holder-socket";
	argv[n++] = b->hsock;
	argv[n++] = "--adapter-socket";
	argv[n++] = b->asock;
	argv[n++] = "--queue-frames";
	argv[n++] = "4096";
	for (i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if ((b->vmsigd_pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 500 && access(b->asock, F_OK) != 0; i++)
		usleep(10000);
	if (i == 500)
		fanout_die(b, "vmsigd did not start", ETIMEDOUT);
}

int
fanout_connect(struct fanout_bench *b, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fanout_die(b, "connect", errno);
	return fd;
}

void
fanout_send(struct fanout_bench *b, int fd, Vmsig__V1__Frame *f, int pass)
{
	int n;

	f->nfds = pass >= 0 ? 1 : 0;
	n = wire_pack(f, b->fbuf, sizeof(b->fbuf));
	if (n < 0 ||
	    fdpass_send(fd, b->fbuf, (size_t)n, &pass, pass >= 0) < 0)
		fanout_die(b, "send", EIO);
}

static Vmsig__V1__Frame *
recv_frame(struct fanout_bench *b, int fd)
{
	Vmsig__V1__Frame *f;
	unsigned int nfds = 0;
	size_t len = 0;
	int fds[1];
	ssize_t r;

	do {
		r = fdpass_recv(fd, b->fbuf, sizeof(b->fbuf), fds, 1, &len,
		    &nfds);
	} while (r == -EAGAIN);
	if (r <= 0 || wire_decode(b->arena, b->fbuf, len, nfds, &f, NULL) < 0)
		fanout_die(b, "adapter recv", EPROTO);
	return f;
}

/* The bench as adapter of endpoint 1: hello, welcome. */
static int
adapter_open(struct fanout_bench *b)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;
	int fd = fanout_connect(b, b->asock);

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_ADAPTER;
	h.endpoint = 1;
	h.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	h.name = "bench";
	f.req_id = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	fanout_send(b, fd, &f, -1);
	if (recv_frame(b, fd)->msg_case != VMSIG__V1__FRAME__MSG_WELCOME)
		fanout_die(b, "adapter refused", EPERM);
	return fd;
}

static void
adapter_ready(struct fanout_bench *b)
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
	fanout_send(b, b->afd, &f, b->ramfd);
}

static void
adapter_invalidate(struct fanout_bench *b)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__InvalidateRequest ir = VMSIG__V1__INVALIDATE_REQUEST__INIT;

	ir.reason = "bench";
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST;
	f.invalidate_request = &ir;
	fanout_send(b, b->afd, &f, -1);
	if (recv_frame(b, b->afd)->msg_case != VMSIG__V1__FRAME__MSG_INVALIDATE)
		fanout_die(b, "no Invalidate", EPROTO);
	adapter_ready(b);
}

/* Drain every holder until each has seen a MEMCTX of `epoch`. */
static void
wait_all(struct fanout_bench *b, struct vmsig_holder **h, int n, int ep,
    uint32_t epoch)
{
	struct epoll_event evs[64];
	int left = n, i, k;
	char *done = calloc((size_t)n, 1);

	if (done == NULL)
		fanout_die(b, "calloc", ENOMEM);
	while (left > 0) {
		k = epoll_wait(ep, evs, 64, 10000);
		if (k <= 0)
			fanout_die(b, b->stalled, ETIMEDOUT);
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

double
fanout_measure(struct fanout_bench *b, int n)
{
	static struct vmsig_holder *h[FANOUT_MAXH];
	double t[FANOUT_ROUNDS];
	int ep = epoll_create1(EPOLL_CLOEXEC), i, r;

	if (n < 1 || n > FANOUT_MAXH || ep < 0)
		fanout_die(b, "fanout", EINVAL);
	for (i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		if ((r = vmsig_holder_open(b->hsock, "bench", 5000, &h[i])) < 0 ||
		    (r = vmsig_holder_subscribe(h[i], NULL, 0, 0, 5000)) < 0)
			fanout_die(b, "holder", -r);
		epoll_ctl(ep, EPOLL_CTL_ADD, vmsig_holder_fd(h[i]), &e);
	}
	wait_all(b, h, n, ep, b->epoch);	/* the replay */
	for (r = 0; r < FANOUT_ROUNDS; r++) {
		double t0 = fanout_now_us();

		adapter_invalidate(b);
		wait_all(b, h, n, ep, ++b->epoch);
		t[r] = fanout_now_us() - t0;
	}
	for (i = 0; i < n; i++)
		vmsig_holder_close(h[i]);
	close(ep);
	return fanout_median(t, FANOUT_ROUNDS);
}

void
fanout_start(struct fanout_bench *b, const char *tag,
    const char *const *vmsigd_args)
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	b->vmsigd_pid = 0;
	b->epoch = 1;
	snprintf(b->dir, sizeof(b->dir), "/dev/shm/vmsig-%s.XXXXXX", tag);
	if (mkdtemp(b->dir) == NULL)
		fanout_die(b, "mkdtemp", errno);
	snprintf(b->hsock, sizeof(b->hsock), "%s/h.sock", b->dir);
	snprintf(b->asock, sizeof(b->asock), "%s/a.sock", b->dir);
	snprintf(b->ram, sizeof(b->ram), "%s/ram", b->dir);
	if ((b->ramfd = open(b->ram, O_CREAT | O_RDWR | O_CLOEXEC, 0600)) < 0 ||
	    ftruncate(b->ramfd, 16u << 20) < 0)
		fanout_die(b, "ram file", errno);
	close(b->ramfd);
	b->ramfd = open(b->ram, O_RDONLY | O_CLOEXEC);
	b->arena = wire_arena_new();
	start_vmsigd(b, vmsigd_args);
	b->afd = adapter_open(b);
	adapter_ready(b);
}

void
fanout_stop(struct fanout_bench *b)
{
	close(b->afd);
	kill(b->vmsigd_pid, SIGTERM);
	waitpid(b->vmsigd_pid, NULL, 0);
	unlink(b->ram);
	rmdir(b->dir);
}
