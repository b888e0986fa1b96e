/* SPDX-License-Identifier: MIT */
/*
 * One x86-64 page walk (4- or 5-level), over a caller-supplied reader.  The
 * body lives in paging.h (paging_walk_inline) so hot callers can inline it;
 * these out-of-line entry points are what everyone else calls.
 *
 * Runs in: any
 */
#include <errno.h>
#include <stdint.h>

#include "paging.h"

int
paging_canonical(uint64_t va, unsigned int levels)
{
	return paging_canonical_inline(va, levels);
}

int
paging_walk(uint64_t cr3, uint64_t va, unsigned int levels,
    paging_read_fn rd, void *arg, struct paging_xlat *ret)
{
	return paging_walk_inline(cr3, va, levels, rd, arg, ret);
}
