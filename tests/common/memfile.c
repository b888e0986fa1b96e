/* SPDX-License-Identifier: MIT */
/*
 * Hand-built guest RAM files for the memory-context tests and benchmark:
 * temporary directory, two descriptors, and a page-table builder that
 * writes entries with pwrite(2), as a guest would write its own tables.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memfile.h"
#include "tproc.h"

#define GIB4		(4ull << 30)
#define TABLE_BASE	0x100000ull
#define PTE_P_RW_US	0x7ull
#define FRAME		0x000ffffffffff000ull

int
memfile_new(uint64_t size, uint64_t low, struct memfile **ret)
{
	struct memfile *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->rw = f->ro = -1;
	f->size = size;
	f->low = low == 0 ? size : low;
	f->next_table = TABLE_BASE;
	if ((r = t_mkdtemp("vmsig-mem-XXXXXX", f->dir, sizeof(f->dir))) < 0) {
		free(f);
		return r;
	}
	snprintf(f->path, sizeof(f->path), "%s/ram", f->dir);
	f->rw = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->rw == -1 || ftruncate(f->rw, (off_t)size) == -1 ||
	    (f->ro = open(f->path, O_RDONLY | O_CLOEXEC)) == -1) {
		r = -errno;
		memfile_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

void
memfile_free(struct memfile *f)
{
	if (f == NULL)
		return;
	if (f->rw >= 0)
		close(f->rw);
	if (f->ro >= 0)
		close(f->ro);
	(void)unlink(f->path);
	(void)rmdir(f->dir);
	free(f);
}

uint64_t
memfile_off(const struct memfile *f, uint64_t gpa)
{
	return gpa >= GIB4 ? gpa - GIB4 + f->low : gpa;
}

void
memfile_write(struct memfile *f, uint64_t off, const void *buf, size_t len)
{
	if (off + len > f->size ||
	    pwrite(f->rw, buf, len, (off_t)off) != (ssize_t)len) {
		fprintf(stderr, "memfile: write at %#llx failed\n",
		    (unsigned long long)off);
		abort();
	}
}

void
memfile_put(struct memfile *f, uint64_t gpa, uint64_t v)
{
	memfile_write(f, memfile_off(f, gpa), &v, sizeof(v));
}

int
memfile_read_entry(void *arg, uint64_t gpa, uint64_t *ret_val)
{
	struct memfile *f = arg;
	uint64_t off = memfile_off(f, gpa);

	if (off + 8 > f->size ||
	    pread(f->rw, ret_val, 8, (off_t)off) != 8)
		return -EFAULT;
	return 0;
}

uint64_t
memfile_table(struct memfile *f)
{
	static const uint8_t zero[4096];
	uint64_t t = f->next_table;

	f->next_table += 4096;
	memfile_write(f, memfile_off(f, t), zero, sizeof(zero));
	return t;
}

uint64_t
memfile_map(struct memfile *f, uint64_t cr3, unsigned int levels,
    uint64_t va, uint64_t entry, unsigned int leaf_lvl)
{
	uint64_t table = cr3 & FRAME, at, e;
	unsigned int lvl;

	for (lvl = levels; lvl > leaf_lvl; lvl--) {
		at = table + ((va >> (12 + 9 * (lvl - 1))) & 0x1ff) * 8;
		if (memfile_read_entry(f, at, &e) < 0)
			abort();
		if (!(e & 1)) {
			e = memfile_table(f) | PTE_P_RW_US;
			memfile_put(f, at, e);
		}
		table = e & FRAME;
	}
	at = table + ((va >> (12 + 9 * (leaf_lvl - 1))) & 0x1ff) * 8;
	memfile_put(f, at, entry);
	return at;
}

int
memfile_setup_2g(void **state)
{
	struct memfile *f;

	if (memfile_new(2ull << 30, 0, &f) < 0)
		return -1;
	*state = f;
	return 0;
}

int
memfile_teardown(void **state)
{
	memfile_free(*state);
	return 0;
}
