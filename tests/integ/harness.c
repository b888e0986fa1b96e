/* SPDX-License-Identifier: MIT */
/*
 * Integration-test harness (see harness.h).
 *
 * Runs in: tests
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "harness.h"
#include "../common/tproc.h"

long
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

char *
h_tmpdir(void)
{
	char *d;

	if (asprintf(&d, "%s/vmsig-test.XXXXXX", t_tmpdir()) < 0)
		return NULL;
	if (mkdtemp(d) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
h_rmdir(char *dir)
{
	DIR *d;
	struct dirent *e;
	char path[4096];

	if (dir == NULL)
		return;
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(dir);
	free(dir);
}

const char *
h_bin(const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", VMSIG_BUILD_DIR, rel);
	return path;
}

int
h_spawn(char *const argv[], int want_stdin, int want_stdout,
    struct h_proc *p)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	pid_t pid;

	memset(p, 0, sizeof(*p));
	p->in = p->out = -1;
	if ((want_stdin && pipe2(in, O_CLOEXEC) == -1) ||
	    (want_stdout && pipe2(out, O_CLOEXEC) == -1))
		return -errno;
	pid = fork();
	if (pid == -1)
		return -errno;
	if (pid == 0) {
		/* Sandboxed daemons cannot run LeakSanitizer's exit scan
		 * (ptrace-like thread suspension): the unit tests check leaks.
		 * A small quarantine keeps RSS meaningful for the churn test
		 * while still catching a use of recently freed memory. */
		setenv("ASAN_OPTIONS", "detect_leaks=0:quarantine_size_mb=1", 1);
		if (want_stdin)
			dup2(in[0], STDIN_FILENO);
		if (want_stdout)
			dup2(out[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	if (want_stdin) {
		close(in[0]);
		p->in = in[1];
	}
	if (want_stdout) {
		close(out[1]);
		p->out = out[0];
	}
	p->pid = pid;
	return 0;
}

int
h_wait_line(struct h_proc *p, const char *prefix, int timeout_ms,
    char *line, size_t cap)
{
	long end = h_now_ms() + timeout_ms;

	for (;;) {
		char *nl;

		while ((nl = memchr(p->buf, '\n', p->len)) != NULL) {
			size_t n = (size_t)(nl - p->buf);
			int match = strncmp(p->buf, prefix, strlen(prefix)) == 0;

			if (match && line != NULL) {
				size_t k = n < cap - 1 ? n : cap - 1;

				memcpy(line, p->buf, k);
				line[k] = '\0';
			}
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			if (match)
				return 0;
		}
		long left = end - h_now_ms();
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(p->out, p->buf + p->len,
		    sizeof(p->buf) - 1 - p->len);
		if (n <= 0)
			return -EPIPE;
		p->len += (size_t)n;
		if (p->len == sizeof(p->buf) - 1)
			p->len = 0;	/* a line longer than the buffer */
	}
}

int
h_say(struct h_proc *p, const char *line)
{
	size_t n = strlen(line);

	if (write(p->in, line, n) != (ssize_t)n || write(p->in, "\n", 1) != 1)
		return -errno;
	return 0;
}

int
h_wait_exit(struct h_proc *p, int timeout_ms)
{
	long end = h_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			p->pid = 0;
			if (p->in >= 0)
				close(p->in);
			if (p->out >= 0)
				close(p->out);
			p->in = p->out = -1;
			return st;
		}
		if (r == -1)
			return -errno;
		if (h_now_ms() >= end)
			return -ETIMEDOUT;
		/* waitpid has no timeout; a short poll keeps this bounded. */
		(void)poll(NULL, 0, 5);
	}
}

int
h_stop(struct h_proc *p, int sig, int timeout_ms)
{
	int st;

	if (p->pid <= 0)
		return -ESRCH;
	(void)kill(p->pid, sig != 0 ? sig : SIGTERM);
	st = h_wait_exit(p, timeout_ms);
	if (st == -ETIMEDOUT) {
		(void)kill(p->pid, SIGKILL);
		st = h_wait_exit(p, 5000);
	}
	return st;
}

const char *
h_hsock(const char *dir)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/holder.sock", dir);
	return path;
}

const char *
h_asock(const char *dir)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/adapter.sock", dir);
	return path;
}

int
h_wait_socket(const char *path, int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long end = h_now_ms() + timeout_ms;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), ok;

		if (fd == -1)
			return -errno;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return 0;
		if (h_now_ms() >= end)
			return -ETIMEDOUT;
		(void)poll(NULL, 0, 10);
	}
}

int
h_vmsigd(const char *dir, const char *const extra[], struct h_proc *p)
{
	char hs[4096], as[4096];
	const char *argv[48];
	size_t n = 0;
	int r;

	snprintf(hs, sizeof(hs), "%s", h_hsock(dir));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	argv[n++] = h_bin("sbin/vmsigd");
	argv[n++] = "-f";
	argv[n++] = "--holder-socket";
	argv[n++] = hs;
	argv[n++] = "--adapter-socket";
	argv[n++] = as;
	/* vmsigd admits only root unless told, and gives no context to the
	 * RAM file's owner: a test run by a user admits that user (as
	 * vmsigd.conf(5) says an operator would). */
	if (geteuid() != 0) {
		static char self[32];

		snprintf(self, sizeof(self), "uid:%u", (unsigned)geteuid());
		argv[n++] = "--allow-holder";
		argv[n++] = self;
		argv[n++] = "--allow-adapter";
		argv[n++] = self;
		/* The user also owns the test's RAM files. */
		argv[n++] = "--deliver-to-owner";
	}
	for (; extra != NULL && *extra != NULL && n < 46; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	static char bin[4096];
	snprintf(bin, sizeof(bin), "%s", argv[0]);
	argv[0] = bin;
	if ((r = h_spawn((char *const *)argv, 0, 0, p)) < 0)
		return r;
	if ((r = h_wait_socket(hs, 5000)) < 0 ||
	    (r = h_wait_socket(as, 5000)) < 0) {
		(void)h_stop(p, SIGKILL, 1000);
		return r;
	}
	return 0;
}

int
h_memctx(const char *dir, uint32_t endpoint, const char *ram,
    int revalidate_ms, const char *const extra[], struct h_proc *p)
{
	char bin[4096], as[4096], ep[16], rv[16];
	const char *argv[32];
	size_t n = 0;

	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsig-memctx"));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	snprintf(ep, sizeof(ep), "%u", endpoint);
	argv[n++] = bin;
	argv[n++] = "--endpoint";
	argv[n++] = ep;
	argv[n++] = "--ram";
	argv[n++] = ram;
	argv[n++] = "--connect";
	argv[n++] = as;
	if (revalidate_ms > 0) {
		snprintf(rv, sizeof(rv), "%d", revalidate_ms);
		argv[n++] = "--revalidate-ms";
		argv[n++] = rv;
	}
	for (; extra != NULL && *extra != NULL && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	return h_spawn((char *const *)argv, 0, 0, p);
}

int
h_teardown(struct h_proc *helper, struct h_proc *d, char *dir, int base_fds)
{
	int st = 0, fds;

	if (helper != NULL && helper->pid > 0)
		(void)h_stop(helper, SIGTERM, 5000);
	if (d->pid > 0)
		st = h_stop(d, SIGTERM, 5000);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		st = -1;
	h_rmdir(dir);
	if ((fds = h_fd_count(0)) != base_fds) {
		fprintf(stderr, "descriptors: %d before, %d after\n",
		    base_fds, fds);
		st = -1;
	}
	return st == 0 ? 0 : -1;
}

int
h_fd_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/fd");
	else
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return pid == 0 ? n - 1 : n;	/* not the DIR's own */
}

int
h_status_field(pid_t pid, const char *key, char *buf, size_t cap)
{
	char path[64], line[512];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) == 0) {
			char *v = line + strlen(key);

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, cap, "%s", v);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

long
h_rss_kib(pid_t pid)
{
	char v[64];
	int r = h_status_field(pid, "VmRSS:", v, sizeof(v));

	return r < 0 ? r : atol(v);
}

struct vmsig_holder *
h_holder(const char *dir, const char *name)
{
	struct vmsig_holder *h = NULL;
	int r = vmsig_holder_open(h_hsock(dir), name, 5000, &h);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if ((r = vmsig_holder_subscribe(h, NULL, 0, 0, 5000)) < 0) {
		vmsig_holder_close(h);
		errno = -r;
		return NULL;
	}
	return h;
}

vmsig_event *
h_expect(struct vmsig_holder *h, uint32_t type, int timeout_ms)
{
	vmsig_event *ev = NULL;
	int r = vmsig_holder_next(h, timeout_ms, &ev);

	if (r != 1) {
		fprintf(stderr, "h_expect %s: next() = %d\n",
		    vmsig_event_type_name(type), r);
		return NULL;
	}
	if (ev->type != type) {
		fprintf(stderr, "h_expect %s: got %s\n",
		    vmsig_event_type_name(type),
		    vmsig_event_type_name(ev->type));
		vmsig_event_free(ev);
		return NULL;
	}
	return ev;
}

int
h_quiet(struct vmsig_holder *h, int timeout_ms)
{
	vmsig_event *ev = NULL;
	int r = vmsig_holder_next(h, timeout_ms, &ev);

	if (r == 1) {
		fprintf(stderr, "h_quiet: got %s\n",
		    vmsig_event_type_name(ev->type));
		vmsig_event_free(ev);
	}
	return r == 0;
}

int
h_adapter(const char *dir, uint32_t endpoint, const char *file,
    const char *const extra[], int no_wait, struct h_proc *p)
{
	char bin[4096], as[4096], ep[16];
	const char *argv[32];
	size_t n = 0;
	int r;

	snprintf(bin, sizeof(bin), "%s", h_bin("tests/test-adapter"));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	snprintf(ep, sizeof(ep), "%u", endpoint);
	argv[n++] = bin;
	argv[n++] = "--connect";
	argv[n++] = as;
	argv[n++] = "--endpoint";
	argv[n++] = ep;
	argv[n++] = "--file";
	argv[n++] = file;
	for (; extra != NULL && *extra != NULL && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	if ((r = h_spawn((char *const *)argv, 1, 1, p)) < 0)
		return r;
	if (!no_wait && (r = h_wait_line(p, "ready", 5000, NULL, 0)) < 0) {
		(void)h_stop(p, SIGKILL, 1000);
		return r;
	}
	return 0;
}

int
h_fd_settle(pid_t pid, int want, int timeout_ms)
{
	long end = h_now_ms() + timeout_ms;
	int n;

	while ((n = h_fd_count(pid)) != want && h_now_ms() < end)
		(void)poll(NULL, 0, 10);
	return n;
}

int
h_fd_stable(pid_t pid, int timeout_ms)
{
	long end = h_now_ms() + timeout_ms;
	int n = h_fd_count(pid), same = 0;

	while (same < 10 && h_now_ms() < end) {
		int m;

		(void)poll(NULL, 0, 10);
		m = h_fd_count(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

int
h_confined(pid_t pid)
{
	static const struct { const char *key, *want; int root_only; } f[] = {
		{ "CapEff:", "0000000000000000", 0 },
		{ "CapPrm:", "0000000000000000", 0 },
		{ "CapInh:", "0000000000000000", 0 },
		{ "CapAmb:", "0000000000000000", 0 },
		/* Root can empty its bounding set; an unprivileged start
		 * cannot, and with no_new_privs it never matters. */
		{ "CapBnd:", "0000000000000000", 1 },
		{ "NoNewPrivs:", "1", 0 },
		{ "Seccomp:", "2", 0 },
	};
	char v[128] = "";
	size_t i;
	int tries;

	/* vmsigd listens before it confines itself (its sockets are bound
	 * as root): a caller that saw the socket may look a moment early.
	 * Confinement only ever tightens, so wait for it, bounded. */
	for (tries = 0; tries < 500; tries++) {
		for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (f[i].root_only && geteuid() != 0)
				continue;
			if (h_status_field(pid, f[i].key, v, sizeof(v)) < 0 ||
			    strcmp(v, f[i].want) != 0)
				break;
		}
		if (i == sizeof(f) / sizeof(f[0]))
			return 1;
		(void)poll(NULL, 0, 10);
	}
	fprintf(stderr, "pid %d: %s %s, want %s (after 5 s)\n", (int)pid,
	    f[i].key, v, f[i].want);
	return 0;
}
