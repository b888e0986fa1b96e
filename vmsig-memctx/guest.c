/* SPDX-License-Identifier: MIT */
/*
 * The guest this helper serves: its RAM file, the layout over it, and kcr3.
 * The only place that opens guest RAM.  Bootstrapping is the same at start
 * and after every invalidation: the file may have been replaced (a new QEMU
 * on the same path) and the guest may have rebooted (new page tables), so
 * everything is found afresh.
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

void
guest_reset(struct guest *g)
{
	ram_close(g->ram);
	g->ram = NULL;
	if (g->fd >= 0)
		(void)close(g->fd);
	if (g->wfd >= 0)
		(void)close(g->wfd);
	g->fd = g->wfd = -1;
	g->ready = 0;
}

static int
open_file(struct guest *g, const char **ret_why)
{
	struct stat st;
	int r;

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
discover(struct guest *g, int *ret_exit, const char **ret_why)
{
	struct kcr3_result res;
	int r;

	r = kcr3_discover(g->ram, g->method, g->given, &res, ret_why);
	if (r < 0) {
		*ret_exit = r == -ENOENT ? EXIT_MEMCTX_NOKCR3 :
		    EXIT_MEMCTX_BADKCR3;
		return r;
	}
	g->kcr3 = res;
	log_info("kcr3 0x%llx found by %s (%u candidates, %llu bytes "
	    "scanned)", (unsigned long long)res.kcr3,
	    kcr3_method_name(res.method), res.candidates,
	    (unsigned long long)res.bytes_scanned);
	return 0;
}

int
guest_bootstrap(struct guest *g, int *ret_exit, const char **ret_why)
{
	int r;

	guest_reset(g);
	*ret_exit = EXIT_MEMCTX_RAM;
	if ((r = open_file(g, ret_why)) < 0)
		goto fail;
	if ((r = file_id(g->fd, &g->id)) < 0) {
		*ret_why = "cannot stat the RAM file";
		goto fail;
	}
	*ret_exit = EXIT_MEMCTX_LAYOUT;
	if ((r = layout_build(&g->lopts, g->id.size, &g->layout, ret_why)) < 0)
		goto fail;
	*ret_exit = EXIT_MEMCTX_RAM;
	if ((r = ram_open(g->fd, &g->layout, &g->ram)) < 0) {
		*ret_why = "cannot map the RAM file";
		goto fail;
	}
	if ((r = discover(g, ret_exit, ret_why)) < 0)
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
