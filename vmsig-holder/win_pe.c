/* SPDX-License-Identifier: MIT */
/*
 * PE images in guest memory: the DOS and NT headers and the section table
 * of an image mapped at a virtual address, read once and checked (MZ, PE
 * signature, PE32+ or PE32, SizeOfImage, the section count against the
 * loader's own limit, the section table inside the image), then bounded
 * reads by RVA for the export and import parsers.  An RVA or length outside
 * SizeOfImage is -EBADMSG before anything is read.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "win_int.h"

#define DOS_LFANEW	0x3c
#define NT_MAX_LFANEW	0xf00u
#define FILE_HDR_LEN	24		/* "PE\0\0" + IMAGE_FILE_HEADER */
#define OPT_MAX		240u		/* PE32+ optional header, 16 dirs */
#define OPT_ENTRY	16
#define OPT_SIZE_IMAGE	56
#define SEC_LEN		40
/* Windows maps nothing this big as one image; a larger claim is garbage. */
#define PE_MAX_IMAGE	(1u << 30)

int
win_pe_read(struct vmsig_win_pe *pe, uint32_t rva, void *buf, size_t len)
{
	if (!win_pe_in(pe, rva, len))
		return -EBADMSG;
	return vmsig_mem_read_va(pe->win->mem, pe->cr3, pe->base + rva, buf,
	    len, NULL);
}

int
win_pe_cstr(struct vmsig_win_pe *pe, uint32_t rva, char *buf, size_t cap)
{
	if (rva >= pe->size)
		return -EBADMSG;
	return win_str_cstr(pe->win->mem, pe->cr3, pe->base + rva,
	    pe->size - rva, buf, cap, NULL);
}

/* "ntdll" and "NTDLL.DLL" both match "ntdll.dll". */
int
win_pe_name_eq(const char *modname, const char *want)
{
	const char *dot;

	if (modname == NULL || want == NULL)
		return 0;
	if (strcasecmp(modname, want) == 0)
		return 1;
	dot = strrchr(modname, '.');
	return dot != NULL && strchr(want, '.') == NULL &&
	    strlen(want) == (size_t)(dot - modname) &&
	    strncasecmp(modname, want, (size_t)(dot - modname)) == 0;
}

/* The optional header's fields we keep; -ENOEXEC when it is not PE. */
static int
parse_opt(struct vmsig_win_pe *pe, const uint8_t *o, uint32_t soh)
{
	uint32_t dirs, nrva, i;
	uint16_t magic = win_le16(o);

	if (magic == 0x20b && soh >= 112) {
		pe->bits = 64;
		nrva = win_le32(o + 108);
		dirs = 112;
	} else if (magic == 0x10b && soh >= 96) {
		pe->bits = 32;
		nrva = win_le32(o + 92);
		dirs = 96;
	} else
		return -ENOEXEC;
	pe->entry_rva = win_le32(o + OPT_ENTRY);
	pe->size = win_le32(o + OPT_SIZE_IMAGE);
	if (pe->size < WIN_PAGE || pe->size > PE_MAX_IMAGE)
		return -ENOEXEC;
	for (i = 0; i < 2; i++) {
		if (i >= nrva || dirs + 8 * i + 8 > soh)
			break;
		pe->dir_rva[i] = win_le32(o + dirs + 8 * i);
		pe->dir_size[i] = win_le32(o + dirs + 8 * i + 4);
	}
	return 0;
}

static int
read_headers(struct vmsig_win_pe *pe)
{
	uint8_t b[OPT_MAX], f[FILE_HDR_LEN];
	uint32_t lfanew, soh, n;
	struct vmsig_mem *m = pe->win->mem;
	int r;

	if ((r = vmsig_mem_read_va(m, pe->cr3, pe->base, b, 0x40, NULL)) < 0)
		return r;
	if (b[0] != 'M' || b[1] != 'Z')
		return -ENOEXEC;
	lfanew = win_le32(b + DOS_LFANEW);
	if (lfanew < 0x40 || lfanew > NT_MAX_LFANEW || (lfanew & 3))
		return -ENOEXEC;
	r = vmsig_mem_read_va(m, pe->cr3, pe->base + lfanew, f, sizeof(f),
	    NULL);
	if (r < 0)
		return r;
	if (memcmp(f, "PE\0\0", 4) != 0)
		return -ENOEXEC;
	pe->nsec = win_le16(f + 6);
	soh = win_le16(f + 20);
	if (pe->nsec > VMSIG_WIN_MAX_SECTIONS || soh < 96)
		return -ENOEXEC;
	n = soh < OPT_MAX ? soh : OPT_MAX;
	memset(b, 0, sizeof(b));
	r = vmsig_mem_read_va(m, pe->cr3, pe->base + lfanew + FILE_HDR_LEN, b,
	    n, NULL);
	if (r < 0)
		return r;
	if ((r = parse_opt(pe, b, n)) < 0)
		return r;
	n = lfanew + FILE_HDR_LEN + soh;
	if (!win_pe_in(pe, n, (uint64_t)pe->nsec * SEC_LEN))
		return -ENOEXEC;
	if (pe->nsec == 0)
		return 0;
	return vmsig_mem_read_va(m, pe->cr3, pe->base + n, pe->sec,
	    (size_t)pe->nsec * SEC_LEN, NULL);
}

int
vmsig_win_pe_open(struct vmsig_win *win, uint64_t cr3, uint64_t base,
    struct vmsig_win_pe **ret_pe)
{
	struct vmsig_win_pe *pe;
	int r;

	if (win == NULL || ret_pe == NULL)
		return -EINVAL;
	if ((base & (WIN_PAGE - 1)) != 0 || (!win_kva(base) && !win_uva(base)))
		return -ENOEXEC;
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		return -ENOMEM;
	pe->win = win;
	pe->cr3 = cr3 & WIN_FRAME;
	pe->base = base;
	if ((r = read_headers(pe)) < 0) {
		free(pe);
		return r;
	}
	*ret_pe = pe;
	return 0;
}

int
vmsig_win_pe_open_module(struct vmsig_win *win, uint32_t pid,
    const char *module, struct vmsig_win_pe **ret_pe)
{
	struct vmsig_win_modules *mods = NULL;
	const struct vmsig_win_module *md;
	const char *slash;
	uint64_t cr3;
	size_t i;
	int r;

	if (win == NULL || module == NULL || ret_pe == NULL)
		return -EINVAL;
	if ((r = vmsig_win_proc_dtb(win, pid, &cr3)) < 0)
		return r;
	if ((r = vmsig_win_mod_list(win, pid, &mods)) < 0)
		return r;
	r = -ENOENT;
	for (i = 0; i < mods->n; i++) {
		md = &mods->v[i];
		slash = md->path != NULL ? strrchr(md->path, '\\') : NULL;
		if (win_pe_name_eq(md->name, module) ||
		    (md->name == NULL && slash != NULL &&
		    win_pe_name_eq(slash + 1, module))) {
			r = vmsig_win_pe_open(win, cr3, md->base, ret_pe);
			break;
		}
	}
	vmsig_win_modules_free(mods);
	return r;
}

void
vmsig_win_pe_close(struct vmsig_win_pe *pe)
{
	free(pe);
}

int
vmsig_win_pe_info(const struct vmsig_win_pe *pe,
    struct vmsig_win_pe_info *ret)
{
	if (pe == NULL || ret == NULL)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->base = pe->base;
	ret->size = pe->size;
	ret->entry = pe->entry_rva != 0 && pe->entry_rva < pe->size ?
	    pe->base + pe->entry_rva : 0;
	ret->bits = pe->bits;
	ret->nsections = pe->nsec;
	return 0;
}

int
vmsig_win_pe_sections(struct vmsig_win_pe *pe,
    struct vmsig_win_section **ret)
{
	struct vmsig_win_section *v;
	const uint8_t *s;
	uint32_t i;

	if (pe == NULL || ret == NULL)
		return -EINVAL;
	if (pe->nsec == 0) {
		*ret = NULL;
		return 0;
	}
	if ((v = calloc(pe->nsec, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < pe->nsec; i++) {
		s = pe->sec[i];
		memcpy(v[i].name, s, 8);
		v[i].name[8] = '\0';
		v[i].size = win_le32(s + 8);
		v[i].va = pe->base + win_le32(s + 12);
		v[i].characteristics = win_le32(s + 36);
	}
	*ret = v;
	return (int)pe->nsec;
}
