/* SPDX-License-Identifier: MIT */
/*
 * vmsigd's seccomp allowlist.  After start-up the core only runs its epoll
 * loop: it accepts holders and adapters on two listening AF_UNIX
 * SOCK_SEQPACKET sockets it got before confinement, moves frames and fds
 * with sendmsg/recvmsg, checks received fds (fcntl F_GETFL, fstat), hands
 * out dups of them, keeps lease timers (timerfd), takes SIGTERM and SIGHUP
 * through a signalfd, rereads its config file on SIGHUP with pread from the
 * descriptor it kept open, and logs to stderr or a syslog socket connected
 * before.  It opens no file, creates no socket and executes nothing, so openat, socket,
 * connect and execve are absent.  unlink is there only to remove its own
 * socket files at exit, and Landlock confines it to their directories
 * (sandbox.h).  Everything else absent (ptrace, process_vm_*, bpf, keyctl,
 * mount, *xattr, ...) kills the process.  The syscalls are the ones glibc
 * 2.36 on x86_64 makes for these calls.
 *
 * Runs in: vmsigd
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "sandbox.h"

#define VMSIGD_BUDGET	40

#define ALLOW(sys, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .why = (w_) }
#define ALLOW1(sys, a0, t_, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .narg = 1, .arg = { a0 }, \
	  .args = (t_), .why = (w_) }
#define ALLOW2(sys, a0, a1, t_, w_) \
	{ .nr = SCMP_SYS(sys), .name = #sys, .narg = 2, .arg = { a0, a1 }, \
	  .args = (t_), .why = (w_) }

#define FCNTL_CMD(cmd, w_) \
	ALLOW1(fcntl, SECCOMP_ARG(1, SCMP_CMP_EQ, cmd, 0), "cmd " #cmd, w_)

static const struct seccomp_rule vmsigd_rules[] = {
	/* The loop. */
	ALLOW(epoll_wait, "core loop: glibc epoll_wait()"),
	ALLOW(epoll_pwait, "core loop: epoll_pwait() with a signal mask"),
	ALLOW(epoll_ctl, "core loop: add/remove peers, timers, signalfd"),
	ALLOW(restart_syscall, "kernel: resumes a sleep after SIGSTOP/SIGCONT"),

	/* Peers and the wire (proto/). */
	ALLOW(accept4, "holder and adapter listeners: new connections"),
	ALLOW(recvmsg, "proto: frames and SCM_RIGHTS fds in"),
	ALLOW(sendmsg, "proto: frames and SCM_RIGHTS fds out"),
	ALLOW1(recvfrom, SECCOMP_ARG(4, SCMP_CMP_EQ, 0, 0),
	    "no source address (recv())", "proto: a frame without fds"),
	ALLOW1(sendto, SECCOMP_ARG(4, SCMP_CMP_EQ, 0, 0),
	    "no destination (send())", "proto: a frame without fds"),
	ALLOW2(getsockopt, SECCOMP_ARG(1, SCMP_CMP_EQ, SOL_SOCKET, 0),
	    SECCOMP_ARG(2, SCMP_CMP_EQ, SO_PEERCRED, 0),
	    "SOL_SOCKET, SO_PEERCRED", "policy: the peer's uid/gid/pid"),
	ALLOW1(shutdown, SECCOMP_ARG(1, SCMP_CMP_EQ, SHUT_WR, 0), "SHUT_WR",
	    "peer: end a protocol breaker's stream after its Error"),
	ALLOW(close, "peers that leave, fds that were handed on"),
	ALLOW1(ioctl, SECCOMP_ARG(1, SCMP_CMP_EQ, SIOCOUTQ, 0), "SIOCOUTQ",
	    "sendq: has a holder read the descriptors we sent it?"),

	/* Checking and duplicating the RAM fd the helper sent. */
	FCNTL_CMD(F_GETFL, "core: refuse an fd that is not O_RDONLY"),
	FCNTL_CMD(F_SETFL, "core: O_NONBLOCK on a peer socket"),
	FCNTL_CMD(F_GETFD, "core: FD_CLOEXEC checks"),
	FCNTL_CMD(F_SETFD, "core: FD_CLOEXEC on a received fd"),
	FCNTL_CMD(F_DUPFD_CLOEXEC, "core: share_fd() dups for holders"),
	ALLOW(dup, "core: share_fd() (dup)"),
	ALLOW(dup3, "core: share_fd() (dup3 with O_CLOEXEC)"),
	ALLOW1(newfstatat, SECCOMP_ARG(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
	    AT_EMPTY_PATH), "AT_EMPTY_PATH (glibc fstat)",
	    "core: the fd must be a regular file"),
	ALLOW(fstat, "ASan runtime and older libc fstat()"),

	/* Timers, signals, time. */
	ALLOW(timerfd_create, "core: lease expiry timers"),
	ALLOW(timerfd_settime, "core: arm and disarm lease timers"),
	ALLOW(read, "core: timerfd expirations, signalfd records"),
	ALLOW(pread64, "SIGHUP: vmsigd.conf again from the fd kept open "
	    "since start-up (no open after it)"),
	ALLOW(signalfd4, "core: SIGTERM/SIGINT as an fd in the loop"),
	ALLOW(rt_sigprocmask, "core: block signals for signalfd; glibc"),
	ALLOW(rt_sigreturn, "kernel: return from any signal handler"),
	ALLOW(clock_gettime, "core: lease times when the vDSO falls back"),
	ALLOW(getrandom, "glibc malloc: the tcache key at the first allocation"),

	/* Logging: stderr only after confinement (sandbox.h). */
	ALLOW(write, "log: messages to stderr (the journal)"),
	ALLOW(getpid, "log: the pid in every line (log.c)"),

	/* Memory: malloc and protobuf-c; never executable. */
	ALLOW(brk, "malloc: the main arena"),
	ALLOW1(mmap, SECCOMP_ARG_CLEAR(2, PROT_EXEC), "prot without PROT_EXEC",
	    "malloc: large blocks and arenas"),
	ALLOW1(mprotect, SECCOMP_ARG_CLEAR(2, PROT_EXEC),
	    "prot without PROT_EXEC", "malloc: growing a non-main heap"),
	ALLOW(munmap, "malloc: free() of large blocks"),
	ALLOW(mremap, "malloc: realloc() of large blocks"),
	ALLOW(madvise, "malloc: trimming freed memory"),

	/* Leaving. */
	ALLOW(unlink, "core: remove its own socket files at exit "
	    "(Landlock: REMOVE_FILE in their directories only)"),
	ALLOW(exit_group, "exit(3) after SIGTERM or a fatal error"),
	ALLOW(exit, "kernel: the last thread's exit"),
};

const struct seccomp_policy seccomp_vmsigd_policy = {
	.name = "vmsigd",
	.rules = vmsigd_rules,
	.nrules = sizeof(vmsigd_rules) / sizeof(vmsigd_rules[0]),
	.budget = VMSIGD_BUDGET,
};

int
seccomp_vmsigd_load(void)
{
	return seccomp_policy_load(&seccomp_vmsigd_policy, 0);
}

int
seccomp_vmsigd_print(int fd)
{
	return seccomp_policy_print(&seccomp_vmsigd_policy, 0, fd);
}
