/* SPDX-License-Identifier: MIT */
/*
 * The page map: walk an address space's tables depth first, so pages come
 * out in ascending virtual order with each table read once per path, and
 * merge neighbours that are contiguous in both spaces with the same size
 * and rights into one run.  Masks and fault rules are those of
 * proto/paging.h.  A self-referencing entry (Windows maps its tables that
 * way) makes the tables reachable by several paths; the depth bounds each
 * path and a budget of table pages bounds the whole walk, so tables that
 * point at each other everywhere end it with -ELOOP instead of hanging.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <string.h>

#include <vmsig/mem.h>

#include "mem_int.h"
#include "paging.h"

struct pmap_walk {
	struct vmsig_mem *m;
	uint64_t lo, hi;	/* inclusive bounds, canonical */
	vmsig_map_fn fn;
	void *arg;
	struct vmsig_map_range run;
	int have_run;
	uint32_t tables;	/* table pages visited */
	unsigned int levels;
};

static int
pmap_flush(struct pmap_walk *w)
{
	if (!w->have_run)
		return 0;
	w->have_run = 0;
	return w->fn(w->arg, &w->run);
}

/* One mapped page: grow the current run or hand it over and start anew. */
static int
pmap_page(struct pmap_walk *w, uint64_t va, uint64_t gpa, uint64_t size,
    uint32_t flags)
{
	struct vmsig_map_range *r = &w->run;
	uint64_t from = va < w->lo ? w->lo : va;
	uint64_t to = va + (size - 1) > w->hi ? w->hi : va + (size - 1);
	int rv;

	/* Clip the page to the range asked for; pages are reported from. */
	gpa += from - va;
	if (w->have_run && r->va + r->size == from &&
	    r->gpa + r->size == gpa && r->page_size == size &&
	    r->flags == flags) {
		r->size += to - from + 1;
		return 0;
	}
	if ((rv = pmap_flush(w)) != 0)
		return rv;
	*r = (struct vmsig_map_range){ .va = from, .size = to - from + 1,
	    .gpa = gpa, .page_size = size, .flags = flags };
	w->have_run = 1;
	return 0;
}

static uint64_t
sign_extend(uint64_t va, unsigned int levels)
{
	unsigned int bits = levels == 5 ? 57 : 48;

	return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits));
}

static int pmap_table(struct pmap_walk *, uint64_t, unsigned int, uint64_t,
    uint32_t);

/* One present entry at level lvl mapping [va, va + 2^shift). */
static int
pmap_entry(struct pmap_walk *w, uint64_t e, unsigned int lvl, uint64_t va,
    uint32_t flags)
{
	unsigned int shift = 12 + 9 * (lvl - 1);

	if (!(e & PTE_RW))
		flags &= ~VMSIG_PAGE_WRITABLE;
	if (!(e & PTE_US))
		flags &= ~VMSIG_PAGE_USER;
	if (e & PTE_XD)
		flags |= VMSIG_PAGE_NX;
	if (lvl == 1)
		return pmap_page(w, va, e & PTE_FRAME_4K, VMSIG_PAGE_4K, flags);
	if (e & PTE_PS) {
		if (lvl > 3)		/* reserved: the walk faults too */
			return 0;
		return pmap_page(w, va, e & (lvl == 3 ? PTE_FRAME_1G :
		    PTE_FRAME_2M), 1ull << shift, flags);
	}
	return pmap_table(w, e & PTE_FRAME_4K, lvl - 1, va, flags);
}

/*
 * The table at `table` of level lvl whose first entry maps `base`
 * (canonical).  Only the top level spans the non-canonical gap, so only
 * there is each entry's address sign-extended on its own.
 */
static int
pmap_table(struct pmap_walk *w, uint64_t table, unsigned int lvl,
    uint64_t base, uint32_t flags)
{
	unsigned int shift = 12 + 9 * (lvl - 1);
	const uint8_t *p;
	uint64_t e, va;
	unsigned int i;
	int r;

	p = mem_host(w->m, table, 4096);
	if (p == NULL)			/* a table outside RAM maps nothing */
		return 0;
	if (++w->tables > MEM_PMAP_MAX_TABLES)
		return -ELOOP;
	for (i = 0; i < 512; i++) {
		if (lvl == w->levels)
			va = sign_extend((uint64_t)i << shift, w->levels);
		else
			va = base + ((uint64_t)i << shift);
		if (va + ((1ull << shift) - 1) < w->lo)
			continue;
		if (va > w->hi)
			break;
		memcpy(&e, p + 8 * i, 8);
		if (!(e & PTE_P))
			continue;
		if ((r = pmap_entry(w, e, lvl, va, flags)) != 0)
			return r;
	}
	return 0;
}

int
vmsig_mem_pmap(struct vmsig_mem *mem, uint64_t cr3, uint64_t va_start,
    uint64_t va_end, vmsig_map_fn fn, void *arg)
{
	struct pmap_walk w;
	int r;

	if (mem == NULL || fn == NULL || (va_end != 0 && va_end <= va_start))
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.m = mem;
	w.lo = va_start;
	w.hi = va_end == 0 ? UINT64_MAX : va_end - 1;
	w.fn = fn;
	w.arg = arg;
	w.levels = mem->levels;
	r = pmap_table(&w, cr3 & CR3_FRAME, w.levels, 0,
	    VMSIG_PAGE_WRITABLE | VMSIG_PAGE_USER);
	if (r != 0)
		return r;
	return pmap_flush(&w);
}
