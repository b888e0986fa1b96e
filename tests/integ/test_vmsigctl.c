/* SPDX-License-Identifier: MIT */
/*
 * The real vmsigctl memory commands (read, translate, pmap, scan) against
 * the real vmsigd and vmsig-memctx on a 256 MiB guestgen image in a
 * directory under /dev/shm, checked against the image's manifest: probe
 * bytes, fault addresses, the kernel's 2 MiB page, the mapped runs, every
 * pattern, raw output files, exit statuses, and descriptor counts that come
 * back to where they started.
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
#include <inttypes.h>
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

#define RUN_MS		20000	/* one vmsigctl run, start to exit */
#define NPROBES		5

struct fx {
	char *dir;
	struct gg_manifest *m;
	struct h_proc d, mc;
	int base_self;
};

static struct fx *g;

/* vmsigctl --socket on the fixture's vmsigd; NULL-terminated arguments. */
#define run(r, ...)	ctl_run((r), g->dir, RUN_MS, __VA_ARGS__)

/* Wait for the helper's context through a holder: an event, not a sleep. */
static int
wait_context(const char *dir)
{
	struct vmsig_holder *h = h_holder(dir, "wait");
	vmsig_event *ev;

	if (h == NULL)
		return -1;
	ev = h_expect(h, VMSIG_EV_MEMCTX, 15000);
	vmsig_event_free(ev);
	vmsig_holder_close(h);
	return ev != NULL ? 0 : -1;
}

static int
start_memctx(struct fx *fx)
{
	if (h_memctx(fx->dir, 1, fx->m->image, 0, NULL, &fx->mc) < 0)
		return -1;
	return wait_context(fx->dir);
}

/* Stop what was started, remove the directory; -1 on a leak or a bad
 * exit of vmsigd. */
static int
cleanup(struct fx *fx)
{
	int r;

	gg_manifest_free(fx->m);
	r = h_teardown(&fx->mc, &fx->d, fx->dir, fx->base_self);
	free(fx);
	return r;
}

static int
group_setup(void **state)
{
	static const char *const gg[] = { "--size", "256M", "--seed", "7",
	    NULL };
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	fx->base_self = h_fd_count(0);
	/* tmpfs, like the RAM files of real guests. */
	if (asprintf(&fx->dir, "/dev/shm/vmsigctl-test.XXXXXX") < 0 ||
	    mkdtemp(fx->dir) == NULL)
		return -1;
	if (gg_make(fx->dir, "guest", gg, &fx->m) < 0 ||
	    h_vmsigd(fx->dir, NULL, &fx->d) < 0 || start_memctx(fx) < 0) {
		fprintf(stderr, "setup: guestgen, vmsigd or vmsig-memctx "
		    "failed in %s\n", fx->dir);
		(void)cleanup(fx);
		return -1;
	}
	g = fx;
	*state = fx;
	return 0;
}

static int
group_teardown(void **state)
{
	return cleanup(*state);
}

/* The first byte probes read back through `read --json`, bytes for bytes;
 * probes under kcr3 rely on the default cr3. */
static void
t_read_probes(void **state)
{
	struct fx *fx = *state;
	size_t i, seen = 0;

	for (i = 0; i < fx->m->nprobes && seen < NPROBES; i++) {
		const struct gg_probe *pr = &fx->m->probes[i];
		struct json_object *o;
		struct ctl_run r;
		char *want;

		if (pr->fault)
			continue;
		run(&r, "read", "1", "va", ctl_fmt("%" PRIx64, pr->va),
		    ctl_fmt("0x%" PRIx64, pr->len), "--json",
		    pr->cr3 == fx->m->kcr3 ? NULL : "--cr3",
		    ctl_fmt("0x%" PRIx64, pr->cr3), NULL);
		assert_int_equal(r.status, 0);
		assert_non_null(o = json_tokener_parse(r.out));
		want = ctl_hex(pr->bytes, pr->len);
		assert_string_equal(jstr(o, "bytes"), want);
		assert_null(jstr(o, "fault"));
		assert_string_equal(jstr(o, "space"), "va");
		assert_int_equal(jnum(o, "addr"), pr->va);
		assert_int_equal(jnum(o, "cr3"), pr->cr3);
		free(want);
		json_object_put(o);
		seen++;
	}
	assert_int_equal(seen, NPROBES);
}

/* Fault probes inside one page fail at their first byte: exit 1, the
 * message and the JSON name that address. */
static void
t_read_fault(void **state)
{
	struct fx *fx = *state;
	size_t i, seen = 0;

	for (i = 0; i < fx->m->nprobes && seen < 6; i++) {
		const struct gg_probe *pr = &fx->m->probes[i];
		struct json_object *o;
		char want[128];
		struct ctl_run r;

		if (!pr->fault || (pr->va & 0xfff) > 0x1000 - 8)
			continue;
		run(&r, "read", "1", "va", ctl_fmt("0x%" PRIx64, pr->va), "8",
		    "--cr3", ctl_fmt("0x%" PRIx64, pr->cr3), "--json", NULL);
		assert_int_equal(r.status, 1);
		snprintf(want, sizeof(want), "fault at va 0x%" PRIx64 ": ",
		    pr->va);
		if (strstr(r.err, want) == NULL)
			fail_msg("no \"%s\" in: %s", want, r.err);
		assert_non_null(strstr(r.err, "(0x0 of 0x8 bytes read)"));
		assert_non_null(o = json_tokener_parse(r.out));
		assert_int_equal(jnum(o, "fault"), pr->va);
		assert_string_equal(jstr(o, "bytes"), "");
		json_object_put(o);
		seen++;
	}
	assert_true(seen >= 3);
}

static const struct gg_map *
map_of(const struct gg_manifest *m, uint64_t va)
{
	size_t i;

	for (i = 0; i < m->nmaps; i++)
		if (va >= m->maps[i].va && va - m->maps[i].va < m->maps[i].size)
			return &m->maps[i];
	return NULL;
}

static void
t_translate(void **state)
{
	struct fx *fx = *state;
	const struct gg_map *mp = map_of(fx->m, fx->m->kernel_base);
	struct json_object *o;
	struct ctl_run r;

	assert_non_null(mp);
	run(&r, "translate", "1", ctl_fmt("%" PRIx64, fx->m->kernel_base),
	    "--json", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(o = json_tokener_parse(r.out));
	assert_int_equal(jnum(o, "page_size"), 0x200000);
	assert_int_equal(jnum(o, "gpa"), mp->gpa + fx->m->kernel_base -
	    mp->va);
	assert_int_equal(jnum(o, "cr3"), fx->m->kcr3);
	json_object_put(o);
	run(&r, "translate", "1", ctl_fmt("0x%" PRIx64, fx->m->kernel_base),
	    NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, " page 2M "));
	/* The System address space has an empty user half. */
	run(&r, "translate", "1", "0x10000", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "va 0x10000 is not mapped"));
}

/* Every run of the manifest lies inside one run pmap printed, with the same
 * page size, rights and physical offset. */
static void
t_pmap(void **state)
{
	struct fx *fx = *state;
	struct json_object **runs = NULL;
	size_t i, j, n = 0;
	struct ctl_run r;
	char *line, *save = NULL;

	run(&r, "pmap", "1", "--json", NULL);
	assert_int_equal(r.status, 0);
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		runs = realloc(runs, (n + 1) * sizeof(*runs));
		assert_non_null(runs);
		assert_non_null(runs[n++] = json_tokener_parse(line));
	}
	assert_true(fx->m->nmaps > 0);
	for (i = 0; i < fx->m->nmaps; i++) {
		const struct gg_map *mp = &fx->m->maps[i];

		for (j = 0; j < n; j++) {
			uint64_t s = jnum(runs[j], "start");

			if (mp->va >= s && mp->va + mp->size <=
			    jnum(runs[j], "end"))
				break;
		}
		if (j == n)
			fail_msg("map 0x%" PRIx64 "+0x%" PRIx64 " not covered",
			    mp->va, mp->size);
		assert_int_equal(jnum(runs[j], "page_size"), mp->page_size);
		assert_int_equal(jnum(runs[j], "gpa") + mp->va -
		    jnum(runs[j], "start"), mp->gpa);
		assert_int_equal(json_object_get_int(json_object_object_get(
		    runs[j], "flags")), mp->flags);
	}
	for (j = 0; j < n; j++)
		json_object_put(runs[j]);
	free(runs);
}

static int
has_line(const char *out, uint64_t addr)
{
	char want[64];
	const char *p;
	size_t k;

	k = (size_t)snprintf(want, sizeof(want), "0x%" PRIx64 "\n", addr);
	for (p = out; (p = strstr(p, want)) != NULL; p += k)
		if (p == out || p[-1] == '\n')
			return 1;
	return 0;
}

/* Every pattern, in its address space or physically; once more with a
 * wildcard and blanks. */
static void
t_scan(void **state)
{
	struct fx *fx = *state;
	size_t i;

	for (i = 0; i < fx->m->npatterns; i++) {
		const struct gg_pattern *pt = &fx->m->patterns[i];
		char *pat = ctl_hex(pt->bytes, pt->len), spaced[128];
		struct ctl_run r;

		if (pt->cr3 == 0)
			run(&r, "scan", "1", pat, "--physical", NULL);
		else
			run(&r, "scan", "1", "--cr3",
			    ctl_fmt("%" PRIx64, pt->cr3), pat, NULL);
		assert_int_equal(r.status, 0);
		if (!has_line(r.out, pt->addr))
			fail_msg("pattern %zu: no 0x%" PRIx64 " in: %s", i,
			    pt->addr, r.out);
		assert_non_null(strstr(r.err, " hit"));
		snprintf(spaced, sizeof(spaced), "%.4s ?? %s", pat, pat + 6);
		run(&r, "scan", "1", spaced, pt->cr3 == 0 ? "--physical" :
		    "--cr3", pt->cr3 == 0 ? NULL :
		    ctl_fmt("0x%" PRIx64, pt->cr3), NULL);
		assert_int_equal(r.status, 0);
		assert_true(has_line(r.out, pt->addr));
		free(pat);
	}
}

static void
t_scan_limits(void **state)
{
	struct ctl_run r;
	size_t k, lines = 0;

	(void)state;
	/* The kernel's MZ is one hit at least; --max stops at the first. */
	run(&r, "scan", "1", "4d5a", "--max", "1", "--json", NULL);
	assert_int_equal(r.status, 0);
	for (k = 0; k < r.len; k++)
		lines += r.out[k] == '\n';
	assert_int_equal(lines, 1);
	assert_non_null(strstr(r.out, "\"addr\":\"0x"));
	assert_non_null(strstr(r.err, "1 hit\n"));
	/* No hit: exit 1, like grep. */
	run(&r, "scan", "1", "f00dfacecafebeef0123456789abcdef5aa5c33c",
	    "--physical", NULL);
	assert_int_equal(r.status, 1);
	assert_int_equal(r.len, 0);
	assert_non_null(strstr(r.err, "0 hits"));
}

static void
check_file(const char *path, const void *want, size_t n)
{
	char buf[4096];
	int fd;

	/* A regular file reads whole: the count is its size. */
	assert_true((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), n);
	close(fd);
	assert_memory_equal(buf, want, n);
	assert_int_equal(unlink(path), 0);
}

/* -o writes the exact bytes; on a fault, exactly those before it. */
static void
t_read_out(void **state)
{
	struct fx *fx = *state;
	const struct gg_probe *pr = NULL;
	char path[4096], want[16];
	uint64_t end = fx->m->low;	/* one region: GPA = file offset */
	struct ctl_run r;
	size_t i;
	int fd;

	for (i = 0; i < fx->m->nprobes && pr == NULL; i++)
		if (!fx->m->probes[i].fault && fx->m->probes[i].len >= 16)
			pr = &fx->m->probes[i];
	assert_non_null(pr);
	snprintf(path, sizeof(path), "%s/out.bin", fx->dir);
	run(&r, "read", "1", "va", ctl_fmt("0x%" PRIx64, pr->va),
	    ctl_fmt("%" PRIu64, pr->len), "--cr3", ctl_fmt("%" PRIx64, pr->cr3),
	    "-o", path, NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, 0);
	check_file(path, pr->bytes, pr->len);
	assert_int_equal(fx->m->low, fx->m->file_size);
	assert_true((fd = open(fx->m->image, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(pread(fd, want, 16, (off_t)(end - 16)), 16);
	close(fd);
	run(&r, "read", "1", "pa", ctl_fmt("%" PRIx64, end - 16), "0x40", "-o",
	    path, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, ctl_fmt("fault at pa 0x%" PRIx64, end)));
	assert_non_null(strstr(r.err, "(0x10 of 0x40 bytes read)"));
	check_file(path, want, 16);
}

/* Bad command lines exit 2 before connecting; a missing endpoint exits 1
 * once --timeout runs out. */
static void
t_usage(void **state)
{
	static const char *const bad[][8] = {
		{ "read", "1", "xa", "0", "8" },
		{ "read", "1", "va", "0", "0" },
		{ "read", "1", "va", "0", "0x4000001" },
		{ "read", "1", "va", "zz", "8" },
		{ "read", "0", "pa", "0", "8" },
		{ "read", "1", "pa", "0", "8", "--cr3", "1000" },
		{ "read", "1", "pa", "0", "8", "-o", "/dev/null", "--json" },
		{ "translate", "1" },
		{ "pmap", "1", "--physical" },
		{ "scan", "1", "4d5" },
		{ "scan", "1", "4d ?" },
		{ "scan", "1", "00", "--physical", "--cr3", "1000" },
		{ "scan", "1", "00", "--max", "0" },
		{ "pmap", "1", "--timeout", "0" },
	};
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run(&r, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
		    bad[i][5], bad[i][6], bad[i][7], NULL);
		if (r.status != 2)
			fail_msg("case %zu (%s): exit %d", i, bad[i][0],
			    r.status);
		assert_non_null(strstr(r.err, "usage: vmsigctl"));
	}
	run(&r, "read", "9", "pa", "0", "8", "--timeout", "0.3", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "endpoint 9 is not known to vmsigd"));
}

/* Each rejected argument is named, with the reason, above the usage. */
static void
t_usage_reason(void **state)
{
	static const char *const bad[][9] = {
		/* what stderr must say after "vmsigctl: CMD: ", then argv */
		{ "ADDR 'zzzz': not a hexadecimal address",
		    "read", "1", "va", "zzzz", "16" },
		{ "'xa': the address space is pa (guest-physical) or va",
		    "read", "1", "xa", "0", "8" },
		{ "LEN '0': not a length from 1 to 0x4000000 bytes",
		    "read", "1", "va", "0", "0" },
		{ "LEN '0x4000001': not a length", "read", "1", "va", "0",
		    "0x4000001" },
		{ "ENDPOINT '0': not an endpoint number", "read", "0", "pa",
		    "0", "8" },
		{ "--cr3 and --pid name an address space: they go with va",
		    "read", "1", "pa", "0", "8", "--cr3", "1000" },
		{ "-o and --json both want the output", "read", "1", "pa",
		    "0", "8", "-o", "/dev/null", "--json" },
		{ "missing operands: expects ENDPOINT pa|va ADDR LEN", "read",
		    "1" },
		{ "too many operands: expects ENDPOINT ADDR", "translate", "1",
		    "0", "0" },
		{ "ADDR 'g': not a hexadecimal address", "translate", "1",
		    "g" },
		{ "--cr3 'x': not a hexadecimal address", "translate", "1",
		    "0", "--cr3", "x" },
		{ "--physical is not an option of this command", "pmap", "1",
		    "--physical" },
		{ "--timeout '0': not a number of seconds", "pmap", "1",
		    "--timeout", "0" },
		{ "unknown option '--bogus'", "pmap", "1", "--bogus" },
		{ "option '--cr3' needs a value", "pmap", "1", "--cr3" },
		{ "option '--json' takes no value", "pmap", "1", "--json=1" },
		{ "unknown option '-x'", "pmap", "1", "-x" },
		{ "HEXPATTERN '4d5': byte 2 is not two hex digits or ??",
		    "scan", "1", "4d5" },
		{ "--max '0': not a count of at least 1", "scan", "1", "00",
		    "--max", "0" },
		{ "--physical scans guest-physical memory: it takes no --cr3",
		    "scan", "1", "00", "--physical", "--cr3", "1000" },
		{ "HEXBYTES 'abc': an odd number of hex digits", "write", "1",
		    "pa", "0", "abc" },
		{ "HEXBYTES '00zz': byte 2 is not two hex digits", "write",
		    "1", "pa", "0", "00zz" },
		{ "--ttl '0': not a time from 1 to 60000 ms", "lease", "1",
		    "--ttl", "0" },
		{ "--hold 'x': not a number of seconds", "lease", "1",
		    "--hold", "x" },
		/* Not all digits is a name (test_names.c); this one cannot be. */
		{ "ENDPOINT 'one/two': neither an endpoint number nor a name",
		    "lease", "one/two" },
		{ "'extra': watch takes no operands", "watch", "extra" },
		{ "--count 'x': not a number of events", "watch", "--count",
		    "x" },
		{ "ENDPOINT '0x100000000': not an endpoint number", "watch",
		    "--endpoint", "0x100000000" },
		{ "'x': status takes no operands", "status", "x" },
		{ "PID 'x': not a process id", "modules", "1", "x" },
		{ "MODULE is empty", "exports", "1", "4", "" },
	};
	char want[160];
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run(&r, bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5],
		    bad[i][6], bad[i][7], bad[i][8], NULL);
		snprintf(want, sizeof(want), "vmsigctl: %s: %s", bad[i][1],
		    bad[i][0]);
		if (r.status != 2 || strncmp(r.err, want, strlen(want)) != 0)
			fail_msg("case %zu: exit %d, want \"%s\" first in: %s",
			    i, r.status, want, r.err);
		snprintf(want, sizeof(want), "\nusage: vmsigctl [--socket "
		    "PATH] %s ", bad[i][1]);
		assert_non_null(strstr(r.err, want));
	}
}

/* An endpoint vmsigd does not know is reported at once, not after a
 * timeout (watch has none by default). */
static void
t_unknown_endpoint(void **state)
{
	static const char *const cmds[][6] = {
		{ "read", "7", "pa", "0", "8" },
		{ "read", "7", "va", "0", "8", "--timeout=30" },
		{ "watch", "--endpoint", "1", "--endpoint", "7" },
		{ "lease", "7" },
		{ "ps", "7" },
		{ "write", "7", "pa", "0", "00" },
		{ "pmap", "7" },
	};
	struct ctl_run r;
	size_t i;
	long t0, ms;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		t0 = h_now_ms();
		run(&r, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3],
		    cmds[i][4], cmds[i][5], NULL);
		ms = h_now_ms() - t0;
		if (r.status != 1 || ms >= 1000 || strcmp(r.err, "vmsigctl: "
		    "endpoint 7 is not known to vmsigd (see vmsigctl "
		    "status)\n") != 0)
			fail_msg("%s: exit %d after %ld ms: %s", cmds[i][0],
			    r.status, ms, r.err);
	}
}

/* `vmsigctl CMD --help`: that command's usage on stdout, exit 0. */
static void
t_help(void **state)
{
	static const char *const cmds[] = { "status", "watch", "read",
	    "translate", "pmap", "scan", "write", "lease", "ps", "modules",
	    "exports", "sections", "imports", "winfo" };
	char want[64];
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(want, sizeof(want), "usage: vmsigctl [--socket PATH] "
		    "%s ", cmds[i]);
		run(&r, cmds[i], "--help", NULL);
		if (r.status != 0 || strncmp(r.out, want, strlen(want)) != 0 ||
		    r.err[0] != '\0')
			fail_msg("%s --help: exit %d, out %s, err %s", cmds[i],
			    r.status, r.out, r.err);
	}
	/* Among other arguments too, even ones that would be rejected. */
	run(&r, "read", "1", "zz", "-h", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: vmsigctl [--socket PATH] read "));
}

/*
 * A refusal from vmsigd is worded once: its message (which names the
 * operation) after the command's, no strerror text, one line.  This
 * daemon's policy admits no writer.
 */
static void
t_refusal(void **state)
{
	static const char *const cmds[][6] = {
		{ "lease", "1" },
		{ "write", "1", "pa", "0", "00" },
	};
	const char *want = "vmsigctl: lease: policy: rule 'writers' does not "
	    "admit peer ";
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run(&r, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3],
		    cmds[i][4], cmds[i][5], NULL);
		if (r.status != 1 || strncmp(r.err, want, strlen(want)) != 0 ||
		    strstr(r.err, "not permitted") != NULL ||
		    strchr(r.err, '\n') != r.err + strlen(r.err) - 1)
			fail_msg("%s: exit %d, want one line \"%s...\", got: %s",
			    cmds[i][0], r.status, want, r.err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_read_probes),
		cmocka_unit_test(t_read_fault),
		cmocka_unit_test(t_translate),
		cmocka_unit_test(t_pmap),
		cmocka_unit_test(t_scan),
		cmocka_unit_test(t_scan_limits),
		cmocka_unit_test(t_read_out),
		cmocka_unit_test(t_usage),
		cmocka_unit_test(t_usage_reason),
		cmocka_unit_test(t_unknown_endpoint),
		cmocka_unit_test(t_help),
		cmocka_unit_test(t_refusal),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
