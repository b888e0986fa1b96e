/* SPDX-License-Identifier: MIT */
/*
 * The guest this helper serves: its RAM file, the layout over it, and kcr3.
 * The only place that opens guest RAM.  Bootstrapping is the same at start
 * and after every invalidation: the file may have been replaced (a new QEMU
 * on the same path) and the guest may have rebooted (new page tables), so
 * everything is found afresh.  With --qmp, QEMU itself is asked for the
 * layout and vCPU 0's CR3 on the connection that is the guest session.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	if (g->qmp == NULL &&
	    (r = qmp_connect(g->qmp_path, QMP_CONNECT_MS, &g->qmp)) < 0) {
		g->qmp = NULL;
		*ret_why = r == -ETIMEDOUT ? "QEMU's QMP monitor does not greet "
		    "(another client holds it? vmsig needs a monitor of its "
		    "own)" : "cannot connect to QEMU's QMP socket (--qmp)";
		return r;
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

static int
open_file(struct guest *g, const char **ret_why)
{
	struct stat st;
	int r;

	/* --qemu-pid: opened once, through QEMU's /proc/PID/fd (qemupid.c). */
	if (qemupid_active()) {
		*ret_why = "the RAM of --qemu-pid is not open for writing";
		return qemupid_ram(g->writable, &g->fd, &g->wfd);
	}
	/* O_NOFOLLOW: a symlink planted at the path must not redirect a
	 * privileged open. */
	g->fd = open(g->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (g->fd == -1) {
		*ret_why = "cannot open the RAM file read-only";
		return -errno;
	}
	if (fstat(g->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*ret_why = "the RAM file is not a regular file";
		return -EINVAL;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		log_warnx("%s is group- or world-writable: a holder allowed "
		    "to write it could reopen its read-only descriptor for "
		    "writing through /proc/self/fd; chmod go-w it", g->path);
	if (g->writable) {
		g->wfd = open(g->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (g->wfd == -1) {
			r = -errno;
			*ret_why = "cannot open the RAM file for writing "
			    "(--writable)";
			return r;
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
guest_bootstrap(struct guest *g, int *ret_exit, const char **ret_why)
{
	struct qmp_guest qg;
	int r;

	guest_reset(g);
	/* QEMU first: no QEMU, no session, whatever the file holds. */
	if (g->qmp_path != NULL &&
	    (r = ask_qemu(g, &qg, ret_exit, ret_why)) < 0)
		return r;
	*ret_exit = EXIT_MEMCTX_RAM;
	if ((r = open_file(g, ret_why)) < 0)
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
