/* SPDX-License-Identifier: MIT */
/*
 * kcr3 from a self-referencing PML4.  Windows x64 maps each PML4 into
 * itself through one kernel-half entry, so a page with exactly one such
 * entry is a page-table root -- but of some process, not necessarily of
 * System.  A candidate is only a way in: through it we find the kernel
 * image (ntoskrnl.exe) in the kernel image region, read the export
 * PsInitialSystemProcess, and take the System EPROCESS's
 * DirectoryTableBase.  That value must itself look like a PML4 and
 * validate.  The scan reads only allocated extents of the file, and only
 * the kernel half of each page, so it costs less than copying them.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "memctx.h"
#include "paging.h"

#define PAGE		LAYOUT_PAGE
#define NENT		512
#define KHALF		256
/* The kernel image lives in 0xfffff800'00000000..0xfffff807'ffffffff:
 * PML4 slot 496, PDPT slots 0..31, 2 MiB aligned. */
#define KIMG_PML4	496
#define KIMG_NPDPT	32
#define KIMG_VA		0xfffff80000000000ull
/* EPROCESS.Pcb.DirectoryTableBase (KPROCESS +0x28 on every x64 build). */
#define EPROC_DTB	0x28
/* A guest full of decoys must not keep us walking forever. */
#define MAX_TRIES	4096
/* An entry that points at its own page: present, writable, supervisor. */
#define SELF_MASK	(PTE_FRAME_4K | PTE_P | PTE_RW | PTE_US)
#define SELF_VAL(pa)	((pa) | PTE_P | PTE_RW)

struct scan {
	struct ram *ram;
	struct kcr3_result *res;
	uint32_t tries;
	int err;		/* a read error that ended the walk */
};

int
kcr3_selfref_candidate(const struct ram *ram, uint64_t pa, const uint64_t *q)
{
	unsigned int i, self = 0, other = 0;
	uint64_t e, frame;

	for (i = KHALF; i < NENT; i++) {
		e = q[i];
		if (!(e & PTE_P))
			continue;
		if (e & PTE_PS)		/* reserved in a PML4E */
			return 0;
		frame = e & PTE_FRAME_4K;
		if (frame == pa) {
			if ((e & SELF_MASK) != SELF_VAL(pa))
				return 0;
			self++;
		} else if (ram_contains(ram, frame, PAGE))
			other++;
	}
	return self == 1 && other >= 2;
}

struct probe {
	struct ram *ram;
	uint64_t cr3;
};

static int
probe_read(void *arg, uint64_t va, void *buf, size_t len)
{
	struct probe *p = arg;

	return ram_read_va(p->ram, p->cr3, va, buf, len);
}

/*
 * The kernel image at va (first page at pa) leads to System's DTB?  1 and
 * res filled, 0 not this one.
 */
static int
try_image(struct ram *ram, uint64_t cr3, uint64_t va, uint64_t pa,
    struct kcr3_result *res)
{
	struct probe p = { ram, cr3 };
	uint64_t q[NENT], sym, eproc, dtb;
	uint8_t mz[2];

	if (ram_read(ram, pa, mz, 2) < 0 || mz[0] != 'M' || mz[1] != 'Z')
		return 0;
	if (pe_is_image(probe_read, &p, va, "ntoskrnl.exe", NULL) != 1 ||
	    pe_find_export(probe_read, &p, va, "PsInitialSystemProcess",
	    &sym) < 0)
		return 0;
	if (ram_read_va(ram, cr3, sym, &eproc, 8) < 0 ||
	    ram_read_va(ram, cr3, eproc + EPROC_DTB, &dtb, 8) < 0)
		return 0;
	dtb &= CR3_FRAME;
	if (ram_read(ram, dtb, q, PAGE) < 0 ||
	    !kcr3_selfref_candidate(ram, dtb, q) ||
	    kcr3_validate(ram, dtb, 0) < 0)
		return 0;
	res->kcr3 = dtb;
	res->kernel_base = va;
	res->system_eprocess = eproc;
	return 1;
}

/* The first page of each mapped 2 MiB slot of one PDPT entry. */
static int
walk_pdpte(struct ram *ram, uint64_t cr3, uint64_t e, uint64_t va,
    struct kcr3_result *res)
{
	uint64_t pd[NENT], d, pte;
	unsigned int k;

	if (e & PTE_PS) {	/* a 1 GiB page: every slot is mapped */
		for (k = 0; k < NENT; k++)
			if (try_image(ram, cr3, va + ((uint64_t)k << 21),
			    (e & PTE_FRAME_1G) + ((uint64_t)k << 21), res))
				return 1;
		return 0;
	}
	if (ram_read(ram, e & PTE_FRAME_4K, pd, PAGE) < 0)
		return 0;
	for (k = 0; k < NENT; k++) {
		d = pd[k];
		if (!(d & PTE_P))
			continue;
		if (!(d & PTE_PS)) {
			if (ram_read_u64(ram, d & PTE_FRAME_4K, &pte) < 0 ||
			    !(pte & PTE_P))
				continue;
			d = pte & PTE_FRAME_4K;
		} else
			d &= PTE_FRAME_2M;
		if (try_image(ram, cr3, va + ((uint64_t)k << 21), d, res))
			return 1;
	}
	return 0;
}

/* Through candidate cr3, look for ntoskrnl; 1 found (res filled), 0 not. */
static int
try_candidate(struct ram *ram, uint64_t cr3, const uint64_t *q,
    struct kcr3_result *res)
{
	uint64_t pdpt[NENT], e = q[KIMG_PML4];
	unsigned int j;

	if (!(e & PTE_P) || (e & PTE_PS))
		return 0;
	if (ram_read(ram, e & PTE_FRAME_4K, pdpt, PAGE) < 0)
		return 0;
	for (j = 0; j < KIMG_NPDPT; j++) {
		if (!(pdpt[j] & PTE_P))
			continue;
		if (walk_pdpte(ram, cr3, pdpt[j],
		    KIMG_VA + ((uint64_t)j << 30), res))
			return 1;
	}
	return 0;
}

/*
 * Cheap first look: could any kernel-half entry point at this page?  Only
 * the low dword of each entry is compared (frame bits 31:12, P, RW, US),
 * 16 bytes at a time with the GCC/Clang vector extension, so the scan is
 * bound by memory like memcpy; a hit gets the exact test afterwards.
 */
typedef uint32_t v4u32 __attribute__((vector_size(16)));

static int
maybe_self(const uint8_t *p, uint64_t pa)
{
	const uint32_t lo = (uint32_t)pa | (uint32_t)(PTE_P | PTE_RW);
	/* Odd lanes are high dwords: masked to 0, compared with 1: never. */
	const v4u32 m = { 0xfffff007u, 0, 0xfffff007u, 0 };
	const v4u32 v = { lo, 1, lo, 1 };
	v4u32 a = { 0, 0, 0, 0 }, b = a, x, y;
	size_t i;

	for (i = KHALF * 8; i < PAGE; i += 32) {
		memcpy(&x, p + i, sizeof(x));
		memcpy(&y, p + i + 16, sizeof(y));
		a |= (v4u32)((x & m) == v);
		b |= (v4u32)((y & m) == v);
	}
	a |= b;
	return (a[0] | a[2]) != 0;
}

static int
has_self_entry(const uint64_t *q, uint64_t pa)
{
	unsigned int i;

	for (i = KHALF; i < NENT; i++)
		if ((q[i] & SELF_MASK) == SELF_VAL(pa))
			return 1;
	return 0;
}

static int
scan_extent(void *arg, uint64_t gpa, const uint8_t *p, uint64_t len)
{
	struct scan *s = arg;
	uint64_t q[NENT], off;

	for (off = 0; off + PAGE <= len; off += PAGE) {
		s->res->bytes_scanned += PAGE;
		if (!maybe_self(p + off, gpa + off))
			continue;
		/* Copy before judging: the guest may change the page. */
		memcpy(q, p + off, PAGE);
		if (!has_self_entry(q, gpa + off) ||
		    !kcr3_selfref_candidate(s->ram, gpa + off, q))
			continue;
		s->res->candidates++;
		if (try_candidate(s->ram, gpa + off, q, s->res))
			return 1;
		if (++s->tries >= MAX_TRIES)
			return 2;
	}
	return 0;
}

int
kcr3_selfref_find(struct ram *ram, struct kcr3_result *ret)
{
	struct kcr3_result res;
	struct scan s;
	int r;

	memset(&res, 0, sizeof(res));
	s = (struct scan){ .ram = ram, .res = &res };
	r = ram_extents(ram, scan_extent, &s);
	ret->bytes_scanned = res.bytes_scanned;
	ret->candidates = res.candidates;
	if (r < 0)
		return r;
	if (r == 1) {
		ret->kcr3 = res.kcr3;
		ret->kernel_base = res.kernel_base;
		ret->system_eprocess = res.system_eprocess;
		return 0;
	}
	return res.candidates == 0 ? -ENOENT : -ESRCH;
}
