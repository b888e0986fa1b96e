/* SPDX-License-Identifier: MIT */
/*
 * vmsig-memctx --qmp against a REAL QEMU (TCG, paused with -S, no
 * kernel), with the real vmsigd and a holder.  QEMU gets two QMP monitors:
 * A for the helper (a monitor serves one client at a time) and B for the
 * test to drive the guest.  The RAM file is a memory-backend-file in
 * /dev/shm holding a tiny PML4 at 0x1000 (--kcr3 0x1000: no guest kernel
 * runs).  Checked: the MEMCTX carries QEMU's flat-view layout; a
 * system_reset gives holders exactly one MEMCTX_INVALIDATED and one MEMCTX;
 * `quit` invalidates at once and the helper keeps reconnecting; a new QEMU
 * on the same socket path brings a new MEMCTX.  Skipped where
 * qemu-system-x86_64 is missing or cannot start.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "harness.h"

#define RAM_SIZE	(512ull << 20)
#define WAIT_MS		15000

struct fx {
	char *dir;		/* sockets, logs */
	char shm[64];		/* the RAM file's directory */
	char ram[128], qa[108], qb[108];	/* sun_path */
	char qemu_bin[4200];
	struct h_proc d, qemu, helper;
	int qmp;		/* the test's connection to monitor B */
};

static int
qemu_path(struct fx *fx)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL, *p;

	if (strlen(fx->dir) > 80)
		return 0;	/* socket paths would not fit sun_path */

	snprintf(buf, sizeof(buf), "%s", path != NULL ? path : "/usr/bin");
	for (p = strtok_r(buf, ":", &save); p != NULL;
	    p = strtok_r(NULL, ":", &save)) {
		snprintf(fx->qemu_bin, sizeof(fx->qemu_bin),
		    "%s/qemu-system-x86_64", p);
		if (access(fx->qemu_bin, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* 512M sparse, a PML4 at 0x1000 whose entry 256 points at 0x2000. */
static int
make_ram(const char *path)
{
	uint64_t e = 0x2000 | 0x3;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd == -1)
		return -1;
	if (ftruncate(fd, (off_t)RAM_SIZE) == -1 ||
	    pwrite(fd, &e, 8, 0x1000 + 256 * 8) != 8) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

/* One line from QMP B (events skipped unless `event` names one). */
static int
qmp_line(struct fx *fx, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = fx->qmp, .events = POLLIN };
	size_t n = 0;

	while (n + 1 < cap) {
		if (poll(&pfd, 1, timeout_ms) <= 0 ||
		    read(fx->qmp, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

/* Send a command on B and wait for its return (events skipped). */
static int
qmp_cmd(struct fx *fx, const char *json)
{
	char line[8192];

	if (write(fx->qmp, json, strlen(json)) != (ssize_t)strlen(json) ||
	    write(fx->qmp, "\n", 1) != 1)
		return -1;
	for (;;) {
		if (qmp_line(fx, line, sizeof(line), WAIT_MS) < 0)
			return -1;
		if (strstr(line, "\"return\"") != NULL)
			return 0;
		if (strstr(line, "\"error\"") != NULL)
			return -1;
	}
}

/* Connect to monitor B as soon as QEMU listens (bounded), greet. */
static int
qmp_open_b(struct fx *fx)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[8192];
	int i;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->qb);
	for (i = 0; i < WAIT_MS / 20; i++) {
		fx->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fx->qmp < 0)
			return -1;
		if (connect(fx->qmp, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0)
			break;
		(void)close(fx->qmp);
		fx->qmp = -1;
		if (waitpid(fx->qemu.pid, NULL, WNOHANG) != 0)
			return -1;	/* QEMU died: cannot start here */
		(void)poll(NULL, 0, 20);
	}
	if (fx->qmp < 0 || qmp_line(fx, line, sizeof(line), WAIT_MS) < 0 ||
	    strstr(line, "\"QMP\"") == NULL)
		return -1;
	return qmp_cmd(fx, "{\"execute\":\"qmp_capabilities\"}");
}

static int
qemu_start(struct fx *fx)
{
	char obj[512], a[4200], b[4200];
	char *argv[] = { fx->qemu_bin, "-machine", "pc", "-accel",
	    "tcg", "-m", "512M", "-object", obj, "-machine",
	    "memory-backend=ram0", "-display", "none", "-nodefaults", "-S",
	    "-qmp", a, "-qmp", b, NULL };

	snprintf(obj, sizeof(obj), "memory-backend-file,id=ram0,size=512M,"
	    "mem-path=%s,share=on", fx->ram);
	snprintf(a, sizeof(a), "unix:%s,server=on,wait=off", fx->qa);
	snprintf(b, sizeof(b), "unix:%s,server=on,wait=off", fx->qb);
	if (h_spawn(argv, 0, 0, &fx->qemu) < 0)
		return -1;
	if (qmp_open_b(fx) < 0) {
		(void)h_stop(&fx->qemu, SIGKILL, 5000);
		fx->qemu.pid = 0;
		return -1;
	}
	return 0;
}

static void
qemu_gone(struct fx *fx)
{
	if (fx->qmp >= 0)
		(void)close(fx->qmp);
	fx->qmp = -1;
	if (fx->qemu.pid > 0)
		(void)h_stop(&fx->qemu, SIGTERM, 5000);
	fx->qemu.pid = 0;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	fx->qmp = -1;
	snprintf(fx->shm, sizeof(fx->shm), "/dev/shm/vmsig-qmp-XXXXXX");
	if (mkdtemp(fx->shm) == NULL)
		return -1;
	snprintf(fx->ram, sizeof(fx->ram), "%s/ram", fx->shm);
	snprintf(fx->qa, sizeof(fx->qa), "%s/helper.qmp", fx->dir);
	snprintf(fx->qb, sizeof(fx->qb), "%s/test.qmp", fx->dir);
	if (make_ram(fx->ram) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->helper.pid > 0)
		(void)h_stop(&fx->helper, SIGTERM, 5000);
	qemu_gone(fx);
	if (fx->d.pid > 0)
		(void)h_stop(&fx->d, SIGTERM, 5000);
	(void)unlink(fx->ram);
	(void)rmdir(fx->shm);
	h_rmdir(fx->dir);
	free(fx);
	return 0;
}

static int
helper_start(struct fx *fx)
{
	const char *extra[] = { "--qmp", fx->qa, "--kcr3", "0x1000", NULL };

	return h_memctx(fx->dir, 1, fx->ram, 100, extra, &fx->helper);
}

/* A MEMCTX of `epoch` with kcr3 0x1000 and QEMU's pc 512M layout. */
static void
expect_ctx(struct vmsig_holder *h, uint32_t epoch)
{
	vmsig_event *ev = h_expect(h, VMSIG_EV_MEMCTX, WAIT_MS);
	const vmsig_memctx *m;
	const vmsig_memseg *s;

	assert_non_null(ev);
	m = (const vmsig_memctx *)(const void *)ev->inln;
	assert_int_equal(ev->epoch, epoch);
	assert_int_equal(m->kcr3, 0x1000);
	assert_int_equal(m->flags & VMSIG_MEMCTX_LA57, 0);
	assert_int_equal(m->nseg, 2);
	assert_int_equal(ev->payload.len, 2 * sizeof(*s));
	s = ev->payload.data;
	assert_int_equal(s[0].gpa, 0);
	assert_int_equal(s[0].len, 0xc0000);
	assert_int_equal(s[1].gpa, 0x100000);
	assert_int_equal(s[1].len, RAM_SIZE - 0x100000);
	assert_int_equal(s[1].file_off, 0x100000);
	vmsig_event_free(ev);
}

static void
expect_invalidated(struct vmsig_holder *h, uint32_t epoch)
{
	vmsig_event *ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, WAIT_MS);

	assert_non_null(ev);
	assert_int_equal(ev->epoch, epoch);
	vmsig_event_free(ev);
}

static void
t_session(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h;
	struct vmsig_status *st = NULL;

	if (!qemu_path(fx))
		skip();		/* qemu-system-x86_64 is not installed */
	if (qemu_start(fx) < 0) {
		print_message("qemu-system-x86_64 cannot start here; "
		    "skipping\n");
		skip();
	}
	assert_int_equal(h_vmsigd(fx->dir, NULL, &fx->d), 0);
	assert_non_null(h = h_holder(fx->dir, "t"));
	assert_int_equal(helper_start(fx), 0);
	expect_ctx(h, 1);
	assert_true(h_confined(fx->helper.pid));
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_string_equal(st->endpoints[0].method, "given");
	vmsig_status_free(st);

	/* A reset: one invalidation, one new context, nothing more. */
	assert_int_equal(qmp_cmd(fx, "{\"execute\":\"system_reset\"}"), 0);
	expect_invalidated(h, 2);
	expect_ctx(h, 2);
	assert_true(h_quiet(h, 700));

	/* QEMU quits: invalidated at once; no context while it is gone. */
	assert_int_equal(qmp_cmd(fx, "{\"execute\":\"quit\"}"), 0);
	expect_invalidated(h, 3);
	assert_int_equal(h_wait_exit(&fx->qemu, WAIT_MS) >= 0, 1);
	fx->qemu.pid = 0;
	(void)close(fx->qmp);
	fx->qmp = -1;
	assert_true(h_quiet(h, 1500));
	assert_int_equal(waitpid(fx->helper.pid, NULL, WNOHANG), 0);

	/* A new QEMU on the same socket path and RAM file. */
	assert_int_equal(qemu_start(fx), 0);
	expect_ctx(h, 3);
	assert_true(h_quiet(h, 700));
	vmsig_holder_close(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_session, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
