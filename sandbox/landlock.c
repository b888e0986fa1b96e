/* SPDX-License-Identifier: MIT */
/*
 * Landlock, through the raw syscalls (glibc 2.36 has no wrappers): probe
 * the kernel's ABI version, build a ruleset that handles every access right
 * that version and this file both know, grant the helper read access
 * beneath its RAM file's directory, grant vmsigd nothing, and restrict the
 * calling process.  A kernel without Landlock gives -EOPNOTSUPP and the
 * daemon carries on with seccomp alone.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "sandbox.h"

/*
 * Debian 12's kernel headers stop at ABI 2; the bits below are kernel ABI
 * and never change, so spell out the later ones here.
 */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif
#define LL_FS_TRUNCATE			(1ULL << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ULL << 15)	/* ABI 5 */
#define LL_NET_BIND_TCP			(1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP		(1ULL << 1)	/* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL			(1ULL << 1)	/* ABI 6 */

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes its size. */
struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

#define LL_FS_V1	((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_V2	(LL_FS_V1 | LANDLOCK_ACCESS_FS_REFER)
#define LL_FS_V3	(LL_FS_V2 | LL_FS_TRUNCATE)
#define LL_FS_V5	(LL_FS_V3 | LL_FS_IOCTL_DEV)

/*
 * What the ruleset handles, per ABI.  ABI 7 (audit logging) added no right;
 * a newer kernel gets the newest set we know, which is still a valid subset.
 */
static const struct ll_ruleset_attr ll_handled[] = {
	[1] = { LL_FS_V1, 0, 0 },
	[2] = { LL_FS_V2, 0, 0 },
	[3] = { LL_FS_V3, 0, 0 },
	[4] = { LL_FS_V3, LL_NET_BIND_TCP | LL_NET_CONNECT_TCP, 0 },
	[5] = { LL_FS_V5, LL_NET_BIND_TCP | LL_NET_CONNECT_TCP, 0 },
	[6] = { LL_FS_V5, LL_NET_BIND_TCP | LL_NET_CONNECT_TCP,
	    LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL },
};
#define LL_ABI_KNOWN	((int)(sizeof(ll_handled) / sizeof(ll_handled[0])) - 1)

/* The attr size to pass for an ABI: older kernels reject unknown fields. */
static size_t
attr_size(int abi)
{
	if (abi >= 6)
		return sizeof(struct ll_ruleset_attr);
	if (abi >= 4)
		return offsetof(struct ll_ruleset_attr, scoped);
	return offsetof(struct ll_ruleset_attr, handled_access_net);
}

int
landlock_abi(void)
{
	long v;

	v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (v == -1)
		/* ENOSYS: not built in; EOPNOTSUPP: disabled at boot. */
		return errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP :
		    -errno;
	return v > 0 ? (int)v : -EOPNOTSUPP;
}

/* Grant `access` beneath the directory `dir` in ruleset `rfd`. */
static int
add_dir_rule(int rfd, const char *dir, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	int fd, r = 0;

	/* O_PATH: a rule needs no read access to the directory itself. */
	fd = open(dir, O_PATH | O_CLOEXEC | O_DIRECTORY);
	if (fd == -1)
		return -errno;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1)
		r = -errno;
	(void)close(fd);
	return r;
}

static int
restrict_with(const char *const dirs[], size_t ndirs, uint64_t access)
{
	struct ll_ruleset_attr attr;
	size_t i;
	int abi, rfd, r = 0;

	if ((abi = landlock_abi()) < 0)
		return abi;
	attr = ll_handled[abi > LL_ABI_KNOWN ? LL_ABI_KNOWN : abi];
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size(abi),
	    0);
	if (rfd == -1)
		return -errno;
	for (i = 0; i < ndirs && r == 0; i++)
		r = add_dir_rule(rfd, dirs[i], access);
	/* restrict_self refuses without no-new-privs or CAP_SYS_ADMIN. */
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		r = -errno;
	(void)close(rfd);
	return r;
}

int
landlock_restrict_remove(const char *const dirs[], size_t ndirs)
{
	return restrict_with(dirs, ndirs, LANDLOCK_ACCESS_FS_REMOVE_FILE);
}

int
landlock_restrict(const char *dir, unsigned int flags)
{
	struct ll_ruleset_attr attr;
	uint64_t access;
	int abi, rfd, r = 0;

	if (flags & ~(SANDBOX_WRITABLE | SANDBOX_QMP))
		return -EINVAL;
	if ((abi = landlock_abi()) < 0)
		return abi;
	attr = ll_handled[abi > LL_ABI_KNOWN ? LL_ABI_KNOWN : abi];

	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size(abi),
	    0);
	if (rfd == -1)
		return -errno;
	if (dir != NULL) {
		access = LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_READ_DIR;
		if (flags & SANDBOX_WRITABLE)
			access |= LANDLOCK_ACCESS_FS_WRITE_FILE;
		r = add_dir_rule(rfd, dir, access);
	}
	/* restrict_self refuses without no-new-privs or CAP_SYS_ADMIN. */
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		r = -errno;
	(void)close(rfd);
	return r;
}
