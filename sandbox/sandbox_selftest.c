/* SPDX-License-Identifier: MIT */
/*
 * --sandbox-selftest: attempt one forbidden operation inside the installed
 * sandbox, so the integration tests (and an administrator) can see the
 * real process die of SIGSYS rather than trust a policy listing.  Each
 * attempt is the raw syscall, so what is tested is the syscall the policy
 * names, not whatever a libc wrapper happens to make.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

/* 0: the call succeeded; -errno: refused without killing us. */
static int
ret_of(long rc)
{
	return rc == -1 ? -errno : 0;
}

static int
try_execve(void)
{
	/*
	 * /bin/false, not /bin/true: if the sandbox let it run, the process
	 * ends with status 1, SANDBOX_SELFTEST_ALLOWED, never a clean 0.
	 */
	char *const argv[] = { (char *)"false", NULL };
	char *const envp[] = { NULL };

	return ret_of(syscall(SYS_execve, "/bin/false", argv, envp));
}

static int
try_open(int flags)
{
	long fd;

	fd = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", flags | O_CLOEXEC);
	if (fd >= 0)
		(void)close((int)fd);
	return ret_of(fd);
}

static int
try_openat(void)
{
	return try_open(O_RDONLY);
}

static int
try_openat_write(void)
{
	return try_open(O_RDWR);
}

static int
try_socket(void)
{
	long fd;

	fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		(void)close((int)fd);
	return ret_of(fd);
}

static int
try_mprotect(void)
{
	void *p;

	/* Both policies allow a writable private mapping (malloc needs it). */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	return ret_of(syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC));
}

static int
try_mmap_exec(void)
{
	long p;

	p = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == -1 ? -errno : 0;
}

static int
try_ptrace(void)
{
	return ret_of(syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL));
}

static int
try_process_vm_readv(void)
{
	char buf[8];
	struct iovec local = { buf, sizeof(buf) }, remote = { buf, sizeof(buf) };

	/* Pid 1: getpid(2) itself is not in every policy. */
	return ret_of(syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1,
	    0));
}

static int
try_bpf(void)
{
	/* BPF_MAP_CREATE with no attributes: EINVAL if it were allowed. */
	return ret_of(syscall(SYS_bpf, 0, NULL, 0));
}

static int
try_keyctl(void)
{
	/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING. */
	return ret_of(syscall(SYS_keyctl, 0, -3, 0));
}

static int
try_mount(void)
{
	return ret_of(syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL));
}

static int
try_setxattr(void)
{
	return ret_of(syscall(SYS_setxattr, "/etc/passwd", "user.vmsig", "x",
	    1, 0));
}

static int
try_unlink(void)
{
	return ret_of(syscall(SYS_unlink, "/nonexistent/vmsig-selftest"));
}

static int
try_setuid(void)
{
	return ret_of(syscall(SYS_setuid, 0));
}

static const struct {
	const char	*name;
	int		(*fn)(void);
} selftests[] = {
	{ "execve",		try_execve },
	{ "openat",		try_openat },
	{ "openat-write",	try_openat_write },
	{ "socket",		try_socket },
	{ "mprotect",		try_mprotect },
	{ "mmap-exec",		try_mmap_exec },
	{ "ptrace",		try_ptrace },
	{ "process_vm_readv",	try_process_vm_readv },
	{ "bpf",		try_bpf },
	{ "keyctl",		try_keyctl },
	{ "mount",		try_mount },
	{ "setxattr",		try_setxattr },
	{ "unlink",		try_unlink },
	{ "setuid",		try_setuid },
};
#define NSELFTESTS	(sizeof(selftests) / sizeof(selftests[0]))

const char *const sandbox_selftest_names[] = {
	"execve", "openat", "openat-write", "socket", "mprotect", "mmap-exec",
	"ptrace", "process_vm_readv", "bpf", "keyctl", "mount", "setxattr",
	"unlink", "setuid", NULL,
};

int
sandbox_selftest(const char *name)
{
	size_t i;

	if (name == NULL)
		return -EINVAL;
	for (i = 0; i < NSELFTESTS; i++)
		if (strcmp(name, selftests[i].name) == 0)
			return selftests[i].fn();
	return -EINVAL;
}
