/* SPDX-License-Identifier: MIT */
/*
 * The kernel image of the synthetic guest: a 4 MiB PE32+ "ntoskrnl.exe"
 * mapped with two 2 MiB pages that are not physically adjacent (one of
 * them with the PAT bit set), at a random 2 MiB-aligned VA in
 * 0xfffff80000000000-0xfffff807ffffffff.  Only what a reader needs exists:
 * the MZ and PE headers, an export directory whose sorted names include
 * PsInitialSystemProcess, and the variable that export points at, which
 * holds the VA of the System EPROCESS.  The rest of the image is holes.
 *
 * Runs in: tests (guestgen)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestgen.h"

#define IMG_SIZE	(2 * GG_2M)
#define RVA_TEXT	0x1000u
#define RVA_EXPORT	0x2000u
#define RVA_DATA	(GG_2M + 0x3000u)

/* Sorted as the loader's binary search needs (strcmp order). */
static const char *const pe_names[] = {
	"ExAllocatePool2", "IoCreateDevice", "KeBugCheckEx",
	"KeQuerySystemTimePrecise", "MmGetPhysicalAddress",
	"ObReferenceObjectByHandle", "PsGetCurrentProcess",
	"PsInitialSystemProcess", "PsLoadedModuleList", "RtlGetVersion",
	"ZwClose",
};
#define NNAMES	(sizeof(pe_names) / sizeof(pe_names[0]))

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void
section(uint8_t *s, const char *name, uint32_t rva, uint32_t size,
    uint32_t chars)
{
	memcpy(s, name, strlen(name));
	put32(s + 8, size);	/* VirtualSize */
	put32(s + 12, rva);	/* VirtualAddress */
	put32(s + 16, size);	/* SizeOfRawData */
	put32(s + 20, rva);	/* PointerToRawData */
	put32(s + 36, chars);
}

/* DOS header, PE signature, file header, PE32+ optional header, sections. */
static void
headers(struct guest *g, uint8_t *p, uint32_t entry_rva, uint32_t exp_size)
{
	uint32_t nt = 0x80 + 8 * (uint32_t)image_randn(g, 32);
	uint8_t *fh = p + nt + 4, *oh = fh + 20;

	p[0] = 'M';
	p[1] = 'Z';
	put32(p + 0x3c, nt);		/* e_lfanew */
	memcpy(p + nt, "PE\0\0", 4);
	put16(fh, 0x8664);		/* Machine: AMD64 */
	put16(fh + 2, 2);		/* NumberOfSections */
	put32(fh + 4, (uint32_t)image_rand(g));
	put16(fh + 16, 0xf0);		/* SizeOfOptionalHeader (PE32+) */
	put16(fh + 18, 0x22);		/* executable, large address aware */
	put16(oh, 0x20b);		/* PE32+ */
	put32(oh + 16, entry_rva);	/* AddressOfEntryPoint */
	put32(oh + 20, RVA_TEXT);	/* BaseOfCode */
	put64(oh + 24, g->kernel_base);	/* ImageBase */
	put32(oh + 32, 0x1000);		/* SectionAlignment */
	put32(oh + 36, 0x200);		/* FileAlignment */
	put16(oh + 40, 10);		/* MajorOperatingSystemVersion */
	put16(oh + 48, 10);		/* MajorSubsystemVersion */
	put32(oh + 56, (uint32_t)IMG_SIZE);	/* SizeOfImage */
	put32(oh + 60, 0x1000);		/* SizeOfHeaders */
	put16(oh + 68, 1);		/* Subsystem: native */
	put32(oh + 108, 16);		/* NumberOfRvaAndSizes */
	put32(oh + 112, RVA_EXPORT);	/* DataDirectory[0]: exports */
	put32(oh + 116, exp_size);
	section(oh + 0xf0, ".text", RVA_TEXT, (uint32_t)(GG_2M - RVA_TEXT),
	    0x60000020);
	section(oh + 0xf0 + 40, ".data", (uint32_t)GG_2M, (uint32_t)GG_2M,
	    0xc8000040);
}

/*
 * IMAGE_EXPORT_DIRECTORY and its tables in one page.  Name i's ordinal is
 * a shuffled function index, so a reader that skips AddressOfNameOrdinals
 * finds the wrong function.  Returns the directory's size.
 */
static uint32_t
exports(struct guest *g, uint8_t *p, const uint32_t *fn_rva)
{
	uint32_t perm[NNAMES], str = 0x220, i, j, t;

	for (i = 0; i < NNAMES; i++)
		perm[i] = i;
	for (i = NNAMES - 1; i > 0; i--) {
		j = (uint32_t)image_randn(g, i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	put32(p + 12, RVA_EXPORT + 0x200);	/* Name */
	put32(p + 16, 1);			/* Base */
	put32(p + 20, NNAMES);			/* NumberOfFunctions */
	put32(p + 24, NNAMES);			/* NumberOfNames */
	put32(p + 28, RVA_EXPORT + 0x40);	/* AddressOfFunctions */
	put32(p + 32, RVA_EXPORT + 0x100);	/* AddressOfNames */
	put32(p + 36, RVA_EXPORT + 0x180);	/* AddressOfNameOrdinals */
	memcpy(p + 0x200, "ntoskrnl.exe", 13);
	for (i = 0; i < NNAMES; i++) {
		put32(p + 0x40 + 4 * perm[i], fn_rva[i]);
		put32(p + 0x100 + 4 * i, RVA_EXPORT + str);
		put16(p + 0x180 + 2 * i, (uint16_t)perm[i]);
		memcpy(p + str, pe_names[i], strlen(pe_names[i]) + 1);
		str += (uint32_t)strlen(pe_names[i]) + 1;
	}
	return str;
}

/*
 * Take the two 2 MiB frames before any 4 KiB allocation can fragment a
 * small guest's RAM.
 */
void
pe_frames(struct guest *g)
{
	uint64_t f1;

	g->kimg[0] = image_alloc(g, GG_2M, 0, UINT64_MAX);
	do	/* keep f1 not adjacent: a reader must not assume contiguity */
		f1 = image_alloc(g, GG_2M, 0, UINT64_MAX);
	while (f1 == g->kimg[0] + GG_2M);
	g->kimg[1] = f1;
}

/* MZ, the export directory and name, the variable, the 2 MiB boundary. */
static void
probes(struct guest *g)
{
	uint64_t base = g->kernel_base;

	scene_probe(g, g->kcr3, base, 64);
	scene_probe(g, g->kcr3, base + RVA_EXPORT + 0x200, 13);
	scene_probe(g, g->kcr3, base + RVA_EXPORT, 40);
	scene_probe(g, g->kcr3, g->psisp_va, 8);
	scene_probe(g, g->kcr3, base + GG_2M - 32, 64);
	scene_probe(g, g->kcr3, base + RVA_DATA + 0x800, 48);
	scene_probe(g, g->kcr3, g->kernel_entry, 16);
}

void
pe_build(struct guest *g)
{
	uint64_t f0 = g->kimg[0], f1 = g->kimg[1], base, pat, var, mods;
	uint32_t fn_rva[NNAMES], entry_rva, exp_size, i;
	uint8_t page[4096];

	/* 32 GiB of 2 MiB slots, minus room for the image. */
	base = 0xfffff80000000000ull + image_randn(g, 16384 - 2) * GG_2M;
	pat = image_randn(g, 2) ? E_PAT_LARGE : 0;
	g->kernel_base = base;
	build_map(g, g->kcr3, base, f0, GG_2M, E_P | (pat ? 0 : E_PAT_LARGE),
	    E_RW, 1);
	build_map(g, g->kcr3, base + GG_2M, f1, GG_2M, E_P | E_RW | E_XD | pat,
	    E_RW, 1);

	entry_rva = RVA_TEXT + 4 * (uint32_t)image_randn(g, 1024);
	g->kernel_entry = base + entry_rva;
	var = RVA_DATA + 16 * image_randn(g, 128);
	mods = var + 8;
	g->psisp_va = base + var;
	for (i = 0; i < NNAMES; i++)
		fn_rva[i] = RVA_TEXT + 16 * i;
	fn_rva[7] = (uint32_t)var;	/* PsInitialSystemProcess */
	fn_rva[8] = (uint32_t)mods;	/* PsLoadedModuleList */

	/* Code-like bytes where a probe crosses the 2 MiB page boundary. */
	image_randbytes(g, page, sizeof(page));
	image_write(g, f0 + RVA_TEXT, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f0 + GG_2M - GG_4K, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f1, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f1 + (RVA_DATA - GG_2M), page, sizeof(page));

	memset(page, 0, sizeof(page));
	exp_size = exports(g, page, fn_rva);
	image_write(g, f0 + RVA_EXPORT, page, sizeof(page));
	memset(page, 0, sizeof(page));
	headers(g, page, entry_rva, exp_size);
	image_write(g, f0, page, sizeof(page));

	image_put64(g, f1 + (var - GG_2M), g->sys_eproc);
	/* An empty LIST_ENTRY: Flink == Blink == itself. */
	image_put64(g, f1 + (mods - GG_2M), base + mods);
	image_put64(g, f1 + (mods - GG_2M) + 8, base + mods);

	probes(g);
}
