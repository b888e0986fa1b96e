/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of sandbox/: every step runs for real in a forked child (the
 * steps are permanent), which reports through its exit status or dies; the
 * parent checks how it ended.  A forbidden syscall must end the child with
 * SIGSYS; an allowed one must work.  Children _exit() right after their
 * checks: a sanitizer runtime's exit work (LeakSanitizer) makes syscalls no
 * policy allows.  Steps that need root (privdrop, bounding set) or Landlock
 * are skipped without them.
 *
 * Runs in: tests
 */
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sandbox/sandbox.h"
#include "../common/tproc.h"

static char tdir[256];		/* a private directory with one file */
static char tfile[300];		/* tdir/ram, 8 KiB */

/* Run fn(arg) in a child and return its wait status.  Bounded: SIGALRM. */
static int
run_child(int (*fn)(const void *), const void *arg)
{
	pid_t pid;
	int st;

	pid = t_fork(10);
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

#define assert_exited_ok(st_) do {					\
	int ws_ = (st_);							\
									\
	if (WIFSIGNALED(ws_))						\
		print_message("child died of signal %d\n", WTERMSIG(ws_)); \
	else if (WEXITSTATUS(ws_) != 0)					\
		print_message("child failed check %d\n", WEXITSTATUS(ws_)); \
	assert_true(WIFEXITED(ws_) && WEXITSTATUS(ws_) == 0);		\
} while (0)

#define assert_sigsys(st_) do {						\
	int ws_ = (st_);							\
									\
	if (!WIFSIGNALED(ws_))						\
		print_message("child exited %d, not SIGSYS\n",		\
		    WEXITSTATUS(ws_));					\
	assert_true(WIFSIGNALED(ws_));					\
	assert_int_equal(WTERMSIG(ws_), SIGSYS);				\
} while (0)

/* A "Name:\t<hex or decimal>" field of /proc/self/status, or ~0. */
static unsigned long long
status_field(const char *path, const char *name)
{
	char line[256];
	unsigned long long v = ~0ULL;
	size_t n = strlen(name);
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return v;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			v = strtoull(line + n + 1, NULL,
			    strncmp(name, "Cap", 3) == 0 ? 16 : 10);
			break;
		}
	fclose(f);
	return v;
}

/* --- policies --------------------------------------------------------------- */

struct pol {
	int		 memctx;	/* 0: vmsigd's policy */
	unsigned int	 flags;
	const char	*what;		/* selftest name or op name */
};

static int
load(const struct pol *p)
{
	return p->memctx ? seccomp_memctx_load(p->flags) : seccomp_vmsigd_load();
}

static int
child_selftest(const void *arg)
{
	const struct pol *p = arg;

	if (load(p) < 0)
		return 90;
	(void)sandbox_selftest(p->what);
	return 91;		/* still alive: the test fails */
}

static void
test_budgets(void **state)
{
	unsigned int f;
	int n;

	(void)state;
	n = seccomp_policy_count(&seccomp_vmsigd_policy, 0);
	print_message("vmsigd: %d syscalls (budget 40)\n", n);
	assert_true(n > 0 && n <= 40);
	for (f = 0; f <= (SANDBOX_WRITABLE | SANDBOX_QMP); f++) {
		n = seccomp_policy_count(&seccomp_memctx_policy, f);
		print_message("vmsig-memctx flags %u: %d syscalls (budget 30)\n",
		    f, n);
		assert_true(n > 0 && n <= 30);
	}
	assert_int_equal(seccomp_memctx_load(0x80), -EINVAL);
	assert_int_equal(seccomp_policy_count(NULL, 0), -EINVAL);
}

static void
test_print(void **state)
{
	char buf[65536];
	ssize_t n;
	int fd;

	(void)state;
	fd = memfd_create("policy", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(seccomp_vmsigd_print(fd), 0);
	assert_int_equal(seccomp_memctx_print(SANDBOX_WRITABLE, fd), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "vmsigd seccomp allowlist: "));
	assert_non_null(strstr(buf, "vmsig-memctx seccomp allowlist: 30 "));
	assert_non_null(strstr(buf, "pwrite64"));
	assert_non_null(strstr(buf, "pseudo filter code"));
	assert_non_null(strstr(buf, "SO_PEERCRED"));
	assert_int_equal(seccomp_vmsigd_print(-1), -EINVAL);
	close(fd);
}

/* unlink is allowed: vmsigd removes its socket files at exit, and
 * Landlock (not seccomp) keeps it to their directories (sandbox.h). */
static const char *const vmsigd_forbidden[] = {
	"execve", "openat", "openat-write", "socket", "mprotect", "mmap-exec",
	"ptrace", "process_vm_readv", "bpf", "keyctl", "mount", "setxattr",
	"setuid",
};

static void
test_vmsigd_forbidden(void **state)
{
	struct pol p = { 0, 0, NULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vmsigd_forbidden) / sizeof(*vmsigd_forbidden);
	    i++) {
		p.what = vmsigd_forbidden[i];
		print_message("vmsigd: %s\n", p.what);
		assert_sigsys(run_child(child_selftest, &p));
	}
}

/* What the core does in its loop, after confinement. */
static int
child_vmsigd_allowed(const void *arg)
{
	struct itimerspec its = { .it_value = { 0, 1000 } };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	struct timespec ts;
	struct stat st;
	socklen_t len = sizeof(cred);
	uint64_t ticks;
	char b[4];
	void *big;
	int sv[2], ep, tfd, fd, ro;

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (ro = open(tfile, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	if (seccomp_vmsigd_load() < 0)
		return 2;
	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) == -1 ||
	    timerfd_settime(tfd, 0, &its, NULL) == -1)
		return 3;
	ev.data.fd = tfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == -1 ||
	    epoll_wait(ep, &ev, 1, 5000) != 1 ||
	    read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return 4;
	if (send(sv[0], "ping", 4, MSG_NOSIGNAL) != 4 ||
	    recv(sv[1], b, sizeof(b), 0) != 4 ||
	    getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    shutdown(sv[0], SHUT_WR) == -1)
		return 5;
	if ((fcntl(ro, F_GETFL) & O_ACCMODE) != O_RDONLY ||
	    fstat(ro, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (fd = fcntl(ro, F_DUPFD_CLOEXEC, 0)) == -1 || close(fd) == -1 ||
	    (fd = dup(ro)) == -1 || close(fd) == -1)
		return 6;
	if ((big = malloc(8 << 20)) == NULL)	/* mmap, not brk */
		return 7;
	memset(big, 1, 8 << 20);
	if ((big = realloc(big, 16 << 20)) == NULL)	/* mremap */
		return 7;
	free(big);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 || getpid() <= 0 ||
	    write(STDERR_FILENO, "", 0) != 0)
		return 8;
	return 0;
}

static void
test_vmsigd_allowed(void **state)
{
	(void)state;
	assert_exited_ok(run_child(child_vmsigd_allowed, NULL));
}

/* --- the helper ------------------------------------------------------------- */

/* Operations the helper may or may not make; each returns 0 when it worked. */
static int
open_tfile(int flags)
{
	int fd;

	fd = open(tfile, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd == -1 ? 10 : close(fd);
}

static int op_open_rdonly(void) { return open_tfile(O_RDONLY); }
static int op_open_rdwr(void) { return open_tfile(O_RDWR); }
static int op_open_creat(void) { return open_tfile(O_RDONLY | O_CREAT); }
static int op_open_trunc(void) { return open_tfile(O_RDONLY | O_TRUNC); }

static int
op_pread(void)
{
	char b[16];
	int fd = open(tfile, O_RDONLY | O_CLOEXEC);

	return pread(fd, b, sizeof(b), 0) == sizeof(b) ? 0 : 11;
}

static int
op_seek_data(void)
{
	int fd = open(tfile, O_RDONLY | O_CLOEXEC);

	return lseek(fd, 0, SEEK_DATA) == 0 && lseek(fd, 0, SEEK_HOLE) > 0 ?
	    0 : 12;
}

/* Opened O_RDWR before confinement, as --writable does. */
static int rwfd = -1;

static int
op_pwrite(void)
{
	return pwrite(rwfd, "Z", 1, 0) == 1 ? 0 : 13;
}

static int
op_mmap_ro(void)
{
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, rwfd, 0);

	return m == MAP_FAILED ? 14 : munmap(m, 4096);
}

static int
op_mmap_shared_write(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rwfd, 0);

	return m == MAP_FAILED ? 14 : munmap(m, 4096);
}

static int
op_inotify(void)
{
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	return in >= 0 && inotify_add_watch(in, tfile, IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ATTRIB) >= 0 ? 0 : 15;
}

static int
new_socket(int domain, int type)
{
	int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	return fd == -1 ? 16 : close(fd);
}

static int op_unix_seqpacket(void) { return new_socket(AF_UNIX, SOCK_SEQPACKET); }
static int op_unix_stream(void) { return new_socket(AF_UNIX, SOCK_STREAM); }
static int op_inet(void) { return new_socket(AF_INET, SOCK_STREAM); }

static int
op_fcntl(void)
{
	return fcntl(STDERR_FILENO, F_GETFL) == -1 ? 17 : 0;
}

static int
op_sleep(void)
{
	struct timespec ts = { 0, 1000 };
	void *p;

	if ((p = malloc(1 << 20)) == NULL || (p = realloc(p, 4 << 20)) == NULL)
		return 18;
	free(p);
	return nanosleep(&ts, NULL) == 0 && getpid() > 0 ? 0 : 18;
}

static const struct {
	const char	*name;
	int		(*fn)(void);
} ops[] = {
	{ "open-rdonly", op_open_rdonly }, { "open-rdwr", op_open_rdwr },
	{ "open-creat", op_open_creat }, { "open-trunc", op_open_trunc },
	{ "pread", op_pread }, { "seek-data", op_seek_data },
	{ "pwrite", op_pwrite }, { "mmap-ro", op_mmap_ro },
	{ "mmap-shared-write", op_mmap_shared_write },
	{ "inotify", op_inotify }, { "unix-seqpacket", op_unix_seqpacket },
	{ "unix-stream", op_unix_stream }, { "inet", op_inet },
	{ "fcntl", op_fcntl }, { "sleep", op_sleep },
};

static int
op(const char *what)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, what) == 0)
			return ops[i].fn();
	return 99;
}

static int
child_memctx_op(const void *arg)
{
	const struct pol *p = arg;

	if ((rwfd = open(tfile, O_RDWR | O_CLOEXEC)) == -1 || load(p) < 0)
		return 90;
	return op(p->what);
}

static void
check_ops(unsigned int flags, const char *const *ok, const char *const *bad)
{
	struct pol p = { 1, flags, NULL };

	for (; *ok != NULL; ok++) {
		p.what = *ok;
		print_message("vmsig-memctx flags %u: %s allowed\n", flags,
		    p.what);
		assert_exited_ok(run_child(child_memctx_op, &p));
	}
	for (; *bad != NULL; bad++) {
		p.what = *bad;
		print_message("vmsig-memctx flags %u: %s kills\n", flags,
		    p.what);
		assert_sigsys(run_child(child_memctx_op, &p));
	}
}

static void
test_memctx_readonly(void **state)
{
	static const char *const ok[] = { "open-rdonly", "pread", "seek-data",
	    "mmap-ro", "inotify", "unix-seqpacket", "sleep", NULL };
	static const char *const bad[] = { "open-rdwr", "open-creat",
	    "open-trunc", "pwrite", "mmap-shared-write", "unix-stream",
	    "inet", "fcntl", NULL };
	struct pol p = { 1, 0, NULL };
	const char *const *s;

	(void)state;
	check_ops(0, ok, bad);
	for (s = (const char *const[]){ "execve", "socket", "openat-write",
	    "mprotect", "mmap-exec", "ptrace", "process_vm_readv", "bpf",
	    "keyctl", "mount", "setxattr", "unlink", "setuid", NULL };
	    *s != NULL; s++) {
		p.what = *s;
		assert_sigsys(run_child(child_selftest, &p));
	}
}

static void
test_memctx_writable(void **state)
{
	static const char *const ok[] = { "open-rdonly", "open-rdwr",
	    "pwrite", "mmap-shared-write", NULL };
	static const char *const bad[] = { "open-creat", "open-trunc",
	    "inet", NULL };
	static const char *const qok[] = { "unix-stream", "unix-seqpacket",
	    NULL };
	static const char *const qbad[] = { "inet", "pwrite", NULL };

	(void)state;
	check_ops(SANDBOX_WRITABLE, ok, bad);
	check_ops(SANDBOX_QMP, qok, qbad);
}

/* --- architecture ----------------------------------------------------------- */

static int
child_i386_getpid(const void *arg)
{
	long r = 20;	/* i386 __NR_getpid through the int 0x80 gate */

	if (arg != NULL && seccomp_vmsigd_load() < 0)
		return 90;
	__asm__ volatile ("int $0x80" : "+a"(r) : : "memory");
	return 0;
}

static int
child_x32_getpid(const void *arg)
{
	(void)arg;
	if (seccomp_vmsigd_load() < 0)
		return 90;
	(void)syscall(0x40000000L | SYS_getpid);	/* x32 getpid */
	return 0;
}

static void
test_other_arch_killed(void **state)
{
	int st;

	(void)state;
	assert_sigsys(run_child(child_x32_getpid, NULL));
	/* Without IA-32 emulation int 0x80 is SIGSEGV even unconfined. */
	st = run_child(child_i386_getpid, NULL);
	if (!WIFEXITED(st))
		skip();
	assert_sigsys(run_child(child_i386_getpid, "filter"));
}

/* --- capabilities, no-new-privs, uid ---------------------------------------- */

static int
child_caps(const void *arg)
{
	static const char *const f[] = { "CapInh", "CapPrm", "CapEff",
	    "CapBnd", "CapAmb" };
	const cap_value_t *keep = arg;
	unsigned long long want = keep != NULL ? 1ULL << *keep : 0;
	size_t i;

	if (privdrop_caps(keep, keep != NULL) < 0)
		return 1;
	for (i = 0; i < 5; i++)
		if (status_field("/proc/self/status", f[i]) !=
		    (i == 0 || i == 4 ? 0 : want))
			return 2 + (int)i;
	return 0;
}

static void
test_caps(void **state)
{
	static const cap_value_t dac = CAP_DAC_READ_SEARCH;

	(void)state;
	assert_int_equal(privdrop_caps(NULL, 1), -EINVAL);
	t_need_root("capabilities to drop");
	assert_exited_ok(run_child(child_caps, NULL));
	assert_exited_ok(run_child(child_caps, &dac));
}

static int
child_nnp_wait(const void *arg)
{
	const int *fds = arg;	/* [0] read: release; [1] write: ready */
	char c;

	if (privdrop_nnp() < 0)
		return 1;
	if (status_field("/proc/self/status", "NoNewPrivs") != 1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 2;
	if (seccomp_vmsigd_load() < 0)
		return 3;
	if (write(fds[1], "r", 1) != 1 || read(fds[0], &c, 1) != 1)
		return 4;
	return 0;
}

static void
test_nnp_seccomp_mode(void **state)
{
	int down[2], up[2], fds[2], st;
	char c, path[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(down, O_CLOEXEC), 0);
	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	fds[0] = down[0];
	fds[1] = up[1];
	pid = t_fork(10);
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_nnp_wait(fds));
	assert_int_equal(read(up[0], &c, 1), 1);
	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_int_equal(status_field(path, "Seccomp"), 2);
	assert_int_equal(status_field(path, "NoNewPrivs"), 1);
	assert_int_equal(write(down[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_exited_ok(st);
	close(down[0]); close(down[1]); close(up[0]); close(up[1]);
}

static int
child_nobody(const void *arg)
{
	struct privdrop_ids ids;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	(void)arg;
	if (privdrop_lookup("nobody", NULL, &ids) < 0)
		return 1;
	if (privdrop_ids(&ids) < 0)
		return 2;
	if (getresuid(&r, &e, &s) == -1 || r != 65534 || e != 65534 ||
	    s != 65534)
		return 3;
	if (getresgid(&rg, &eg, &sg) == -1 || rg != 65534 || eg != 65534 ||
	    sg != 65534 || getgroups(0, NULL) != 0)
		return 4;
	if (setuid(0) != -1 || errno != EPERM)
		return 5;
	if (status_field("/proc/self/status", "CapBnd") != 0 ||
	    status_field("/proc/self/status", "CapEff") != 0)
		return 6;
	return 0;
}

static void
test_privdrop_nobody(void **state)
{
	struct privdrop_ids ids = { 0, 0 };

	(void)state;
	assert_int_equal(privdrop_lookup("vmsig-no-such-user", NULL, &ids),
	    -ENOENT);
	assert_int_equal(privdrop_lookup("nobody", "vmsig-no-such-group",
	    &ids), -ENOENT);
	assert_int_equal(privdrop_lookup("65534", NULL, &ids), 0);
	assert_int_equal(ids.uid, 65534);
	assert_int_equal(privdrop_lookup(NULL, NULL, &ids), -EINVAL);
	ids.uid = 0;
	assert_int_equal(privdrop_ids(&ids), -EINVAL);
	t_need_root("setresuid to nobody");
	assert_exited_ok(run_child(child_nobody, NULL));
}

/* --- Landlock ---------------------------------------------------------------- */

static int
child_landlock(const void *arg)
{
	const struct pol *p = arg;
	int fd;

	if (privdrop_nnp() < 0)
		return 1;
	if (landlock_restrict(p->memctx ? tdir : NULL, p->flags) < 0)
		return 2;
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (fd != -1 || errno != EACCES)
		return 3;
	fd = open(tfile, O_RDONLY | O_CLOEXEC);
	if (p->memctx ? fd == -1 : fd != -1 || errno != EACCES)
		return 4;
	fd = open(tfile, O_WRONLY | O_CLOEXEC);
	if ((p->flags & SANDBOX_WRITABLE) ? fd == -1 : fd != -1)
		return 5;
	return 0;
}

static void
test_landlock(void **state)
{
	struct pol p = { 0, 0, NULL };
	int abi;

	(void)state;
	abi = landlock_abi();
	print_message("landlock ABI %d\n", abi);
	if (abi == -EOPNOTSUPP)
		skip();
	assert_true(abi >= 1);
	assert_int_equal(landlock_restrict(NULL, 0x80), -EINVAL);
	assert_exited_ok(run_child(child_landlock, &p));	/* vmsigd */
	p.memctx = 1;
	assert_exited_ok(run_child(child_landlock, &p));
	p.flags = SANDBOX_WRITABLE;
	assert_exited_ok(run_child(child_landlock, &p));
}

/* The helper's openat selftest is refused by Landlock, not seccomp. */
static int
child_helper_openat(const void *arg)
{
	(void)arg;
	if (privdrop_nnp() < 0 || landlock_restrict(tdir, 0) < 0 ||
	    seccomp_memctx_load(0) < 0)
		return 1;
	return sandbox_selftest("openat") == -EACCES ? 0 : 2;
}

/* vmsigd's whole start-up sequence, as main() makes it. */
static int
child_vmsigd_sequence(const void *arg)
{
	struct privdrop_ids ids;
	int r;

	(void)arg;
	if (privdrop_lookup("nobody", NULL, &ids) < 0 ||
	    privdrop_ids(&ids) < 0 || privdrop_caps(NULL, 0) < 0 ||
	    privdrop_nnp() < 0)
		return 1;
	r = landlock_restrict(NULL, 0);
	if (r < 0 && r != -EOPNOTSUPP)
		return 2;
	if (seccomp_vmsigd_load() < 0)
		return 3;
	(void)sandbox_selftest("socket");
	return 4;
}

static void
test_sequences(void **state)
{
	(void)state;
	assert_int_equal(sandbox_selftest("no-such-test"), -EINVAL);
	assert_int_equal(sandbox_selftest(NULL), -EINVAL);
	assert_non_null(sandbox_selftest_names[0]);
	if (landlock_abi() > 0)
		assert_exited_ok(run_child(child_helper_openat, NULL));
	t_need_root("privileges to drop");
	assert_sigsys(run_child(child_vmsigd_sequence, NULL));
}

/* --- fixture --------------------------------------------------------------- */

static int
setup(void **state)
{
	char page[8192];
	int fd;

	(void)state;
	(void)snprintf(tdir, sizeof(tdir), "%s/vmsig-sb.XXXXXX", t_tmpdir());
	if (mkdtemp(tdir) == NULL)
		return -1;
	/* nobody must not read it: it stands for another guest's RAM. */
	(void)snprintf(tfile, sizeof(tfile), "%s/ram", tdir);
	if ((fd = open(tfile, O_CREAT | O_RDWR | O_CLOEXEC, 0600)) == -1)
		return -1;
	memset(page, 0x5a, sizeof(page));
	if (write(fd, page, sizeof(page)) != sizeof(page))
		return -1;
	return close(fd);
}

static int
teardown(void **state)
{
	(void)state;
	(void)unlink(tfile);
	return rmdir(tdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_vmsigd_forbidden),
		cmocka_unit_test(test_vmsigd_allowed),
		cmocka_unit_test(test_memctx_readonly),
		cmocka_unit_test(test_memctx_writable),
		cmocka_unit_test(test_other_arch_killed),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_nnp_seccomp_mode),
		cmocka_unit_test(test_privdrop_nobody),
		cmocka_unit_test(test_landlock),
		cmocka_unit_test(test_sequences),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
