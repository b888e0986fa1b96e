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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>

#include "harness.h"
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
	char bin[4096], as[4096];
	const char *argv[24];
	size_t n = 0;

	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsig-memctx"));
	snprintf(as, sizeof(as), "%s", h_asock(fx->dir));
	argv[n++] = bin;
	argv[n++] = "--endpoint";
	argv[n++] = "1";
	argv[n++] = "--ram";
	argv[n++] = image;
	argv[n++] = "--connect";
	argv[n++] = as;
	argv[n++] = "--revalidate-ms";
	argv[n++] = "100";
	for (; extra != NULL && *extra != NULL && n < 22; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	return h_spawn((char *const *)argv, 0, 0, p);
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
		cmocka_unit_test_setup_teardown(t_holes_untouched, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
