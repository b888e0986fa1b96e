/* SPDX-License-Identifier: MIT */
/*
 * What the synthetic guest holds and the ground truth about it: the System
 * address space (kernel image, a 4 KiB pool with the System EPROCESS, a
 * read-only NX pool, a 1 GiB page of guest-physical 0, pages whose frames
 * cross the segment boundary or are not RAM, a self-reference entry), two
 * or three process address spaces sharing its kernel half, then the low
 * stub, decoys and noise (decoy.c).  Each piece adds the probes and
 * patterns that check it.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestgen.h"

#define POOL_PAGES	24
#define POOL_ABSENT	12	/* not present, frame kept */
#define USER_PAGES	6

/* The bytes at va under cr3 now, into b; every one in a reserved frame. */
static void
probe_read(struct guest *g, uint64_t cr3, uint64_t va, uint8_t *b, size_t len)
{
	uint64_t gpa;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = GG_4K - ((va + i) & (GG_4K - 1));
		if (n > len - i)
			n = len - i;
		if (!build_lookup(g, cr3, va + i, &gpa) ||
		    !image_reserved(g, gpa, n))
			errx(2, "internal: probe %#llx is not in a built page",
			    (unsigned long long)(va + i));
		image_read(g, gpa, b + i, n);
	}
}

/*
 * Every probe byte lies in a reserved frame, so --fill cannot change it.
 * The bytes are read again when the scene is complete (scene_build).
 */
void
scene_probe(struct guest *g, uint64_t cr3, uint64_t va, size_t len)
{
	struct gg_probe_out *p;
	uint8_t *b;

	b = malloc(len);
	if (b == NULL)
		err(2, "out of memory");
	probe_read(g, cr3, va, b, len);
	g->probes = image_grow(g->probes, &g->probes_cap, g->nprobes,
	    sizeof(*g->probes));
	p = &g->probes[g->nprobes++];
	p->cr3 = cr3;
	p->va = va;
	p->len = len;
	p->bytes = b;
	p->err = 0;
}

void
scene_fault(struct guest *g, uint64_t cr3, uint64_t va, int error)
{
	struct gg_probe_out *p;

	g->probes = image_grow(g->probes, &g->probes_cap, g->nprobes,
	    sizeof(*g->probes));
	p = &g->probes[g->nprobes++];
	memset(p, 0, sizeof(*p));
	p->cr3 = cr3;
	p->va = va;
	p->len = 8;
	p->err = error;
}

/*
 * A pattern: 16 random bytes written at addr (a VA under cr3, or a
 * guest-physical address when cr3 is 0).
 */
static void
pattern(struct guest *g, uint64_t cr3, uint64_t addr)
{
	struct gg_pat_out *p;
	uint64_t gpa;
	size_t i;

	g->pats = image_grow(g->pats, &g->pats_cap, g->npats, sizeof(*g->pats));
	p = &g->pats[g->npats++];
	p->cr3 = cr3;
	p->addr = addr;
	image_randbytes(g, p->bytes, sizeof(p->bytes));
	for (i = 0; i < sizeof(p->bytes); i++) {
		gpa = addr + i;
		if (cr3 != 0 && !build_lookup(g, cr3, addr + i, &gpa))
			errx(2, "internal: pattern VA not mapped");
		image_write(g, gpa, &p->bytes[i], 1);
	}
}

/*
 * A data frame not adjacent to `prev`, so VA-consecutive pages are never
 * physically contiguous.  Odd pages go above 4 GiB on a split layout.
 */
static uint64_t
data_frame(struct guest *g, unsigned int i, uint64_t prev)
{
	uint64_t lo = (g->low < g->size && (i & 1)) ? GG_4G : 0, f;
	uint8_t page[4096];
	int tries;

	for (tries = 0; tries < 64; tries++) {
		f = image_alloc(g, GG_4K, lo, UINT64_MAX);
		if (f != prev + GG_4K && f + GG_4K != prev)
			break;
	}
	image_randbytes(g, page, sizeof(page));
	image_write(g, f, page, sizeof(page));
	return f;
}

/* Rights vary by page; one page is not present but keeps its frame. */
static uint64_t
pool_leaf(unsigned int i)
{
	uint64_t leaf = E_P | E_RW;

	if (i == POOL_ABSENT)
		return E_RW;
	if (i % 5 == 3)
		leaf &= ~E_RW;
	if (i % 3 == 1)
		leaf |= E_XD;
	return leaf;
}

static void
kernel_pool(struct guest *g, uint64_t va)
{
	uint64_t f = 0, ep;
	unsigned int i;

	for (i = 0; i < POOL_PAGES; i++) {
		f = data_frame(g, i, f);
		build_map(g, g->kcr3, va + i * GG_4K, f, GG_4K, pool_leaf(i),
		    E_RW, 1);
	}
	/*
	 * The System EPROCESS, or with a Windows scene a stale DirectoryTableBase
	 * (the scene's System EPROCESS replaces it); low bits set.
	 */
	ep = va + (2 + image_randn(g, 4)) * GG_4K + 0x10 * image_randn(g, 64);
	g->sys_eproc = ep;
	if (!build_lookup(g, g->kcr3, ep, &f))
		errx(2, "internal: EPROCESS not mapped");
	image_put64(g, f + 0x28, g->kcr3 | 0x2);
	pattern(g, g->kcr3, va + 21 * GG_4K - 7);
	scene_probe(g, g->kcr3, ep + 0x28, 8);
	for (i = 0; i + 1 < POOL_PAGES; i += 4)
		if (i != POOL_ABSENT)
			scene_probe(g, g->kcr3, va + i * GG_4K + 0x100, 32);
	for (i = 0; i + 1 < POOL_PAGES; i += 5)
		if (i != POOL_ABSENT && i + 1 != POOL_ABSENT)
			scene_probe(g, g->kcr3, va + (i + 1) * GG_4K - 24, 64);
	scene_probe(g, g->kcr3, va + 16 * GG_4K + 4000, GG_4K + 200);
	scene_fault(g, g->kcr3, va + POOL_ABSENT * GG_4K + 0x10, EFAULT);
	scene_fault(g, g->kcr3, va + (POOL_ABSENT - 1) * GG_4K + 4090, EFAULT);
	scene_fault(g, g->kcr3, va + (POOL_PAGES + 8) * GG_4K, EFAULT);
	/* Read-only and NX through the PDE, whatever the PTEs say. */
	va += GG_2M;
	for (i = 0; i < 4; i++) {
		f = data_frame(g, i, f);
		build_map(g, g->kcr3, va + i * GG_4K, f, GG_4K, E_P | E_RW,
		    E_XD, 1);
	}
	scene_probe(g, g->kcr3, va + GG_4K - 40, 80);
}

/*
 * Pages that cross the segment boundary (GPA low-4K then 4 GiB, reserved
 * at the start) and pages whose frames are not RAM: in the hole, past the
 * end.  Translation succeeds for the latter; reading them must fail.
 */
static void
odd_frames(struct guest *g, uint64_t va)
{
	uint64_t f, end = image_ram_end(g);
	uint8_t page[4096];

	if (g->low < g->size) {
		image_randbytes(g, page, sizeof(page));
		image_write(g, g->low - GG_4K, page, sizeof(page));
		image_randbytes(g, page, sizeof(page));
		image_write(g, GG_4G, page, sizeof(page));
		build_map(g, g->kcr3, va, g->low - GG_4K, GG_4K, E_P | E_RW,
		    E_RW, 1);
		build_map(g, g->kcr3, va + GG_4K, GG_4G, GG_4K, E_P | E_RW,
		    E_RW, 1);
		scene_probe(g, g->kcr3, va + GG_4K - 48, 96);
		scene_probe(g, g->kcr3, va + 0x10, 16);
	}
	if (g->low < g->size && g->low < GG_4G) {
		uint64_t lo = (g->low + GG_4K - 1) & ~(GG_4K - 1);

		f = lo + image_randn(g, (GG_4G - lo) / GG_4K) * GG_4K;
		build_map(g, g->kcr3, va + 4 * GG_4K, f, GG_4K, E_P | E_RW,
		    E_RW, 1);
		scene_fault(g, g->kcr3, va + 4 * GG_4K + 0x20, EFAULT);
	}
	f = ((end + GG_4K - 1) & ~(GG_4K - 1)) + image_randn(g, 1024) * GG_4K;
	build_map(g, g->kcr3, va + 6 * GG_4K, f, GG_4K, E_P | E_RW | E_XD,
	    E_RW, 1);
	scene_fault(g, g->kcr3, va + 6 * GG_4K, EFAULT);
}

/* A page of random bytes with a physical pattern in it. */
static void
phys_pattern(struct guest *g, uint64_t lo, uint64_t off)
{
	uint64_t f = image_alloc(g, GG_4K, lo, UINT64_MAX);
	uint8_t page[4096];

	image_randbytes(g, page, sizeof(page));
	image_write(g, f, page, sizeof(page));
	pattern(g, 0, f + off);
}

/* A 1 GiB page of guest-physical 0, and data only visible through it. */
static void
one_gig(struct guest *g, unsigned int idx)
{
	uint64_t va = GG_KVA(idx) + image_randn(g, 512) * GG_1G, top, f;
	uint8_t buf[8192];

	build_map(g, g->kcr3, va, 0, GG_1G, E_P | E_RW | E_XD, E_RW, 1);
	top = g->low < GG_1G ? g->low : GG_1G;
	f = image_alloc(g, 2 * GG_4K, 0, top);
	image_randbytes(g, buf, sizeof(buf));
	image_write(g, f, buf, sizeof(buf));
	scene_probe(g, g->kcr3, va + f + 100, 32);
	scene_probe(g, g->kcr3, va + f + GG_4K - 20, 40);
	g->onegig_va = va;
}

void
scene_add_proc(struct guest *g, uint64_t cr3)
{
	g->procs = image_grow(g->procs, &g->procs_cap, g->nproc,
	    sizeof(*g->procs));
	g->procs[g->nproc++] = cr3;
}

static void
process(struct guest *g, unsigned int n)
{
	uint64_t pml4 = build_table(g), uva, f = 0;
	unsigned int i;

	build_clone_kernel(g, g->kcr3, pml4);
	scene_add_proc(g, pml4);
	uva = 0x00007ff600000000ull + (image_randn(g, 1u << 16) << 16);
	for (i = 0; i < USER_PAGES; i++) {
		uint64_t leaf = E_P | E_US | ((i & 1) ? E_RW : 0) |
		    (i % 3 == 2 ? E_XD : 0);

		f = data_frame(g, i, f);
		build_map(g, pml4, uva + i * GG_4K, f, GG_4K, leaf,
		    E_RW | E_US, 1);
	}
	if (n == 1)
		pattern(g, pml4, uva + 5 * GG_4K - 9);
	scene_probe(g, pml4, uva + 0x40, 32);
	scene_probe(g, pml4, uva + 2 * GG_4K - 30, 60);
	scene_probe(g, pml4, uva + 4 * GG_4K - 1, 2);
	scene_fault(g, pml4, uva + USER_PAGES * GG_4K, EFAULT);
	scene_fault(g, g->kcr3, uva, EFAULT);	/* System's user half is empty */
	uva = 0x400000ull + image_randn(g, 64) * GG_2M;
	for (i = 0; i < 2; i++) {
		f = data_frame(g, i, f);
		build_map(g, pml4, uva + i * GG_4K, f, GG_4K,
		    E_P | E_US | (i ? E_RW | E_XD : 0), E_RW | E_US, 1);
	}
	scene_probe(g, pml4, uva + GG_4K - 8, 16);
	scene_probe(g, pml4, g->kernel_base, 16);
}

/* Distinct kernel PML4 slots, none next to another (no run can merge). */
static unsigned int
pick_slot(struct guest *g, const unsigned int *used, size_t nused,
    unsigned int lo, unsigned int hi)
{
	unsigned int s;
	size_t i;
	int tries;

	for (tries = 0; tries < 10000; tries++) {
		s = lo + (unsigned int)image_randn(g, hi - lo);
		for (i = 0; i < nused; i++)
			if (s + 1 >= used[i] && s <= used[i] + 1)
				break;
		if (i == nused)
			return s;
	}
	errx(2, "internal: no free PML4 slot");
}

static void
kernel_space(struct guest *g)
{
	unsigned int used[5] = { 496 }, pool, gig;
	uint64_t va;

	pool = used[1] = pick_slot(g, used, 1, 256, 496);
	gig = used[2] = pick_slot(g, used, 2, 256, 496);
	g->self_idx = used[3] = pick_slot(g, used, 3, 256, 512);
	va = GG_KVA(pool) + image_randn(g, 512) * GG_1G +
	    image_randn(g, 500) * GG_2M;
	kernel_pool(g, va);
	/* The Windows pool: the System EPROCESS the kernel image points at. */
	if (g->win != NULL)
		win_kernel(g, used[4] = pick_slot(g, used, 4, 256, 496));
	pe_build(g);
	one_gig(g, gig);
	odd_frames(g, va + 2 * GG_2M);
	build_selfref(g, g->kcr3, g->self_idx, (int)image_randn(g, 2));
	scene_fault(g, g->kcr3, 0x0000800000000000ull, EINVAL);
	scene_fault(g, g->kcr3, 0xffff7ffffffff000ull, EINVAL);
	/* The same slot as the 1 GiB page, another PDPT entry. */
	scene_fault(g, g->kcr3, (g->onegig_va ^ GG_1G) + 0x1234000, EFAULT);
}

void
scene_build(struct guest *g)
{
	unsigned int i, n;

	image_reserve(g, 0, GG_1M);
	if (g->low < g->size) {
		image_reserve(g, g->low - GG_4K, GG_4K);
		image_reserve(g, GG_4G, GG_4K);
	}
	if (g->noise_only) {
		decoy_noise(g, 256, 128);
		phys_pattern(g, 0, 0x321);
		return;
	}
	pe_frames(g);
	g->kcr3 = build_table(g);
	scene_add_proc(g, g->kcr3);
	kernel_space(g);
	n = 2 + (unsigned int)image_randn(g, 2);
	for (i = 1; i <= n; i++)
		process(g, i);
	if (g->win != NULL)
		win_build(g);
	decoy_pml4(g);
	if (g->lowstub) {
		decoy_lowstub(g);
		scene_probe(g, g->kcr3, g->onegig_va + g->lowstub_pa, 0xa8);
	}
	decoy_noise(g, 48, 24);
	phys_pattern(g, g->low < g->size ? GG_4G : 0, 0x7f9);
	/* What a probe reads is what the finished image holds. */
	for (i = 0; i < g->nprobes; i++)
		if (g->probes[i].bytes != NULL)
			probe_read(g, g->probes[i].cr3, g->probes[i].va,
			    g->probes[i].bytes, g->probes[i].len);
}
