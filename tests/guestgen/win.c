/* SPDX-License-Identifier: MIT */
/*
 * The Windows scene of a synthetic guest: its options, the kernel pool (a
 * bump allocator over 4 KiB kernel pages of the System address space, with
 * unmapped gaps and random bytes between objects, as other pool users leave
 * them), user memory of each process, writes by virtual address through the
 * page tables actually built, UTF-16 strings, and the order in which the
 * pieces are built: System EPROCESS before the kernel image (which points
 * at it), then images, processes and the ring (win_proc.c), then the
 * kernel's module list (win_kmod.c).
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

void
win_new(struct guest *g, const struct win_opts *o)
{
	struct win *w;

	if (o->build == NULL || strcmp(o->build, "none") == 0)
		return;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		err(2, "out of memory");
	w->opt = *o;
	w->L = win_layout_find(o->build);
	if (w->L == NULL)
		errx(1, "--windows %s: unknown build (one of %s)", o->build,
		    win_layout_names());
	w->build_raw = 0xf0000000u | (uint32_t)(strcmp(o->build, "shifted") ?
	    strtoul(o->build, NULL, 10) : w->L->build);
	if (w->opt.procs == 0)
		w->opt.procs = 15;
	if (w->opt.modules == 0)
		w->opt.modules = 16;
	if (w->opt.exports == 0)
		w->opt.exports = 400;
	g->win = w;
}

/* A data frame; every other one above 4 GiB on a split layout. */
static uint64_t
frame(struct guest *g)
{
	static unsigned int n;
	uint64_t lo = (g->low < g->size && (n++ & 1)) ? GG_4G : 0;

	return image_alloc(g, GG_4K, lo, UINT64_MAX);
}

static void
pool_page(struct guest *g, uint64_t va)
{
	uint8_t page[4096];
	uint64_t f = frame(g);

	image_randbytes(g, page, sizeof(page));
	image_write(g, f, page, sizeof(page));
	build_map(g, g->kcr3, va, f, GG_4K, E_P | E_RW | E_XD, E_RW, 1);
}

/*
 * len bytes of kernel pool, aligned; new pages are mapped as needed and
 * hold random bytes (other pool objects).  Now and then a page is left
 * unmapped between two objects.
 */
uint64_t
win_pool_alloc(struct guest *g, size_t len, size_t align)
{
	struct win *w = g->win;
	uint64_t va, end, p;

	/* pool_end is page-aligned: the first page not mapped yet. */
	if (image_randn(g, 16) == 0) {
		w->pool = w->pool_end + GG_4K;
		w->pool_end = w->pool;
	}
	va = (w->pool + align - 1) & ~((uint64_t)align - 1);
	end = va + len;
	for (p = w->pool_end; p < end; p += GG_4K)
		pool_page(g, p);
	if (p > w->pool_end)
		w->pool_end = p;
	w->pool = end;
	return va;
}

/* The guest-physical address of va under cr3, from the tables; 0 if none. */
static uint64_t
walk(struct guest *g, uint64_t cr3, uint64_t va)
{
	uint64_t t = cr3 & E_FRAME, e = 0;
	int lvl;

	for (lvl = 4; lvl >= 1; lvl--) {
		e = image_get64(g, t + ((va >> (12 + 9 * (lvl - 1))) & 0x1ff) * 8);
		if (!(e & E_P))
			return 0;
		if (lvl == 3 && (e & E_PS))
			return (e & 0x000fffffc0000000ull) + (va & (GG_1G - 1));
		if (lvl == 2 && (e & E_PS))
			return (e & 0x000fffffffe00000ull) + (va & (GG_2M - 1));
		t = e & E_FRAME;
	}
	return t + (va & (GG_4K - 1));
}

void
win_vwrite(struct guest *g, uint64_t cr3, uint64_t va, const void *buf,
    size_t len)
{
	const uint8_t *b = buf;
	uint64_t gpa;
	size_t n;

	while (len > 0) {
		n = GG_4K - (va & (GG_4K - 1));
		if (n > len)
			n = len;
		gpa = walk(g, cr3, va);
		if (gpa == 0)
			errx(2, "internal: write to unmapped %#llx",
			    (unsigned long long)va);
		image_write(g, gpa, b, n);
		b += n;
		va += n;
		len -= n;
	}
}

void
win_vput64(struct guest *g, uint64_t cr3, uint64_t va, uint64_t v)
{
	win_vwrite(g, cr3, va, &v, 8);
}

void
win_vput32(struct guest *g, uint64_t cr3, uint64_t va, uint32_t v)
{
	win_vwrite(g, cr3, va, &v, 4);
}

/* Overwrite the 4 KiB leaf of va (a paged-out page: a software PTE). */
void
win_pte_set(struct guest *g, uint64_t cr3, uint64_t va, uint64_t pte)
{
	uint64_t t = cr3 & E_FRAME, e;
	int lvl;

	for (lvl = 4; lvl > 1; lvl--) {
		e = image_get64(g, t + ((va >> (12 + 9 * (lvl - 1))) & 0x1ff) * 8);
		if (!(e & E_P) || (e & E_PS))
			errx(2, "internal: no 4 KiB leaf for %#llx",
			    (unsigned long long)va);
		t = e & E_FRAME;
	}
	image_put64(g, t + ((va >> 12) & 0x1ff) * 8, pte);
}

void
win_map_user(struct guest *g, uint64_t cr3, uint64_t va, uint64_t f,
    uint64_t leaf)
{
	build_map(g, cr3, va, f, GG_4K, leaf | E_P | E_US, E_RW | E_US, 0);
}

/* Bump allocation in a process's private heap, 16-byte aligned. */
uint64_t
win_user_alloc(struct guest *g, struct win_proc *p, size_t len)
{
	uint64_t va = (p->heap + 15) & ~15ull, end = va + len, pg;

	for (pg = (p->heap_end + GG_4K - 1) & ~(GG_4K - 1); pg < end;
	    pg += GG_4K)
		win_map_user(g, p->kdtb, pg, frame(g), E_RW | E_XD);
	if (end > p->heap_end)
		p->heap_end = (end + GG_4K - 1) & ~(GG_4K - 1);
	p->heap = end;
	return va;
}

/* UTF-8 (up to 3-byte sequences) to UTF-16LE units; returns the count. */
size_t
win_utf16(const char *s, uint16_t *out, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;

	while (*u && n < max) {
		if (*u < 0x80) {
			out[n++] = *u++;
		} else if ((*u & 0xe0) == 0xc0 && u[1]) {
			out[n++] = (uint16_t)((*u & 0x1f) << 6 | (u[1] & 0x3f));
			u += 2;
		} else if ((*u & 0xf0) == 0xe0 && u[1] && u[2]) {
			out[n++] = (uint16_t)((*u & 0x0f) << 12 |
			    (u[1] & 0x3f) << 6 | (u[2] & 0x3f));
			u += 3;
		} else {
			errx(2, "internal: bad UTF-8 in %s", s);
		}
	}
	return n;
}

/*
 * A UNICODE_STRING at `at` (Length, MaximumLength, Buffer) and its buffer
 * (NUL-terminated) in p's heap, or in kernel pool when p is NULL.
 */
void
win_ustring(struct guest *g, uint64_t cr3, uint64_t at, const char *utf8,
    struct win_proc *p)
{
	uint16_t w[260], hdr[4];
	size_t n = win_utf16(utf8, w, 259);
	uint64_t buf;

	w[n] = 0;
	buf = p ? win_user_alloc(g, p, 2 * n + 2) :
	    win_pool_alloc(g, 2 * n + 2, 16);
	win_vwrite(g, cr3, buf, w, 2 * n + 2);
	hdr[0] = (uint16_t)(2 * n);
	hdr[1] = (uint16_t)(2 * n + 2);
	hdr[2] = hdr[3] = 0;
	win_vwrite(g, cr3, at, hdr, sizeof(hdr));
	win_vput64(g, cr3, at + 8, buf);
}

/*
 * Before the kernel image: the pool region (PML4 slot `slot`) and the
 * System EPROCESS, whose VA PsInitialSystemProcess holds.
 */
void
win_kernel(struct guest *g, unsigned int slot)
{
	struct win *w = g->win;

	w->pool = GG_KVA(slot) + image_randn(g, 256) * GG_1G +
	    image_randn(g, 256) * GG_2M;
	w->pool_end = w->pool;
	g->sys_eproc = win_pool_alloc(g, w->L->size + 0x80, 16) + 0x80;
}

void
win_build(struct guest *g)
{
	win_procs_build(g);
	win_kmods_build(g);
}

void
win_free(struct guest *g)
{
	struct win *w = g->win;
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nimgs; i++)
		win_pe_free(w->imgs[i]);
	for (i = 0; i < w->nprocs; i++)
		free(w->procs[i].mods);
	free(w->imgs);
	free(w->procs);
	free(w->kmods);
	free(w);
	g->win = NULL;
}
