/* SPDX-License-Identifier: MIT */
/*
 * Real-guest harness (see qemu_harness.h): fetch the guest, boot it under
 * TCG, wait for its console marker (inotify on the log, never a sleep),
 * talk QMP on the test's own monitor, stop it by pid.
 *
 * Runs in: tests
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "qemu_harness.h"

#define GIB		(1ull << 30)
#define QMP_TIMEOUT_MS	10000

static long
qh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
run_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
qh_fetch(const char **ret_why)
{
	char script[4096], out[4096];
	pid_t pid;
	int rc;

	/* The build tree sits in the source tree (make B=...). */
	snprintf(script, sizeof(script), "%s/../tests/qemu/fetch-guest.sh",
	    VMSIG_BUILD_DIR);
	if (access(script, X_OK) == -1)
		snprintf(script, sizeof(script), "tests/qemu/fetch-guest.sh");
	snprintf(out, sizeof(out), "%s/qemu", VMSIG_BUILD_DIR);
	if ((pid = fork()) == -1)
		return -errno;
	if (pid == 0) {
		execl(script, script, out, (char *)NULL);
		_exit(126);
	}
	rc = run_wait(pid);
	if (rc == 0)
		return 0;
	*ret_why = rc == 77 ? "tests/qemu/fetch-guest.sh: no guest here "
	    "(its message above says why)" : "tests/qemu/fetch-guest.sh failed";
	return rc == 77 ? -ENOENT : -EIO;
}

static uint64_t
low_of(const char *machine, uint64_t size)
{
	/* QEMU 7.2's split: q35 keeps 2 GiB below 4 GiB once RAM reaches
	 * 2.75 GiB, pc 3 GiB once it reaches 3.5 GiB (gigabyte-aligned). */
	if (strcmp(machine, "q35") == 0)
		return size >= 0xb0000000ull ? 2 * GIB : size;
	return size >= 0xe0000000ull ? 3 * GIB : size;
}

static void
qemu_exec(const struct qh_guest *g, const char *dir, const char *machine,
    const char *extra)
{
	char obj[512], mach[128], kern[4096], initrd[4096], ser[300];
	char q1[300], q2[300], err[4096], mem[32], append[1200];
	int fd;

	snprintf(obj, sizeof(obj), "memory-backend-file,id=ram0,size=%lluM,"
	    "mem-path=%s,share=on", (unsigned long long)(g->size >> 20), g->ram);
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(g->size >> 20));
	snprintf(mach, sizeof(mach), "%s,memory-backend=ram0", machine);
	snprintf(kern, sizeof(kern), "%s/qemu/vmlinuz", VMSIG_BUILD_DIR);
	snprintf(initrd, sizeof(initrd), "%s/qemu/initrd.gz", VMSIG_BUILD_DIR);
	snprintf(ser, sizeof(ser), "file:%s", g->log);
	snprintf(q1, sizeof(q1), "unix:%s,server=on,wait=off", g->hqmp);
	snprintf(q2, sizeof(q2), "unix:%s,server=on,wait=off", g->tqmp);
	snprintf(err, sizeof(err), "%s/qemu.err", dir);
	snprintf(append, sizeof(append), "console=ttyS0 nokaslr panic=-1%s%s",
	    extra != NULL ? " " : "", extra != NULL ? extra : "");
	if ((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
	}
	execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "tcg",
	    "-m", mem, "-object", obj, "-machine",
	    mach, "-kernel", kern, "-initrd", initrd, "-append",
	    append, "-display", "none", "-monitor",
	    "none", "-serial", ser, "-qmp", q1, "-qmp", q2, (char *)NULL);
	_exit(127);
}

static int
qmp_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	return fd;
}

/* QMP is SOCK_STREAM (h_wait_socket speaks SEQPACKET): retry connect(2)
 * until QEMU listens, at most timeout_ms, and give up early if it died. */
static int
qmp_wait(struct qh_guest *g, int timeout_ms)
{
	long end = qh_now_ms() + timeout_ms;
	int fd;

	for (;;) {
		if ((fd = qmp_connect(g->tqmp)) >= 0)
			return fd;
		if (waitpid(g->pid, NULL, WNOHANG) == g->pid) {
			g->pid = 0;
			return -ECHILD;
		}
		if (qh_now_ms() > end)
			return fd;
		(void)poll(NULL, 0, 20);
	}
}

int
qh_boot(struct qh_guest *g, const char *dir, const char *machine,
    unsigned int size_mib)
{
	return qh_boot_cmdline(g, dir, machine, size_mib, NULL);
}

int
qh_boot_cmdline(struct qh_guest *g, const char *dir, const char *machine,
    unsigned int size_mib, const char *extra)
{
	int fd, r;

	if (extra != NULL && strlen(extra) > 1024)
		return -E2BIG;
	memset(g, 0, sizeof(*g));
	g->qmp = -1;
	g->size = (uint64_t)size_mib << 20;
	g->low = low_of(machine, g->size);
	snprintf(g->ram, sizeof(g->ram), "/dev/shm/vmsig-rg.XXXXXX");
	if ((fd = mkstemp(g->ram)) == -1)
		return -errno;
	(void)close(fd);
	snprintf(g->log, sizeof(g->log), "%s/serial.log", dir);
	snprintf(g->hqmp, sizeof(g->hqmp), "%s/helper.qmp", dir);
	snprintf(g->tqmp, sizeof(g->tqmp), "%s/test.qmp", dir);
	if ((fd = open(g->log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0)
		(void)close(fd);
	if ((g->pid = fork()) == -1) {
		r = -errno;
		(void)unlink(g->ram);
		return r;
	}
	if (g->pid == 0)
		qemu_exec(g, dir, machine, extra);
	if ((g->qmp = qmp_wait(g, 10000)) < 0)
		return g->qmp;
	return qh_qmp(g, "{\"execute\":\"qmp_capabilities\"}", NULL, 0);
}

static int
count_marker(const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, QH_MARKER, strlen(QH_MARKER)) == 0)
			n++;
	fclose(f);
	return n;
}

int
qh_wait_marker(struct qh_guest *g, int count, int timeout_ms)
{
	long end = qh_now_ms() + timeout_ms;
	int in, r = -ETIMEDOUT;
	char ev[4096];

	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in == -1)
		return -errno;
	if (inotify_add_watch(in, g->log, IN_MODIFY) == -1) {
		r = -errno;
		(void)close(in);
		return r;
	}
	for (;;) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		long left = end - qh_now_ms();

		if (count_marker(g->log) >= count) {
			r = 0;
			break;
		}
		if (waitpid(g->pid, NULL, WNOHANG) == g->pid) {
			g->pid = 0;
			r = -ECHILD;
			break;
		}
		/* Wake at least every 500 ms to notice QEMU exiting. */
		if (left <= 0 || poll(&pfd, 1, left < 500 ? (int)left : 500) < 0)
			break;
		while (read(in, ev, sizeof(ev)) > 0)
			;
	}
	(void)close(in);
	return r;
}

/* Read one line (at most timeout_ms) from the monitor. */
static int
qmp_line(int fd, char *line, size_t cap, long end)
{
	size_t n = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = end - qh_now_ms();
		ssize_t k;
		char c;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		if ((k = read(fd, &c, 1)) <= 0)
			return k == 0 ? -EPIPE : -errno;
		if (c == '\n') {
			line[n] = '\0';
			return 0;
		}
		if (n + 1 < cap)
			line[n++] = c;
	}
}

int
qh_qmp(struct qh_guest *g, const char *json, char *reply, size_t cap)
{
	static char line[65536];
	long end = qh_now_ms() + QMP_TIMEOUT_MS;
	size_t len = strlen(json);
	int r;

	if (g->qmp < 0)
		return -ENOTCONN;
	/* QEMU may close the monitor at any time (quit, a crash): that is
	 * -EPIPE for the caller, never a SIGPIPE that ends the test run. */
	if (send(g->qmp, json, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(g->qmp, "\n", 1, MSG_NOSIGNAL) != 1)
		return -EPIPE;
	/* Skip the greeting and events: the reply is the first line with
	 * "return" or "error" at its top level. */
	for (;;) {
		if ((r = qmp_line(g->qmp, line, sizeof(line), end)) < 0)
			return r;
		if (strncmp(line, "{\"return\"", 9) == 0)
			break;
		if (strncmp(line, "{\"error\"", 8) == 0)
			return -EIO;
	}
	if (reply != NULL && cap > 0)
		snprintf(reply, cap, "%s", line);
	return 0;
}

int
qh_cr3(struct qh_guest *g, uint64_t *ret_cr3)
{
	static char reply[65536];
	const char *p;
	int r;

	r = qh_qmp(g, "{\"execute\":\"human-monitor-command\",\"arguments\":"
	    "{\"command-line\":\"info registers\"}}", reply, sizeof(reply));
	if (r < 0)
		return r;
	if ((p = strstr(reply, "CR3=")) == NULL)
		return -EBADMSG;
	*ret_cr3 = strtoull(p + 4, NULL, 16);
	return 0;
}

int
qh_wait_exit(struct qh_guest *g, int timeout_ms)
{
	long end = qh_now_ms() + timeout_ms;

	while (g->pid > 0) {
		if (waitpid(g->pid, NULL, WNOHANG) == g->pid) {
			g->pid = 0;
			return 0;
		}
		if (qh_now_ms() > end)
			return -ETIMEDOUT;
		(void)poll(NULL, 0, 20);	/* no pidfd for a child here */
	}
	return 0;
}

void
qh_stop(struct qh_guest *g)
{
	if (g->qmp >= 0)
		(void)close(g->qmp);
	g->qmp = -1;
	if (g->pid > 0) {
		(void)kill(g->pid, SIGTERM);
		if (qh_wait_exit(g, 5000) < 0) {
			(void)kill(g->pid, SIGKILL);
			(void)waitpid(g->pid, NULL, 0);
		}
		g->pid = 0;
	}
	if (g->ram[0] != '\0')
		(void)unlink(g->ram);
	g->ram[0] = '\0';
}

static int64_t
find_in(int fd, uint64_t off, uint64_t end, const void *pat, size_t len)
{
	static uint8_t buf[1 << 20];
	ssize_t n;
	uint8_t *hit;

	while (off < end) {
		size_t want = end - off < sizeof(buf) ? end - off : sizeof(buf);

		if ((n = pread(fd, buf, want, (off_t)off)) <= 0)
			return n == 0 ? -ENOENT : -errno;
		hit = memmem(buf, (size_t)n, pat, len);
		if (hit != NULL)
			return (int64_t)(off + (uint64_t)(hit - buf));
		if ((size_t)n < len)
			break;
		off += (uint64_t)n - len + 1;
	}
	return -ENOENT;
}

int64_t
qh_find_pa(const struct qh_guest *g, uint64_t from, const void *pat,
    size_t len)
{
	uint64_t off = from < 4 * GIB ? from : from - 4 * GIB + g->low;
	int64_t r = -ENOENT;
	off_t d, h;
	int fd;

	if ((fd = open(g->ram, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	while (off < g->size && r == -ENOENT) {
		if ((d = lseek(fd, (off_t)off, SEEK_DATA)) == -1 ||
		    (h = lseek(fd, d, SEEK_HOLE)) == -1)
			break;
		r = find_in(fd, (uint64_t)d, (uint64_t)h, pat, len);
		off = (uint64_t)h;
	}
	(void)close(fd);
	if (r >= 0 && (uint64_t)r >= g->low)
		r = r - (int64_t)g->low + (int64_t)(4 * GIB);
	return r;
}
