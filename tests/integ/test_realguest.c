/* SPDX-License-Identifier: MIT */
/*
 * A real Linux guest (tests/qemu/fetch-guest.sh) under QEMU with TCG, for
 * a 512 MiB pc machine and a 4 GiB q35 machine (RAM above 4 GiB): the
 * kernel's "Linux version" banner found in the RAM file is where nokaslr
 * puts it (kernel text at QH_TEXT_BASE + PA, direct map at QH_DMAP_BASE +
 * PA); then the real vmsigd, vmsig-memctx and a holder: the tracked context
 * finds the banner by physical scan and reads it by virtual address; a
 * system_reset ends the epoch, the guest boots again and is read again;
 * quit ends it for good.  A third guest boots with pti=on and spins in user
 * mode: CR3 then names the user copy of its top table, and the kcr3 the
 * helper vends must still read kernel addresses.  Skips only where the
 * guest cannot be had (no qemu, no network to the archive).
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
#include <unistd.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>

#include "harness.h"
#include "qemu_harness.h"

#define BANNER		"Linux version "
#define BOOT_MS		60000
#define GIB		(1ull << 30)

struct rg {
	char *dir;
	struct qh_guest g;
	struct h_proc d, m;
	struct vmsig_holder *h;
	int qmp_helper;		/* vmsig-memctx has --qmp */
};

static void
skip_unless_guest(void)
{
	const char *why = "";
	int r = qh_fetch(&why);

	if (r == -ENOENT) {
		print_message("skip: %s\n", why);
		skip();
	}
	assert_int_equal(r, 0);
}

/* Does this build's vmsig-memctx know --qmp yet? */
static int
helper_has_qmp(void)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1 | grep -q -- --qmp",
	    h_bin("sbin/vmsig-memctx"));
	return system(cmd) == 0;
}

/* Bytes at pa read by both virtual addresses that nokaslr fixes. */
static void
check_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t pa, int text)
{
	char a[64], b[64];

	assert_int_equal(vmsig_mem_read_pa(mem, pa, a, sizeof(a), NULL), 0);
	assert_int_equal(vmsig_mem_read_va(mem, cr3, QH_DMAP_BASE + pa, b,
	    sizeof(b), NULL), 0);
	assert_memory_equal(a, b, sizeof(a));
	if (!text)
		return;
	assert_int_equal(vmsig_mem_read_va(mem, cr3, QH_TEXT_BASE + pa, b,
	    sizeof(b), NULL), 0);
	assert_memory_equal(a, b, sizeof(a));
}

static int
on_hit(void *arg, uint64_t pa)
{
	uint64_t *hits = arg;

	/* The copy in the kernel image (.rodata) is the one that text
	 * addresses reach; note the first and the first past 16 MiB. */
	if (hits[0] == UINT64_MAX)
		hits[0] = pa;
	if (pa >= 16u << 20 && hits[1] == UINT64_MAX) {
		hits[1] = pa;
		return 1;
	}
	return 0;
}

/* Guest paused: the banner by physical scan, then by virtual address. */
static void
check_banner(struct rg *t, struct vmsig_mem *mem)
{
	uint64_t hits[2] = { UINT64_MAX, UINT64_MAX }, cr3;
	int64_t n;

	assert_int_equal(qh_qmp(&t->g, "{\"execute\":\"stop\"}", NULL, 0), 0);
	assert_int_equal(qh_cr3(&t->g, &cr3), 0);
	n = vmsig_mem_scan_pa(mem, 0, t->g.low, (const uint8_t *)BANNER, NULL,
	    strlen(BANNER), on_hit, hits);
	assert_true(n >= 1);
	assert_int_equal(hits[0], qh_find_pa(&t->g, 0, BANNER, strlen(BANNER)));
	check_va(mem, cr3, hits[0], 0);
	assert_int_not_equal(hits[1], UINT64_MAX);
	check_va(mem, cr3, hits[1], 1);
	/* RAM above 4 GiB: the first allocated page there, both ways. */
	if (t->g.size > t->g.low) {
		int64_t pa = qh_find_pa(&t->g, 4 * GIB, "", 0);

		assert_true(pa >= (int64_t)(4 * GIB));
		check_va(mem, cr3, (uint64_t)pa & ~0xfffull, 0);
	}
	assert_int_equal(qh_qmp(&t->g, "{\"execute\":\"cont\"}", NULL, 0), 0);
}

/* Before any daemon: the RAM file itself, through the library. */
static void
check_file(struct rg *t)
{
	struct vmsig_mem *mem;
	int fd = open(t->g.ram, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(vmsig_mem_open(fd, t->g.low, &mem), 0);
	check_banner(t, mem);
	vmsig_mem_close(mem);
}

static int
start_helper(struct rg *t, const char *machine)
{
	char bin[4096], as[4096], kcr3[32];
	const char *argv[20];
	uint64_t cr3;
	size_t n = 0;
	int r;

	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsig-memctx"));
	snprintf(as, sizeof(as), "%s", h_asock(t->dir));
	argv[n++] = bin;
	argv[n++] = "--endpoint";
	argv[n++] = "1";
	argv[n++] = "--connect";
	argv[n++] = as;
	argv[n++] = "--ram";
	argv[n++] = t->g.ram;
	if (t->qmp_helper) {
		argv[n++] = "--qmp";
		argv[n++] = t->g.hqmp;
		argv[n++] = "--kcr3";
		argv[n++] = "qmp";
	} else {
		/* Until --qmp: the file, the machine's split and CR3 as the
		 * test's monitor reads it. */
		if ((r = qh_cr3(&t->g, &cr3)) < 0)
			return r;
		snprintf(kcr3, sizeof(kcr3), "0x%llx",
		    (unsigned long long)(cr3 & ~0xfffull));
		argv[n++] = "--machine";
		argv[n++] = machine;
		argv[n++] = "--kcr3";
		argv[n++] = kcr3;
	}
	argv[n] = NULL;
	return h_spawn((char *const *)argv, 0, 0, &t->m);
}

/* The holder's tracked context, checked; returns its epoch. */
static uint32_t
check_holder(struct rg *t, uint32_t after)
{
	vmsig_event *ev = h_expect(t->h, VMSIG_EV_MEMCTX, 20000);
	struct vmsig_mem *mem;
	uint32_t epoch = 0;

	assert_non_null(ev);
	assert_true(ev->epoch > after);
	assert_int_equal(fcntl(ev->fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	vmsig_event_free(ev);
	mem = vmsig_holder_mem(t->h, 1, &epoch, NULL);
	assert_non_null(mem);
	check_banner(t, mem);
	return epoch;
}

static void
expect_invalidated(struct rg *t)
{
	vmsig_event *ev = h_expect(t->h, VMSIG_EV_MEMCTX_INVALIDATED, 20000);

	assert_non_null(ev);
	vmsig_event_free(ev);
}

static void
realguest(struct rg *t, const char *machine, unsigned int mib)
{
	uint32_t epoch;
	int r;

	assert_int_equal(qh_boot(&t->g, t->dir, machine, mib), 0);
	assert_int_equal(qh_wait_marker(&t->g, 1, BOOT_MS), 0);
	check_file(t);
	assert_int_equal(h_vmsigd(t->dir, NULL, &t->d), 0);
	assert_non_null(t->h = h_holder(t->dir, "realguest"));
	assert_int_equal(start_helper(t, machine), 0);
	epoch = check_holder(t, 0);
	assert_true(h_confined(t->m.pid));
	assert_int_equal(qh_qmp(&t->g, "{\"execute\":\"system_reset\"}",
	    NULL, 0), 0);
	if (t->qmp_helper)
		expect_invalidated(t);
	assert_int_equal(qh_wait_marker(&t->g, 2, BOOT_MS), 0);
	if (t->qmp_helper)
		(void)check_holder(t, epoch);
	else
		check_file(t);
	/* QEMU may exit before its reply to quit is read: -EPIPE is fine. */
	r = qh_qmp(&t->g, "{\"execute\":\"quit\"}", NULL, 0);
	assert_true(r == 0 || r == -EPIPE);
	assert_int_equal(qh_wait_exit(&t->g, 10000), 0);
	if (t->qmp_helper)
		expect_invalidated(t);
	else
		print_message("note: vmsig-memctx has no --qmp yet; reset "
		    "and quit were checked on the RAM file only\n");
}

static int
setup(void **state)
{
	struct rg *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->dir = h_tmpdir()) == NULL)
		return -1;
	t->g.qmp = -1;
	t->qmp_helper = helper_has_qmp();
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct rg *t = *state;

	if (t->h != NULL)
		vmsig_holder_close(t->h);
	if (t->m.pid > 0)
		(void)h_stop(&t->m, SIGTERM, 5000);
	if (t->d.pid > 0)
		(void)h_stop(&t->d, SIGTERM, 5000);
	qh_stop(&t->g);
	h_rmdir(t->dir);
	free(t);
	return 0;
}

/*
 * PTI: init is busybox's sh from the kernel command line (not the
 * initramfs's /init): it prints the marker and spins on builtins, never
 * forking, so vCPU 0 runs one process in user mode, on the user copy of
 * its top table (kernel table | 0x1000), nearly all the time.
 */
#define PTI_CMDLINE	"pti=on rdinit=/bin/busybox -- sh -c \"echo " \
	QH_MARKER " pti; while :; do :; done\""
#define PTI_TRIES	200

/* Pause the guest while CR3 names a user copy (bit 12); *ret_cr3. */
static int
pause_in_user_mode(struct rg *t, uint64_t *ret_cr3)
{
	uint64_t cr3 = 0;
	int i, r;

	for (i = 0; i < PTI_TRIES; i++) {
		if ((r = qh_qmp(&t->g, "{\"execute\":\"stop\"}", NULL, 0)) < 0 ||
		    (r = qh_cr3(&t->g, &cr3)) < 0)
			return r;
		if (cr3 & 0x1000) {
			*ret_cr3 = cr3;
			return 0;
		}
		if ((r = qh_qmp(&t->g, "{\"execute\":\"cont\"}", NULL, 0)) < 0)
			return r;
	}
	print_message("CR3 never had bit 12 set in %d samples (last 0x%llx): "
	    "is PTI on in the guest?\n", PTI_TRIES, (unsigned long long)cr3);
	return -ESRCH;
}

static void
pti_user(struct rg *t)
{
	uint64_t hits[2] = { UINT64_MAX, UINT64_MAX }, cr3 = 0, kcr3 = 0;
	char buf[sizeof(BANNER)];
	vmsig_event *ev;
	struct vmsig_mem *mem;
	int r;

	assert_int_equal(qh_boot_cmdline(&t->g, t->dir, "pc", 512,
	    PTI_CMDLINE), 0);
	assert_int_equal(qh_wait_marker(&t->g, 1, BOOT_MS), 0);
	assert_int_equal(pause_in_user_mode(t, &cr3), 0);
	/* The helper asks QEMU while the guest is paused on the user copy. */
	assert_int_equal(h_vmsigd(t->dir, NULL, &t->d), 0);
	assert_non_null(t->h = h_holder(t->dir, "realguest-pti"));
	assert_int_equal(start_helper(t, "pc"), 0);
	assert_non_null(ev = h_expect(t->h, VMSIG_EV_MEMCTX, 20000));
	vmsig_event_free(ev);
	assert_non_null(mem = vmsig_holder_mem(t->h, 1, NULL, &kcr3));
	/* Kernel addresses through the vended kcr3: the banner by the
	 * direct map (no part of the user copy) and by kernel text. */
	assert_true(vmsig_mem_scan_pa(mem, 0, t->g.low,
	    (const uint8_t *)BANNER, NULL, strlen(BANNER), on_hit, hits) >= 1);
	r = vmsig_mem_read_va(mem, kcr3, QH_DMAP_BASE + hits[0], buf,
	    strlen(BANNER), NULL);
	print_message("pti: QEMU reports CR3 0x%llx, the helper vends kcr3 "
	    "0x%llx; the banner at VA 0x%llx through it: %s\n",
	    (unsigned long long)cr3, (unsigned long long)kcr3,
	    (unsigned long long)(QH_DMAP_BASE + hits[0]),
	    r == 0 ? "read" : strerror(-r));
	assert_int_equal(r, 0);
	assert_memory_equal(buf, BANNER, strlen(BANNER));
	check_va(mem, kcr3, hits[0], 0);
	assert_int_not_equal(hits[1], UINT64_MAX);
	check_va(mem, kcr3, hits[1], 1);
	assert_int_equal(kcr3, cr3 & 0x000fffffffffe000ull);
	assert_int_equal(qh_qmp(&t->g, "{\"execute\":\"cont\"}", NULL, 0), 0);
}

static void
t_pc_512m(void **state)
{
	skip_unless_guest();
	realguest(*state, "pc", 512);
}

static void
t_q35_4g(void **state)
{
	skip_unless_guest();
	realguest(*state, "q35", 4096);
}

static void
t_pti_user(void **state)
{
	struct rg *t = *state;

	skip_unless_guest();
	if (!t->qmp_helper) {
		print_message("skip: vmsig-memctx has no --qmp (--kcr3 qmp)\n");
		skip();
	}
	pti_user(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_pc_512m, setup, teardown),
		cmocka_unit_test_setup_teardown(t_q35_4g, setup, teardown),
		cmocka_unit_test_setup_teardown(t_pti_user, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
