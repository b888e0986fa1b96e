/* SPDX-License-Identifier: MIT */
/*
 * Loads the "win" object of a guestgen manifest (the ground truth of the
 * Windows scene: build, kernel, offsets, processes, module lists, PE
 * images) into struct gg_win, and looks things up in it.  Format in
 * tests/guestgen/README.md.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "manifest.h"

/* gg_json_u64, where a missing or null value reads as 0. */
static int
hex_of(json_object *v, uint64_t *ret)
{
	*ret = 0;
	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	return gg_json_u64(v, ret);
}

static json_object *
get(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int
hex(json_object *o, const char *key, uint64_t *ret)
{
	return hex_of(get(o, key), ret);
}

static uint32_t
num(json_object *o, const char *key)
{
	return (uint32_t)json_object_get_int64(get(o, key));
}

static int
flag(json_object *o, const char *key)
{
	return json_object_get_boolean(get(o, key));
}

/* A string or null; -ENOMEM only. */
static int
str(json_object *o, const char *key, char **ret)
{
	json_object *v = get(o, key);

	*ret = NULL;
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return 0;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static int
load_procs(json_object *w, struct gg_win *g)
{
	json_object *a, *o;
	size_t i;
	int r;

	r = gg_json_array(w, "processes", sizeof(*g->procs), &a,
	    (void **)&g->procs, &g->nprocs);
	for (i = 0; r == 0 && i < g->nprocs; i++) {
		struct gg_win_proc *p = &g->procs[i];

		o = json_object_array_get_idx(a, i);
		p->pid = num(o, "pid");
		p->ppid = num(o, "ppid");
		p->exited = flag(o, "exited");
		p->wow64 = flag(o, "wow64");
		if ((r = str(o, "name", &p->name)) < 0 ||
		    (r = str(o, "path", &p->path)) < 0 ||
		    (r = hex(o, "eprocess", &p->eprocess)) < 0 ||
		    (r = hex(o, "dtb", &p->dtb)) < 0 ||
		    (r = hex(o, "user_dtb", &p->user_dtb)) < 0 ||
		    (r = hex(o, "peb", &p->peb)) < 0 ||
		    (r = hex(o, "path_fault", &p->path_fault)) < 0)
			return r;
		if (p->name == NULL)
			return -EINVAL;
	}
	return r;
}

static int
load_modlists(json_object *w, struct gg_win *g)
{
	json_object *a, *o, *l;
	size_t i, j;
	int r;

	r = gg_json_array(w, "modules", sizeof(*g->modlists), &a,
	    (void **)&g->modlists, &g->nmodlists);
	for (i = 0; r == 0 && i < g->nmodlists; i++) {
		struct gg_win_modlist *ml = &g->modlists[i];

		o = json_object_array_get_idx(a, i);
		ml->pid = num(o, "pid");
		ml->status = (int)num(o, "status");
		if ((r = hex(o, "fault_va", &ml->fault_va)) < 0 ||
		    (r = gg_json_array(o, "list", sizeof(*ml->v), &l,
		    (void **)&ml->v, &ml->n)) < 0)
			return r;
		for (j = 0; r == 0 && j < ml->n; j++) {
			struct gg_win_module *m = &ml->v[j];
			json_object *e = json_object_array_get_idx(l, j);

			if ((r = str(e, "name", &m->name)) < 0 ||
			    (r = str(e, "path", &m->path)) < 0 ||
			    (r = hex(e, "base", &m->base)) < 0 ||
			    (r = hex(e, "size", &m->size)) < 0 ||
			    (r = hex(e, "fault_va", &m->fault_va)) < 0 ||
			    (r = hex(e, "header_fault", &m->header_fault)) < 0)
				return r;
			r = hex(e, "entry", &m->entry);
		}
	}
	return r;
}

static int
load_pe_lists(json_object *o, struct gg_win_pe *p)
{
	json_object *a, *e;
	size_t i;
	int r;

	r = gg_json_array(o, "sections", sizeof(*p->sections), &a,
	    (void **)&p->sections, &p->nsections);
	for (i = 0; r == 0 && i < p->nsections; i++) {
		e = json_object_array_get_idx(a, i);
		p->sections[i].characteristics = num(e, "characteristics");
		if ((r = str(e, "name", &p->sections[i].name)) < 0 ||
		    (r = hex(e, "va", &p->sections[i].va)) < 0)
			return r;
		r = hex(e, "size", &p->sections[i].size);
	}
	if (r == 0)
		r = gg_json_array(o, "exports", sizeof(*p->exports), &a,
		    (void **)&p->exports, &p->nexports);
	for (i = 0; r == 0 && i < p->nexports; i++) {
		e = json_object_array_get_idx(a, i);
		p->exports[i].ordinal = num(e, "ordinal");
		if ((r = str(e, "name", &p->exports[i].name)) < 0 ||
		    (r = str(e, "forward", &p->exports[i].forward)) < 0)
			return r;
		r = hex(e, "va", &p->exports[i].va);
	}
	if (r == 0)
		r = gg_json_array(o, "imports", sizeof(*p->imports), &a,
		    (void **)&p->imports, &p->nimports);
	for (i = 0; r == 0 && i < p->nimports; i++) {
		e = json_object_array_get_idx(a, i);
		p->imports[i].ordinal = num(e, "ordinal");
		if ((r = str(e, "module", &p->imports[i].module)) < 0 ||
		    (r = str(e, "name", &p->imports[i].name)) < 0)
			return r;
		r = hex(e, "iat", &p->imports[i].iat);
	}
	return r;
}

static int
load_pe(json_object *w, struct gg_win *g)
{
	json_object *a, *o;
	size_t i;
	int r;

	r = gg_json_array(w, "pe", sizeof(*g->pe), &a, (void **)&g->pe,
	    &g->npe);
	for (i = 0; r == 0 && i < g->npe; i++) {
		struct gg_win_pe *p = &g->pe[i];

		o = json_object_array_get_idx(a, i);
		p->pid = num(o, "pid");
		p->bits = num(o, "bits");
		if ((r = str(o, "module", &p->module)) < 0 ||
		    (r = hex(o, "base", &p->base)) < 0)
			return r;
		r = load_pe_lists(o, p);
	}
	return r;
}

static int
load_offsets(json_object *w, struct gg_win *g)
{
	json_object *o = get(w, "offsets");
	size_t n = 0;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -EINVAL;
	g->offsets = calloc((size_t)json_object_object_length(o) + 1,
	    sizeof(*g->offsets));
	if (g->offsets == NULL)
		return -ENOMEM;
	json_object_object_foreach(o, key, val) {
		g->offsets[n].name = strdup(key);
		if (g->offsets[n].name == NULL)
			return -ENOMEM;
		g->offsets[n++].offset = (uint32_t)json_object_get_int(val);
		g->noffsets = n;
	}
	return 0;
}

static int
load_decoys(json_object *w, struct gg_win *g)
{
	json_object *a;
	size_t i;
	int r;

	r = gg_json_array(w, "decoys", sizeof(*g->decoys), &a,
	    (void **)&g->decoys, &g->ndecoys);
	for (i = 0; r == 0 && i < g->ndecoys; i++)
		r = hex_of(json_object_array_get_idx(a, i), &g->decoys[i]);
	return r;
}

int
gg_win_load(void *root, struct gg_manifest *m)
{
	struct gg_win *g = &m->win;
	json_object *w = get(root, "win"), *o;
	int r;

	if (w == NULL)
		return 0;
	if (!json_object_is_type(w, json_type_object))
		return -EINVAL;
	g->present = 1;
	g->build = num(w, "build");
	g->ring_status = (int)num(w, "ring_status");
	if ((o = get(w, "options")) != NULL) {
		g->opt_procs = num(o, "procs");
		g->opt_modules = num(o, "modules");
		g->opt_exports = num(o, "exports");
		g->corrupt_ring = flag(o, "corrupt_ring");
	}
	if ((r = str(w, "layout", &g->layout)) < 0 ||
	    (r = hex(w, "build_raw", &g->build_raw)) < 0 ||
	    (r = hex(w, "kernel_base", &g->kernel_base)) < 0 ||
	    (r = hex(w, "kernel_size", &g->kernel_size)) < 0 ||
	    (r = hex(w, "system_eprocess", &g->system_eprocess)) < 0 ||
	    (r = hex(w, "ps_active_process_head",
	    &g->ps_active_process_head)) < 0 ||
	    (r = hex(w, "ps_loaded_module_list",
	    &g->ps_loaded_module_list)) < 0 ||
	    (r = hex(w, "mm_process_list", &g->mm_process_list)) < 0 ||
	    (r = hex(w, "ring_break", &g->ring_break)) < 0 ||
	    (r = load_offsets(w, g)) < 0 || (r = load_procs(w, g)) < 0 ||
	    (r = load_decoys(w, g)) < 0 || (r = load_modlists(w, g)) < 0)
		return r;
	return load_pe(w, g);
}

void
gg_win_free(struct gg_win *g)
{
	size_t i, j;

	for (i = 0; g->offsets != NULL && i < g->noffsets; i++)
		free(g->offsets[i].name);
	for (i = 0; g->procs != NULL && i < g->nprocs; i++) {
		free(g->procs[i].name);
		free(g->procs[i].path);
	}
	for (i = 0; g->modlists != NULL && i < g->nmodlists; i++) {
		for (j = 0; g->modlists[i].v != NULL && j < g->modlists[i].n;
		    j++) {
			free(g->modlists[i].v[j].name);
			free(g->modlists[i].v[j].path);
		}
		free(g->modlists[i].v);
	}
	for (i = 0; g->pe != NULL && i < g->npe; i++) {
		struct gg_win_pe *p = &g->pe[i];

		for (j = 0; p->sections != NULL && j < p->nsections; j++)
			free(p->sections[j].name);
		for (j = 0; p->exports != NULL && j < p->nexports; j++) {
			free(p->exports[j].name);
			free(p->exports[j].forward);
		}
		for (j = 0; p->imports != NULL && j < p->nimports; j++) {
			free(p->imports[j].module);
			free(p->imports[j].name);
		}
		free(p->module);
		free(p->sections);
		free(p->exports);
		free(p->imports);
	}
	free(g->layout);
	free(g->offsets);
	free(g->procs);
	free(g->decoys);
	free(g->modlists);
	free(g->pe);
	memset(g, 0, sizeof(*g));
}

const struct gg_win_proc *
gg_win_proc_by_pid(const struct gg_manifest *m, uint32_t pid)
{
	size_t i;

	for (i = 0; m != NULL && i < m->win.nprocs; i++)
		if (m->win.procs[i].pid == pid)
			return &m->win.procs[i];
	return NULL;
}

const struct gg_win_modlist *
gg_win_mods_by_pid(const struct gg_manifest *m, uint32_t pid)
{
	size_t i;

	for (i = 0; m != NULL && i < m->win.nmodlists; i++)
		if (m->win.modlists[i].pid == pid)
			return &m->win.modlists[i];
	return NULL;
}

int64_t
gg_win_offset(const struct gg_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; m != NULL && name != NULL && i < m->win.noffsets; i++)
		if (strcmp(m->win.offsets[i].name, name) == 0)
			return m->win.offsets[i].offset;
	return -1;
}
