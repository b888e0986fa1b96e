/* SPDX-License-Identifier: MIT */
/*
 * The guest this helper serves: its RAM file, the layout over it, and kcr3.
 * The only place that opens guest RAM.  Bootstrapping is the same at start
 * and after every invalidation: the file may have been replaced (a new QEMU
 * on the same path) and the guest may have rebooted (new page tables), so
 * everything is found afresh.  With --qmp, QEMU itself is asked for the
 * layout and vCPU 0's CR3 on the connection that is the guest session.
 * guest_acquire() opens, before confinement, what the first discovery
 * uses; it reads nothing, so the first guest byte is read confined.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define QMP_CONNECT_MS	2000
#define CR0_PG		(1ull << 31)
#define CR4_LA57	(1ull << 12)

void
guest_reset(struct guest *g)
{
	ram_close(g->ram);
	g->ram = NULL;
	/* --qemu-pid: qemupid.c owns the descriptors for the whole run. */
	if (g->fd >= 0 && !qemupid_owns(g->fd))
		(void)close(g->fd);
	if (g->wfd >= 0 && !qemupid_owns(g->wfd))
		(void)close(g->wfd);
	g->fd = g->wfd = -1;
	g->ready = 0;
}

void
guest_qmp_drop(struct guest *g)
{
	qmp_close(g->qmp);
	g->qmp = NULL;
	g->qmp_greeted = 0;
}

int
guest_owner_add(struct guest *g, uid_t uid)
{
	unsigned int i;

	for (i = 0; i < g->nowners; i++)
		if (g->owners[i] == uid)
			return 0;
	if (g->nowners == sizeof(g->owners) / sizeof(g->owners[0]))
		return -E2BIG;
	g->owners[g->nowners++] = uid;
	return 0;
}

static const char *
qmp_connect_why(int r)
{
	return r == -ETIMEDOUT ? "QEMU's QMP monitor does not greet (another "
	    "client holds it? vmsig needs a monitor of its own)" :
	    "cannot connect to QEMU's QMP socket (--qmp)";
}

/* Connect (only) when not connected. */
static int
dial_qemu(struct guest *g, const char **ret_why)
{
	int r;

	if (g->qmp != NULL)
		return 0;
	if ((r = qmp_dial(g->qmp_path, &g->qmp)) < 0) {
		g->qmp = NULL;
		*ret_why = qmp_connect_why(r);
		return r;
	}
	g->qmp_greeted = 0;
	return 0;
}

/* Connect when needed, then ask QEMU.  A broken connection is dropped
 * (the next bootstrap reconnects); an error reply keeps it. */
static int
ask_qemu(struct guest *g, struct qmp_guest *qg, int *ret_exit,
    const char **ret_why)
{
	const struct layout_opts *o = &g->lopts;
	int r, want_layout;

	*ret_exit = EXIT_MEMCTX_QMP;
	if ((r = dial_qemu(g, ret_why)) < 0)
		return r;
	if (!g->qmp_greeted) {
		if ((r = qmp_handshake(g->qmp, QMP_CONNECT_MS)) < 0) {
			guest_qmp_drop(g);
			*ret_why = qmp_connect_why(r);
			return r;
		}
		g->qmp_greeted = 1;
	}
	want_layout = !o->have_low && o->nseg == 0 &&
	    o->machine == LAYOUT_MACHINE_NONE;
	r = qmp_guest_query(g->qmp, g->qmp_ram_id, want_layout, qg, ret_why);
	if (r < 0 && r != -EREMOTEIO && r != -EAGAIN && r != -ENOENT &&
	    r != -E2BIG)
		guest_qmp_drop(g);
	if (r == -EREMOTEIO)
		log_warnx("QMP: %s", qmp_error(g->qmp));
	if (r == -ENOENT || r == -E2BIG)
		*ret_exit = EXIT_MEMCTX_LAYOUT;
	return r;
}

static int
build_layout(struct guest *g, const struct qmp_guest *qg,
    const char **ret_why)
{
	struct layout_opts lo;
	int r;

	if (qg == NULL || qg->nseg == 0)
		return layout_build(&g->lopts, g->id.size, &g->layout, ret_why);
	memset(&lo, 0, sizeof(lo));
	lo.nseg = qg->nseg;
	memcpy(lo.segs, qg->segs, qg->nseg * sizeof(qg->segs[0]));
	r = layout_build(&lo, g->id.size, &g->layout, ret_why);
	if (r < 0)
		*ret_why = "QEMU maps its RAM backend past the end of the RAM "
		    "file (or unaligned): is --ram the file of that backend "
		    "(--qmp-ram-id)?";
	return r;
}

static char check_why[256];

static const char *
file_kind(mode_t m)
{
	return S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" :
	    S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	    S_ISDIR(m) ? "a directory" : "not a regular file";
}

/*
 * Is what we opened a RAM file we may serve?  A regular file (else
 * something was planted at the path), owned by root or an expected owner
 * (else a local user could feed crafted "guest" data to every holder),
 * and, when it has a name, not group- or other-writable (else anyone could
 * rewrite the guest under holders, or swap its contents).  A file without
 * a name (a memfd through --qemu-pid) is reachable only through QEMU's
 * /proc/PID/fd, guarded by ptrace access checks: its mode does not matter.
 */
static int
check_file(const struct guest *g, int fd, const char *path,
    const char **ret_why)
{
	struct stat st;
	unsigned int i;
	int owned = 0;

	if (fstat(fd, &st) == -1) {
		*ret_why = "cannot stat the RAM file";
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(check_why, sizeof(check_why), "%s is %s, not a "
		    "regular file: refused (give the RAM file of QEMU's "
		    "memory-backend-file)", path, file_kind(st.st_mode));
		*ret_why = check_why;
		return -EINVAL;
	}
	for (i = 0; i < g->nowners; i++)
		owned |= st.st_uid == g->owners[i];
	if (st.st_uid != 0 && !owned) {
		snprintf(check_why, sizeof(check_why), "%s is owned by uid %u "
		    "(mode %04o), not by root or QEMU's user: refused (give "
		    "its owner with --ram-owner if it is QEMU's)", path,
		    (unsigned int)st.st_uid,
		    (unsigned int)(st.st_mode & 07777));
		*ret_why = check_why;
		return -EPERM;
	}
	if (st.st_nlink > 0 && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(check_why, sizeof(check_why), "%s (owner uid %u) has "
		    "mode %04o, writable by group or others: refused (chmod "
		    "go-w it)", path, (unsigned int)st.st_uid,
		    (unsigned int)(st.st_mode & 07777));
		*ret_why = check_why;
		return -EPERM;
	}
	return 0;
}

/* Is fd the same file as fd0?  (The O_RDWR open is a second lookup.) */
static int
same_inode(int fd0, int fd)
{
	struct stat a, b;

	return fstat(fd0, &a) == 0 && fstat(fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * O_NONBLOCK: a FIFO planted at the path would block open(2) for ever
 * (it has no effect on a regular file's reads, so it stays set).
 * O_NOFOLLOW: a symlink planted at the path must not redirect a privileged
 * open; a real RAM path has none as its last component.
 */
static int
open_checked(const struct guest *g, int how, int *ret_fd,
    const char **ret_why)
{
	int fd = open(g->path, how | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int r;

	if (fd == -1) {
		r = -errno;
		*ret_why = r == -ELOOP ? "the RAM path is a symbolic link: "
		    "refused (give the file's real path)" : how == O_RDONLY ?
		    "cannot open the RAM file read-only" : "cannot open the "
		    "RAM file for writing (--writable)";
		return r;
	}
	if ((r = check_file(g, fd, g->path, ret_why)) < 0) {
		(void)close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int
open_file(struct guest *g, const char **ret_why)
{
	int r;

	/* --qemu-pid: opened once, through QEMU's /proc/PID/fd (qemupid.c);
	 * checked here all the same. */
	if (qemupid_active()) {
		*ret_why = "the RAM of --qemu-pid is not open for writing";
		if ((r = qemupid_ram(g->writable, &g->fd, &g->wfd)) < 0)
			return r;
		return check_file(g, g->fd, qemupid_target(), ret_why);
	}
	if ((r = open_checked(g, O_RDONLY, &g->fd, ret_why)) < 0)
		return r;
	if (g->writable) {
		if ((r = open_checked(g, O_RDWR, &g->wfd, ret_why)) < 0)
			return r;
		if (!same_inode(g->fd, g->wfd)) {
			*ret_why = "the RAM file was replaced between the two "
			    "opens of --writable";
			return -ESTALE;
		}
	}
	return 0;
}

static int
file_id(int fd, struct ram_id *ret)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -errno;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
	ret->size = (uint64_t)st.st_size;
	ret->blocks = (uint64_t)st.st_blocks;
	return 0;
}

static int
discover(struct guest *g, const struct qmp_guest *qg, int *ret_exit,
    const char **ret_why)
{
	struct kcr3_result res;
	unsigned int levels = 4;
	int r;

	/* --paging wins; else CR4.LA57 as QEMU reports it. */
	if (g->paging != 0)
		levels = g->paging;
	else if (qg != NULL && (qg->regs.cr4 & CR4_LA57))
		levels = 5;
	if (g->method != KCR3_QMP)
		r = kcr3_discover(g->ram, g->method, g->given, &res, ret_why);
	else if (!(qg->regs.cr0 & CR0_PG)) {
		*ret_why = "QEMU reports paging off on vCPU 0 (guest not "
		    "booted yet)";
		r = -ENOENT;
	} else
		r = kcr3_from_cr3(g->ram, qg->regs.cr3, levels, &res, ret_why);
	if (r < 0) {
		*ret_exit = r == -ENOENT ? EXIT_MEMCTX_NOKCR3 :
		    EXIT_MEMCTX_BADKCR3;
		return r;
	}
	res.levels = levels;
	g->kcr3 = res;
	g->loc_flags = levels == 5 ? VMSIG_MEMCTX_LA57 : 0;
	log_info("kcr3 0x%llx found by %s (%u candidates, %llu bytes "
	    "scanned)", (unsigned long long)res.kcr3,
	    kcr3_method_name(res.method), res.candidates,
	    (unsigned long long)res.bytes_scanned);
	return 0;
}

int
guest_acquire(struct guest *g, int *ret_exit, const char **ret_why)
{
	int r;

	/* QEMU first: no QEMU, no session, whatever the file holds. */
	*ret_exit = EXIT_MEMCTX_QMP;
	if (g->qmp_path != NULL) {
		struct ucred uc;
		socklen_t len = sizeof(uc);

		if ((r = dial_qemu(g, ret_why)) < 0)
			return r;
		/* QEMU runs as the RAM file's owner.  Read once, here:
		 * a reconnect under seccomp cannot ask (no getsockopt). */
		r = getsockopt(qmp_fd(g->qmp), SOL_SOCKET, SO_PEERCRED, &uc,
		    &len) == -1 ? -errno : guest_owner_add(g, uc.uid);
		if (r < 0) {
			*ret_why = "cannot learn QEMU's uid from its QMP socket";
			return r;
		}
	}
	*ret_exit = EXIT_MEMCTX_RAM;
	if ((r = open_file(g, ret_why)) < 0) {
		guest_reset(g);
		return r;
	}
	return 0;
}

int
guest_bootstrap(struct guest *g, int *ret_exit, const char **ret_why)
{
	struct qmp_guest qg;
	int r;

	/* A previous context: the file may have been replaced since. */
	if (g->ram != NULL)
		guest_reset(g);
	if (g->qmp_path != NULL &&
	    (r = ask_qemu(g, &qg, ret_exit, ret_why)) < 0)
		goto fail;
	*ret_exit = EXIT_MEMCTX_RAM;
	if (g->fd < 0 && (r = open_file(g, ret_why)) < 0)
		goto fail;
	if ((r = file_id(g->fd, &g->id)) < 0) {
		*ret_why = "cannot stat the RAM file";
		goto fail;
	}
	*ret_exit = EXIT_MEMCTX_LAYOUT;
	if ((r = build_layout(g, g->qmp_path != NULL ? &qg : NULL,
	    ret_why)) < 0)
		goto fail;
	*ret_exit = EXIT_MEMCTX_RAM;
	if ((r = ram_open(g->fd, &g->layout, &g->ram)) < 0) {
		*ret_why = "cannot map the RAM file";
		goto fail;
	}
	if ((r = discover(g, g->qmp_path != NULL ? &qg : NULL, ret_exit,
	    ret_why)) < 0)
		goto fail;
	g->ready = 1;
	return 0;
fail:
	guest_reset(g);
	return r;
}

int
guest_same_file(const struct guest *g)
{
	struct stat st;

	/* --qemu-pid: the file cannot change; QEMU's exit ends the session. */
	if (qemupid_active())
		return g->fd >= 0;
	if (g->fd < 0 || stat(g->path, &st) == -1)
		return 0;
	return st.st_dev == g->id.dev && st.st_ino == g->id.ino &&
	    (uint64_t)st.st_size == g->id.size;
}

int
guest_revalidate(struct guest *g, const char **ret_why)
{
	if (!g->ready)
		return 0;
	if (!guest_same_file(g)) {
		*ret_why = "the RAM file was replaced, resized or removed";
		return -ESTALE;
	}
	if (kcr3_revalidate(g->ram, &g->kcr3) < 0) {
		*ret_why = "kcr3 no longer validates (guest reboot?)";
		return -ESTALE;
	}
	return 0;
}
