/* SPDX-License-Identifier: MIT */
/*
 * The page map and the byte-pattern scans over hand-built guests: run
 * merging and splitting, clipping, the kernel half, a self-referencing
 * PML4 entry, tables that point at themselves everywhere (the walk must
 * end), and scans whose hits span pages, physically scattered pages and
 * segments, with wildcards, without ever allocating a hole of the file.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <vmsig/mem.h>

#include "../common/memfile.h"
#include "paging.h"

#define KB4	0x1000ull
#define MB2	0x200000ull
#define GB1	0x40000000ull
#define LEAF	(PTE_P | PTE_RW | PTE_US)
#define MAXRUNS	4096

struct runs {
	size_t n;
	int stop_at;		/* return 7 from this call (1-based), 0: never */
	struct vmsig_map_range r[MAXRUNS];
};

static int
collect(void *arg, const struct vmsig_map_range *r)
{
	struct runs *rs = arg;

	if (rs->n >= MAXRUNS)
		return -ENOSPC;
	rs->r[rs->n++] = *r;
	return rs->stop_at != 0 && (size_t)rs->stop_at == rs->n ? 7 : 0;
}

static void
check_run(const struct vmsig_map_range *r, uint64_t va, uint64_t size,
    uint64_t gpa, uint64_t ps, uint32_t flags)
{
	assert_int_equal(r->va, va);
	assert_int_equal(r->size, size);
	assert_int_equal(r->gpa, gpa);
	assert_int_equal(r->page_size, ps);
	assert_int_equal(r->flags, flags);
}

/* Every run agrees with translation at both ends, in ascending order. */
static void
check_against_translate(struct vmsig_mem *m, uint64_t cr3,
    const struct runs *rs)
{
	struct vmsig_xlat x;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct vmsig_map_range *r = &rs->r[i];

		if (i > 0)
			assert_true(rs->r[i - 1].va + rs->r[i - 1].size <=
			    r->va);
		assert_int_equal(vmsig_mem_translate(m, cr3, r->va, &x), 0);
		assert_int_equal(x.gpa, r->gpa);
		assert_int_equal(x.page_size, r->page_size);
		assert_int_equal(x.flags, r->flags);
		assert_int_equal(vmsig_mem_translate(m, cr3,
		    r->va + r->size - 1, &x), 0);
		assert_int_equal(x.gpa, r->gpa + r->size - 1);
	}
}

static uint64_t
build_space(struct memfile *f)
{
	uint64_t cr3 = memfile_table(f), leaf;

	memfile_map(f, cr3, 4, 0x10000, 0x300000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x11000, 0x301000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x12000, 0x302000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x13000, 0x400000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x14000, 0x401000 | PTE_P | PTE_US, 1);
	leaf = memfile_map(f, cr3, 4, 0x15000, 0x402000 | LEAF, 1);
	memfile_put(f, leaf, 0x402000 | PTE_RW);	/* frame, not present */
	memfile_map(f, cr3, 4, 0x40000000, 0x800000 | LEAF | PTE_PS, 2);
	memfile_map(f, cr3, 4, 0x40200000, 0xa00000 | LEAF | PTE_PS |
	    (1ull << 12), 2);
	memfile_map(f, cr3, 4, 0x8000000000ull, GB1 | LEAF | PTE_PS | PTE_XD,
	    3);
	memfile_map(f, cr3, 4, 0xffff800000000000ull, 0x500000 | PTE_P, 1);
	/* Windows' self-reference: PML4[0x1ed] maps the tables. */
	memfile_put(f, cr3 + 0x1ed * 8, cr3 | PTE_P | PTE_RW | PTE_XD);
	return cr3;
}

static void
test_pmap(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = build_space(f), self = 0xfffff6fb7dbed000ull;
	struct vmsig_mem *m = NULL;
	struct runs *rs = calloc(1, sizeof(*rs));
	size_t i;
	int found = 0;

	assert_non_null(rs);
	assert_int_equal(vmsig_mem_open(f->ro, f->size, &m), 0);
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0, 0, collect, rs), 0);
	assert_true(rs->n > 7);
	check_run(&rs->r[0], 0x10000, 0x3000, 0x300000, KB4, 3);
	check_run(&rs->r[1], 0x13000, 0x1000, 0x400000, KB4, 3);
	check_run(&rs->r[2], 0x14000, 0x1000, 0x401000, KB4, 2);
	check_run(&rs->r[3], 0x40000000, 2 * MB2, 0x800000, MB2, 3);
	check_run(&rs->r[4], 0x8000000000ull, GB1, GB1, GB1, 7);
	check_run(&rs->r[5], 0xffff800000000000ull, KB4, 0x500000, KB4, 0);
	/* The self-map shows the tables, the PML4 at the self-map VA. */
	for (i = 6; i < rs->n; i++) {
		assert_true(rs->r[i].va >= 0xfffff68000000000ull);
		assert_true(rs->r[i].va < 0xfffff70000000000ull);
		if (rs->r[i].va <= self && self - rs->r[i].va < rs->r[i].size)
			found = rs->r[i].gpa + (self - rs->r[i].va) == cr3;
	}
	assert_true(found);
	check_against_translate(m, cr3, rs);
	vmsig_mem_close(m);
	free(rs);
}

static void
test_pmap_clip(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = build_space(f);
	struct vmsig_mem *m = NULL;
	struct runs *rs = calloc(1, sizeof(*rs));

	assert_non_null(rs);
	assert_int_equal(vmsig_mem_open(f->ro, f->size, &m), 0);
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0x11800, 0x40100000, collect,
	    rs), 0);
	assert_int_equal(rs->n, 4);
	check_run(&rs->r[0], 0x11800, 0x1800, 0x301800, KB4, 3);
	check_run(&rs->r[3], 0x40000000, MB2 / 2, 0x800000, MB2, 3);
	/* Only the kernel half. */
	rs->n = 0;
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0xffff800000000000ull,
	    0xffff800000002000ull, collect, rs), 0);
	assert_int_equal(rs->n, 1);
	check_run(&rs->r[0], 0xffff800000000000ull, KB4, 0x500000, KB4, 0);
	/* fn stops the walk with its value. */
	rs->n = 0;
	rs->stop_at = 2;
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0, 0, collect, rs), 7);
	assert_int_equal(rs->n, 2);
	assert_int_equal(vmsig_mem_pmap(m, cr3, 5, 5, collect, rs), -EINVAL);
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0, 0, NULL, rs), -EINVAL);
	vmsig_mem_close(m);
	free(rs);
}

static int
count_runs(void *arg, const struct vmsig_map_range *r)
{
	(void)r;
	(*(uint64_t *)arg)++;
	return 0;
}

/* Tables that point at themselves: the walk ends, bounded. */
static void
test_pmap_loops(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), n = 0;
	struct vmsig_mem *m = NULL;
	unsigned int i;

	for (i = 0; i < 4; i++)
		memfile_put(f, cr3 + 8 * i, cr3 | LEAF);
	assert_int_equal(vmsig_mem_open(f->ro, f->size, &m), 0);
	/* 4 entries a level: 4^4 leaf pages, all the PML4 frame. */
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0, 0, count_runs, &n), 0);
	assert_int_equal(n, 256);
	for (i = 0; i < 512; i++)
		memfile_put(f, cr3 + 8 * i, cr3 | LEAF);
	n = 0;
	assert_int_equal(vmsig_mem_pmap(m, cr3, 0, 0, count_runs, &n),
	    -ELOOP);
	assert_true(n > 0);
	vmsig_mem_close(m);
}

struct hits {
	size_t n;
	int ret;		/* returned by every call */
	uint64_t a[64];
};

static int
hit(void *arg, uint64_t addr)
{
	struct hits *h = arg;

	if (h->n < 64)
		h->a[h->n] = addr;
	h->n++;
	return h->ret;
}

static const uint8_t pat[8] = { 'V', 'M', 'S', 'I', 'G', 0x01, 0x02, 0x03 };

static void
test_scan_pa(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = NULL;
	struct hits h = { 0 };
	uint8_t wild[8], mask[8];
	struct stat before, after;

	memfile_write(f, 0x10000ffc, pat, 8);		/* spans a page */
	memfile_write(f, 0x20000000, pat, 8);
	memcpy(wild, pat, 8);
	wild[5] = 0xee;
	memfile_write(f, 0x30000000, wild, 8);
	memfile_write(f, 2 * GB1 - 8, pat, 8);		/* the very end */
	assert_int_equal(vmsig_mem_open(f->ro, f->size, &m), 0);
	assert_int_equal(fstat(f->ro, &before), 0);
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 8, hit, &h), 3);
	assert_int_equal(h.a[0], 0x10000ffc);
	assert_int_equal(h.a[1], 0x20000000);
	assert_int_equal(h.a[2], 2 * GB1 - 8);
	/* A scan of 2 GiB of holes allocated nothing. */
	assert_int_equal(fstat(f->ro, &after), 0);
	assert_int_equal(after.st_blocks, before.st_blocks);
	memset(mask, 0xff, 8);
	mask[5] = 0;
	h.n = 0;
	assert_int_equal(vmsig_mem_scan_pa(m, 0x10000000, 0x30000008, pat,
	    mask, 8, hit, &h), 3);
	assert_int_equal(h.a[2], 0x30000000);
	h.n = 0;
	h.ret = 1;
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 8, hit, &h), 1);
	h.ret = -ECANCELED;
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 8, hit, &h),
	    -ECANCELED);
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 0, hit, &h),
	    -EINVAL);
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 4097, hit,
	    &h), -EINVAL);
	vmsig_mem_close(m);
}

/* A hit across two segments adjacent in guest space only. */
static void
test_scan_pa_segs(void **state)
{
	struct memfile *f = *state;
	vmsig_memseg sg[2] = {
		{ .gpa = 0, .len = 0x100000, .file_off = 0x40000000 },
		{ .gpa = 0x100000, .len = 0x100000, .file_off = 0x100000 },
	};
	struct vmsig_mem *m = NULL;
	struct hits h = { 0 };
	uint8_t one = 'Q';

	memfile_write(f, 0x40000000 + 0x100000 - 3, pat, 3);
	memfile_write(f, 0x100000, pat + 3, 5);
	memfile_write(f, 0x40000010, &one, 1);
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 2, &m), 0);
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, pat, NULL, 8, hit, &h), 1);
	assert_int_equal(h.a[0], 0x100000 - 3);
	h.n = 0;
	assert_int_equal(vmsig_mem_scan_pa(m, 0, 0, &one, NULL, 1, hit, &h),
	    1);
	assert_int_equal(h.a[0], 0x10);
	vmsig_mem_close(m);
}

static void
test_scan_va(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), kva = 0xffffa00000000000ull;
	struct vmsig_mem *m = NULL;
	struct hits h = { 0 };
	uint8_t mask[8] = { 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	/* VA-adjacent pages, physically reversed and far apart. */
	memfile_map(f, cr3, 4, 0x7000, 0x600000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x8000, 0x500000 | LEAF, 1);
	memfile_write(f, 0x600ffd, pat, 3);
	memfile_write(f, 0x500000, pat + 3, 5);
	/* In RAM but not mapped: not a hit. */
	memfile_write(f, 0x700000, pat, 8);
	memfile_map(f, cr3, 4, kva, 0xc00000 | PTE_P | PTE_PS, 2);
	memfile_write(f, 0xc00000 + 0x1ffff9, pat, 7);	/* cut by the end */
	memfile_write(f, 0xc00000 + 0x12345, pat, 8);
	assert_int_equal(vmsig_mem_open(f->ro, f->size, &m), 0);
	assert_int_equal(vmsig_mem_scan_va(m, cr3, 0, 0, pat, NULL, 8, hit,
	    &h), 2);
	assert_int_equal(h.a[0], 0x7ffd);
	assert_int_equal(h.a[1], kva + 0x12345);
	h.n = 0;
	assert_int_equal(vmsig_mem_scan_va(m, cr3, 0, 0x8000, pat, mask, 8,
	    hit, &h), 0);
	assert_int_equal(vmsig_mem_scan_va(m, cr3, 0, 0x8005, pat, mask, 8,
	    hit, &h), 1);
	assert_int_equal(vmsig_mem_scan_va(m, cr3, kva, 0, pat, mask, 7,
	    hit, &h), 2);
	assert_int_equal(h.a[2], kva + 0x1ffff9);
	vmsig_mem_close(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pmap, memfile_setup_2g, memfile_teardown),
		cmocka_unit_test_setup_teardown(test_pmap_clip, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_pmap_loops, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_scan_pa, memfile_setup_2g, memfile_teardown),
		cmocka_unit_test_setup_teardown(test_scan_pa_segs, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_scan_va, memfile_setup_2g, memfile_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
