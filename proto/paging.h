/* SPDX-License-Identifier: MIT */
/*
 * x86-64 page-table entries and one page walk, shared by the holder library
 * (translation) and vmsig-memctx (validating a kcr3 candidate).  Pure: the
 * caller supplies the function that reads an 8-byte entry of guest-physical
 * memory, so each side keeps its own bounds-checked reader.
 *
 * Masks follow the Intel SDM, Vol. 3A, 4.5: bits 51:12 hold the frame of a
 * table or 4 KiB page, bits 51:21 (2 MiB) and 51:30 (1 GiB) of a large page
 * whose bit 12 is PAT, not address; bits 62:52 are ignored or protection
 * keys, and bit 63 is XD.
 *
 * Runs in: any
 */
#ifndef VMSIG_PAGING_H
#define VMSIG_PAGING_H

#include <errno.h>
#include <stdint.h>

#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define PTE_PS		(1ull << 7)
#define PTE_XD		(1ull << 63)
#define PTE_FRAME_4K	0x000ffffffffff000ull	/* 51:12 */
#define PTE_FRAME_2M	0x000fffffffe00000ull	/* 51:21 */
#define PTE_FRAME_1G	0x000fffffc0000000ull	/* 51:30 */
/* CR3: bits 11:0 are PCID (or PWT/PCD); bit 63 is "no flush" on a write. */
#define CR3_FRAME	PTE_FRAME_4K

/* Reads the 8-byte entry at guest-physical `gpa` (8-aligned); 0 or -errno. */
typedef int (*paging_read_fn)(void *arg, uint64_t gpa, uint64_t *ret_val);

struct paging_xlat {
	uint64_t gpa;		/* physical address of va */
	uint64_t page_size;	/* 4 KiB, 2 MiB or 1 GiB */
	uint64_t leaf_gpa;	/* where the leaf entry lives */
	uint32_t flags;		/* PAGING_W, PAGING_U, PAGING_NX */
	uint32_t _pad;
};
#define PAGING_W	0x1u	/* writable at every level */
#define PAGING_U	0x2u	/* user at every level */
#define PAGING_NX	0x4u	/* XD at some level */

/* 1 when va is canonical for `levels` (4: 48-bit, 5: 57-bit). */
int paging_canonical(uint64_t va, unsigned int levels);

/*
 * Walk va under cr3 with `levels` (4 or 5).  Returns 0 and *ret, -EFAULT
 * for a not-present entry (whatever its frame bits say) or a reserved PS bit
 * (PML4E/PML5E), -EINVAL for a non-canonical va or bad levels, or the read
 * function's error.
 */
int paging_walk(uint64_t cr3, uint64_t va, unsigned int levels,
    paging_read_fn rd, void *arg, struct paging_xlat *ret);

/*
 * The walk itself, inline so a hot caller whose reader is a static function
 * gets it inlined (no indirect call per level).  paging_walk() is this very
 * function, so the holder and the helper cannot disagree on masks or faults.
 */
static inline int
paging_canonical_inline(uint64_t va, unsigned int levels)
{
	unsigned int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == va;
}

/*
 * One step: the entry e read at level lvl (5..1) for va, with the rights of
 * the levels above in *flags (start with PAGING_W | PAGING_U).  Returns 1
 * and *ret (but not leaf_gpa) at a leaf, 0 and the next table in *ret_next,
 * or -EFAULT (not present, PS reserved).  Callers that cache part of a walk
 * (the holder's paging-structure cache) resume with this very function.
 */
static inline int
paging_step(uint64_t e, unsigned int lvl, uint64_t va, uint32_t *flags,
    uint64_t *ret_next, struct paging_xlat *ret)
{
	uint64_t mask, size;

	if (!(e & PTE_P))
		return -EFAULT;
	if (!(e & PTE_RW))
		*flags &= ~PAGING_W;
	if (!(e & PTE_US))
		*flags &= ~PAGING_U;
	if (e & PTE_XD)
		*flags |= PAGING_NX;
	if (lvl != 1 && !(e & PTE_PS)) {
		*ret_next = e & PTE_FRAME_4K;
		return 0;
	}
	if (lvl > 3)		/* PS is reserved in PML4E and PML5E */
		return -EFAULT;
	size = 1ull << (12 + 9 * (lvl - 1));
	mask = lvl == 3 ? PTE_FRAME_1G : lvl == 2 ? PTE_FRAME_2M : PTE_FRAME_4K;
	ret->gpa = (e & mask) | (va & (size - 1));
	ret->page_size = size;
	ret->flags = *flags;
	ret->_pad = 0;
	return 1;
}

/* The address of the entry for va in the table at `table`, level lvl. */
static inline uint64_t
paging_entry_gpa(uint64_t table, unsigned int lvl, uint64_t va)
{
	return table + ((va >> (12 + 9 * (lvl - 1))) & 0x1ff) * 8;
}

static inline int
paging_walk_inline(uint64_t cr3, uint64_t va, unsigned int levels,
    paging_read_fn rd, void *arg, struct paging_xlat *ret)
{
	uint64_t table = cr3 & CR3_FRAME, e = 0, at;
	uint32_t flags = PAGING_W | PAGING_U;
	unsigned int lvl;
	int r;

	if (levels != 4 && levels != 5)
		return -EINVAL;
	if (!paging_canonical_inline(va, levels))
		return -EINVAL;
	for (lvl = levels; lvl >= 1; lvl--) {
		at = paging_entry_gpa(table, lvl, va);
		if ((r = rd(arg, at, &e)) < 0)
			return r;
		r = paging_step(e, lvl, va, &flags, &table, ret);
		if (r < 0)
			return r;
		if (r > 0) {
			ret->leaf_gpa = at;
			return 0;
		}
	}
	return -EFAULT;	/* not reached: level 1 always returns */
}

#endif
