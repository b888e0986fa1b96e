/* SPDX-License-Identifier: MIT */
/*
 * Translation by (cr3, virtual address) and reads through it, with a
 * translation cache: three direct-mapped arrays (4 KiB, 2 MiB, 1 GiB pages),
 * a paging-structure cache (the page table of each 2 MiB region, so a 4 KiB
 * miss reads one live entry instead of walking) and the last translation
 * used, so a read inside one page costs one compare and a large page is
 * walked once.  Flushing everything bumps a
 * generation number; the narrower flushes visit only the slots concerned.
 * flush_gpa is conservative: walks record the page-table frames they read
 * in a Bloom filter, and a write that may touch one drops the whole cache.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <string.h>

#include <vmsig/mem.h>

#include "mem_int.h"
#include "paging.h"

/* Past this many pages a ranged flush drops everything instead. */
#define FLUSH_PAGES_MAX	1024

static inline uint32_t
tlb_hash(uint64_t cr3, uint64_t vpn)
{
	/*
	 * Consecutive pages get distinct slots; the higher page-number bits
	 * and cr3 are mixed in so that regions a power of two apart, and
	 * address spaces, do not all land on the same slots.
	 */
	return (uint32_t)(vpn ^ ((vpn >> 12) + (cr3 >> 12)) * 0x9e3779b1u);
}

static inline uint32_t
bloom_bit(uint64_t frame)
{
	return (uint32_t)((frame * 0x9e3779b97f4a7c15ull) >> 48) &
	    (MEM_PTBLOOM_BITS - 1);
}

void
mem_xlat_reset(struct vmsig_mem *m)
{
	m->gen++;
	m->last.cr3 = MEM_TLB_NONE;
	memset(m->ptbloom, 0, sizeof(m->ptbloom));
}

/* paging_read_fn for the walk: a page-table entry from the mapping. */
static inline int
xlat_read_entry(void *arg, uint64_t gpa, uint64_t *ret_val)
{
	struct vmsig_mem *m = arg;
	const uint8_t *p = mem_host(m, gpa, 8);
	uint32_t b;

	if (p == NULL)
		return -EFAULT;
	b = bloom_bit(gpa >> 12);
	m->ptbloom[b / 64] |= 1ull << (b % 64);
	memcpy(ret_val, p, 8);
	return 0;
}

static inline struct mem_tlb *
tlb_slot(struct vmsig_mem *m, uint64_t cr3, uint64_t va, unsigned int shift)
{
	uint32_t h = tlb_hash(cr3, va >> shift);

	if (shift == 12)
		return &m->tlb4k[h & (MEM_TLB_4K - 1)];
	if (shift == 21)
		return &m->tlb2m[h & (MEM_TLB_2M - 1)];
	return &m->tlb1g[h & (MEM_TLB_1G - 1)];
}

static inline struct mem_tlb *
ptc_slot(struct vmsig_mem *m, uint64_t cr3, uint64_t va)
{
	return &m->ptc[tlb_hash(cr3, va >> 21) & (MEM_PTC - 1)];
}

static inline int
tlb_match(const struct vmsig_mem *m, const struct mem_tlb *e, uint64_t cr3,
    uint64_t va)
{
	return e->cr3 == cr3 && e->gen == m->gen &&
	    ((va ^ e->vbase) >> e->shift) == 0;
}

/* Cache a translation in the array of its page size. */
static const struct mem_tlb *
tlb_fill(struct vmsig_mem *m, uint64_t cr3, uint64_t va,
    const struct paging_xlat *x)
{
	unsigned int shift;
	struct mem_tlb *e;

	shift = x->page_size == VMSIG_PAGE_1G ? 30 :
	    x->page_size == VMSIG_PAGE_2M ? 21 : 12;
	e = tlb_slot(m, cr3, va, shift);
	e->cr3 = cr3;
	e->vbase = va & ~(x->page_size - 1);
	e->gen = m->gen;
	e->gpa = x->gpa & ~(x->page_size - 1);
	e->host = mem_host(m, e->gpa, x->page_size);
	e->flags = x->flags;
	e->shift = shift;
	return e;
}

/* Remember the page table that maps va's 2 MiB region. */
static void
ptc_fill(struct vmsig_mem *m, uint64_t cr3, uint64_t va, uint64_t table,
    uint32_t flags)
{
	const uint8_t *p = mem_host(m, table, 4096);
	struct mem_tlb *e;

	if (p == NULL)
		return;
	e = ptc_slot(m, cr3, va);
	*e = (struct mem_tlb){ .cr3 = cr3, .vbase = va & ~(VMSIG_PAGE_2M - 1),
	    .gen = m->gen, .gpa = table, .host = p, .flags = flags,
	    .shift = 21 };
}

/*
 * The full walk, with proto/paging.h's steps; on the way down it records
 * the last table for the paging-structure cache.  cr3 is already a frame.
 */
static int
xlat_walk(struct vmsig_mem *m, uint64_t cr3, uint64_t va,
    const struct mem_tlb **ret)
{
	uint64_t table = cr3, e, at;
	uint32_t flags = PAGING_W | PAGING_U;
	struct paging_xlat x;
	unsigned int lvl;
	int r = -EFAULT;

	if (!paging_canonical_inline(va, m->levels))
		return -EINVAL;
	for (lvl = m->levels; lvl >= 1; lvl--) {
		if (lvl == 1)
			ptc_fill(m, cr3, va, table, flags);
		at = paging_entry_gpa(table, lvl, va);
		if ((r = xlat_read_entry(m, at, &e)) < 0)
			return r;
		if ((r = paging_step(e, lvl, va, &flags, &table, &x)) != 0)
			break;
	}
	if (r < 0)
		return r;
	*ret = tlb_fill(m, cr3, va, &x);
	return 0;
}

/*
 * A 4 KiB page under a cached page table: one live entry read, straight
 * into `last`.  Sequential reads stay on one hot line of the table.
 */
static inline int
xlat_ptc(struct vmsig_mem *m, const struct mem_tlb *p, uint64_t cr3,
    uint64_t va)
{
	uint32_t flags = p->flags;
	struct paging_xlat x;
	uint64_t e, next;
	int r;

	memcpy(&e, p->host + ((va >> 12) & 0x1ff) * 8, 8);
	if ((r = paging_step(e, 1, va, &flags, &next, &x)) < 0)
		return r;
	if (r == 0)		/* not a leaf: cannot happen at level 1 */
		return -EFAULT;
	m->last = (struct mem_tlb){ .cr3 = cr3, .vbase = va & ~0xfffull,
	    .gen = m->gen, .gpa = x.gpa & ~0xfffull,
	    .host = mem_host(m, x.gpa & ~0xfffull, VMSIG_PAGE_4K),
	    .flags = x.flags, .shift = 12 };
	return 0;
}

/*
 * The cached translation of va's page, walking on a miss.  The table
 * cache comes before the 4 KiB array: its slot is hot for neighbouring
 * pages, where a 4 KiB slot would be one more cache miss per page.
 */
static inline int
xlat_get(struct vmsig_mem *m, uint64_t cr3, uint64_t va,
    const struct mem_tlb **ret)
{
	const struct mem_tlb *e;
	int r;

	*ret = &m->last;
	if (tlb_match(m, &m->last, cr3, va))
		return 0;
	e = ptc_slot(m, cr3, va);
	if (tlb_match(m, e, cr3, va))
		return xlat_ptc(m, e, cr3, va);
	e = tlb_slot(m, cr3, va, 12);
	if (tlb_match(m, e, cr3, va))
		goto hit;
	e = tlb_slot(m, cr3, va, 21);
	if (tlb_match(m, e, cr3, va))
		goto hit;
	e = tlb_slot(m, cr3, va, 30);
	if (!tlb_match(m, e, cr3, va) && (r = xlat_walk(m, cr3, va, &e)) < 0)
		return r;
hit:
	m->last = *e;
	return 0;
}

int
vmsig_mem_translate(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    struct vmsig_xlat *ret)
{
	const struct mem_tlb *e;
	int r;

	if (mem == NULL || ret == NULL)
		return -EINVAL;
	if ((r = xlat_get(mem, cr3 & CR3_FRAME, va, &e)) < 0)
		return r;
	ret->gpa = e->gpa + (va - e->vbase);
	ret->page_size = 1ull << e->shift;
	ret->flags = e->flags;
	ret->_pad = 0;
	return 0;
}

/* The general loop: page by page, through read_pa where a page is split. */
static int
read_va_slow(struct vmsig_mem *m, uint64_t cr3, uint64_t va, uint8_t *out,
    size_t len, size_t *ret_done)
{
	const struct mem_tlb *e;
	size_t done = 0, d;
	int r = 0;

	while (done < len) {
		uint64_t at = va + done, off, n;

		if (at < va) {		/* ran off the top of the space */
			r = -EFAULT;
			break;
		}
		if ((r = xlat_get(m, cr3, at, &e)) < 0) {
			r = -EFAULT;	/* includes running into the hole */
			break;
		}
		off = at - e->vbase;
		n = (1ull << e->shift) - off;
		if (n > len - done)
			n = len - done;
		if (e->host != NULL) {
			memcpy(out + done, e->host + off, n);
			done += n;
			continue;
		}
		r = vmsig_mem_read_pa(m, e->gpa + off, out + done, n, &d);
		done += d;
		if (r < 0)
			break;
	}
	if (ret_done != NULL)
		*ret_done = done;
	return r;
}

int
vmsig_mem_read_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    void *buf, size_t len, size_t *ret_done)
{
	const struct mem_tlb *e;

	if (mem == NULL || (buf == NULL && len > 0)) {
		if (ret_done != NULL)
			*ret_done = 0;
		return -EINVAL;
	}
	cr3 &= CR3_FRAME;
	/* Hot path: inside the last page used, wholly in RAM. */
	e = &mem->last;
	if (e->cr3 == cr3 && ((va ^ e->vbase) >> e->shift) == 0 &&
	    e->host != NULL && len <= (1ull << e->shift) - (va - e->vbase)) {
		memcpy(buf, e->host + (va - e->vbase), len);
		if (ret_done != NULL)
			*ret_done = len;
		return 0;
	}
	if (!paging_canonical_inline(va, mem->levels)) {
		if (ret_done != NULL)
			*ret_done = 0;
		return -EINVAL;
	}
	return read_va_slow(mem, cr3, va, buf, len, ret_done);
}

void
vmsig_mem_flush(struct vmsig_mem *mem)
{
	if (mem != NULL)
		mem_xlat_reset(mem);
}

static void
tlb_drop_cr3(struct mem_tlb *t, size_t n, uint64_t cr3)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].cr3 == cr3)
			t[i].cr3 = MEM_TLB_NONE;
}

void
vmsig_mem_flush_cr3(struct vmsig_mem *mem, uint64_t cr3)
{
	if (mem == NULL)
		return;
	cr3 &= CR3_FRAME;
	mem->last.cr3 = MEM_TLB_NONE;
	tlb_drop_cr3(mem->tlb4k, MEM_TLB_4K, cr3);
	tlb_drop_cr3(mem->tlb2m, MEM_TLB_2M, cr3);
	tlb_drop_cr3(mem->tlb1g, MEM_TLB_1G, cr3);
	tlb_drop_cr3(mem->ptc, MEM_PTC, cr3);
}

/*
 * Drop the entries of cr3 in array t (n slots, pages of 1 << shift) that
 * meet [va, last].
 */
static void
flush_va_array(struct mem_tlb *t, size_t n,
    unsigned int shift, uint64_t cr3, uint64_t va, uint64_t last)
{
	uint64_t p, first = va >> shift, end = last >> shift;
	struct mem_tlb *e;

	if (end - first >= n) {		/* every slot may hold one */
		for (p = 0; p < n; p++)
			if (t[p].cr3 == cr3 && t[p].vbase >> shift >= first &&
			    t[p].vbase >> shift <= end)
				t[p].cr3 = MEM_TLB_NONE;
		return;
	}
	for (p = first; p <= end; p++) {
		e = &t[tlb_hash(cr3, p) & (n - 1)];
		if (e->cr3 == cr3 && e->vbase >> shift == p)
			e->cr3 = MEM_TLB_NONE;
	}
}

void
vmsig_mem_flush_va(struct vmsig_mem *mem, uint64_t cr3, uint64_t va,
    uint64_t len)
{
	uint64_t last;

	if (mem == NULL || len == 0)
		return;
	cr3 &= CR3_FRAME;
	last = va + len - 1 < va ? UINT64_MAX : va + len - 1;
	mem->last.cr3 = MEM_TLB_NONE;
	flush_va_array(mem->tlb4k, MEM_TLB_4K, 12, cr3, va, last);
	flush_va_array(mem->tlb2m, MEM_TLB_2M, 21, cr3, va, last);
	flush_va_array(mem->tlb1g, MEM_TLB_1G, 30, cr3, va, last);
	/* A changed upper entry may move the table of the whole region. */
	flush_va_array(mem->ptc, MEM_PTC, 21, cr3, va, last);
}

void
vmsig_mem_flush_gpa(struct vmsig_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t f, first, end;
	uint32_t b;

	if (mem == NULL || len == 0)
		return;
	first = gpa >> 12;
	end = (gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1) >> 12;
	if (end - first >= FLUSH_PAGES_MAX) {
		mem_xlat_reset(mem);
		return;
	}
	for (f = first; f <= end; f++) {
		b = bloom_bit(f);
		if (mem->ptbloom[b / 64] & (1ull << (b % 64))) {
			mem_xlat_reset(mem);
			return;
		}
	}
}
