/* SPDX-License-Identifier: MIT */
/*
 * inotify on the RAM file and on its directory.  The file: deleted, moved
 * away, attributes changed (a link count going to zero shows up here).  The
 * directory: a file created or moved in under the same name (a new QEMU
 * re-creating its memory-backend-file).  Any of these only says "look
 * again": the loop compares the path's inode with the open file's.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon.h"

static int watch_ino = -1;
static int watch_file = -1;
static char watch_name[NAME_MAX + 1];

int
watch_open(const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
	    snprintf(base, sizeof(base), "%s", path) >= (int)sizeof(base))
		return -ENAMETOOLONG;
	snprintf(watch_name, sizeof(watch_name), "%s", basename(base));
	if (watch_ino < 0) {
		watch_ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (watch_ino == -1)
			return -errno;
		if (inotify_add_watch(watch_ino, dirname(dir), IN_CREATE |
		    IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) == -1)
			return -errno;
	}
	return watch_rearm(path);
}

int
watch_rearm(const char *path)
{
	if (watch_file >= 0)
		(void)inotify_rm_watch(watch_ino, watch_file);
	watch_file = inotify_add_watch(watch_ino, path, IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ATTRIB | IN_DONT_FOLLOW);
	return watch_file == -1 ? -errno : 0;
}

int
watch_fd(void)
{
	return watch_ino;
}

int
watch_read(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0, i;

	for (i = 0; i < 64; i++) {
		ssize_t n = read(watch_ino, buf, sizeof(buf));
		char *p;

		if (n <= 0)
			break;
		for (p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->wd == watch_file)
				hit = 1;
			else if (e->len > 0 && strcmp(e->name, watch_name) == 0)
				hit = 1;
			p += sizeof(*e) + e->len;
		}
	}
	return hit;
}
