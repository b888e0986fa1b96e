/* SPDX-License-Identifier: MIT */
/*
 * The helper reads no guest byte before it is confined (issue 11, item 1).
 *
 * How it is observed, from outside and without a test hook in the helper:
 * a fanotify group of class FAN_CLASS_PRE_CONTENT marks the RAM file with
 * FAN_PRE_ACCESS.  The kernel then suspends any process that is about to
 * reach the file's contents — read(2)/pread(2), and mmap(2) of the file,
 * which is how the helper reads guest RAM (its reads are page faults on
 * that mapping, and a fault can only follow the mmap) — inside that system
 * call, until this test answers.  While the helper is held there, the test
 * reads /proc/PID/status: it must already show no capability, no_new_privs
 * and Seccomp 2 (h_confined).  Then the test allows the access.
 *
 * Why this cannot pass when the order is wrong: the helper is frozen at
 * its first access to the contents, so the status is the one it had at
 * that moment, not one reached later (an asynchronous inotify IN_ACCESS
 * would leave a race: the helper could have confined itself by the time we
 * look).  The test also insists that the helper did reach the contents
 * (at least one event from its pid before the holder gets MEMCTX), so a
 * helper that read the file some other, unobserved way could not pass
 * silently.  Opening the file is not an access and is allowed: the design
 * opens the RAM file before confinement and reads it after.
 *
 * Needs root (fanotify) and a kernel and file system with pre-content
 * events (Linux 6.14+, ext4/xfs/btrfs); skips with a message otherwise.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "harness.h"
#include "../common/manifest.h"

/* Linux 6.14 uapi; older headers lack them. */
#ifndef FAN_CLASS_PRE_CONTENT
#define FAN_CLASS_PRE_CONTENT	0x00000008
#endif
#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS		0x00100000
#endif

struct watch {
	int fd;			/* the fanotify group */
	pid_t helper;
	int seen;		/* pre-access events of the helper */
	int unconfined;		/* of those, seen before confinement */
};

/* A pre-content watch on path, or -1 with the reason printed. */
static int
watch_open(const char *path)
{
	int fd = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC |
	    FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);

	if (fd == -1) {
		fprintf(stderr, "fanotify_init(FAN_CLASS_PRE_CONTENT): %s "
		    "(needs root and Linux 6.14+)\n", strerror(errno));
		return -1;
	}
	if (fanotify_mark(fd, FAN_MARK_ADD, FAN_PRE_ACCESS, AT_FDCWD,
	    path) == -1) {
		fprintf(stderr, "fanotify_mark(FAN_PRE_ACCESS, %s): %s (the "
		    "file system of TMPDIR has no pre-content events?)\n",
		    path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Answer every queued event: the helper's after checking its status. */
static void
watch_drain(struct watch *w)
{
	char buf[4096] __attribute__((aligned(8)));
	const struct fanotify_event_metadata *md;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		md = (const struct fanotify_event_metadata *)(void *)buf;
		for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
			struct fanotify_response resp = { .fd = md->fd,
			    .response = FAN_ALLOW };

			if (md->pid == w->helper) {
				/* Frozen in the syscall until we answer. */
				if (!h_confined(w->helper))
					w->unconfined++;
				w->seen++;
			}
			if (md->fd >= 0) {
				(void)!write(w->fd, &resp, sizeof(resp));
				(void)close(md->fd);
			}
		}
	}
}

/* What teardown stops when an assertion ends the test early. */
struct fx {
	char *dir;
	struct gg_manifest *m;
	struct h_proc d, p;
	struct vmsig_holder *h;
	struct watch w;
};

static int
setup(void **state)
{
	static const char *const gextra[] = { "--size", "64M", "--seed", "5",
	    NULL };
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	fx->w.fd = -1;
	*state = fx;
	return gg_make(fx->dir, "g", gextra, &fx->m) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	/* Closing the group first lets a helper held in a syscall go on. */
	if (fx->w.fd >= 0)
		(void)close(fx->w.fd);
	vmsig_holder_close(fx->h);
	if (fx->p.pid > 0)
		(void)h_stop(&fx->p, SIGTERM, 5000);
	if (fx->d.pid > 0)
		(void)h_stop(&fx->d, SIGTERM, 5000);
	gg_manifest_free(fx->m);
	h_rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
t_first_read_is_confined(void **state)
{
	struct fx *fx = *state;
	struct watch *w = &fx->w;
	vmsig_event *ev = NULL;
	int i;

	if (geteuid() != 0 || (w->fd = watch_open(fx->m->image)) < 0) {
		fprintf(stderr, "skipped: no pre-content fanotify here\n");
		skip();
	}
	assert_int_equal(h_vmsigd(fx->dir, NULL, &fx->d), 0);
	fx->h = h_holder(fx->dir, "t");
	assert_non_null(fx->h);
	assert_int_equal(h_memctx(fx->dir, 1, fx->m->image, 0, NULL, &fx->p),
	    0);
	w->helper = fx->p.pid;
	/* Serve the watch until the context reaches the holder (20 s). */
	for (i = 0; i < 200 && ev == NULL; i++) {
		struct pollfd pfd[2] = {
			{ .fd = w->fd, .events = POLLIN },
			{ .fd = vmsig_holder_fd(fx->h), .events = POLLIN },
		};

		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			break;
		watch_drain(w);
		if (pfd[1].revents)
			ev = h_expect(fx->h, VMSIG_EV_MEMCTX, 0);
	}
	watch_drain(w);
	assert_non_null(ev);
	assert_int_equal(((const vmsig_memctx *)(const void *)ev->inln)->kcr3,
	    fx->m->kcr3);
	vmsig_event_free(ev);
	fprintf(stderr, "helper reached the RAM file's contents %d time(s); "
	    "unconfined: %d\n", w->seen, w->unconfined);
	assert_true(w->seen >= 1);
	assert_int_equal(w->unconfined, 0);
	assert_int_equal(h_stop(&fx->p, SIGTERM, 5000), 0);
	fx->p.pid = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_first_read_is_confined,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
