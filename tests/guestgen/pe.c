/* SPDX-License-Identifier: MIT */
/*
 * The kernel image of the synthetic guest: a 4 MiB PE32+ "ntoskrnl.exe"
 * mapped with two 2 MiB pages that are not physically adjacent (one of
 * them with the PAT bit set), at a random 2 MiB-aligned VA in
 * 0xfffff80000000000-0xfffff807ffffffff.  Only what a reader needs exists:
 * the MZ and PE headers with ntoskrnl's sections (.text, PAGE, .rdata,
 * .data, .pdata, INIT, .rsrc, .reloc), an export directory of 1100 sorted
 * names (real ones among made-up ones) whose data exports are
 * PsInitialSystemProcess (holds the System EPROCESS VA), PsLoadedModuleList
 * (a LIST_ENTRY head) and NtBuildNumber (build | 0xF0000000), the
 * unexported PsActiveProcessHead and MmProcessList heads in .data, and the
 * code of the exported EPROCESS accessors (PsGetProcessId: mov rax,
 * [rcx+UniqueProcessId]; ret, ...) for the build's layout.  The rest of
 * the image is holes.
 *
 * Runs in: tests (guestgen)
 */
#include <stdint.h>
#include <stdlib.h>
#include <err.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "win.h"

#define IMG_SIZE	PE_KIMG_SIZE
#define RVA_TEXT	0x1000u
#define RVA_PAGE	0x160000u
#define RVA_EXPORT	0x1b0000u	/* start of .rdata */
#define RVA_DATA	(GG_2M + 0x3000u)
#define EXP_MAX		0x40000u
#define NEXPORTS	1100u
#define RVA_IAT		0x1e0000u	/* imports: IAT, then descriptors */
#define IMP_SIZE	0x1000u

/* Real ntoskrnl exports; the rest of the table is made up.  Unsorted. */
static const char *const pe_real[] = {
	"ExAllocatePool2", "ExAllocatePoolWithTag", "ExFreePoolWithTag",
	"IoCreateDevice", "IoDeleteDevice", "IofCompleteRequest",
	"KeBugCheckEx", "KeDelayExecutionThread", "KeGetCurrentThread",
	"KeQuerySystemTimePrecise", "KeStackAttachProcess",
	"KeUnstackDetachProcess", "MmCopyVirtualMemory", "MmGetPhysicalAddress",
	"MmGetSystemRoutineAddress", "MmIsAddressValid", "MmMapIoSpace",
	"NtBuildNumber", "NtClose", "NtQuerySystemInformation",
	"ObReferenceObjectByHandle", "ObfDereferenceObject",
	"PsGetCurrentProcess", "PsGetCurrentProcessId", "PsGetCurrentThread",
	"PsGetProcessCreateTimeQuadPart", "PsGetProcessExitStatus",
	"PsGetProcessId", "PsGetProcessImageFileName",
	"PsGetProcessInheritedFromUniqueProcessId", "PsGetProcessPeb",
	"PsGetProcessSectionBaseAddress", "PsGetProcessWow64Process",
	"PsInitialSystemProcess", "PsLoadedModuleList",
	"PsLookupProcessByProcessId", "PsProcessType", "PsThreadType",
	"RtlCompareMemory", "RtlCopyUnicodeString", "RtlGetVersion",
	"RtlInitUnicodeString", "ZwClose", "ZwCreateFile", "ZwOpenProcess",
	"ZwQueryInformationProcess", "ZwQuerySystemInformation", "_stricmp",
	"memcpy", "memset", "strlen", "wcslen",
};
#define NREAL	(sizeof(pe_real) / sizeof(pe_real[0]))

/* What ntoskrnl imports, grouped by module (consecutive). */
static const struct {
	const char *module, *name;
	uint16_t hint;
} pe_imps[] = {
	{ "HAL.dll", "KeQueryPerformanceCounter", 0x2d },
	{ "HAL.dll", "KeStallExecutionProcessor", 0x2e },
	{ "HAL.dll", "HalGetInterruptVector", 0x12 },
	{ "kd.dll", "KdDebuggerInitialize0", 0x3 },
	{ "kd.dll", "KdD0Transition", 0x0 },
	{ "CI.dll", "CiInitialize", 0x9 },
};
#define NIMP	(sizeof(pe_imps) / sizeof(pe_imps[0]))
#define NIMPMOD	3

static const char *const pe_prefix[] = {
	"Cc", "Ex", "Fs", "Io", "Ke", "Mm", "Ob", "Po", "Ps", "Rtl", "Se", "Zw",
};

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

/* Write at an RVA of the image (two 2 MiB frames). */
void
pe_kwrite(struct guest *g, uint32_t rva, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (; len > 0; len--, rva++, b++)
		image_write(g, rva < GG_2M ? g->kimg[0] + rva :
		    g->kimg[1] + (rva - GG_2M), b, 1);
}

static const struct {
	const char *name;
	uint32_t rva, size, chars;
} pe_secs[] = {
	{ ".text", RVA_TEXT, RVA_PAGE - RVA_TEXT - 0x3a0, 0x68000020 },
	{ "PAGE", RVA_PAGE, RVA_EXPORT - RVA_PAGE - 0x1c4, 0x60000020 },
	{ ".rdata", RVA_EXPORT, (uint32_t)GG_2M - RVA_EXPORT, 0x48000040 },
	{ ".data", (uint32_t)GG_2M, 0x100000, 0xc8000040 },
	{ ".pdata", 0x300000, 0x3f000, 0x48000040 },
	{ "INIT", 0x340000, 0x9d000, 0x62000020 },
	{ ".rsrc", 0x3e0000, 0x8400, 0x42000040 },
	{ ".reloc", 0x3f0000, 0x2e0c, 0x42000040 },
};
#define NSECS	(sizeof(pe_secs) / sizeof(pe_secs[0]))

static void
section(uint8_t *s, const char *name, uint32_t rva, uint32_t size,
    uint32_t chars)
{
	memcpy(s, name, strlen(name));
	put32(s + 8, size);	/* VirtualSize */
	put32(s + 12, rva);	/* VirtualAddress */
	put32(s + 16, (size + 0x1ff) & ~0x1ffu);	/* SizeOfRawData */
	put32(s + 20, rva - 0x600);	/* PointerToRawData */
	put32(s + 36, chars);
}

/* DOS header, PE signature, file header, PE32+ optional header, sections. */
static void
headers(struct guest *g, uint8_t *p, uint32_t entry_rva, uint32_t exp_size)
{
	uint32_t nt = 0x80 + 8 * (uint32_t)image_randn(g, 32), i;
	uint8_t *fh = p + nt + 4, *oh = fh + 20;

	p[0] = 'M';
	p[1] = 'Z';
	put32(p + 0x3c, nt);		/* e_lfanew */
	memcpy(p + nt, "PE\0\0", 4);
	put16(fh, 0x8664);		/* Machine: AMD64 */
	put16(fh + 2, NSECS);		/* NumberOfSections */
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
	put32(oh + 60, 0x600);		/* SizeOfHeaders */
	put16(oh + 68, 1);		/* Subsystem: native */
	put32(oh + 108, 16);		/* NumberOfRvaAndSizes */
	put32(oh + 112, RVA_EXPORT);	/* DataDirectory[0]: exports */
	put32(oh + 116, exp_size);
	put32(oh + 112 + 3 * 8, pe_secs[4].rva);	/* exceptions */
	put32(oh + 116 + 3 * 8, pe_secs[4].size);
	put32(oh + 112 + 1 * 8, RVA_IAT + 0x100);	/* imports */
	put32(oh + 116 + 1 * 8, 20 * (NIMPMOD + 1));
	put32(oh + 112 + 12 * 8, RVA_IAT);		/* IAT */
	put32(oh + 116 + 12 * 8, 8 * (NIMP + NIMPMOD));
	put32(oh + 112 + 5 * 8, pe_secs[7].rva);	/* relocations */
	put32(oh + 116 + 5 * 8, pe_secs[7].size);
	for (i = 0; i < NSECS; i++)
		section(oh + 0xf0 + 40 * i, pe_secs[i].name, pe_secs[i].rva,
		    pe_secs[i].size, pe_secs[i].chars);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The export names, sorted as the loader's binary search needs. */
static char **
export_names(void)
{
	static char made[NEXPORTS][40];
	static char *v[NEXPORTS];
	size_t i;

	for (i = 0; i < NEXPORTS; i++) {
		if (i < NREAL)
			snprintf(made[i], sizeof(made[i]), "%s", pe_real[i]);
		else
			snprintf(made[i], sizeof(made[i]), "%sKernelRoutine%04zu",
			    pe_prefix[i % 12], i);
		v[i] = made[i];
	}
	qsort(v, NEXPORTS, sizeof(v[0]), cmp_str);
	return v;
}

/* Code of the exported EPROCESS accessors, as the real kernel has it. */
static size_t
accessor(const struct win_layout *L, const char *name, uint8_t *c)
{
	static const uint8_t cur[] = { 0x65, 0x48, 0x8b, 0x04, 0x25, 0x88,
		0x01, 0x00, 0x00, 0x48, 0x8b, 0x80, 0xb8, 0x00, 0x00, 0x00, 0xc3 };
	static const struct { const char *n; uint8_t op[3]; size_t off; } a[] = {
		{ "PsGetProcessId", { 0x48, 0x8b, 0x81 }, offsetof(struct win_layout, pid) },
		{ "PsGetProcessPeb", { 0x48, 0x8b, 0x81 }, offsetof(struct win_layout, peb) },
		{ "PsGetProcessInheritedFromUniqueProcessId", { 0x48, 0x8b, 0x81 },
		  offsetof(struct win_layout, ppid) },
		{ "PsGetProcessImageFileName", { 0x48, 0x8d, 0x81 },
		  offsetof(struct win_layout, fname) },
		{ "PsGetProcessWow64Process", { 0x48, 0x8b, 0x81 },
		  offsetof(struct win_layout, wow64) },
		{ "PsGetProcessExitStatus", { 0x90, 0x8b, 0x81 },
		  offsetof(struct win_layout, exitstatus) },
		{ "PsGetProcessSectionBaseAddress", { 0x48, 0x8b, 0x81 },
		  offsetof(struct win_layout, section_base) },
		{ "PsGetProcessCreateTimeQuadPart", { 0x48, 0x8b, 0x81 },
		  offsetof(struct win_layout, ctime) },
	};
	uint16_t off;
	size_t i, n = 0;

	if (strcmp(name, "PsGetCurrentProcess") == 0) {
		memcpy(c, cur, sizeof(cur));
		return sizeof(cur);
	}
	for (i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		if (strcmp(name, a[i].n) != 0)
			continue;
		memcpy(&off, (const char *)L + a[i].off, 2);
		if (a[i].op[0] != 0x90)
			c[n++] = a[i].op[0];
		c[n++] = a[i].op[1];
		c[n++] = a[i].op[2];
		put32(c + n, off);
		n += 4;
		c[n++] = 0xc3;	/* ret */
		return n;
	}
	return 0;
}

/*
 * The import directory: IAT (bound addresses) at RVA_IAT, descriptors
 * after it, then the INT, hint/name entries and module names.
 */
static void
imports(struct guest *g)
{
	uint8_t b[IMP_SIZE];
	uint32_t desc = 0x100, intt = 0x200, str = 0x300, k = 0, d = 0, i;
	uint64_t v;

	memset(b, 0, sizeof(b));
	for (i = 0; i < NIMP; i++, k++) {
		if (i == 0 || strcmp(pe_imps[i].module, pe_imps[i - 1].module)) {
			k += i > 0;	/* the previous list's terminator */
			put32(b + desc + 20 * d, RVA_IAT + intt + 8 * k);
			put32(b + desc + 20 * d + 12, RVA_IAT + str);
			put32(b + desc + 20 * d + 16, RVA_IAT + 8 * k);
			memcpy(b + str, pe_imps[i].module,
			    strlen(pe_imps[i].module) + 1);
			str += ((uint32_t)strlen(pe_imps[i].module) + 2) & ~1u;
			d++;
		}
		put64(b + intt + 8 * k, RVA_IAT + str);
		put16(b + str, pe_imps[i].hint);
		memcpy(b + str + 2, pe_imps[i].name, strlen(pe_imps[i].name) + 1);
		str += (uint32_t)(2 + strlen(pe_imps[i].name) + 2) & ~1u;
		v = 0xfffff80000000000ull + image_randn(g, 1ull << 34);
		put64(b + 8 * k, v);
		if (g->win != NULL)
			win_kimport(g, pe_imps[i].module, pe_imps[i].name,
			    pe_imps[i].hint, RVA_IAT + 8 * k);
	}
	pe_kwrite(g, RVA_IAT, b, str);
}

struct kvars {
	uint32_t psisp, mods, active, build, mm;
};

/* The RVA export `name` points at. */
static uint32_t
export_rva(const char *name, uint32_t fn, const struct kvars *v)
{
	if (strcmp(name, "PsInitialSystemProcess") == 0)
		return v->psisp;
	if (strcmp(name, "PsLoadedModuleList") == 0)
		return v->mods;
	if (strcmp(name, "NtBuildNumber") == 0)
		return v->build;
	return RVA_TEXT + 0x40 * (fn % 0x5700);
}

/*
 * IMAGE_EXPORT_DIRECTORY and its tables in .rdata.  Name i's ordinal is a
 * shuffled function index, so a reader that skips AddressOfNameOrdinals
 * finds the wrong function.  Writes the accessors' code; returns the
 * directory's size.
 */
static uint32_t
exports(struct guest *g, const struct kvars *kv, const struct win_layout *L)
{
	static uint32_t perm[NEXPORTS];
	char **names = export_names();
	uint8_t *p = calloc(1, EXP_MAX), code[32];
	uint32_t fn = 0x28, nm = fn + 4 * NEXPORTS,
	    ord = nm + 4 * NEXPORTS, str = ord + 2 * NEXPORTS, i, j, t, rva;
	size_t n;

	if (p == NULL)
		err(2, "out of memory");
	for (i = 0; i < NEXPORTS; i++)
		perm[i] = i;
	for (i = NEXPORTS - 1; i > 0; i--) {
		j = (uint32_t)image_randn(g, i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	memcpy(p + str, "ntoskrnl.exe", 13);
	put32(p + 12, RVA_EXPORT + str);	/* Name */
	str += 13;
	put32(p + 16, 1);			/* Base */
	put32(p + 20, NEXPORTS);		/* NumberOfFunctions */
	put32(p + 24, NEXPORTS);		/* NumberOfNames */
	put32(p + 28, RVA_EXPORT + fn);		/* AddressOfFunctions */
	put32(p + 32, RVA_EXPORT + nm);		/* AddressOfNames */
	put32(p + 36, RVA_EXPORT + ord);	/* AddressOfNameOrdinals */
	for (i = 0; i < NEXPORTS; i++) {
		rva = export_rva(names[i], perm[i], kv);
		put32(p + fn + 4 * perm[i], rva);
		put32(p + nm + 4 * i, RVA_EXPORT + str);
		put16(p + ord + 2 * i, (uint16_t)perm[i]);
		memcpy(p + str, names[i], strlen(names[i]) + 1);
		str += (uint32_t)strlen(names[i]) + 1;
		if (g->win != NULL)
			win_kexport(g, names[i], 1 + perm[i], rva);
		memset(code, 0xcc, sizeof(code));
		if ((n = accessor(L, names[i], code)) > 0)
			pe_kwrite(g, rva, code, 16 * ((n + 15) / 16));
	}
	pe_kwrite(g, RVA_EXPORT, p, str);
	free(p);
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
	scene_probe(g, g->kcr3, base + RVA_EXPORT + 0x28 + 10 * NEXPORTS, 13);
	scene_probe(g, g->kcr3, base + RVA_EXPORT, 40);
	scene_probe(g, g->kcr3, g->psisp_va, 8);
	scene_probe(g, g->kcr3, base + GG_2M - 32, 64);
	scene_probe(g, g->kcr3, base + RVA_DATA + 0x800, 48);
	scene_probe(g, g->kcr3, g->kernel_entry, 16);
}

/* An empty LIST_ENTRY: Flink == Blink == itself. */
static void
empty_list(struct guest *g, uint32_t rva)
{
	uint64_t va = g->kernel_base + rva;

	pe_kwrite(g, rva, &va, 8);
	pe_kwrite(g, rva + 8, &va, 8);
}

void
pe_build(struct guest *g)
{
	uint64_t f0 = g->kimg[0], f1 = g->kimg[1], base, pat;
	const struct win_layout *L = g->win ? g->win->L :
	    win_layout_find("19045");
	uint32_t entry_rva, exp_size, build;
	struct kvars kv;
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
	/* Below the probe at RVA_DATA + 0x800: the list heads change later. */
	kv.psisp = (uint32_t)(RVA_DATA + 16 * image_randn(g, 120));
	kv.mods = kv.psisp + 8;
	kv.active = (uint32_t)(RVA_DATA + 0x900 + 16 * image_randn(g, 32));
	kv.build = (uint32_t)(RVA_DATA + 0xc00 + 4 * image_randn(g, 16));
	kv.mm = (uint32_t)(RVA_DATA + 0xe00 + 16 * image_randn(g, 16));
	g->psisp_va = base + kv.psisp;

	/* Code-like bytes where a probe crosses the 2 MiB page boundary. */
	image_randbytes(g, page, sizeof(page));
	image_write(g, f0 + RVA_TEXT, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f0 + GG_2M - GG_4K, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f1, page, sizeof(page));
	image_randbytes(g, page, sizeof(page));
	image_write(g, f1 + (RVA_DATA - GG_2M), page, sizeof(page));

	if (g->win != NULL) {
		unsigned int i;

		win_kimage(g, entry_rva, NEXPORTS);
		for (i = 0; i < NSECS; i++)
			win_ksection(g, pe_secs[i].name, pe_secs[i].rva,
			    pe_secs[i].size, pe_secs[i].chars);
	}
	exp_size = exports(g, &kv, L);
	imports(g);
	memset(page, 0, sizeof(page));
	headers(g, page, entry_rva, exp_size);
	image_write(g, f0, page, sizeof(page));

	image_put64(g, f1 + (kv.psisp - GG_2M), g->sys_eproc);
	empty_list(g, kv.mods);
	empty_list(g, kv.active);
	empty_list(g, kv.mm);
	build = 0xf0000000u | (g->win ? (uint32_t)g->win->build_raw : 19045);
	pe_kwrite(g, kv.build, &build, 4);
	if (g->win != NULL) {
		g->win->active_head = base + kv.active;
		g->win->module_head = base + kv.mods;
		g->win->mm_head = base + kv.mm;
	}
	probes(g);
}
