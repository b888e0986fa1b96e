/* SPDX-License-Identifier: MIT */
/*
 * The export directory of a PE image: the whole table in ordinal order
 * (three array reads, names resolved from one copy of the directory where
 * the linker put them), and one export by name through a binary search of
 * AddressOfNames, which the format keeps sorted (O(log n) reads).  A
 * function RVA inside the directory's own range is a forwarder: its
 * "DLL.Name" string is reported instead of an address.  Counts are capped
 * by VMSIG_WIN_MAX_EXPORTS and every array must lie inside the image.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win_int.h"

#define EXP_DIR_LEN	40
/* Directories up to this size are read whole to resolve names from. */
#define EXP_COPY_MAX	(4u << 20)
#define EXP_NAME_MAX	256u

struct expdir {
	uint32_t name_rva, base, nfunc, nname, funcs, names, ords;
};

/* 1 and *d, 0 when there is no directory, -errno. */
static int
load_dir(struct vmsig_win_pe *pe, struct expdir *d)
{
	uint8_t e[EXP_DIR_LEN];
	uint32_t rva = pe->dir_rva[WIN_DIR_EXPORT];
	uint32_t size = pe->dir_size[WIN_DIR_EXPORT];
	int r;

	if (rva == 0 || size == 0)
		return 0;
	if (size < EXP_DIR_LEN || !win_pe_in(pe, rva, size))
		return -EBADMSG;
	if ((r = win_pe_read(pe, rva, e, sizeof(e))) < 0)
		return r;
	d->name_rva = win_le32(e + 12);
	d->base = win_le32(e + 16);
	d->nfunc = win_le32(e + 20);
	d->nname = win_le32(e + 24);
	d->funcs = win_le32(e + 28);
	d->names = win_le32(e + 32);
	d->ords = win_le32(e + 36);
	if (d->nfunc > VMSIG_WIN_MAX_EXPORTS ||
	    d->nname > VMSIG_WIN_MAX_EXPORTS ||
	    !win_pe_in(pe, d->funcs, 4ull * d->nfunc) ||
	    !win_pe_in(pe, d->names, 4ull * d->nname) ||
	    !win_pe_in(pe, d->ords, 2ull * d->nname))
		return -EBADMSG;
	return 1;
}

static int
is_forward(const struct vmsig_win_pe *pe, uint32_t rva)
{
	return rva >= pe->dir_rva[WIN_DIR_EXPORT] &&
	    rva - pe->dir_rva[WIN_DIR_EXPORT] < pe->dir_size[WIN_DIR_EXPORT];
}

void
vmsig_win_exports_free(struct vmsig_win_exports *exps)
{
	size_t i;

	if (exps == NULL)
		return;
	for (i = 0; i < exps->n; i++) {
		free((char *)exps->v[i].name);
		free((char *)exps->v[i].forward);
	}
	free(exps->v);
	free(exps);
}

/* A string at rva: from the directory copy when it is there, else read. */
static char *
get_str(struct vmsig_win_pe *pe, const uint8_t *copy, uint32_t rva)
{
	uint32_t drva = pe->dir_rva[WIN_DIR_EXPORT];
	char buf[EXP_NAME_MAX];
	const uint8_t *z;
	size_t left;

	if (copy != NULL && rva >= drva &&
	    rva - drva < pe->dir_size[WIN_DIR_EXPORT]) {
		left = pe->dir_size[WIN_DIR_EXPORT] - (rva - drva);
		if (left > EXP_NAME_MAX - 1)
			left = EXP_NAME_MAX - 1;
		z = memchr(copy + (rva - drva), '\0', left);
		if (z != NULL)
			return strndup((const char *)copy + (rva - drva),
			    (size_t)(z - (copy + (rva - drva))));
	}
	if (win_pe_cstr(pe, rva, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

struct exparr {
	uint8_t *funcs, *names, *ords, *copy;
	uint32_t *byfunc;	/* name index of each function, or NONE */
};
#define NONE		UINT32_MAX

static void
exparr_free(struct exparr *a)
{
	free(a->funcs);
	free(a->names);
	free(a->ords);
	free(a->copy);
	free(a->byfunc);
}

static int
exparr_load(struct vmsig_win_pe *pe, const struct expdir *d,
    struct exparr *a)
{
	uint32_t j, o;
	int r;

	a->funcs = malloc(4ull * d->nfunc + 1);
	a->names = malloc(4ull * d->nname + 1);
	a->ords = malloc(2ull * d->nname + 1);
	a->byfunc = malloc(4ull * d->nfunc + 1);
	if (a->funcs == NULL || a->names == NULL || a->ords == NULL ||
	    a->byfunc == NULL)
		return -ENOMEM;
	if ((r = win_pe_read(pe, d->funcs, a->funcs, 4ull * d->nfunc)) < 0 ||
	    (r = win_pe_read(pe, d->names, a->names, 4ull * d->nname)) < 0 ||
	    (r = win_pe_read(pe, d->ords, a->ords, 2ull * d->nname)) < 0)
		return r;
	if (pe->dir_size[WIN_DIR_EXPORT] <= EXP_COPY_MAX &&
	    (a->copy = malloc(pe->dir_size[WIN_DIR_EXPORT])) != NULL &&
	    win_pe_read(pe, pe->dir_rva[WIN_DIR_EXPORT], a->copy,
	    pe->dir_size[WIN_DIR_EXPORT]) < 0) {
		free(a->copy);	/* part of it paged out: read name by name */
		a->copy = NULL;
	}
	for (j = 0; j < d->nfunc; j++)
		a->byfunc[j] = NONE;
	for (j = 0; j < d->nname; j++) {
		o = win_le16(a->ords + 2 * j);
		if (o < d->nfunc && a->byfunc[o] == NONE)
			a->byfunc[o] = j;
	}
	return 0;
}

static int
fill(struct vmsig_win_pe *pe, const struct expdir *d, const struct exparr *a,
    struct vmsig_win_exports *x)
{
	struct vmsig_win_export *e;
	uint32_t i, rva;

	for (i = 0; i < d->nfunc; i++) {
		if ((rva = win_le32(a->funcs + 4 * i)) == 0)
			continue;	/* a hole in the ordinal range */
		e = &x->v[x->n++];
		e->ordinal = d->base + i;
		if (is_forward(pe, rva)) {
			if ((e->forward = get_str(pe, a->copy, rva)) == NULL)
				e->forward = strdup("?");
		} else
			e->va = pe->base + rva;
		if (a->byfunc[i] != NONE)
			e->name = get_str(pe, a->copy,
			    win_le32(a->names + 4 * a->byfunc[i]));
		if (e->forward == NULL && e->va == 0)
			return -ENOMEM;
	}
	return 0;
}

int
vmsig_win_pe_exports(struct vmsig_win_pe *pe, struct vmsig_win_exports **ret)
{
	struct vmsig_win_exports *x;
	struct exparr a;
	struct expdir d;
	int r;

	if (pe == NULL || ret == NULL)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	if ((r = load_dir(pe, &d)) < 0)
		return r;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -ENOMEM;
	if (r == 0) {
		*ret = x;
		return 0;
	}
	if (d.name_rva != 0)
		(void)win_pe_cstr(pe, d.name_rva, x->dll_name,
		    sizeof(x->dll_name));
	if ((r = exparr_load(pe, &d, &a)) == 0) {
		x->v = calloc(d.nfunc + 1, sizeof(*x->v));
		r = x->v == NULL ? -ENOMEM : fill(pe, &d, &a, x);
	}
	exparr_free(&a);
	if (r < 0) {
		vmsig_win_exports_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

/* Binary search: *ret_j is the index into AddressOfNames. */
static int
search(struct vmsig_win_pe *pe, const struct expdir *d, const char *name,
    uint32_t *ret_j)
{
	uint32_t lo = 0, hi = d->nname, mid;
	uint8_t b[4];
	int c, r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((r = win_pe_read(pe, d->names + 4 * mid, b, 4)) < 0)
			return r;
		r = win_pe_cstr(pe, win_le32(b), pe->buf[0],
		    sizeof(pe->buf[0]));
		if (r < 0)
			return r;
		c = strcmp(pe->buf[0], name);
		if (c == 0) {
			*ret_j = mid;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int
vmsig_win_pe_export_find(struct vmsig_win_pe *pe, const char *name,
    struct vmsig_win_export *ret)
{
	struct expdir d;
	uint8_t b[4];
	uint32_t j, idx, rva;
	int r;

	if (pe == NULL || name == NULL || ret == NULL)
		return -EINVAL;
	if ((r = load_dir(pe, &d)) <= 0)
		return r == 0 ? -ENOENT : r;
	if ((r = search(pe, &d, name, &j)) < 0)
		return r;
	if ((r = win_pe_read(pe, d.ords + 2 * j, b, 2)) < 0)
		return r;
	if ((idx = win_le16(b)) >= d.nfunc)
		return -EBADMSG;
	if ((r = win_pe_read(pe, d.funcs + 4 * idx, b, 4)) < 0)
		return r;
	if ((rva = win_le32(b)) == 0)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->name = pe->buf[0];
	ret->ordinal = d.base + idx;
	if (is_forward(pe, rva)) {
		r = win_pe_cstr(pe, rva, pe->buf[1], sizeof(pe->buf[1]));
		if (r < 0)
			return r;
		ret->forward = pe->buf[1];
	} else
		ret->va = pe->base + rva;
	return 0;
}

int
win_exp_va(struct vmsig_win_pe *pe, const char *name, uint64_t *ret_va)
{
	struct vmsig_win_export e;
	int r;

	if ((r = vmsig_win_pe_export_find(pe, name, &e)) < 0)
		return r;
	if (e.forward != NULL)
		return -ENOENT;
	*ret_va = e.va;
	return 0;
}
