/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vmsig-memctx/mtree.c and the register parser of
 * qmp_guest.c, on transcripts of a real QEMU 7.2 (tests/data/qmp/, made by
 * tests/qemu/record-qmp.sh): the segments of the RAM backend in address
 * space "memory" for pc and q35 with 512M and 4G, the block chosen by its
 * name, offsets, merging, and refusals of malformed, truncated and
 * oversized trees.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../vmsig-memctx/daemon.h"

#define M	(1ull << 20)
#define G	(1ull << 30)

/* A transcript, from the source tree (cwd) or next to the build dir. */
static char *
load(const char *name, size_t *ret_len)
{
	static const char *const dirs[] = { "tests/data/qmp",
	    VMSIG_BUILD_DIR "/../tests/data/qmp" };
	char path[4096];
	FILE *f = NULL;
	char *buf;
	size_t i, n;

	for (i = 0; i < 2 && f == NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		f = fopen(path, "r");
	}
	assert_non_null(f);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*ret_len = n;
	return buf;
}

static void
expect_seg(const vmsig_memseg *s, uint64_t gpa, uint64_t len, uint64_t off)
{
	assert_int_equal(s->gpa, gpa);
	assert_int_equal(s->len, len);
	assert_int_equal(s->file_off, off);
}

static uint32_t
parse_file(const char *name, const char *id, vmsig_memseg *segs)
{
	size_t len;
	char *t = load(name, &len);
	uint32_t n = 0;

	assert_int_equal(mtree_parse(t, len, id, segs, LAYOUT_MAX_SEGS, &n), 0);
	free(t);
	return n;
}

/* RAM up to the ROM window at 0xc0000, then from 1 MiB; the 128 KiB
 * under the ROMs stay in the file but are not mapped. */
static void
test_pc_512m(void **state)
{
	vmsig_memseg s[LAYOUT_MAX_SEGS];

	(void)state;
	assert_int_equal(parse_file("pc-512M.mtree.txt", "ram0", s), 2);
	expect_seg(&s[0], 0, 0xc0000, 0);
	expect_seg(&s[1], 0x100000, 512 * M - 0x100000, 0x100000);
	assert_int_equal(parse_file("q35-512M.mtree.txt", "ram0", s), 2);
	expect_seg(&s[0], 0, 0xc0000, 0);
	expect_seg(&s[1], 0x100000, 512 * M - 0x100000, 0x100000);
}

static void
test_4g(void **state)
{
	vmsig_memseg s[LAYOUT_MAX_SEGS];

	(void)state;
	/* q35: 2 GiB below the PCI hole, the rest at 4 GiB. */
	assert_int_equal(parse_file("q35-4G.mtree.txt", "ram0", s), 3);
	expect_seg(&s[0], 0, 0xc0000, 0);
	expect_seg(&s[1], 0x100000, 2 * G - 0x100000, 0x100000);
	expect_seg(&s[2], 4 * G, 2 * G, 2 * G);
	/* pc (i440fx): 3 GiB below. */
	assert_int_equal(parse_file("pc-4G.mtree.txt", "ram0", s), 3);
	expect_seg(&s[0], 0, 0xc0000, 0);
	expect_seg(&s[1], 0x100000, 3 * G - 0x100000, 0x100000);
	expect_seg(&s[2], 4 * G, 1 * G, 3 * G);
}

/* The backend's id is matched whole; other regions and ids give nothing. */
static void
test_other_ids(void **state)
{
	size_t len;
	char *t = load("pc-4G.mtree.txt", &len);
	vmsig_memseg s[LAYOUT_MAX_SEGS];
	uint32_t n = 0;

	(void)state;
	assert_int_equal(mtree_parse(t, len, "pc.ram", s, 64, &n), -ENOENT);
	assert_int_equal(mtree_parse(t, len, "ram", s, 64, &n), -ENOENT);
	assert_int_equal(mtree_parse(t, len, "pc.rom", s, 64, &n), 0);
	assert_int_equal(n, 1);
	expect_seg(&s[0], 0xc0000, 0x20000, 0);
	/* Three ranges, two slots. */
	assert_int_equal(mtree_parse(t, len, "ram0", s, 2, &n), -E2BIG);
	assert_int_equal(mtree_parse(t, len, "", s, 64, &n), -EINVAL);
	free(t);
}

/* The "memory" block is found by name, wherever it stands; the SMM view
 * (root: memory) with different ranges is ignored. */
static void
test_block_by_name(void **state)
{
	static const char t[] =
	    "FlatView #0\n AS \"cpu-smm-0\", root: memory\n"
	    " Root memory region: memory\n"
	    "  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
	    "  00000000000a0000-00000000000bffff (prio 1, ram): smram\n"
	    "\nFlatView #1\n AS \"I/O\", root: io\n"
	    "  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\n"
	    "\nFlatView #7\n AS \"cpu-memory-0\", root: system\n"
	    " AS \"memory\", root: system\n Root memory region: system\n"
	    "  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
	    "  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
	    "  00000000000c0000-00000000000fffff (prio 0, ram): pc.ram "
	    "@00000000000c0000 KVM\n"
	    "  0000000000100000-000000003fffffff (prio 0, ram): pc.ram "
	    "@0000000000100000 KVM\n"
	    "\nFlatView #8\n AS \"virtio\", root: bus master container\n"
	    "  0000000040000000-000000004fffffff (prio 0, ram): pc.ram\n";
	vmsig_memseg s[4];
	uint32_t n = 0;

	(void)state;
	assert_int_equal(mtree_parse(t, sizeof(t) - 1, "pc.ram", s, 4, &n), 0);
	/* 0xc0000.. and 1 MiB.. are contiguous in both: one segment. */
	assert_int_equal(n, 2);
	expect_seg(&s[0], 0, 0xa0000, 0);
	expect_seg(&s[1], 0xc0000, 0x40000000 - 0xc0000, 0xc0000);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
	    /* range past the end, reversed, not hex, 17 digits, no "): " */
	    "  ffffffffffffffff-fffffffffffffffe (prio 0, ram): r\n",
	    "  0000000000001000-0000000000000fff (prio 0, ram): r\n",
	    "  00000000000g1000-0000000000001fff (prio 0, ram): r\n",
	    "  00000000000000000-0000000000001fff (prio 0, ram): r\n",
	    "  0000000000000000-0000000000000fff (prio 0, ram) r\n",
	    "  0000000000000000-0000000000000fff (prio 0, ram): r @zz\n",
	    /* overlap, and the whole space (its length overflows) */
	    "  0000000000000000-0000000000001fff (prio 0, ram): r\n"
	    "  0000000000001000-0000000000002fff (prio 0, ram): r\n",
	    "  0000000000000000-ffffffffffffffff (prio 0, ram): r\n",
	    "  0000000000001000-0000000000001fff (prio 0, ram): r "
	    "@ffffffffffffffff\n",
	};
	char t[512];
	vmsig_memseg s[4];
	uint32_t n = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(t, sizeof(t), "FlatView #1\n AS \"memory\", root: "
		    "system\n%s", bad[i]);
		assert_int_equal(mtree_parse(t, strlen(t), "r", s, 4, &n),
		    -EBADMSG);
	}
	/* "memory" twice; nothing at all; truncated after the header. */
	snprintf(t, sizeof(t), "FlatView #1\n AS \"memory\", root: system\n"
	    "FlatView #2\n AS \"memory\", root: system\n");
	assert_int_equal(mtree_parse(t, strlen(t), "r", s, 4, &n), -EBADMSG);
	assert_int_equal(mtree_parse("", 0, "r", s, 4, &n), -ENOENT);
	snprintf(t, sizeof(t), "FlatView #1\n AS \"memory\", root: system\n"
	    "  00000000000");
	assert_int_equal(mtree_parse(t, strlen(t), "r", s, 4, &n), -EBADMSG);
}

/* Every prefix of a real transcript parses or is refused, never more. */
static void
test_truncated(void **state)
{
	size_t len, i;
	char *t = load("q35-4G.mtree.txt", &len);
	vmsig_memseg s[LAYOUT_MAX_SEGS];
	uint32_t n;
	int r;

	(void)state;
	for (i = 0; i <= len; i += 7) {
		n = 0;
		r = mtree_parse(t, i, "ram0", s, LAYOUT_MAX_SEGS, &n);
		assert_true(r == 0 || r == -ENOENT || r == -EBADMSG);
		assert_true(n <= 3);
	}
	free(t);
}

static void
test_regs(void **state)
{
	static const char long_mode[] =
	    "RAX=0000000000000000 RBX=ffffffff82613940\r\n"
	    "CR0=80050033 CR2=00007f3a1c2d6000 CR3=000000010a8e2805 "
	    "CR4=00771ef0\r\n\r\nCPU#1\r\nCR0=80050033 CR2=0 CR3=0000000000"
	    "001000 CR4=00001000\r\n";
	struct qmp_regs r;
	size_t len;
	char *t = load("pc-512M.registers.txt", &len);

	(void)state;
	assert_int_equal(qmp_guest_regs_parse(t, len, &r), 0);
	assert_int_equal(r.cr0, 0x60000010);
	assert_int_equal(r.cr3, 0);
	assert_int_equal(r.cr4, 0);
	free(t);
	assert_int_equal(qmp_guest_regs_parse(long_mode, sizeof(long_mode) - 1,
	    &r), 0);
	assert_int_equal(r.cr3, 0x10a8e2805ull);
	assert_int_equal(r.cr4, 0x771ef0);
	assert_int_equal(qmp_guest_regs_parse("CR0=1 CR3=2", 11, &r),
	    -EBADMSG);
	assert_int_equal(qmp_guest_regs_parse("CR0= CR3=2 CR4=1", 16, &r),
	    -EBADMSG);
	assert_int_equal(qmp_guest_regs_parse("CR0=1 CR3=11111111111111111 "
	    "CR4=1", 32, &r), -EBADMSG);
	/* XCR0= must not be taken for CR0=. */
	assert_int_equal(qmp_guest_regs_parse("XCR0=7 CR3=2 CR4=1", 18, &r),
	    -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pc_512m),
		cmocka_unit_test(test_4g),
		cmocka_unit_test(test_other_ids),
		cmocka_unit_test(test_block_by_name),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_regs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
