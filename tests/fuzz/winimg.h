/* SPDX-License-Identifier: MIT */
/*
 * A compact Windows-x64-like guest built in memory for the Windows-context
 * fuzz targets, its benchmark and a unit test that does not depend on
 * guestgen: a System PML4, an ntoskrnl.exe image exporting
 * PsInitialSystemProcess, PsLoadedModuleList and NtBuildNumber, a ring of
 * EPROCESS records in one of several layouts (public offsets of 1809,
 * 22H2, 24H2 and two made-up ones) with noise in every other field, a PEB,
 * process parameters and loader list per user process, one DLL (sections,
 * sorted exports with forwarders and an ordinal-only one, imports) mapped
 * into every process, a kernel module list, and traps: a paged-out PEB, a
 * zombie, a 15-byte truncated name, a WOW64 process, a decoy EPROCESS that
 * is not in the ring and, on request, a corrupt link.  Everything is
 * static inline: one header for a few test programs.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_WINIMG_H
#define VMSIG_TEST_WINIMG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WI_KBASE	0xfffff80000400000ull
#define WI_KSIZE	0x8000u
#define WI_POOL		0xffffa08000000000ull
#define WI_DLL		0x00007ffb00000000ull
#define WI_EXE		0x00007ff600000000ull
#define WI_USER		0x00007ff700000000ull	/* PEB, params, loader */
#define WI_MODS		0x00007ffc00000000ull
#define WI_MAXP		1024
#define WI_LDRE		0x200u			/* bytes per loader entry */

struct wi_layout {
	const char *name;
	uint32_t build;
	uint32_t size, udtb, pid, ppid, peb, objtab, wow64, name_off, exitst;
};

static const struct wi_layout wi_layouts[] = {
	{ "17763", 17763, 0x880, 0x278, 0x2e0, 0x3e0, 0x3f8, 0x418, 0x428,
	    0x450, 0x654 },
	{ "19045", 19045, 0xa40, 0x388, 0x440, 0x540, 0x550, 0x570, 0x580,
	    0x5a8, 0x7d4 },
	{ "26100", 26100, 0xb00, 0x158, 0x1d0, 0x2d0, 0x2e0, 0x300, 0x310,
	    0x338, 0x5c4 },
	{ "shifted", 30001, 0xc00, 0x2c8, 0x610, 0x700, 0x718, 0x730, 0x748,
	    0x790, 0x8a4 },
	/* Made up: ImageFileName before the parent pid and the PEB. */
	{ "late", 30002, 0xc00, 0x2c8, 0x300, 0x520, 0x530, 0x548, 0x558,
	    0x3a0, 0x8a4 },
};

struct wi_proc {
	uint32_t pid, ppid;
	char name[16];
	char path[80];
	uint64_t ep, dtb, udtb, peb;
	int exited, wow64, peb_out, nmods;
};

struct wimg {
	uint8_t *m;
	size_t size;
	uint64_t next;		/* next free frame */
	uint64_t kcr3, pool, rng;
	const struct wi_layout *L;
	unsigned int nproc, nmods, nexp;
	struct wi_proc p[WI_MAXP];
	uint64_t head, modhead;	/* PsActiveProcessHead, PsLoadedModuleList */
	uint32_t dll_size;
	int corrupt;
};

static inline uint64_t
wi_rand(struct wimg *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static inline uint64_t
wi_frame(struct wimg *w)
{
	uint64_t f = w->next;

	if (f + 4096 > w->size)
		abort();	/* the caller sized the image too small */
	w->next += 4096;
	memset(w->m + f, 0, 4096);
	return f;
}

static inline uint64_t
wi_get(struct wimg *w, uint64_t pa)
{
	uint64_t v;

	memcpy(&v, w->m + pa, 8);
	return v;
}

static inline void
wi_put(struct wimg *w, uint64_t pa, uint64_t v)
{
	memcpy(w->m + pa, &v, 8);
}

/* Map va -> frame under cr3 (4 KiB page); missing tables are made. */
static inline void
wi_map(struct wimg *w, uint64_t cr3, uint64_t va, uint64_t frame, int user)
{
	uint64_t t = cr3, e, us = user ? 4 : 0;
	int lvl;

	for (lvl = 3; lvl >= 1; lvl--) {
		uint64_t slot = t + 8 * ((va >> (12 + 9 * lvl)) & 511);

		e = wi_get(w, slot);
		if (!(e & 1)) {
			e = wi_frame(w) | 3 | 4;
			wi_put(w, slot, e);
		}
		t = e & 0x000ffffffffff000ull;
	}
	wi_put(w, t + 8 * ((va >> 12) & 511), frame | 3 | us);
}

/* The frame of va under cr3, or 0. */
static inline uint64_t
wi_xlat(struct wimg *w, uint64_t cr3, uint64_t va)
{
	uint64_t t = cr3, e;
	int lvl;

	for (lvl = 3; lvl >= 0; lvl--) {
		e = wi_get(w, t + 8 * ((va >> (12 + 9 * lvl)) & 511));
		if (!(e & 1))
			return 0;
		t = e & 0x000ffffffffff000ull;
	}
	return t;
}

/* Write len bytes at va under cr3 (every page mapped). */
static inline void
wi_write(struct wimg *w, uint64_t cr3, uint64_t va, const void *buf,
    size_t len)
{
	const uint8_t *b = buf;

	while (len > 0) {
		size_t n = 4096 - (va & 4095);
		uint64_t f = wi_xlat(w, cr3, va);

		if (n > len)
			n = len;
		if (f == 0)
			abort();
		memcpy(w->m + f + (va & 4095), b, n);
		va += n;
		b += n;
		len -= n;
	}
}

static inline void
wi_w64(struct wimg *w, uint64_t cr3, uint64_t va, uint64_t v)
{
	wi_write(w, cr3, va, &v, 8);
}

/* Fresh kernel pool bytes (whole pages, mapped under kcr3). */
static inline uint64_t
wi_pool(struct wimg *w, uint32_t len)
{
	uint64_t va = w->pool, i;

	for (i = 0; i < (len + 4095ull) / 4096; i++)
		wi_map(w, w->kcr3, va + 4096 * i, wi_frame(w), 0);
	w->pool += (len + 4095ull) / 4096 * 4096 + 4096;	/* a gap */
	return va;
}

/* A UNICODE_STRING at us_va whose buffer (at buf_va) holds s. */
static inline void
wi_ustr(struct wimg *w, uint64_t cr3, uint64_t us_va, uint64_t buf_va,
    const char *s)
{
	uint8_t u[512];
	size_t i, n = strlen(s);
	uint16_t len;

	if (n > 250)
		n = 250;
	for (i = 0; i < n; i++) {
		u[2 * i] = (uint8_t)s[i];
		u[2 * i + 1] = 0;
	}
	u[2 * n] = u[2 * n + 1] = 0;
	wi_write(w, cr3, buf_va, u, 2 * n + 2);
	len = (uint16_t)(2 * n);
	wi_write(w, cr3, us_va, &len, 2);
	len = (uint16_t)(2 * n + 2);
	wi_write(w, cr3, us_va + 2, &len, 2);
	wi_w64(w, cr3, us_va + 8, buf_va);
}

static inline void
wi_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void
wi_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/*
 * A PE32+ image in a flat buffer of `size` bytes: .text, .rdata (exports,
 * imports), .data.  Exports: names[] (sorted by the caller) or nexp
 * generated "Fn%05u" names; every 50th a forwarder; one ordinal-only.
 */
static inline void
wi_pe(uint8_t *b, uint32_t size, const char *dll, const char *const *names,
    unsigned int nexp, int imports)
{
	uint32_t o = 0x80, opt = o + 24, sec = opt + 0xf0, ed = 0x2000, p;
	uint32_t nf = nexp + 1, i, funcs, nm, ords, str, id, ilt, iat;
	char buf[64];

	memset(b, 0, size);
	b[0] = 'M';
	b[1] = 'Z';
	wi_le32(b + 0x3c, o);
	memcpy(b + o, "PE\0\0", 4);
	wi_le16(b + o + 4, 0x8664);
	wi_le16(b + o + 6, 3);
	wi_le16(b + o + 20, 0xf0);
	wi_le16(b + opt, 0x20b);
	wi_le32(b + opt + 16, 0x1010);
	wi_le32(b + opt + 56, size);
	wi_le32(b + opt + 108, 16);
	memcpy(b + sec, ".text", 5);
	wi_le32(b + sec + 8, 0x1000);
	wi_le32(b + sec + 12, 0x1000);
	wi_le32(b + sec + 36, 0x60000020);
	memcpy(b + sec + 40, ".rdata", 6);
	wi_le32(b + sec + 48, size - 0x3000);
	wi_le32(b + sec + 52, 0x2000);
	wi_le32(b + sec + 76, 0x40000040);
	memcpy(b + sec + 80, ".data", 5);
	wi_le32(b + sec + 88, 0x1000);
	wi_le32(b + sec + 92, size - 0x1000);
	wi_le32(b + sec + 116, 0xc0000040);
	/* Export directory: dir, functions, names, ordinals, strings. */
	funcs = ed + 40;
	nm = funcs + 4 * nf;
	ords = nm + 4 * nexp;
	str = ords + 2 * nexp;
	str = (str + 7) & ~7u;
	wi_le32(b + ed + 12, str);
	memcpy(b + str, dll, strlen(dll) + 1);
	str += (uint32_t)strlen(dll) + 1;
	wi_le32(b + ed + 16, 1);	/* Base */
	wi_le32(b + ed + 20, nf);
	wi_le32(b + ed + 24, nexp);
	wi_le32(b + ed + 28, funcs);
	wi_le32(b + ed + 32, nm);
	wi_le32(b + ed + 36, ords);
	for (i = 0; i < nexp; i++) {
		const char *n = names != NULL ? names[i] : buf;

		if (names == NULL)
			snprintf(buf, sizeof(buf), "Fn%05u", i);
		wi_le32(b + nm + 4 * i, str);
		memcpy(b + str, n, strlen(n) + 1);
		str += (uint32_t)strlen(n) + 1;
		/* Names sorted, functions in reverse: ordinals shuffle. */
		wi_le16(b + ords + 2 * i, (uint16_t)(nexp - 1 - i));
	}
	for (i = 0; i < nf; i++) {
		if (names == NULL && i % 50 == 7) {
			wi_le32(b + funcs + 4 * i, str);
			p = (uint32_t)snprintf((char *)b + str, 64,
			    "NTDLL.Rtl%u", i);
			str += p + 1;
		} else
			wi_le32(b + funcs + 4 * i, 0x1000 + (i % 0x800) * 2);
	}
	wi_le32(b + opt + 112, ed);
	wi_le32(b + opt + 116, str - ed);
	if (!imports)
		return;
	/* Imports: KERNEL32.dll (2 names, 1 ordinal), ntdll.dll (1 name). */
	id = (str + 15) & ~7u;
	ilt = id + 3 * 20;
	iat = size - 0x1000;		/* in .data */
	str = ilt + 8 * 6;
	wi_le32(b + opt + 120, id);
	wi_le32(b + opt + 124, 3 * 20);
	{
		static const char *const imn[] = { "CreateFileW", "ReadFile",
		    NULL, "RtlAllocateHeap" };
		uint32_t k, slot = 0, d;

		for (d = 0; d < 2; d++) {
			wi_le32(b + id + 20 * d, ilt + 8 * slot);
			wi_le32(b + id + 20 * d + 16, iat + 8 * slot);
			wi_le32(b + id + 20 * d + 12, str);
			p = (uint32_t)snprintf((char *)b + str, 32, "%s",
			    d == 0 ? "KERNEL32.dll" : "ntdll.dll");
			str += p + 1;
			for (k = d == 0 ? 0 : 3; k < (d == 0 ? 3u : 4u); k++) {
				uint64_t v;

				if (imn[k] == NULL)
					v = (1ull << 63) | 17;
				else {
					v = str;
					wi_le16(b + str, (uint16_t)(k + 5));
					memcpy(b + str + 2, imn[k],
					    strlen(imn[k]) + 1);
					str += 2 + (uint32_t)strlen(imn[k]) + 1;
					str = (str + 1) & ~1u;
				}
				memcpy(b + ilt + 8 * slot, &v, 8);
				memcpy(b + iat + 8 * slot, &v, 8);
				slot++;
			}
			slot++;		/* the terminating thunk */
		}
	}
}

/* Map `size` bytes of a flat image at va under cr3 (frames fresh). */
static inline void
wi_place(struct wimg *w, uint64_t cr3, uint64_t va, const uint8_t *img,
    uint32_t size, int user)
{
	uint32_t i;

	for (i = 0; i < size; i += 4096) {
		uint64_t f = wi_xlat(w, cr3, va + i);

		if (f == 0) {
			f = wi_frame(w);
			wi_map(w, cr3, va + i, f, user);
		}
		memcpy(w->m + f, img + i, 4096);
	}
}

static inline void
wi_kernel(struct wimg *w)
{
	static const char *const kx[] = { "ExAllocatePool", "KeBugCheck",
	    "NtBuildNumber", "PsInitialSystemProcess", "PsLoadedModuleList" };
	uint8_t *b = calloc(1, WI_KSIZE);
	uint32_t funcs, i, data = WI_KSIZE - 0x1000;

	if (b == NULL)
		abort();
	wi_pe(b, WI_KSIZE, "ntoskrnl.exe", kx, 5, 0);
	/* kx[i] has ordinal index 4 - i; point the data exports at .data. */
	funcs = 0x2000 + 40;
	for (i = 0; i < 5; i++)
		wi_le32(b + funcs + 4 * (4 - i), data + 0x40 + 8 * i);
	w->head = WI_KBASE + data;
	w->modhead = WI_KBASE + data + 0x60;	/* PsLoadedModuleList */
	wi_le32(b + data + 0x40 + 16, 0xf0000000u | w->L->build);
	wi_place(w, w->kcr3, WI_KBASE, b, WI_KSIZE, 0);
	free(b);
}

static inline void
wi_noise(struct wimg *w, uint8_t *ep, uint32_t size)
{
	uint32_t off;
	uint64_t v;

	for (off = 0; off + 8 <= size; off += 8) {
		switch ((off * 2654435761u >> 9) % 4) {
		case 0:
			v = 0;
			break;
		case 1:
			v = WI_POOL + 0x10000000 + (wi_rand(w) & 0xffff8);
			break;
		case 2:
			v = wi_rand(w) % 4093;
			break;
		default:
			v = wi_rand(w) | 0xf000000000000000ull;
			break;
		}
		memcpy(ep + off, &v, 8);
	}
}

/* One user process's PEB, parameters, loader list; p->dtb made. */
static inline void
wi_user(struct wimg *w, struct wi_proc *p, unsigned int idx)
{
	uint64_t cr3 = p->dtb, peb = WI_USER, prm = WI_USER + 0x1000;
	uint64_t ldr = WI_USER + 0x2000, e, prev, i, n = (uint64_t)p->nmods;
	uint8_t hdr[4096];
	char nm[64], path[128];

	for (i = 0; i < 2 + (n * WI_LDRE + 0x100 + 4095) / 4096; i++)
		if (!(p->peb_out && i == 0))
			wi_map(w, cr3, WI_USER + 4096 * i, wi_frame(w), 1);
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = 'M';
	hdr[1] = 'Z';
	wi_place(w, cr3, WI_EXE, hdr, 4096, 1);
	p->peb = peb;
	if (!p->peb_out) {
		wi_w64(w, cr3, peb + 0x10, WI_EXE);
		wi_w64(w, cr3, peb + 0x18, ldr);
		wi_w64(w, cr3, peb + 0x20, prm);
	}
	wi_ustr(w, cr3, prm + 0x60, prm + 0x100, p->path);
	/* PEB_LDR_DATA at ldr; entries from ldr + 0x100. */
	prev = ldr + 0x10;
	for (i = 0; i < n; i++) {
		e = ldr + 0x100 + WI_LDRE * i;
		if (i == 0)
			snprintf(nm, sizeof(nm), "%s", p->path +
			    strlen("C:\\Windows\\System32\\"));
		else if (i == 1)
			snprintf(nm, sizeof(nm), "ntdll.dll");
		else
			snprintf(nm, sizeof(nm), "mod%03u_%u.dll",
			    (unsigned)i, idx);
		snprintf(path, sizeof(path), "C:\\Windows\\System32\\%s", nm);
		wi_w64(w, cr3, prev, e);		/* prev.Flink */
		wi_w64(w, cr3, e + 8, prev);		/* Blink */
		wi_w64(w, cr3, e + 0x30, i == 0 ? WI_EXE : i == 1 ? WI_DLL :
		    WI_MODS + 0x10000 * i);
		wi_w64(w, cr3, e + 0x38, i == 0 ? WI_EXE + 0x1010 : 0);
		wi_write(w, cr3, e + 0x40, &(uint32_t){ i == 1 ? w->dll_size :
		    0x10000 }, 4);
		wi_ustr(w, cr3, e + 0x48, e + 0x68, path);
		wi_ustr(w, cr3, e + 0x58, e + 0x130, nm);
		prev = e;
	}
	wi_w64(w, cr3, prev, ldr + 0x10);
	wi_w64(w, cr3, ldr + 0x18, prev);
}

/* The kernel module list: ntoskrnl, hal.dll, drvNNN.sys. */
static inline void
wi_kmods(struct wimg *w, unsigned int n)
{
	uint64_t e, prev = w->modhead, i;
	char nm[32], path[96];

	for (i = 0; i < n; i++) {
		e = wi_pool(w, 0x200);
		snprintf(nm, sizeof(nm), "%s", i == 0 ? "ntoskrnl.exe" :
		    i == 1 ? "hal.dll" : "drv");
		if (i >= 2)
			snprintf(nm, sizeof(nm), "drv%03u.sys", (unsigned)i);
		snprintf(path, sizeof(path), "\\SystemRoot\\system32\\%s", nm);
		wi_w64(w, w->kcr3, prev, e);
		wi_w64(w, w->kcr3, e + 8, prev);
		wi_w64(w, w->kcr3, e + 0x30, i == 0 ? WI_KBASE :
		    0xfffff80010000000ull + 0x100000 * i);
		wi_w64(w, w->kcr3, e + 0x38, i == 0 ? WI_KBASE + 0x1010 : 0);
		wi_write(w, w->kcr3, e + 0x40, &(uint32_t){ i == 0 ? WI_KSIZE :
		    0x20000 }, 4);
		wi_ustr(w, w->kcr3, e + 0x48, e + 0x70, path);
		wi_ustr(w, w->kcr3, e + 0x58, e + 0x140, nm);
		prev = e;
	}
	wi_w64(w, w->kcr3, prev, w->modhead);
	wi_w64(w, w->kcr3, w->modhead + 8, prev);
}

static inline void
wi_eprocess(struct wimg *w, struct wi_proc *p, unsigned int i)
{
	const struct wi_layout *L = w->L;
	uint8_t ep[0x1000];
	uint64_t wow;

	wi_noise(w, ep, L->size);
	memcpy(ep + 0x28, &(uint64_t){ p->dtb | (i == 0 ? 2 : 0) }, 8);
	memcpy(ep + L->udtb, &p->udtb, 8);
	memcpy(ep + L->pid, &(uint64_t){ p->pid }, 8);
	memcpy(ep + L->ppid, &(uint64_t){ p->ppid }, 8);
	memcpy(ep + L->peb, &(uint64_t){ i == 0 ? 0 : p->peb }, 8);
	memcpy(ep + L->objtab, &(uint64_t){ p->exited ? 0 :
	    WI_POOL + 0x20000000 + 0x1000 * i }, 8);
	wow = 0;
	if (p->wow64) {
		wow = wi_pool(w, 16);
		wi_w64(w, w->kcr3, wow, 0x7e000);
		wi_w64(w, w->kcr3, wow + 8, 0x14c);
	}
	memcpy(ep + L->wow64, &wow, 8);
	memset(ep + L->name_off, 0, 16);
	memcpy(ep + L->name_off, p->name, strlen(p->name));
	wi_le32(ep + L->exitst, p->exited ? 0 : 0x103);
	wi_write(w, w->kcr3, p->ep, ep, L->size);
}

static inline void
wi_links(struct wimg *w)
{
	uint32_t lk = w->L->pid + 8, i;
	uint64_t prev = w->head, cur;

	for (i = 0; i < w->nproc; i++) {
		cur = w->p[i].ep + lk;
		wi_w64(w, w->kcr3, prev, cur);
		wi_w64(w, w->kcr3, cur + 8, prev);
		prev = cur;
	}
	wi_w64(w, w->kcr3, prev, w->head);
	wi_w64(w, w->kcr3, w->head + 8, prev);
	if (w->corrupt && w->nproc > 6)		/* Flink to a stranger */
		wi_w64(w, w->kcr3, w->p[5].ep + lk, wi_pool(w, 64) + 16);
}

/*
 * Build the guest into w->m (size bytes, a multiple of 4 KiB).  nproc
 * (>= 1, <= WI_MAXP) processes, nmods loader entries per user process
 * (>= 2), nexp exports in the shared DLL, layout index, seed.
 */
static inline void
wi_build(struct wimg *w, uint8_t *mem, size_t size, unsigned int layout,
    unsigned int nproc, unsigned int nmods, unsigned int nexp, uint64_t seed,
    int corrupt)
{
	static const char *const names[] = { "smss.exe", "csrss.exe",
	    "wininit.exe", "services.exe", "lsass.exe", "svchost.exe",
	    "explorer.exe" };
	uint8_t *dll;
	unsigned int i, k;
	uint64_t dllf;

	memset(w, 0, sizeof(*w));
	memset(mem, 0, size);
	w->m = mem;
	w->size = size;
	w->next = 0x100000;
	w->rng = seed * 0x9e3779b97f4a7c15ull | 1;
	w->L = &wi_layouts[layout % (sizeof(wi_layouts) /
	    sizeof(wi_layouts[0]))];
	w->nproc = nproc < 1 ? 1 : nproc > WI_MAXP ? WI_MAXP : nproc;
	w->nmods = nmods < 2 ? 2 : nmods;
	w->nexp = nexp;
	w->corrupt = corrupt;
	w->pool = WI_POOL;
	w->kcr3 = wi_frame(w);
	/* Kernel PML4 slots first, so process roots share them. */
	wi_map(w, w->kcr3, WI_KBASE, wi_frame(w), 0);
	wi_map(w, w->kcr3, WI_POOL, wi_frame(w), 0);
	wi_kernel(w);
	w->dll_size = (0x3000 + 40 + nexp * 32 + 0x3000 + 4095) & ~4095u;
	if ((dll = malloc(w->dll_size)) == NULL)
		abort();
	wi_pe(dll, w->dll_size, "ntdll.dll", NULL, nexp, 1);
	dllf = w->next;
	for (k = 0; k < w->dll_size; k += 4096)
		memcpy(w->m + wi_frame(w), dll + k, 4096);
	free(dll);
	for (i = 0; i < w->nproc; i++) {
		struct wi_proc *p = &w->p[i];

		p->ep = wi_pool(w, w->L->size);
		if (i == 0) {
			p->pid = 4;
			snprintf(p->name, sizeof(p->name), "System");
			p->dtb = w->kcr3;
			continue;
		}
		p->pid = 4 * (i + 100) + (i % 3) * 4000;
		p->ppid = i == 1 ? 4 : w->p[1 + (i * 7) % (i - 1)].pid;
		if (i == 3 && w->nproc > 4)
			snprintf(p->path, sizeof(p->path),
			    "C:\\Windows\\System32\\averyverylongprocessname.exe");
		else
			snprintf(p->path, sizeof(p->path),
			    "C:\\Windows\\System32\\%s",
			    names[i % (sizeof(names) / sizeof(names[0]))]);
		snprintf(p->name, sizeof(p->name), "%.15s",
		    strrchr(p->path, '\\') + 1);
		p->exited = i == 2 && w->nproc > 4;
		p->peb_out = i == 4 && w->nproc > 5;
		p->wow64 = i == w->nproc - 1 && w->nproc > 6;
		p->nmods = (int)w->nmods;
		p->dtb = wi_frame(w);
		memcpy(w->m + p->dtb + 2048, w->m + w->kcr3 + 2048, 2048);
		for (k = 0; k < w->dll_size; k += 4096)
			wi_map(w, p->dtb, WI_DLL + k, dllf + k, 1);
		wi_user(w, p, i);
		/* KVA shadow: a second root sharing the user half. */
		p->udtb = wi_frame(w);
		memcpy(w->m + p->udtb, w->m + p->dtb, 2048);
	}
	for (i = 0; i < w->nproc; i++)
		wi_eprocess(w, &w->p[i], i);
	/* PsInitialSystemProcess (.data + 0x58) */
	wi_w64(w, w->kcr3, WI_KBASE + WI_KSIZE - 0x1000 + 0x58, w->p[0].ep);
	wi_links(w);
	wi_kmods(w, 3 + w->nmods / 4);
	/* A decoy: an EPROCESS copy that no ring leads to. */
	{
		uint64_t d = wi_pool(w, w->L->size);
		uint8_t ep[0x1000];

		memcpy(ep, w->m + wi_xlat(w, w->kcr3, w->p[0].ep), 0x1000);
		wi_write(w, w->kcr3, d, ep, w->L->size);
	}
}

#endif
