/* SPDX-License-Identifier: MIT */
/*
 * The Windows context against guestgen's Windows scenes and their
 * manifests (the "win" object, read here with json-c): for every modelled
 * build, the shifted made-up layout and a split (RAM above 4 GiB) layout,
 * the kernel found (base, build, list heads), every offset that was found
 * equals the ground truth, every process of the ring (pid, parent, name,
 * path, EPROCESS, DTBs, PEB, exited, WOW64, per-item faults) and the ring's
 * status when it was corrupted on purpose, every module list (kernel and
 * user, faults), and every PE image listed (sections, exports with
 * forwarders, each named export found by binary search equal to the listed
 * one, imports).  Plus lookups by pid and name, reads by pid, scans, and
 * argument checks.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include <vmsig/holder.h>
#include <vmsig/mem.h>
#include <vmsig/win.h>

#include "../common/manifest.h"
#include "../fuzz/kimg.h"
#include "../fuzz/winimg.h"

#define PAGE_OF(x)	((x) & ~0xfffull)
#define FRAME(x)	((x) & 0x000ffffffffff000ull)
/* Exports looked up by name per image (each one a binary search). */
#define MAX_FINDS	400

struct scene {
	const char *name;
	const char *const *args;
};

static char dir[256];

static const char *
tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* --- the manifest's "win" object ----------------------------------------- */

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int
jnull(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v == NULL || json_object_is_type(v, json_type_null);
}

static uint64_t
ju64(json_object *o, const char *key)
{
	json_object *v = jget(o, key);
	const char *s;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? 1 : 0;
	if (json_object_is_type(v, json_type_int))
		return (uint64_t)json_object_get_int64(v);
	s = json_object_get_string(v);
	return strtoull(s, NULL, 0);
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static size_t
jlen(json_object *a)
{
	return a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
}

static json_object *
jat(json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

static int
count_hit(void *arg, uint64_t addr)
{
	(void)addr;
	++*(int *)arg;
	return 0;
}

/* --- one scene ------------------------------------------------------------ */

struct ctx {
	struct gg_manifest *m;
	json_object *root, *win;
	int fd;
	struct vmsig_mem *mem;
	struct vmsig_win *w;
	int32_t off[32];
	char offname[32][64];
	unsigned int noff;
};

static int32_t
our_off(const struct ctx *c, const char *name)
{
	unsigned int i;

	for (i = 0; i < c->noff; i++)
		if (strcmp(c->offname[i], name) == 0)
			return c->off[i];
	return -2;
}

static void
open_scene(const struct scene *sc, struct ctx *c)
{
	char path[600];
	int r;

	memset(c, 0, sizeof(*c));
	r = gg_make(dir, sc->name, (const char *const *)sc->args, &c->m);
	if (r < 0)
		fail_msg("guestgen %s: %s", sc->name, strerror(-r));
	snprintf(path, sizeof(path), "%s/%s.json", dir, sc->name);
	c->root = json_object_from_file(path);
	assert_non_null(c->root);
	c->win = jget(c->root, "win");
	assert_non_null(c->win);
	c->fd = open(c->m->image, O_RDONLY | O_CLOEXEC);
	assert_true(c->fd >= 0);
	assert_int_equal(vmsig_mem_open_segs(c->fd, c->m->segs, c->m->nseg,
	    &c->mem), 0);
	r = vmsig_win_open(c->mem, c->m->kcr3, &c->w);
	if (r < 0)
		fail_msg("%s: vmsig_win_open: %s", sc->name, strerror(-r));
}

static void
close_scene(const struct scene *sc, struct ctx *c)
{
	char p[600];

	vmsig_win_close(c->w);
	vmsig_mem_close(c->mem);
	(void)close(c->fd);
	json_object_put(c->root);
	gg_manifest_free(c->m);
	snprintf(p, sizeof(p), "%s/%s.img", dir, sc->name);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/%s.json", dir, sc->name);
	(void)unlink(p);
}

static void
check_info(struct ctx *c)
{
	struct vmsig_win_info in;

	assert_int_equal(vmsig_win_info(c->w, &in), 0);
	assert_int_equal(in.build, ju64(c->win, "build") & 0xffff);
	assert_int_equal(in.kernel_base, ju64(c->win, "kernel_base"));
	if (jget(c->win, "kernel_size") != NULL)
		assert_int_equal(in.kernel_size, ju64(c->win, "kernel_size"));
	assert_int_equal(in.system_eprocess, c->m->system_eprocess);
	assert_int_equal(in.ps_active_process_head,
	    ju64(c->win, "ps_active_process_head"));
	assert_int_equal(in.ps_loaded_module_list,
	    ju64(c->win, "ps_loaded_module_list"));
}

/* Every offset we found must be the truth; the essential ones we must find. */
static void
check_offsets(struct ctx *c)
{
	static const char *const must[] = { "EPROCESS.DirectoryTableBase",
	    "EPROCESS.UniqueProcessId", "EPROCESS.ActiveProcessLinks",
	    "EPROCESS.InheritedFromUniqueProcessId",
	    "EPROCESS.ImageFileName", "EPROCESS.Peb",
	    "EPROCESS.ExitStatus", NULL };
	struct vmsig_win_offset o;
	json_object *truth = jget(c->win, "offsets");
	unsigned int i;
	int32_t ours;

	for (i = 0; vmsig_win_offset(c->w, i, &o) == 0; i++) {
		assert_true(i < 32);
		assert_non_null(o.name);
		assert_non_null(o.how);
		snprintf(c->offname[i], sizeof(c->offname[i]), "%s", o.name);
		c->off[i] = o.offset;
		c->noff = i + 1;
	}
	assert_int_equal(vmsig_win_offset(c->w, i, &o), -ENOENT);
	assert_true(c->noff >= 10);
	json_object_object_foreach(truth, key, val) {
		(void)val;
		ours = our_off(c, key);
		if (ours == -2 || ours == -1)
			continue;
		if ((uint64_t)ours != ju64(truth, key))
			fail_msg("%s: found 0x%x, truth 0x%llx", key, ours,
			    (unsigned long long)ju64(truth, key));
	}
	for (i = 0; must[i] != NULL; i++)
		if (our_off(c, must[i]) < 0)
			fail_msg("%s not found", must[i]);
}

static void
check_proc(struct ctx *c, json_object *e, const struct vmsig_win_proc *p)
{
	int wow_known = our_off(c, "EPROCESS.WoW64Process") >= 0;
	int udtb_known = our_off(c, "EPROCESS.UserDirectoryTableBase") >= 0;
	uint64_t udtb = ju64(e, "user_dtb");

	assert_int_equal(p->pid, ju64(e, "pid"));
	assert_int_equal(p->ppid, ju64(e, "ppid"));
	assert_string_equal(p->name, jstr(e, "name"));
	assert_int_equal(p->eprocess, ju64(e, "eprocess"));
	assert_int_equal(FRAME(p->dtb), FRAME(ju64(e, "dtb")));
	if (udtb_known)
		assert_int_equal(p->user_dtb, udtb > 1 ? FRAME(udtb) : 0);
	assert_int_equal(p->peb, ju64(e, "peb"));
	assert_int_equal(!!(p->flags & VMSIG_WIN_PROC_EXITED),
	    ju64(e, "exited"));
	if (ju64(e, "wow64"))
		assert_true(wow_known);
	if (wow_known)
		assert_int_equal(!!(p->flags & VMSIG_WIN_PROC_WOW64),
		    ju64(e, "wow64"));
	if (!jnull(e, "path_fault")) {
		assert_null(p->path);
		assert_int_equal(p->err, -EFAULT);
		assert_int_equal(PAGE_OF(p->fault_va),
		    PAGE_OF(ju64(e, "path_fault")));
	} else if (jnull(e, "path")) {
		assert_null(p->path);
	} else {
		assert_non_null(p->path);
		assert_string_equal(p->path, jstr(e, "path"));
		assert_int_equal(p->err, 0);
	}
}

static void
check_procs(struct ctx *c)
{
	json_object *ps = jget(c->win, "processes");
	struct vmsig_win_procs *l, *f;
	size_t i;
	uint64_t cr3;

	assert_int_equal(vmsig_win_proc_list(c->w, &l), 0);
	assert_int_equal(l->status, -(int)ju64(c->win, "ring_status"));
	assert_int_equal(l->n, jlen(ps));
	for (i = 0; i < l->n; i++)
		check_proc(c, jat(ps, i), &l->v[i]);
	/* Lookups: by pid, by name, the DTB by pid. */
	for (i = 0; i < l->n && i < 16; i++) {
		assert_int_equal(vmsig_win_proc_find(c->w, l->v[i].pid, NULL,
		    &f), 0);
		assert_int_equal(f->v[0].eprocess, l->v[i].eprocess);
		vmsig_win_procs_free(f);
		assert_int_equal(vmsig_win_proc_find(c->w, 0, l->v[i].name,
		    &f), 0);
		assert_true(f->n >= 1);
		vmsig_win_procs_free(f);
		assert_int_equal(vmsig_win_proc_dtb(c->w, l->v[i].pid, &cr3),
		    0);
		assert_int_equal(FRAME(cr3), l->v[i].dtb);
	}
	assert_int_equal(vmsig_win_proc_find(c->w, 0, "no-such.exe", &f),
	    -ENOENT);
	assert_int_equal(vmsig_win_proc_dtb(c->w, 0xfffffff0u, &cr3),
	    -ENOENT);
	vmsig_win_procs_free(l);
}

static void
check_mod(json_object *e, const struct vmsig_win_module *md)
{
	assert_int_equal(md->base, ju64(e, "base"));
	assert_int_equal(md->size, ju64(e, "size"));
	assert_int_equal(md->entry, ju64(e, "entry"));
	if (!jnull(e, "fault_va")) {
		/* Its name buffers are paged out: this entry alone fails. */
		assert_int_equal(md->err, -EFAULT);
		assert_int_equal(PAGE_OF(md->fault_va),
		    PAGE_OF(ju64(e, "fault_va")));
	} else
		assert_int_equal(md->err, 0);
	if (jstr(e, "name") != NULL) {
		assert_non_null(md->name);
		assert_string_equal(md->name, jstr(e, "name"));
	} else
		assert_null(md->name);
	if (jstr(e, "path") != NULL) {
		assert_non_null(md->path);
		assert_string_equal(md->path, jstr(e, "path"));
	} else
		assert_null(md->path);
}

static void
check_modules(struct ctx *c)
{
	json_object *ms = jget(c->win, "modules"), *e, *list;
	struct vmsig_win_modules *mods;
	struct vmsig_win_pe *pe;
	uint8_t mz[2];
	size_t i, j;
	uint32_t pid;
	uint64_t cr3;
	int r;

	for (i = 0; i < jlen(ms); i++) {
		e = jat(ms, i);
		pid = (uint32_t)ju64(e, "pid");
		list = jget(e, "list");
		r = vmsig_win_mod_list(c->w, pid, &mods);
		if (!jnull(e, "fault_va") && jlen(list) == 0) {
			assert_int_equal(r, -EFAULT);
			assert_int_equal(PAGE_OF(vmsig_win_fault_va(c->w)),
			    PAGE_OF(ju64(e, "fault_va")));
			continue;
		}
		if (r < 0)
			fail_msg("modules of pid %u: %s", pid, strerror(-r));
		if (jget(e, "status") != NULL)
			assert_int_equal(mods->status, -(int)ju64(e, "status"));
		if (!jnull(e, "fault_va")) {
			assert_int_equal(mods->status, -EFAULT);
			assert_int_equal(PAGE_OF(mods->fault_va),
			    PAGE_OF(ju64(e, "fault_va")));
		} else
			assert_int_equal(mods->status, 0);
		assert_int_equal(mods->n, jlen(list));
		assert_int_equal(vmsig_win_proc_dtb(c->w, pid, &cr3), 0);
		for (j = 0; j < mods->n; j++) {
			check_mod(jat(list, j), &mods->v[j]);
			/* Its header: there, or reported missing. */
			r = vmsig_win_pe_open(c->w, cr3, mods->v[j].base, &pe);
			if (!jnull(jat(list, j), "header_fault"))
				assert_int_equal(r, -EFAULT);
			else {
				assert_int_equal(r, 0);
				vmsig_win_pe_close(pe);
			}
		}
		/* The first module's header, read in the process's space. */
		if (mods->n > 0 && pid != 4) {
			assert_int_equal(vmsig_win_proc_read(c->w, pid,
			    mods->v[0].base, mz, 2, NULL), 0);
			assert_memory_equal(mz, "MZ", 2);
		}
		vmsig_win_modules_free(mods);
	}
}

static void
check_sections(struct vmsig_win_pe *pe, json_object *exp)
{
	struct vmsig_win_section *s = NULL;
	size_t i;
	int n;

	n = vmsig_win_pe_sections(pe, &s);
	assert_int_equal(n, jlen(exp));
	for (i = 0; i < (size_t)n; i++) {
		assert_string_equal(s[i].name, jstr(jat(exp, i), "name"));
		assert_int_equal(s[i].va, ju64(jat(exp, i), "va"));
		assert_int_equal(s[i].size, ju64(jat(exp, i), "size"));
		assert_int_equal(s[i].characteristics,
		    ju64(jat(exp, i), "characteristics"));
	}
	free(s);
}

static const struct vmsig_win_export *
by_ordinal(const struct vmsig_win_exports *x, uint32_t ord)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->v[i].ordinal == ord)
			return &x->v[i];
	return NULL;
}

static void
same_export(json_object *e, const struct vmsig_win_export *g)
{
	assert_int_equal(g->ordinal, ju64(e, "ordinal"));
	if (jnull(e, "name"))
		assert_null(g->name);
	else {
		assert_non_null(g->name);
		assert_string_equal(g->name, jstr(e, "name"));
	}
	if (jnull(e, "forward")) {
		assert_null(g->forward);
		assert_int_equal(g->va, ju64(e, "va"));
	} else {
		assert_non_null(g->forward);
		assert_string_equal(g->forward, jstr(e, "forward"));
		assert_int_equal(g->va, 0);
	}
}

static void
check_exports(struct vmsig_win_pe *pe, json_object *exp)
{
	struct vmsig_win_exports *x;
	struct vmsig_win_export f;
	const struct vmsig_win_export *g;
	size_t i, finds = 0;
	json_object *e;

	assert_int_equal(vmsig_win_pe_exports(pe, &x), 0);
	assert_int_equal(x->n, jlen(exp));
	for (i = 0; i < jlen(exp); i++) {
		e = jat(exp, i);
		g = by_ordinal(x, (uint32_t)ju64(e, "ordinal"));
		assert_non_null(g);
		same_export(e, g);
		if (jnull(e, "name") || finds++ >= MAX_FINDS)
			continue;
		assert_int_equal(vmsig_win_pe_export_find(pe, jstr(e, "name"),
		    &f), 0);
		same_export(e, &f);
	}
	assert_int_equal(vmsig_win_pe_export_find(pe, "NoSuchExport_", &f),
	    -ENOENT);
	vmsig_win_exports_free(x);
}

static void
check_imports(struct vmsig_win_pe *pe, json_object *exp)
{
	struct vmsig_win_imports *x;
	json_object *e;
	size_t i;

	assert_int_equal(vmsig_win_pe_imports(pe, &x), 0);
	assert_int_equal(x->status, 0);
	assert_int_equal(x->n, jlen(exp));
	for (i = 0; i < x->n; i++) {
		e = jat(exp, i);
		assert_true(strcasecmp(x->v[i].module, jstr(e, "module")) == 0);
		if (jnull(e, "name"))
			assert_null(x->v[i].name);
		else {
			assert_non_null(x->v[i].name);
			assert_string_equal(x->v[i].name, jstr(e, "name"));
		}
		assert_int_equal(x->v[i].ordinal, ju64(e, "ordinal"));
		assert_int_equal(x->v[i].iat, ju64(e, "iat"));
	}
	vmsig_win_imports_free(x);
}

static void
check_pes(struct ctx *c)
{
	json_object *pes = jget(c->win, "pe"), *e;
	struct vmsig_win_pe *pe;
	struct vmsig_win_pe_info in;
	size_t i;
	int r, hits = 0;

	assert_true(jlen(pes) > 0);
	for (i = 0; i < jlen(pes); i++) {
		e = jat(pes, i);
		r = vmsig_win_pe_open_module(c->w, (uint32_t)ju64(e, "pid"),
		    jstr(e, "module"), &pe);
		if (r < 0)
			fail_msg("pe %s of pid %u: %s", jstr(e, "module"),
			    (unsigned)ju64(e, "pid"), strerror(-r));
		check_sections(pe, jget(e, "sections"));
		check_exports(pe, jget(e, "exports"));
		check_imports(pe, jget(e, "imports"));
		assert_int_equal(vmsig_win_pe_info(pe, &in), 0);
		/* The image starts with MZ: a scan of it finds that. */
		hits = 0;
		assert_true(vmsig_win_pe_scan(pe, (const uint8_t *)"MZ", NULL,
		    2, count_hit, &hits) >= 1);
		assert_true(hits >= 1);
		vmsig_win_pe_close(pe);
	}
}

static void
run_scene(void **state)
{
	const struct scene *sc = *state;
	struct ctx c;

	open_scene(sc, &c);
	check_info(&c);
	check_offsets(&c);
	check_procs(&c);
	check_modules(&c);
	check_pes(&c);
	close_scene(sc, &c);
}

/* --- the in-memory guest of winimg.h (independent of guestgen) --------- */

#define SB_SIZE		(48u << 20)

struct sb {
	struct wimg w;
	uint8_t *img;
	int fd;
	struct vmsig_mem *mem;
	struct vmsig_win *win;
};

typedef void (*sb_patch_fn)(struct wimg *w);

static void
sb_open_patched(struct sb *b, unsigned int layout, unsigned int nproc,
    int corrupt, sb_patch_fn patch)
{
	char path[64];
	int rw;

	b->img = malloc(SB_SIZE);
	assert_non_null(b->img);
	wi_build(&b->w, b->img, SB_SIZE, layout, nproc, 5, 300, 42 + layout,
	    corrupt);
	if (patch != NULL)
		patch(&b->w);
	rw = kimg_memfd(b->img, SB_SIZE);
	assert_true(rw >= 0);
	/* The context refuses a writable descriptor: reopen read-only. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	(void)close(rw);
	assert_true(b->fd >= 0);
	assert_int_equal(vmsig_mem_open(b->fd, SB_SIZE, &b->mem), 0);
	assert_int_equal(vmsig_win_open(b->mem, b->w.kcr3, &b->win), 0);
}

static void
sb_open(struct sb *b, unsigned int layout, unsigned int nproc, int corrupt)
{
	sb_open_patched(b, layout, nproc, corrupt, NULL);
}

static void
sb_close(struct sb *b)
{
	vmsig_win_close(b->win);
	vmsig_mem_close(b->mem);
	(void)close(b->fd);
	free(b->img);
}

static void
sb_offsets(struct sb *b)
{
	const struct wi_layout *L = b->w.L;
	const int32_t want[] = { 0x28, (int32_t)L->pid, (int32_t)L->pid + 8,
	    (int32_t)L->ppid, (int32_t)L->name_off, (int32_t)L->peb,
	    (int32_t)L->udtb, (int32_t)L->exitst, (int32_t)L->objtab,
	    (int32_t)L->wow64 };
	struct vmsig_win_offset o;
	unsigned int i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(vmsig_win_offset(b->win, i, &o), 0);
		if (o.offset != want[i])
			fail_msg("layout %s: %s at 0x%x, want 0x%x (%s)",
			    L->name, o.name, o.offset, want[i], o.how);
	}
}

static void
sb_procs(struct sb *b)
{
	struct vmsig_win_procs *l;
	const struct wi_proc *e;
	size_t i;

	assert_int_equal(vmsig_win_proc_list(b->win, &l), 0);
	assert_int_equal(l->status, 0);
	assert_int_equal(l->n, b->w.nproc);
	for (i = 0; i < l->n; i++) {
		e = &b->w.p[i];
		assert_int_equal(l->v[i].pid, e->pid);
		assert_int_equal(l->v[i].ppid, e->ppid);
		assert_string_equal(l->v[i].name, e->name);
		assert_int_equal(l->v[i].eprocess, e->ep);
		assert_int_equal(l->v[i].dtb, e->dtb);
		assert_int_equal(l->v[i].user_dtb, e->udtb);
		assert_int_equal(l->v[i].peb, i == 0 ? 0 : e->peb);
		assert_int_equal(!!(l->v[i].flags & VMSIG_WIN_PROC_EXITED),
		    e->exited);
		assert_int_equal(!!(l->v[i].flags & VMSIG_WIN_PROC_WOW64),
		    e->wow64);
		if (e->peb_out) {
			assert_null(l->v[i].path);
			assert_int_equal(l->v[i].err, -EFAULT);
			assert_int_equal(PAGE_OF(l->v[i].fault_va), WI_USER);
		} else if (i == 0)
			assert_null(l->v[i].path);
		else
			assert_string_equal(l->v[i].path, e->path);
	}
	assert_true(l->v[3].flags & VMSIG_WIN_PROC_NAME_TRUNC);
	assert_false(l->v[1].flags & VMSIG_WIN_PROC_NAME_TRUNC);
	vmsig_win_procs_free(l);
	assert_int_equal(vmsig_win_proc_find(b->win, 0,
	    "averyverylongprocessname.exe", &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0].pid, b->w.p[3].pid);
	vmsig_win_procs_free(l);
}

static void
sb_modules(struct sb *b)
{
	struct vmsig_win_modules *m;
	char want[64];

	assert_int_equal(vmsig_win_mod_list(b->win, b->w.p[1].pid, &m), 0);
	assert_int_equal(m->status, 0);
	assert_int_equal(m->n, 5);
	assert_string_equal(m->v[0].name, "csrss.exe");
	assert_string_equal(m->v[0].path, "C:\\Windows\\System32\\csrss.exe");
	assert_int_equal(m->v[0].base, WI_EXE);
	assert_int_equal(m->v[0].entry, WI_EXE + 0x1010);
	assert_string_equal(m->v[1].name, "ntdll.dll");
	assert_int_equal(m->v[1].base, WI_DLL);
	assert_int_equal(m->v[1].size, b->w.dll_size);
	snprintf(want, sizeof(want), "mod004_1.dll");
	assert_string_equal(m->v[4].name, want);
	vmsig_win_modules_free(m);
	/* The kernel's list: ntoskrnl first. */
	assert_int_equal(vmsig_win_mod_list(b->win, 4, &m), 0);
	assert_int_equal(m->status, 0);
	assert_true(m->n >= 3);
	assert_string_equal(m->v[0].name, "ntoskrnl.exe");
	assert_int_equal(m->v[0].base, WI_KBASE);
	assert_string_equal(m->v[1].name, "hal.dll");
	vmsig_win_modules_free(m);
	/* Paged-out PEB: -EFAULT and where. */
	assert_int_equal(vmsig_win_mod_list(b->win, b->w.p[4].pid, &m),
	    -EFAULT);
	assert_int_equal(PAGE_OF(vmsig_win_fault_va(b->win)), WI_USER);
	assert_int_equal(vmsig_win_mod_list(b->win, 12345676, &m), -ENOENT);
}

static void
sb_pe(struct sb *b)
{
	struct vmsig_win_section *s;
	struct vmsig_win_exports *x;
	struct vmsig_win_imports *im;
	struct vmsig_win_export f;
	struct vmsig_win_pe *pe;
	size_t i, nfwd = 0, nord = 0;
	int hits = 0;

	assert_int_equal(vmsig_win_pe_open_module(b->win, b->w.p[1].pid,
	    "NTDLL", &pe), 0);
	assert_int_equal(vmsig_win_pe_sections(pe, &s), 3);
	assert_string_equal(s[0].name, ".text");
	assert_int_equal(s[0].va, WI_DLL + 0x1000);
	assert_int_equal(s[0].characteristics, 0x60000020);
	assert_string_equal(s[2].name, ".data");
	free(s);
	assert_int_equal(vmsig_win_pe_exports(pe, &x), 0);
	assert_string_equal(x->dll_name, "ntdll.dll");
	assert_int_equal(x->n, 301);
	for (i = 0; i < x->n; i++) {
		assert_int_equal(x->v[i].ordinal, i + 1);
		if (x->v[i].forward != NULL) {
			nfwd++;
			assert_int_equal(x->v[i].va, 0);
			assert_memory_equal(x->v[i].forward, "NTDLL.Rtl", 9);
		}
		if (x->v[i].name == NULL) {
			nord++;
			continue;
		}
		assert_int_equal(vmsig_win_pe_export_find(pe, x->v[i].name,
		    &f), 0);
		assert_string_equal(f.name, x->v[i].name);
		assert_int_equal(f.ordinal, x->v[i].ordinal);
		assert_int_equal(f.va, x->v[i].va);
		if (x->v[i].forward != NULL)
			assert_string_equal(f.forward, x->v[i].forward);
	}
	assert_int_equal(nfwd, 6);
	assert_int_equal(nord, 1);
	vmsig_win_exports_free(x);
	assert_int_equal(vmsig_win_pe_export_find(pe, "Fn99999", &f),
	    -ENOENT);
	assert_int_equal(vmsig_win_pe_imports(pe, &im), 0);
	assert_int_equal(im->status, 0);
	assert_int_equal(im->n, 4);
	assert_string_equal(im->v[0].module, "KERNEL32.dll");
	assert_string_equal(im->v[0].name, "CreateFileW");
	assert_int_equal(im->v[0].ordinal, 5);
	assert_int_equal(im->v[0].iat, WI_DLL + b->w.dll_size - 0x1000);
	assert_null(im->v[2].name);
	assert_int_equal(im->v[2].ordinal, 17);
	assert_string_equal(im->v[3].module, "ntdll.dll");
	assert_string_equal(im->v[3].name, "RtlAllocateHeap");
	assert_int_equal(im->v[3].iat, WI_DLL + b->w.dll_size - 0x1000 + 32);
	vmsig_win_imports_free(im);
	assert_int_equal(vmsig_win_pe_scan_section(pe, ".rdata",
	    (const uint8_t *)"Fn00123", NULL, 7, count_hit, &hits), 1);
	assert_int_equal(vmsig_win_pe_scan_section(pe, ".nope",
	    (const uint8_t *)"Fn", NULL, 2, count_hit, &hits), -ENOENT);
	vmsig_win_pe_close(pe);
	hits = 0;
	assert_true(vmsig_win_scan_proc(b->win, b->w.p[1].pid,
	    (const uint8_t *)"Fn00123", NULL, 7, count_hit, &hits) >= 1);
}

static void
test_selfbuilt(void **state)
{
	unsigned int layout;
	struct sb b;

	(void)state;
	for (layout = 0; layout < 5; layout++) {
		sb_open(&b, layout, 12, 0);
		sb_offsets(&b);
		sb_procs(&b);
		sb_modules(&b);
		sb_pe(&b);
		sb_close(&b);
	}
}

static void
test_selfbuilt_corrupt(void **state)
{
	struct vmsig_win_procs *l;
	struct sb b;

	(void)state;
	sb_open(&b, 1, 12, 1);
	assert_int_equal(vmsig_win_proc_list(b.win, &l), 0);
	assert_int_equal(l->status, -EBADMSG);
	assert_int_equal(l->n, 6);
	vmsig_win_procs_free(l);
	sb_close(&b);
}

/*
 * A reboot under an open memory context: the old Windows context is
 * closed (the tracker does that at MEMCTX_INVALIDATED), a new one over the
 * new kcr3 finds the new boot's kernel and ring.
 */
static void
test_reboot(void **state)
{
	static const char *const a[] = { "--size", "256M", "--windows",
	    "22631", "--seed", "31", NULL };
	static const struct scene sc = { "reboot", a };
	struct gg_manifest *m2;
	struct vmsig_win_procs *l;
	char path[600];
	struct ctx c;
	json_object *root, *win;

	(void)state;
	open_scene(&sc, &c);
	check_offsets(&c);
	check_procs(&c);
	vmsig_win_close(c.w);
	c.w = NULL;
	snprintf(path, sizeof(path), "%s/%s.json", dir, sc.name);
	assert_int_equal(gg_reboot(path, c.m->image, 0, &m2), 0);
	root = json_object_from_file(path);
	assert_non_null(root);
	win = jget(root, "win");
	assert_non_null(win);
	vmsig_mem_flush(c.mem);
	assert_int_equal(vmsig_win_open(c.mem, m2->kcr3, &c.w), 0);
	assert_int_equal(vmsig_win_proc_list(c.w, &l), 0);
	assert_int_equal(l->n, jlen(jget(win, "processes")));
	assert_int_equal(l->v[l->n - 1].pid,
	    ju64(jat(jget(win, "processes"), l->n - 1), "pid"));
	assert_int_equal(l->v[0].eprocess, m2->system_eprocess);
	vmsig_win_procs_free(l);
	json_object_put(root);
	gg_manifest_free(m2);
	close_scene(&sc, &c);
}

/* --- arguments ------------------------------------------------------------ */

static void
test_args(void **state)
{
	struct vmsig_win_procs *p;
	struct vmsig_win_info in;
	struct vmsig_win *w;
	int err = 0;

	(void)state;
	assert_int_equal(vmsig_win_open(NULL, 0, &w), -EINVAL);
	assert_int_equal(vmsig_win_info(NULL, &in), -EINVAL);
	assert_int_equal(vmsig_win_proc_list(NULL, &p), -EINVAL);
	assert_int_equal(vmsig_win_fault_va(NULL), 0);
	vmsig_win_close(NULL);
	vmsig_win_procs_free(NULL);
	vmsig_win_modules_free(NULL);
	vmsig_win_exports_free(NULL);
	vmsig_win_imports_free(NULL);
	vmsig_win_pe_close(NULL);
	assert_null(vmsig_holder_win(NULL, 1, NULL, &err));
	assert_int_equal(err, -ENOENT);
}

/* A guest that is not Windows: mapped kernel pages, no ntoskrnl image. */
static void
test_not_windows(void **state)
{
	static uint8_t img[8u << 20];
	struct vmsig_mem *mem;
	struct vmsig_win *w;
	struct wimg g;
	char path[64];
	int rw, fd, i;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.m = img;
	g.size = sizeof(img);
	g.next = 0x100000;
	g.rng = 5;
	g.kcr3 = wi_frame(&g);
	for (i = 0; i < 64; i++) {
		uint64_t f = wi_frame(&g);

		wi_map(&g, g.kcr3, WI_KBASE + 0x1000ull * i, f, 0);
		/* MZ pages that are not PE images, and noise. */
		img[f] = 'M';
		img[f + 1] = 'Z';
		memset(img + f + 2, i, 100);
	}
	rw = kimg_memfd(img, sizeof(img));
	assert_true(rw >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	(void)close(rw);
	assert_true(fd >= 0);
	assert_int_equal(vmsig_mem_open(fd, sizeof(img), &mem), 0);
	assert_int_equal(vmsig_win_open(mem, g.kcr3, &w), -ENOENT);
	vmsig_mem_close(mem);
	(void)close(fd);
}

static const char *const a17763[] = { "--size", "256M", "--windows",
    "17763", "--seed", "3", NULL };
static const char *const a19045[] = { "--size", "256M", "--windows",
    "19045", "--seed", "4", NULL };
static const char *const a22631[] = { "--size", "256M", "--windows",
    "22631", "--seed", "5", NULL };
static const char *const a26100[] = { "--size", "256M", "--windows",
    "26100", "--seed", "6", NULL };
static const char *const ashift[] = { "--size", "256M", "--windows",
    "shifted", "--seed", "7", NULL };
static const char *const asplit[] = { "--size", "5G", "--low", "2G",
    "--windows", "19045", "--seed", "8", NULL };
static const char *const amany[] = { "--size", "512M", "--windows",
    "22631", "--procs", "120", "--modules", "40", "--exports", "600",
    "--seed", "9", NULL };

static const char *const a18363[] = { "--size", "256M", "--windows",
    "18363", "--seed", "12", NULL };
static const char *const a20348[] = { "--size", "256M", "--windows",
    "20348", "--seed", "13", NULL };
static const char *const a22000[] = { "--size", "256M", "--windows",
    "22000", "--seed", "14", NULL };
static const char *const a22621[] = { "--size", "256M", "--windows",
    "22621", "--seed", "15", NULL };
static const char *const acorrupt[] = { "--size", "256M", "--windows",
    "19045", "--procs", "30", "--corrupt-ring", "--seed", "16", NULL };
static const char *const acorrupt2[] = { "--size", "256M", "--windows",
    "26100", "--procs", "5", "--corrupt-ring", "--seed", "17", NULL };
static const char *const ashiftsplit[] = { "--size", "6G", "--low", "3G",
    "--windows", "shifted", "--procs", "60", "--seed", "18", NULL };

static struct scene scenes[] = {
	{ "w17763", a17763 }, { "w19045", a19045 }, { "w22631", a22631 },
	{ "w26100", a26100 }, { "shifted", ashift }, { "split", asplit },
	{ "many", amany }, { "w18363", a18363 }, { "w20348", a20348 },
	{ "w22000", a22000 }, { "w22621", a22621 }, { "corrupt", acorrupt },
	{ "corrupt2", acorrupt2 }, { "shiftsplit", ashiftsplit },
};

static int
group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/vmsig-win-XXXXXX", tmp_base());
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	(void)rmdir(dir);
	return 0;
}

/* One EPROCESS breaks the rules of two fields; the rest still decide. */
static void
patch_one(struct wimg *w)
{
	const struct wi_layout *L = w->L;

	wi_w64(w, w->kcr3, w->p[7].ep + L->ppid, 0x1235);
	wi_w64(w, w->kcr3, w->p[7].ep + L->peb, 0xffffff0000001000ull);
}

static void
test_selfbuilt_tolerant(void **state)
{
	struct vmsig_win_offset o;
	struct sb b;

	(void)state;
	sb_open_patched(&b, 0, 20, 0, patch_one);
	assert_int_equal(vmsig_win_offset(b.win, 3, &o), 0);
	assert_string_equal(o.name, "EPROCESS.InheritedFromUniqueProcessId");
	assert_int_equal(o.offset, b.w.L->ppid);
	assert_int_equal(vmsig_win_offset(b.win, 5, &o), 0);
	assert_int_equal(o.offset, b.w.L->peb);
	sb_close(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_not_windows),
		cmocka_unit_test(test_selfbuilt),
		cmocka_unit_test(test_selfbuilt_corrupt),
		cmocka_unit_test(test_selfbuilt_tolerant),
		cmocka_unit_test(test_reboot),
		cmocka_unit_test_prestate(run_scene, &scenes[0]),
		cmocka_unit_test_prestate(run_scene, &scenes[1]),
		cmocka_unit_test_prestate(run_scene, &scenes[2]),
		cmocka_unit_test_prestate(run_scene, &scenes[3]),
		cmocka_unit_test_prestate(run_scene, &scenes[4]),
		cmocka_unit_test_prestate(run_scene, &scenes[5]),
		cmocka_unit_test_prestate(run_scene, &scenes[6]),
		cmocka_unit_test_prestate(run_scene, &scenes[7]),
		cmocka_unit_test_prestate(run_scene, &scenes[8]),
		cmocka_unit_test_prestate(run_scene, &scenes[9]),
		cmocka_unit_test_prestate(run_scene, &scenes[10]),
		cmocka_unit_test_prestate(run_scene, &scenes[11]),
		cmocka_unit_test_prestate(run_scene, &scenes[12]),
		cmocka_unit_test_prestate(run_scene, &scenes[13]),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
