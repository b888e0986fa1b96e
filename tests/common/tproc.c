/* SPDX-License-Identifier: MIT */
/*
 * Process helpers shared by the tests: a fork that resets cmocka's signal
 * handlers in the child, the temporary directory, the root check.  See
 * tproc.h for why the fork matters.
 *
 * Runs in: tests
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "tproc.h"

pid_t
t_fork(unsigned int seconds)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS,
	    SIGABRT };
	pid_t pid = fork();
	size_t i;

	if (pid != 0)
		return pid;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)signal(sigs[i], SIG_DFL);
	if (seconds > 0)
		(void)alarm(seconds);
	return 0;
}

const char *
t_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
}

void
t_need_root(const char *why)
{
	if (geteuid() == 0)
		return;
	print_message("skipped: needs root (%s)\n", why);
	skip();
}
