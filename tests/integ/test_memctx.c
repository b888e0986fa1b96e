/* SPDX-License-Identifier: MIT */
/*
 * The real vmsig-memctx on guestgen images, with the real vmsigd and
 * holders: discovery reaches holders as MEMCTX with the manifest's kcr3;
 * a guest reboot, a replaced RAM file and a killed helper each end the
 * epoch; a restarted vmsigd gets the context again; a guest with no kernel
 * and a layout that does not fit are exit codes with nothing sent; and
 * discovery never allocates holes of the file.
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
#include <time.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>

#include "harness.h"
#include "wire.h"
#include "../common/manifest.h"

struct fx {
	char *dir;
	struct h_proc d;
	struct gg_manifest *m;
};

static int
setup(void **state)
{
	static const char *const vextra[] = { "--gone-ms", "300", NULL };
	static const char *const gextra[] = { "--size", "256M", "--seed",
	    "11", NULL };
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL || (fx->dir = h_tmpdir()) == NULL)
		return -1;
	if (gg_make(fx->dir, "guest", gextra, &fx->m) < 0)
		return -1;
	if (h_vmsigd(fx->dir, vextra, &fx->d) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->d.pid > 0)
		(void)h_stop(&fx->d, SIGTERM, 5000);
	gg_manifest_free(fx->m);
	h_rmdir(fx->dir);
	free(fx);
	return 0;
}

/* vmsig-memctx on `image` with extra options; stderr to dir/memctx.log. */
static int
helper(struct fx *fx, const char *image, const char *const extra[],
    struct h_proc *p)
{
	return h_memctx(fx->dir, 1, image, 100, extra, p);
}

static vmsig_event *
expect_ctx(struct vmsig_holder *h, uint32_t epoch, uint64_t kcr3)
{
	vmsig_event *ev = h_expect(h, VMSIG_EV_MEMCTX, 10000);
	const vmsig_memctx *m;

	assert_non_null(ev);
	m = (const vmsig_memctx *)(const void *)ev->inln;
	assert_int_equal(ev->epoch, epoch);
	assert_int_equal(m->kcr3, kcr3);
	assert_int_equal(fcntl(ev->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	return ev;
}

static void
expect_invalidated(struct vmsig_holder *h, uint32_t epoch)
{
	vmsig_event *ev = h_expect(h, VMSIG_EV_MEMCTX_INVALIDATED, 10000);

	assert_non_null(ev);
	assert_int_equal(ev->epoch, epoch);
	vmsig_event_free(ev);
}

/* The tracker's context reads the kernel's MZ header by virtual address. */
static void
check_kernel(struct vmsig_holder *h, const struct gg_manifest *m)
{
	uint64_t kcr3 = 0;
	struct vmsig_mem *mem = vmsig_holder_mem(h, 1, NULL, &kcr3);
	char mz[2];

	assert_non_null(mem);
	assert_int_equal(kcr3, m->kcr3);
	assert_int_equal(vmsig_mem_read_va(mem, kcr3, m->kernel_base, mz, 2,
	    NULL), 0);
	assert_memory_equal(mz, "MZ", 2);
}

static void
t_discover_and_reboot(void **state)
{
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct vmsig_status *st = NULL;
	struct gg_manifest *m2 = NULL;
	char mpath[4096];
	struct h_proc p;
	vmsig_event *ev;

	assert_int_equal(helper(fx, fx->m->image, NULL, &p), 0);
	ev = expect_ctx(h, 1, fx->m->kcr3);
	assert_int_equal(((const vmsig_memctx *)(const void *)ev->inln)->low,
	    256u << 20);
	vmsig_event_free(ev);
	check_kernel(h, fx->m);
	assert_true(h_confined(p.pid));
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->nendpoints, 1);
	assert_string_equal(st->endpoints[0].method, "lowstub");
	assert_int_equal(st->endpoints[0].adapter_pid, p.pid);
	vmsig_status_free(st);
	/* The guest reboots in place: new tables, new kcr3, same file. */
	snprintf(mpath, sizeof(mpath), "%s/guest.json", fx->dir);
	assert_int_equal(gg_reboot(mpath, fx->m->image, 0, &m2), 0);
	assert_true(m2->kcr3 != fx->m->kcr3);
	expect_invalidated(h, 2);
	assert_null(vmsig_holder_mem(h, 1, NULL, NULL));
	ev = expect_ctx(h, 2, m2->kcr3);
	vmsig_event_free(ev);
	check_kernel(h, m2);
	gg_manifest_free(m2);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	vmsig_holder_close(h);
}

static void
t_file_replaced(void **state)
{
	static const char *const gextra[] = { "--size", "256M", "--seed",
	    "99", NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct gg_manifest *m2 = NULL;
	struct stat st, sn;
	struct h_proc p;
	vmsig_event *ev;

	assert_int_equal(helper(fx, fx->m->image, NULL, &p), 0);
	ev = expect_ctx(h, 1, fx->m->kcr3);
	vmsig_event_free(ev);
	/* A new QEMU re-creates the file at the same path. */
	assert_int_equal(gg_make(fx->dir, "next", gextra, &m2), 0);
	assert_int_equal(rename(m2->image, fx->m->image), 0);
	assert_int_equal(stat(fx->m->image, &sn), 0);
	expect_invalidated(h, 2);
	ev = expect_ctx(h, 2, m2->kcr3);
	assert_int_equal(fstat(ev->fd, &st), 0);
	assert_int_equal(st.st_ino, sn.st_ino);
	vmsig_event_free(ev);
	gg_manifest_free(m2);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	vmsig_holder_close(h);
}

static void
t_vmsigd_restart(void **state)
{
	static const char *const vextra[] = { "--gone-ms", "300", NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct h_proc p;
	vmsig_event *ev;

	assert_int_equal(helper(fx, fx->m->image, NULL, &p), 0);
	ev = expect_ctx(h, 1, fx->m->kcr3);
	vmsig_event_free(ev);
	vmsig_holder_close(h);
	(void)h_stop(&fx->d, SIGKILL, 5000);
	/* Its socket files are left behind: the new one replaces them. */
	assert_int_equal(h_vmsigd(fx->dir, vextra, &fx->d), 0);
	h = h_holder(fx->dir, "t2");
	assert_non_null(h);
	ev = expect_ctx(h, 1, fx->m->kcr3);	/* the helper came back */
	vmsig_event_free(ev);
	/* Killed outright, the helper's context dies; a new one follows. */
	(void)h_stop(&p, SIGKILL, 5000);
	expect_invalidated(h, 2);
	assert_int_equal(helper(fx, fx->m->image, NULL, &p), 0);
	ev = expect_ctx(h, 2, fx->m->kcr3);
	vmsig_event_free(ev);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	vmsig_holder_close(h);
}

/* No kernel in RAM: exit code 5, and vmsigd never heard of endpoint 1. */
static void
t_noise(void **state)
{
	static const char *const gextra[] = { "--size", "64M",
	    "--noise-only", NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct vmsig_status *st = NULL;
	struct gg_manifest *m2 = NULL;
	struct h_proc p;
	int status;

	assert_int_equal(gg_make(fx->dir, "noise", gextra, &m2), 0);
	assert_int_equal(helper(fx, m2->image, NULL, &p), 0);
	status = h_wait_exit(&p, 20000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 5);
	assert_int_equal(vmsig_holder_status(h, 5000, &st), 0);
	assert_int_equal(st->nendpoints, 0);
	vmsig_status_free(st);
	assert_true(h_quiet(h, 200));
	gg_manifest_free(m2);
	vmsig_holder_close(h);
}

/* 3 GiB split at 2 GiB: refused without a layout; q35 and --seg work. */
static void
t_layouts(void **state)
{
	static const char *const gextra[] = { "--size", "3G", "--low", "2G",
	    NULL };
	static const char *const q35[] = { "--machine", "q35", NULL };
	static const char *const segs[] = { "--seg", "0:0x80000000:0",
	    "--seg", "0x100000000:0x40000000:0x80000000", NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct gg_manifest *m2 = NULL;
	const vmsig_memseg *sg;
	uint32_t nseg = 0;
	struct h_proc p;
	vmsig_event *ev;
	int status;

	assert_int_equal(gg_make(fx->dir, "big", gextra, &m2), 0);
	assert_int_equal(helper(fx, m2->image, NULL, &p), 0);
	status = h_wait_exit(&p, 10000);
	assert_int_equal(WEXITSTATUS(status), 4);
	assert_int_equal(helper(fx, m2->image, q35, &p), 0);
	ev = expect_ctx(h, 1, m2->kcr3);
	assert_int_equal(((const vmsig_memctx *)(const void *)ev->inln)->low,
	    0x80000000ull);
	vmsig_event_free(ev);
	check_kernel(h, m2);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	expect_invalidated(h, 2);
	assert_int_equal(helper(fx, m2->image, segs, &p), 0);
	ev = expect_ctx(h, 2, m2->kcr3);
	sg = vmsig_memctx_segs(ev, &nseg);
	assert_int_equal(nseg, 2);
	assert_int_equal(sg[1].gpa, 0x100000000ull);
	assert_int_equal(sg[1].file_off, 0x80000000ull);
	vmsig_event_free(ev);
	check_kernel(h, m2);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	gg_manifest_free(m2);
	vmsig_holder_close(h);
}

/* selfref over a sparse 4 GiB guest allocates no page of the file. */
static void
t_holes_untouched(void **state)
{
	static const char *const gextra[] = { "--size", "4G", "--low", "2G",
	    "--no-lowstub", NULL };
	static const char *const extra[] = { "--low", "2G", "--kcr3",
	    "selfref", NULL };
	struct fx *fx = *state;
	struct vmsig_holder *h = h_holder(fx->dir, "t");
	struct gg_manifest *m2 = NULL;
	struct stat before, after;
	struct h_proc p;
	vmsig_event *ev;

	assert_int_equal(gg_make(fx->dir, "sparse", gextra, &m2), 0);
	assert_int_equal(stat(m2->image, &before), 0);
	assert_int_equal(helper(fx, m2->image, extra, &p), 0);
	ev = expect_ctx(h, 1, m2->kcr3);
	vmsig_event_free(ev);
	assert_int_equal(stat(m2->image, &after), 0);
	assert_int_equal(before.st_blocks, after.st_blocks);
	assert_true(after.st_blocks * 512 < (64ll << 20));
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	gg_manifest_free(m2);
	vmsig_holder_close(h);
}

/*
 * A fake vmsigd on conn: Welcome to the Hello, then, at MemctxReady, close
 * the connection (a core that drops every offer).  1 when it closed,
 * 0 to go on, -1 on a protocol surprise.
 */
static int
fake_core_step(int conn, struct wire_arena *a, uint32_t peer)
{
	unsigned char buf[VMSIG_FRAME_MAX];
	int fds[4] = { -1, -1, -1, -1 };
	Vmsig__V1__Welcome w = VMSIG__V1__WELCOME__INIT;
	Vmsig__V1__Frame out = VMSIG__V1__FRAME__INIT;
	wire_frame *f;
	const char *why = "";
	unsigned int nfds = 0;
	size_t len = 0;
	int n, r;

	r = fdpass_recv(conn, buf, sizeof(buf), fds, 4, &len, &nfds);
	if (r == 0)
		return 1;
	if (r < 0)
		return r == -EAGAIN ? 0 : -1;
	r = wire_decode(a, buf, len, nfds, &f, &why);
	fdpass_close(fds, nfds);
	if (r < 0)
		return -1;
	if (f->msg_case == VMSIG__V1__FRAME__MSG_MEMCTX_READY)
		return 1;
	if (f->msg_case != VMSIG__V1__FRAME__MSG_HELLO)
		return -1;
	w.proto_version = 1;
	w.peer_id = peer;
	w.epoch = 1;
	out.req_id = f->req_id;
	out.msg_case = VMSIG__V1__FRAME__MSG_WELCOME;
	out.welcome = &w;
	if ((n = wire_pack(&out, buf, sizeof(buf))) < 0)
		return -1;
	return fdpass_send(conn, buf, (size_t)n, NULL, 0) < 0 ? -1 : 0;
}

/*
 * A vmsigd that accepts the helper and drops every offer: the helper's
 * reconnect backoff keeps growing (100, 200, 400 ms ...) instead of
 * starting again at 100 ms at every connect, which would be ~40
 * connections in 4 s.
 */
static void
t_backoff_grows(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct wire_arena *a = wire_arena_new();
	long t0, at[64];
	int lfd, conn = -1, naccept = 0, bad = 0, r;
	struct h_proc p;

	assert_non_null(a);
	assert_int_equal(h_stop(&fx->d, SIGTERM, 5000), 0);
	fx->d.pid = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", h_asock(fx->dir));
	(void)unlink(sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(helper(fx, fx->m->image, NULL, &p), 0);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 4500 && naccept < 64 && !bad) {
		struct pollfd pfd[2] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = conn, .events = POLLIN },
		};

		if (poll(pfd, 2, 50) < 0 && errno != EINTR)
			break;
		if ((pfd[0].revents & POLLIN) && conn < 0 &&
		    (conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK)) >= 0)
			at[naccept++] = h_now_ms();
		if (conn >= 0 && pfd[1].revents) {
			r = fake_core_step(conn, a, (uint32_t)naccept);
			bad = r < 0;
			if (r == 1) {
				(void)close(conn);
				conn = -1;
			}
		}
	}
	if (conn >= 0)
		(void)close(conn);
	(void)close(lfd);
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	wire_arena_free(a);
	assert_false(bad);
	fprintf(stderr, "%d connections in 4.5 s", naccept);
	for (r = 1; r < naccept; r++)
		fprintf(stderr, "%s%ld ms", r == 1 ? "; gaps " : ", ",
		    at[r] - at[r - 1]);
	fprintf(stderr, "\n");
	/* The first connect comes at once; 100+200+400+800+1600 ms later
	 * the sixth: a few more than that is jitter, ~40 a regression. */
	assert_true(naccept >= 4);
	assert_true(naccept <= 8);
	assert_true(at[naccept - 1] - at[naccept - 2] >= 700);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_discover_and_reboot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_file_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_vmsigd_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_noise, setup, teardown),
		cmocka_unit_test_setup_teardown(t_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(t_backoff_grows, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_holes_untouched, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
