/* SPDX-License-Identifier: MIT */
/*
 * The real vmsigctl Windows commands (ps, modules, exports, sections,
 * imports, winfo, --pid) against the real vmsigd and one vmsig-memctx per
 * guestgen Windows image, each image its own endpoint: every modelled build,
 * a build guestgen shifts away from any real layout, a split (RAM above
 * 4 GiB) layout and a guest with a corrupt process ring.  The --json output
 * is parsed (json-c) and compared with the "win" object of each image's
 * manifest; then endpoint 1's guest reboots and the new epoch's process
 * list must differ and match the new manifest.
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
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <vmsig/holder.h>

#include "ctlrun.h"
#include "harness.h"
#include "../common/manifest.h"

#define RUN_MS		30000	/* one vmsigctl run, start to exit */

/* One guest per endpoint (endpoint = index + 1). */
struct guest {
	const char *name;	/* image and manifest name in the directory */
	const char *const *gg;	/* guestgen arguments */
	const char *low;	/* vmsig-memctx --low, or NULL */
	struct h_proc mc;
	struct json_object *man;	/* the manifest, parsed */
	struct json_object *win;	/* its "win" object (borrowed) */
};

static const char *const gg_17763[] = { "--size", "256M", "--seed", "11",
    "--windows", "17763", NULL };
static const char *const gg_19045[] = { "--size", "256M", "--seed", "12",
    "--windows", "19045", NULL };
static const char *const gg_22631[] = { "--size", "256M", "--seed", "13",
    "--windows", "22631", NULL };
static const char *const gg_26100[] = { "--size", "256M", "--seed", "14",
    "--windows", "26100", NULL };
static const char *const gg_shifted[] = { "--size", "256M", "--seed", "15",
    "--windows", "shifted", NULL };
static const char *const gg_split[] = { "--size", "384M", "--low", "128M",
    "--seed", "16", "--windows", "19045", NULL };
static const char *const gg_corrupt[] = { "--size", "256M", "--seed", "17",
    "--windows", "22631", "--corrupt-ring", NULL };
static const char *const gg_none[] = { "--size", "256M", "--seed", "18",
    "--windows", "none", NULL };

enum { EP_19045 = 1, EP_17763, EP_22631, EP_26100, EP_SHIFTED, EP_SPLIT,
    EP_CORRUPT, EP_NONE, NGUESTS = EP_NONE };

struct fx {
	char *dir;
	struct h_proc d;
	struct guest gs[NGUESTS];
	int base_self;
};

static struct fx *g;

/* vmsigctl --socket on the fixture's vmsigd; NULL-terminated arguments. */
#define run(r, ...)	ctl_run((r), g->dir, RUN_MS, __VA_ARGS__)

/* run() whose --json output must be one JSON value; the caller puts it. */
static struct json_object *
run_json(struct ctl_run *r, int want_status, const char *arg, ...)
{
	const char *argv[12] = { NULL };
	struct json_object *o;
	size_t n = 0;
	va_list ap;

	va_start(ap, arg);
	for (; arg != NULL && n < 10; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = "--json";
	run(r, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
	    argv[7], argv[8], argv[9], argv[10], NULL);
	if (r->status != want_status)
		fail_msg("vmsigctl %s %s: exit %d, stderr: %s", argv[0],
		    argv[1], r->status, r->err);
	o = json_tokener_parse(r->out);
	if (o == NULL)
		fail_msg("vmsigctl %s: output is not JSON: %.200s", argv[0],
		    r->out);
	return o;
}

/* ---- fixture ------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *const *gg;
	const char *low;
} guests[NGUESTS] = {
	[EP_19045 - 1] = { "w19045", gg_19045, NULL },
	[EP_17763 - 1] = { "w17763", gg_17763, NULL },
	[EP_22631 - 1] = { "w22631", gg_22631, NULL },
	[EP_26100 - 1] = { "w26100", gg_26100, NULL },
	[EP_SHIFTED - 1] = { "wshifted", gg_shifted, NULL },
	[EP_SPLIT - 1] = { "wsplit", gg_split, "128M" },
	[EP_CORRUPT - 1] = { "wcorrupt", gg_corrupt, NULL },
	[EP_NONE - 1] = { "wnone", gg_none, NULL },
};

/* Load DIR/NAME.json into gs->man and gs->win. */
static int
load_manifest(const char *dir, struct guest *gs)
{
	char path[4096];

	json_object_put(gs->man);
	snprintf(path, sizeof(path), "%s/%s.json", dir, gs->name);
	gs->man = json_object_from_file(path);
	gs->win = jget(gs->man, "win");
	return gs->win != NULL ? 0 : -1;
}

/* A holder subscribed to `ep` alone (events of the others would interleave). */
static struct vmsig_holder *
holder_ep(const char *dir, uint32_t ep)
{
	struct vmsig_holder *h = NULL;

	if (vmsig_holder_open(h_hsock(dir), "test", 5000, &h) < 0)
		return NULL;
	if (vmsig_holder_subscribe(h, &ep, 1, VMSIG_EV_BIT(VMSIG_EV_MEMCTX) |
	    VMSIG_EV_BIT(VMSIG_EV_MEMCTX_INVALIDATED), 5000) < 0) {
		vmsig_holder_close(h);
		return NULL;
	}
	return h;
}

/* The next MEMCTX of the holder's endpoint, of epoch `epoch`. */
static int
wait_memctx(struct vmsig_holder *h, uint32_t epoch)
{
	long end = h_now_ms() + 15000;
	vmsig_event *ev;
	int r, ok = 0;

	while (!ok && h_now_ms() < end) {
		r = vmsig_holder_next(h, (int)(end - h_now_ms()), &ev);
		if (r <= 0)
			return -1;
		ok = ev->type == VMSIG_EV_MEMCTX && ev->epoch == epoch;
		vmsig_event_free(ev);
	}
	return ok ? 0 : -1;
}

static int
start_memctx(struct fx *fx, uint32_t ep)
{
	struct guest *gs = &fx->gs[ep - 1];
	char img[4096];
	const char *extra[4];
	struct vmsig_holder *h;
	size_t n = 0;
	int r;

	snprintf(img, sizeof(img), "%s/%s.img", fx->dir, gs->name);
	if (gs->low != NULL) {
		extra[n++] = "--low";
		extra[n++] = gs->low;
	}
	if (ep == EP_19045)
		extra[n++] = "--writable";	/* t_write_pid */
	extra[n] = NULL;
	if ((h = holder_ep(fx->dir, ep)) == NULL)
		return -1;
	r = h_memctx(fx->dir, ep, img, 100, extra, &gs->mc);
	if (r == 0)
		r = wait_memctx(h, 1);
	vmsig_holder_close(h);
	return r;
}

static int
cleanup(struct fx *fx)
{
	size_t i;
	int r;

	for (i = 0; i < NGUESTS; i++) {
		if (fx->gs[i].mc.pid > 0)
			(void)h_stop(&fx->gs[i].mc, SIGTERM, 5000);
		json_object_put(fx->gs[i].man);
	}
	r = h_teardown(NULL, &fx->d, fx->dir, fx->base_self);
	free(fx);
	return r;
}

static int
group_setup(void **state)
{
	static char writer[32];
	static const char *const extra[] = { "--allow-writer", writer, NULL };
	struct gg_manifest *m;
	struct fx *fx = calloc(1, sizeof(*fx));
	uint32_t ep;

	if (fx == NULL)
		return -1;
	fx->base_self = h_fd_count(0);
	/* tmpfs, like the RAM files of real guests. */
	if (asprintf(&fx->dir, "/dev/shm/vmsigctl-win.XXXXXX") < 0 ||
	    mkdtemp(fx->dir) == NULL)
		goto fail;
	snprintf(writer, sizeof(writer), "uid:%lu", (unsigned long)getuid());
	if (h_vmsigd(fx->dir, extra, &fx->d) < 0)
		goto fail;
	for (ep = 1; ep <= NGUESTS; ep++) {
		struct guest *gs = &fx->gs[ep - 1];

		gs->name = guests[ep - 1].name;
		gs->gg = guests[ep - 1].gg;
		gs->low = guests[ep - 1].low;
		if (gg_make(fx->dir, gs->name, gs->gg, &m) < 0) {
			fprintf(stderr, "setup: guestgen %s failed\n", gs->name);
			goto fail;
		}
		gg_manifest_free(m);
		if ((load_manifest(fx->dir, gs) < 0 && ep != EP_NONE) ||
		    start_memctx(fx, ep) < 0) {
			fprintf(stderr, "setup: %s: no \"win\" in the manifest, "
			    "or vmsig-memctx gave no context\n", gs->name);
			goto fail;
		}
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
	/* A failed setup has cleaned up already. */
	return *state != NULL ? cleanup(*state) : 0;
}

/* ---- the manifest's ground truth ----------------------------------------- */

/* The manifest's processes of guest ep: the ones the ring reaches. */
static struct json_object *
man_procs(uint32_t ep)
{
	struct json_object *a = jget(g->gs[ep - 1].win, "processes");

	assert_non_null(a);
	return a;
}

/* A process whose path cannot be read (PEB paged out, or gone). */
static int
man_paged(struct json_object *p)
{
	return jstr(p, "path_fault") != NULL;
}

/* The manifest's module list of process pid of guest ep, or NULL. */
static struct json_object *
man_mods(uint32_t ep, uint64_t pid)
{
	struct json_object *a = jget(g->gs[ep - 1].win, "modules");
	size_t i;

	assert_non_null(a);
	for (i = 0; i < jlen(a); i++)
		if (jnum(jat(a, i), "pid") == pid)
			return jget(jat(a, i), "list");
	return NULL;
}

/* Page-table roots compare without their low 12 bits (PCID, flags). */
#define ROOT(x)	((x) & ~0xfffull)

/* One process of `ps --json` against its manifest record. */
static void
check_proc(struct json_object *got, struct json_object *want)
{
	char what[64];

	snprintf(what, sizeof(what), "pid %" PRIu64, jnum(want, "pid"));
	assert_int_equal(jnum(got, "pid"), jnum(want, "pid"));
	assert_int_equal(jnum(got, "ppid"), jnum(want, "ppid"));
	ctl_same_str(what, jstr(got, "name"), jstr(want, "name"));
	assert_int_equal(jnum(got, "eprocess"), jnum(want, "eprocess"));
	assert_int_equal(ROOT(jnum(got, "dtb")), ROOT(jnum(want, "dtb")));
	assert_int_equal(ROOT(jnum(got, "user_dtb")),
	    ROOT(jnum(want, "user_dtb")));
	assert_int_equal(jnum(got, "peb"), jnum(want, "peb"));
	assert_int_equal(jbool(got, "exited"), jbool(want, "exited"));
	assert_int_equal(jbool(got, "wow64"), jbool(want, "wow64"));
	if (man_paged(want)) {
		/* Shown, not hidden: the error and the page it failed in. */
		assert_null(jstr(got, "path"));
		assert_non_null(jstr(got, "error"));
		assert_non_null(jstr(got, "fault_va"));
		assert_int_equal(jnum(got, "fault_va") & ~0xfffull,
		    jnum(want, "path_fault") & ~0xfffull);
	} else {
		ctl_same_str(what, jstr(got, "path"), jstr(want, "path"));
		assert_true(jnull(got, "error"));
		assert_true(jnull(got, "fault_va"));
	}
}

/* ps --json of ep against the manifest, in ring order. */
static void
check_ps(uint32_t ep, struct json_object *got)
{
	struct json_object *want = man_procs(ep);
	size_t i;

	assert_int_equal(jlen(got), jlen(want));
	for (i = 0; i < jlen(want); i++)
		check_proc(jat(got, i), jat(want, i));
	/* The ring starts at System, whose DTB is the kernel's root. */
	assert_int_equal(jnum(jat(got, 0), "pid"), 4);
}

/* ---- tests --------------------------------------------------------------- */

/* Every modelled build, the shifted layout and the split layout. */
static void
t_ps_builds(void **state)
{
	uint32_t ep;
	struct ctl_run r;

	(void)state;
	for (ep = 1; ep < EP_CORRUPT; ep++) {
		struct json_object *o;

		o = run_json(&r, 0, "ps", ctl_fmt("%" PRIu64, ep), NULL);
		check_ps(ep, o);
		/* A complete ring: no warning. */
		assert_null(strstr(r.err, "warning"));
		json_object_put(o);
	}
}

/* Text mode: a title with the epoch, a header row, a line per process. */
static void
t_ps_text(void **state)
{
	struct json_object *want = man_procs(EP_19045);
	char title[64];
	struct ctl_run r;
	size_t i, lines = 0;

	(void)state;
	run(&r, "ps", "1", NULL);
	assert_int_equal(r.status, 0);
	snprintf(title, sizeof(title), "endpoint 1 epoch 1: ");
	assert_memory_equal(r.out, title, strlen(title));
	assert_non_null(strstr(r.out, "\n PID  PPID  NAME"));
	for (i = 0; i < r.len; i++)
		lines += r.out[i] == '\n';
	for (i = 0; i < jlen(want); i++)
		assert_non_null(strstr(r.out, jstr(jat(want, i), "name")));
	assert_int_equal(lines, 2 + jlen(want));
	/* A failed item is marked, not hidden. */
	assert_non_null(strstr(r.out, "! path: "));
}

/* A corrupt ring: what was read, a warning naming the address, exit 0. */
static void
t_ps_corrupt(void **state)
{
	struct json_object *o;
	struct ctl_run r;

	(void)state;
	o = run_json(&r, 0, "ps", ctl_fmt("%" PRIu64, EP_CORRUPT), NULL);
	check_ps(EP_CORRUPT, o);
	assert_non_null(strstr(r.err, "warning: ps: endpoint 7: the process "
	    "list ends early at 0x"));
	assert_non_null(strstr(r.err, ": a link does not point back; "));
	json_object_put(o);
}

/* modules --json against a manifest module list, in load order. */
static void
check_mods(struct json_object *got, struct json_object *want)
{
	size_t i;

	assert_int_equal(jlen(got), jlen(want));
	for (i = 0; i < jlen(want); i++) {
		struct json_object *a = jat(got, i), *b = jat(want, i);

		ctl_same_str("module name", jstr(a, "name"), jstr(b, "name"));
		ctl_same_str("module path", jstr(a, "path"), jstr(b, "path"));
		assert_int_equal(jnum(a, "base"), jnum(b, "base"));
		assert_int_equal(jnum(a, "size"), jnum(b, "size"));
		assert_int_equal(jnum(a, "entry"), jnum(b, "entry"));
		/* Names paged out (guestgen's lsass.exe): that module says
		 * where, the others are whole. */
		if (jnull(b, "fault_va"))
			assert_true(jnull(a, "error"));
		else {
			assert_false(jnull(a, "error"));
			assert_true(jnum(a, "fault_va") >= jnum(b, "fault_va") &&
			    jnum(a, "fault_va") < jnum(b, "fault_va") + 4096);
		}
	}
}

/* A live user process of guest ep with modules and a readable PEB. */
static struct json_object *
user_proc(uint32_t ep)
{
	struct json_object *a = man_procs(ep), *p, *mods;
	size_t i;

	for (i = 0; i < jlen(a); i++) {
		p = jat(a, i);
		mods = man_mods(ep, jnum(p, "pid"));
		if (jnum(p, "pid") != 4 && mods != NULL && jlen(mods) > 4 &&
		    !jbool(p, "exited") && !man_paged(p))
			return p;
	}
	fail_msg("endpoint %" PRIu32 ": no process with modules", ep);
	return NULL;
}

static void
t_modules_user(void **state)
{
	uint32_t eps[] = { EP_19045, EP_26100, EP_SHIFTED, EP_SPLIT };
	struct json_object *o, *p;
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		p = user_proc(eps[i]);
		o = run_json(&r, 0, "modules", ctl_fmt("%" PRIu64, eps[i]),
		    ctl_fmt("%" PRIu64, jnum(p, "pid")), NULL);
		check_mods(o, man_mods(eps[i], jnum(p, "pid")));
		json_object_put(o);
	}
}

/* pid 4: the kernel's loaded-module list, ntoskrnl first. */
static void
t_modules_kernel(void **state)
{
	struct json_object *o, *want = man_mods(EP_19045, 4);
	struct ctl_run r;

	(void)state;
	assert_non_null(want);
	o = run_json(&r, 0, "modules", "1", "4", NULL);
	check_mods(o, want);
	assert_int_equal(jnum(jat(o, 0), "base"),
	    jnum(g->gs[0].win, "kernel_base"));
	json_object_put(o);
}

/* A process whose PEB is paged out: modules fails with a message. */
static void
t_modules_paged(void **state)
{
	struct json_object *a = man_procs(EP_19045);
	size_t i;
	struct ctl_run r;

	(void)state;
	for (i = 0; i < jlen(a) && !man_paged(jat(a, i)); i++)
		;
	assert_true(i < jlen(a));
	run(&r, "modules", "1", ctl_fmt("%" PRIu64, jnum(jat(a, i), "pid")),
	    NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "is not present"));
	run(&r, "modules", "1", "3", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no process with pid 3"));
}

/* sections --json of one image against the manifest. */
static void
check_sections(const char *spid, struct json_object *pe)
{
	struct json_object *o, *want = jget(pe, "sections"), *a, *b;
	struct ctl_run r;
	size_t i;

	o = run_json(&r, 0, "sections", "1", spid, jstr(pe, "module"), NULL);
	assert_int_equal(jlen(o), jlen(want));
	for (i = 0; i < jlen(want); i++) {
		a = jat(o, i);
		b = jat(want, i);
		ctl_same_str("section", jstr(a, "name"), jstr(b, "name"));
		assert_int_equal(jnum(a, "va"), jnum(b, "va"));
		assert_int_equal(jnum(a, "size"), jnum(b, "size"));
		assert_int_equal(jnum(a, "characteristics"),
		    jnum(b, "characteristics"));
	}
	json_object_put(o);
}

/* exports --json (the image named by its base) against the manifest;
 * counts forwarders and exports by ordinal only. */
static void
check_exports(const char *spid, struct json_object *pe, size_t *fwd,
    size_t *ordonly)
{
	struct json_object *o, *want = jget(pe, "exports"), *a, *b;
	struct ctl_run r;
	size_t i;

	o = run_json(&r, 0, "exports", "1", spid,
	    ctl_fmt("0x%" PRIx64, jnum(pe, "base")), NULL);
	assert_int_equal(jlen(o), jlen(want));
	for (i = 0; i < jlen(want); i++) {
		a = jat(o, i);
		b = jat(want, i);
		ctl_same_str("export", jstr(a, "name"), jstr(b, "name"));
		assert_int_equal(jnum(a, "ordinal"), jnum(b, "ordinal"));
		ctl_same_str("forward", jstr(a, "forward"), jstr(b, "forward"));
		if (jstr(b, "forward") != NULL) {
			assert_true(jnull(a, "va"));
			(*fwd)++;
		} else
			assert_int_equal(jnum(a, "va"), jnum(b, "va"));
		if (jstr(b, "name") == NULL) {
			assert_true(jnull(a, "name"));
			(*ordonly)++;
		}
	}
	json_object_put(o);
}

/*
 * imports --json against the manifest (whose "ordinal" of an import by
 * name is the hint), with no warning.  Returns the imports listed.
 */
static size_t
check_imports(const char *spid, struct json_object *pe)
{
	struct json_object *o, *want = jget(pe, "imports"), *a, *b;
	struct ctl_run r;
	size_t i, n;

	o = run_json(&r, 0, "imports", "1", spid, jstr(pe, "module"), NULL);
	n = jlen(o);
	assert_null(strstr(r.err, "warning"));
	assert_int_equal(n, jlen(want));
	for (i = 0; i < n; i++) {
		a = jat(o, i);
		b = jat(want, i);
		assert_true(strcasecmp(jstr(a, "module"),
		    jstr(b, "module")) == 0);
		ctl_same_str("import", jstr(a, "name"), jstr(b, "name"));
		assert_int_equal(jnum(a, jstr(b, "name") != NULL ? "hint" :
		    "ordinal"), jnum(b, "ordinal"));
		assert_int_equal(jnum(a, "iat"), jnum(b, "iat"));
	}
	json_object_put(o);
	return n;
}

/* Every image of the manifest's "pe" list of guest 1, user and kernel. */
static void
t_pe(void **state)
{
	struct json_object *pes = jget(g->gs[0].win, "pe"), *pe;
	size_t i, fwd = 0, ordonly = 0, nimp = 0, nuser = 0;
	char spid[16];
	struct ctl_run r;

	(void)state;
	assert_non_null(pes);
	for (i = 0; i < jlen(pes); i++) {
		pe = jat(pes, i);
		snprintf(spid, sizeof(spid), "%" PRIu64, jnum(pe, "pid"));
		check_sections(spid, pe);
		check_exports(spid, pe, &fwd, &ordonly);
		nimp += check_imports(spid, pe);
		nuser += jnum(pe, "pid") != 4;
	}
	assert_true(fwd > 0 && ordonly > 0 && nimp > 0 && nuser > 0);
	run(&r, "exports", "1", spid, "nosuch.dll", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "has no module 'nosuch.dll'"));
}

/* winfo: the build, the kernel, the offsets as the manifest has them. */
static void
t_winfo(void **state)
{
	static const char *const must[] = { "EPROCESS.UniqueProcessId",
	    "EPROCESS.ActiveProcessLinks", "EPROCESS.ImageFileName",
	    "EPROCESS.Peb", "EPROCESS.InheritedFromUniqueProcessId" };
	struct json_object *o, *offs, *want, *w;
	uint32_t ep;
	size_t i, k, found;
	struct ctl_run r;

	(void)state;
	for (ep = 1; ep < EP_NONE; ep++) {
		w = g->gs[ep - 1].win;
		o = run_json(&r, 0, "winfo", ctl_fmt("%" PRIu64, ep), NULL);
		assert_int_equal(jnum(o, "epoch"), 1);
		assert_int_equal(jnum(o, "build"), jnum(w, "build"));
		assert_int_equal(jnum(o, "kernel_base"), jnum(w, "kernel_base"));
		offs = jget(o, "offsets");
		want = jget(w, "offsets");
		assert_non_null(want);
		for (k = found = 0; k < sizeof(must) / sizeof(must[0]); k++)
			for (i = 0; i < jlen(offs); i++) {
				if (strcmp(jstr(jat(offs, i), "name"),
				    must[k]) != 0)
					continue;
				assert_int_equal(jnum(jat(offs, i), "offset"),
				    jnum(want, must[k]));
				assert_non_null(jstr(jat(offs, i), "how"));
				found++;
			}
		assert_int_equal(found, sizeof(must) / sizeof(must[0]));
		json_object_put(o);
	}
	run(&r, "winfo", "1", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "EPROCESS.UniqueProcessId"));
}

/* --pid reads, translates, maps and scans the process's address space:
 * the same answers as --cr3 with its DTB. */
static void
t_pid_option(void **state)
{
	struct json_object *p = user_proc(EP_19045), *mod, *o;
	char spid[16], sdtb[32], sbase[32], out[2][65536];
	uint64_t base;
	struct ctl_run r;

	(void)state;
	snprintf(spid, sizeof(spid), "%" PRIu64, jnum(p, "pid"));
	snprintf(sdtb, sizeof(sdtb), "0x%" PRIx64, jnum(p, "dtb"));
	mod = jat(man_mods(EP_19045, jnum(p, "pid")), 1);	/* a DLL */
	base = jnum(mod, "base");
	snprintf(sbase, sizeof(sbase), "0x%" PRIx64, base);

	o = run_json(&r, 0, "read", "1", "va", sbase, "2", "--pid", spid,
	    NULL);
	assert_string_equal(jstr(o, "bytes"), "4d5a");
	assert_int_equal(jnum(o, "cr3"), jnum(p, "dtb"));
	json_object_put(o);

	run(&r, "translate", "1", sbase, "--pid", spid, NULL);
	assert_int_equal(r.status, 0);
	snprintf(out[0], sizeof(out[0]), "%s", r.out);
	run(&r, "translate", "1", sbase, "--cr3", sdtb, NULL);
	assert_string_equal(r.out, out[0]);

	run(&r, "pmap", "1", "--pid", spid, NULL);
	assert_int_equal(r.status, 0);
	assert_true(r.len < sizeof(out[1]));
	snprintf(out[1], sizeof(out[1]), "%s", r.out);
	run(&r, "pmap", "1", "--cr3", sdtb, NULL);
	assert_string_equal(r.out, out[1]);

	run(&r, "scan", "1", "4d5a", "--pid", spid, "--max", "1", NULL);
	assert_int_equal(r.status, 0);

	run(&r, "read", "1", "va", sbase, "2", "--pid", "3", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no process with pid 3"));
}

/* write --pid writes in the process's address space: the bytes land, read
 * back through --pid, and are restored. */
static void
t_write_pid(void **state)
{
	struct json_object *p = user_proc(EP_19045), *o;
	char spid[16], sva[32], old[64], want[96];
	struct ctl_run r;

	(void)state;
	snprintf(spid, sizeof(spid), "%" PRIu64, jnum(p, "pid"));
	/* A spare spot of the PEB page, past the fields anyone reads. */
	snprintf(sva, sizeof(sva), "0x%" PRIx64, jnum(p, "peb") + 0xf00);
	o = run_json(&r, 0, "read", "1", "va", sva, "4", "--pid", spid, NULL);
	snprintf(old, sizeof(old), "%s", jstr(o, "bytes"));
	json_object_put(o);
	run(&r, "write", "1", "va", sva, "c0ffee11", "--pid", spid, NULL);
	if (r.status != 0)
		fail_msg("write --pid: exit %d: %s", r.status, r.err);
	snprintf(want, sizeof(want), "wrote 4 of 4 bytes at va %s\n", sva);
	assert_string_equal(r.out, want);
	o = run_json(&r, 0, "read", "1", "va", sva, "4", "--pid", spid, NULL);
	assert_string_equal(jstr(o, "bytes"), "c0ffee11");
	json_object_put(o);
	run(&r, "write", "1", "va", sva, old, "--pid", spid, NULL);
	assert_int_equal(r.status, 0);
	run(&r, "write", "1", "va", sva, "00", "--pid", "3", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no process with pid 3"));
}

/* The guest reboots: a new epoch, a new process list, the new manifest. */
static void
t_reboot(void **state)
{
	struct fx *fx = *state;
	struct json_object *before, *after, *o;
	struct gg_manifest *m2;
	struct vmsig_holder *h;
	char mpath[4096], img[4096];
	struct ctl_run r;
	size_t i, same = 0;

	before = run_json(&r, 0, "ps", "1", NULL);
	assert_non_null(h = holder_ep(fx->dir, 1));
	snprintf(mpath, sizeof(mpath), "%s/%s.json", fx->dir, fx->gs[0].name);
	snprintf(img, sizeof(img), "%s/%s.img", fx->dir, fx->gs[0].name);
	assert_int_equal(gg_reboot(mpath, img, 0, &m2), 0);
	gg_manifest_free(m2);
	assert_int_equal(load_manifest(fx->dir, &fx->gs[0]), 0);
	assert_int_equal(wait_memctx(h, 2), 0);
	vmsig_holder_close(h);

	after = run_json(&r, 0, "ps", "1", NULL);
	check_ps(1, after);
	/* Not the old list: EPROCESSes and DTBs of a new boot. */
	for (i = 0; i < jlen(after) && i < jlen(before); i++)
		same += jnum(jat(after, i), "eprocess") ==
		    jnum(jat(before, i), "eprocess") &&
		    jnum(jat(after, i), "dtb") == jnum(jat(before, i), "dtb");
	assert_true(same < jlen(after));
	o = run_json(&r, 0, "winfo", "1", NULL);
	assert_int_equal(jnum(o, "epoch"), 2);
	json_object_put(o);
	json_object_put(before);
	json_object_put(after);
}

/* A guest with a kernel but no Windows structures: every Windows command
 * and --pid fail with a message; the memory commands still work. */
static void
t_not_windows(void **state)
{
	static const char *const cmds[][6] = {
		{ "ps", "8" },
		{ "winfo", "8" },
		{ "modules", "8", "4" },
		{ "exports", "8", "4", "ntoskrnl" },
		{ "pmap", "8", "--pid", "4" },
	};
	struct ctl_run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run(&r, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3],
		    cmds[i][4], NULL);
		assert_int_equal(r.status, 1);
		assert_non_null(strstr(r.err, "endpoint 8 epoch 1 kcr3 0x"));
		assert_non_null(strstr(r.err, ": no Windows context: "));
	}
	run(&r, "read", "8", "pa", "0", "16", NULL);
	assert_int_equal(r.status, 0);
}

/* Bad command lines exit 2 before connecting. */
static void
t_usage(void **state)
{
	static const char *const bad[][8] = {
		{ "ps" },
		{ "ps", "0" },
		{ "ps", "1", "2" },
		{ "ps", "1", "--cr3", "1000" },
		{ "modules", "1" },
		{ "modules", "1", "x" },
		{ "modules", "1", "-4" },
		{ "exports", "1", "4" },
		{ "sections", "1", "4", "" },
		{ "imports", "1", "4", "a", "b" },
		{ "winfo" },
		{ "translate", "1", "0", "--pid", "4", "--cr3", "1000" },
		{ "read", "1", "pa", "0", "8", "--pid", "4" },
		{ "scan", "1", "00", "--physical", "--pid", "4" },
		{ "write", "1", "pa", "0", "00", "--pid", "4" },
		{ "write", "1", "va", "0", "00", "--pid", "4", "--cr3=1" },
		{ "translate", "1", "0", "--pid", "x" },
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
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ps_builds),
		cmocka_unit_test(t_ps_text),
		cmocka_unit_test(t_ps_corrupt),
		cmocka_unit_test(t_modules_user),
		cmocka_unit_test(t_modules_kernel),
		cmocka_unit_test(t_modules_paged),
		cmocka_unit_test(t_pe),
		cmocka_unit_test(t_winfo),
		cmocka_unit_test(t_pid_option),
		cmocka_unit_test(t_write_pid),
		cmocka_unit_test(t_not_windows),
		cmocka_unit_test(t_usage),
		cmocka_unit_test(t_reboot),	/* last: it changes guest 1 */
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
