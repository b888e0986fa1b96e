/* SPDX-License-Identifier: MIT */
/*
 * MEMCTX fan-out to 1,000 holders under attack, next to the same fan-out
 * measured quiet in the same run (the baseline), and their ratio (target:
 * within 2x).  The attack, all held open during the measurement:
 *  - 200 connections that say Hello, send 125 Subscribe{} each and never
 *    read: frames with descriptors queued in their sockets;
 *  - 10,000 connections that never send Hello (admitted uid, and a Hello
 *    deadline longer than the run, so vmsigd carries every one of them).
 * Every round waits for every well-behaved holder to see the new epoch's
 * MEMCTX: a holder that is never served stalls the bench (10 s) and fails.
 * Also vmsigd's CPU time and open descriptors during the attack.
 *
 * The bench plays the adapter (proto/ framing on the real adapter socket)
 * so the clock starts when the InvalidateRequest leaves; the holders are
 * real libvmsig-holder connections.  RLIMIT_NOFILE: the soft limit is
 * raised to the hard one; the attack shrinks to fit what is left.
 *
 * Runs in: tests
 */
#include <dirent.h>
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

#define ROUNDS		15
#define NHOLDERS	1000
#define NHOSTILE	200
#define NSUBSCRIBE	125
#define NNOHELLO	10000

static char dir[] = "/dev/shm/vmsig-hostile.XXXXXX";
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
	fprintf(stderr, "bench_hostile: %s: %s\n", what, strerror(err));
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

static long
cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

static int
fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
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
		/* The no-Hello connections stay for the whole run, from our
		 * own uid: the heaviest case for vmsigd (they are peers). */
		execl(bin, bin, "-f", "--holder-socket", hsock,
		    "--adapter-socket", asock, "--queue-frames", "4096",
		    "--max-connections-per-uid", "16000",
		    "--hello-timeout-ms", "600000", (char *)NULL);
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

/* Blocking: the hostile frames wait for vmsigd to read them. */
static void
send_blocking(int fd, Vmsig__V1__Frame *f)
{
	int n = wire_pack(f, fbuf, sizeof(fbuf));

	if (n < 0 || send(fd, fbuf, (size_t)n, MSG_NOSIGNAL) != n)
		die("hostile send", errno);
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

static int
adapter_open(void)
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
			die("a well-behaved holder was not served", ETIMEDOUT);
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

/* Median time from InvalidateRequest to the n-th holder's new MEMCTX. */
static double
fanout(int n, int afd, int ramfd, uint32_t *epoch)
{
	static struct vmsig_holder *h[NHOLDERS];
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

/* The attack; returns how many no-Hello connections fit our limit. */
static int
attack(int *hostile, int *nohello, int max_nohello)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;
	Vmsig__V1__Subscribe s = VMSIG__V1__SUBSCRIBE__INIT;
	int i, j;

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_HOLDER;
	h.name = "hostile";
	for (i = 0; i < NHOSTILE; i++) {
		hostile[i] = connect_to(hsock);
		f.req_id = 1;
		f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
		f.hello = &h;
		send_blocking(hostile[i], &f);
		f.msg_case = VMSIG__V1__FRAME__MSG_SUBSCRIBE;
		f.subscribe = &s;
		for (j = 0; j < NSUBSCRIBE; j++) {
			f.req_id = 2 + (uint64_t)j;
			send_blocking(hostile[i], &f);
		}
	}
	for (i = 0; i < max_nohello; i++)
		nohello[i] = connect_to(hsock);
	return max_nohello;
}

int
main(void)
{
	static int hostile[NHOSTILE], nohello[NNOHELLO];
	struct rlimit rl;
	uint32_t epoch = 1;
	double quiet, loud;
	long cpu0, cpu1;
	int ramfd, afd, n_nohello = NNOHELLO, fds_quiet, fds_loud, i;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Holders, hostile sockets and the no-Hello ones are all ours. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && (rlim_t)(NHOLDERS + NHOSTILE + NNOHELLO + 64) >
	    rl.rlim_cur)
		n_nohello = (int)rl.rlim_cur - NHOLDERS - NHOSTILE - 64;
	if (n_nohello < 0)
		n_nohello = 0;
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
	afd = adapter_open();
	adapter_ready(afd, ramfd);

	quiet = fanout(NHOLDERS, afd, ramfd, &epoch);
	fds_quiet = fd_count(vmsigd_pid);
	cpu0 = cpu_ms(vmsigd_pid);
	n_nohello = attack(hostile, nohello, n_nohello);
	loud = fanout(NHOLDERS, afd, ramfd, &epoch);
	cpu1 = cpu_ms(vmsigd_pid);
	fds_loud = fd_count(vmsigd_pid);

	printf("fanout %d holders quiet:        %9.1f us (baseline)\n",
	    NHOLDERS, quiet);
	printf("fanout %d holders under attack: %9.1f us  ratio %.2f "
	    "(target <= 2: %s)\n", NHOLDERS, loud, loud / quiet,
	    loud / quiet <= 2.0 ? "met" : "MISSED");
	printf("attack: %d connections x %d Subscribe{} never read, %d "
	    "connections never sending Hello; every well-behaved holder "
	    "served in each of %d rounds\n", NHOSTILE, NSUBSCRIBE, n_nohello,
	    ROUNDS);
	printf("vmsigd during the attack: %ld ms CPU (attack set-up and %d "
	    "rounds), %d descriptors open (%d idle after the quiet run)\n",
	    cpu1 - cpu0, ROUNDS, fds_loud, fds_quiet);
	printf("(fan-out: InvalidateRequest to the last holder's MEMCTX of the "
	    "new epoch, median of %d)\n", ROUNDS);
	for (i = 0; i < NHOSTILE; i++)
		close(hostile[i]);
	for (i = 0; i < n_nohello; i++)
		close(nohello[i]);
	close(afd);
	kill(vmsigd_pid, SIGTERM);
	waitpid(vmsigd_pid, NULL, 0);
	unlink(ram);
	rmdir(dir);
	return 0;
}
