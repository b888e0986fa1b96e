/* SPDX-License-Identifier: MIT */
/*
 * test-adapter: a stand-in for vmsig-memctx in tests (never installed).  It
 * connects to vmsigd's adapter socket for one endpoint, hands over a
 * descriptor of any file with a locator given on the command line, and
 * answers the core's Invalidate by offering the context again.  Commands on
 * stdin let a test drive it ("invalidate REASON", "ready", "quit"); lines on
 * stdout ("welcome PEER", "ready", "invalidate EPOCH", "error CODE MSG")
 * let the test wait for each step instead of sleeping.  --rdwr hands over
 * an O_RDWR descriptor so tests can check that the core refuses it.
 *
 * Exit status: 0 when the core closes the connection, stdin ends or "quit";
 * 2 when the core sent an Error; 1 on any other failure.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define WAIT_MS		5000

struct ta {
	const char *sock;
	const char *file;
	uint32_t endpoint;
	uint64_t kcr3, low;
	Vmsig__V1__Segment segs[VMSIG_SEGS_MAX];
	Vmsig__V1__Segment *segp[VMSIG_SEGS_MAX];
	size_t nsegs;
	int rdwr, no_ready, low_set;
	long invalidate_after_ms, exit_after_ms;
	int fd;
	int got_error;
	struct wire_arena *arena;
	unsigned char buf[VMSIG_FRAME_MAX];
	char line[1024];
	size_t linelen;
};

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "test-adapter: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	(void)fflush(stdout);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
send_frame(struct ta *t, Vmsig__V1__Frame *f, const int *fds,
    unsigned int nfds)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	int n, r;

	f->nfds = nfds;
	n = wire_pack(f, t->buf, sizeof(t->buf));
	if (n < 0)
		die("pack %s: %s", wire_msg_name(f), strerror(-n));
	while ((r = fdpass_send(t->fd, t->buf, (size_t)n, fds, nfds)) ==
	    -EAGAIN)
		if (poll(&p, 1, WAIT_MS) != 1)
			die("send %s: socket stays full", wire_msg_name(f));
	if (r < 0)
		die("send %s: %s", wire_msg_name(f), strerror(-r));
}

static void
send_hello(struct ta *t)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_ADAPTER;
	h.name = "test-adapter";
	h.endpoint = t->endpoint;
	h.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	f.req_id = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	send_frame(t, &f, NULL, 0);
}

/* Re-open the file each time, as the helper re-bootstraps for an epoch. */
static void
send_ready(struct ta *t)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemctxReady mr = VMSIG__V1__MEMCTX_READY__INIT;
	Vmsig__V1__Locator loc = VMSIG__V1__LOCATOR__INIT;
	int fd;

	fd = open(t->file, (t->rdwr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd == -1)
		die("open %s: %s", t->file, strerror(errno));
	loc.kcr3 = t->kcr3;
	loc.low = t->low;
	loc.flags = 0;
	loc.n_segs = t->nsegs;
	loc.segs = t->segp;
	mr.loc = &loc;
	mr.method = "test";
	f.msg_case = VMSIG__V1__FRAME__MSG_MEMCTX_READY;
	f.memctx_ready = &mr;
	send_frame(t, &f, &fd, 1);
	(void)close(fd);
	say("ready");
}

static void
send_invalidate_request(struct ta *t, const char *reason)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__InvalidateRequest ir = VMSIG__V1__INVALIDATE_REQUEST__INIT;

	ir.reason = (char *)(uintptr_t)reason;
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST;
	f.invalidate_request = &ir;
	send_frame(t, &f, NULL, 0);
}

/* Receive and handle one frame from the core.  Returns 0 at its end. */
static int
core_frame(struct ta *t, int handshake)
{
	wire_frame *f;
	unsigned int nfds;
	size_t len;
	const char *why = "?";
	int fds[1], r;

	r = fdpass_recv(t->fd, t->buf, sizeof(t->buf), fds, 1, &len, &nfds);
	if (r == -EAGAIN || r == -EINTR)
		return 1;
	if (r == 0 || r == -ECONNRESET)
		return 0;
	if (r < 0)
		die("recv: %s", strerror(-r));
	r = wire_decode(t->arena, t->buf, len, nfds, &f, &why);
	fdpass_close(fds, nfds);
	if (r < 0)
		die("bad frame from the core: %s", why);
	switch (f->msg_case) {
	case VMSIG__V1__FRAME__MSG_WELCOME:
		if (!handshake)
			die("welcome after the handshake");
		say("welcome %" PRIu32, f->welcome->peer_id);
		return 1;
	case VMSIG__V1__FRAME__MSG_ERROR:
		say("error %" PRIu32 " %s", f->error->code,
		    f->error->message != NULL ? f->error->message : "");
		t->got_error = 1;
		return 1;
	case VMSIG__V1__FRAME__MSG_INVALIDATE:
		if (handshake)
			die("invalidate before welcome");
		say("invalidate %" PRIu32, f->invalidate->epoch);
		send_ready(t);
		return 1;
	case VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD:
		/* Writes are not this adapter's business. */
		say("memwrite %" PRIu64, f->req_id);
		return 1;
	default:
		die("unexpected %s from the core", wire_msg_name(f));
	}
	return 1;
}

static void
handshake(struct ta *t)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd p;
	int64_t deadline = now_ms() + WAIT_MS;

	if (strlen(t->sock) >= sizeof(sun.sun_path))
		die("%s: path too long", t->sock);
	memcpy(sun.sun_path, t->sock, strlen(t->sock) + 1);
	t->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (t->fd == -1 ||
	    connect(t->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect %s: %s", t->sock, strerror(errno));
	send_hello(t);
	p.fd = t->fd;
	p.events = POLLIN;
	while (!t->got_error) {
		int left = (int)(deadline - now_ms());

		if (left <= 0 || poll(&p, 1, left) != 1)
			die("no welcome from the core within %d ms", WAIT_MS);
		if (core_frame(t, 1) == 0)
			die("the core closed the connection during the handshake");
		if (t->got_error)
			break;
		return;
	}
	/* Refused: wait for the core to hang up, then report it. */
	while (poll(&p, 1, WAIT_MS) == 1 && core_frame(t, 1) != 0)
		;
	exit(2);
}

/* Handle complete lines from stdin.  Returns 0 for quit or end of input. */
static int
stdin_lines(struct ta *t)
{
	ssize_t n;
	char *nl;

	n = read(STDIN_FILENO, t->line + t->linelen,
	    sizeof(t->line) - 1 - t->linelen);
	if (n <= 0)
		return n < 0 && errno == EINTR;
	t->linelen += (size_t)n;
	t->line[t->linelen] = '\0';
	while ((nl = strchr(t->line, '\n')) != NULL) {
		*nl = '\0';
		if (strncmp(t->line, "invalidate", 10) == 0)
			send_invalidate_request(t, t->line[10] == ' ' ?
			    t->line + 11 : "test");
		else if (strcmp(t->line, "ready") == 0)
			send_ready(t);
		else if (strcmp(t->line, "quit") == 0)
			return 0;
		else if (t->line[0] != '\0')
			fprintf(stderr, "test-adapter: unknown command '%s'\n",
			    t->line);
		t->linelen -= (size_t)(nl + 1 - t->line);
		memmove(t->line, nl + 1, t->linelen + 1);
	}
	if (t->linelen == sizeof(t->line) - 1)
		die("stdin: line too long");
	return 1;
}

/* ms until the next timer (-1: none), firing those that are due. */
static int
timers(struct ta *t, int64_t start)
{
	int64_t now = now_ms(), next = -1;

	if (t->exit_after_ms >= 0 && now - start >= t->exit_after_ms)
		exit(0);
	if (t->invalidate_after_ms >= 0 &&
	    now - start >= t->invalidate_after_ms) {
		send_invalidate_request(t, "invalidate-after-ms");
		t->invalidate_after_ms = -1;
	}
	if (t->exit_after_ms >= 0)
		next = start + t->exit_after_ms;
	if (t->invalidate_after_ms >= 0 &&
	    (next < 0 || start + t->invalidate_after_ms < next))
		next = start + t->invalidate_after_ms;
	return next < 0 ? -1 : (int)(next - now > 0 ? next - now : 0);
}

static int
run(struct ta *t)
{
	struct pollfd p[2];
	int64_t start;

	handshake(t);
	if (!t->no_ready)
		send_ready(t);
	start = now_ms();
	for (;;) {
		p[0] = (struct pollfd){ .fd = t->fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(p, 2, timers(t, start)) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    core_frame(t, 0) == 0)
			return t->got_error ? 2 : 0;
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    stdin_lines(t) == 0)
			return 0;
	}
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: test-adapter --connect SOCKET --endpoint N "
	    "--file PATH [--kcr3 HEX]\n"
	    "           [--low HEX] [--seg GPA:LEN:OFF ...] [--rdwr] "
	    "[--no-ready]\n"
	    "           [--invalidate-after-ms N] [--exit-after-ms N]\n"
	    "stdin: 'invalidate REASON', 'ready', 'quit'\n");
}

static uint64_t
num(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *s == '\0' || *s == '-' || *end != '\0')
		die("bad %s '%s'", what, s);
	return v;
}

/* GPA:LEN:OFF, each decimal or 0x-hex. */
static void
add_seg(struct ta *t, char *arg)
{
	char *g, *l, *o;

	if (t->nsegs == VMSIG_SEGS_MAX)
		die("more than %u --seg", VMSIG_SEGS_MAX);
	g = strtok(arg, ":");
	l = strtok(NULL, ":");
	o = strtok(NULL, ":");
	if (g == NULL || l == NULL || o == NULL || strtok(NULL, ":") != NULL)
		die("--seg wants GPA:LEN:OFFSET");
	vmsig__v1__segment__init(&t->segs[t->nsegs]);
	t->segs[t->nsegs].gpa = num(g, "segment gpa");
	t->segs[t->nsegs].len = num(l, "segment length");
	t->segs[t->nsegs].file_off = num(o, "segment offset");
	t->segp[t->nsegs] = &t->segs[t->nsegs];
	t->nsegs++;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "file", required_argument, NULL, 'f' },
		{ "kcr3", required_argument, NULL, 'k' },
		{ "low", required_argument, NULL, 'l' },
		{ "seg", required_argument, NULL, 's' },
		{ "rdwr", no_argument, NULL, 'w' },
		{ "no-ready", no_argument, NULL, 'n' },
		{ "invalidate-after-ms", required_argument, NULL, 'i' },
		{ "exit-after-ms", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ta t;
	struct stat sb;
	int c;

	t.invalidate_after_ms = t.exit_after_ms = -1;
	t.fd = -1;
	t.kcr3 = 0x1aa000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': t.sock = optarg; break;
		case 'e': t.endpoint = (uint32_t)num(optarg, "endpoint"); break;
		case 'f': t.file = optarg; break;
		case 'k': t.kcr3 = num(optarg, "kcr3"); break;
		case 'l':
			t.low = num(optarg, "low");
			t.low_set = 1;
			break;
		case 's': add_seg(&t, optarg); break;
		case 'w': t.rdwr = 1; break;
		case 'n': t.no_ready = 1; break;
		case 'i':
			t.invalidate_after_ms = (long)num(optarg, "ms");
			break;
		case 'x': t.exit_after_ms = (long)num(optarg, "ms"); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (t.sock == NULL || t.file == NULL || t.endpoint == 0 ||
	    optind != argc) {
		usage(stderr);
		return 1;
	}
	if ((t.arena = wire_arena_new()) == NULL)
		die("out of memory");
	/* Without a layout, the whole file is RAM below 4 GiB. */
	if (!t.low_set && t.nsegs == 0) {
		if (stat(t.file, &sb) == -1)
			die("%s: %s", t.file, strerror(errno));
		t.low = (uint64_t)sb.st_size;
	}
	return run(&t);
}
