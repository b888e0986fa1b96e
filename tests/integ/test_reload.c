/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP, vmsigd -n and --version end to end: the real vmsigd started with
 * --config on a file in a temporary directory, the real vmsig-memctx on a
 * guestgen image, a holder through libvmsig-holder.  The holder stays
 * connected across reloads (same peer id, Status still answers); a writers
 * rule added to the file and reloaded turns a lease refused with EPERM into
 * a lease granted; a file that does not parse and a file renamed over the
 * one vmsigd opened change nothing and are reported; a setting given on
 * the command line wins over the file's; without --config SIGHUP is only
 * logged.  vmsigd's log (its stderr) goes to a file the test reads.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/version.h>

#include "harness.h"
#include "../common/manifest.h"

#define EP		1u
#define TTL		5000u

struct fx {
	char *dir;
	char conf[4096], log[4096];
	struct h_proc d, mc;
	struct gg_manifest *m;
	int base_fds;
};

/* Replace path's contents in place (same inode, as `cat >` does). */
static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* Occurrences of s in the file at path (its first 64 KiB). */
static int
count_in(const char *path, const char *s)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t k;
	char *p;

	if (fd < 0)
		return 0;
	k = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (k <= 0)
		return 0;
	buf[k] = '\0';
	for (p = buf; n < 1000 && (p = strstr(p, s)) != NULL; p++)
		n++;
	return n;
}

/* SIGHUP vmsigd and wait (at most 5 s) for one more log line with s. */
static void
hup_expect(struct fx *fx, const char *s)
{
	int before = count_in(fx->log, s);
	long t0 = h_now_ms();

	assert_int_equal(kill(fx->d.pid, SIGHUP), 0);
	while (count_in(fx->log, s) <= before && h_now_ms() - t0 < 5000)
		(void)poll(NULL, 0, 20);
	if (count_in(fx->log, s) <= before)
		fail_msg("no log line with '%s' after SIGHUP", s);
}

/* vmsigd with its stderr into fx->log, then extra arguments. */
static int
start_vmsigd(struct fx *fx, const char *const extra[])
{
	int save = dup(STDERR_FILENO), fd, r;

	fd = open(fx->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (save < 0 || fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return -1;
	r = h_vmsigd(fx->dir, extra, &fx->d);
	(void)dup2(save, STDERR_FILENO);
	(void)close(save);
	(void)close(fd);
	return r;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	/* tmpfs, like a QEMU memory-backend-file. */
	(void)setenv("TMPDIR", "/dev/shm", 1);
	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	snprintf(fx->conf, sizeof(fx->conf), "%s/vmsigd.conf", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/vmsigd.log", fx->dir);
	fx->base_fds = h_fd_count(0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int r;

	gg_manifest_free(fx->m);
	r = h_teardown(&fx->mc, &fx->d, fx->dir, fx->base_fds);
	free(fx);
	return r;
}

static struct vmsig_holder *
holder_ctx(struct fx *fx)
{
	struct vmsig_holder *h = h_holder(fx->dir, "reload");
	vmsig_event *ev;

	assert_non_null(h);
	ev = h_expect(h, VMSIG_EV_MEMCTX, 5000);
	assert_non_null(ev);
	vmsig_event_free(ev);
	return h;
}

static int
lease(struct vmsig_holder *h)
{
	uint64_t id = 0;
	int r = vmsig_holder_lease_acquire(h, EP, TTL, -1, &id, NULL);

	if (r == 0)
		assert_int_equal(vmsig_holder_lease_release(h, id, -1), 0);
	return r;
}

static void
same_peer(struct vmsig_holder *h, uint32_t peer)
{
	struct vmsig_status *st = NULL;

	assert_int_equal(vmsig_holder_status(h, -1, &st), 0);
	vmsig_status_free(st);
	assert_int_equal(vmsig_holder_peer_id(h), peer);
}

/* The whole story on one vmsigd, one helper, one holder. */
static void
test_reload(void **state)
{
	struct fx *fx = *state;
	static char self[32], newconf[4096];
	const char *const extra[] = { "--config", fx->conf,
	    "--allow-holder", self, NULL };
	static const char *const ggv[] = { "--size", "256M", NULL };
	static const char *const writable[] = { "--writable", NULL };
	struct vmsig_holder *h;
	uint32_t peer;

	snprintf(self, sizeof(self), "uid:%u", (unsigned)geteuid());
	put(fx->conf, "# no writers yet\nholders uid:0\n");
	assert_int_equal(start_vmsigd(fx, extra), 0);
	assert_int_equal(gg_make(fx->dir, "g", ggv, &fx->m), 0);
	assert_int_equal(h_memctx(fx->dir, EP, fx->m->image, 100, writable,
	    &fx->mc), 0);
	h = holder_ctx(fx);
	peer = vmsig_holder_peer_id(h);
	assert_true(peer != 0);
	assert_int_equal(lease(h), -EPERM);

	/* A writers rule, read on SIGHUP: the same holder now gets it. */
	snprintf(newconf, sizeof(newconf), "holders uid:0\nwriters %s\n",
	    self);
	put(fx->conf, newconf);
	hup_expect(fx, "reload: policy from");
	same_peer(h, peer);
	assert_int_equal(lease(h), 0);

	/* A broken file changes nothing and names its line. */
	put(fx->conf, "holders uid:0\nwriters uid:what\n");
	hup_expect(fx, "line 2: ");
	assert_true(count_in(fx->log, "keeping the current policy") >= 1);
	same_peer(h, peer);
	assert_int_equal(lease(h), 0);

	/* An editor's way: a new file renamed over ours.  vmsigd still holds
	 * the old one (it opens no file) and says a restart is needed. */
	snprintf(newconf, sizeof(newconf), "%s/vmsigd.conf.new", fx->dir);
	put(newconf, "holders uid:0\n");
	assert_int_equal(rename(newconf, fx->conf), 0);
	hup_expect(fx, "restart vmsigd to read the new file");
	same_peer(h, peer);
	assert_int_equal(lease(h), 0);
	vmsig_holder_close(h);
}

/* hello-timeout-ms: the file says 100 ms, the command line 10 s, and the
 * command line wins, at start-up and after a reload. */
static void
test_cmdline_wins(void **state)
{
	struct fx *fx = *state;
	const char *const extra[] = { "--config", fx->conf,
	    "--hello-timeout-ms", "10000", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	int round;

	put(fx->conf, "hello-timeout-ms 100\n");
	assert_int_equal(start_vmsigd(fx, extra), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_hsock(fx->dir));
	for (round = 0; round < 2; round++) {
		pfd.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(pfd.fd >= 0);
		assert_int_equal(connect(pfd.fd, (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
		pfd.events = POLLIN;
		/* No Hello: still open well past the file's 100 ms. */
		assert_int_equal(poll(&pfd, 1, 600), 0);
		assert_int_equal(close(pfd.fd), 0);
		if (round == 0)
			hup_expect(fx, "reload: policy from");
	}
}

/* No --config: SIGHUP is logged, and vmsigd goes on. */
static void
test_no_config(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(start_vmsigd(fx, NULL), 0);
	hup_expect(fx, "nothing to reload");
	assert_int_equal(h_wait_socket(h_hsock(fx->dir), 2000), 0);
}

/* Run argv with its stdout piped; the first line and the exit status. */
static int
run_line(const char *const argv[], char *line, size_t cap)
{
	struct h_proc p;
	int st;

	line[0] = '\0';
	assert_int_equal(h_spawn((char *const *)argv, 0, 1, &p), 0);
	(void)h_wait_line(&p, "", 5000, line, cap);
	st = h_wait_exit(&p, 5000);
	(void)close(p.out);
	assert_true(st >= 0 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_check(void **state)
{
	struct fx *fx = *state;
	char vmsigd[4096], line[512], want[4200];
	const char *argv[] = { vmsigd, "-n", "--config", fx->conf, NULL };

	snprintf(vmsigd, sizeof(vmsigd), "%s", h_bin("sbin/vmsigd"));
	put(fx->conf, "holders uid:0 gid:0\nwriters none\n"
	    "holder-fds 8\n");
	assert_int_equal(run_line(argv, line, sizeof(line)), 0);
	snprintf(want, sizeof(want), "%s: ok", fx->conf);
	assert_non_null(strstr(line, want));
	put(fx->conf, "holders uid:0\n\nholder-fds many\n");
	assert_int_equal(run_line(argv, line, sizeof(line)), 1);
	snprintf(want, sizeof(want), "%s line 3: holder-fds", fx->conf);
	assert_non_null(strstr(line, want));
	/* -n binds nothing. */
	assert_int_equal(access(h_hsock(fx->dir), F_OK), -1);
}

static void
test_version(void **state)
{
	static const char *const rel[] = { "sbin/vmsigd", "sbin/vmsig-memctx",
	    "bin/vmsigctl" };
	static const char *const name[] = { "vmsigd", "vmsig-memctx",
	    "vmsigctl" };
	char bin[4096], line[256], want[64];
	const char *argv[] = { bin, "--version", NULL };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(bin, sizeof(bin), "%s", h_bin(rel[i]));
		snprintf(want, sizeof(want), "%s %s", name[i], VMSIG_VERSION);
		assert_int_equal(run_line(argv, line, sizeof(line)), 0);
		line[strcspn(line, "\n")] = '\0';
		assert_string_equal(line, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
