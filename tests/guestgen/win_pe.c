/* SPDX-License-Identifier: MIT */
/*
 * PE images of the Windows scene, user DLLs and executables (PE32+, or
 * PE32 for a WOW64 process) and kernel drivers: headers with a section
 * table of realistic names and characteristics, an export directory (names
 * sorted as the loader's binary search needs, a Base other than 1,
 * ordinal-only exports, forwarder strings inside the directory) and an
 * import directory (by name with a hint and by ordinal; the IAT holds
 * bound addresses as a loaded image's does, the names are in the INT).
 * An image is built once into page buffers and its pages are shared by
 * every address space that maps it, as Windows shares image pages.  Code
 * is not modelled: only the page at the entry point holds code-like bytes.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define SC_CODE		0x60000020u	/* code, execute, read */
#define SC_RDATA	0x40000040u	/* initialised data, read */
#define SC_DATA		0xc0000040u	/* initialised data, read, write */
#define SC_RELOC	0x42000040u	/* + discardable */
#define SC_INIT		0x62000020u	/* discardable code */

static void
pw(struct win_img *m, uint32_t rva, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t n, pg;

	if ((uint64_t)rva + len > m->size)
		errx(2, "internal: %s: write past SizeOfImage", m->name);
	while (len > 0) {
		pg = rva / GG_4K;
		n = GG_4K - (rva & (GG_4K - 1));
		if (n > len)
			n = len;
		if (m->pages[pg] == NULL &&
		    (m->pages[pg] = calloc(1, GG_4K)) == NULL)
			err(2, "out of memory");
		memcpy(m->pages[pg] + (rva & (GG_4K - 1)), b, n);
		b += n;
		rva += (uint32_t)n;
		len -= n;
	}
}

static void
pw16(struct win_img *m, uint32_t rva, uint16_t v)
{
	pw(m, rva, &v, 2);
}

static void
pw32(struct win_img *m, uint32_t rva, uint32_t v)
{
	pw(m, rva, &v, 4);
}

static void
pw64(struct win_img *m, uint32_t rva, uint64_t v)
{
	pw(m, rva, &v, 8);
}

/* Room in .rdata. */
static uint32_t
rdata(struct win_img *m, size_t len, uint32_t align)
{
	uint32_t at = (m->cur + align - 1) & ~(align - 1);

	if ((uint64_t)at + len > m->cur_end)
		errx(2, "internal: %s: .rdata full", m->name);
	m->cur = at + (uint32_t)len;
	return at;
}

static void
sec(struct win_img *m, const char *name, uint32_t rva, uint32_t size,
    uint32_t chars)
{
	struct win_sec *s = &m->sec[m->nsec++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->rva = rva;
	s->size = size;
	s->chars = chars;
}

/* Sections by fractions of SizeOfImage; .rdata is where tables go. */
static void
sections(struct win_img *m)
{
	uint32_t sz = m->size, t = 0x1000, r, d, p, e;

	r = t + ((sz / 2) & ~0xfffu);
	d = r + ((sz / 4) & ~0xfffu);
	p = d + ((sz / 16) & ~0xfffu);
	e = sz - 0x1000;
	sec(m, ".text", t, r - t - 0x234, SC_CODE);
	if (m->kernel)
		sec(m, "PAGE", r - 0x1000, 0xe10, SC_CODE);
	sec(m, ".rdata", r, d - r - 0x1a8, SC_RDATA);
	sec(m, ".data", d, p - d - 0x700, SC_DATA);
	sec(m, ".pdata", p, (e - p) / 2, SC_RDATA);
	if (m->kernel)
		sec(m, "INIT", p + ((e - p) / 2 & ~0xfffu) + 0x1000, 0x9c0,
		    SC_INIT);
	else
		sec(m, ".rsrc", p + ((e - p) / 2 & ~0xfffu) + 0x1000, 0x4e8,
		    SC_RDATA);
	sec(m, ".reloc", e, 0x1c4, SC_RELOC);
	if (m->kernel)	/* PAGE sits in the last page of .text */
		m->sec[0].size = r - t - 0x1000 - 0x80;
	m->cur = r;
	m->cur_end = d - 0x1a8;
}

struct win_img *
win_pe_new(struct guest *g, const char *name, const char *path,
    uint64_t base, uint32_t size, int bits)
{
	struct win *w = g->win;
	struct win_img *m = calloc(1, sizeof(*m));

	if (m == NULL || size < 0x10000 || size % 0x10000)
		errx(2, "internal: image %s", name);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->base = base;
	m->size = size;
	m->bits = bits;
	m->kernel = base >= 0xffff800000000000ull;
	m->pages = calloc(size / GG_4K, sizeof(*m->pages));
	m->frames = calloc(size / GG_4K, sizeof(*m->frames));
	if (m->pages == NULL || m->frames == NULL)
		err(2, "out of memory");
	sections(m);
	m->entry_rva = 0x1000 + 16 * (uint32_t)image_randn(g, 0x100);
	w->imgs = image_grow(w->imgs, &w->imgs_cap, w->nimgs, sizeof(*w->imgs));
	w->imgs[w->nimgs++] = m;
	return m;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The export's name list: the real names, then made-up ones, sorted. */
static char **
export_names(const char *dll, const char *const *real, size_t nreal,
    size_t n)
{
	static const char *const pre[] = { "Get", "Set", "Create", "Query",
		"Open", "Enum", "Register", "Update" };
	char **v = calloc(n + 1, sizeof(*v)), buf[96];
	size_t i;

	if (v == NULL)
		err(2, "out of memory");
	for (i = 0; i < n; i++) {
		if (i < nreal)
			snprintf(buf, sizeof(buf), "%s", real[i]);
		else
			snprintf(buf, sizeof(buf), "%s%.4sItem%05zu",
			    pre[i % 8], dll, i);
		if ((v[i] = strdup(buf)) == NULL)
			err(2, "out of memory");
	}
	qsort(v, n, sizeof(*v), strp_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			errx(2, "internal: duplicate export %s", v[i]);
	return v;
}

static const char *
forward_of(const char *const *fwd, const char *name)
{
	size_t i;

	for (i = 0; fwd != NULL && fwd[i] != NULL; i += 2)
		if (strcmp(fwd[i], name) == 0)
			return fwd[i + 1];
	return NULL;
}

/*
 * IMAGE_EXPORT_DIRECTORY with ntotal names (the nreal given first) and
 * nord functions exported by ordinal only, ordinals from `base`.  Name i's
 * function index is shuffled, so a reader must use AddressOfNameOrdinals.
 * fwd: pairs {name, "DLL.Target"}, NULL-terminated, names among real.
 */
void
win_pe_exports(struct guest *g, struct win_img *m, const char *dllname,
    const char *const *real, size_t nreal, size_t ntotal, size_t nord,
    uint32_t base, const char *const *fwd)
{
	size_t nf = ntotal + nord, i, j, t, *perm;
	char **names = export_names(dllname, real, nreal, ntotal);
	uint32_t dir, funcs, nm, ords, s, start = m->cur;
	const char *f;

	perm = calloc(nf, sizeof(*perm));
	m->exp = calloc(nf, sizeof(*m->exp));
	if (perm == NULL || m->exp == NULL)
		err(2, "out of memory");
	for (i = 0; i < nf; i++)
		perm[i] = i;
	for (i = nf - 1; i > 0; i--) {
		j = image_randn(g, i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	dir = rdata(m, 40, 4);
	funcs = rdata(m, 4 * nf, 4);
	nm = rdata(m, 4 * ntotal, 4);
	ords = rdata(m, 2 * ntotal, 2);
	s = rdata(m, strlen(dllname) + 1, 1);
	pw(m, s, dllname, strlen(dllname) + 1);
	pw32(m, dir + 4, (uint32_t)image_rand(g));	/* TimeDateStamp */
	pw32(m, dir + 12, s);
	pw32(m, dir + 16, base);
	pw32(m, dir + 20, (uint32_t)nf);
	pw32(m, dir + 24, (uint32_t)ntotal);
	pw32(m, dir + 28, funcs);
	pw32(m, dir + 32, nm);
	pw32(m, dir + 36, ords);
	m->nexp = nf;
	m->exp_base = base;
	for (j = 0; j < nf; j++) {
		m->exp[j].ordinal = base + (uint32_t)j;
		m->exp[j].rva = 0x1000 + (uint32_t)((16 * (j * 7 + 3)) %
		    (m->sec[0].size - 16));
	}
	for (i = 0; i < ntotal; i++) {
		struct win_exp *e = &m->exp[perm[i]];

		s = rdata(m, strlen(names[i]) + 1, 1);
		pw(m, s, names[i], strlen(names[i]) + 1);
		pw32(m, nm + 4 * (uint32_t)i, s);
		pw16(m, ords + 2 * (uint32_t)i, (uint16_t)perm[i]);
		e->name = names[i];
		if ((f = forward_of(fwd, names[i])) != NULL) {
			e->rva = rdata(m, strlen(f) + 1, 1);
			pw(m, e->rva, f, strlen(f) + 1);
			if ((e->forward = strdup(f)) == NULL)
				err(2, "out of memory");
		}
	}
	for (j = 0; j < nf; j++)
		pw32(m, funcs + 4 * (uint32_t)j, m->exp[j].rva);
	for (j = 0; j < nf; j++)
		if (m->exp[j].forward != NULL)
			m->exp[j].rva = 0;
	m->dir[0][0] = start;
	m->dir[0][1] = m->cur - start;
	free(names);
	free(perm);
}

/* A bound IAT value: somewhere in the DLL region (or the kernel). */
static uint64_t
bound(struct guest *g, const struct win_img *m)
{
	if (m->kernel)
		return 0xfffff80000000000ull + image_randn(g, 1ull << 34);
	if (m->bits == 32)
		return 0x75000000ull + image_randn(g, 0x2000000);
	return 0x00007ffa00000000ull + image_randn(g, 1ull << 32);
}

/*
 * IMAGE_IMPORT_DESCRIPTORs for imps (grouped by consecutive module), the
 * IATs first in .rdata (as the IAT directory says), then descriptors,
 * INTs, hint/name entries and module names.
 */
void
win_pe_imports(struct guest *g, struct win_img *m, const struct win_imp *imps,
    size_t n)
{
	uint32_t th = m->bits == 32 ? 4 : 8, iat, desc, intt, s, k;
	uint64_t ordflag = m->bits == 32 ? 0x80000000ull : 1ull << 63;
	size_t nmod = 0, i, d;

	for (i = 0; i < n; i++)
		nmod += i == 0 || imps[i].module != imps[i - 1].module;
	m->imp = calloc(n + 1, sizeof(*m->imp));
	if (m->imp == NULL)
		err(2, "out of memory");
	iat = rdata(m, th * (n + nmod), 8);
	m->dir[12][0] = iat;
	m->dir[12][1] = th * (uint32_t)(n + nmod);
	desc = rdata(m, 20 * (nmod + 1), 4);
	m->dir[1][0] = desc;
	m->dir[1][1] = 20 * (uint32_t)(nmod + 1);
	intt = rdata(m, th * (n + nmod), 8);
	for (i = 0, d = 0, k = 0; i < n; i++, k++) {
		if (i == 0 || imps[i].module != imps[i - 1].module) {
			if (i > 0)
				k++;	/* the previous list's terminator */
			s = rdata(m, strlen(imps[i].module) + 1, 2);
			pw(m, s, imps[i].module, strlen(imps[i].module) + 1);
			pw32(m, desc + 20 * (uint32_t)d, intt + th * k);
			pw32(m, desc + 20 * (uint32_t)d + 12, s);
			pw32(m, desc + 20 * (uint32_t)d + 16, iat + th * k);
			d++;
		}
		m->imp[i] = imps[i];
		m->imp[i].iat_rva = iat + th * k;
		if (imps[i].name == NULL) {
			if (th == 8)
				pw64(m, intt + th * k, ordflag | imps[i].ordinal);
			else
				pw32(m, intt + th * k,
				    (uint32_t)(ordflag | imps[i].ordinal));
		} else {
			s = rdata(m, 2 + strlen(imps[i].name) + 1, 2);
			pw16(m, s, (uint16_t)imps[i].ordinal);
			pw(m, s + 2, imps[i].name, strlen(imps[i].name) + 1);
			pw32(m, intt + th * k, s);
		}
		if (th == 8)
			pw64(m, iat + th * k, bound(g, m));
		else
			pw32(m, iat + th * k, (uint32_t)bound(g, m));
	}
	m->nimp = n;
}

static void
optional_header(struct win_img *m, uint32_t oh)
{
	uint32_t dd, i;

	pw16(m, oh, m->bits == 32 ? 0x10b : 0x20b);
	pw16(m, oh + 2, 0x0e1d);		/* linker 14.29 */
	pw32(m, oh + 16, m->entry_rva);
	pw32(m, oh + 20, 0x1000);		/* BaseOfCode */
	if (m->bits == 32) {
		pw32(m, oh + 28, (uint32_t)m->base);
		dd = oh + 96;
	} else {
		pw64(m, oh + 24, m->base);
		dd = oh + 112;
	}
	pw32(m, oh + 32, 0x1000);		/* SectionAlignment */
	pw32(m, oh + 36, 0x200);		/* FileAlignment */
	pw16(m, oh + 40, 10);
	pw16(m, oh + 48, 10);
	pw32(m, oh + 56, m->size);		/* SizeOfImage */
	pw32(m, oh + 60, 0x400);		/* SizeOfHeaders */
	pw16(m, oh + 68, m->kernel ? 1 : 3);	/* native / console */
	pw16(m, oh + 70, 0x4160);	/* DllCharacteristics: ASLR, NX, CFG */
	pw32(m, dd - 4, 16);			/* NumberOfRvaAndSizes */
	for (i = 0; i < 16; i++) {
		pw32(m, dd + 8 * i, m->dir[i][0]);
		pw32(m, dd + 8 * i + 4, m->dir[i][1]);
	}
}

/* Headers (written last: they hold the directories) and the entry page. */
void
win_pe_finish(struct guest *g, struct win_img *m)
{
	static const char stub[] = "This program cannot be run in DOS mode.";
	uint32_t nt = 0xe0 + 8 * (uint32_t)image_randn(g, 8), oh, i;
	uint8_t code[4096];
	int dll = strstr(m->name, ".exe") == NULL &&
	    strstr(m->name, ".EXE") == NULL;

	pw(m, 0, "MZ", 2);
	pw16(m, 2, 0x90);
	pw32(m, 0x3c, nt);
	pw(m, 0x4e, stub, sizeof(stub));
	pw(m, nt, "PE\0\0", 4);
	pw16(m, nt + 4, m->bits == 32 ? 0x14c : 0x8664);
	pw16(m, nt + 6, (uint16_t)m->nsec);
	pw32(m, nt + 8, (uint32_t)image_rand(g));
	pw16(m, nt + 20, m->bits == 32 ? 0xe0 : 0xf0);
	pw16(m, nt + 22, (uint16_t)((dll ? 0x2000 : 0) |
	    (m->bits == 32 ? 0x0102 : 0x0022)));
	oh = nt + 24;
	optional_header(m, oh);
	oh += m->bits == 32 ? 0xe0 : 0xf0;
	for (i = 0; i < m->nsec; i++) {
		const struct win_sec *s = &m->sec[i];

		pw(m, oh + 40 * i, s->name, strlen(s->name));
		pw32(m, oh + 40 * i + 8, s->size);
		pw32(m, oh + 40 * i + 12, s->rva);
		pw32(m, oh + 40 * i + 16, (s->size + 0x1ff) & ~0x1ffu);
		pw32(m, oh + 40 * i + 20, s->rva - 0x600);
		pw32(m, oh + 40 * i + 36, s->chars);
	}
	if (m->entry_rva == 0)	/* no entry point (ntdll): no code page */
		return;
	image_randbytes(g, code, sizeof(code));
	if ((m->entry_rva & 0xfff) >= 16)	/* int3 padding before it */
		memset(code + (m->entry_rva & 0xfff) - 16, 0xcc, 16);
	pw(m, m->entry_rva & ~0xfffu, code, sizeof(code));
}

/* Rights of the page at rva from its section. */
static uint64_t
page_rights(const struct win_img *m, uint32_t rva)
{
	unsigned int i;

	for (i = 0; i < m->nsec; i++)
		if (rva >= m->sec[i].rva && rva < m->sec[i].rva +
		    ((m->sec[i].size + 0xfff) & ~0xfffu)) {
			if (m->sec[i].chars & 0x20000000u)
				return 0;
			return (m->sec[i].chars & 0x80000000u ? E_RW : 0) |
			    E_XD;
		}
	return E_XD;	/* headers */
}

/*
 * Map the built pages at m->base under cr3 (frames taken on first use);
 * without the header page when no_header is set (not paged in there).
 */
void
win_pe_map(struct guest *g, struct win_img *m, uint64_t cr3, int no_header)
{
	size_t i, n = m->size / GG_4K;
	uint64_t va, r;

	for (i = 0; i < n; i++) {
		if (m->pages[i] == NULL || (i == 0 && no_header))
			continue;
		if (m->frames[i] == 0) {
			m->frames[i] = image_alloc(g, GG_4K, (g->low < g->size &&
			    (i & 1)) ? GG_4G : 0, UINT64_MAX);
			image_write(g, m->frames[i], m->pages[i], GG_4K);
		}
		va = m->base + i * GG_4K;
		r = page_rights(m, (uint32_t)(i * GG_4K));
		if (m->kernel)
			build_map(g, cr3, va, m->frames[i], GG_4K, E_P | r,
			    E_RW, 1);
		else
			win_map_user(g, cr3, va, m->frames[i], r);
	}
}

void
win_pe_free(struct win_img *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->pages != NULL && i < m->size / GG_4K; i++)
		free(m->pages[i]);
	for (i = 0; i < m->nexp; i++) {
		free(m->exp[i].name);
		free(m->exp[i].forward);
	}
	free(m->exp);
	free(m->imp);
	free(m->pages);
	free(m->frames);
	free(m);
}
