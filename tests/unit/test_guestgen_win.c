/* SPDX-License-Identifier: MIT */
/*
 * Tests of guestgen's Windows scene against its manifest, with the test
 * reader of tests/common/ggimg.h only (pread and a page walk; no library
 * code): the process ring from PsActiveProcessHead with the manifest's
 * offsets, every field of every listed process, image paths and loader
 * lists through the PEB, the kernel's module list, PE sections, exports
 * (sorted names, ordinals, forwarders) and imports of the listed images,
 * the traps (zombie, paged-out PEB, truncated name, decoys, a corrupt
 * ring), every modelled build and a split layout, reboot, and speed.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/ggimg.h"
#include "../common/manifest.h"
#include "../common/tproc.h"

static char tmpdir[256];

static struct gg_manifest *
make(const char *name, const char *const extra[])
{
	struct gg_manifest *m = NULL;

	assert_int_equal(gg_make(tmpdir, name, extra, &m), 0);
	assert_non_null(m);
	assert_true(m->win.present);
	return m;
}

static uint64_t
rq(const struct ggimg *im, uint64_t cr3, uint64_t va)
{
	uint64_t v = 0;

	if (ggimg_read_va(im, cr3, va, &v, 8) != 0)
		fail_msg("read %#llx", (unsigned long long)va);
	return v;
}

static uint32_t
off(const struct gg_manifest *m, const char *name)
{
	int64_t o = gg_win_offset(m, name);

	if (o < 0)
		fail_msg("no offset %s", name);
	return (uint32_t)o;
}

/* A UNICODE_STRING at `at` as UTF-8; 0 or the read error. */
static int
ustr(const struct ggimg *im, uint64_t cr3, uint64_t at, char *out, size_t cap)
{
	uint16_t hdr[4], w[512];
	uint64_t buf;
	size_t i, n, k = 0;
	int r;

	if ((r = ggimg_read_va(im, cr3, at, hdr, 8)) < 0 ||
	    (r = ggimg_read_va(im, cr3, at + 8, &buf, 8)) < 0)
		return r;
	n = hdr[0] / 2;
	assert_true(n < 512 && hdr[1] >= hdr[0]);
	if ((r = ggimg_read_va(im, cr3, buf, w, 2 * n)) < 0)
		return r;
	for (i = 0; i < n && k + 4 < cap; i++) {
		if (w[i] < 0x80) {
			out[k++] = (char)w[i];
		} else if (w[i] < 0x800) {
			out[k++] = (char)(0xc0 | w[i] >> 6);
			out[k++] = (char)(0x80 | (w[i] & 0x3f));
		} else {
			out[k++] = (char)(0xe0 | w[i] >> 12);
			out[k++] = (char)(0x80 | ((w[i] >> 6) & 0x3f));
			out[k++] = (char)(0x80 | (w[i] & 0x3f));
		}
	}
	out[k] = '\0';
	return 0;
}

/* One listed process: every field at the manifest's offsets. */
static void
check_eprocess(const struct ggimg *im, const struct gg_win_proc *p)
{
	const struct gg_manifest *m = im->m;
	uint64_t k = m->kcr3, ep = p->eprocess;
	uint8_t name[16];
	uint32_t u;

	assert_int_equal(rq(im, k, ep + off(m, "EPROCESS.UniqueProcessId")),
	    p->pid);
	assert_int_equal(p->pid % 4, 0);
	assert_int_equal(rq(im, k, ep + off(m,
	    "EPROCESS.InheritedFromUniqueProcessId")), p->ppid);
	assert_int_equal(rq(im, k, ep + 0x28), p->dtb);
	assert_int_equal(rq(im, k, ep + off(m,
	    "EPROCESS.UserDirectoryTableBase")), p->user_dtb);
	assert_int_equal(rq(im, k, ep + off(m, "EPROCESS.Peb")), p->peb);
	assert_int_equal(ggimg_read_va(im, k, ep + off(m,
	    "EPROCESS.ImageFileName"), name, 16), 0);
	assert_int_equal(name[15], 2);		/* PriorityClass */
	assert_memory_equal(name, p->name, strlen(p->name));
	assert_int_equal(ggimg_read_va(im, k, ep + off(m, "EPROCESS.ExitStatus"),
	    &u, 4), 0);
	assert_true(p->exited ? u != 0x103 : u == 0x103);
	assert_int_equal(ggimg_read_va(im, k, ep + off(m,
	    "EPROCESS.ActiveThreads"), &u, 4), 0);
	assert_true(p->exited ? u == 0 : u > 0);
	assert_true((rq(im, k, ep + off(m, "EPROCESS.ObjectTable")) == 0) ==
	    p->exited);
	assert_true((rq(im, k, ep + off(m, "EPROCESS.WoW64Process")) != 0) ==
	    p->wow64);
}

/* The path through PEB -> ProcessParameters -> ImagePathName. */
static void
check_path(const struct ggimg *im, const struct gg_win_proc *p)
{
	char buf[1024];
	uint64_t pp;

	if (p->peb == 0) {
		assert_null(p->path);
		return;
	}
	if (p->path_fault != 0) {
		assert_null(p->path);
		assert_int_equal(p->path_fault, p->peb);
		assert_int_equal(ggimg_read_va(im, p->dtb, p->peb + 0x20, &pp, 8),
		    -EFAULT);
		return;
	}
	pp = rq(im, p->dtb, p->peb + 0x20);
	assert_int_equal(ustr(im, p->dtb, pp + 0x60, buf, sizeof(buf)), 0);
	assert_string_equal(buf, p->path);
}

/* Walk the ring forward as a library would; compare with the manifest. */
static void
check_ring(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	const struct gg_win *w = &m->win;
	uint64_t k = m->kcr3, head = w->ps_active_process_head, cur, prev;
	uint32_t lo = off(m, "EPROCESS.ActiveProcessLinks");
	size_t n = 0, i;
	int status = 0;

	assert_int_equal(lo, off(m, "EPROCESS.UniqueProcessId") + 8);
	assert_true(w->nprocs >= 1);
	assert_int_equal(w->procs[0].pid, 4);
	assert_int_equal(w->procs[0].eprocess, w->system_eprocess);
	assert_int_equal(w->procs[0].dtb & ~0xfffull, m->kcr3);
	prev = head;
	for (cur = rq(im, k, head); cur != head && n < 5000; cur = rq(im, k, cur)) {
		if (rq(im, k, cur + 8) != prev) {
			status = EBADMSG;
			assert_int_equal(cur, w->ring_break);
			break;
		}
		assert_true(n < w->nprocs);
		assert_int_equal(cur - lo, w->procs[n].eprocess);
		check_eprocess(im, &w->procs[n]);
		check_path(im, &w->procs[n]);
		prev = cur;
		n++;
	}
	assert_int_equal(status, w->ring_status);
	assert_int_equal(n, w->nprocs);
	for (i = 0; i < w->ndecoys; i++) {
		uint64_t pid = rq(im, k, w->decoys[i] + off(m,
		    "EPROCESS.UniqueProcessId"));

		assert_int_equal(pid % 4, 0);
		assert_null(gg_win_proc_by_pid(m, (uint32_t)pid));
	}
}

/* One loader list (PEB Ldr, or PsLoadedModuleList for pid 4). */
static void
check_modlist(const struct ggimg *im, const struct gg_win_modlist *ml)
{
	const struct gg_manifest *m = im->m;
	const struct gg_win_proc *p = gg_win_proc_by_pid(m, ml->pid);
	uint64_t cr3, head, e, v;
	char buf[1024];
	size_t n = 0;

	assert_non_null(p);
	cr3 = ml->pid == 4 ? m->kcr3 : p->dtb;
	assert_true(ml->status == 0 || ml->status == EFAULT);
	assert_true((ml->status != 0) == (ml->fault_va != 0));
	if (ml->status != 0 && ml->n == 0) {	/* the PEB is not there */
		assert_int_equal(ml->fault_va, p->peb);
		assert_int_equal(ggimg_read_va(im, cr3, ml->fault_va + 0x18, &v,
		    8), -EFAULT);
		return;
	}
	head = ml->pid == 4 ? m->win.ps_loaded_module_list :
	    rq(im, cr3, p->peb + 0x18) + 0x10;
	for (e = rq(im, cr3, head); e != head && n < 2000; e = rq(im, cr3, e)) {
		const struct gg_win_module *x = &ml->v[n];

		if (ml->status != 0 && n == ml->n) {	/* a paged-out entry */
			assert_int_equal(e & ~0xfffull, ml->fault_va);
			assert_int_equal(ggimg_read_va(im, cr3, e, &v, 8), -EFAULT);
			break;
		}
		n++;
		assert_true(n <= ml->n);
		if (ml->status == 0 || n < ml->n)	/* next one readable */
			assert_int_equal(rq(im, cr3, rq(im, cr3, e) + 8), e);
		assert_int_equal(rq(im, cr3, e + 0x30), x->base);
		assert_int_equal(rq(im, cr3, e + 0x38), x->entry);
		assert_int_equal(rq(im, cr3, e + 0x40) & 0xffffffff, x->size);
		if (x->fault_va != 0) {
			assert_null(x->name);
			assert_null(x->path);
			assert_int_equal(ustr(im, cr3, e + 0x58, buf, sizeof(buf)),
			    -EFAULT);
			assert_int_equal(rq(im, cr3, e + 0x60) & ~0xfffull,
			    x->fault_va);
		} else {
			assert_int_equal(ustr(im, cr3, e + 0x48, buf,
			    sizeof(buf)), 0);
			assert_string_equal(buf, x->path);
			assert_int_equal(ustr(im, cr3, e + 0x58, buf,
			    sizeof(buf)), 0);
			assert_string_equal(buf, x->name);
		}
		if (x->header_fault != 0) {
			assert_int_equal(x->header_fault, x->base);
			assert_int_equal(ggimg_read_va(im, cr3, x->base, &v, 8),
			    -EFAULT);
		} else {
			assert_int_equal(rq(im, cr3, x->base) & 0xffff, 0x5a4d);
		}
	}
	assert_int_equal(n, ml->n);
	if (ml->pid == 4) {
		assert_string_equal(ml->v[0].name, "ntoskrnl.exe");
		assert_int_equal(ml->v[0].base, m->kernel_base);
		assert_int_equal(ml->v[0].entry, m->kernel_entry);
	} else {
		assert_int_equal(rq(im, cr3, p->peb + 0x10), ml->v[0].base);
	}
}

struct pehdr {
	uint64_t cr3, base;
	uint32_t nt, nsec, sec, dir;	/* offsets in the image */
	int bits;
};

static void
pe_hdr(const struct ggimg *im, uint64_t cr3, uint64_t base, struct pehdr *h)
{
	uint8_t b[0x400];
	uint16_t magic, nsec, opt;

	assert_int_equal(ggimg_read_va(im, cr3, base, b, sizeof(b)), 0);
	assert_memory_equal(b, "MZ", 2);
	memcpy(&h->nt, b + 0x3c, 4);
	assert_true(h->nt < 0x300);
	assert_memory_equal(b + h->nt, "PE\0\0", 4);
	memcpy(&nsec, b + h->nt + 6, 2);
	memcpy(&opt, b + h->nt + 20, 2);
	memcpy(&magic, b + h->nt + 24, 2);
	h->bits = magic == 0x20b ? 64 : 32;
	assert_true(magic == 0x20b || magic == 0x10b);
	h->nsec = nsec;
	h->sec = h->nt + 24 + opt;
	h->dir = h->nt + 24 + (h->bits == 64 ? 112 : 96);
	h->cr3 = cr3;
	h->base = base;
}

static uint32_t
r32(const struct ggimg *im, const struct pehdr *h, uint32_t rva)
{
	uint32_t v = 0;

	assert_int_equal(ggimg_read_va(im, h->cr3, h->base + rva, &v, 4), 0);
	return v;
}

static void
rstr(const struct ggimg *im, const struct pehdr *h, uint32_t rva, char *buf,
    size_t cap)
{
	size_t i;

	for (i = 0; i + 1 < cap; i++) {
		assert_int_equal(ggimg_read_va(im, h->cr3, h->base + rva + i,
		    buf + i, 1), 0);
		if (buf[i] == '\0')
			return;
	}
	buf[i] = '\0';
}

static void
check_exports(const struct ggimg *im, const struct pehdr *h,
    const struct gg_win_pe *p)
{
	uint32_t erva = r32(im, h, h->dir), esz = r32(im, h, h->dir + 4);
	uint32_t base, nf, nn, fn, nm, od, i, rva;
	char a[128], b[128];
	uint16_t ord;

	if (p->nexports == 0) {
		assert_int_equal(erva, 0);
		return;
	}
	base = r32(im, h, erva + 16);
	nf = r32(im, h, erva + 20);
	nn = r32(im, h, erva + 24);
	fn = r32(im, h, erva + 28);
	nm = r32(im, h, erva + 32);
	od = r32(im, h, erva + 36);
	assert_int_equal(nf, p->nexports);
	for (i = 0; i < nf; i++) {
		const struct gg_win_export *x = &p->exports[i];

		assert_int_equal(x->ordinal, base + i);
		rva = r32(im, h, fn + 4 * i);
		if (x->forward != NULL) {
			assert_true(rva >= erva && rva < erva + esz);
			rstr(im, h, rva, a, sizeof(a));
			assert_string_equal(a, x->forward);
			assert_int_equal(x->va, 0);
		} else {
			assert_int_equal(h->base + rva, x->va);
		}
	}
	a[0] = '\0';
	for (i = 0; i < nn; i++) {	/* sorted; each name finds its ordinal */
		rstr(im, h, r32(im, h, nm + 4 * i), b, sizeof(b));
		assert_true(strcmp(a, b) < 0);
		assert_int_equal(ggimg_read_va(im, h->cr3, h->base + od + 2 * i,
		    &ord, 2), 0);
		assert_true(ord < nf);
		assert_non_null(p->exports[ord].name);
		assert_string_equal(p->exports[ord].name, b);
		memcpy(a, b, sizeof(a));
	}
}

static void
check_imports(const struct ggimg *im, const struct pehdr *h,
    const struct gg_win_pe *p)
{
	uint32_t d = r32(im, h, h->dir + 8), th = h->bits == 64 ? 8 : 4;
	uint32_t intt, iat, k;
	uint64_t t;
	size_t n = 0;
	char mod[128], nm[128];

	for (; d != 0 && r32(im, h, d + 12) != 0; d += 20) {
		rstr(im, h, r32(im, h, d + 12), mod, sizeof(mod));
		intt = r32(im, h, d);
		iat = r32(im, h, d + 16);
		for (k = 0;; k++) {
			t = 0;
			assert_int_equal(ggimg_read_va(im, h->cr3, h->base + intt +
			    th * k, &t, th), 0);
			if (t == 0)
				break;
			assert_true(n < p->nimports);
			assert_string_equal(mod, p->imports[n].module);
			assert_int_equal(h->base + iat + th * k, p->imports[n].iat);
			if (t >> (th * 8 - 1)) {
				assert_null(p->imports[n].name);
				assert_int_equal(t & 0xffff, p->imports[n].ordinal);
			} else {
				rstr(im, h, (uint32_t)t + 2, nm, sizeof(nm));
				assert_string_equal(nm, p->imports[n].name);
			}
			n++;
		}
	}
	assert_int_equal(n, p->nimports);
}

static void
check_pe(const struct ggimg *im, const struct gg_win_pe *p)
{
	const struct gg_win_proc *pr = gg_win_proc_by_pid(im->m, p->pid);
	struct pehdr h;
	uint8_t s[40];
	uint32_t i, v;

	assert_non_null(pr);
	pe_hdr(im, p->pid == 4 ? im->m->kcr3 : pr->dtb, p->base, &h);
	assert_int_equal(h.bits, p->bits);
	assert_int_equal(h.nsec, p->nsections);
	for (i = 0; i < h.nsec; i++) {
		assert_int_equal(ggimg_read_va(im, h.cr3, h.base + h.sec + 40 * i,
		    s, 40), 0);
		assert_memory_equal(s, p->sections[i].name,
		    strlen(p->sections[i].name));
		memcpy(&v, s + 12, 4);
		assert_int_equal(h.base + v, p->sections[i].va);
		memcpy(&v, s + 8, 4);
		assert_int_equal(v, p->sections[i].size);
		memcpy(&v, s + 36, 4);
		assert_int_equal(v, p->sections[i].characteristics);
	}
	check_exports(im, &h, p);
	check_imports(im, &h, p);
}

/* NtBuildNumber and PsActiveProcessHead from ntoskrnl's exports. */
static void
check_kernel(const struct ggimg *im)
{
	const struct gg_manifest *m = im->m;
	const struct gg_win_pe *k = NULL;
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < m->win.npe; i++)
		if (strcmp(m->win.pe[i].module, "ntoskrnl.exe") == 0)
			k = &m->win.pe[i];
	assert_non_null(k);
	for (i = 0; i < k->nexports; i++) {
		const struct gg_win_export *x = &k->exports[i];

		assert_int_not_equal(x->va, m->win.ps_active_process_head);
		if (x->name == NULL)
			continue;
		if (strcmp(x->name, "NtBuildNumber") == 0) {
			assert_int_equal(ggimg_read_va(im, m->kcr3, x->va, &v, 4),
			    0);
			assert_int_equal(v, m->win.build_raw);
			assert_int_equal(v, 0xf0000000u | m->win.build);
		} else if (strcmp(x->name, "PsLoadedModuleList") == 0) {
			assert_int_equal(x->va, m->win.ps_loaded_module_list);
		} else if (strcmp(x->name, "PsGetProcessId") == 0) {
			uint8_t c[8];

			assert_int_equal(ggimg_read_va(im, m->kcr3, x->va, c, 8), 0);
			memcpy(&v, c + 3, 4);
			assert_int_equal(v, off(m, "EPROCESS.UniqueProcessId"));
			assert_int_equal(c[7], 0xc3);
		}
	}
}

static void
check_win(struct gg_manifest *m)
{
	struct ggimg im;
	size_t i;

	assert_int_equal(ggimg_open(&im, m), 0);
	check_ring(&im);
	for (i = 0; i < m->win.nmodlists; i++)
		check_modlist(&im, &m->win.modlists[i]);
	for (i = 0; i < m->win.npe; i++)
		check_pe(&im, &m->win.pe[i]);
	check_kernel(&im);
	ggimg_close(&im);
}

/* The traps are in the default scene. */
static void
test_default(void **state)
{
	static const char *const a[] = { "--size", "256M", "--seed", "21",
		NULL };
	struct gg_manifest *m = make("def", a);
	const struct gg_win *w = &m->win;
	int zombie = 0, paged = 0, trunc = 0, wow = 0, utf8 = 0, fwd = 0;
	size_t i, j;

	(void)state;
	assert_int_equal(w->build, 19045);
	assert_int_equal(w->nprocs, 15);
	assert_string_equal(w->procs[1].name, "Secure System");
	assert_int_equal(w->ring_status, 0);
	assert_int_equal(w->ndecoys, 3);
	for (i = 0; i < w->nprocs; i++) {
		const struct gg_win_proc *p = &w->procs[i];

		zombie += p->exited && p->path_fault;
		paged += !p->exited && p->path_fault;
		trunc += strcmp(p->name, "MicrosoftEdgeUp") == 0;
		wow += p->wow64;
		utf8 += p->path && strstr(p->path, "J\xc3\xbcrgen") != NULL;
	}
	assert_true(zombie == 1 && paged == 1 && trunc == 1 && wow == 1 &&
	    utf8 == 1);
	for (i = 0; i < w->npe; i++)
		for (j = 0; j < w->pe[i].nexports; j++)
			fwd += w->pe[i].exports[j].forward != NULL &&
			    strcmp(w->pe[i].exports[j].forward,
			    "NTDLL.RtlAllocateHeap") == 0 &&
			    strcmp(w->pe[i].exports[j].name, "HeapAlloc") == 0;
	assert_int_equal(fwd, 1);
	assert_int_equal(gg_win_mods_by_pid(m, 4)->n, 17);
	for (i = 0, zombie = paged = trunc = 0; i < w->nmodlists; i++) {
		zombie += w->modlists[i].status != 0 && w->modlists[i].n > 0;
		for (j = 0; j < w->modlists[i].n; j++) {
			paged += w->modlists[i].v[j].fault_va != 0;
			trunc += w->modlists[i].v[j].header_fault != 0;
		}
	}
	assert_true(zombie == 1 && paged == 1 && trunc == 1);
	for (i = 0; i < w->nmodlists; i++)	/* ntdll has no entry point */
		for (j = 0; j < w->modlists[i].n; j++)
			if (w->modlists[i].v[j].name != NULL &&
			    strcmp(w->modlists[i].v[j].name, "ntdll.dll") == 0)
				assert_int_equal(w->modlists[i].v[j].entry, 0);
	check_win(m);
	gg_manifest_free(m);
}

/* Every modelled build, on a split layout for half of them. */
static void
test_builds(void **state)
{
	static const char *const builds[] = { "17763", "18363", "19041",
		"19045", "20348", "22000", "22621", "22631", "26100", "shifted" };
	const char *a[12];
	char name[32];
	struct gg_manifest *m;
	unsigned int i, k;

	(void)state;
	for (i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		k = 0;
		a[k++] = "--size";
		a[k++] = i & 1 ? "3G" : "192M";
		if (i & 1) {
			a[k++] = "--low";
			a[k++] = "2G";
		}
		a[k++] = "--windows";
		a[k++] = builds[i];
		a[k] = NULL;
		snprintf(name, sizeof(name), "b%u", i);
		m = make(name, a);
		assert_string_equal(m->win.layout, i == 2 ? "19045" : builds[i]);
		if (i != 9)
			assert_int_equal(m->win.build, atoi(builds[i]));
		check_win(m);
		gg_manifest_free(m);
	}
}

static void
test_corrupt_ring(void **state)
{
	static const char *const a[] = { "--size", "256M", "--corrupt-ring",
		"--windows", "22631", "--seed", "23", NULL };
	struct gg_manifest *m = make("corrupt", a);

	(void)state;
	assert_int_equal(m->win.ring_status, EBADMSG);
	assert_int_equal(m->win.nprocs, 13);
	assert_int_not_equal(m->win.ring_break, 0);
	check_win(m);
	gg_manifest_free(m);
}

/* A new ring in the new boot; options kept. */
static void
test_reboot(void **state)
{
	static const char *const a[] = { "--size", "512M", "--low", "256M",
		"--windows", "shifted", "--procs", "40", "--seed", "24", NULL };
	struct gg_manifest *m = make("rb", a), *n = NULL;
	char path[300];
	size_t i, same = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/rb.json", tmpdir);
	assert_int_equal(gg_reboot(path, m->image, 0, &n), 0);
	assert_string_equal(n->win.layout, "shifted");
	assert_int_equal(n->win.nprocs, 40);
	for (i = 1; i < 40; i++)
		same += m->win.procs[i].pid == n->win.procs[i].pid ||
		    m->win.procs[i].eprocess == n->win.procs[i].eprocess;
	assert_true(same < 4);
	check_win(n);
	gg_manifest_free(m);
	gg_manifest_free(n);
}

/* The benchmark's guest: 420 processes, 100 modules, 3000 exports. */
static void
test_big(void **state)
{
	static const char *const a[] = { "--size", "2G", "--procs", "420",
		"--modules", "100", "--exports", "3000", "--seed", "25", NULL };
	struct timespec t0, t1;
	struct gg_manifest *m;
	struct stat st;
	double s;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = make("big", a);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("guestgen 420 procs, 2 GiB: %.2f s\n", s);
	/* ~0.6 s on one core; generous for sanitizer builds on a busy box. */
	assert_true(s < 30.0);
	assert_int_equal(stat(m->image, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < (96ull << 20));
	assert_int_equal(m->win.nprocs, 420);
	assert_int_equal(gg_win_mods_by_pid(m, m->win.procs[9].pid)->n, 100);
	check_win(m);
	unlink(m->image);
	gg_manifest_free(m);
}

static void
test_none(void **state)
{
	static const char *const a[] = { "--size", "64M", "--windows", "none",
		NULL };
	static const char *const b[] = { "--size", "64M", "--windows", "nt4",
		NULL };
	struct gg_manifest *m = NULL;

	(void)state;
	assert_int_equal(gg_make(tmpdir, "none", a, &m), 0);
	assert_false(m->win.present);
	assert_true(m->nproc >= 3 && m->nproc <= 4);
	gg_manifest_free(m);
	assert_int_equal(gg_make(tmpdir, "bad", b, &m), -ECHILD);
}

static int
setup(void **state)
{
	(void)state;
	return t_mkdtemp("test_ggwin.XXXXXX", tmpdir, sizeof(tmpdir)) < 0 ?
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
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_builds),
		cmocka_unit_test(test_corrupt_ring),
		cmocka_unit_test(test_reboot),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
