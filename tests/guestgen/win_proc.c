/* SPDX-License-Identifier: MIT */
/*
 * The processes of the Windows scene and their user address spaces: a
 * plausible desktop (System, Registry, smss, csrss, wininit, services,
 * lsass, svchost, explorer, ...) with pids that are multiples of 4 and
 * parents that may have exited, each user process with its own PML4 (the
 * kernel half cloned), KUSER_SHARED_DATA, a PEB, RTL_USER_PROCESS_PARAMETERS
 * (UTF-16 strings), PEB_LDR_DATA with its three module lists of
 * LDR_DATA_TABLE_ENTRY records, and the images mapped.  The traps live
 * here too: a WOW64 process with a PE32 executable, a name longer than
 * ImageFileName's 15 bytes, a zombie whose user half is gone, a process
 * whose PEB page is paged out, a path that is not ASCII.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define P_NOPEB		0x01u	/* no PEB (System-like) */
#define P_WOW64		0x02u
#define P_ZOMBIE	0x04u
#define P_PAGED		0x08u	/* PEB page paged out */
#define P_MODS		0x10u	/* gets --modules modules */
#define P_OUT_ENTRY	0x20u	/* its 3rd loader entry is paged out */
#define P_OUT_NAMES	0x40u	/* 4th module's names paged out, 5th's
				 * header not mapped */
#define KUSD_VA		0x7ffe0000ull
#define LDR_ENTRY	0x120u

struct pdef {
	const char *file, *path;
	int parent;		/* index in `first`; -1: an exited parent */
	unsigned int flags, session;
	const char *args;
};

#define SYS32	"C:\\Windows\\system32\\"
static const struct pdef first[] = {
	{ "System", NULL, -2, P_NOPEB, 0, NULL },
	{ "Secure System", NULL, 0, P_NOPEB, 0, NULL },
	{ "Registry", NULL, 0, P_NOPEB, 0, NULL },
	{ "smss.exe", "\\SystemRoot\\System32\\smss.exe", 0, 0, 0, NULL },
	{ "csrss.exe", SYS32 "csrss.exe", -1, 0, 0, "ObjectDirectory=\\Windows" },
	{ "wininit.exe", SYS32 "wininit.exe", -1, 0, 0, NULL },
	{ "services.exe", SYS32 "services.exe", 5, P_OUT_ENTRY, 0, NULL },
	{ "lsass.exe", SYS32 "lsass.exe", 5, P_OUT_NAMES, 0, NULL },
	{ "svchost.exe", SYS32 "svchost.exe", 6, 0, 0, "-k DcomLaunch -p" },
	{ "explorer.exe", "C:\\Windows\\Explorer.EXE", -1, P_MODS, 1, NULL },
	{ "OneDrive.exe", "C:\\Program Files (x86)\\Microsoft OneDrive\\"
	  "OneDrive.exe", 9, P_WOW64, 1, "/background" },
	{ "MicrosoftEdgeUpdate.exe", "C:\\Program Files (x86)\\Microsoft\\"
	  "EdgeUpdate\\MicrosoftEdgeUpdate.exe", 6, 0, 0, "/svc" },
	{ "spoolsv.exe", SYS32 "spoolsv.exe", 6, P_PAGED, 0, NULL },
	{ "conhost.exe", SYS32 "conhost.exe", 9, P_ZOMBIE, 1, "0xffffffff" },
	{ "setup.exe", "C:\\Users\\J\xc3\xbcrgen\\AppData\\Local\\Temp\\"
	  "setup.exe", 9, 0, 1, "/quiet" },
	{ "MemCompression", NULL, 0, P_NOPEB, 0, NULL },
};
#define NFIRST	(sizeof(first) / sizeof(first[0]))

static const struct pdef cycle[] = {
	{ "svchost.exe", SYS32 "svchost.exe", 6, 0, 0, "-k netsvcs -p" },
	{ "RuntimeBroker.exe", SYS32 "RuntimeBroker.exe", 8, 0, 1, "-Embedding" },
	{ "backgroundTaskHost.exe", SYS32 "backgroundTaskHost.exe", 8, 0, 1,
	  "-ServerName:App.AppX" },
	{ "SearchProtocolHost.exe", SYS32 "SearchProtocolHost.exe", 6, 0, 0,
	  NULL },
	{ "chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\"
	  "chrome.exe", 9, 0, 1, "--type=renderer" },
	{ "svchost.exe", SYS32 "svchost.exe", 6, 0, 0, "-k LocalService -p" },
	{ "dllhost.exe", SYS32 "DllHost.exe", 8, 0, 1, "/Processid:{AB89}" },
	{ "taskhostw.exe", SYS32 "taskhostw.exe", 6, 0, 1, NULL },
	{ "sihost.exe", SYS32 "sihost.exe", 6, 0, 1, NULL },
	{ "ctfmon.exe", SYS32 "ctfmon.exe", -1, 0, 1, NULL },
};
#define NCYCLE	(sizeof(cycle) / sizeof(cycle[0]))

static const char *const wow64_dlls[] = {
	"wow64.dll", "wow64base.dll", "wow64win.dll", "wow64con.dll",
	"wow64cpu.dll",
};

static const struct pdef *
def_of(size_t i)
{
	return i < NFIRST ? &first[i] : &cycle[(i - NFIRST) % NCYCLE];
}

static void
add_mod(struct win_proc *p, struct win_img *m, size_t cap)
{
	if (p->nmods >= cap)
		errx(2, "internal: module list full");
	p->mods[p->nmods++] = m;
}

/* exe, ntdll, then what this kind of process loads. */
static void
choose_modules(struct guest *g, struct win_proc *p, const struct pdef *d)
{
	struct win *w = g->win;
	size_t cap = 8 + (d->flags & P_MODS ? w->opt.modules : 16), i, want;
	unsigned int app = 0;
	const char *const *c;

	p->mods = calloc(cap, sizeof(*p->mods));
	if (p->mods == NULL)
		err(2, "out of memory");
	add_mod(p, win_exe(g, d->path, (d->flags & P_WOW64) != 0), cap);
	add_mod(p, win_dll(g, "ntdll.dll", 0), cap);
	if (d->flags & P_WOW64) {
		p->mods[0]->emit = p->pid;
		for (i = 0; i < sizeof(wow64_dlls) / sizeof(wow64_dlls[0]); i++)
			add_mod(p, win_dll(g, wow64_dlls[i], 0), cap);
		return;
	}
	if (strcmp(d->file, "smss.exe") == 0)
		return;
	add_mod(p, win_dll(g, "KERNEL32.DLL", 0), cap);
	add_mod(p, win_dll(g, "KERNELBASE.dll", 0), cap);
	want = d->flags & P_MODS ? w->opt.modules : 4 + image_randn(g, 6);
	/* csrss, wininit and the trap processes load more than 5 DLLs. */
	if ((d->flags & (P_OUT_ENTRY | P_OUT_NAMES)) ||
	    strcmp(d->file, "csrss.exe") == 0 ||
	    strcmp(d->file, "wininit.exe") == 0)
		want = 6 + image_randn(g, 4);
	if ((d->flags & P_MODS) && p->nmods < want)
		add_mod(p, win_dll(g, "SHELL32.dll", 0), cap);
	for (c = win_dll_catalog; *c != NULL && p->nmods < want; c++)
		if (strcmp(*c, "SHELL32.dll") != 0 || !(d->flags & P_MODS))
			add_mod(p, win_dll(g, *c, 0), cap);
	while (p->nmods < want)
		add_mod(p, win_app_dll(g, app++), cap);
	/* The images whose PE ground truth the manifest lists. */
	for (i = 0; (d->flags & P_MODS) && i < p->nmods && i < 5; i++)
		if (p->mods[i]->emit == 0)
			p->mods[i]->emit = p->pid;
}

static void
write_params(struct guest *g, struct win_proc *p, const struct pdef *d,
    uint64_t pp)
{
	char cmd[300];
	uint64_t cr3 = p->kdtb, env;
	static const char envs[] = "ALLUSERSPROFILE=C:\\ProgramData\0"
	    "SystemRoot=C:\\Windows\0\0";
	uint16_t w16[64];
	size_t i;

	win_vput32(g, cr3, pp, 0x7d4);		/* MaximumLength */
	win_vput32(g, cr3, pp + 4, 0x7d4);	/* Length */
	win_vput32(g, cr3, pp + 8, 0x6001);	/* Flags: normalised */
	win_vput64(g, cr3, pp + 0x10, 0x44 + 4 * image_randn(g, 64));
	win_ustring(g, cr3, pp + 0x38, "C:\\Windows\\system32\\", p);
	win_ustring(g, cr3, pp + 0x60, d->path, p);
	snprintf(cmd, sizeof(cmd), "\"%s\"%s%s", d->path, d->args ? " " : "",
	    d->args ? d->args : "");
	win_ustring(g, cr3, pp + 0x70, cmd, p);
	env = win_user_alloc(g, p, 2 * sizeof(envs));
	for (i = 0; i < sizeof(envs); i += 64) {
		size_t n = sizeof(envs) - i < 64 ? sizeof(envs) - i : 64, k;

		for (k = 0; k < n; k++)
			w16[k] = (uint8_t)envs[i + k];
		win_vwrite(g, cr3, env + 2 * i, w16, 2 * n);
	}
	win_vput64(g, cr3, pp + 0x80, env);
	win_ustring(g, cr3, pp + 0xb0, d->path, p);
	win_ustring(g, cr3, pp + 0xc0, "WinSta0\\Default", p);
}

static void
link(struct guest *g, uint64_t cr3, uint64_t at, uint64_t flink,
    uint64_t blink)
{
	win_vput64(g, cr3, at, flink);
	win_vput64(g, cr3, at + 8, blink);
}

/* One of the three loader lists: entries e[order[k]], links at `off`. */
static void
ldr_list(struct guest *g, uint64_t cr3, uint64_t head, const uint64_t *e,
    const size_t *order, size_t n, unsigned int off)
{
	size_t k;

	if (n == 0) {
		link(g, cr3, head, head, head);
		return;
	}
	link(g, cr3, head, e[order[0]] + off, e[order[n - 1]] + off);
	for (k = 0; k < n; k++)
		link(g, cr3, e[order[k]] + off,
		    k + 1 < n ? e[order[k + 1]] + off : head,
		    k > 0 ? e[order[k - 1]] + off : head);
}

/* Start the next heap allocation on a fresh page; return that page. */
static uint64_t
fresh_page(struct guest *g, struct win_proc *p)
{
	p->heap = (p->heap + GG_4K - 1) & ~(GG_4K - 1);
	(void)win_user_alloc(g, p, 0);
	return p->heap;
}

/* A pagefile PTE: not present, offset and protection (READWRITE). */
static void
page_out(struct guest *g, struct win_proc *p, uint64_t va)
{
	win_pte_set(g, p->kdtb, va, (image_randn(g, 1u << 20) << 32) |
	    (4u << 5));
}

static void
write_ldr(struct guest *g, struct win_proc *p, uint64_t ldr)
{
	uint64_t cr3 = p->kdtb, *e;
	size_t i, *order, ninit = 0;

	e = calloc(p->nmods, sizeof(*e));
	order = calloc(p->nmods, sizeof(*order));
	if (e == NULL || order == NULL)
		err(2, "out of memory");
	win_vput32(g, cr3, ldr, 0x58);		/* Length */
	win_vput32(g, cr3, ldr + 4, 1);		/* Initialized */
	for (i = 0; i < p->nmods; i++) {
		const struct win_img *m = p->mods[i];
		uint8_t noise[LDR_ENTRY];

		if (i == p->out_entry && i > 0)
			p->entry_va = fresh_page(g, p);
		e[i] = win_user_alloc(g, p, LDR_ENTRY);
		if (i == p->out_entry && i > 0)
			(void)fresh_page(g, p);
		memset(noise, 0, sizeof(noise));
		win_vwrite(g, cr3, e[i], noise, sizeof(noise));
		win_vput64(g, cr3, e[i] + 0x30, m->base);
		win_vput64(g, cr3, e[i] + 0x38, m->entry_rva ?
		    m->base + m->entry_rva : 0);
		win_vput32(g, cr3, e[i] + 0x40, m->size);
		if (i == p->out_names && i > 0)
			p->names_va = fresh_page(g, p);
		win_ustring(g, cr3, e[i] + 0x48, m->path, p);
		win_ustring(g, cr3, e[i] + 0x58, m->name, p);
		if (i == p->out_names && i > 0)
			(void)fresh_page(g, p);
		win_vput32(g, cr3, e[i] + 0x68, i == 0 ? 0x4000u : 0xca2ccu);
		win_vput32(g, cr3, e[i] + 0x6c, 0xffff);
		link(g, cr3, e[i] + 0x70, e[i] + 0x70, e[i] + 0x70);
		win_vput32(g, cr3, e[i] + 0x80, (uint32_t)image_rand(g));
		win_vput64(g, cr3, e[i] + 0xb8, p->mods[1]->base);
		win_vput64(g, cr3, e[i] + 0xf8, m->base);
		win_vput64(g, cr3, e[i] + 0x100, 0x01da000000000000ull |
		    (image_rand(g) >> 16));
		order[i] = i;
	}
	ldr_list(g, cr3, ldr + 0x10, e, order, p->nmods, 0);
	ldr_list(g, cr3, ldr + 0x20, e, order, p->nmods, 0x10);
	/* Initialisation order: no exe; KernelBase before kernel32. */
	for (i = 1; i < p->nmods; i++)
		order[ninit++] = i;
	if (ninit >= 3 && p->mods[2]->bits == 64 &&
	    strcmp(p->mods[3]->name, "KERNELBASE.dll") == 0) {
		order[1] = 3;
		order[2] = 2;
	}
	ldr_list(g, cr3, ldr + 0x30, e, order, ninit, 0x20);
	free(e);
	free(order);
}

/* PEB32 and the EWOW64PROCESS that EPROCESS.WoW64Process points at. */
static void
wow64(struct guest *g, struct win_proc *p)
{
	uint64_t peb32 = win_user_alloc(g, p, 0x480);

	win_vput32(g, p->kdtb, peb32 + 8, (uint32_t)p->mods[0]->base);
	p->wow64 = win_pool_alloc(g, 0x10, 16);
	win_vput64(g, g->kcr3, p->wow64, peb32);
	win_vput32(g, g->kcr3, p->wow64 + 8, 0x14c);
}

static void
write_peb(struct guest *g, struct win_proc *p, const struct pdef *d)
{
	struct win *w = g->win;
	uint64_t cr3 = p->kdtb, pp, ldr;
	size_t i;

	win_map_user(g, cr3, p->peb, image_alloc(g, GG_4K, 0, UINT64_MAX),
	    E_RW | E_XD);
	for (i = 0; i < p->nmods; i++)
		win_pe_map(g, p->mods[i], cr3, i > 0 && i == p->out_header);
	pp = win_user_alloc(g, p, 0x440);
	ldr = win_user_alloc(g, p, 0x58);
	write_params(g, p, d, pp);
	write_ldr(g, p, ldr);
	win_vput64(g, cr3, p->peb + 0x08, ~0ull);		/* Mutant */
	win_vput64(g, cr3, p->peb + 0x10, p->mods[0]->base);
	win_vput64(g, cr3, p->peb + 0x18, ldr);
	win_vput64(g, cr3, p->peb + 0x20, pp);
	win_vput64(g, cr3, p->peb + 0x30, p->heap & ~0xffffull);
	win_vput32(g, cr3, p->peb + 0xb8, 4);		/* processors */
	win_vput32(g, cr3, p->peb + 0x118, 10);		/* OSMajorVersion */
	win_vput32(g, cr3, p->peb + 0x120, (uint32_t)w->build_raw & 0xffff);
	win_vput32(g, cr3, p->peb + 0x124, 2);		/* OSPlatformId */
	win_vput32(g, cr3, p->peb + 0x2c0, p->session);
	if (d->flags & P_WOW64)
		wow64(g, p);
}

static void
user_space(struct guest *g, struct win_proc *p, const struct pdef *d)
{
	struct win *w = g->win;
	uint64_t shadow;
	unsigned int i;

	p->kdtb = build_table(g);
	build_clone_kernel(g, g->kcr3, p->kdtb);
	scene_add_proc(g, p->kdtb);
	p->dtb = p->kdtb;
	win_map_user(g, p->kdtb, KUSD_VA, w->kusd, E_XD);
	if (d->flags & P_NOPEB)
		return;
	p->peb = ((0x10 + image_randn(g, 0xff0)) << 28) |
	    (image_randn(g, 0x10000) << 12);
	p->heap = p->heap_end = ((0x100 + image_randn(g, 0x600)) << 32) |
	    (image_randn(g, 0x10000) << 16);
	if (d->flags & P_ZOMBIE) {
		p->exited = 1;	/* its user half is gone; Peb still says */
		return;
	}
	choose_modules(g, p, d);
	if ((d->flags & P_OUT_ENTRY) && p->nmods > 3)
		p->out_entry = 2;
	if ((d->flags & P_OUT_NAMES) && p->nmods > 5) {
		p->out_names = 3;
		p->out_header = 4;
	}
	write_peb(g, p, d);
	if (p->entry_va != 0)
		page_out(g, p, p->entry_va);
	if (p->names_va != 0)
		page_out(g, p, p->names_va);
	if (d->flags & P_PAGED) {
		page_out(g, p, p->peb);
		p->peb_absent = 1;
	}
	if (!w->L->kvas)
		return;
	/* KVA shadow: the user half, and no self-reference. */
	shadow = build_table(g);
	for (i = 0; i < 256; i++)
		image_put64(g, shadow + 8 * i, image_get64(g, p->kdtb + 8 * i));
	image_put64(g, shadow + 8 * 496, image_get64(g, g->kcr3 + 8 * 496));
	p->udtb = shadow;
}

static void
kusd(struct guest *g)
{
	struct win *w = g->win;
	uint8_t page[4096];
	uint32_t v;

	memset(page, 0, sizeof(page));
	v = (uint32_t)w->build_raw & 0xffff;
	memcpy(page + 0x260, &v, 4);		/* NtBuildNumber */
	v = 10;
	memcpy(page + 0x26c, &v, 4);		/* NtMajorVersion */
	w->kusd = image_alloc(g, GG_4K, 0, UINT64_MAX);
	image_write(g, w->kusd, page, sizeof(page));
}

void
win_procs_build(struct guest *g)
{
	struct win *w = g->win;
	size_t i, n = w->opt.procs;
	uint32_t pid = 4;

	win_mods_init(g);
	kusd(g);
	w->procs = calloc(n, sizeof(*w->procs));
	if (w->procs == NULL)
		err(2, "out of memory");
	w->nprocs = n;
	for (i = 0; i < n; i++) {
		struct win_proc *p = &w->procs[i];
		const struct pdef *d = def_of(i);

		if (i > 0)
			pid += 4 * (2 + (uint32_t)image_randn(g, 60));
		p->pid = pid;
		memcpy(p->name, d->file, strlen(d->file) < 15 ?
		    strlen(d->file) : 15);
		p->path = d->path;
		p->session = d->session;
		p->reachable = 1;
		if (d->parent == -2)
			p->ppid = 0;
		else if (d->parent >= 0 && (size_t)d->parent < i)
			p->ppid = w->procs[d->parent].pid;
		else
			p->ppid = pid - 4;	/* a parent that exited */
		p->no_peb = (d->flags & P_NOPEB) != 0;
		p->wow64 = 0;
		if (i == 0) {
			p->eproc = g->sys_eproc;
			p->kdtb = g->kcr3;
			p->dtb = g->kcr3 | 0x2;
			continue;
		}
		p->eproc = win_pool_alloc(g, w->L->size + 0x80, 16) + 0x80;
		user_space(g, p, d);
	}
	win_ring_build(g);
}
