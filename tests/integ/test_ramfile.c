/* SPDX-License-Identifier: MIT */
/*
 * The helper opens only what it should (issue 14, item 4), with the real
 * vmsig-memctx: a FIFO planted at the RAM path is refused at once (the
 * open does not block), a symbolic link is refused, a file owned by
 * another uid is refused with a message naming owner and mode unless
 * --ram-owner names that uid (or user), a world-writable file is refused,
 * and the same checks hold when the file is replaced while the helper
 * runs (the bad replacement is refused, a good one is served).
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "harness.h"
#include "../common/manifest.h"

#define NOBODY	65534u

struct fx {
	char *dir;
	struct gg_manifest *m;
	struct h_proc d, p;
	char log[4096];		/* the helper's stderr */
};

static int
setup(void **state)
{
	static const char *const gextra[] = { "--size", "64M", "--seed", "3",
	    NULL };
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	*state = fx;
	snprintf(fx->log, sizeof(fx->log), "%s/memctx.log", fx->dir);
	return gg_make(fx->dir, "g", gextra, &fx->m) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->p.pid > 0)
		(void)h_stop(&fx->p, SIGTERM, 5000);
	if (fx->d.pid > 0)
		(void)h_stop(&fx->d, SIGTERM, 5000);
	(void)unlink(fx->log);
	gg_manifest_free(fx->m);
	h_rmdir(fx->dir);
	free(fx);
	return 0;
}

/* vmsig-memctx on ram with one extra option pair (may be NULL), its stderr
 * into fx->log. */
static void
helper(struct fx *fx, const char *ram, const char *opt, const char *arg)
{
	char bin[4096], as[4096];
	const char *argv[16];
	size_t n = 0;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsig-memctx"));
	snprintf(as, sizeof(as), "%s", h_asock(fx->dir));
	argv[n++] = bin;
	argv[n++] = "--endpoint";
	argv[n++] = "1";
	argv[n++] = "--ram";
	argv[n++] = ram;
	argv[n++] = "--connect";
	argv[n++] = as;
	argv[n++] = "--revalidate-ms";
	argv[n++] = "100";
	if (opt != NULL) {
		argv[n++] = opt;
		argv[n++] = arg;
	}
	argv[n] = NULL;
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int fd = open(fx->log, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);

		if (fd == -1 || dup2(fd, STDERR_FILENO) == -1)
			_exit(127);
		/* As h_spawn() does: a sanitizer build's helper cannot run
		 * LeakSanitizer's exit scan under its seccomp filter. */
		setenv("ASAN_OPTIONS", "detect_leaks=0:quarantine_size_mb=1", 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	memset(&fx->p, 0, sizeof(fx->p));
	fx->p.pid = pid;
	fx->p.out = fx->p.in = -1;
}

/* The helper exits with `code` within timeout_ms, having said `what`. */
static void
expect_refused(struct fx *fx, int code, const char *what, int timeout_ms)
{
	char buf[4096];
	ssize_t n;
	int fd, st;

	st = h_wait_exit(&fx->p, timeout_ms);
	assert_true(st >= 0);
	fx->p.pid = 0;		/* reaped; else teardown stops it */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), code);
	fd = open(fx->log, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	if (strstr(buf, what) == NULL)
		fail_msg("helper said \"%s\", not \"%s\"", buf, what);
}

/* A FIFO at the path: refused at once, not an open that never returns. */
static void
t_fifo(void **state)
{
	struct fx *fx = *state;
	char path[4096];
	long t0;

	snprintf(path, sizeof(path), "%s/fifo.img", fx->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	t0 = h_now_ms();
	helper(fx, path, NULL, NULL);
	expect_refused(fx, 3, "is a FIFO, not a regular file", 5000);
	fprintf(stderr, "FIFO refused in %ld ms\n", h_now_ms() - t0);
	assert_true(h_now_ms() - t0 < 5000);
	(void)unlink(path);
}

static void
t_symlink(void **state)
{
	struct fx *fx = *state;
	char path[4096];

	snprintf(path, sizeof(path), "%s/link.img", fx->dir);
	assert_int_equal(symlink(fx->m->image, path), 0);
	helper(fx, path, NULL, NULL);
	expect_refused(fx, 3, "is a symbolic link", 5000);
	(void)unlink(path);
}

static void
t_world_writable(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(chmod(fx->m->image, 0666), 0);
	helper(fx, fx->m->image, NULL, NULL);
	expect_refused(fx, 3, "has mode 0666, writable by group or others",
	    5000);
}

/* Another uid's file: refused, naming owner and mode; --ram-owner with
 * that uid, and with that user's name, accepts it. */
static void
t_other_owner(void **state)
{
	struct fx *fx = *state;
	static const char *const owners[] = { "65534", "nobody" };
	struct vmsig_holder *h;
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: chown needs root\n");
		skip();
	}
	assert_int_equal(chown(fx->m->image, NOBODY, NOBODY), 0);
	assert_int_equal(chmod(fx->m->image, 0644), 0);
	helper(fx, fx->m->image, NULL, NULL);
	expect_refused(fx, 3, "is owned by uid 65534 (mode 0644)", 5000);

	assert_int_equal(h_vmsigd(fx->dir, NULL, &fx->d), 0);
	h = h_holder(fx->dir, "t");
	assert_non_null(h);
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		vmsig_event *ev;

		helper(fx, fx->m->image, "--ram-owner", owners[i]);
		ev = h_expect(h, VMSIG_EV_MEMCTX, 10000);
		assert_non_null(ev);
		assert_int_equal(((const vmsig_memctx *)(const void *)
		    ev->inln)->kcr3, fx->m->kcr3);
		vmsig_event_free(ev);
		assert_int_equal(h_stop(&fx->p, SIGTERM, 5000), 0);
		fx->p.pid = 0;
		ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 10000);
		assert_non_null(ev);
		vmsig_event_free(ev);
	}
	vmsig_holder_close(h);
}

/* Copy the image to a new file of `mode` and rename it over the path. */
static void
replace_image(struct fx *fx, mode_t mode)
{
	char tmp[4096], cmd[8192];

	snprintf(tmp, sizeof(tmp), "%s/new.img", fx->dir);
	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'",
	    fx->m->image, tmp);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(tmp, mode), 0);
	assert_int_equal(rename(tmp, fx->m->image), 0);
}

/* Replaced while served: a world-writable replacement is refused (no
 * context), the same file made 0644 is served in the next epoch. */
static void
t_reopen_checked(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h;
	vmsig_event *ev;
	char buf[8192];
	ssize_t n;
	int fd, i;

	assert_int_equal(h_vmsigd(fx->dir, NULL, &fx->d), 0);
	h = h_holder(fx->dir, "t");
	assert_non_null(h);
	helper(fx, fx->m->image, NULL, NULL);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 10000);
	assert_non_null(ev);
	vmsig_event_free(ev);

	replace_image(fx, 0666);
	ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 10000);
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 2);
	vmsig_event_free(ev);
	/* Refused on every retry (the tick is 100 ms): no context. */
	assert_true(h_quiet(h, 1000));
	for (i = 0, n = 0; i < 50; i++) {
		fd = open(fx->log, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, "writable by group or others") != NULL)
			break;
		usleep(100000);
	}
	assert_non_null(strstr(buf, "writable by group or others"));

	assert_int_equal(chmod(fx->m->image, 0644), 0);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 10000);
	assert_non_null(ev);
	assert_int_equal(ev->epoch, 2);
	vmsig_event_free(ev);
	vmsig_holder_close(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(t_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(t_world_writable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_other_owner, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_reopen_checked, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
