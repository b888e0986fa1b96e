/* SPDX-License-Identifier: MIT */
/*
 * The memory context against hand-built guests: a sparse RAM file in a
 * temporary directory whose page tables the test writes entry by entry
 * through its own O_RDWR descriptor, while the context maps the file
 * through an O_RDONLY one.  Covers opening and the segment table, the
 * read-only mapping, guest-physical reads, translation (4 KiB, 2 MiB,
 * 1 GiB, PAT, ignored bits, faults, 5 levels), reads by virtual address and
 * the translation cache.  test_mem_map.c covers pmap and the scans.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmsig/mem.h>

#include "../../vmsig-holder/mem_int.h"
#include "../common/memfile.h"
#include "paging.h"

#define KB4	0x1000ull
#define MB2	0x200000ull
#define GB1	0x40000000ull
#define GB4	0x100000000ull

#define LEAF	(PTE_P | PTE_RW | PTE_US)
/* 34 MiB: 2 MiB pages that do not share a cache slot. */
#define STRIDE	0x2200000ull

static struct vmsig_mem *
open_ro(struct memfile *f)
{
	struct vmsig_mem *m = NULL;

	assert_int_equal(vmsig_mem_open(f->ro, f->low, &m), 0);
	return m;
}

static void
test_open_bad(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = NULL;
	vmsig_memseg sg[2];
	vmsig_event ev;
	vmsig_memctx *mc = (vmsig_memctx *)(void *)ev.inln;
	int fd;

	assert_int_equal(vmsig_mem_open(-1, 0, &m), -EBADF);
	assert_int_equal(vmsig_mem_open(f->rw, f->size, &m), -EPERM);
	assert_int_equal(vmsig_mem_open(f->ro, f->size, NULL), -EINVAL);
	fd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(vmsig_mem_open(fd, 0, &m), -EINVAL);
	close(fd);
	/* low past the end of the file: one low segment */
	assert_int_equal(vmsig_mem_open(f->ro, GB4 + KB4, &m), 0);
	vmsig_mem_close(m);
	m = NULL;
	assert_int_equal(ftruncate(f->rw, 0), 0);
	assert_int_equal(vmsig_mem_open(f->ro, 0, &m), -EINVAL);
	/* low above 4 GiB with a high part: the two halves overlap */
	assert_int_equal(ftruncate(f->rw, (off_t)(GB4 + 2 * GB1)), 0);
	assert_int_equal(vmsig_mem_open(f->ro, GB4 + GB1, &m), -EINVAL);
	assert_int_equal(vmsig_mem_open(f->ro, GB4 + 2 * GB1, &m), 0);
	vmsig_mem_close(m);
	m = NULL;
	assert_int_equal(ftruncate(f->rw, (off_t)f->size), 0);
	sg[0] = (vmsig_memseg){ .gpa = 0, .len = 2 * MB2, .file_off = 0 };
	sg[1] = (vmsig_memseg){ .gpa = MB2, .len = MB2, .file_off = MB2 };
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 2, &m), -EINVAL);
	sg[1] = (vmsig_memseg){ .gpa = GB4, .len = 2 * GB1, .file_off = KB4 };
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 2, &m), -EINVAL);
	sg[1] = (vmsig_memseg){ .gpa = GB4, .len = 0, .file_off = 0 };
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 2, &m), -EINVAL);
	sg[1] = (vmsig_memseg){ .gpa = UINT64_MAX - KB4, .len = 2 * KB4 };
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 2, &m), -EINVAL);
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 0, &m), -EINVAL);
	assert_null(m);
	memset(&ev, 0, sizeof(ev));
	ev.type = VMSIG_EV_MEMCTX_INVALIDATED;
	ev.fd = f->ro;
	assert_int_equal(vmsig_mem_open_event(&ev, &m), -EINVAL);
	ev.type = VMSIG_EV_MEMCTX;
	mc->nseg = 2;		/* segments announced, none carried */
	assert_int_equal(vmsig_mem_open_event(&ev, &m), -EINVAL);
	assert_null(m);
	vmsig_mem_close(NULL);
}

/* The mapping and the descriptor refuse every way of writing the guest. */
static void
test_readonly(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = open_ro(f);
	const void *map;
	size_t len;
	void *p;

	map = mem_mapping(m, &len);
	assert_int_equal(len, f->size);
	p = mmap(NULL, KB4, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vmsig_mem_fd(m), 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	assert_int_equal(mprotect((void *)(uintptr_t)map, KB4,
	    PROT_READ | PROT_WRITE), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(fcntl(vmsig_mem_fd(m), F_GETFL) & O_ACCMODE,
	    O_RDONLY);
	assert_true(fcntl(vmsig_mem_fd(m), F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(vmsig_mem_fd(m), "x", 1), -1);
	vmsig_mem_close(m);
}

static void
test_read_pa_low(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = NULL;
	uint8_t buf[64], want[64];
	size_t done = 99;
	int i;

	for (i = 0; i < 64; i++)
		want[i] = (uint8_t)(i * 7 + 1);
	/* Split at 1 GiB: file [1 GiB, 2 GiB) is guest [4 GiB, 5 GiB). */
	memfile_write(f, GB1 - 32, want, 64);
	assert_int_equal(vmsig_mem_open(f->ro, GB1, &m), 0);
	assert_int_equal(vmsig_mem_size(m), 2 * GB1);
	assert_int_equal(vmsig_mem_read_pa(m, GB1 - 32, buf, 32, &done), 0);
	assert_int_equal(done, 32);
	assert_memory_equal(buf, want, 32);
	assert_int_equal(vmsig_mem_read_pa(m, GB4, buf, 32, NULL), 0);
	assert_memory_equal(buf, want + 32, 32);
	/* Into the PCI hole: the low part is copied, then -EFAULT. */
	assert_int_equal(vmsig_mem_read_pa(m, GB1 - 32, buf, 64, &done),
	    -EFAULT);
	assert_int_equal(done, 32);
	assert_memory_equal(buf, want, 32);
	assert_int_equal(vmsig_mem_read_pa(m, 3 * GB1, buf, 8, &done),
	    -EFAULT);
	assert_int_equal(done, 0);
	assert_int_equal(vmsig_mem_read_pa(m, GB4 + GB1 - 8, buf, 16, &done),
	    -EFAULT);
	assert_int_equal(done, 8);
	assert_int_equal(vmsig_mem_read_pa(m, UINT64_MAX - 3, buf, 8, &done),
	    -EFAULT);
	assert_int_equal(vmsig_mem_read_pa(m, 0, NULL, 8, &done), -EINVAL);
	assert_int_equal(vmsig_mem_read_pa(m, 0, NULL, 0, &done), 0);
	vmsig_mem_close(m);
	/* low past the end of the file: all of it is low RAM. */
	assert_int_equal(vmsig_mem_open(f->ro, 3 * GB1, &m), 0);
	assert_int_equal(vmsig_mem_size(m), 2 * GB1);
	assert_int_equal(vmsig_mem_read_pa(m, GB1 - 32, buf, 64, &done), 0);
	assert_memory_equal(buf, want, 64);
	vmsig_mem_close(m);
}

/* Segments given out of order, two adjacent in guest space only. */
static void
test_read_pa_segs(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = NULL;
	vmsig_memseg sg[3] = {
		{ .gpa = 0x20000000, .len = 0x1000, .file_off = 0x5000 },
		{ .gpa = 0x10000000, .len = 0x2000, .file_off = 0x9000 },
		{ .gpa = 0x10002000, .len = 0x1000, .file_off = 0x3000 },
	};
	uint8_t a[16] = "abcdefghijklmnop", b[16] = "ABCDEFGHIJKLMNOP";
	uint8_t buf[32];
	size_t done;

	memfile_write(f, 0x9000 + 0x2000 - 16, a, 16);
	memfile_write(f, 0x3000, b, 16);
	assert_int_equal(vmsig_mem_open_segs(f->ro, sg, 3, &m), 0);
	assert_int_equal(vmsig_mem_size(m), 0x4000);
	assert_int_equal(vmsig_mem_read_pa(m, 0x10002000 - 16, buf, 32,
	    &done), 0);
	assert_memory_equal(buf, a, 16);
	assert_memory_equal(buf + 16, b, 16);
	assert_int_equal(vmsig_mem_read_pa(m, 0x10003000 - 8, buf, 16,
	    &done), -EFAULT);
	assert_int_equal(done, 8);
	vmsig_mem_close(m);
}

/* Events: the low locator, the segment payload, LA57. */
static void
test_open_event(void **state)
{
	struct memfile *f = *state;
	struct vmsig_mem *m = NULL;
	vmsig_memseg sg = { .gpa = GB4, .len = GB1, .file_off = GB1 };
	vmsig_event ev;
	vmsig_memctx *mc = (vmsig_memctx *)(void *)ev.inln;
	uint64_t cr3 = memfile_table(f), va = 0x00ff800000000000ull;
	uint64_t v = 0x1122334455667788ull, got = 0;

	memfile_map(f, cr3, 5, va, 0x3000 | LEAF, 1);
	memfile_write(f, 0x3000, &v, 8);
	memset(&ev, 0, sizeof(ev));
	ev.type = VMSIG_EV_MEMCTX;
	ev.fd = f->ro;
	mc->low = GB1;
	mc->flags = VMSIG_MEMCTX_RDONLY | VMSIG_MEMCTX_LA57;
	assert_int_equal(vmsig_mem_open_event(&ev, &m), 0);
	assert_int_equal(vmsig_mem_read_va(m, cr3, va, &got, 8, NULL), 0);
	assert_int_equal(got, v);
	assert_int_equal(vmsig_mem_read_pa(m, GB4, &got, 8, NULL), 0);
	vmsig_mem_close(m);
	mc->nseg = 1;
	mc->flags = 0;
	ev.payload.data = &sg;
	ev.payload.len = sizeof(sg);
	assert_int_equal(vmsig_mem_open_event(&ev, &m), 0);
	assert_int_equal(vmsig_mem_size(m), GB1);
	assert_int_equal(vmsig_mem_read_pa(m, 0, &got, 8, NULL), -EFAULT);
	/* 4 levels: the 57-bit address is not canonical. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, va, &got, 8, NULL),
	    -EINVAL);
	assert_int_equal(vmsig_mem_set_paging(m, 3), -EINVAL);
	vmsig_mem_close(m);
}

/* Page sizes, PAT, ignored bits, rights, and agreement with paging_walk. */
static void
test_translate(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f);
	struct vmsig_mem *m;
	struct vmsig_xlat x;
	struct paging_xlat px;
	const uint64_t ign = 0x7ff0000000000000ull;	/* bits 62:52 */

	memfile_map(f, cr3, 4, 0x400000, 0x123000 | LEAF | ign | PTE_XD, 1);
	memfile_map(f, cr3, 4, 0x40000000, 0x600000 | LEAF | PTE_PS |
	    (1ull << 12), 2);
	memfile_map(f, cr3, 4, 0xffff800000000000ull, GB1 | PTE_P | PTE_PS |
	    (1ull << 12) | ign, 3);
	m = open_ro(f);
	assert_int_equal(vmsig_mem_translate(m, cr3 | 0x5, 0x400abc, &x), 0);
	assert_int_equal(x.gpa, 0x123abc);
	assert_int_equal(x.page_size, VMSIG_PAGE_4K);
	assert_int_equal(x.flags, VMSIG_PAGE_WRITABLE | VMSIG_PAGE_USER |
	    VMSIG_PAGE_NX);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x401000, &x), -EFAULT);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x40123456, &x), 0);
	assert_int_equal(x.gpa, 0x723456);	/* PAT bit is not frame */
	assert_int_equal(x.page_size, VMSIG_PAGE_2M);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0xffff800012345678ull,
	    &x), 0);
	assert_int_equal(x.gpa, GB1 + 0x12345678);
	assert_int_equal(x.page_size, VMSIG_PAGE_1G);
	assert_int_equal(x.flags, 0);
	assert_int_equal(paging_walk(cr3, 0xffff800012345678ull, 4,
	    memfile_read_entry, f, &px), 0);
	assert_int_equal(px.gpa, x.gpa);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x0000800000000000ull,
	    &x), -EINVAL);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0xfff0800000000000ull,
	    &x), -EINVAL);
	assert_int_equal(vmsig_mem_translate(NULL, cr3, 0, &x), -EINVAL);
	vmsig_mem_close(m);
}

/* Not present with a frame, PS in a PML4E, tables outside RAM. */
static void
test_translate_faults(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), leaf;
	struct vmsig_mem *m;
	struct vmsig_xlat x;

	leaf = memfile_map(f, cr3, 4, 0x10000, 0x5000 | LEAF, 1);
	memfile_put(f, leaf, 0x5000 | PTE_RW);		/* frame, no P */
	memfile_put(f, cr3 + 8 * 1, 0x80000000 | LEAF | PTE_PS);
	memfile_put(f, cr3 + 8 * 2, 0x7000000000ull | LEAF);	/* not RAM */
	m = open_ro(f);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x10000, &x), -EFAULT);
	assert_int_equal(vmsig_mem_translate(m, cr3, 1ull << 39, &x),
	    -EFAULT);
	assert_int_equal(vmsig_mem_translate(m, cr3, 2ull << 39, &x),
	    -EFAULT);
	/* The root itself outside RAM. */
	assert_int_equal(vmsig_mem_translate(m, 0x7000000000ull, 0, &x),
	    -EFAULT);
	vmsig_mem_close(m);
}

static void
test_five_level(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f);
	uint64_t va = 0xff12345678901000ull;	/* canonical for 57 bits */
	struct vmsig_mem *m;
	struct vmsig_xlat x;

	memfile_map(f, cr3, 5, va, 0x9000 | LEAF, 1);
	memfile_map(f, cr3, 5, 0x0100000000000000ull - MB2, 0xa00000 |
	    LEAF | PTE_PS, 2);
	m = open_ro(f);
	assert_int_equal(vmsig_mem_translate(m, cr3, va, &x), -EINVAL);
	assert_int_equal(vmsig_mem_set_paging(m, 5), 0);
	assert_int_equal(vmsig_mem_translate(m, cr3, va + 0x10, &x), 0);
	assert_int_equal(x.gpa, 0x9010);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x00fffffffffffff0ull,
	    &x), 0);
	assert_int_equal(x.gpa, 0xa00000 + MB2 - 16);
	assert_int_equal(x.page_size, VMSIG_PAGE_2M);
	assert_int_equal(vmsig_mem_translate(m, cr3, 0x0100000000000000ull,
	    &x), -EINVAL);
	vmsig_mem_close(m);
}

/* Across physically scattered pages, into a not-present page. */
static void
test_read_va(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), va = 0x7ffffffe0000ull;
	struct vmsig_mem *m;
	uint8_t want[3 * KB4], buf[3 * KB4];
	size_t done, i;

	for (i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 13 + i / 4096);
	memfile_map(f, cr3, 4, va, 0x30000 | LEAF, 1);
	memfile_map(f, cr3, 4, va + KB4, 0x20000 | LEAF, 1);
	memfile_map(f, cr3, 4, va + 2 * KB4, 0x50000 | LEAF, 1);
	memfile_map(f, cr3, 4, 0x7ffffffff000ull, 0x60000 | LEAF, 1);
	memfile_write(f, 0x30000, want, KB4);
	memfile_write(f, 0x20000, want + KB4, KB4);
	memfile_write(f, 0x50000, want + 2 * KB4, KB4);
	m = open_ro(f);
	assert_int_equal(vmsig_mem_read_va(m, cr3, va, buf, sizeof(buf),
	    &done), 0);
	assert_int_equal(done, sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
	assert_int_equal(vmsig_mem_read_va(m, cr3, va + 100, buf, 2 * KB4,
	    &done), 0);
	assert_memory_equal(buf, want + 100, 2 * KB4);
	/* The fourth page is not mapped. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, va + 2 * KB4 + 10, buf,
	    KB4, &done), -EFAULT);
	assert_int_equal(done, KB4 - 10);
	assert_memory_equal(buf, want + 2 * KB4 + 10, KB4 - 10);
	assert_int_equal(vmsig_mem_read_va(m, cr3, va - 1, buf, 2, &done),
	    -EFAULT);
	assert_int_equal(done, 0);
	/* Off the top of the lower half. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, 0x7ffffffffff0ull, buf,
	    32, &done), -EFAULT);
	assert_int_equal(done, 16);
	assert_int_equal(vmsig_mem_read_va(m, cr3, 0x800000000000ull, buf,
	    8, &done), -EINVAL);
	assert_int_equal(done, 0);
	vmsig_mem_close(m);
}

/*
 * A split layout, low = 1 GiB - 1 MiB: a 1 GiB page over the low RAM's end,
 * a 2 MiB page at 4 GiB, and one half RAM, half PCI hole.
 */
static void
test_read_va_split(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), low = GB1 - MB2 / 2;
	struct vmsig_mem *m = NULL;
	uint8_t want[64], buf[64];
	size_t done, i;

	for (i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(0xa0 + i);
	memfile_map(f, cr3, 4, GB1, LEAF | PTE_PS, 3);
	memfile_map(f, cr3, 4, 2 * GB1, GB4 | LEAF | PTE_PS, 2);
	memfile_map(f, cr3, 4, 2 * GB1 + MB2, (GB1 - MB2) | LEAF | PTE_PS, 2);
	memfile_write(f, low + MB2 - 32, want, 32);
	memfile_write(f, GB1 - MB2, want + 32, 32);
	memfile_write(f, 0x3000, want, 8);
	assert_int_equal(vmsig_mem_open(f->ro, low, &m), 0);
	/* Across the split: gpa 4 GiB + 2 MiB - 32 then gpa 1 GiB - 2 MiB. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, 2 * GB1 + MB2 - 32, buf,
	    64, &done), 0);
	assert_memory_equal(buf, want, 64);
	/* The 1 GiB page is partly RAM: read it, then run into the hole. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, GB1 + 0x3000, buf, 8,
	    &done), 0);
	assert_memory_equal(buf, want, 8);
	assert_int_equal(vmsig_mem_read_va(m, cr3, GB1 + low - 16, buf, 64,
	    &done), -EFAULT);
	assert_int_equal(done, 16);
	assert_int_equal(vmsig_mem_read_va(m, cr3, 2 * GB1 - 32, buf, 64,
	    &done), -EFAULT);
	assert_int_equal(done, 0);
	/* Half of the second 2 MiB page is the hole. */
	assert_int_equal(vmsig_mem_read_va(m, cr3, 2 * GB1 + MB2 + MB2 / 2 -
	    16, buf, 64, &done), -EFAULT);
	assert_int_equal(done, 16);
	vmsig_mem_close(m);
}

/* Cached translations stay until the flush that covers them. */
static void
check_xlat(struct vmsig_mem *m, uint64_t cr3, uint64_t va, uint64_t gpa)
{
	struct vmsig_xlat x;

	assert_int_equal(vmsig_mem_translate(m, cr3, va, &x), 0);
	assert_int_equal(x.gpa, gpa);
}

/* The PDE mapping va under a 4-level cr3, found by hand. */
static uint64_t
pde_of(struct memfile *f, uint64_t cr3, uint64_t va)
{
	uint64_t e;

	assert_int_equal(memfile_read_entry(f, cr3 + ((va >> 39) & 511) * 8,
	    &e), 0);
	assert_int_equal(memfile_read_entry(f, (e & PTE_FRAME_4K) +
	    ((va >> 30) & 511) * 8, &e), 0);
	return (e & PTE_FRAME_4K) + ((va >> 21) & 511) * 8;
}

/*
 * Large pages are cached whole; 4 KiB entries under a cached table are
 * read live, so only upper-level changes can go stale.  Each flush makes
 * the next translation new.
 */
static void
test_cache(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), cr3b = memfile_table(f);
	uint64_t l4k, l2m, pde, pt2, v;
	struct vmsig_mem *m;

	l4k = memfile_map(f, cr3, 4, 0x1000000, 0x40000 | LEAF, 1);
	l2m = memfile_map(f, cr3, 4, 0x2000000, 0x400000 | LEAF | PTE_PS, 2);
	memfile_map(f, cr3b, 4, 0x2000000, 0x80000 | LEAF, 1);
	m = open_ro(f);
	check_xlat(m, cr3, 0x1000010, 0x40010);
	check_xlat(m, cr3, 0x2000010, 0x400010);
	check_xlat(m, cr3b, 0x2000010, 0x80010);
	memfile_put(f, l4k, 0x41000 | LEAF);
	memfile_put(f, l2m, 0x600000 | LEAF | PTE_PS);
	/* Without a flush the large page is still the cached one. */
	check_xlat(m, cr3, 0x2000010, 0x400010);
	check_xlat(m, cr3, 0x1000010, 0x41010);
	/* One 4 KiB page inside the 2 MiB page drops the whole page. */
	vmsig_mem_flush_va(m, cr3, 0x2100000, 8);
	check_xlat(m, cr3, 0x2000010, 0x600010);
	/* flush_cr3 leaves other spaces alone; flush drops all. */
	memfile_put(f, l2m, 0x800000 | LEAF | PTE_PS);
	vmsig_mem_flush_cr3(m, cr3b | 0x3);
	check_xlat(m, cr3, 0x2000010, 0x600010);
	vmsig_mem_flush_cr3(m, cr3);
	check_xlat(m, cr3, 0x2000010, 0x800010);
	memfile_put(f, l2m, 0xa00000 | LEAF | PTE_PS);
	vmsig_mem_flush(m);
	check_xlat(m, cr3, 0x2000010, 0xa00010);
	/* A write to the directory, reported by gpa. */
	memfile_put(f, l2m, 0xc00000 | LEAF | PTE_PS);
	vmsig_mem_flush_gpa(m, l2m, 8);
	check_xlat(m, cr3, 0x2000010, 0xc00010);
	/* A PDE moved to another page table: the cached table goes too. */
	pt2 = memfile_table(f);
	memfile_put(f, pt2, 0x90000 | LEAF);
	pde = pde_of(f, cr3, 0x1000000);
	memfile_put(f, pde, pt2 | LEAF);
	vmsig_mem_flush_va(m, cr3, 0x1000000, 1);
	check_xlat(m, cr3, 0x1000010, 0x90010);
	/* The root cleared: the mapping disappears after flush_gpa. */
	memfile_put(f, cr3, 0);
	vmsig_mem_flush_gpa(m, cr3 - 8, 16);
	assert_int_equal(vmsig_mem_read_va(m, cr3, 0x1000010, &v, 8, NULL),
	    -EFAULT);
	vmsig_mem_flush(NULL);
	vmsig_mem_close(m);
}

/* Ranged flushes of many pages, and of the whole space. */
static void
test_cache_ranges(void **state)
{
	struct memfile *f = *state;
	uint64_t cr3 = memfile_table(f), leaf[8], i, v;
	struct vmsig_mem *m;

	for (i = 0; i < 8; i++)
		leaf[i] = memfile_map(f, cr3, 4, 0x10000000 + i * STRIDE,
		    (0x10000000 + i * MB2) | LEAF | PTE_PS, 2);
	m = open_ro(f);
	for (i = 0; i < 8; i++)
		check_xlat(m, cr3, 0x10000000 + i * STRIDE,
		    0x10000000 + i * MB2);
	for (i = 0; i < 8; i++)
		memfile_put(f, leaf[i], (0x20000000 + i * MB2) | LEAF |
		    PTE_PS);
	vmsig_mem_flush_va(m, cr3, 0x10000000, STRIDE * 4);
	for (i = 0; i < 8; i++)
		check_xlat(m, cr3, 0x10000000 + i * STRIDE,
		    (i < 4 ? 0x20000000 : 0x10000000) + i * MB2);
	vmsig_mem_flush_va(m, cr3, 0, UINT64_MAX);
	for (i = 0; i < 8; i++)
		check_xlat(m, cr3, 0x10000000 + i * STRIDE,
		    0x20000000 + i * MB2);
	for (i = 0; i < 8; i++)
		memfile_put(f, leaf[i], (0x30000000 + i * MB2) | LEAF |
		    PTE_PS);
	vmsig_mem_flush_gpa(m, 0, UINT64_MAX);
	check_xlat(m, cr3, 0x10000000 + 7 * STRIDE, 0x30000000 + 7 * MB2);
	assert_int_equal(vmsig_mem_read_va(m, cr3, 0x10000000, &v, 8, NULL),
	    0);
	vmsig_mem_close(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_bad, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_readonly, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_read_pa_low, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_read_pa_segs, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_open_event, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_translate, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_translate_faults,
		    memfile_setup_2g, memfile_teardown),
		cmocka_unit_test_setup_teardown(test_five_level, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_read_va, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_read_va_split, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_cache, memfile_setup_2g,
		    memfile_teardown),
		cmocka_unit_test_setup_teardown(test_cache_ranges, memfile_setup_2g,
		    memfile_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
