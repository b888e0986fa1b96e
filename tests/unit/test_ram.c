/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vmsig-memctx/ram.c, the bounds-checked reader: reads across
 * segments, -EFAULT outside RAM, holes read as zeros without being
 * allocated, the extent walk sees only allocated pages (mapped back to
 * guest-physical addresses), virtual reads, and what ram_open refuses.
 *
 * Runs in: tests
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../vmsig-memctx/memctx.h"
#include "../fuzz/kimg.h"

#define SZ	(64u << 12)	/* 64 pages */

/* File of SZ bytes; page i (when written) is filled with byte i + 1. */
static int
mkfile(const unsigned int *pages, size_t n)
{
	uint8_t buf[4096];
	size_t i;
	int fd;

	fd = memfd_create("ram", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SZ), 0);
	for (i = 0; i < n; i++) {
		memset(buf, (int)pages[i] + 1, sizeof(buf));
		assert_int_equal(pwrite(fd, buf, sizeof(buf),
		    (off_t)pages[i] << 12), sizeof(buf));
	}
	return fd;
}

/* Segments: gpa 0x100000 <- file pages 32..63, gpa 0 <- pages 0..15. */
static void
seg_layout(struct layout *l)
{
	struct layout_opts o;

	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_opt_seg(&o, "0x100000:128K:128K", NULL), 0);
	assert_int_equal(layout_opt_seg(&o, "0:64K:0", NULL), 0);
	assert_int_equal(layout_build(&o, SZ, l, NULL), 0);
}

static void
test_read(void **state)
{
	static const unsigned int pages[] = { 1, 15, 32, 40 };
	struct layout l;
	struct ram *ram;
	uint8_t b[8192];
	uint64_t v;
	struct stat a, c;
	int fd;

	(void)state;
	fd = mkfile(pages, 4);
	seg_layout(&l);
	assert_int_equal(ram_open(fd, &l, &ram), 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(ram_read(ram, 0x1ffc, b, 8), 0);	/* page 1 | 2 */
	assert_memory_equal(b, "\2\2\2\2\0\0\0\0", 8);
	assert_int_equal(ram_read(ram, 0x100000, b, 4), 0);	/* file pg 32 */
	assert_int_equal(b[0], 33);
	assert_int_equal(ram_read_u64(ram, 0x108000, &v), 0);	/* file pg 40 */
	assert_int_equal(v, 0x2929292929292929ull);
	assert_int_equal(ram_read(ram, 0xf000, b, 4096), 0);
	assert_int_equal(b[4095], 16);
	assert_int_equal(ram_read(ram, 0xf000, b, 4097), -EFAULT);
	assert_int_equal(ram_read(ram, 0x10000, b, 1), -EFAULT);
	assert_int_equal(ram_read(ram, 0x120000, b, 1), -EFAULT);
	assert_int_equal(ram_read(ram, 0x11fff8, b, 8), 0);
	assert_int_equal(ram_read(ram, UINT64_MAX - 3, b, 8), -EFAULT);
	assert_int_equal(ram_read(ram, 0, NULL, 1), -EINVAL);
	assert_int_equal(ram_contains(ram, 0xf000, 0x1000), 1);
	assert_int_equal(ram_contains(ram, 0xf000, 0x1001), 0);
	assert_int_equal(fstat(fd, &c), 0);
	assert_int_equal(a.st_blocks, c.st_blocks);	/* holes stayed holes */
	ram_close(ram);
	(void)close(fd);
}

struct seen {
	uint64_t gpa[16], len[16];
	unsigned int n;
};

static int
collect(void *arg, uint64_t gpa, const uint8_t *p, uint64_t len)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	assert_true(p[0] != 0 && p[len - 1] != 0);
	s->gpa[s->n] = gpa;
	s->len[s->n++] = len;
	return 0;
}

static int
stop(void *arg, uint64_t gpa, const uint8_t *p, uint64_t len)
{
	(void)arg, (void)gpa, (void)p, (void)len;
	return 7;
}

static void
test_extents(void **state)
{
	/* page 20 is allocated but in no segment: never reported */
	static const unsigned int pages[] = { 2, 3, 15, 16, 20, 33, 63 };
	struct layout l;
	struct ram *ram;
	struct seen s;
	int fd;

	(void)state;
	fd = mkfile(pages, 7);
	seg_layout(&l);
	assert_int_equal(ram_open(fd, &l, &ram), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(ram_extents(ram, collect, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.gpa[0], 0x2000);
	assert_int_equal(s.len[0], 0x2000);
	assert_int_equal(s.gpa[1], 0xf000);	/* 15..16 cut at the segment */
	assert_int_equal(s.len[1], 0x1000);
	assert_int_equal(s.gpa[2], 0x101000);
	assert_int_equal(s.gpa[3], 0x11f000);
	assert_int_equal(ram_extents(ram, stop, NULL), 7);
	assert_int_equal(ram_extents(ram, NULL, NULL), -EINVAL);
	ram_close(ram);
	(void)close(fd);
}

static void
test_read_va(void **state)
{
	struct layout_opts o;
	struct layout l;
	struct ram *ram;
	uint8_t *img, b[4];
	int fd;

	(void)state;
	img = calloc(1, KIMG_SIZE);
	assert_non_null(img);
	kimg_build(img, 0);
	fd = kimg_memfd(img, KIMG_SIZE);
	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_build(&o, KIMG_SIZE, &l, NULL), 0);
	assert_int_equal(ram_open(fd, &l, &ram), 0);
	assert_int_equal(ram_read_va(ram, KIMG_KCR3, KIMG_KBASE + 0x0ffe, b,
	    4), 0);	/* across two image pages */
	assert_memory_equal(b, img + KIMG_IMAGE + 0xffe, 4);
	assert_int_equal(ram_read_va(ram, KIMG_KCR3, KIMG_KBASE + 0x8000, b,
	    1), -EFAULT);
	assert_int_equal(ram_read_va(ram, KIMG_KCR3, 0x0000800000000000ull,
	    b, 1), -EINVAL);
	ram_close(ram);
	(void)close(fd);
	free(img);
}

static void
test_open_refused(void **state)
{
	struct layout_opts o;
	struct layout l;
	struct ram *ram = NULL;
	struct ram_id id;
	int fd, p[2];

	(void)state;
	fd = mkfile(NULL, 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_build(&o, SZ * 2, &l, NULL), 0);
	assert_int_equal(ram_open(fd, &l, &ram), -EINVAL);	/* size */
	assert_int_equal(layout_build(&o, SZ, &l, NULL), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ram_open(p[0], &l, &ram), -EINVAL);	/* not a file */
	assert_int_equal(ram_open(-1, &l, &ram), -EINVAL);
	assert_null(ram);
	assert_int_equal(ram_open(fd, &l, &ram), 0);
	assert_int_equal(ram_stat(ram, &id), 0);
	assert_int_equal(id.size, SZ);
	assert_int_equal(id.blocks, 0);
	assert_int_equal(ram_layout(ram)->segs[0].len, SZ);
	ram_close(ram);
	ram_close(NULL);
	(void)close(fd);
	(void)close(p[0]);
	(void)close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_extents),
		cmocka_unit_test(test_read_va),
		cmocka_unit_test(test_open_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
