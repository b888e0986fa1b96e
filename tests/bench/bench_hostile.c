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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "../common/tproc.h"
#include "fanout.h"
#include "wire.h"

#define ROUNDS		FANOUT_ROUNDS
#define NHOLDERS	FANOUT_MAXH
#define NHOSTILE	200
#define NSUBSCRIBE	125
#define NNOHELLO	10000

static struct fanout_bench fb = {
	.name = "bench_hostile",
	.stalled = "a well-behaved holder was not served",
};

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

/* Blocking: the hostile frames wait for vmsigd to read them. */
static void
send_blocking(int fd, Vmsig__V1__Frame *f)
{
	int n = wire_pack(f, fb.fbuf, sizeof(fb.fbuf));

	if (n < 0 || send(fd, fb.fbuf, (size_t)n, MSG_NOSIGNAL) != n)
		fanout_die(&fb, "hostile send", errno);
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
		hostile[i] = fanout_connect(&fb, fb.hsock);
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
		nohello[i] = fanout_connect(&fb, fb.hsock);
	return max_nohello;
}

int
main(void)
{
	/* The no-Hello connections stay for the whole run, from our own
	 * uid: the heaviest case for vmsigd (they are peers). */
	static const char *const args[] = {
		"--max-connections-per-uid", "16000",
		"--hello-timeout-ms", "600000", NULL
	};
	static int hostile[NHOSTILE], nohello[NNOHELLO];
	struct rlimit rl;
	double quiet, loud;
	long cpu0, cpu1;
	int n_nohello = NNOHELLO, fds_quiet, fds_loud, i;

	fanout_start(&fb, "hostile", args);
	/* Holders, hostile sockets and the no-Hello ones are all ours. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && (rlim_t)(NHOLDERS + NHOSTILE + NNOHELLO + 64) >
	    rl.rlim_cur)
		n_nohello = (int)rl.rlim_cur - NHOLDERS - NHOSTILE - 64;
	if (n_nohello < 0)
		n_nohello = 0;

	quiet = fanout_measure(&fb, NHOLDERS);
	fds_quiet = fd_count(fb.vmsigd_pid);
	cpu0 = t_cpu_ms(fb.vmsigd_pid);
	n_nohello = attack(hostile, nohello, n_nohello);
	loud = fanout_measure(&fb, NHOLDERS);
	cpu1 = t_cpu_ms(fb.vmsigd_pid);
	fds_loud = fd_count(fb.vmsigd_pid);

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
	fanout_stop(&fb);
	return 0;
}
