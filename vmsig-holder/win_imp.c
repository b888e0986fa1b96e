/* SPDX-License-Identifier: MIT */
/*
 * The import directory of a PE image: descriptors until the null one, each
 * with its DLL name and its thunks (the lookup table, or the IAT when there
 * is none) read in chunks, as a name with its hint or as an ordinal, with
 * the VA of the IAT slot the loader fills.  Descriptors, thunks and names
 * must lie inside the image; the walk is capped in descriptors and in
 * imports.  A descriptor that cannot be read ends the table with what was
 * read before it and its error in status.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win_int.h"

#define DESC_LEN	20
#define MAX_DESC	4096u
#define THUNK_CHUNK	256u
#define IMP_NAME_MAX	256u

/* The public list and the module names its entries share. */
struct imp_list {
	struct vmsig_win_imports pub;
	size_t cap;
	char **mods;
	size_t nmods;
};

void
vmsig_win_imports_free(struct vmsig_win_imports *imps)
{
	struct imp_list *l = (struct imp_list *)imps;
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->pub.n; i++)
		free((char *)l->pub.v[i].name);
	for (i = 0; i < l->nmods; i++)
		free(l->mods[i]);
	free(l->mods);
	free(l->pub.v);
	free(l);
}

static int
push(struct imp_list *l, const char *mod, char *name, uint32_t ord,
    uint64_t iat)
{
	struct vmsig_win_import *v;
	size_t cap;

	if (l->pub.n >= VMSIG_WIN_MAX_IMPORTS) {
		free(name);
		return -E2BIG;
	}
	if (l->pub.n == l->cap) {
		cap = l->cap == 0 ? 64 : 2 * l->cap;
		if ((v = reallocarray(l->pub.v, cap, sizeof(*v))) == NULL) {
			free(name);
			return -ENOMEM;
		}
		l->pub.v = v;
		l->cap = cap;
	}
	v = &l->pub.v[l->pub.n++];
	memset(v, 0, sizeof(*v));
	v->module = mod;
	v->name = name;
	v->ordinal = ord;
	v->iat = iat;
	return 0;
}

/* One thunk value: by ordinal, or a hint/name entry. */
static int
one(struct vmsig_win_pe *pe, struct imp_list *l, const char *mod,
    uint64_t v, uint64_t iat)
{
	uint64_t ordflag = pe->bits == 64 ? 1ull << 63 : 1ull << 31;
	char buf[IMP_NAME_MAX], *name;
	uint8_t h[2];
	uint32_t rva;
	int r;

	if (v & ordflag)
		return push(l, mod, NULL, (uint32_t)(v & 0xffff), iat);
	rva = (uint32_t)(v & 0x7fffffff);
	if ((r = win_pe_read(pe, rva, h, 2)) < 0 ||
	    (r = win_pe_cstr(pe, rva + 2, buf, sizeof(buf))) < 0)
		return r;
	if ((name = strdup(buf)) == NULL)
		return -ENOMEM;
	return push(l, mod, name, win_le16(h), iat);
}

static int
thunks(struct vmsig_win_pe *pe, struct imp_list *l, const char *mod,
    uint32_t tbl, uint32_t ft)
{
	uint8_t b[THUNK_CHUNK * 8];
	uint32_t es = pe->bits / 8, k = 0, i, n;
	uint64_t left, v, pg;
	int r;

	for (;;) {
		if (tbl + (uint64_t)k * es >= pe->size)
			return -EBADMSG;	/* no terminating thunk */
		left = (pe->size - (tbl + (uint64_t)k * es)) / es;
		n = left < THUNK_CHUNK ? (uint32_t)left : THUNK_CHUNK;
		/* Not past this page: the next one need not be mapped. */
		pg = (WIN_PAGE - ((pe->base + tbl + (uint64_t)k * es) &
		    (WIN_PAGE - 1))) / es;
		if (pg > 0 && n > pg)
			n = (uint32_t)pg;
		if (n == 0)
			return -EBADMSG;
		if ((r = win_pe_read(pe, tbl + k * es, b, (size_t)n * es)) < 0)
			return r;
		for (i = 0; i < n; i++, k++) {
			v = es == 8 ? win_le64(b + 8 * i) : win_le32(b + 4 * i);
			if (v == 0)
				return 0;
			r = one(pe, l, mod, v, pe->base + ft + (uint64_t)k * es);
			if (r < 0)
				return r;
		}
	}
}

static int
add_mod(struct imp_list *l, const char *name, char **ret)
{
	char **v, *s;

	if ((s = strdup(name)) == NULL)
		return -ENOMEM;
	if ((v = reallocarray(l->mods, l->nmods + 1, sizeof(*v))) == NULL) {
		free(s);
		return -ENOMEM;
	}
	l->mods = v;
	l->mods[l->nmods++] = s;
	*ret = s;
	return 0;
}

static int
descriptors(struct vmsig_win_pe *pe, struct imp_list *l)
{
	uint32_t rva = pe->dir_rva[WIN_DIR_IMPORT], i, oft, ft;
	uint8_t d[DESC_LEN];
	static const uint8_t zero[DESC_LEN];
	char buf[IMP_NAME_MAX], *mod;
	int r;

	for (i = 0; i < MAX_DESC; i++, rva += DESC_LEN) {
		if ((r = win_pe_read(pe, rva, d, sizeof(d))) < 0)
			return r;
		if (memcmp(d, zero, sizeof(d)) == 0)
			return 0;
		oft = win_le32(d);
		ft = win_le32(d + 16);
		if (ft == 0 || !win_pe_in(pe, ft, 0))
			return -EBADMSG;
		if ((r = win_pe_cstr(pe, win_le32(d + 12), buf, sizeof(buf))) < 0)
			return r;
		if ((r = add_mod(l, buf, &mod)) < 0)
			return r;
		if ((r = thunks(pe, l, mod, oft != 0 ? oft : ft, ft)) < 0)
			return r;
	}
	return -E2BIG;
}

int
vmsig_win_pe_imports(struct vmsig_win_pe *pe, struct vmsig_win_imports **ret)
{
	struct imp_list *l;
	int r;

	if (pe == NULL || ret == NULL)
		return -EINVAL;
	if (pe->dir_rva[WIN_DIR_IMPORT] != 0 &&
	    !win_pe_in(pe, pe->dir_rva[WIN_DIR_IMPORT], DESC_LEN))
		return -EBADMSG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	if (pe->dir_rva[WIN_DIR_IMPORT] != 0 &&
	    pe->dir_size[WIN_DIR_IMPORT] != 0) {
		r = descriptors(pe, l);
		if (r == -ENOMEM) {
			vmsig_win_imports_free(&l->pub);
			return r;
		}
		/* The first descriptor unreadable: nothing to show. */
		if (r < 0 && l->pub.n == 0 && l->nmods == 0) {
			vmsig_win_imports_free(&l->pub);
			return r;
		}
		l->pub.status = r;
	}
	*ret = &l->pub;
	return 0;
}
