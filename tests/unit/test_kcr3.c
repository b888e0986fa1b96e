/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of kcr3 discovery (vmsig-memctx/kcr3*.c, pe.c) over the real
 * reader (ram.c): a small hand-built guest in a memfd (tests/fuzz/kimg.h)
 * for every method, decoy and failure, then guestgen images for the sizes
 * and layouts the helper meets: 256 MiB, 3 GiB split at 2 GiB, no low stub,
 * pure noise, and a sparse 4 GiB image whose allocation must not grow.
 *
 * Runs in: tests
 */
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

struct fx {
	uint8_t *img;
	int fd;
	struct ram *ram;
};

static void
fx_open(struct fx *f, unsigned int flags, void (*edit)(uint8_t *))
{
	struct layout_opts o;
	struct layout l;

	memset(f, 0, sizeof(*f));
	f->img = calloc(1, KIMG_SIZE);
	assert_non_null(f->img);
	if (flags != ~0u)
		kimg_build(f->img, flags);
	if (edit != NULL)
		edit(f->img);
	f->fd = kimg_memfd(f->img, KIMG_SIZE);
	assert_true(f->fd >= 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(layout_build(&o, KIMG_SIZE, &l, NULL), 0);
	assert_int_equal(ram_open(f->fd, &l, &f->ram), 0);
}

static void
fx_close(struct fx *f)
{
	ram_close(f->ram);
	(void)close(f->fd);
	free(f->img);
}

static void
test_lowstub(void **state)
{
	struct kcr3_result r;
	struct fx f;

	(void)state;
	fx_open(&f, 0, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_LOWSTUB, 0, &r, NULL), 0);
	assert_int_equal(r.kcr3, KIMG_KCR3);
	assert_int_equal(r.method, KCR3_LOWSTUB);
	assert_string_equal(kcr3_method_name(r.method), "lowstub");
	assert_int_equal(r.lowstub_pa, KIMG_STUB);	/* decoy skipped */
	assert_int_equal(r.entry_va, KIMG_ENTRY);
	assert_int_equal(r.candidates, 2);
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_int_equal(r.method, KCR3_LOWSTUB);
	assert_int_equal(kcr3_revalidate(f.ram, &r), 0);
	fx_close(&f);
}

static void
test_selfref(void **state)
{
	struct kcr3_result r;
	struct fx f;

	(void)state;
	fx_open(&f, 0, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_SELFREF, 0, &r, NULL), 0);
	/* The process PML4 at 0x8000 is met first and leads to System. */
	assert_int_equal(r.kcr3, KIMG_KCR3);
	assert_int_equal(r.method, KCR3_SELFREF);
	assert_int_equal(r.kernel_base, KIMG_KBASE);
	assert_int_equal(r.system_eprocess, KIMG_KBASE + KIMG_EPROC_RVA);
	assert_int_equal(r.candidates, 1);
	assert_int_equal(r.has_lowstub, 1);
	assert_int_equal(kcr3_revalidate(f.ram, &r), 0);
	fx_close(&f);
	fx_open(&f, KIMG_NO_STUB, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_int_equal(r.method, KCR3_SELFREF);
	assert_int_equal(r.kcr3, KIMG_KCR3);
	assert_int_equal(r.has_lowstub, 0);
	assert_int_equal(kcr3_discover(f.ram, KCR3_LOWSTUB, 0, &r, NULL),
	    -ENOENT);
	fx_close(&f);
}

static void
test_given(void **state)
{
	struct kcr3_result r;
	const char *why = NULL;
	struct fx f;

	(void)state;
	fx_open(&f, 0, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_GIVEN, KIMG_KCR3, &r, &why),
	    0);
	assert_int_equal(r.method, KCR3_GIVEN);
	assert_int_equal(r.has_lowstub, 1);
	assert_int_equal(kcr3_discover(f.ram, KCR3_GIVEN, 0x40000, &r, &why),
	    -EINVAL);
	assert_non_null(strstr(why, "does not validate"));
	assert_int_equal(kcr3_discover(f.ram, KCR3_GIVEN, 0x800000, &r, &why),
	    -EINVAL);
	fx_close(&f);
}

static void
test_noise(void **state)
{
	struct kcr3_result r;
	const char *why = NULL;
	struct fx f;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	(void)state;
	fx_open(&f, ~0u, NULL);		/* all holes */
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, &why), -ENOENT);
	assert_non_null(strstr(why, "no kcr3 candidate"));
	fx_close(&f);
	fx_open(&f, ~0u, NULL);
	for (i = 0; i < KIMG_SIZE / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(f.img + 8 * i, &x, 8);
	}
	ram_close(f.ram);
	(void)close(f.fd);
	f.fd = kimg_memfd(f.img, KIMG_SIZE);
	{
		struct layout_opts o;
		struct layout l;

		memset(&o, 0, sizeof(o));
		assert_int_equal(layout_build(&o, KIMG_SIZE, &l, NULL), 0);
		assert_int_equal(ram_open(f.fd, &l, &f.ram), 0);
	}
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, &why), -ENOENT);
	fx_close(&f);
}

static void
no_mz(uint8_t *img)
{
	img[KIMG_IMAGE] = 'X';
	img[KIMG_STUB] = 0;	/* no valid stub either */
}

static void
wrong_dtb(uint8_t *img)
{
	/* System's DTB names the process PML4's neighbour: not a PML4. */
	kimg_put64(img, KIMG_IMAGE + KIMG_EPROC_RVA + 0x28, KIMG_PDPT);
}

static void
export_out_of_image(uint8_t *img)
{
	kimg_put32(img, KIMG_IMAGE + 0x10b4, 0x9000);	/* name past image */
}

static void
forwarder(uint8_t *img)
{
	kimg_put32(img, KIMG_IMAGE + 0x10a4, 0x1010);	/* inside exports */
}

static void
test_selfref_refusals(void **state)
{
	void (*const edits[])(uint8_t *) = { no_mz, wrong_dtb,
	    export_out_of_image, forwarder };
	struct kcr3_result r;
	const char *why = NULL;
	struct fx f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		fx_open(&f, KIMG_NO_STUB, edits[i]);
		assert_int_equal(kcr3_discover(f.ram, KCR3_SELFREF, 0, &r,
		    &why), -ESRCH);
		assert_non_null(strstr(why, "none validated"));
		fx_close(&f);
	}
}

static void
two_selfrefs(uint8_t *img)
{
	kimg_put64(img, KIMG_KCR3 + 8 * 0x1ee, KIMG_KCR3 | 3);
}

static void
test_candidate(void **state)
{
	uint64_t q[512];
	struct fx f;

	(void)state;
	fx_open(&f, 0, NULL);
	memcpy(q, f.img + KIMG_KCR3, sizeof(q));
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_KCR3, q), 1);
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_PROC, q), 0);
	q[KIMG_SELF] |= 4;		/* user bit on the self-map */
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_KCR3, q), 0);
	q[KIMG_SELF] &= ~4ull;
	q[300] |= 0x80;			/* PS in a PML4E */
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_KCR3, q), 0);
	q[300] &= ~0x80ull;
	q[400] = 0;
	q[300] = 0x7ff00000000003ull;	/* not RAM: one other left */
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_KCR3, q), 0);
	fx_close(&f);
	fx_open(&f, 0, two_selfrefs);
	memcpy(q, f.img + KIMG_KCR3, sizeof(q));
	assert_int_equal(kcr3_selfref_candidate(f.ram, KIMG_KCR3, q), 0);
	fx_close(&f);
}

static void
test_revalidate_stale(void **state)
{
	struct kcr3_result r;
	uint64_t v = 0x20000;
	struct fx f;

	(void)state;
	fx_open(&f, 0, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, NULL), 0);
	/* The guest rebooted: its stub names another CR3. */
	assert_int_equal(pwrite(f.fd, &v, 8, KIMG_STUB + 0xa0), 8);
	assert_int_equal(kcr3_revalidate(f.ram, &r), -ESTALE);
	fx_close(&f);
	fx_open(&f, KIMG_NO_STUB, NULL);
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_int_equal(kcr3_revalidate(f.ram, &r), 0);
	/* Its old PML4 page now holds something else. */
	assert_int_equal(fallocate(f.fd, FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_KEEP_SIZE, KIMG_KCR3, 4096), 0);
	assert_int_equal(kcr3_revalidate(f.ram, &r), -ESTALE);
	fx_close(&f);
}

static void
test_parse(void **state)
{
	enum kcr3_method m;
	const char *why = NULL;
	uint64_t g;

	(void)state;
	assert_int_equal(kcr3_parse("auto", &m, &g, &why), 0);
	assert_int_equal(m, KCR3_AUTO);
	assert_int_equal(kcr3_parse("selfref", &m, &g, &why), 0);
	assert_int_equal(m, KCR3_SELFREF);
	assert_int_equal(kcr3_parse("lowstub", &m, &g, &why), 0);
	assert_int_equal(kcr3_parse("0x1AD000", &m, &g, &why), 0);
	assert_int_equal(m, KCR3_GIVEN);
	assert_int_equal(g, 0x1ad000);
	assert_int_equal(kcr3_parse("0x1ad001", &m, &g, &why), -EINVAL);
	assert_non_null(strstr(why, "page-aligned"));
	assert_int_equal(kcr3_parse("given", &m, &g, &why), -EINVAL);
	assert_int_equal(kcr3_parse("0x", &m, &g, &why), -EINVAL);
	assert_int_equal(kcr3_parse("0x0", &m, &g, &why), -EINVAL);
	assert_int_equal(kcr3_parse("1ad000", &m, &g, &why), -EINVAL);
	assert_int_equal(kcr3_parse("0x11111111111111111", &m, &g, &why),
	    -EINVAL);
	assert_int_equal(kcr3_parse("0x8000000000000000", &m, &g, &why),
	    -EINVAL);
	assert_string_equal(kcr3_method_name((enum kcr3_method)9), "?");
}

static void
test_holes_untouched(void **state)
{
	struct kcr3_result r;
	struct stat a, b;
	struct fx f;

	(void)state;
	fx_open(&f, KIMG_NO_STUB, NULL);
	assert_int_equal(fstat(f.fd, &a), 0);
	assert_int_equal(kcr3_discover(f.ram, KCR3_AUTO, 0, &r, NULL), 0);
	assert_int_equal(kcr3_discover(f.ram, KCR3_GIVEN, 0x200000, &r, NULL),
	    -EINVAL);
	assert_int_equal(fstat(f.fd, &b), 0);
	assert_int_equal(a.st_blocks, b.st_blocks);
	assert_true(b.st_blocks < KIMG_SIZE / 512 / 4);
	fx_close(&f);
}

/*
 * --kcr3 qmp: Linux's early boot table (one kernel-half entry) is refused
 * as "still booting"; a settled table is taken with its PCID bits masked;
 * a KPTI user copy (no kernel half) falls back to the page below it.
 */
static void
edit_cr3s(uint8_t *img)
{
	const uint64_t t = 0x3;		/* present, writable */

	kimg_put64(img, 0x30000 + 8 * 511, 0x31000 | t);	/* early */
	kimg_put64(img, 0x50000 + 8 * 273, 0x60000 | t);	/* kernel */
	kimg_put64(img, 0x50000 + 8 * 511, 0x61000 | t);
	kimg_put64(img, 0x51000 + 8 * 1, 0x62000 | t);	/* user copy */
}

static void
test_from_cr3(void **state)
{
	struct kcr3_result res;
	const char *why = NULL;
	struct fx f;

	(void)state;
	fx_open(&f, ~0u, edit_cr3s);
	assert_int_equal(kcr3_from_cr3(f.ram, 0, 4, &res, &why), -ENOENT);
	assert_int_equal(kcr3_from_cr3(f.ram, 0x30000, 4, &res, &why),
	    -ENOENT);
	assert_non_null(strstr(why, "booting"));
	assert_int_equal(kcr3_from_cr3(f.ram, 0x50000 | 0x5, 4, &res, &why),
	    0);
	assert_int_equal(res.kcr3, 0x50000);
	assert_int_equal(res.method, KCR3_QMP);
	assert_int_equal(kcr3_from_cr3(f.ram, 0x51000, 4, &res, &why), 0);
	assert_int_equal(res.kcr3, 0x50000);
	assert_int_equal(res.candidates, 2);
	fx_close(&f);
}

/*
 * --kcr3 qmp under PTI: Linux's top tables come in 8 KiB pairs, the kernel
 * table in the even page, its user copy (CR3 in user mode) in the odd one.
 * The copy validates (its kernel half maps the entry trampoline) but maps
 * no other kernel address, so the kernel table below is vended -- and only
 * when it is provably the pair's: a page that merely sits below is not.
 */
#define PTI_P	0x3ull			/* present, writable */
#define PTI_U	0x67ull			/* present, writable, user, A, D */
#define PTI_NX	(1ull << 63)

struct pte_at {
	unsigned int i;
	uint64_t e;
};

static void
put_table(uint8_t *img, uint64_t pa, const struct pte_at *t, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		kimg_put64(img, pa + 8 * t[k].i, t[k].e);
}

/* The copy of every pair: the shell's user half, cpu_entry_area (508,
 * shared with the kernel table) and the entry text (511, its own PUD). */
static const struct pte_at pti_user[] = {
	{ 1, 0x110000 | PTI_U }, { 508, 0x122000 | PTI_P },
	{ 511, 0x124000 | PTI_P },
};

static void
edit_pti(uint8_t *img)
{
	/* The real pair: user half with NX (PTI sets it in the kernel's
	 * copy of user entries), direct map, vmalloc, cpu_entry_area, text. */
	static const struct pte_at kern[] = {
		{ 1, 0x110000 | PTI_U | PTI_NX }, { 273, 0x120000 | PTI_P },
		{ 402, 0x121000 | PTI_P }, { 508, 0x122000 | PTI_P },
		{ 511, 0x123000 | PTI_P },
	};
	/* Below 0x141000: more kernel entries, another user half. */
	static const struct pte_at other_user[] = {
		{ 1, 0x150000 | PTI_U }, { 273, 0x120000 | PTI_P },
		{ 402, 0x121000 | PTI_P }, { 508, 0x122000 | PTI_P },
		{ 511, 0x123000 | PTI_P },
	};
	/* Below 0x161000: more kernel entries, but not 508. */
	static const struct pte_at not_superset[] = {
		{ 1, 0x110000 | PTI_U }, { 273, 0x120000 | PTI_P },
		{ 402, 0x121000 | PTI_P }, { 511, 0x123000 | PTI_P },
	};
	/* Below 0x1c1000 and 0x1c1000 itself: no user half at all. */
	static const struct pte_at no_user_k[] = {
		{ 273, 0x120000 | PTI_P }, { 402, 0x121000 | PTI_P },
		{ 508, 0x122000 | PTI_P }, { 511, 0x123000 | PTI_P },
	};
	static const struct pte_at no_user_u[] = {
		{ 508, 0x122000 | PTI_P }, { 511, 0x124000 | PTI_P },
	};
	const size_t nu = sizeof(pti_user) / sizeof(pti_user[0]);

	put_table(img, 0x100000, kern, sizeof(kern) / sizeof(kern[0]));
	put_table(img, 0x101000, pti_user, nu);
	put_table(img, 0x140000, other_user,
	    sizeof(other_user) / sizeof(other_user[0]));
	put_table(img, 0x141000, pti_user, nu);
	put_table(img, 0x160000, not_superset,
	    sizeof(not_superset) / sizeof(not_superset[0]));
	put_table(img, 0x161000, pti_user, nu);
	/* Below 0x181000: the very same kernel half (not a strict superset),
	 * as two tables of one kernel without PTI would have. */
	put_table(img, 0x180000, pti_user, nu);
	put_table(img, 0x181000, pti_user, nu);
	/* Below 0x1a1000: nothing (a hole), so it does not validate. */
	put_table(img, 0x1a1000, pti_user, nu);
	put_table(img, 0x1c0000, no_user_k,
	    sizeof(no_user_k) / sizeof(no_user_k[0]));
	put_table(img, 0x1c1000, no_user_u,
	    sizeof(no_user_u) / sizeof(no_user_u[0]));
}

static void
test_from_cr3_pti(void **state)
{
	static const uint64_t kept[] = {
		0x141000, 0x161000, 0x181000, 0x1a1000, 0x1c1000,
	};
	struct kcr3_result res;
	const char *why = NULL;
	struct fx f;
	size_t i;

	(void)state;
	fx_open(&f, ~0u, edit_pti);
	/* User mode: the copy is reported, the kernel table is vended. */
	assert_int_equal(kcr3_from_cr3(f.ram, 0x101000, 4, &res, &why), 0);
	assert_int_equal(res.kcr3, 0x100000);
	assert_int_equal(res.candidates, 2);
	/* With PCIDs: user PCID bit 11, the ASID, and NOFLUSH (bit 63). */
	assert_int_equal(kcr3_from_cr3(f.ram, 1ull << 63 | 0x101000 | 0x800 |
	    0x3, 4, &res, &why), 0);
	assert_int_equal(res.kcr3, 0x100000);
	assert_int_equal(kcr3_from_cr3(f.ram, 0x101000 | 0x803, 5, &res, &why),
	    0);
	assert_int_equal(res.kcr3, 0x100000);
	assert_int_equal(res.levels, 5);
	/* Kernel mode: the kernel table as it is. */
	assert_int_equal(kcr3_from_cr3(f.ram, 0x100000 | 0x3, 4, &res, &why),
	    0);
	assert_int_equal(res.kcr3, 0x100000);
	assert_int_equal(res.candidates, 1);
	/* Whatever sits below and is not the pair's kernel table: kept. */
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		assert_int_equal(kcr3_from_cr3(f.ram, kept[i] | 0x801, 4, &res,
		    &why), 0);
		assert_int_equal(res.kcr3, kept[i]);
		assert_int_equal(res.candidates, 1);
	}
	/* An even page is never moved, whatever is above or below it. */
	assert_int_equal(kcr3_from_cr3(f.ram, 0x140000, 4, &res, &why), 0);
	assert_int_equal(res.kcr3, 0x140000);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowstub),
		cmocka_unit_test(test_selfref),
		cmocka_unit_test(test_given),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_selfref_refusals),
		cmocka_unit_test(test_candidate),
		cmocka_unit_test(test_revalidate_stale),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_holes_untouched),
		cmocka_unit_test(test_from_cr3),
		cmocka_unit_test(test_from_cr3_pti),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
