/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl exports, sections and imports: one PE image in guest memory,
 * named by a process and a module of it ("ntdll", "ntdll.dll", or its
 * base address as 0x-hex), read through the library's Windows context.
 * Forwarded exports are shown as their "DLL.Name" string, never as an
 * address; an import table that ends early prints what it read and a
 * warning, and exits 0 like the other listings.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsig/win.h>

#include "vmsigctl.h"

/* PE section characteristics (IMAGE_SCN_MEM_*). */
#define SCN_EXECUTE	0x20000000u
#define SCN_READ	0x40000000u
#define SCN_WRITE	0x80000000u

struct pecmd {
	const char *name;	/* the command */
	uint32_t ep, pid;
	const char *module;	/* MODULE as given */
	int json;
};

/* ENDPOINT PID MODULE after the options. */
static int
pe_operands(const char *cmd, int argc, char **argv, struct vmsigctl_memopt *o,
    struct pecmd *c)
{
	int first;

	memset(c, 0, sizeof(*c));
	c->name = cmd;
	if (vmsigctl_win_operands(argc, argv, 3, "ENDPOINT PID MODULE", o,
	    &c->ep, &c->pid, &first) < 0)
		return -EINVAL;
	if (argv[first + 2][0] == '\0')
		return vmsigctl_bad("MODULE is empty: give a name (ntdll.dll) "
		    "or a base address (0x...)");
	c->module = argv[first + 2];
	c->json = o->json;
	return 0;
}

static void
pe_warn(const struct pecmd *c, int r)
{
	const char *why;

	switch (r) {
	case -ENOENT:
		vmsigctl_warnx("%s: endpoint %" PRIu32 ": pid %" PRIu32 " has "
		    "no module '%s' (see vmsigctl modules %" PRIu32 " %" PRIu32
		    ")", c->name, c->ep, c->pid, c->module, c->ep, c->pid);
		return;
	case -ENOEXEC:
		why = "not a PE image";
		break;
	case -EFAULT:
		why = "its headers are not present (paged out?)";
		break;
	case -ENODATA:
		why = "the process has no PEB, so no user modules (pid 4 "
		    "lists the kernel's)";
		break;
	case -EBADMSG:
		why = "a count or RVA of the image lies outside it";
		break;
	default:
		why = strerror(-r);
		break;
	}
	vmsigctl_warnx("%s: endpoint %" PRIu32 " pid %" PRIu32 " module %s: "
	    "%s", c->name, c->ep, c->pid, c->module, why);
}

/* The image: by base address (0x...) or by module name. */
static int
pe_open(struct vmsigctl_win *w, const struct pecmd *c,
    struct vmsig_win_pe **ret)
{
	uint64_t base, cr3;
	int r;

	if (vmsigctl_win_dtb(w, c->pid, &cr3) != CTL_OK)
		return CTL_FAIL;
	if (strncmp(c->module, "0x", 2) == 0 &&
	    vmsigctl_mem_addr(c->module, &base) == 0)
		r = vmsig_win_pe_open(w->win, cr3, base, ret);
	else
		r = vmsig_win_pe_open_module(w->win, c->pid, c->module, ret);
	if (r < 0) {
		pe_warn(c, r);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Attach, open the image, run fn, tear down. */
static int
pe_run(const char *socket, const struct vmsigctl_memopt *o,
    const struct pecmd *c,
    int (*fn)(struct vmsig_win_pe *, const struct pecmd *))
{
	struct vmsig_win_pe *pe;
	struct vmsigctl_win w;
	int r;

	if ((r = vmsigctl_win_attach(socket, c->ep, o->timeout_ms, &w)) !=
	    CTL_OK)
		return r;
	if ((r = pe_open(&w, c, &pe)) == CTL_OK) {
		r = fn(pe, c);
		if (r == CTL_OK)
			r = vmsigctl_win_stdout_ok();
		vmsig_win_pe_close(pe);
	}
	vmsigctl_win_detach(&w);
	return r;
}

static void
exports_json(const struct vmsig_win_exports *x)
{
	const struct vmsig_win_export *e;
	size_t i;

	printf("[");
	for (i = 0; i < x->n; i++) {
		e = &x->v[i];
		vmsigctl_win_json_item(i, "name");
		vmsigctl_json_strn(stdout, e->name);
		printf(",\"ordinal\":%" PRIu32 ",\"va\":", e->ordinal);
		if (e->forward != NULL)
			printf("null");
		else
			printf("\"0x%" PRIx64 "\"", e->va);
		printf(",\"forward\":");
		vmsigctl_json_strn(stdout, e->forward);
		printf("}");
	}
	printf("\n]\n");
}

static int
exports_text(const struct vmsig_win_exports *x, const struct pecmd *c)
{
	static const char *const head[] = { "ORDINAL", "VA", "NAME",
	    "FORWARD" };
	const struct vmsig_win_export *e;
	struct vmsigctl_table t;
	size_t i;

	printf("pid %" PRIu32 " module %s: ", c->pid, c->module);
	vmsigctl_text_str(stdout, x->dll_name[0] ? x->dll_name : "(no name)",
	    0);
	printf(", %zu exports\n", x->n);
	vmsigctl_table_init(&t, head, 4, 0x1);
	for (i = 0; i < x->n; i++) {
		e = &x->v[i];
		vmsigctl_table_cell(&t, "%" PRIu32, e->ordinal);
		if (e->forward != NULL)
			vmsigctl_table_cell(&t, "-");
		else
			vmsigctl_table_cell(&t, "0x%" PRIx64, e->va);
		vmsigctl_table_guest(&t, "", e->name);
		vmsigctl_table_guest(&t, "", e->forward);
	}
	return vmsigctl_table_print(stdout, &t);
}

static int
do_exports(struct vmsig_win_pe *pe, const struct pecmd *c)
{
	struct vmsig_win_exports *x;
	int r;

	if ((r = vmsig_win_pe_exports(pe, &x)) < 0) {
		pe_warn(c, r);
		return CTL_FAIL;
	}
	if (c->json) {
		exports_json(x);
		r = CTL_OK;
	} else
		r = exports_text(x, c);
	vmsig_win_exports_free(x);
	return r;
}

int
vmsigctl_winpe_exports_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct pecmd c;

	if (pe_operands("exports", argc, argv, &o, &c) < 0)
		return vmsigctl_usage("exports");
	return pe_run(socket, &o, &c, do_exports);
}

static int
do_sections(struct vmsig_win_pe *pe, const struct pecmd *c)
{
	static const char *const head[] = { "NAME", "VA", "SIZE",
	    "CHARACTERISTICS", "RIGHTS" };
	struct vmsig_win_section *s;
	struct vmsigctl_table t;
	int i, n;

	if ((n = vmsig_win_pe_sections(pe, &s)) < 0) {
		pe_warn(c, n);
		return CTL_FAIL;
	}
	if (c->json)
		printf("[");
	else
		vmsigctl_table_init(&t, head, 5, 0);
	for (i = 0; i < n; i++) {
		if (c->json) {
			vmsigctl_win_json_item(i, "name");
			vmsigctl_json_str(stdout, s[i].name);
			printf(",\"va\":\"0x%" PRIx64 "\",\"size\":\"0x%" PRIx64
			    "\",\"characteristics\":%" PRIu32 "}", s[i].va,
			    s[i].size, s[i].characteristics);
			continue;
		}
		vmsigctl_table_guest(&t, "", s[i].name);
		vmsigctl_table_cell(&t, "0x%" PRIx64, s[i].va);
		vmsigctl_table_cell(&t, "0x%" PRIx64, s[i].size);
		vmsigctl_table_cell(&t, "0x%08" PRIx32, s[i].characteristics);
		vmsigctl_table_cell(&t, "%c%c%c",
		    s[i].characteristics & SCN_READ ? 'r' : '-',
		    s[i].characteristics & SCN_WRITE ? 'w' : '-',
		    s[i].characteristics & SCN_EXECUTE ? 'x' : '-');
	}
	free(s);
	if (c->json) {
		printf("\n]\n");
		return CTL_OK;
	}
	return vmsigctl_table_print(stdout, &t);
}

int
vmsigctl_winpe_sections_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct pecmd c;

	if (pe_operands("sections", argc, argv, &o, &c) < 0)
		return vmsigctl_usage("sections");
	return pe_run(socket, &o, &c, do_sections);
}

static void
imports_json(const struct vmsig_win_imports *x)
{
	const struct vmsig_win_import *p;
	size_t i;

	printf("[");
	for (i = 0; i < x->n; i++) {
		p = &x->v[i];
		vmsigctl_win_json_item(i, "module");
		vmsigctl_json_strn(stdout, p->module);
		printf(",\"name\":");
		vmsigctl_json_strn(stdout, p->name);
		/* By name, the number is the loader's hint, not an ordinal. */
		if (p->name != NULL)
			printf(",\"ordinal\":null,\"hint\":%" PRIu32, p->ordinal);
		else
			printf(",\"ordinal\":%" PRIu32 ",\"hint\":null",
			    p->ordinal);
		printf(",\"iat\":\"0x%" PRIx64 "\"}", p->iat);
	}
	printf("\n]\n");
}

static int
imports_text(const struct vmsig_win_imports *x)
{
	static const char *const head[] = { "IAT", "MODULE", "NAME",
	    "ORDINAL/HINT" };
	const struct vmsig_win_import *p;
	struct vmsigctl_table t;
	size_t i;

	vmsigctl_table_init(&t, head, 4, 0);
	for (i = 0; i < x->n; i++) {
		p = &x->v[i];
		vmsigctl_table_cell(&t, "0x%" PRIx64, p->iat);
		vmsigctl_table_guest(&t, "", p->module);
		vmsigctl_table_guest(&t, "", p->name);
		vmsigctl_table_cell(&t, "%s%" PRIu32, p->name != NULL ?
		    "hint " : "#", p->ordinal);
	}
	return vmsigctl_table_print(stdout, &t);
}

static int
do_imports(struct vmsig_win_pe *pe, const struct pecmd *c)
{
	struct vmsig_win_imports *x;
	int r;

	if ((r = vmsig_win_pe_imports(pe, &x)) < 0) {
		pe_warn(c, r);
		return CTL_FAIL;
	}
	if (c->json) {
		imports_json(x);
		r = CTL_OK;
	} else
		r = imports_text(x);
	if (x->status != 0)
		vmsigctl_warnx("warning: imports: endpoint %" PRIu32 " pid %"
		    PRIu32 " module %s: the import table ends early: %s; the "
		    "entries shown were read before it", c->ep, c->pid,
		    c->module, x->status == -EBADMSG ? "a descriptor lies "
		    "outside the image" : strerror(-x->status));
	vmsig_win_imports_free(x);
	return r;
}

int
vmsigctl_winpe_imports_main(const char *socket, int argc, char **argv)
{
	struct vmsigctl_memopt o;
	struct pecmd c;

	if (pe_operands("imports", argc, argv, &o, &c) < 0)
		return vmsigctl_usage("imports");
	return pe_run(socket, &o, &c, do_imports);
}
