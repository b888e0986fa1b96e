/* SPDX-License-Identifier: MIT */
/*
 * The confinement both daemons enter after start-up, one step per call, in
 * the order main() makes them:
 *
 *	privdrop_lookup()	resolve --user/--group while files are reachable
 *	privdrop_ids()		empty the bounding set, drop groups, gid, uid
 *	privdrop_caps()		clear every capability (or keep a named set)
 *	privdrop_nnp()		PR_SET_NO_NEW_PRIVS 1, PR_SET_DUMPABLE 0
 *	landlock_restrict()	no file rights (vmsigd), the RAM file's
 *				directory (vmsig-memctx)
 *	seccomp_*_load()	one allowlist per process, default kill
 *
 * and sandbox_selftest() for --sandbox-selftest, which attempts a forbidden
 * call after the real policy is in place.
 *
 * Every function returns >= 0 on success and a negative errno value on
 * failure; none prints, exits or allocates anything the caller must free.
 * None is thread-safe: call them from the only thread, before the loop.
 *
 * Decision on socket files (vmsigd).  vmsigd removes the socket files it
 * bound when SIGTERM or SIGINT ends it, so a stale path never outlives it.
 * That is its one filesystem right: Landlock grants it
 * LANDLOCK_ACCESS_FS_REMOVE_FILE beneath the sockets' directories and
 * nothing else (no read, write, create or execute anywhere), and seccomp
 * allows unlink(2).  Under systemd socket activation the socket units own
 * the files (RemoveOnStop=yes) and vmsigd keeps no filesystem right at all.
 *
 * Decision on logging.  Neither policy allows socket(2) for syslog
 * (vmsigd has none at all, the helper only AF_UNIX SOCK_SEQPACKET): after
 * confinement the daemons log to stderr (the journal under systemd).  glibc's
 * syslog(3) re-creates its socket when syslogd goes away; that would end the
 * process with SIGSYS.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#ifndef VMSIG_SANDBOX_H
#define VMSIG_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include <seccomp.h>
#include <sys/capability.h>

/* Flags of the helper's policy (both Landlock and seccomp). */
#define SANDBOX_WRITABLE	0x1u	/* --writable: O_RDWR reopen, pwrite64 */
#define SANDBOX_QMP		0x2u	/* may reconnect a QMP SOCK_STREAM */

/* Exit status a daemon uses when sandbox_selftest() returns (see below). */
#define SANDBOX_SELFTEST_REFUSED	3	/* refused with an errno, alive */
#define SANDBOX_SELFTEST_ALLOWED	1	/* the forbidden call succeeded */

/* --- privdrop.c ----------------------------------------------------------- */

struct privdrop_ids {
	uid_t	uid;
	gid_t	gid;
};

/*
 * Resolve `user` (and `group`, or the user's primary group when NULL) with
 * getpwnam_r/getgrnam_r; both may also be decimal ids.  Call it before any
 * confinement: NSS reads /etc/passwd and may load modules.  Writes *ret_ids
 * only on success.
 * -EINVAL: NULL user or ret_ids; -ENOENT: no such user or group;
 * -ERANGE: an entry too large; other -errno from the lookup.
 */
int	privdrop_lookup(const char *user, const char *group,
	    struct privdrop_ids *ret_ids);

/*
 * Become ids->uid/ids->gid for good: while still privileged, empty the
 * capability bounding set (it needs CAP_SETPCAP, which the uid change
 * removes), then setgroups(0), setresgid(g, g, g), setresuid(u, u, u), and
 * prove it: every real/effective/saved id matches, no supplementary group
 * is left, and both setuid(0) and setresuid(-1, 0, -1) fail.
 * Called by a process already running as exactly these ids it only checks.
 * -EINVAL: NULL ids or uid 0 (use privdrop_caps() to stay root without
 * capabilities); -EPERM: the change was refused; -EACCES: root could be
 * regained, or an id did not change (the process must not continue).
 */
int	privdrop_ids(const struct privdrop_ids *ids);

/*
 * Leave exactly `keep` (nkeep entries, may be NULL/0) in the permitted and
 * effective sets, and nothing in the inheritable, ambient and bounding sets
 * except `keep` in the bounding set.  Bounding-set entries can only be
 * dropped with CAP_SETPCAP; a process without it that holds no capability
 * (started unprivileged) leaves its bounding set as it is: with no-new-privs
 * and no execve(2) it can never use it.  Capabilities kept across a uid
 * change need PR_SET_KEEPCAPS, which vmsig never sets: keep is for a helper
 * that stays uid 0 with a named set.
 * -EINVAL: a bad capability value or keep NULL with nkeep > 0;
 * -EPERM: the kernel refused; -ENOMEM.
 */
int	privdrop_caps(const cap_value_t *keep, size_t nkeep);

/*
 * PR_SET_NO_NEW_PRIVS 1 (needed by Landlock and seccomp without
 * CAP_SYS_ADMIN) and PR_SET_DUMPABLE 0 (no core file with guest memory,
 * no ptrace attach by the same uid).  /proc/PID/status stays readable.
 * -errno from prctl(2).
 */
int	privdrop_nnp(void);

/* --- landlock.c ----------------------------------------------------------- */

/*
 * The Landlock ABI version of the running kernel (1, 2, ...), or
 * -EOPNOTSUPP when the kernel has none or it is disabled at boot.
 */
int	landlock_abi(void);

/*
 * Restrict the calling process for good.  The ruleset handles every access
 * right of the kernel's ABI that this file knows (file system, TCP network
 * from ABI 4, abstract-socket and signal scopes from ABI 6), so whatever is
 * not granted below is refused:
 *  - dir == NULL (vmsigd): nothing at all;
 *  - dir != NULL (vmsig-memctx): read_file and read_dir beneath dir, plus
 *    write_file with SANDBOX_WRITABLE.  The rule is on the directory, not
 *    the file, because QEMU replaces the file (new inode) when it restarts
 *    and the helper reopens it by name.
 * Needs privdrop_nnp() first.  -EOPNOTSUPP: no Landlock (log and go on);
 * -EINVAL: bad flags; -ENOENT, -EACCES, -ENOTDIR: dir; -errno from the
 * landlock syscalls.
 */
int	landlock_restrict(const char *dir, unsigned int flags);

/*
 * vmsigd when it bound its own sockets: the same handled rights, and only
 * LANDLOCK_ACCESS_FS_REMOVE_FILE beneath each of dirs (ndirs may be 0), so
 * it can unlink its sockets at exit.  Errors as landlock_restrict().
 */
int	landlock_restrict_remove(const char *const dirs[], size_t ndirs);

/* --- seccomp_policy.c ----------------------------------------------------- */

/*
 * One allowed syscall (or one argument case of it).  A policy is a table
 * of these; a syscall may appear several times with different arguments.
 * `need`: flags the rule needs (0: always); `skip`: flags that remove it.
 */
struct seccomp_rule {
	int			 nr;		/* SCMP_SYS(name) */
	const char		*name;
	unsigned int		 need;
	unsigned int		 skip;
	unsigned int		 narg;
	struct scmp_arg_cmp	 arg[2];
	const char		*args;		/* the argument filter in words */
	const char		*why;		/* who needs it */
};

/* One argument comparison in a static table (SCMP_A0() is not constant). */
#define SECCOMP_ARG(n, op, a, b)	{ (n), (op), (a), (b) }
/* "argument n has none of the bits in mask" */
#define SECCOMP_ARG_CLEAR(n, mask)	SECCOMP_ARG(n, SCMP_CMP_MASKED_EQ, mask, 0)

struct seccomp_policy {
	const char		*name;		/* process name */
	const struct seccomp_rule *rules;
	size_t			 nrules;
	int			 budget;	/* most distinct syscalls */
};

/*
 * Install `p` with `flags`: native x86_64 only (any other architecture,
 * x32 and i386 included, kills the process), default action
 * SCMP_ACT_KILL_PROCESS, one rule per table entry.  Permanent.
 * -EOPNOTSUPP: not x86_64; -E2BIG: over the budget; -errno from libseccomp.
 */
int	seccomp_policy_load(const struct seccomp_policy *p, unsigned int flags);

/*
 * The number of distinct syscalls `p` allows with `flags`.  -EINVAL: NULL.
 */
int	seccomp_policy_count(const struct seccomp_policy *p, unsigned int flags);

/*
 * For --print-sandbox: write to `fd` the allowed syscalls with their
 * argument filters and reasons, their count and budget, then libseccomp's
 * pseudo filter code (seccomp_export_pfc).  The caller owns fd.
 * -EINVAL: NULL p or fd < 0; -errno from write(2) or libseccomp.
 */
int	seccomp_policy_print(const struct seccomp_policy *p, unsigned int flags,
	    int fd);

/* --- seccomp_vmsigd.c, seccomp_memctx.c ----------------------------------- */

/* The tables themselves (read-only; the tests count and print them). */
extern const struct seccomp_policy seccomp_vmsigd_policy;
extern const struct seccomp_policy seccomp_memctx_policy;

/* seccomp_policy_load() of vmsigd's table; see above for errors. */
int	seccomp_vmsigd_load(void);

/* seccomp_policy_print() of vmsigd's table to fd. */
int	seccomp_vmsigd_print(int fd);

/* seccomp_policy_load() of the helper's table with SANDBOX_* flags. */
int	seccomp_memctx_load(unsigned int flags);

/* seccomp_policy_print() of the helper's table with SANDBOX_* flags. */
int	seccomp_memctx_print(unsigned int flags, int fd);

/* --- sandbox_selftest.c --------------------------------------------------- */

/*
 * --sandbox-selftest NAME: attempt the forbidden operation NAME inside the
 * installed sandbox.  Names: execve (/bin/true), openat (/etc/passwd
 * O_RDONLY), openat-write (/etc/passwd O_RDWR), socket (AF_INET
 * SOCK_STREAM), mprotect (a page to PROT_EXEC), mmap-exec, ptrace
 * (PTRACE_TRACEME), process_vm_readv, bpf, keyctl, mount, setxattr, unlink,
 * setuid (to 0).  In a correct sandbox the process ends with SIGSYS and the
 * call does not return.
 *
 * Decision on openat in the helper: its policy allows read-only openat, so
 * "openat" is refused by Landlock with -EACCES instead (or succeeds where
 * the kernel has no Landlock); "openat-write" is the seccomp case there.
 * So when the call returns:
 *  - a negative errno: the operation was refused without SIGSYS; the daemon
 *    logs it and exits SANDBOX_SELFTEST_REFUSED (3);
 *  - 0: the forbidden operation succeeded; the daemon exits
 *    SANDBOX_SELFTEST_ALLOWED (1): the sandbox is broken.
 * -EINVAL: unknown NAME (checked before anything is attempted).
 */
int	sandbox_selftest(const char *name);

/* The selftest names, NULL-terminated, for --help and the tests. */
extern const char *const sandbox_selftest_names[];

#endif /* VMSIG_SANDBOX_H */
