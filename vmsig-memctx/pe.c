/* SPDX-License-Identifier: MIT */
/*
 * Just enough of the PE32+ format to find the guest kernel's exports: the
 * headers of an image mapped at a virtual address, its export directory's
 * name, and the address of one export by name.  Everything read is guest
 * data, so every RVA and every size is checked against SizeOfImage before
 * it is used, and all bytes arrive through the caller's reader (ram.c's).
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memctx.h"

/* IMAGE_DOS_HEADER.e_lfanew; the NT headers follow within the first page. */
#define DOS_LFANEW		0x3c
#define NT_MAX_LFANEW		0x800
#define NT_HDR_LEN		(4 + 20 + 112 + 8)	/* sig, file, opt, dir 0 */
#define NT_MACHINE		4	/* IMAGE_FILE_MACHINE_AMD64 0x8664 */
#define NT_OPT_MAGIC		24	/* PE32+: 0x20b */
#define NT_SIZE_OF_IMAGE	(24 + 56)
#define NT_NUM_RVA		(24 + 108)
#define NT_EXPORT_DIR		(24 + 112)
/* A kernel image is a few tens of MiB at most; refuse absurd sizes. */
#define PE_MAX_IMAGE		(256u << 20)
#define EXP_DIR_LEN		40
#define EXP_MAX_NAMES		0x10000u
#define PE_MAX_NAME		64

struct pe_hdr {
	uint32_t size;		/* SizeOfImage */
	uint32_t exp_rva, exp_size;
	uint32_t name_rva, nfunc, nname, funcs, names, ords;
};

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* 1 when [rva, rva + len) lies inside the image. */
static int
in_image(const struct pe_hdr *h, uint64_t rva, uint64_t len)
{
	return rva <= h->size && len <= h->size - rva;
}

/* Headers and export directory; 1 ok, 0 not an image we can use, -errno. */
static int
read_headers(pe_read_fn rd, void *arg, uint64_t base, struct pe_hdr *h)
{
	uint8_t b[NT_HDR_LEN], e[EXP_DIR_LEN];
	uint32_t lfanew;
	int r;

	if ((r = rd(arg, base, b, 0x40)) < 0)
		return r;
	if (b[0] != 'M' || b[1] != 'Z')
		return 0;
	lfanew = le32(b + DOS_LFANEW);
	if (lfanew < 0x40 || lfanew > NT_MAX_LFANEW)
		return 0;
	if ((r = rd(arg, base + lfanew, b, sizeof(b))) < 0)
		return r;
	if (memcmp(b, "PE\0\0", 4) != 0 || le16(b + NT_MACHINE) != 0x8664 ||
	    le16(b + NT_OPT_MAGIC) != 0x20b || le32(b + NT_NUM_RVA) < 1)
		return 0;
	h->size = le32(b + NT_SIZE_OF_IMAGE);
	h->exp_rva = le32(b + NT_EXPORT_DIR);
	h->exp_size = le32(b + NT_EXPORT_DIR + 4);
	if (h->size < 0x1000 || h->size > PE_MAX_IMAGE ||
	    h->exp_size < EXP_DIR_LEN || !in_image(h, h->exp_rva, h->exp_size))
		return 0;
	if ((r = rd(arg, base + h->exp_rva, e, sizeof(e))) < 0)
		return r;
	h->name_rva = le32(e + 12);
	h->nfunc = le32(e + 20);
	h->nname = le32(e + 24);
	h->funcs = le32(e + 28);
	h->names = le32(e + 32);
	h->ords = le32(e + 36);
	if (h->nname > EXP_MAX_NAMES || h->nfunc > EXP_MAX_NAMES ||
	    !in_image(h, h->funcs, 4ull * h->nfunc) ||
	    !in_image(h, h->names, 4ull * h->nname) ||
	    !in_image(h, h->ords, 2ull * h->nname))
		return 0;
	return 1;
}

/* Read the NUL-terminated string at rva into buf (at most cap - 1 chars). */
static int
read_name(pe_read_fn rd, void *arg, uint64_t base, const struct pe_hdr *h,
    uint32_t rva, char *buf, size_t cap)
{
	uint64_t n = cap - 1;
	int r;

	if (rva >= h->size)
		return -EBADMSG;
	if (n > h->size - rva)
		n = h->size - rva;
	if ((r = rd(arg, base + rva, buf, n)) < 0)
		return r;
	buf[n] = '\0';
	return 0;
}

int
pe_is_image(pe_read_fn rd, void *arg, uint64_t va, const char *name,
    uint32_t *ret_size)
{
	struct pe_hdr h;
	char buf[PE_MAX_NAME];
	int r;

	if (rd == NULL || name == NULL || strlen(name) >= sizeof(buf))
		return -EINVAL;
	if ((r = read_headers(rd, arg, va, &h)) <= 0)
		return r;
	if (read_name(rd, arg, va, &h, h.name_rva, buf, sizeof(buf)) < 0)
		return 0;
	if (strcasecmp(buf, name) != 0)
		return 0;
	if (ret_size != NULL)
		*ret_size = h.size;
	return 1;
}

/* Compare export name i with sym; sets *cmp like strcmp. */
static int
cmp_name(pe_read_fn rd, void *arg, uint64_t base, const struct pe_hdr *h,
    const uint8_t *names, uint32_t i, const char *sym, int *cmp)
{
	char buf[PE_MAX_NAME];
	int r;

	r = read_name(rd, arg, base, h, le32(names + 4 * i), buf, sizeof(buf));
	if (r < 0)
		return r;
	*cmp = strcmp(buf, sym);
	return 0;
}

/* Index of sym in the name table: binary search (the format sorts the
 * names), then a linear pass in case this image does not. */
static int
find_name(pe_read_fn rd, void *arg, uint64_t base, const struct pe_hdr *h,
    const uint8_t *names, const char *sym, uint32_t *ret_i)
{
	uint32_t lo = 0, hi = h->nname, mid, i;
	int c, r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((r = cmp_name(rd, arg, base, h, names, mid, sym, &c)) < 0)
			return r;
		if (c == 0) {
			*ret_i = mid;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = 0; i < h->nname; i++) {
		if ((r = cmp_name(rd, arg, base, h, names, i, sym, &c)) < 0)
			return r;
		if (c == 0) {
			*ret_i = i;
			return 0;
		}
	}
	return -ENOENT;
}

int
pe_find_export(pe_read_fn rd, void *arg, uint64_t base, const char *sym,
    uint64_t *ret_va)
{
	struct pe_hdr h;
	uint8_t *names = NULL, b[4];
	uint32_t i, rva;
	uint16_t ord;
	int r;

	if (rd == NULL || sym == NULL || ret_va == NULL ||
	    strlen(sym) >= PE_MAX_NAME)
		return -EINVAL;
	if ((r = read_headers(rd, arg, base, &h)) <= 0)
		return r < 0 ? r : -EBADMSG;
	if (h.nname == 0)
		return -ENOENT;
	if ((names = malloc(4ull * h.nname)) == NULL)
		return -ENOMEM;
	if ((r = rd(arg, base + h.names, names, 4ull * h.nname)) < 0 ||
	    (r = find_name(rd, arg, base, &h, names, sym, &i)) < 0)
		goto out;
	if ((r = rd(arg, base + h.ords + 2ull * i, b, 2)) < 0)
		goto out;
	ord = le16(b);
	r = -EBADMSG;
	if (ord >= h.nfunc)
		goto out;
	if ((r = rd(arg, base + h.funcs + 4ull * ord, b, 4)) < 0)
		goto out;
	rva = le32(b);
	/* An RVA inside the export directory is a forwarder string. */
	r = -EBADMSG;
	if (rva == 0 || rva >= h.size ||
	    (rva >= h.exp_rva && rva - h.exp_rva < h.exp_size))
		goto out;
	*ret_va = base + rva;
	r = 0;
out:
	free(names);
	return r;
}
