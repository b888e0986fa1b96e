/* SPDX-License-Identifier: MIT */
/*
 * The MEMCTX fan-out measurement shared by bench_fanout and bench_hostile:
 * a temporary directory with a RAM file, a vmsigd started on sockets in it,
 * the bench as the adapter of endpoint 1 (proto/ framing over the real
 * adapter socket, so the clock starts exactly when the request leaves), and
 * the time from its InvalidateRequest to the last of N subscribed holders
 * (real libvmsig-holder connections) receiving the new epoch's MEMCTX.
 * Failures end the process (after killing vmsigd) with a message.
 *
 * Runs in: tests
 */
#ifndef VMSIG_BENCH_FANOUT_H
#define VMSIG_BENCH_FANOUT_H

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define FANOUT_ROUNDS	15	/* rounds per measurement; the median */
#define FANOUT_MAXH	1000	/* holders per measurement, at most */

struct fanout_bench {
	const char	*name;		/* program name, for messages */
	const char	*stalled;	/* the message when holders stall */
	char		 dir[64];
	char		 hsock[100], asock[100], ram[100];
	pid_t		 vmsigd_pid;
	int		 ramfd;		/* the RAM file, read-only */
	int		 afd;		/* the bench's adapter connection */
	uint32_t	 epoch;		/* the current context's epoch */
	unsigned char	 fbuf[VMSIG_FRAME_MAX];
	struct wire_arena *arena;
};

/* Raise RLIMIT_NOFILE to the hard limit, make /dev/shm/vmsig-<tag>.XXXXXX
 * with a 16 MiB RAM file, start vmsigd there with vmsigd_args (NULL
 * terminated, after the socket options) and open the adapter with its
 * first context.  b->name and b->stalled must be set. */
void	 fanout_start(struct fanout_bench *b, const char *tag,
	    const char *const *vmsigd_args);
/* Stop vmsigd, close the adapter, remove the files. */
void	 fanout_stop(struct fanout_bench *b);
/* Print "<name>: what: strerror(err)", kill vmsigd, exit(1). */
void	 fanout_die(struct fanout_bench *b, const char *what, int err)
	    __attribute__((noreturn));
/* Microseconds on CLOCK_MONOTONIC. */
double	 fanout_now_us(void);
/* The median of t[0..n-1] (sorts t). */
double	 fanout_median(double *t, int n);
/* A SOCK_SEQPACKET connection to path. */
int	 fanout_connect(struct fanout_bench *b, const char *path);
/* Pack f into b->fbuf and send it, passing descriptor pass if >= 0. */
void	 fanout_send(struct fanout_bench *b, int fd, Vmsig__V1__Frame *f,
	    int pass);
/* Median time (us) over FANOUT_ROUNDS from InvalidateRequest to the last of
 * n (<= FANOUT_MAXH) new subscribed holders' MEMCTX of the new epoch. */
double	 fanout_measure(struct fanout_bench *b, int n);

#endif
