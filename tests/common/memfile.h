/* SPDX-License-Identifier: MIT */
/*
 * Hand-built guests for the memory-context tests: a sparse RAM file in a
 * fresh temporary directory (/dev/shm, else $TMPDIR), opened twice — O_RDWR
 * for the test to write page tables and data, O_RDONLY for the context —
 * and a page-table builder over it.  Errors abort the test program: a
 * fixture that cannot be built is a failed test, never a passed one.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_MEMFILE_H
#define VMSIG_TEST_MEMFILE_H

#include <stddef.h>
#include <stdint.h>

struct memfile {
	char dir[256];
	char path[300];
	int rw, ro;
	uint64_t size;
	uint64_t low;		/* split point: gpa 4 GiB + x at offset low + x */
	uint64_t next_table;	/* gpa of the next page-table page */
};

/*
 * A file of `size` bytes (a hole).  low 0 means one region (low = size).
 * Page tables are taken from gpa 1 MiB upwards.  0 or -errno.
 */
int memfile_new(uint64_t size, uint64_t low, struct memfile **ret);
/* Close both descriptors, remove the file and the directory.  NULL is ok. */
void memfile_free(struct memfile *f);

/* cmocka fixtures: *state is a 2 GiB single-region memfile, then freed. */
int memfile_setup_2g(void **state);
int memfile_teardown(void **state);

/* The file offset of gpa under f's layout. */
uint64_t memfile_off(const struct memfile *f, uint64_t gpa);
/* Write len bytes at file offset off. */
void memfile_write(struct memfile *f, uint64_t off, const void *buf,
    size_t len);
/* Write the 8-byte entry v at guest-physical gpa. */
void memfile_put(struct memfile *f, uint64_t gpa, uint64_t v);
/* A fresh zeroed page-table page; its gpa. */
uint64_t memfile_table(struct memfile *f);
/*
 * Map va under cr3 (levels 4 or 5) with the leaf `entry` at level leaf_lvl
 * (1: 4 KiB, 2: 2 MiB, 3: 1 GiB), creating missing tables with P|RW|US.
 * Returns the gpa of the leaf entry.
 */
uint64_t memfile_map(struct memfile *f, uint64_t cr3, unsigned int levels,
    uint64_t va, uint64_t entry, unsigned int leaf_lvl);
/* A paging_read_fn (proto/paging.h) reading f with pread(2); arg is f. */
int memfile_read_entry(void *arg, uint64_t gpa, uint64_t *ret_val);

#endif
