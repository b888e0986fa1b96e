/* SPDX-License-Identifier: MIT */
/*
 * Process helpers every test shares: fork a child that cannot run on into
 * the rest of the suite, the temporary directory (where, made, removed),
 * and skipping a test that needs root.
 *
 * cmocka catches SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS and SIGABRT with a
 * handler that longjmps back into its test runner.  A child forked without
 * exec inherits that handler: when the child faults (an int 0x80 on a kernel
 * whose IA-32 gate raises SIGSEGV, a seccomp kill turned into a signal) it
 * would "fail" the test it is in and then run every later test of the suite
 * as a second copy, removing the shared fixtures under the parent.  t_fork()
 * gives the child the default dispositions back, so a fault ends it.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_TPROC_H
#define VMSIG_TEST_TPROC_H

#include <sys/types.h>

/*
 * fork(2) for tests.  In the child: the signals above back to SIG_DFL, and
 * alarm(seconds) (0: none) so it cannot outlive a hung parent for long.
 * Returns as fork(2) (-1 with errno on failure).
 */
pid_t	t_fork(unsigned int seconds);

/* $TMPDIR when set and not empty, else "/tmp". */
const char *t_tmpdir(void);

/* "/dev/shm" when this process can write there (tmpfs, like the RAM files
 * of real guests), else t_tmpdir(). */
const char *t_shmdir(void);

/*
 * mkdtemp(3) of t_shmdir()/templ (templ ends in XXXXXX) into buf, cap
 * bytes.  Returns 0, -ENAMETOOLONG, or -errno of mkdtemp.
 */
int	t_mkdtemp(const char *templ, char *buf, size_t cap);

/*
 * Remove the entries directly in dir (files; at most 1000, dot-files
 * skipped), then dir itself.  Returns 0 or -errno of the rmdir.
 */
int	t_rmdir(const char *dir);

/* utime + stime of pid in milliseconds (/proc/PID/stat fields 14 and 15),
 * or -1. */
long	t_cpu_ms(pid_t pid);

/*
 * Inside a cmocka test: skip it, printing why, unless the process is root
 * (the test needs to create users' files or change uid).
 */
void	t_need_root(const char *why);

#endif
