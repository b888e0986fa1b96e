/* SPDX-License-Identifier: MIT */
/*
 * What stands between a kcr3 scanner and the right answer: the x64 low
 * stub (PROCESSOR_START_BLOCK) with decoy stubs at lower addresses that
 * each fail exactly one of its three tests and name a wrong CR3, a decoy
 * PML4 whose self-reference sits at the real kernel slot but whose other
 * kernel entries point outside RAM, pages of random bytes, and pages that
 * look like page tables but reference no table of their own.
 *
 * Runs in: tests (guestgen)
 */
#include <stdint.h>
#include <string.h>

#include "guestgen.h"

/* PROCESSOR_START_BLOCK: jmp signature at +0x00, mask of its fixed bits. */
#define STUB_SIG	0x00000001000600e9ull
#define STUB_SIG_MASK	0xffffffffffff00ffull
#define STUB_ENTRY	0x70	/* kernel entry VA */
#define STUB_CR3	0xa0	/* CR3 */

static void
stub(struct guest *g, uint64_t pa, uint64_t sig, uint64_t entry,
    uint64_t cr3)
{
	sig = (sig & STUB_SIG_MASK) | ((image_rand(g) & 0xff) << 8);
	image_put64(g, pa, sig);
	image_put64(g, pa + STUB_ENTRY, entry);
	image_put64(g, pa + STUB_CR3, cr3);
}

/*
 * Decoys come first in a low-to-high scan; each fails one test only:
 * a CR3 with PCID bits, a user-space entry VA, a signature one bit off.
 */
void
decoy_lowstub(struct guest *g)
{
	static const unsigned int flip[] = { 0, 1, 5, 7, 17, 18, 32, 33, 40 };
	uint64_t npages = (GG_STUB_HI - GG_STUB_LO) / GG_4K, real, pa;
	uint64_t taken[3];
	unsigned int i, j, k;

	real = GG_STUB_LO + (3 + image_randn(g, npages - 3)) * GG_4K;
	g->lowstub_pa = real;
	stub(g, real, STUB_SIG, g->kernel_entry, g->kcr3);
	for (i = 0; i < 3; i++) {
		do {
			pa = GG_STUB_LO + image_randn(g,
			    (real - GG_STUB_LO) / GG_4K) * GG_4K;
			for (j = 0; j < i && taken[j] != pa; j++)
				;
		} while (j < i);
		taken[i] = pa;
		g->decoy_stubs[g->ndecoy_stubs++] = pa;
	}
	stub(g, taken[0], STUB_SIG, g->kernel_entry, g->procs[1] | 0x1);
	stub(g, taken[1], STUB_SIG, 0x00007ff600001000ull,
	    g->procs[g->nproc - 1]);
	k = (unsigned int)image_randn(g, sizeof(flip) / sizeof(flip[0]));
	stub(g, taken[2], STUB_SIG ^ (1ull << flip[k]), g->kernel_entry,
	    g->decoy_pml4);
}

/* A frame number that is not RAM: in the hole or past the end. */
static uint64_t
not_ram(struct guest *g)
{
	uint64_t end = (image_ram_end(g) + GG_4K - 1) & ~(GG_4K - 1);

	if (g->low < g->size && g->low + GG_4K <= GG_4G && image_randn(g, 2))
		return ((g->low + GG_4K - 1) & ~(GG_4K - 1)) +
		    image_randn(g, (GG_4G - g->low) / GG_4K) * GG_4K;
	return end + image_randn(g, 1ull << 20) * GG_4K;
}

/*
 * Placed below kcr3 when there is room, so a scan that takes the first
 * self-referencing page meets it first.
 */
void
decoy_pml4(struct guest *g)
{
	uint64_t hi = g->kcr3 > 2 * GG_1M ? g->kcr3 : UINT64_MAX, p, e;
	unsigned int i, n, idx;

	p = image_alloc(g, GG_4K, 0, hi);
	(void)image_page(g, p);
	g->decoy_pml4 = p;
	n = 4 + (unsigned int)image_randn(g, 8);
	for (i = 0; i < n; i++) {
		idx = 256 + (unsigned int)image_randn(g, 256);
		e = not_ram(g) | E_P | E_RW;
		image_put64(g, p + idx * 8ull, e);
	}
	for (i = 0; i < 3; i++)	/* user half: into RAM, as noise would */
		image_put64(g, p + image_randn(g, 256) * 8,
		    image_any_frame(g) | E_P | E_RW | E_US);
	build_selfref(g, p, g->self_idx ? g->self_idx :
	    256 + (unsigned int)image_randn(g, 256), 0);
}

/* Entries that look present and point into RAM, never at their own page. */
static void
table_noise(struct guest *g, uint64_t p)
{
	unsigned int i, n = 20 + (unsigned int)image_randn(g, 80);
	uint64_t f, e;

	for (i = 0; i < n; i++) {
		do
			f = image_any_frame(g);
		while (f == p);
		e = f | E_P | (image_rand(g) & (E_RW | E_US | E_XD));
		image_put64(g, p + image_randn(g, 512) * 8, e);
	}
}

void
decoy_noise(struct guest *g, unsigned int nrandom, unsigned int ntables)
{
	uint8_t page[4096];
	uint64_t p;
	unsigned int i;

	for (i = 0; i < nrandom; i++) {
		p = image_alloc(g, GG_4K, 0, UINT64_MAX);
		image_randbytes(g, page, sizeof(page));
		image_write(g, p, page, sizeof(page));
	}
	for (i = 0; i < ntables; i++) {
		p = image_alloc(g, GG_4K, 0, UINT64_MAX);
		(void)image_page(g, p);
		table_noise(g, p);
	}
}
