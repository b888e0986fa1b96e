/* SPDX-License-Identifier: MIT */
/*
 * Process helpers shared by the tests: a fork that resets cmocka's signal
 * handlers in the child, the temporary directory (made and removed), the
 * root check.  See
 * tproc.h for why the fork matters.
 *
 * Runs in: tests
 */
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

const char *
t_shmdir(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : t_tmpdir();
}

int
t_mkdtemp(const char *templ, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", t_shmdir(), templ);

	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return mkdtemp(buf) != NULL ? 0 : -errno;
}

int
t_rmdir(const char *dir)
{
	struct dirent *de;
	char path[4096];
	DIR *d;
	int n = 0;

	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL && n++ < 1000) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	return rmdir(dir) == 0 ? 0 : -errno;
}

long
t_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* Fields after the command name, which may hold spaces and ')'. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

void
t_need_root(const char *why)
{
	if (geteuid() == 0)
		return;
	print_message("skipped: needs root (%s)\n", why);
	skip();
}
