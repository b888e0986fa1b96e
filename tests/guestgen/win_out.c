/* SPDX-License-Identifier: MIT */
/*
 * The manifest's "win" object: what a Windows context must find in the
 * image (build, kernel, list heads, offsets, processes in ring order, the
 * ring's status, module lists, PE sections/exports/imports of chosen
 * images, decoys it must not list).  Format in tests/guestgen/README.md.
 *
 * Runs in: tests (guestgen)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "win.h"

static void
hx_or_null(FILE *f, const char *key, uint64_t v)
{
	if (v == 0)
		fprintf(f, "\"%s\":null", key);
	else
		manifest_out_hex(f, key, v, "");
}

static void
proc(FILE *f, const struct win_proc *p)
{
	int fault = !p->no_peb && (p->exited || p->peb_absent);

	fprintf(f, "{\"pid\":%u,\"ppid\":%u,\"name\":", p->pid, p->ppid);
	manifest_out_str(f, p->name);
	fputs(",\"path\":", f);
	manifest_out_str(f, p->no_peb || fault ? NULL : p->path);
	fputc(',', f);
	manifest_out_hex(f, "eprocess", p->eproc, ",");
	manifest_out_hex(f, "dtb", p->dtb, ",");
	manifest_out_hex(f, "user_dtb", p->udtb, ",");
	manifest_out_hex(f, "peb", p->peb, "");
	fprintf(f, ",\"exited\":%s,\"wow64\":%s,", p->exited ? "true" : "false",
	    p->wow64 ? "true" : "false");
	hx_or_null(f, "path_fault", fault ? p->peb : 0);
	fputc('}', f);
}

/* One module list; p (NULL for the kernel's) may have paged-out parts. */
static void
modlist(FILE *f, uint32_t pid, int status, uint64_t fault,
    struct win_img *const *m, size_t n, const struct win_proc *p)
{
	size_t i;
	int names;

	fprintf(f, "\n  {\"pid\":%u,\"status\":%d,", pid, status);
	hx_or_null(f, "fault_va", fault);
	fputs(",\"list\":[", f);
	for (i = 0; i < n; i++) {
		names = !(p != NULL && p->names_va != 0 && i == p->out_names);
		fprintf(f, "%s{\"name\":", i ? "," : "");
		manifest_out_str(f, names ? m[i]->name : NULL);
		fputs(",\"path\":", f);
		manifest_out_str(f, names ? m[i]->path : NULL);
		fputc(',', f);
		manifest_out_hex(f, "base", m[i]->base, ",");
		manifest_out_hex(f, "size", m[i]->size, ",");
		manifest_out_hex(f, "entry", m[i]->entry_rva ?
		    m[i]->base + m[i]->entry_rva : 0, ",");
		hx_or_null(f, "fault_va", names ? 0 : p->names_va);
		fputc(',', f);
		hx_or_null(f, "header_fault", p != NULL && p->out_header == i &&
		    i > 0 ? m[i]->base : 0);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void
modules(FILE *f, const struct win *w)
{
	size_t i, k = 0;

	fputs("\"modules\":[", f);
	for (i = 0; i < w->nprocs; i++) {
		const struct win_proc *p = &w->procs[i];

		if (!p->reachable || (p->no_peb && p->pid != 4))
			continue;
		if (k++)
			fputc(',', f);
		if (p->pid == 4)
			modlist(f, 4, 0, 0, w->kmods, w->nkmods, NULL);
		else if (p->exited || p->peb_absent)
			modlist(f, p->pid, EFAULT, p->peb, NULL, 0, p);
		else if (p->entry_va != 0)
			modlist(f, p->pid, EFAULT, p->entry_va, p->mods,
			    p->out_entry, p);
		else
			modlist(f, p->pid, 0, 0, p->mods, p->nmods, p);
	}
	fputs("],\n", f);
}

static void
pe_one(FILE *f, const struct win_img *m)
{
	size_t i;

	fprintf(f, "\n  {\"pid\":%u,\"module\":", m->emit);
	manifest_out_str(f, m->name);
	fputc(',', f);
	manifest_out_hex(f, "base", m->base, "");
	fprintf(f, ",\"bits\":%d,\"sections\":[", m->bits);
	for (i = 0; i < m->nsec; i++) {
		fprintf(f, "%s{\"name\":", i ? "," : "");
		manifest_out_str(f, m->sec[i].name);
		fputc(',', f);
		manifest_out_hex(f, "va", m->base + m->sec[i].rva, ",");
		manifest_out_hex(f, "size", m->sec[i].size, "");
		fprintf(f, ",\"characteristics\":%u}", m->sec[i].chars);
	}
	fputs("],\"exports\":[", f);
	for (i = 0; i < m->nexp; i++) {
		const struct win_exp *e = &m->exp[i];

		fprintf(f, "%s\n   {\"name\":", i ? "," : "");
		manifest_out_str(f, e->name);
		fprintf(f, ",\"ordinal\":%u,", e->ordinal);
		hx_or_null(f, "va", e->forward ? 0 : m->base + e->rva);
		fputs(",\"forward\":", f);
		manifest_out_str(f, e->forward);
		fputc('}', f);
	}
	fputs("],\"imports\":[", f);
	for (i = 0; i < m->nimp; i++) {
		const struct win_imp *p = &m->imp[i];

		fprintf(f, "%s{\"module\":", i ? "," : "");
		manifest_out_str(f, p->module);
		fputs(",\"name\":", f);
		manifest_out_str(f, p->name);
		fprintf(f, ",\"ordinal\":%u,", p->ordinal);
		manifest_out_hex(f, "iat", m->base + p->iat_rva, "");
		fputc('}', f);
	}
	fputs("]}", f);
}

static int
pid_reachable(const struct win *w, uint32_t pid)
{
	size_t i;

	for (i = 0; i < w->nprocs; i++)
		if (w->procs[i].pid == pid)
			return w->procs[i].reachable;
	return 0;
}

void
win_out(const struct guest *g, FILE *f)
{
	const struct win *w = g->win;
	const struct win_field *fl;
	size_t i, k = 0;

	fprintf(f, ",\n\"win\":{\"build\":%u,\"layout\":",
	    (unsigned int)(w->build_raw & 0xffff));
	manifest_out_str(f, w->L->name);
	fputc(',', f);
	manifest_out_hex(f, "build_raw", w->build_raw, ",");
	manifest_out_hex(f, "kernel_base", g->kernel_base, ",");
	manifest_out_hex(f, "kernel_size", PE_KIMG_SIZE, ",");
	manifest_out_hex(f, "system_eprocess", g->sys_eproc, "");
	fputs(",\n", f);
	manifest_out_hex(f, "ps_active_process_head", w->active_head, ",");
	manifest_out_hex(f, "ps_loaded_module_list", w->module_head, ",");
	manifest_out_hex(f, "mm_process_list", w->mm_head, "");
	fprintf(f, ",\n\"options\":{\"procs\":%u,\"modules\":%u,\"exports\":%u,"
	    "\"corrupt_ring\":%s},\n\"offsets\":{", w->opt.procs,
	    w->opt.modules, w->opt.exports, w->opt.corrupt_ring ? "true" :
	    "false");
	for (fl = win_fields; fl->name != NULL; fl++)
		fprintf(f, "%s\"%s\":%u", fl == win_fields ? "" : ",", fl->name,
		    win_field_off(w->L, fl));
	fputs("},\n\"processes\":[", f);
	for (i = 0; i < w->nprocs; i++) {
		if (!w->procs[i].reachable)
			continue;
		fputs(k++ ? ",\n " : "\n ", f);
		proc(f, &w->procs[i]);
	}
	fprintf(f, "],\n\"ring_status\":%d,", w->ring_status);
	hx_or_null(f, "ring_break", w->ring_break);
	fputs(",\n\"decoys\":[", f);
	for (i = 0; i < w->ndecoys; i++)
		fprintf(f, "%s\"0x%llx\"", i ? "," : "",
		    (unsigned long long)w->decoys[i]);
	fputs("],\n", f);
	modules(f, w);
	fputs("\"pe\":[", f);
	for (i = 0, k = 0; i < w->nimgs; i++) {
		if (w->imgs[i]->emit == 0 || !pid_reachable(w, w->imgs[i]->emit))
			continue;
		if (k++)
			fputc(',', f);
		pe_one(f, w->imgs[i]);
	}
	fputs("]}", f);
}
