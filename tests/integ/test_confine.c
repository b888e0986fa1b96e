/* SPDX-License-Identifier: MIT */
/*
 * Both daemons started for real, as the other tests start them: after
 * start-up they hold no capability, have no_new_privs and a seccomp
 * filter; vmsigd started as root with --user nobody is nobody in every
 * uid and gid; and --sandbox-selftest shows a forbidden call ending the
 * process with SIGSYS (or, for the helper's read-only openat outside its
 * directory, refused by Landlock).
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsig/holder.h>

#include "harness.h"
#include "../common/manifest.h"

static void
t_vmsigd_status(void **s)
{
	char *dir = h_tmpdir();
	struct h_proc d;

	(void)s;
	assert_int_equal(h_vmsigd(dir, NULL, &d), 0);
	assert_true(h_confined(d.pid));
	assert_int_equal(h_stop(&d, SIGTERM, 5000), 0);
	h_rmdir(dir);
}

static void
t_vmsigd_user_nobody(void **s)
{
	static const char *const extra[] = { "--user", "nobody", NULL };
	char *dir = h_tmpdir();
	char v[128];
	struct h_proc d;

	(void)s;
	if (geteuid() != 0) {
		h_rmdir(dir);
		skip();
	}
	assert_int_equal(h_vmsigd(dir, extra, &d), 0);
	assert_int_equal(h_status_field(d.pid, "Uid:", v, sizeof(v)), 0);
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	assert_int_equal(h_status_field(d.pid, "Gid:", v, sizeof(v)), 0);
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	assert_int_equal(h_status_field(d.pid, "Groups:", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_true(h_confined(d.pid));
	(void)h_stop(&d, SIGTERM, 5000);
	h_rmdir(dir);
}

/* Run a daemon with --sandbox-selftest name; its wait status. */
static int
selftest(const char *const argv0[], const char *name)
{
	const char *argv[24];
	struct h_proc p;
	size_t n = 0;

	for (; *argv0 != NULL && n < 20; argv0++)
		argv[n++] = *argv0;
	argv[n++] = "--sandbox-selftest";
	argv[n++] = name;
	argv[n] = NULL;
	assert_int_equal(h_spawn((char *const *)argv, 0, 0, &p), 0);
	return h_wait_exit(&p, 10000);
}

static void
expect_sigsys(int status, const char *what)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("%s: status 0x%x, not SIGSYS", what, status);
}

static void
t_vmsigd_selftests(void **s)
{
	static const char *const names[] = { "execve", "openat", "socket",
	    "mprotect", "ptrace", "mount", "bpf" };
	char *dir = h_tmpdir(), bin[4096], hs[4096], as[4096];
	size_t i;

	(void)s;
	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsigd"));
	snprintf(hs, sizeof(hs), "%s", h_hsock(dir));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *argv[] = { bin, "-f", "--holder-socket", hs,
		    "--adapter-socket", as, NULL };

		expect_sigsys(selftest(argv, names[i]), names[i]);
		(void)unlink(hs);
		(void)unlink(as);
	}
	h_rmdir(dir);
}

static int
landlock_here(void)
{
	/* landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) */
	return syscall(444, NULL, 0, 1) > 0;
}

static void
t_memctx_selftests(void **s)
{
	static const char *const gextra[] = { "--size", "64M", NULL };
	static const char *const names[] = { "execve", "socket", "mprotect",
	    "openat-write", "ptrace", "process_vm_readv" };
	char *dir = h_tmpdir(), bin[4096], as[4096];
	struct gg_manifest *m = NULL;
	int status;
	size_t i;

	(void)s;
	assert_int_equal(gg_make(dir, "g", gextra, &m), 0);
	snprintf(bin, sizeof(bin), "%s", h_bin("sbin/vmsig-memctx"));
	snprintf(as, sizeof(as), "%s", h_asock(dir));
	{
		const char *argv[] = { bin, "--endpoint", "1", "--ram",
		    m->image, "--connect", as, NULL };

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			expect_sigsys(selftest(argv, names[i]), names[i]);
		/* Read-only openat is allowed by seccomp: Landlock refuses a
		 * file outside the RAM file's directory. */
		status = selftest(argv, "openat");
		if (landlock_here()) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 3);
		}
	}
	gg_manifest_free(m);
	h_rmdir(dir);
}

static void
t_memctx_status(void **s)
{
	static const char *const gextra[] = { "--size", "64M", NULL };
	char *dir = h_tmpdir();
	struct gg_manifest *m = NULL;
	struct h_proc d, p;

	(void)s;
	assert_int_equal(gg_make(dir, "g", gextra, &m), 0);
	assert_int_equal(h_vmsigd(dir, NULL, &d), 0);
	{
		struct vmsig_holder *h = h_holder(dir, "t");
		vmsig_event *ev;

		assert_int_equal(h_memctx(dir, 1, m->image, 0, NULL, &p), 0);
		/* Once the context arrives the helper is in its loop. */
		ev = h_expect(h, 1, 10000);
		assert_non_null(ev);
		vmsig_event_free(ev);
		assert_true(h_confined(p.pid));
		vmsig_holder_close(h);
	}
	assert_int_equal(h_stop(&p, SIGTERM, 5000), 0);
	assert_int_equal(h_stop(&d, SIGTERM, 5000), 0);
	gg_manifest_free(m);
	h_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_vmsigd_status),
		cmocka_unit_test(t_vmsigd_user_nobody),
		cmocka_unit_test(t_vmsigd_selftests),
		cmocka_unit_test(t_memctx_status),
		cmocka_unit_test(t_memctx_selftests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
