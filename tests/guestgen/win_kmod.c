/* SPDX-License-Identifier: MIT */
/*
 * The kernel's module list: PsLoadedModuleList in ntoskrnl's .data, then
 * KLDR_DATA_TABLE_ENTRY records in pool (same first fields as the user
 * loader's entries: DllBase +0x30, EntryPoint +0x38, SizeOfImage +0x40,
 * FullDllName +0x48, BaseDllName +0x58), ntoskrnl first, hal.dll, then
 * drivers, each driver with small PE headers of its own mapped in the
 * kernel half (4 KiB pages in the kernel image region, next to but not
 * inside ntoskrnl's 2 MiB pages), importing from ntoskrnl and HAL.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define KLDR_SIZE	0xa0u

static const char *const drivers[] = {
	"hal.dll", "kd.dll", "mcupdate_GenuineIntel.dll", "CLFS.SYS",
	"tm.sys", "PSHED.dll", "BOOTVID.dll", "FLTMGR.SYS", "ksecdd.sys",
	"CI.dll", "ACPI.sys", "Wdf01000.sys", "volmgr.sys", "disk.sys",
	"Ntfs.sys", "tcpip.sys",
};
#define NDRV	(sizeof(drivers) / sizeof(drivers[0]))

static const char *const hal_names[] = {
	"HalGetBusDataByOffset", "HalSetBusDataByOffset",
	"HalPrivateDispatchTable", "KeQueryPerformanceCounter",
	"KeStallExecutionProcessor", "HalGetInterruptVector",
};

static const struct win_imp drv_imports[] = {
	{ "ntoskrnl.exe", "IoCreateDevice", 0x2c4, 0 },
	{ "ntoskrnl.exe", "ExAllocatePool2", 0x152, 0 },
	{ "ntoskrnl.exe", "KeBugCheckEx", 0x5d0, 0 },
	{ "ntoskrnl.exe", "ObfDereferenceObject", 0x8a1, 0 },
	{ "HAL.dll", "KeQueryPerformanceCounter", 0x2d, 0 },
};

void
win_kimage(struct guest *g, uint32_t entry_rva, size_t nexports)
{
	struct win *w = g->win;
	struct win_img *m = calloc(1, sizeof(*m));

	if (m == NULL || (m->exp = calloc(nexports, sizeof(*m->exp))) == NULL)
		err(2, "out of memory");
	snprintf(m->name, sizeof(m->name), "ntoskrnl.exe");
	snprintf(m->path, sizeof(m->path), "\\SystemRoot\\system32\\ntoskrnl.exe");
	m->base = g->kernel_base;
	m->size = (uint32_t)PE_KIMG_SIZE;
	m->entry_rva = entry_rva;
	m->bits = 64;
	m->kernel = 1;
	m->emit = 4;
	m->exp_base = 1;
	w->kimg = m;
	w->imgs = image_grow(w->imgs, &w->imgs_cap, w->nimgs, sizeof(*w->imgs));
	w->imgs[w->nimgs++] = m;
}

void
win_ksection(struct guest *g, const char *name, uint32_t rva, uint32_t size,
    uint32_t chars)
{
	struct win_img *m = g->win->kimg;
	struct win_sec *s = &m->sec[m->nsec++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->rva = rva;
	s->size = size;
	s->chars = chars;
}

/* Exports arrive in name order; each gets its ordinal's slot. */
void
win_kexport(struct guest *g, const char *name, uint32_t ordinal, uint32_t rva)
{
	struct win_img *m = g->win->kimg;
	struct win_exp *e = &m->exp[ordinal - 1];

	if ((e->name = strdup(name)) == NULL)
		err(2, "out of memory");
	e->ordinal = ordinal;
	e->rva = rva;
	if (ordinal > m->nexp)
		m->nexp = ordinal;
}

/* ntoskrnl's imports (at most 16), in descriptor order. */
void
win_kimport(struct guest *g, const char *module, const char *name,
    uint32_t hint, uint32_t iat_rva)
{
	struct win_img *m = g->win->kimg;

	if (m->imp == NULL && (m->imp = calloc(16, sizeof(*m->imp))) == NULL)
		err(2, "out of memory");
	if (m->nimp >= 16)
		errx(2, "internal: too many kernel imports");
	m->imp[m->nimp].module = module;
	m->imp[m->nimp].name = name;
	m->imp[m->nimp].ordinal = hint;
	m->imp[m->nimp++].iat_rva = iat_rva;
}

static struct win_img *
driver(struct guest *g, unsigned int i)
{
	struct win *w = g->win;
	const char *n = drivers[i];
	uint32_t size = 0x20000 + 0x10000 * (uint32_t)image_randn(g, 15);
	struct win_img *m;
	char path[200];

	snprintf(path, sizeof(path), i < 10 && strstr(n, ".dll") ?
	    "\\SystemRoot\\system32\\%s" : "\\SystemRoot\\System32\\drivers\\%s",
	    n);
	m = win_pe_new(g, n, path, w->next_drv, size, 64);
	w->next_drv += size + 0x1000 * (1 + image_randn(g, 16));
	if (i == 0) {
		win_pe_exports(g, m, "HAL.dll", hal_names,
		    sizeof(hal_names) / sizeof(hal_names[0]), 90, 0, 1, NULL);
		m->emit = 4;
	} else {
		win_pe_imports(g, m, i == 2 ? drv_imports + 4 : drv_imports,
		    i == 2 ? 1 : sizeof(drv_imports) / sizeof(drv_imports[0]));
	}
	if (i == 3)
		m->emit = 4;
	win_pe_finish(g, m);
	win_pe_map(g, m, g->kcr3, 0);
	return m;
}

static uint64_t
kldr(struct guest *g, const struct win_img *m)
{
	uint64_t e = win_pool_alloc(g, KLDR_SIZE, 16), k = g->kcr3;
	uint8_t z[KLDR_SIZE];

	memset(z, 0, sizeof(z));
	win_vwrite(g, k, e, z, sizeof(z));
	win_vput64(g, k, e + 0x30, m->base);
	win_vput64(g, k, e + 0x38, m->entry_rva ? m->base + m->entry_rva : 0);
	win_vput32(g, k, e + 0x40, m->size);
	win_ustring(g, k, e + 0x48, m->path, NULL);
	win_ustring(g, k, e + 0x58, m->name, NULL);
	win_vput32(g, k, e + 0x68, 0x49104000u);	/* Flags */
	win_vput32(g, k, e + 0x6c, 1);			/* LoadCount */
	win_vput32(g, k, e + 0x78, (uint32_t)image_rand(g));	/* CheckSum */
	return e;
}

void
win_kmods_build(struct guest *g)
{
	struct win *w = g->win;
	uint64_t e[NDRV + 1], lo = g->kernel_base - 0x4000000, d, k = g->kcr3;
	size_t i, n;

	/* Drivers 2 MiB-aligned somewhere else in the kernel image region. */
	do
		d = 0xfffff80000000000ull + image_randn(g, 16384 - 64) * GG_2M;
	while (d + 0x2000000 > lo && d < g->kernel_base + PE_KIMG_SIZE +
	    0x4000000);
	w->next_drv = d;
	w->kmods = calloc(NDRV + 1, sizeof(*w->kmods));
	if (w->kmods == NULL)
		err(2, "out of memory");
	w->kmods[w->nkmods++] = w->kimg;
	for (i = 0; i < NDRV; i++)
		w->kmods[w->nkmods++] = driver(g, (unsigned int)i);
	n = w->nkmods;
	for (i = 0; i < n; i++)
		e[i] = kldr(g, w->kmods[i]);
	for (i = 0; i < n; i++) {
		win_vput64(g, k, e[i], i + 1 < n ? e[i + 1] : w->module_head);
		win_vput64(g, k, e[i] + 8, i > 0 ? e[i - 1] : w->module_head);
	}
	win_vput64(g, k, w->module_head, e[0]);
	win_vput64(g, k, w->module_head + 8, e[n - 1]);
}
