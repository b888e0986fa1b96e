/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vmsig-memctx/qemupid.c with a real child process in QEMU's
 * place: its RAM in a 64 MiB memfd, in a deleted file, or at a named path,
 * each mapped MAP_SHARED with a marker written through the mapping; the
 * helper's lookup finds it by the child's pid (the largest shared mapping
 * wins over a smaller one), reads the marker, and sees the child's exit on
 * the pidfd.
 *
 * Runs in: tests
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../vmsig-memctx/daemon.h"
#include "../common/tproc.h"

#define MIB		(1u << 20)
#define MARK_OFF	(5u * MIB + 123)
#define MARK		"vmsig-qemupid-marker"

enum backing { B_MEMFD, B_DELETED, B_NAMED };

struct child {
	pid_t pid;
	int go;			/* write end: the child exits on EOF */
	char path[256];		/* B_DELETED, B_NAMED */
};

/* A shared mapping of fd, size bytes, with the marker at MARK_OFF. */
static void
map_marked(int fd, size_t size)
{
	uint8_t *p;

	if (ftruncate(fd, (off_t)size) == -1)
		_exit(2);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(3);
	memcpy(p + MARK_OFF, MARK, sizeof(MARK));
}

static int
child_backing(enum backing b, const char *path)
{
	int fd;

	if (b == B_MEMFD)
		return memfd_create("pc.ram", MFD_CLOEXEC);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 && b == B_DELETED)
		(void)unlink(path);
	return fd;
}

static void
child_main(enum backing b, const char *path, int ready, int go)
{
	char c;
	int fd, decoy;

	/* A smaller shared mapping that must not be taken for the RAM. */
	if ((decoy = memfd_create("decoy", MFD_CLOEXEC)) == -1)
		_exit(4);
	map_marked(decoy, 8 * MIB);
	if ((fd = child_backing(b, path)) == -1)
		_exit(5);
	/* A named RAM file smaller than the decoy: --ram must still find
	 * it by its path. */
	map_marked(fd, b == B_NAMED ? 6 * MIB : 64 * MIB);
	(void)!write(ready, "r", 1);
	(void)!read(go, &c, 1);
	_exit(0);
}

static void
child_start(struct child *c, enum backing b)
{
	int ready[2], go[2];
	char ch;

	snprintf(c->path, sizeof(c->path), "%s/vmsig-qemupid.%d.ram",
	    t_tmpdir(), (int)getpid());
	(void)unlink(c->path);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	c->pid = t_fork(30);
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(ready[0]);
		close(go[1]);
		child_main(b, c->path, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	c->go = go[1];
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
}

static void
child_end(struct child *c)
{
	int st;

	if (c->go >= 0)
		close(c->go);
	c->go = -1;
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	(void)unlink(c->path);
}

static void
check_marker(int fd, off_t size)
{
	char buf[sizeof(MARK)];
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, size);
	assert_int_equal(pread(fd, buf, sizeof(buf), MARK_OFF),
	    (ssize_t)sizeof(buf));
	assert_memory_equal(buf, MARK, sizeof(MARK));
}

static void
t_memfd(void **state)
{
	struct child c;
	char target[256];
	int fd, wfd;

	(void)state;
	child_start(&c, B_MEMFD);
	assert_int_equal(qemupid_open_ram(c.pid, NULL, 0, &fd, &wfd, target,
	    sizeof(target)), 0);
	assert_int_equal(wfd, -1);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_non_null(strstr(target, "memfd:pc.ram"));
	check_marker(fd, 64 * MIB);
	close(fd);
	child_end(&c);
}

/* A deleted file, opened writable too: both descriptors are the RAM. */
static void
t_deleted_writable(void **state)
{
	struct child c;
	char target[256];
	int fd, wfd;

	(void)state;
	child_start(&c, B_DELETED);
	assert_int_equal(qemupid_open_ram(c.pid, NULL, 1, &fd, &wfd, target,
	    sizeof(target)), 0);
	assert_non_null(strstr(target, "(deleted)"));
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fcntl(wfd, F_GETFL) & O_ACCMODE, O_RDWR);
	check_marker(fd, 64 * MIB);
	check_marker(wfd, 64 * MIB);
	close(fd);
	close(wfd);
	child_end(&c);
}

/* --ram PATH: the descriptor with that target, though not the largest. */
static void
t_named_path(void **state)
{
	struct child c;
	char target[256];
	int fd, wfd;

	(void)state;
	child_start(&c, B_NAMED);
	assert_int_equal(qemupid_open_ram(c.pid, c.path, 0, &fd, &wfd, target,
	    sizeof(target)), 0);
	assert_string_equal(target, c.path);
	check_marker(fd, 6 * MIB);
	close(fd);
	/* Without the path, the larger decoy is what the maps say. */
	assert_int_equal(qemupid_open_ram(c.pid, NULL, 0, &fd, &wfd, target,
	    sizeof(target)), 0);
	assert_non_null(strstr(target, "memfd:decoy"));
	close(fd);
	assert_int_equal(qemupid_open_ram(c.pid, "/nonexistent", 0, &fd, &wfd,
	    NULL, 0), -ENOENT);
	child_end(&c);
}

/* The child's exit is POLLIN on its pidfd; then the pid is gone. */
static void
t_pidfd_exit(void **state)
{
	struct pollfd pfd = { .events = POLLIN };
	struct child c;
	int fd, wfd;

	(void)state;
	child_start(&c, B_MEMFD);
	pfd.fd = qemupid_pidfd(c.pid);
	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	close(c.go);
	c.go = -1;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(pfd.revents & POLLIN);
	child_end(&c);
	close(pfd.fd);
	assert_int_equal(qemupid_open_ram(c.pid, NULL, 0, &fd, &wfd, NULL, 0),
	    -ESRCH);
	assert_int_equal(qemupid_pidfd(c.pid), -ESRCH);
}

static void
t_bad_args(void **state)
{
	int fd, wfd;

	(void)state;
	assert_int_equal(qemupid_pidfd(0), -EINVAL);
	assert_int_equal(qemupid_open_ram(-1, NULL, 0, &fd, &wfd, NULL, 0),
	    -EINVAL);
	assert_int_equal(qemupid_open_ram(getpid(), NULL, 0, NULL, &wfd, NULL,
	    0), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_memfd),
		cmocka_unit_test(t_deleted_writable),
		cmocka_unit_test(t_named_path),
		cmocka_unit_test(t_pidfd_exit),
		cmocka_unit_test(t_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
