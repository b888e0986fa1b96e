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

#endif
