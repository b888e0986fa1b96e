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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "fanout.h"
#include "wire.h"

#define ROUNDS	FANOUT_ROUNDS
#define MAXH	FANOUT_MAXH

static struct fanout_bench fb = {
	.name = "bench_fanout", .stalled = "holders stalled",
};

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
			fanout_die(&fb, "socketpair", errno);
	for (r = 0; r < ROUNDS; r++) {
		double t0 = fanout_now_us();

		for (i = 0; i < n; i++)
			if (fdpass_send(sp[i][0], msg, sizeof(msg), &ramfd,
			    1) < 0)
				fanout_die(&fb, "raw send", EIO);
		for (i = 0; i < n; i++) {
			unsigned int nf = 0;
			size_t len;
			int fd = -1;

			if (fdpass_recv(sp[i][1], in, sizeof(in), &fd, 1, &len,
			    &nf) != 1)
				fanout_die(&fb, "raw recv", EIO);
			close(fd);
		}
		t[r] = fanout_now_us() - t0;
	}
	for (i = 0; i < n; i++) {
		close(sp[i][0]);
		close(sp[i][1]);
	}
	return fanout_median(t, ROUNDS);
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

	before = rss_kib(fb.vmsigd_pid);
	for (i = 0; i < MAXH; i++)
		if (vmsig_holder_open(fb.hsock, "idle", 5000, &h[i]) < 0)
			fanout_die(&fb, "idle holder", EIO);
	/* A status round trip: every hello above has been handled. */
	if (vmsig_holder_status(h[0], 5000, &st) < 0)
		fanout_die(&fb, "status", EIO);
	vmsig_status_free(st);
	after = rss_kib(fb.vmsigd_pid);
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
	size_t k;

	fanout_start(&fb, "fanout", NULL);
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		double f = fanout_measure(&fb, ns[k]);
		double b = raw_baseline(ns[k], fb.ramfd);

		printf("fanout %4d holders: %9.1f us  raw %d socketpairs: "
		    "%8.1f us  ratio %.2f\n", ns[k], f, ns[k], b, f / b);
		fflush(stdout);
	}
	rss_per_holder();
	printf("(fan-out: InvalidateRequest to the last holder's MEMCTX of the "
	    "new epoch, median of %d; the path carries 2 frames per holder, "
	    "INVALIDATED and MEMCTX; the baseline one frame, in one process)\n",
	    ROUNDS);
	fanout_stop(&fb);
	return 0;
}
