/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vmsig-memctx/layout.c: number parsing, option
 * combinations, QEMU's split rules, explicit segments, every refusal with
 * its message, and the gpa <-> file offset lookups.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../vmsig-memctx/memctx.h"

#define G	(1ull << 30)
#define M	(1ull << 20)

static void
test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(layout_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(layout_parse_size("0x80000000", &v), 0);
	assert_int_equal(v, 0x80000000ull);
	assert_int_equal(layout_parse_size("0XfF", &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(layout_parse_size("2G", &v), 0);
	assert_int_equal(v, 2 * G);
	assert_int_equal(layout_parse_size("3072M", &v), 0);
	assert_int_equal(v, 3 * G);
	assert_int_equal(layout_parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(layout_parse_size("0x10M", &v), 0);
	assert_int_equal(v, 16 * M);
	assert_int_equal(layout_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(layout_parse_size("18446744073709551616", &v),
	    -ERANGE);
	assert_int_equal(layout_parse_size("0x10000000000000000", &v),
	    -ERANGE);
	assert_int_equal(layout_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(layout_parse_size("16777215T", &v), 0);
	assert_int_equal(layout_parse_size("", &v), -EINVAL);
	assert_int_equal(layout_parse_size("0x", &v), -EINVAL);
	assert_int_equal(layout_parse_size("G", &v), -EINVAL);
	assert_int_equal(layout_parse_size("-1", &v), -EINVAL);
	assert_int_equal(layout_parse_size(" 1", &v), -EINVAL);
	assert_int_equal(layout_parse_size("1GB", &v), -EINVAL);
	assert_int_equal(layout_parse_size("12x", &v), -EINVAL);
	assert_int_equal(layout_parse_size("0xg", &v), -EINVAL);
	assert_int_equal(layout_parse_size(NULL, &v), -EINVAL);
}

static int
build(const char *opt, const char *arg, uint64_t size, struct layout *l,
    const char **why)
{
	struct layout_opts o;
	int r = 0;

	memset(&o, 0, sizeof(o));
	if (opt != NULL && strcmp(opt, "low") == 0)
		r = layout_opt_low(&o, arg, why);
	else if (opt != NULL && strcmp(opt, "machine") == 0)
		r = layout_opt_machine(&o, arg, why);
	if (r < 0)
		return r;
	return layout_build(&o, size, l, why);
}

static void
test_default(void **state)
{
	struct layout l;
	const char *why = NULL;

	(void)state;
	assert_int_equal(build(NULL, NULL, 256 * M, &l, &why), 0);
	assert_int_equal(l.explicit, 0);
	assert_int_equal(l.low, 256 * M);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(build(NULL, NULL, 0xAFFFF000ull, &l, &why), 0);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(build(NULL, NULL, 0xB0000000ull, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "--machine"));
	assert_non_null(strstr(why, "--low"));
	assert_non_null(strstr(why, "--seg"));
}

static void
test_machine(void **state)
{
	struct layout l;
	const char *why = NULL;

	(void)state;
	assert_int_equal(build("machine", "q35", 2 * G, &l, &why), 0);
	assert_int_equal(l.low, 2 * G);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(build("machine", "q35", 3 * G, &l, &why), 0);
	assert_int_equal(l.low, 0x80000000ull);
	assert_int_equal(l.nseg, 2);
	assert_int_equal(l.segs[1].gpa, 4 * G);
	assert_int_equal(l.segs[1].len, 1 * G);
	assert_int_equal(l.segs[1].file_off, 2 * G);
	assert_int_equal(build("machine", "pc", 3 * G, &l, &why), 0);
	assert_int_equal(l.low, 3 * G);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(build("machine", "pc", 0xE0000000ull, &l, &why), 0);
	assert_int_equal(l.low, 0xC0000000ull);
	assert_int_equal(l.segs[1].len, 0x20000000ull);
	assert_int_equal(build("machine", "virt", 3 * G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "q35 or pc"));
}

static void
test_low(void **state)
{
	struct layout l;
	const char *why = NULL;
	uint64_t off, avail, gpa;

	(void)state;
	assert_int_equal(build("low", "2G", 3 * G, &l, &why), 0);
	assert_int_equal(l.explicit, 0);
	assert_int_equal(layout_ram_size(&l), 3 * G);
	assert_int_equal(layout_gpa_to_off(&l, 0x1000, &off, &avail), 0);
	assert_int_equal(off, 0x1000);
	assert_int_equal(avail, 2 * G - 0x1000);
	assert_int_equal(layout_gpa_to_off(&l, 2 * G, &off, &avail), -EFAULT);
	assert_int_equal(layout_gpa_to_off(&l, 4 * G - 1, &off, &avail),
	    -EFAULT);
	assert_int_equal(layout_gpa_to_off(&l, 4 * G + 5, &off, &avail), 0);
	assert_int_equal(off, 2 * G + 5);
	assert_int_equal(avail, G - 5);
	assert_int_equal(layout_gpa_to_off(&l, 5 * G, &off, &avail), -EFAULT);
	assert_int_equal(layout_off_to_gpa(&l, 2 * G + 0x2000, &gpa, &avail),
	    0);
	assert_int_equal(gpa, 4 * G + 0x2000);
	assert_int_equal(layout_off_to_gpa(&l, 3 * G, &gpa, &avail), -EFAULT);
	/* --low equal to the file: one region; 4G exactly is allowed. */
	assert_int_equal(build("low", "1G", G, &l, &why), 0);
	assert_int_equal(l.nseg, 1);
	assert_int_equal(build("low", "4G", 5 * G, &l, &why), 0);
	assert_int_equal(l.segs[1].gpa, 4 * G);
}

static void
test_low_refused(void **state)
{
	struct layout l;
	const char *why = NULL;

	(void)state;
	assert_int_equal(build("low", "2G", G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "larger than the RAM file"));
	assert_int_equal(build("low", "5G", 6 * G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "at most 4G"));
	assert_int_equal(build("low", "0", G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "not be 0"));
	assert_int_equal(build("low", "4097", G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "multiple of 4 KiB"));
	assert_int_equal(build("low", "2Q", G, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "byte count"));
	assert_int_equal(build("low", "99999999999999999999", G, &l, &why),
	    -ERANGE);
	assert_int_equal(build(NULL, NULL, 0, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "empty"));
	assert_int_equal(build(NULL, NULL, 4097, &l, &why), -EINVAL);
	assert_non_null(strstr(why, "multiple of 4 KiB"));
}

static void
test_combinations(void **state)
{
	struct layout_opts o;
	const char *why = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_opt_low(&o, "2G", &why), 0);
	assert_int_equal(layout_opt_low(&o, "2G", &why), -EINVAL);
	assert_non_null(strstr(why, "exclude each other"));
	assert_int_equal(layout_opt_machine(&o, "q35", &why), -EINVAL);
	assert_int_equal(layout_opt_seg(&o, "0:4K:0", &why), -EINVAL);
	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_opt_seg(&o, "0:4K:0", &why), 0);
	assert_int_equal(layout_opt_low(&o, "1G", &why), -EINVAL);
	assert_int_equal(layout_opt_machine(&o, "pc", &why), -EINVAL);
}

static int
segs(const char *const *args, uint64_t size, struct layout *l,
    const char **why)
{
	struct layout_opts o;
	int r;

	memset(&o, 0, sizeof(o));
	for (; *args != NULL; args++)
		if ((r = layout_opt_seg(&o, *args, why)) < 0)
			return r;
	return layout_build(&o, size, l, why);
}

static void
test_segs(void **state)
{
	const char *ok[] = { "0x100000000:1G:0x80000000", "0:2G:0", NULL };
	struct layout l;
	const vmsig_memseg *ws;
	const char *why = NULL;
	uint64_t low, off, avail;
	uint32_t n;

	(void)state;
	assert_int_equal(segs(ok, 3 * G, &l, &why), 0);
	assert_int_equal(l.explicit, 1);
	assert_int_equal(l.nseg, 2);
	assert_int_equal(l.segs[0].gpa, 0);	/* sorted by gpa */
	assert_int_equal(layout_gpa_to_off(&l, 4 * G + 8, &off, &avail), 0);
	assert_int_equal(off, 2 * G + 8);
	layout_wire(&l, &low, &ws, &n);
	assert_int_equal(n, 2);
	assert_ptr_equal(ws, l.segs);
	assert_int_equal(low, 2 * G);
	assert_int_equal(build("low", "2G", 3 * G, &l, &why), 0);
	layout_wire(&l, &low, &ws, &n);
	assert_int_equal(n, 0);
	assert_null(ws);
	assert_int_equal(low, 2 * G);
}

static void
test_segs_refused(void **state)
{
	static const struct {
		const char *args[3];
		int err;
		const char *why;
	} c[] = {
		{ { "0:0:0", NULL }, -EINVAL, "length 0" },
		{ { "0:4K", NULL }, -EINVAL, "GPA:LEN:OFFSET" },
		{ { "0:4K:0:0", NULL }, -EINVAL, "GPA:LEN:OFFSET" },
		{ { "x:4K:0", NULL }, -EINVAL, "GPA:LEN:OFFSET" },
		{ { "0:4K:", NULL }, -EINVAL, "GPA:LEN:OFFSET" },
		{ { "0:99999999999999999999:0", NULL }, -ERANGE,
		    "GPA:LEN:OFFSET" },
		{ { "0x1000:1G:4K", NULL }, -EINVAL, "past the end of the RAM" },
		{ { "0:4K:1G", NULL }, -EINVAL, "past the end of the RAM" },
		{ { "0:0x800:0", NULL }, -EINVAL, "multiples of 4 KiB" },
		{ { "0xfffffffffffff000:8K:0", NULL }, -EINVAL,
		    "guest-physical address space" },
		{ { "0:8K:0", "0x1000:4K:0x4000", NULL }, -EINVAL,
		    "overlap in guest-physical" },
		{ { "0:8K:0", "0x10000:4K:0x1000", NULL }, -EINVAL,
		    "overlap in the RAM file" },
	};
	struct layout l;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		why = NULL;
		assert_int_equal(segs(c[i].args, G, &l, &why), c[i].err);
		assert_non_null(why);
		if (strstr(why, c[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, why, c[i].why);
	}
}

static void
test_too_many_segs(void **state)
{
	struct layout_opts o;
	const char *why = NULL;
	char arg[64];
	unsigned int i;

	(void)state;
	memset(&o, 0, sizeof(o));
	for (i = 0; i < LAYOUT_MAX_SEGS; i++) {
		(void)snprintf(arg, sizeof(arg), "0x%x:4K:0x%x", i * 0x1000,
		    i * 0x1000);
		assert_int_equal(layout_opt_seg(&o, arg, &why), 0);
	}
	assert_int_equal(layout_opt_seg(&o, "0x100000:4K:0x100000", &why),
	    -E2BIG);
	assert_non_null(strstr(why, "too many"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_machine),
		cmocka_unit_test(test_low),
		cmocka_unit_test(test_low_refused),
		cmocka_unit_test(test_combinations),
		cmocka_unit_test(test_segs),
		cmocka_unit_test(test_segs_refused),
		cmocka_unit_test(test_too_many_segs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
