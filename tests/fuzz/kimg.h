/* SPDX-License-Identifier: MIT */
/*
 * A tiny hand-built Windows-x64-like guest for the kcr3 tests and the kcr3
 * fuzz target: a System PML4 with its self-map, a process PML4 sharing its
 * kernel half (scanned first: a decoy that must lead back to System), an
 * ntoskrnl.exe image at 0xfffff80000200000 exporting PsInitialSystemProcess,
 * the System EPROCESS, a low stub and a decoy stub.  Everything is
 * static: the header is included by one test and one fuzz target, which
 * keeps guestgen's bigger model out of fast loops.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TEST_KIMG_H
#define VMSIG_TEST_KIMG_H

#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define KIMG_SIZE	(4u << 20)
#define KIMG_KCR3	0x10000ull
#define KIMG_PROC	0x8000ull	/* below kcr3: the scan meets it first */
#define KIMG_PDPT	0x11000ull
#define KIMG_PD		0x12000ull
#define KIMG_PT		0x13000ull
#define KIMG_T300	0x14000ull
#define KIMG_T400	0x15000ull
#define KIMG_IMAGE	0x20000ull	/* 8 pages of ntoskrnl */
#define KIMG_STUB	0x5000ull
#define KIMG_DECOY_STUB	0x3000ull
#define KIMG_SELF	0x1ed
#define KIMG_KBASE	0xfffff80000200000ull
#define KIMG_EPROC_RVA	0x4000u
#define KIMG_ENTRY	(KIMG_KBASE + 0x2000)

/* what to leave out */
#define KIMG_NO_STUB	0x1u
#define KIMG_NO_PROC	0x2u

static inline void
kimg_put64(uint8_t *img, uint64_t pa, uint64_t v)
{
	memcpy(img + pa, &v, 8);
}

static inline void
kimg_put32(uint8_t *img, uint64_t pa, uint32_t v)
{
	memcpy(img + pa, &v, 4);
}

static inline void
kimg_pml4(uint8_t *img, uint64_t pml4)
{
	const uint64_t rw = 0x3;	/* present, writable, supervisor */

	kimg_put64(img, pml4 + 8 * KIMG_SELF, pml4 | rw | (1ull << 63));
	kimg_put64(img, pml4 + 8 * 496, KIMG_PDPT | rw);
	kimg_put64(img, pml4 + 8 * 300, KIMG_T300 | rw);
	kimg_put64(img, pml4 + 8 * 400, KIMG_T400 | rw);
}

static inline void
kimg_pe(uint8_t *img)
{
	uint8_t *b = img + KIMG_IMAGE;
	unsigned int i;

	b[0] = 'M';
	b[1] = 'Z';
	kimg_put32(b, 0x3c, 0x80);
	memcpy(b + 0x80, "PE\0\0", 4);
	b[0x84] = 0x64;			/* Machine 0x8664 */
	b[0x85] = 0x86;
	b[0x98] = 0x0b;			/* OptionalHeader.Magic 0x20b */
	b[0x99] = 0x02;
	kimg_put32(b, 0x98 + 56, 0x8000);	/* SizeOfImage */
	kimg_put32(b, 0x98 + 108, 16);		/* NumberOfRvaAndSizes */
	kimg_put32(b, 0x98 + 112, 0x1000);	/* export directory */
	kimg_put32(b, 0x98 + 116, 0x100);
	kimg_put32(b, 0x1000 + 12, 0x1080);	/* Name */
	kimg_put32(b, 0x1000 + 20, 2);		/* NumberOfFunctions */
	kimg_put32(b, 0x1000 + 24, 2);		/* NumberOfNames */
	kimg_put32(b, 0x1000 + 28, 0x10a0);
	kimg_put32(b, 0x1000 + 32, 0x10b0);
	kimg_put32(b, 0x1000 + 36, 0x10c0);
	memcpy(b + 0x1080, "ntoskrnl.exe", 13);
	kimg_put32(b, 0x10a0, 0x2000);
	kimg_put32(b, 0x10a4, 0x3000);
	kimg_put32(b, 0x10b0, 0x10d0);
	kimg_put32(b, 0x10b4, 0x10e0);
	b[0x10c0] = 0;
	b[0x10c2] = 1;
	memcpy(b + 0x10d0, "KeBugCheck", 11);
	memcpy(b + 0x10e0, "PsInitialSystemProcess", 23);
	kimg_put64(b, 0x3000, KIMG_KBASE + KIMG_EPROC_RVA);
	kimg_put64(b, KIMG_EPROC_RVA + 0x28, KIMG_KCR3);
	for (i = 0; i < 8; i++)
		kimg_put64(img, KIMG_PT + 8 * i, (KIMG_IMAGE + 0x1000 * i) | 3);
}

/* Fill img (KIMG_SIZE bytes, zeroed by the caller). */
static inline void
kimg_build(uint8_t *img, unsigned int flags)
{
	kimg_pml4(img, KIMG_KCR3);
	if (!(flags & KIMG_NO_PROC))
		kimg_pml4(img, KIMG_PROC);
	kimg_put64(img, KIMG_PDPT, KIMG_PD | 3);
	kimg_put64(img, KIMG_PD + 8, KIMG_PT | 3);	/* 2 MiB slot 1 */
	kimg_put64(img, KIMG_T300, 0x30000 | 3);	/* something present */
	kimg_put64(img, KIMG_T400, 0x31000 | 3);
	kimg_pe(img);
	if (flags & KIMG_NO_STUB)
		return;
	/* A decoy stub first: right signature, CR3 of an empty page. */
	kimg_put64(img, KIMG_DECOY_STUB, 0x00000001000600e9ull);
	kimg_put64(img, KIMG_DECOY_STUB + 0x70, KIMG_ENTRY);
	kimg_put64(img, KIMG_DECOY_STUB + 0xa0, 0x40000);
	kimg_put64(img, KIMG_STUB, 0x00000001000600e9ull | 0x4400);
	kimg_put64(img, KIMG_STUB + 0x70, KIMG_ENTRY);
	kimg_put64(img, KIMG_STUB + 0xa0, KIMG_KCR3);
}

/*
 * A sealed-size memfd holding img, written page by page so all-zero pages
 * stay holes.  Returns the fd or -errno.
 */
static inline int
kimg_memfd(const uint8_t *img, size_t size)
{
	static const uint8_t zero[4096];
	size_t off;
	int fd, r;

	if ((fd = memfd_create("kimg", MFD_CLOEXEC)) == -1)
		return -errno;
	if (ftruncate(fd, (off_t)size) == -1)
		goto fail;
	for (off = 0; off < size; off += 4096) {
		size_t n = size - off < 4096 ? size - off : 4096;

		if (memcmp(img + off, zero, n) == 0)
			continue;
		if (pwrite(fd, img + off, n, (off_t)off) != (ssize_t)n)
			goto fail;
	}
	return fd;
fail:
	r = errno ? -errno : -EIO;
	(void)close(fd);
	return r;
}

#endif
