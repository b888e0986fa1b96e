/* SPDX-License-Identifier: MIT */
/*
 * A small, independent reader of guestgen images for tests: pread(2) of
 * the RAM file through the manifest's segments and proto/paging.c's walk.
 * It shares no code with the holder library or the helper, so tests can
 * check the generator, and check those against the generator, without
 * trusting the code under test.  Nothing here allocates tmpfs pages:
 * pread of a hole does not, and scans walk SEEK_DATA extents.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_GGIMG_H
#define VMSIG_TEST_GGIMG_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct ggimg {
	int fd;				/* O_RDONLY, owned */
	const struct gg_manifest *m;	/* borrowed; outlives the reader */
};

/* Open m->image read-only.  0, or -errno (-EINVAL: size differs). */
int ggimg_open(struct ggimg *im, const struct gg_manifest *m);
/* Close the fd (not the manifest).  Accepts a never-opened reader (fd -1). */
void ggimg_close(struct ggimg *im);

/* len bytes at gpa inside one segment: 0, -EFAULT (not RAM), -EIO. */
int ggimg_read_pa(const struct ggimg *im, uint64_t gpa, void *buf,
    size_t len);
/* len bytes at va under cr3 (4-level): 0, or paging_walk's or
 * ggimg_read_pa's error for the first page that fails. */
int ggimg_read_va(const struct ggimg *im, uint64_t cr3, uint64_t va,
    void *buf, size_t len);

/* 1 when the page at pa references itself from its kernel half and every
 * other present kernel-half entry points into RAM (a kcr3 scanner's test). */
int ggimg_pml4_valid(const struct ggimg *im, uint64_t pa);
/* Allocated pages of the file that pass ggimg_pml4_valid(). */
size_t ggimg_count_pml4s(const struct ggimg *im);

/*
 * Every leaf under cr3 outside PML4 slot `skip_slot` (the self-reference),
 * ascending, merged like the manifest's "maps"; at most max runs.  Returns
 * the number of runs, or -E2BIG when there are more.
 */
int ggimg_pmap(const struct ggimg *im, uint64_t cr3, unsigned int skip_slot,
    struct gg_map *runs, size_t max);

#endif
