/* SPDX-License-Identifier: MIT */
/*
 * One x86-64 page walk (4- or 5-level), over a caller-supplied reader.
 *
 * Runs in: any
 */
#include <errno.h>
#include <stdint.h>

#include "paging.h"

int
paging_canonical(uint64_t va, unsigned int levels)
{
	unsigned int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == va;
}

int
paging_walk(uint64_t cr3, uint64_t va, unsigned int levels,
    paging_read_fn rd, void *arg, struct paging_xlat *ret)
{
	uint64_t table = cr3 & CR3_FRAME, e = 0, at = 0;
	uint32_t w = PAGING_W, u = PAGING_U, nx = 0;
	unsigned int lvl;
	int r;

	if (levels != 4 && levels != 5)
		return -EINVAL;
	if (!paging_canonical(va, levels))
		return -EINVAL;
	for (lvl = levels; lvl >= 1; lvl--) {
		unsigned int shift = 12 + 9 * (lvl - 1);

		at = table + ((va >> shift) & 0x1ff) * 8;
		r = rd(arg, at, &e);
		if (r < 0)
			return r;
		if (!(e & PTE_P))
			return -EFAULT;
		if (!(e & PTE_RW))
			w = 0;
		if (!(e & PTE_US))
			u = 0;
		if (e & PTE_XD)
			nx = PAGING_NX;
		if (lvl == 1 || (e & PTE_PS)) {
			uint64_t mask, size = 1ull << shift;

			if (lvl > 3)	/* PS is reserved in PML4E and PML5E */
				return -EFAULT;
			mask = lvl == 3 ? PTE_FRAME_1G :
			    lvl == 2 ? PTE_FRAME_2M : PTE_FRAME_4K;
			ret->gpa = (e & mask) | (va & (size - 1));
			ret->page_size = size;
			ret->leaf_gpa = at;
			ret->flags = w | u | nx;
			ret->_pad = 0;
			return 0;
		}
		table = e & PTE_FRAME_4K;
	}
	return -EFAULT;	/* not reached: level 1 always returns */
}
