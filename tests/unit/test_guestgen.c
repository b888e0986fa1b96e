/* SPDX-License-Identifier: MIT */
/*
 * Tests of tests/guestgen and the manifest loader: generate real images
 * with build/guestgen, then check them with a reader of this file's own
 * (pread of the file, proto/paging.c's walk), independent of the holder
 * library and the helper: every probe, map and pattern, the low stub and
 * its decoys, the kernel image's exports, the System EPROCESS, the decoy
 * PML4, sparseness, determinism, --reboot and bad usage.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/ggimg.h"
#include "../common/manifest.h"
#include "../common/tproc.h"
#include "paging.h"

#define GiB		(1ull << 30)
#define STUB_MASK	0xffffffffffff00ffull
#define STUB_SIG	0x00000001000600e9ull
#define ENTRY_MASK	0xfffff80000000003ull
#define ENTRY_OK	0xfffff80000000000ull
#define CR3_MASK	0xffffff0000000fffull

static char tmpdir[256];

static int
rd_entry(void *arg, uint64_t gpa, uint64_t *ret)
{
	return ggimg_read_pa(arg, gpa, ret, 8);
}

static void
img_open(struct ggimg *im, struct gg_manifest *m)
{
	assert_int_equal(ggimg_open(im, m), 0);
}

/* Close the reader and free its manifest. */
static void
img_close(struct ggimg *im)
{
	ggimg_close(im);
	gg_manifest_free((struct gg_manifest *)im->m);
}

static struct gg_manifest *
make(const char *name, const char *const extra[])
{
	struct gg_manifest *m = NULL;

	assert_int_equal(gg_make(tmpdir, name, extra, &m), 0);
	assert_non_null(m);
	return m;
}

static void
check_probes(const struct ggimg *im)
{
	uint8_t buf[16384];
	size_t i, nfault = 0;

	assert_true(im->m->nprobes >= 30);
	for (i = 0; i < im->m->nprobes; i++) {
		const struct gg_probe *p = &im->m->probes[i];
		int r;

		assert_true(p->len <= sizeof(buf));
		r = ggimg_read_va(im, p->cr3, p->va, buf, p->len);
		if (p->fault) {
			nfault++;
			assert_int_equal(r, -p->err);
			continue;
		}
		if (r != 0)
			fail_msg("probe %zu va %#llx: %d", i,
			    (unsigned long long)p->va, r);
		assert_memory_equal(buf, p->bytes, p->len);
	}
	assert_true(nfault >= 5);
}

/* Each map run translates page by page as listed. */
static void
check_maps(const struct ggimg *im)
{
	struct paging_xlat x;
	uint64_t off;
	size_t i, big = 0;

	assert_true(im->m->nmaps >= 10);
	for (i = 0; i < im->m->nmaps; i++) {
		const struct gg_map *mp = &im->m->maps[i];

		assert_int_equal(mp->cr3, im->m->kcr3);
		for (off = 0; off < mp->size; off += mp->page_size) {
			assert_int_equal(paging_walk(mp->cr3, mp->va + off, 4,
			    rd_entry, (void *)im, &x), 0);
			assert_int_equal(x.gpa, mp->gpa + off);
			assert_int_equal(x.page_size, mp->page_size);
			assert_int_equal(x.flags, mp->flags);
		}
		big += mp->page_size > 4096;
	}
	assert_true(big >= 3);	/* 2 MiB kernel pages and the 1 GiB page */
}

/* "maps" is exactly what a page-map walk of kcr3 finds. */
static void
check_maps_complete(const struct ggimg *im)
{
	static struct gg_map runs[512];
	size_t i;
	int n;

	n = ggimg_pmap(im, im->m->kcr3, im->m->self_index, runs, 512);
	assert_int_equal(n, im->m->nmaps);
	for (i = 0; i < (size_t)n; i++) {
		assert_int_equal(runs[i].va, im->m->maps[i].va);
		assert_int_equal(runs[i].size, im->m->maps[i].size);
		assert_int_equal(runs[i].gpa, im->m->maps[i].gpa);
		assert_int_equal(runs[i].page_size, im->m->maps[i].page_size);
		assert_int_equal(runs[i].flags, im->m->maps[i].flags);
	}
}

static void
check_patterns(const struct ggimg *im)
{
	uint8_t buf[64];
	size_t i, phys = 0;

	assert_true(im->m->npatterns >= 1);
	for (i = 0; i < im->m->npatterns; i++) {
		const struct gg_pattern *p = &im->m->patterns[i];

		if (p->cr3 == 0) {
			phys++;
			assert_int_equal(ggimg_read_pa(im, p->addr, buf, p->len), 0);
		} else {
			assert_int_equal(ggimg_read_va(im, p->cr3, p->addr, buf, p->len), 0);
		}
		assert_memory_equal(buf, p->bytes, p->len);
	}
	assert_int_equal(phys, 1);
}

static uint64_t
stub64(const struct ggimg *im, uint64_t pa, unsigned int off)
{
	uint64_t v = 0;

	assert_int_equal(ggimg_read_pa(im, pa + off, &v, 8), 0);
	return v;
}

/* Masks of the low stub hold; each decoy is lower and fails exactly one. */
static void
check_lowstub(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	uint64_t pa = m->lowstub_pa, e;
	size_t i;

	assert_true(m->has_lowstub);
	assert_true(pa >= 0x1000 && pa < 0x9f000 && pa % 4096 == 0);
	assert_int_equal(stub64(im, pa, 0) & STUB_MASK, STUB_SIG);
	e = stub64(im, pa, 0x70);
	assert_int_equal(e & ENTRY_MASK, ENTRY_OK);
	assert_int_equal(e, m->kernel_entry);
	assert_true(e >= m->kernel_base && e < m->kernel_base + 4 * (1 << 20));
	assert_int_equal(stub64(im, pa, 0xa0), m->kcr3);
	assert_int_equal(m->kcr3 & CR3_MASK, 0);
	assert_int_equal(m->ndecoy_stubs, 3);
	for (i = 0; i < m->ndecoy_stubs; i++) {
		uint64_t d = m->decoy_stubs[i];
		int bad = ((stub64(im, d, 0) & STUB_MASK) != STUB_SIG) +
		    ((stub64(im, d, 0x70) & ENTRY_MASK) != ENTRY_OK) +
		    ((stub64(im, d, 0xa0) & CR3_MASK) != 0);

		assert_true(d < pa);
		assert_int_equal(bad, 1);
	}
}

/* Exports name ntoskrnl.exe; PsInitialSystemProcess leads to kcr3. */
static void
check_kernel(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	static uint8_t exp[65536];
	uint8_t hdr[4096];
	uint32_t lfanew, erva, nnames, names, ords, funcs, rva, i;
	uint64_t eproc = 0, dtb = 0, base = m->kernel_base;
	uint16_t ord;
	int found = 0;

	assert_int_equal(ggimg_read_va(im, m->kcr3, base, hdr, sizeof(hdr)), 0);
	assert_memory_equal(hdr, "MZ", 2);
	memcpy(&lfanew, hdr + 0x3c, 4);
	assert_true(lfanew < 0x200);
	assert_memory_equal(hdr + lfanew, "PE\0\0", 4);
	assert_int_equal(hdr[lfanew + 4] | hdr[lfanew + 5] << 8, 0x8664);
	assert_int_equal(hdr[lfanew + 24] | hdr[lfanew + 25] << 8, 0x20b);
	memcpy(&erva, hdr + lfanew + 24 + 112, 4);
	assert_int_equal(ggimg_read_va(im, m->kcr3, base + erva, exp, sizeof(exp)), 0);
	memcpy(&rva, exp + 12, 4);
	assert_int_equal(ggimg_read_va(im, m->kcr3, base + rva, hdr, 13), 0);
	assert_string_equal((char *)hdr, "ntoskrnl.exe");
	memcpy(&nnames, exp + 24, 4);
	memcpy(&funcs, exp + 28, 4);
	memcpy(&names, exp + 32, 4);
	memcpy(&ords, exp + 36, 4);
	assert_true(nnames > 1 && nnames < 2048);
	assert_true(ords - erva + 2 * nnames <= sizeof(exp));
	for (i = 0; i < nnames; i++) {
		char nm[64] = "";

		memcpy(&rva, exp + names - erva + 4 * i, 4);
		assert_int_equal(ggimg_read_va(im, m->kcr3, base + rva, nm, 40), 0);
		if (strcmp(nm, "PsInitialSystemProcess") != 0)
			continue;
		memcpy(&ord, exp + ords - erva + 2 * i, 2);
		memcpy(&rva, exp + funcs - erva + 4 * ord, 4);
		assert_int_equal(base + rva, m->ps_initial_system_process);
		assert_int_equal(ggimg_read_va(im, m->kcr3, base + rva, &eproc, 8), 0);
		found = 1;
	}
	assert_true(found);
	assert_int_equal(eproc, m->system_eprocess);
	assert_int_equal(ggimg_read_va(im, m->kcr3, eproc + 0x28, &dtb, 8), 0);
	assert_int_equal(dtb & ~0xfffull, m->kcr3);
	assert_true((dtb & 0xfff) != 0);
}

/* kcr3 and process PML4s validate, share the kernel half; the decoy not. */
static void
check_pml4s(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	uint64_t sys[512], p[512];
	size_t i, j;

	assert_true(m->nproc >= 3);
	if (!m->win.present)
		assert_true(m->nproc <= 4);
	assert_int_equal(m->proc_cr3[0], m->kcr3);
	assert_true(ggimg_pml4_valid(im, m->kcr3));
	assert_false(ggimg_pml4_valid(im, m->decoy_pml4));
	assert_int_equal(ggimg_read_pa(im, m->kcr3, sys, sizeof(sys)), 0);
	for (j = 0; j < 256; j++)	/* System has no user half */
		assert_int_equal(sys[j], 0);
	assert_int_equal(sys[m->self_index] & PTE_FRAME_4K, m->kcr3);
	for (i = 1; i < m->nproc; i++) {
		assert_true(ggimg_pml4_valid(im, m->proc_cr3[i]));
		assert_int_equal(ggimg_read_pa(im, m->proc_cr3[i], p, sizeof(p)), 0);
		for (j = 256; j < 512; j++)
			if (j != m->self_index)
				assert_int_equal(p[j], sys[j]);
		assert_int_equal(p[m->self_index] & PTE_FRAME_4K, m->proc_cr3[i]);
	}
}

/* Every Windows process's DTB is one of the validating PML4s. */
static void
check_win_dtbs(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	size_t i, j;

	if (!m->win.present)
		return;
	assert_true(m->win.nprocs >= 1);
	assert_int_equal(m->win.kernel_base, m->kernel_base);
	assert_int_equal(m->win.system_eprocess, m->system_eprocess);
	for (i = 0; i < m->win.nprocs; i++) {
		uint64_t dtb = m->win.procs[i].dtb & ~0xfffull;

		for (j = 0; j < m->nproc && m->proc_cr3[j] != dtb; j++)
			;
		assert_true(j < m->nproc);
		assert_true(ggimg_pml4_valid(im, dtb));
	}
}

static void
check_all(struct gg_manifest *m)
{
	struct ggimg im;

	img_open(&im, m);
	check_win_dtbs(&im);
	check_probes(&im);
	check_maps(&im);
	check_maps_complete(&im);
	check_patterns(&im);
	check_kernel(&im);
	check_pml4s(&im);
	/* Only System and the processes; no noise page, no decoy. */
	assert_int_equal(ggimg_count_pml4s(&im), m->nproc);
	if (m->has_lowstub)
		check_lowstub(&im);
	img_close(&im);
}

static void
test_single_256m(void **state)
{
	static const char *const a[] = { "--size", "256M", "--seed", "11", NULL };
	struct gg_manifest *m = make("single", a);

	(void)state;
	assert_int_equal(m->nseg, 1);
	assert_int_equal(m->low, m->file_size);
	assert_int_equal(m->file_size, 256ull << 20);
	check_all(m);
}

/* Probes whose pages land in different segments; tables above 4 GiB. */
static void
test_split_3g(void **state)
{
	static const char *const a[] = { "--size", "3G", "--low", "0x80000000",
		"--seed", "12", NULL };
	struct gg_manifest *m = make("split", a);
	struct paging_xlat x1, x2;
	struct ggimg im;
	size_t i, cross = 0, high = 0;

	(void)state;
	assert_int_equal(m->nseg, 2);
	assert_int_equal(m->segs[1].gpa, 4 * GiB);
	assert_int_equal(m->segs[1].file_off, 2 * GiB);
	img_open(&im, m);
	for (i = 0; i < m->nprobes; i++) {
		const struct gg_probe *p = &m->probes[i];
		uint64_t last = p->va + p->len - 1;

		if (p->fault || (p->va >> 12) == (last >> 12))
			continue;
		assert_int_equal(paging_walk(p->cr3, p->va, 4, rd_entry, &im,
		    &x1), 0);
		assert_int_equal(paging_walk(p->cr3, last, 4, rd_entry, &im,
		    &x2), 0);
		cross += x1.gpa < 2 * GiB && x2.gpa >= 4 * GiB;
	}
	assert_true(cross >= 1);
	for (i = 0; i < m->nproc; i++)
		high += m->proc_cr3[i] >= 4 * GiB;
	for (i = 0; i < m->nmaps; i++)
		high += m->maps[i].gpa >= 4 * GiB;
	assert_true(high >= 2);
	ggimg_close(&im);
	check_all(m);
}

static void
test_no_lowstub(void **state)
{
	static const char *const a[] = { "--size", "1G", "--no-lowstub",
		"--seed", "13", NULL };
	struct gg_manifest *m = make("nostub", a);
	struct ggimg im;
	uint64_t pa, v;

	(void)state;
	assert_false(m->has_lowstub);
	assert_int_equal(m->ndecoy_stubs, 0);
	img_open(&im, m);
	for (pa = 0x1000; pa < 0x100000; pa += 0x1000) {
		assert_int_equal(ggimg_read_pa(&im, pa, &v, 8), 0);
		assert_int_not_equal(v & STUB_MASK, STUB_SIG);
	}
	ggimg_close(&im);
	check_all(m);
}

/* No page of a noise-only image validates as a PML4. */
static void
test_noise_only(void **state)
{
	static const char *const a[] = { "--size", "64M", "--noise-only",
		"--seed", "14", NULL };
	struct gg_manifest *m = make("noise", a);
	char path[300], img[300];
	struct ggimg im;
	uint64_t pa, v, nonzero = 0;

	(void)state;
	assert_int_equal(m->kcr3, 0);
	assert_false(m->has_lowstub);
	assert_int_equal(m->nprobes, 0);
	img_open(&im, m);
	assert_int_equal(ggimg_count_pml4s(&im), 0);
	for (pa = 0; pa < m->file_size; pa += 4096) {
		assert_int_equal(ggimg_read_pa(&im, pa, &v, 8), 0);
		if (v != 0)
			nonzero++;
		assert_false(ggimg_pml4_valid(&im, pa));
	}
	assert_true(nonzero >= 200);
	check_patterns(&im);
	img_close(&im);
	/* A reboot of a noise-only guest stays noise-only. */
	snprintf(path, sizeof(path), "%s/noise.json", tmpdir);
	snprintf(img, sizeof(img), "%s/noise.img", tmpdir);
	assert_int_equal(gg_reboot(path, img, 77, &m), 0);
	assert_int_equal(m->kcr3, 0);
	assert_int_equal(m->seed, 77);
	gg_manifest_free(m);
}

static void
test_sparse_4g(void **state)
{
	static const char *const a[] = { "--size", "4G", "--low", "2G",
		"--seed", "15", NULL };
	struct gg_manifest *m = make("big", a);
	char *image = strdup(m->image);
	struct stat st;

	(void)state;
	assert_non_null(image);
	assert_int_equal(stat(image, &st), 0);
	assert_int_equal((uint64_t)st.st_size, 4 * GiB);
	assert_true((uint64_t)st.st_blocks * 512 < (16ull << 20));
	check_all(m);
	unlink(image);
	free(image);
}

static void
test_fill(void **state)
{
	static const char *const a[] = { "--size", "64M", "--fill", "50",
		"--seed", "16", NULL };
	struct gg_manifest *m = make("fill", a);
	struct stat st;

	(void)state;
	assert_int_equal(stat(m->image, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 > (24ull << 20));
	assert_true((uint64_t)st.st_blocks * 512 < (40ull << 20));
	check_all(m);
}

static void
test_deterministic(void **state)
{
	static const char *const a[] = { "--size", "128M", "--seed", "99", NULL };
	struct gg_manifest *m1 = make("det1", a), *m2 = make("det2", a);
	size_t i;

	(void)state;
	assert_int_equal(m1->kcr3, m2->kcr3);
	assert_int_equal(m1->kernel_base, m2->kernel_base);
	assert_int_equal(m1->nprobes, m2->nprobes);
	for (i = 0; i < m1->nprobes; i++) {
		assert_int_equal(m1->probes[i].va, m2->probes[i].va);
		assert_int_equal(m1->probes[i].len, m2->probes[i].len);
		if (m1->probes[i].bytes != NULL)
			assert_memory_equal(m1->probes[i].bytes,
			    m2->probes[i].bytes, m1->probes[i].len);
	}
	gg_manifest_free(m1);
	gg_manifest_free(m2);
}

/* Same inode, new kcr3; the old one no longer validates. */
static void
test_reboot(void **state)
{
	static const char *const a[] = { "--size", "256M", "--low", "128M",
		"--seed", "17", NULL };
	struct gg_manifest *m = make("reboot", a), *n = NULL;
	char path[300];
	struct stat st1, st2;
	struct ggimg im;
	uint64_t old = m->kcr3, oldstub = m->lowstub_pa;
	size_t i;

	(void)state;
	assert_int_equal(stat(m->image, &st1), 0);
	snprintf(path, sizeof(path), "%s/reboot.json", tmpdir);
	assert_int_equal(gg_reboot(path, m->image, 0, &n), 0);
	assert_int_equal(stat(n->image, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_size, st2.st_size);
	assert_int_not_equal(n->kcr3, old);
	assert_int_equal(n->seed, m->seed + 1);
	img_open(&im, n);
	assert_false(ggimg_pml4_valid(&im, old));
	for (i = 1; i < m->nproc; i++)
		assert_false(ggimg_pml4_valid(&im, m->proc_cr3[i]));
	if (oldstub != n->lowstub_pa)
		assert_int_not_equal(stub64(&im, oldstub, 0) & STUB_MASK,
		    STUB_SIG);
	assert_int_equal(stub64(&im, n->lowstub_pa, 0xa0), n->kcr3);
	ggimg_close(&im);
	gg_manifest_free(m);
	check_all(n);
}

/* Probes hold after reboots of several seeds (a later write once broke one). */
static void
test_reboot_sweep(void **state)
{
	const char *a[] = { "--size", "256M", "--seed", NULL, NULL };
	char seed[16], name[32], path[320];
	struct gg_manifest *m, *n;
	unsigned int s;

	(void)state;
	for (s = 20; s < 26; s++) {
		snprintf(seed, sizeof(seed), "%u", s);
		a[3] = seed;
		snprintf(name, sizeof(name), "rbs%u", s);
		m = make(name, a);
		snprintf(path, sizeof(path), "%s/rbs%u.json", tmpdir, s);
		n = NULL;
		assert_int_equal(gg_reboot(path, m->image, 0, &n), 0);
		gg_manifest_free(m);
		check_all(n);
		snprintf(path, sizeof(path), "%s/rbs%u.img", tmpdir, s);
		unlink(path);
	}
}

/* Several seeds and layouts, including a split with no hole (low 4G). */
static void
test_sweep(void **state)
{
	static const char *const layouts[][5] = {
		{ "--size", "32M", NULL },
		{ "--size", "96M", "--low", "48M", NULL },
		{ "--size", "5G", "--low", "4G", NULL },
		{ "--size", "0x140000000", "--low", "0xe0000000", NULL },
		{ "--size", "80M", "--low", "0x2345000", NULL },
	};
	const char *a[8];
	char seed[16], name[32], path[320];
	unsigned int i, k;

	(void)state;
	for (i = 0; i < 15; i++) {
		const char *const *l = layouts[i % 5];

		for (k = 0; l[k] != NULL; k++)
			a[k] = l[k];
		snprintf(seed, sizeof(seed), "%u", 100 + i);
		a[k++] = "--seed";
		a[k++] = seed;
		a[k] = NULL;
		snprintf(name, sizeof(name), "sweep%u", i);
		check_all(make(name, a));
		snprintf(path, sizeof(path), "%s/sweep%u.img", tmpdir, i);
		unlink(path);
	}
}

static void
test_bad_usage(void **state)
{
	char *none[] = { NULL };
	char *big[] = { "--out", "/nonexistent/x", "--manifest", "/nonexistent/y",
		"--size", "4G", NULL };
	char *junk[] = { "--out", "/nonexistent/x", "--manifest", "/nonexistent/y",
		"--size", "lots", NULL };
	char *lowbig[] = { "--out", "/nonexistent/x", "--manifest",
		"/nonexistent/y", "--size", "1G", "--low", "2G", NULL };
	char *fill[] = { "--out", "/nonexistent/x", "--manifest",
		"/nonexistent/y", "--size", "1G", "--fill", "101", NULL };

	(void)state;
	assert_int_equal(gg_run(none), 1);
	assert_int_equal(gg_run(big), 1);
	assert_int_equal(gg_run(junk), 1);
	assert_int_equal(gg_run(lowbig), 1);
	assert_int_equal(gg_run(fill), 1);
}

static void
test_load_errors(void **state)
{
	struct gg_manifest *m = NULL;
	char path[300];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	assert_int_equal(gg_manifest_load(path, &m), -ENOENT);
	snprintf(path, sizeof(path), "%s/garbage.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"image\": 12, \"kcr3\": [", f);
	fclose(f);
	assert_int_equal(gg_manifest_load(path, &m), -EINVAL);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"image\":\"x\",\"file_size\":\"0x1000\",\"low\":\"zz\"}", f);
	fclose(f);
	assert_int_equal(gg_manifest_load(path, &m), -EINVAL);
	assert_null(m);
	gg_manifest_free(NULL);
}

static int
setup(void **state)
{
	(void)state;
	return t_mkdtemp("test_guestgen.XXXXXX", tmpdir, sizeof(tmpdir)) < 0 ?
	    -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return t_rmdir(tmpdir) < 0 ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_256m),
		cmocka_unit_test(test_split_3g),
		cmocka_unit_test(test_no_lowstub),
		cmocka_unit_test(test_noise_only),
		cmocka_unit_test(test_sparse_4g),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_reboot),
		cmocka_unit_test(test_reboot_sweep),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_load_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
