/* SPDX-License-Identifier: MIT */
/*
 * Log capture for unit tests of vmsigd's core (see corefix.h): stderr goes
 * to a memfd while a test provokes what should be logged, then is put back
 * and the text read from the memfd.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "corefix.h"
#include "tproc.h"

int cf_in_child;
int cf_err_fd = 2;

static int cap_mem = -1, cap_saved = -1;

int
cf_cap_begin(void)
{
	int err;

	if ((cap_mem = memfd_create("log", MFD_CLOEXEC)) < 0)
		return -errno;
	if ((cap_saved = dup(2)) < 0) {
		err = -errno;
		(void)close(cap_mem);
		cap_mem = -1;
		return err;
	}
	if (dup2(cap_mem, 2) != 2) {
		err = -errno;
		cf_cap_restore();
		(void)close(cap_mem);
		cap_mem = -1;
		return err;
	}
	return 0;
}

void
cf_cap_restore(void)
{
	if (cap_saved < 0)
		return;
	(void)dup2(cap_saved, 2);
	(void)close(cap_saved);
	cap_saved = -1;
}

const char *
cf_cap_end(char *buf, size_t size)
{
	ssize_t n;

	cf_cap_restore();
	n = pread(cap_mem, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	(void)close(cap_mem);
	cap_mem = -1;
	return buf;
}

unsigned int
cf_count_of(const char *hay, const char *needle)
{
	unsigned int n = 0;

	while ((hay = strstr(hay, needle)) != NULL && n < 100000) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

void
cf_in_a_child(void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	pid = t_fork(20);
	assert_true(pid >= 0);
	if (pid == 0) {
		cf_in_child = 1;
		cf_err_fd = dup(2);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child: status 0x%x", status);
}
