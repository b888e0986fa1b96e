/* SPDX-License-Identifier: MIT */
/*
 * Page tables of the synthetic guest: 4-level x86-64 tables built in the
 * page store, with 4 KiB, 2 MiB and 1 GiB leaves, self-reference entries
 * and per-process PML4s that share the kernel half.  Every explicit
 * mapping is recorded with the rights a walker must report (computed from
 * the entries actually written on its path), which is the ground truth the
 * manifest's "maps" and the probes come from.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdint.h>

#include "guestgen.h"

/*
 * A fresh zeroed table page.  On a split layout every other table goes
 * above 4 GiB so readers meet tables in both segments.
 */
uint64_t
build_table(struct guest *g)
{
	uint64_t lo = 0;

	if (g->low < g->size && (g->npt++ & 1))
		lo = GG_4G;
	lo = image_alloc(g, GG_4K, lo, UINT64_MAX);
	(void)image_page(g, lo);
	return lo;
}

/* The table entry idx of `table` points at, created with `mid` if absent. */
static uint64_t
next_table(struct guest *g, uint64_t table, unsigned int idx, uint64_t mid)
{
	uint64_t at = table + idx * 8ull, e = image_get64(g, at), t;

	if (e & E_P) {
		if (e & E_PS)
			errx(2, "internal: table slot %#llx is a large page",
			    (unsigned long long)at);
		return e & E_FRAME;
	}
	t = build_table(g);
	image_put64(g, at, t | mid | E_P);
	return t;
}

static uint32_t
rights(uint64_t e, uint32_t f)
{
	if (!(e & E_RW))
		f &= ~GG_W;
	if (!(e & E_US))
		f &= ~GG_U;
	if (e & E_XD)
		f |= GG_NX;
	return f;
}

static void
record(struct guest *g, uint64_t cr3, uint64_t va, uint64_t gpa,
    uint64_t page_size, uint32_t flags)
{
	struct gg_maprec *r;

	g->recs = image_grow(g->recs, &g->recs_cap, g->nrecs, sizeof(*g->recs));
	r = &g->recs[g->nrecs++];
	r->cr3 = cr3;
	r->va = va;
	r->gpa = gpa;
	r->page_size = page_size;
	r->flags = flags;
}

/*
 * Map one page of `page_size` at va under cr3.  `leaf` holds the leaf's
 * bits besides the frame (E_P clear makes a not-present entry that still
 * holds the frame); `mid` the bits of intermediate entries created on the
 * way (E_P is added).  A present leaf is recorded when `record` is set.
 */
void
build_map(struct guest *g, uint64_t cr3, uint64_t va, uint64_t gpa,
    uint64_t page_size, uint64_t leaf, uint64_t mid, int record_it)
{
	unsigned int lvl, stop = page_size == GG_1G ? 3 :
	    page_size == GG_2M ? 2 : 1;
	uint64_t table = cr3 & E_FRAME, at, e;
	uint32_t f = GG_W | GG_U;

	if ((va | gpa) & (page_size - 1))
		errx(2, "internal: unaligned mapping %#llx -> %#llx",
		    (unsigned long long)va, (unsigned long long)gpa);
	for (lvl = 4; lvl > stop; lvl--) {
		unsigned int idx = (va >> (12 + 9 * (lvl - 1))) & 0x1ff;

		table = next_table(g, table, idx, mid);
	}
	/* Rights along the path, from the entries as now written. */
	table = cr3 & E_FRAME;
	for (lvl = 4; lvl > stop; lvl--) {
		at = table + ((va >> (12 + 9 * (lvl - 1))) & 0x1ff) * 8;
		e = image_get64(g, at);
		f = rights(e, f);
		table = e & E_FRAME;
	}
	at = table + ((va >> (12 + 9 * (stop - 1))) & 0x1ff) * 8;
	e = gpa | leaf | (stop > 1 ? E_PS : 0);
	image_put64(g, at, e);
	if (record_it && (leaf & E_P))
		record(g, cr3 & E_FRAME, va, gpa, page_size, rights(e, f));
}

void
build_selfref(struct guest *g, uint64_t pml4, unsigned int idx, int xd)
{
	image_put64(g, pml4 + idx * 8ull,
	    pml4 | E_P | E_RW | (xd ? E_XD : 0));
}

/*
 * A process PML4 shares the kernel half of the System one, except the
 * self-reference, which must point at the process's own PML4.
 */
void
build_clone_kernel(struct guest *g, uint64_t src, uint64_t dst)
{
	unsigned int i;
	uint64_t e;

	for (i = 256; i < 512; i++) {
		e = image_get64(g, src + i * 8ull);
		if (i == g->self_idx)
			e = (e & ~E_FRAME) | dst;
		image_put64(g, dst + i * 8ull, e);
	}
}

/*
 * Where va lands under cr3, from the recorded mappings (a process's
 * kernel half is the System one).  1 when found.
 */
int
build_lookup(const struct guest *g, uint64_t cr3, uint64_t va,
    uint64_t *ret_gpa)
{
	size_t i;

	if (va >= 0xffff800000000000ull)
		cr3 = g->kcr3;
	for (i = 0; i < g->nrecs; i++) {
		const struct gg_maprec *r = &g->recs[i];

		if (r->cr3 == cr3 && va >= r->va && va - r->va < r->page_size) {
			*ret_gpa = r->gpa + (va - r->va);
			return 1;
		}
	}
	return 0;
}
