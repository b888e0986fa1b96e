/* SPDX-License-Identifier: MIT */
/*
 * Named endpoints, with the real vmsigd, two real vmsig-memctx on guestgen
 * Windows images (--name web1 on endpoint 1, --name db-2 on endpoint 2) and
 * the real vmsigctl: Status and `vmsigctl status` show both names; the
 * library's vmsig_holder_endpoint_find resolves them; vmsigctl accepts a
 * name wherever it takes an endpoint number (`ps web1` prints what `ps 1`
 * prints, `read web1 pa 0 8` what `read 1 pa 0 8` does); a third helper
 * claiming web1 under another number is refused (exit 7, a message naming
 * the name and the peer holding it); an unknown name is reported at once;
 * a name vmsig-memctx cannot take is refused before it connects; and the
 * name survives a restart of its helper.
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
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vmsig/holder.h>

#include "ctlrun.h"
#include "harness.h"
#include "../common/manifest.h"

#define RUN_MS		30000	/* one vmsigctl run, start to exit */

static const char *const gg_a[] = { "--size", "256M", "--seed", "12",
    "--windows", "19045", NULL };
static const char *const gg_b[] = { "--size", "256M", "--seed", "13",
    "--windows", "22631", NULL };

struct fx {
	char *dir;
	struct h_proc d;
	struct h_proc mc[2];
	int base_self;
};

static struct fx *g;
static const char *const names[2] = { "web1", "db-2" };

#define run(r, ...)	ctl_run((r), g->dir, RUN_MS, __VA_ARGS__)

static char *
img(const char *dir, uint32_t ep)
{
	static char buf[2][4096];

	snprintf(buf[ep - 1], sizeof(buf[0]), "%s/g%u.img", dir, ep);
	return buf[ep - 1];
}

/* Wait (at most 15 s) for a MEMCTX of endpoint ep of epoch >= epoch. */
static int
wait_memctx(struct vmsig_holder *h, uint32_t ep, uint32_t epoch)
{
	long end = h_now_ms() + 15000;
	vmsig_event *ev;
	int r, ok = 0;

	while (!ok && h_now_ms() < end) {
		r = vmsig_holder_next(h, (int)(end - h_now_ms()), &ev);
		if (r <= 0)
			return -1;
		ok = ev->type == VMSIG_EV_MEMCTX && ev->endpoint == ep &&
		    ev->epoch >= epoch;
		vmsig_event_free(ev);
	}
	return ok ? 0 : -1;
}

/* Start endpoint ep's helper with its name and wait for its context. */
static int
start_named(struct fx *fx, uint32_t ep, uint32_t epoch)
{
	const char *extra[] = { "--name", names[ep - 1], NULL };
	struct vmsig_holder *h = NULL;
	int r;

	if (vmsig_holder_open(h_hsock(fx->dir), "test", 5000, &h) < 0)
		return -1;
	if (vmsig_holder_subscribe(h, &ep, 1, VMSIG_EV_BIT(VMSIG_EV_MEMCTX),
	    5000) < 0) {
		vmsig_holder_close(h);
		return -1;
	}
	r = h_memctx(fx->dir, ep, img(fx->dir, ep), 100, extra,
	    &fx->mc[ep - 1]);
	if (r == 0)
		r = wait_memctx(h, ep, epoch);
	vmsig_holder_close(h);
	return r;
}

static int
cleanup(struct fx *fx)
{
	int i, r;

	for (i = 0; i < 2; i++)
		if (fx->mc[i].pid > 0)
			(void)h_stop(&fx->mc[i], SIGTERM, 5000);
	r = h_teardown(NULL, &fx->d, fx->dir, fx->base_self);
	free(fx);
	return r;
}

static int
group_setup(void **state)
{
	struct gg_manifest *m;
	struct fx *fx = calloc(1, sizeof(*fx));
	char nm[8];
	uint32_t ep;

	if (fx == NULL)
		return -1;
	fx->base_self = h_fd_count(0);
	if (asprintf(&fx->dir, "/dev/shm/vmsig-names.XXXXXX") < 0 ||
	    mkdtemp(fx->dir) == NULL)
		goto fail;
	if (h_vmsigd(fx->dir, NULL, &fx->d) < 0)
		goto fail;
	for (ep = 1; ep <= 2; ep++) {
		snprintf(nm, sizeof(nm), "g%u", ep);
		if (gg_make(fx->dir, nm, ep == 1 ? gg_a : gg_b, &m) < 0)
			goto fail;
		gg_manifest_free(m);
		if (start_named(fx, ep, 1) < 0)
			goto fail;
	}
	g = fx;
	*state = fx;
	return 0;
fail:
	fprintf(stderr, "setup failed in %s\n", fx->dir);
	(void)cleanup(fx);
	return -1;
}

static int
group_teardown(void **state)
{
	return *state != NULL ? cleanup(*state) : 0;
}

static uint32_t
find(const char *name, int want)
{
	struct vmsig_holder *h = NULL;
	uint32_t ep = 0;
	int r;

	assert_int_equal(vmsig_holder_open(h_hsock(g->dir), "test", 5000, &h),
	    0);
	r = vmsig_holder_endpoint_find(h, name, 5000, &ep);
	vmsig_holder_close(h);
	if (r != want)
		fail_msg("endpoint_find(%s): %d, want %d", name, r, want);
	return ep;
}

/* ---- tests ---------------------------------------------------------------- */

static void
t_status(void **state)
{
	struct ctl_run r;
	struct json_object *o, *eps;
	size_t i;
	int seen = 0;

	(void)state;
	run(&r, "status", "--json", NULL);
	assert_int_equal(r.status, 0);
	o = json_tokener_parse(r.out);
	assert_non_null(o);
	eps = jget(o, "endpoints");
	for (i = 0; i < jlen(eps); i++) {
		uint64_t ep = jnum(jat(eps, i), "endpoint");

		assert_true(ep == 1 || ep == 2);
		ctl_same_str("name", jstr(jat(eps, i), "name"),
		    names[ep - 1]);
		seen |= 1 << ep;
	}
	json_object_put(o);
	assert_int_equal(seen, 6);
	run(&r, "status", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "endpoint 1 (web1): epoch 1"));
	assert_non_null(strstr(r.out, "endpoint 2 (db-2): epoch 1"));
}

static void
t_find(void **state)
{
	struct vmsig_holder *h = NULL;
	uint32_t ep = 77;

	(void)state;
	assert_int_equal(find("web1", 0), 1);
	assert_int_equal(find("db-2", 0), 2);
	(void)find("web", -ENOENT);
	(void)find("WEB1", -ENOENT);
	assert_int_equal(vmsig_holder_open(h_hsock(g->dir), "test", 5000, &h),
	    0);
	assert_int_equal(vmsig_holder_endpoint_find(h, "", 1000, &ep),
	    -EINVAL);
	assert_int_equal(vmsig_holder_endpoint_find(h, NULL, 1000, &ep),
	    -EINVAL);
	assert_int_equal(vmsig_holder_endpoint_find(h, "web1", 1000, NULL),
	    -EINVAL);
	assert_int_equal(ep, 77);	/* untouched on failure */
	vmsig_holder_close(h);
}

static void
t_ctl_by_name(void **state)
{
	struct ctl_run r;
	char *by_num;
	const char *const cmds[][5] = {
		{ "ps", "--json", NULL },
		{ "read", "pa", "0", "8", NULL },
		{ "read", "pa", "0x1000", "64", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run(&r, cmds[i][0], "1", cmds[i][1], cmds[i][2], cmds[i][3],
		    NULL);
		assert_int_equal(r.status, 0);
		by_num = strdup(r.out);
		assert_non_null(by_num);
		run(&r, cmds[i][0], "web1", cmds[i][1], cmds[i][2],
		    cmds[i][3], NULL);
		if (r.status != 0)
			fail_msg("%s web1: exit %d: %s", cmds[i][0], r.status,
			    r.err);
		ctl_same_str(cmds[i][0], r.out, by_num);
		free(by_num);
	}
	run(&r, "ps", "db-2", "--json", NULL);
	assert_int_equal(r.status, 0);
	run(&r, "watch", "--endpoint", "db-2", "--count", "1", NULL);
	if (r.status != 0)
		fail_msg("watch --endpoint db-2: exit %d: %s", r.status, r.err);
}

static void
t_unknown(void **state)
{
	struct ctl_run r;
	long t0 = h_now_ms();

	(void)state;
	run(&r, "read", "nosuch", "pa", "0", "8", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "endpoint 'nosuch' is not known to "
	    "vmsigd (see vmsigctl status)"));
	assert_null(strstr(r.err, "usage:"));
	assert_true(h_now_ms() - t0 < 2000);	/* at once, not after 5 s */
	run(&r, "watch", "--endpoint", "nosuch", NULL);
	assert_int_equal(r.status, 1);
	run(&r, "read", "bad name", "pa", "0", "8", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "neither an endpoint number nor a "
	    "name"));
}

/* Run vmsig-memctx with args, stderr to DIR/NAME.err; its exit status. */
static int
memctx_err(const char *errname, uint32_t ep, const char *name, char *err,
    size_t cap)
{
	char cmd[8192], path[4096];
	char *const argv[] = { "/bin/sh", "-c", cmd, NULL };
	struct h_proc p;
	ssize_t n;
	int fd, st;

	snprintf(path, sizeof(path), "%s/%s.err", g->dir, errname);
	if (snprintf(cmd, sizeof(cmd), "exec '%.1024s' --endpoint %u --ram "
	    "'%.1024s' --connect '%.1024s' --name '%.64s' 2>'%.1024s'",
	    h_bin("sbin/vmsig-memctx"), ep, img(g->dir, 1), h_asock(g->dir),
	    name, path) >= (int)sizeof(cmd))
		return -1;
	if (h_spawn(argv, 0, 0, &p) < 0)
		return -1;
	st = h_wait_exit(&p, 10000);
	if (st == -ETIMEDOUT)
		st = h_stop(&p, SIGKILL, 5000), st = -1;
	err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, err, cap - 1);
		err[n > 0 ? n : 0] = '\0';
		(void)close(fd);
	}
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
t_duplicate(void **state)
{
	char err[4096], want[128];
	int st;

	(void)state;
	st = memctx_err("dup", 3, "web1", err, sizeof(err));
	if (st != 7)
		fail_msg("a second web1: exit %d, want 7; stderr: %s", st, err);
	snprintf(want, sizeof(want), "name 'web1' is endpoint 1's (helper "
	    "peer ");
	if (strstr(err, want) == NULL)
		fail_msg("a second web1: stderr lacks \"%s\": %s", want, err);
	/* Unharmed: web1 is still endpoint 1, and 3 took no name. */
	assert_int_equal(find("web1", 0), 1);
	st = memctx_err("badname", 3, "web 1", err, sizeof(err));
	if (st != 2 || strstr(err, "--name 'web 1'") == NULL)
		fail_msg("--name 'web 1': exit %d: %s", st, err);
}

static void
t_restart(void **state)
{
	struct ctl_run r;

	(void)state;
	assert_true(h_stop(&g->mc[0], SIGTERM, 5000) >= 0);
	g->mc[0].pid = 0;
	/* Within the ENDPOINT_GONE window the name stays endpoint 1's... */
	assert_int_equal(find("web1", 0), 1);
	/* ...so another number cannot take it... */
	{
		char err[4096];
		int st = memctx_err("dup2", 3, "web1", err, sizeof(err));

		if (st != 7 || strstr(err, "whose helper left") == NULL)
			fail_msg("web1 while its helper is away: exit %d: %s",
			    st, err);
	}
	/* ...and the helper coming back has it again. */
	assert_int_equal(start_named(g, 1, 2), 0);
	assert_int_equal(find("web1", 0), 1);
	run(&r, "read", "web1", "pa", "0", "8", NULL);
	assert_int_equal(r.status, 0);
	run(&r, "status", NULL);
	assert_non_null(strstr(r.out, "endpoint 1 (web1): epoch 2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_status),
		cmocka_unit_test(t_find),
		cmocka_unit_test(t_ctl_by_name),
		cmocka_unit_test(t_unknown),
		cmocka_unit_test(t_duplicate),
		cmocka_unit_test(t_restart),
	};

	return cmocka_run_group_tests_name("names", tests, group_setup,
	    group_teardown);
}
