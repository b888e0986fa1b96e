/* SPDX-License-Identifier: MIT */
/*
 * Pattern scans limited to one process (its user half, under its DTB), one
 * PE image ([base, base + SizeOfImage)) or one section of it, on top of
 * vmsig_mem_scan_va(): only mapped pages are read, matches across page
 * boundaries are found, and fn receives virtual addresses.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <string.h>

#include "win_int.h"

int64_t
vmsig_win_scan_proc(struct vmsig_win *win, uint32_t pid,
    const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg)
{
	uint64_t cr3;
	int r;

	if (win == NULL)
		return -EINVAL;
	if ((r = vmsig_win_proc_dtb(win, pid, &cr3)) < 0)
		return r;
	return vmsig_mem_scan_va(win->mem, cr3, 0, WIN_USER_TOP, pattern,
	    mask, len, fn, arg);
}

int64_t
vmsig_win_pe_scan(struct vmsig_win_pe *pe, const uint8_t *pattern,
    const uint8_t *mask, size_t len, vmsig_scan_fn fn, void *arg)
{
	if (pe == NULL)
		return -EINVAL;
	return vmsig_mem_scan_va(pe->win->mem, pe->cr3, pe->base,
	    pe->base + pe->size, pattern, mask, len, fn, arg);
}

int64_t
vmsig_win_pe_scan_section(struct vmsig_win_pe *pe, const char *section,
    const uint8_t *pattern, const uint8_t *mask, size_t len,
    vmsig_scan_fn fn, void *arg)
{
	uint32_t i, va, size;
	char name[9];

	if (pe == NULL || section == NULL)
		return -EINVAL;
	for (i = 0; i < pe->nsec; i++) {
		memcpy(name, pe->sec[i], 8);
		name[8] = '\0';
		if (strcmp(name, section) != 0)
			continue;
		va = win_le32(pe->sec[i] + 12);
		size = win_le32(pe->sec[i] + 8);
		/* Clip to the image: the header is guest data. */
		if (va >= pe->size || size == 0)
			return -EBADMSG;
		if (size > pe->size - va)
			size = pe->size - va;
		return vmsig_mem_scan_va(pe->win->mem, pe->cr3, pe->base + va,
		    pe->base + va + size, pattern, mask, len, fn, arg);
	}
	return -ENOENT;
}
