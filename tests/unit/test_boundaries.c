/* SPDX-License-Identifier: MIT */
/*
 * The boundary check (scripts/check-boundaries.sh) catches what it is for:
 * each test compiles a small object that crosses one boundary (a holder
 * file calling log_warnx, the core calling the helper's guest code,
 * vmsigctl calling the framing code) with the system compiler, hands the
 * check that object as part of a role, and expects the check to fail and
 * name the symbol; the tree as built passes.  A check that cannot fail
 * would pass these no more than a missing one.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../common/tproc.h"

#define CHECK	VMSIG_SRC_DIR "/scripts/check-boundaries.sh"

static char tdir[256];

static int
setup(void **state)
{
	(void)state;
	(void)snprintf(tdir, sizeof(tdir), "%s/vmsig-bound.XXXXXX",
	    t_tmpdir());
	return mkdtemp(tdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * Run the check with `env` (VAR=value assignments, may be "") and return
 * its exit status; its output goes to tdir/out.
 */
static int
run_check(const char *env)
{
	char cmd[2048];
	int st;

	(void)snprintf(cmd, sizeof(cmd), "env %s sh '%s' '%s' >'%s/out' 2>&1",
	    env, CHECK, VMSIG_BUILD_DIR, tdir);
	st = system(cmd);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Does tdir/out contain `s`? */
static int
out_has(const char *s)
{
	char path[300], buf[8192];
	FILE *f;
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/out", tdir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	if (strstr(buf, s) == NULL)
		print_message("check said: %s\n", buf);
	return strstr(buf, s) != NULL;
}

/* Compile `src` into tdir/planted.o. */
static void
plant(const char *src)
{
	char path[300], cmd[1024];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/planted.c", tdir);
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(src, f) >= 0);
	assert_int_equal(fclose(f), 0);
	(void)snprintf(cmd, sizeof(cmd), "cc -c -o '%s/planted.o' '%s'", tdir,
	    path);
	assert_int_equal(system(cmd), 0);
}

static void
test_tree_passes(void **state)
{
	(void)state;
	assert_int_equal(run_check(""), 0);
	assert_true(out_has("boundaries: ok"));
}

static void
test_holder_logs(void **state)
{
	char env[1024];

	(void)state;
	plant("void log_warnx(const char *, ...);\n"
	    "void vmsig_planted(void) { log_warnx(\"x\"); }\n");
	(void)snprintf(env, sizeof(env), "HOLDER_OBJS='%s/planted.o'", tdir);
	assert_int_equal(run_check(env), 1);
	assert_true(out_has("holder"));
	assert_true(out_has("log_warnx"));
}

static void
test_core_reads_guest(void **state)
{
	char env[1024];

	(void)state;
	/* guest_bootstrap() is the helper's: guest RAM and its parsing. */
	plant("int guest_bootstrap(void *, int *, const char **);\n"
	    "int core_planted(void) { return guest_bootstrap(0, 0, 0); }\n");
	(void)snprintf(env, sizeof(env), "CORE_OBJS='%s/planted.o'", tdir);
	assert_int_equal(run_check(env), 1);
	assert_true(out_has("core calls memctx code"));
	assert_true(out_has("guest_bootstrap"));
}

static void
test_ctl_uses_internals(void **state)
{
	char env[1024];

	(void)state;
	/* fdpass_send() is the framing code inside the library. */
	plant("int fdpass_send(int, const void *, unsigned long, const int *,"
	    " unsigned int);\n"
	    "int ctl_planted(void) { return fdpass_send(0, 0, 0, 0, 0); }\n");
	(void)snprintf(env, sizeof(env), "CTL_OBJS='%s/planted.o'", tdir);
	assert_int_equal(run_check(env), 1);
	assert_true(out_has("vmsigctl calls library internals"));
	assert_true(out_has("fdpass_send"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_passes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_holder_logs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_core_reads_guest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_uses_internals, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
