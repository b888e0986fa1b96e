/* SPDX-License-Identifier: MIT */
/*
 * kcr3 from the x64 low stub.  A booted 64-bit Windows keeps, in a page
 * below 640 KiB, the PROCESSOR_START_BLOCK its application processors
 * start from: a short jump at its start, the kernel entry point it jumps
 * to, and the CR3 it loads.  Finding it is a few page reads, so auto tries
 * it first; every stub found is still only a candidate until its CR3
 * validates.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>

#include "memctx.h"

/* The stub sits page-aligned in conventional memory, below the VGA hole. */
#define STUB_FIRST		0x1000ull
#define STUB_LAST		0x9f000ull
/* PROCESSOR_START_BLOCK.Jmp: E9 (jmp rel) ... , then CompletionFlag etc. */
#define STUB_SIG_MASK		0xffffffffffff00ffull
#define STUB_SIG		0x00000001000600e9ull
/* +0x70: the kernel entry VA, in the kernel image region, 4-aligned. */
#define STUB_ENTRY_OFF		0x70
#define STUB_ENTRY_MASK		0xfffff80000000003ull
#define STUB_ENTRY_VAL		0xfffff80000000000ull
/* +0xA0: ProcessorState.SpecialRegisters.Cr3: page-aligned, below 1 TiB. */
#define STUB_CR3_OFF		0xa0
#define STUB_CR3_MASK		0xffffff0000000fffull

int
kcr3_lowstub_at(struct ram *ram, uint64_t pa, struct kcr3_lowstub *ret)
{
	uint64_t sig, entry, cr3;
	int r;

	if ((r = ram_read_u64(ram, pa, &sig)) < 0)
		return r;
	if ((sig & STUB_SIG_MASK) != STUB_SIG)
		return 0;
	if ((r = ram_read_u64(ram, pa + STUB_ENTRY_OFF, &entry)) < 0 ||
	    (r = ram_read_u64(ram, pa + STUB_CR3_OFF, &cr3)) < 0)
		return r;
	if ((entry & STUB_ENTRY_MASK) != STUB_ENTRY_VAL ||
	    (cr3 & STUB_CR3_MASK) != 0 || cr3 == 0)
		return 0;
	ret->pa = pa;
	ret->entry_va = entry;
	ret->cr3 = cr3;
	return 1;
}

int
kcr3_lowstub_find(struct ram *ram, struct kcr3_lowstub *ret,
    uint32_t *ret_seen)
{
	struct kcr3_lowstub s;
	uint64_t pa;
	uint32_t seen = 0;
	int r;

	for (pa = STUB_FIRST; pa <= STUB_LAST; pa += LAYOUT_PAGE) {
		r = kcr3_lowstub_at(ram, pa, &s);
		if (r == -EFAULT)	/* not RAM under this layout */
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		seen++;
		if (kcr3_validate(ram, s.cr3, s.entry_va) == 0) {
			*ret = s;
			*ret_seen = seen;
			return 0;
		}
	}
	*ret_seen = seen;
	return seen == 0 ? -ENOENT : -ESRCH;
}
