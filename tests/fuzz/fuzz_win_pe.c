/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the PE parser: the DLL and the kernel image of the guest
 * of winimg.h (built once, in a memfd, with its Windows context opened
 * once) are patched by the input's 12-byte records {u32 where, u64 value}
 * (where picks a page of the image, headers and export directory most
 * often, and an 8-byte slot in it); then the image is opened and its
 * sections, exports, imports, one export by name (the input's tail, and
 * the names it lists) and a section scan are read; the patches are undone
 * afterwards.  Nothing may crash, hang or read out of bounds, and counts
 * and strings must respect the header's bounds.
 *
 * Runs in: tests
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsig/mem.h>
#include <vmsig/win.h>

#include "kimg.h"
#include "winimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv);

const size_t driver_max_len = 600;

#define IMG_SIZE	(8u << 20)

static struct wimg g;
static uint8_t *img;
static int rw, ro;
static struct vmsig_mem *mem;
static struct vmsig_win *win;
static uint64_t dllpg[64], kpg[8];
static size_t ndll;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];
	size_t k;

	(void)argc;
	(void)argv;
	if ((img = malloc(IMG_SIZE)) == NULL)
		abort();
	wi_build(&g, img, IMG_SIZE, 1, 4, 3, 200, 77, 0);
	for (k = 0; k < g.dll_size / 4096 && k < 64; k++)
		dllpg[ndll++] = wi_xlat(&g, g.p[1].dtb, WI_DLL + 4096 * k);
	for (k = 0; k < 8; k++)
		kpg[k] = wi_xlat(&g, g.kcr3, WI_KBASE + 4096 * k);
	if ((rw = kimg_memfd(img, IMG_SIZE)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0 || vmsig_mem_open(ro, IMG_SIZE, &mem) < 0 ||
	    vmsig_win_open(mem, g.kcr3, &win) < 0)
		abort();
	return 0;
}

static int
nohit(void *arg, uint64_t addr)
{
	(void)arg;
	(void)addr;
	return 0;
}

static void
parse(uint64_t cr3, uint64_t base, const char *want)
{
	struct vmsig_win_section *s;
	struct vmsig_win_exports *x;
	struct vmsig_win_imports *im;
	struct vmsig_win_export f;
	struct vmsig_win_pe *pe;
	size_t i;
	int n;

	if (vmsig_win_pe_open(win, cr3, base, &pe) < 0)
		return;
	if ((n = vmsig_win_pe_sections(pe, &s)) > 0) {
		if (n > (int)VMSIG_WIN_MAX_SECTIONS)
			abort();
		if (s[0].name[8] != '\0')
			abort();
		(void)vmsig_win_pe_scan_section(pe, s[0].name,
		    (const uint8_t *)"Fn", NULL, 2, nohit, NULL);
		free(s);
	}
	if (vmsig_win_pe_exports(pe, &x) == 0) {
		if (x->n > VMSIG_WIN_MAX_EXPORTS ||
		    memchr(x->dll_name, '\0', sizeof(x->dll_name)) == NULL)
			abort();
		for (i = 0; i < x->n && i < 6; i++)
			if (x->v[i].name != NULL)
				(void)vmsig_win_pe_export_find(pe,
				    x->v[i].name, &f);
		vmsig_win_exports_free(x);
	}
	(void)vmsig_win_pe_export_find(pe, want, &f);
	if (vmsig_win_pe_imports(pe, &im) == 0) {
		if (im->n > VMSIG_WIN_MAX_IMPORTS)
			abort();
		vmsig_win_imports_free(im);
	}
	vmsig_win_pe_close(pe);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct undo {
		off_t off;
		uint64_t old;
	} u[48];
	char want[32];
	size_t i, n = 0, body = len;
	uint32_t where, k;
	uint64_t page, v;
	int kernel;

	if (len == 0)
		return 0;
	kernel = data[0] & 1;
	/* The tail names an export to look up. */
	memset(want, 0, sizeof(want));
	if (len > 17) {
		memcpy(want, data + len - 16, 16);
		body = len - 16;
	} else
		memcpy(want, "Fn00042", 7);
	for (i = 1; i + 12 <= body && n < sizeof(u) / sizeof(u[0]); i += 12) {
		memcpy(&where, data + i, 4);
		memcpy(&v, data + i + 4, 8);
		k = where >> 12;
		/* Headers and the export directory (pages 0, 2) most. */
		k = k % 4 < 2 ? (k % 4 == 0 ? 0 : 2) : k;
		page = kernel ? kpg[k % 8] : dllpg[k % ndll];
		u[n].off = (off_t)(page + (where & 0xff8));
		if (pread(rw, &u[n].old, 8, u[n].off) != 8 ||
		    pwrite(rw, &v, 8, u[n].off) != 8)
			abort();
		n++;
	}
	if (kernel)
		parse(g.kcr3, WI_KBASE, want);
	else
		parse(g.p[1].dtb, WI_DLL, want);
	while (n-- > 0)
		if (pwrite(rw, &u[n].old, 8, u[n].off) != 8)
			abort();
	return 0;
}
