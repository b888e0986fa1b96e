/* SPDX-License-Identifier: MIT */
/*
 * Process helpers every test shares: fork a child that cannot run on into
 * the rest of the suite, the temporary directory, and skipping a test that
 * needs root.
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

/*
 * Inside a cmocka test: skip it, printing why, unless the process is root
 * (the test needs to create users' files or change uid).
 */
void	t_need_root(const char *why);

#endif
