/* SPDX-License-Identifier: MIT */
/*
 * --qemu-pid PID: guest RAM found through the QEMU process itself, for the
 * backings that have no usable name (a deleted file, a memfd, a hugetlbfs
 * file: what libvirt usually gives QEMU).  The RAM is the largest MAP_SHARED
 * mapping in /proc/PID/maps whose device and inode are those of one of
 * QEMU's descriptors (or, with --ram, the descriptor whose target is that
 * path); it is opened anew through the /proc/PID/fd/N magic link, so this
 * helper gets its own open file with its own access mode.  A pidfd ends the
 * session when QEMU exits: a memfd cannot be found again by name.
 *
 * Inspecting another process's /proc/PID/fd and maps needs
 * ptrace_may_access(PTRACE_MODE_READ_FSCREDS): the same uid as QEMU with
 * QEMU dumpable, or CAP_SYS_PTRACE (proc(5)).  All of it happens before
 * confinement.
 *
 * Runs in: vmsig-memctx
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define MAX_FDS		4096	/* QEMU with many disks and NICs: a few hundred */

struct qfd {
	int n;			/* descriptor number in QEMU */
	dev_t dev;
	ino_t ino;
	uint64_t mapped;	/* largest shared mapping of it */
};

struct qfds {
	struct qfd *v;
	size_t len;
};

/* /proc refuses with EACCES (fd/) or EPERM (maps): one answer for both. */
static int
proc_errno(void)
{
	return errno == EPERM ? -EACCES : -errno;
}

int
qemupid_pidfd(pid_t pid)
{
	int fd;

	if (pid <= 0)
		return -EINVAL;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd == -1 ? -errno : fd;
}

/* Every regular-file descriptor of pid (path == NULL), or the one whose
 * target is path. */
static int
list_fds(pid_t pid, const char *path, struct qfds *q)
{
	char dir[32], link[64 + 256], target[PATH_MAX];
	struct dirent *e;
	struct stat st;
	ssize_t k;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? -ESRCH : proc_errno();
	if ((q->v = calloc(MAX_FDS, sizeof(*q->v))) == NULL) {
		closedir(d);
		return -ENOMEM;
	}
	while ((e = readdir(d)) != NULL && q->len < MAX_FDS) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		/* stat(2) follows the magic link even to a deleted file. */
		if (stat(link, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (path != NULL) {
			k = readlink(link, target, sizeof(target) - 1);
			if (k < 0 || (target[k] = '\0', strcmp(target, path)))
				continue;
		}
		q->v[q->len++] = (struct qfd){ .n = atoi(e->d_name),
		    .dev = st.st_dev, .ino = st.st_ino };
	}
	closedir(d);
	return 0;
}

static void
note_mapping(struct qfds *q, unsigned int maj, unsigned int min,
    unsigned long ino, uint64_t len)
{
	size_t i;

	for (i = 0; i < q->len; i++)
		if (major(q->v[i].dev) == maj && minor(q->v[i].dev) == min &&
		    q->v[i].ino == (ino_t)ino && len > q->v[i].mapped)
			q->v[i].mapped = len;
}

/* Record each descriptor's largest MAP_SHARED mapping ('s' in perms). */
static int
scan_maps(pid_t pid, struct qfds *q)
{
	char path[64], line[PATH_MAX + 128], perms[8];
	unsigned long lo, hi, off, ino;
	unsigned int maj, min;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? -ESRCH : proc_errno();
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms,
		    &off, &maj, &min, &ino) != 7)
			continue;
		if (strlen(perms) == 4 && perms[3] == 's' && ino != 0 && hi > lo)
			note_mapping(q, maj, min, ino, hi - lo);
	}
	fclose(f);
	return 0;
}

/* Open pid's descriptor n anew; it must still be the file we saw. */
static int
reopen(pid_t pid, const struct qfd *c, int flags)
{
	char link[96];
	struct stat st;
	int fd, r;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, c->n);
	if ((fd = open(link, flags | O_CLOEXEC)) == -1)
		return errno == ENOENT ? -ESRCH : proc_errno();
	if (fstat(fd, &st) == -1)
		r = -errno;
	else if (st.st_dev != c->dev || st.st_ino != c->ino)
		r = -ESTALE;	/* QEMU closed n and reused the number */
	else
		return fd;
	(void)close(fd);
	return r;
}

static const struct qfd *
largest(const struct qfds *q)
{
	const struct qfd *best = NULL;
	size_t i;

	for (i = 0; i < q->len; i++)
		if (q->v[i].mapped > 0 &&
		    (best == NULL || q->v[i].mapped > best->mapped))
			best = &q->v[i];
	return best;
}

static int
open_pair(pid_t pid, const struct qfd *c, int writable, int *ret_fd,
    int *ret_wfd)
{
	int fd, wfd = -1;

	if ((fd = reopen(pid, c, O_RDONLY)) < 0)
		return fd;
	if (writable && (wfd = reopen(pid, c, O_RDWR)) < 0) {
		(void)close(fd);
		return wfd;
	}
	*ret_fd = fd;
	*ret_wfd = wfd;
	return 0;
}

int
qemupid_open_ram(pid_t pid, const char *path, int writable, int *ret_fd,
    int *ret_wfd, char *ret_target, size_t cap)
{
	struct qfds q = { NULL, 0 };
	const struct qfd *c;
	char link[96];
	ssize_t k;
	int r;

	if (pid <= 0 || ret_fd == NULL || ret_wfd == NULL)
		return -EINVAL;
	if ((r = list_fds(pid, path, &q)) < 0)
		goto out;
	if ((r = scan_maps(pid, &q)) < 0)
		goto out;
	/* With a path, its descriptor even if QEMU has not mapped it. */
	c = path != NULL && q.len > 0 ? &q.v[0] : largest(&q);
	r = -ENOENT;
	if (c == NULL)
		goto out;
	if ((r = open_pair(pid, c, writable, ret_fd, ret_wfd)) < 0)
		goto out;
	if (ret_target != NULL && cap > 0) {
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, c->n);
		k = readlink(link, ret_target, cap - 1);
		ret_target[k < 0 ? 0 : k] = '\0';
	}
out:
	free(q.v);
	return r;
}

/* The helper's one QEMU: descriptors owned here, for the whole run. */
static struct {
	pid_t pid;
	int pidfd, fd, wfd;
	uid_t uid;		/* QEMU's effective uid */
	char target[PATH_MAX];
} qp = { 0, -1, -1, -1, 0, "" };

/* The effective uid of pid (the second field of Uid: in its status). */
static int
proc_euid(pid_t pid, uid_t *ret)
{
	char path[64], line[256];
	unsigned int ruid, euid;
	FILE *f;
	int r = -EBADMSG;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2) {
			*ret = (uid_t)euid;
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

int
qemupid_attach(pid_t pid, const char *path, int writable,
    const char **ret_why)
{
	struct pollfd pfd;
	int r;

	/* The pidfd first: once the lookup is done, a pidfd that is still
	 * not readable proves /proc/PID was that process, not a reused pid. */
	if ((qp.pidfd = qemupid_pidfd(pid)) < 0) {
		*ret_why = "no such process (pidfd_open)";
		return qp.pidfd;
	}
	r = qemupid_open_ram(pid, path, writable, &qp.fd, &qp.wfd, qp.target,
	    sizeof(qp.target));
	if (r < 0) {
		*ret_why = r == -EACCES ? "not allowed to inspect it: run as "
		    "QEMU's uid (QEMU dumpable) or with CAP_SYS_PTRACE" :
		    r == -ENOENT ? "no shared mapping of one of its descriptors "
		    "(or no descriptor for --ram): is it QEMU with share=on?" :
		    "cannot open its RAM through /proc/PID/fd";
		return r;
	}
	/* Its uid is the RAM file's expected owner (guest.c checks it). */
	if ((r = proc_euid(pid, &qp.uid)) < 0) {
		*ret_why = "cannot read its uid from /proc/PID/status";
		return r;
	}
	pfd = (struct pollfd){ .fd = qp.pidfd, .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0) {
		*ret_why = "the process exited during the lookup";
		return -ESRCH;
	}
	qp.pid = pid;
	return 0;
}

int
qemupid_active(void)
{
	return qp.pid > 0;
}

uid_t
qemupid_uid(void)
{
	return qp.uid;
}

int
qemupid_fd(void)
{
	return qp.pidfd;
}

pid_t
qemupid_pid(void)
{
	return qp.pid;
}

const char *
qemupid_target(void)
{
	return qp.target;
}

int
qemupid_ram(int writable, int *ret_fd, int *ret_wfd)
{
	if (!qemupid_active() || (writable && qp.wfd < 0))
		return -EBADF;
	*ret_fd = qp.fd;
	*ret_wfd = writable ? qp.wfd : -1;
	return 0;
}

int
qemupid_owns(int fd)
{
	return fd >= 0 && (fd == qp.fd || fd == qp.wfd);
}
