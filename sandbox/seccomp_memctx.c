/* SPDX-License-Identifier: MIT */
/*
 * vmsig-memctx's seccomp allowlist.  After start-up the helper waits in
 * poll(2) on its vmsigd connection, an inotify watch on the RAM file and a
 * re-validation timer; it reconnects to vmsigd with backoff, reopens the
 * RAM file when QEMU replaces it, scans allocated extents (SEEK_DATA/
 * SEEK_HOLE, pread64, read-only mappings) and, with --writable only,
 * pwrite64s leased writes.  Arguments are filtered where they decide what
 * the helper can touch: sockets are AF_UNIX SOCK_SEQPACKET (SOCK_STREAM
 * too with SANDBOX_QMP), openat never creates, truncates or appends and is
 * read-only unless SANDBOX_WRITABLE, no mapping is executable and a shared
 * mapping is writable only with SANDBOX_WRITABLE.  Landlock bounds which
 * paths openat may reach.  The syscalls are glibc 2.36's on x86_64.
 *
 * Runs in: vmsig-memctx
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>

#include "sandbox.h"

#define MEMCTX_BUDGET	30

#define ALLOW(sys, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .why = (w_) }
#define ALLOW_IF(sys, n_, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .need = (n_), .why = (w_) }
#define ALLOW1(sys, n_, k_, a0, t_, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .need = (n_), .skip = (k_), \
	  .narg = 1, .arg = { a0 }, .args = (t_), .why = (w_) }
#define ALLOW2(sys, n_, k_, a0, a1, t_, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .need = (n_), .skip = (k_), \
	  .narg = 2, .arg = { a0, a1 }, .args = (t_), .why = (w_) }

/* The open flags that would create, truncate, append or pick a mode. */
#define OPEN_MODE_MASK	(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | \
			 __O_TMPFILE)
#define SOCK_TYPE_MASK	0xf	/* the type without SOCK_NONBLOCK/CLOEXEC */

static const struct seccomp_rule memctx_rules[] = {
	/* The loop. */
	ALLOW(poll, "helper loop: vmsigd socket, inotify, timer"),
	ALLOW(restart_syscall, "kernel: resumes a sleep after SIGSTOP/SIGCONT"),

	/* vmsigd connection (and QMP with SANDBOX_QMP). */
	ALLOW2(socket, 0, 0, SECCOMP_ARG(0, SCMP_CMP_EQ, AF_UNIX, 0),
	    SECCOMP_ARG(1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_SEQPACKET),
	    "AF_UNIX, SOCK_SEQPACKET", "helper: reconnect to vmsigd"),
	ALLOW2(socket, SANDBOX_QMP, 0, SECCOMP_ARG(0, SCMP_CMP_EQ, AF_UNIX, 0),
	    SECCOMP_ARG(1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_STREAM),
	    "AF_UNIX, SOCK_STREAM", "helper --qmp: reconnect to QEMU's QMP"),
	ALLOW(connect, "helper: reconnect (AF_UNIX only, see socket)"),
	ALLOW(sendmsg, "proto: frames and the RAM fd out"),
	ALLOW(recvmsg, "proto: frames in"),
	ALLOW(close, "helper: old connection, replaced RAM file"),

	/* The RAM file. */
	ALLOW1(openat, 0, 0, SECCOMP_ARG(2, SCMP_CMP_MASKED_EQ, OPEN_MODE_MASK,
	    O_RDONLY), "O_RDONLY, no CREAT/TRUNC/APPEND/TMPFILE",
	    "helper: reopen the RAM file QEMU replaced"),
	ALLOW1(openat, SANDBOX_WRITABLE, 0, SECCOMP_ARG(2, SCMP_CMP_MASKED_EQ,
	    OPEN_MODE_MASK, O_RDWR), "O_RDWR, no CREAT/TRUNC/APPEND/TMPFILE",
	    "helper --writable: the write fd"),
	ALLOW(newfstatat, "helper: size and inode of the RAM file (fstat)"),
	ALLOW(lseek, "helper: SEEK_DATA/SEEK_HOLE, never fault in holes"),
	ALLOW(pread64, "helper: layout and kcr3 discovery reads"),
	ALLOW_IF(pwrite64, SANDBOX_WRITABLE, "helper --writable: leased writes"),

	/* Watching the guest. */
	ALLOW(inotify_init1, "helper: watch for the RAM file being replaced"),
	ALLOW(inotify_add_watch, "helper: watch the new file after a reopen"),
	ALLOW(inotify_rm_watch, "helper: drop the watch of the old file"),
	ALLOW(read, "helper: inotify events, timerfd expirations"),
	ALLOW(timerfd_create, "helper: kcr3 re-validation timer"),
	ALLOW(timerfd_settime, "helper: arm the re-validation timer"),
	ALLOW(clock_gettime, "helper: backoff when the vDSO falls back"),
	ALLOW(clock_nanosleep, "helper: reconnect backoff (glibc nanosleep)"),
	ALLOW(rt_sigprocmask, "glibc: signal masks in abort() and friends"),
	ALLOW(rt_sigreturn, "kernel: return from any signal handler"),

	/* Logging: stderr only after confinement (sandbox.h). */
	ALLOW(write, "log: messages to stderr (the journal)"),
	ALLOW(getpid, "log: the pid in every line (log.c)"),

	/* Memory: malloc and scans; never executable. */
	ALLOW(brk, "malloc: the main arena"),
	ALLOW2(mmap, 0, SANDBOX_WRITABLE, SECCOMP_ARG_CLEAR(2, PROT_EXEC),
	    SECCOMP_ARG_CLEAR(3, MAP_SHARED), "private, prot without PROT_EXEC",
	    "malloc"),
	ALLOW1(mmap, 0, SANDBOX_WRITABLE,
	    SECCOMP_ARG_CLEAR(2, PROT_EXEC | PROT_WRITE), "PROT_READ only",
	    "helper: read-only scans of allocated extents"),
	ALLOW1(mmap, SANDBOX_WRITABLE, 0, SECCOMP_ARG_CLEAR(2, PROT_EXEC),
	    "prot without PROT_EXEC", "malloc; helper --writable"),
	ALLOW(munmap, "malloc; helper: end of a scan"),
	ALLOW(mremap, "malloc: realloc() of large blocks"),
	ALLOW(madvise, "malloc: trimming freed memory"),

	ALLOW(exit_group, "exit(3): vmsigd broke the protocol, or SIGTERM"),
};

const struct seccomp_policy seccomp_memctx_policy = {
	.name = "vmsig-memctx",
	.rules = memctx_rules,
	.nrules = sizeof(memctx_rules) / sizeof(memctx_rules[0]),
	.budget = MEMCTX_BUDGET,
};

int
seccomp_memctx_load(unsigned int flags)
{
	if (flags & ~(SANDBOX_WRITABLE | SANDBOX_QMP))
		return -EINVAL;
	return seccomp_policy_load(&seccomp_memctx_policy, flags);
}

int
seccomp_memctx_print(unsigned int flags, int fd)
{
	if (flags & ~(SANDBOX_WRITABLE | SANDBOX_QMP))
		return -EINVAL;
	return seccomp_policy_print(&seccomp_memctx_policy, flags, fd);
}
