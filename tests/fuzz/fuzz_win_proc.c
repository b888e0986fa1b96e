/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for opening a Windows context and listing what it finds:
 * the guest of winimg.h (built once, in a memfd) is patched by the input's
 * 12-byte records {u32 where, u64 value} (where picks one of the guest's
 * interesting pages: EPROCESS records, the kernel image, a PEB, the loader
 * list, the DLL, or any page, and an 8-byte slot in it), then the context
 * is opened and every process, every module list and the DLL's exports and
 * imports are read; the patches are undone afterwards.  Byte 0 picks the
 * layout and whether to flush translations.  Nothing may crash, hang or
 * read out of bounds, and what is returned must respect the header's
 * bounds.
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

const size_t driver_max_len = 1200;

#define IMG_SIZE	(8u << 20)
#define NLAYOUT		4
#define MAXHOT		128

struct base {
	struct wimg w;
	uint8_t *img;
	int rw, ro;
	struct vmsig_mem *mem;
	uint64_t hot[MAXHOT];
	size_t nhot;
};

static struct base bases[NLAYOUT];

static void
hot_add(struct base *b, uint64_t cr3, uint64_t va)
{
	uint64_t f = wi_xlat(&b->w, cr3, va);

	if (f != 0 && b->nhot < MAXHOT)
		b->hot[b->nhot++] = f;
}

static void
setup(struct base *b, unsigned int layout)
{
	char path[64];
	unsigned int i, k;

	if ((b->img = malloc(IMG_SIZE)) == NULL)
		abort();
	wi_build(&b->w, b->img, IMG_SIZE, layout, 9, 4, 40, 3 + layout, 0);
	for (i = 0; i < b->w.nproc; i++) {
		hot_add(b, b->w.kcr3, b->w.p[i].ep);
		hot_add(b, b->w.kcr3, b->w.p[i].ep + 0x800);
	}
	for (k = 0; k < WI_KSIZE / 4096; k++)
		hot_add(b, b->w.kcr3, WI_KBASE + 4096 * k);
	for (k = 0; k < 4; k++) {
		hot_add(b, b->w.p[1].dtb, WI_USER + 4096 * k);
		hot_add(b, b->w.p[1].dtb, WI_DLL + 4096 * k);
	}
	hot_add(b, b->w.kcr3, WI_POOL);
	b->rw = kimg_memfd(b->img, IMG_SIZE);
	if (b->rw < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", b->rw);
	b->ro = open(path, O_RDONLY | O_CLOEXEC);
	if (b->ro < 0 || vmsig_mem_open(b->ro, IMG_SIZE, &b->mem) < 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < NLAYOUT; i++)
		setup(&bases[i], i);
	return 0;
}

static void
check_str(const char *s)
{
	if (s != NULL && strlen(s) >= VMSIG_WIN_MAX_STRING)
		abort();
}

static void
run(struct base *b)
{
	struct vmsig_win_procs *pl = NULL;
	struct vmsig_win_modules *ml;
	struct vmsig_win_exports *x;
	struct vmsig_win_imports *im;
	struct vmsig_win_export f;
	struct vmsig_win_pe *pe;
	struct vmsig_win_offset o;
	struct vmsig_win *w;
	size_t i, j;
	uint64_t cr3;
	uint8_t buf[16];

	static unsigned long opened, tried;

	tried++;
	if (vmsig_win_open(b->mem, b->w.kcr3, &w) < 0)
		return;
	/* FUZZ_VERBOSE: how often the context opens (coverage sanity). */
	if (++opened % 500 == 0 && getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "fuzz_win_proc: %lu of %lu opened\n", opened,
		    tried);
	for (i = 0; vmsig_win_offset(w, (unsigned int)i, &o) == 0; i++)
		if (o.name == NULL || o.how == NULL)
			abort();
	if (vmsig_win_proc_list(w, &pl) == 0) {
		if (pl->n > VMSIG_WIN_MAX_PROCS)
			abort();
		for (i = 0; i < pl->n && i < 12; i++) {
			check_str(pl->v[i].path);
			if (pl->v[i].name[15] != '\0')
				abort();
			(void)vmsig_win_proc_read(w, pl->v[i].pid, 0x10000,
			    buf, sizeof(buf), NULL);
			if (vmsig_win_mod_list(w, pl->v[i].pid, &ml) != 0)
				continue;
			if (ml->n > VMSIG_WIN_MAX_MODULES)
				abort();
			for (j = 0; j < ml->n; j++) {
				check_str(ml->v[j].name);
				check_str(ml->v[j].path);
			}
			vmsig_win_modules_free(ml);
		}
		vmsig_win_procs_free(pl);
	}
	if (vmsig_win_proc_dtb(w, b->w.p[1].pid, &cr3) == 0 &&
	    vmsig_win_pe_open(w, cr3, WI_DLL, &pe) == 0) {
		if (vmsig_win_pe_exports(pe, &x) == 0) {
			for (i = 0; i < x->n && i < 8; i++)
				if (x->v[i].name != NULL)
					(void)vmsig_win_pe_export_find(pe,
					    x->v[i].name, &f);
			vmsig_win_exports_free(x);
		}
		if (vmsig_win_pe_imports(pe, &im) == 0)
			vmsig_win_imports_free(im);
		vmsig_win_pe_close(pe);
	}
	if (vmsig_win_pe_open_module(w, 4, "ntoskrnl", &pe) == 0)
		vmsig_win_pe_close(pe);
	vmsig_win_close(w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct undo {
		off_t off;
		uint64_t old;
	} u[100];
	struct base *b;
	size_t i, n = 0;
	uint32_t where;
	uint64_t page, v;

	if (len == 0)
		return 0;
	b = &bases[data[0] % NLAYOUT];
	for (i = 1; i + 12 <= len && n < sizeof(u) / sizeof(u[0]); i += 12) {
		memcpy(&where, data + i, 4);
		memcpy(&v, data + i + 4, 8);
		page = (where >> 12) % (b->nhot + 1);
		page = page < b->nhot ? b->hot[page] :
		    ((uint64_t)(where >> 16) << 12) % IMG_SIZE;
		u[n].off = (off_t)(page + (where & 0xff8));
		if (pread(b->rw, &u[n].old, 8, u[n].off) != 8 ||
		    pwrite(b->rw, &v, 8, u[n].off) != 8)
			abort();
		n++;
	}
	/* A patch may have hit a page table: translations start afresh. */
	vmsig_mem_flush(b->mem);
	run(b);
	while (n-- > 0)
		if (pwrite(b->rw, &u[n].old, 8, u[n].off) != 8)
			abort();
	vmsig_mem_flush(b->mem);
	return 0;
}
