/* SPDX-License-Identifier: MIT */
/*
 * Loaded modules: a process's PEB loader list (PEB.Ldr ->
 * InLoadOrderModuleList, LDR_DATA_TABLE_ENTRY records) and, for pid 4, the
 * kernel's PsLoadedModuleList (KLDR_DATA_TABLE_ENTRY, the same offsets).
 * Also the LIST_ENTRY walker every list here uses: each step checks the
 * address class of the next node, that its Blink names the node before it
 * (Flink->Blink == &links), Brent's cycle test and a count bound, so a
 * hostile list ends with what was read and a status, never a hang.
 * One read per entry (the 0x68 bytes up to BaseDllName); a name that
 * cannot be read fails that entry alone (err, fault_va).
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win_int.h"

void
win_mod_walk_init(struct win_walk *wk, uint64_t head, uint64_t head_blink,
    size_t max, int user)
{
	memset(wk, 0, sizeof(*wk));
	wk->head = wk->cur = wk->saved = head;
	wk->head_blink = head_blink;
	wk->power = 1;
	wk->max = max;
	wk->user = user;
}

int
win_mod_walk_fail(struct win_walk *wk, int err, uint64_t va)
{
	if (wk->status == 0) {
		wk->status = err;
		wk->fault_va = va;
	}
	return err;
}

int
win_mod_walk_next(struct win_walk *wk, uint64_t flink, uint64_t *ret_next)
{
	if (wk->status != 0)
		return wk->status;
	if (flink == wk->head) {
		if (wk->head_blink != wk->cur)
			return win_mod_walk_fail(wk, -EBADMSG, wk->head);
		return 0;
	}
	if ((flink & 7) != 0 || (wk->user ? !win_uva(flink) : !win_kva(flink)))
		return win_mod_walk_fail(wk, -EBADMSG, wk->cur);
	if (flink == wk->saved)
		return win_mod_walk_fail(wk, -ELOOP, flink);
	if (++wk->lam == wk->power) {
		wk->saved = flink;
		wk->power *= 2;
		wk->lam = 0;
	}
	if (wk->n >= wk->max)
		return win_mod_walk_fail(wk, -E2BIG, flink);
	wk->n++;
	*ret_next = flink;
	return 1;
}

int
win_mod_walk_enter(struct win_walk *wk, uint64_t node, uint64_t blink)
{
	if (blink != wk->cur)
		return win_mod_walk_fail(wk, -EBADMSG, node);
	wk->cur = node;
	return 0;
}

void
vmsig_win_modules_free(struct vmsig_win_modules *mods)
{
	size_t i;

	if (mods == NULL)
		return;
	for (i = 0; i < mods->n; i++) {
		free((char *)mods->v[i].name);
		free((char *)mods->v[i].path);
	}
	free(mods->v);
	free(mods);
}

/* Where a list starts: its head, the head's links and the address space. */
struct modsrc {
	uint64_t cr3, head, lk[2];
	int user;
};

static int
source(struct vmsig_win *w, uint32_t pid, struct modsrc *src)
{
	struct win_procrec rec;
	uint64_t ldr;
	int r;

	memset(src, 0, sizeof(*src));
	if (pid == 4) {
		if (w->info.ps_loaded_module_list == 0)
			return -ENODATA;
		src->cr3 = w->kcr3;
		src->head = w->info.ps_loaded_module_list;
	} else {
		if ((r = win_proc_lookup(w, pid, &rec)) < 0)
			return r;
		if (rec.peb == 0)
			return -ENODATA;
		src->cr3 = rec.dtb;
		src->user = 1;
		r = win_str_read(w->mem, src->cr3, rec.peb + 0x18, &ldr, 8,
		    &w->fault_va);
		if (r < 0)
			return r;
		if (!win_uva(ldr))
			return -EBADMSG;
		src->head = ldr + 0x10;
	}
	return win_str_read(w->mem, src->cr3, src->head, src->lk, 16,
	    &w->fault_va);
}

static int
grow(struct vmsig_win_modules *m, size_t *cap)
{
	struct vmsig_win_module *v;
	size_t n = *cap == 0 ? 32 : 2 * *cap;

	if (m->n < *cap)
		return 0;
	if ((v = reallocarray(m->v, n, sizeof(*v))) == NULL)
		return -ENOMEM;
	m->v = v;
	*cap = n;
	return 0;
}

/* One entry's names; a failure stays with the entry. */
static int
names(struct vmsig_win *w, const struct modsrc *src, const uint8_t *e,
    struct vmsig_win_module *md)
{
	char *s = NULL;
	int r;

	r = win_str_unicode(w->mem, src->cr3, e + 0x58, src->user, &s,
	    &md->fault_va);
	if (r == -ENOMEM)
		return r;
	md->name = r == 0 ? s : NULL;
	if (r < 0 && r != -ENODATA)
		md->err = r;
	s = NULL;
	r = win_str_unicode(w->mem, src->cr3, e + 0x48, src->user, &s,
	    md->err == 0 ? &md->fault_va : NULL);
	if (r == -ENOMEM)
		return r;
	md->path = r == 0 ? s : NULL;
	if (r < 0 && r != -ENODATA && md->err == 0)
		md->err = r;
	return 0;
}

static int
walk(struct vmsig_win *w, const struct modsrc *src,
    struct vmsig_win_modules *m)
{
	uint8_t e[WIN_LDRE_LEN];
	struct vmsig_win_module *md;
	struct win_walk wk;
	uint64_t node, fault = 0;
	size_t cap = 0;
	int r;

	win_mod_walk_init(&wk, src->head, src->lk[1], VMSIG_WIN_MAX_MODULES,
	    src->user);
	for (node = src->lk[0]; win_mod_walk_next(&wk, node, &node) == 1;) {
		if (win_str_read(w->mem, src->cr3, node, e, sizeof(e),
		    &fault) < 0) {
			(void)win_mod_walk_fail(&wk, -EFAULT, fault);
			break;
		}
		if (win_mod_walk_enter(&wk, node, win_le64(e + 8)) < 0)
			break;
		if ((r = grow(m, &cap)) < 0)
			return r;
		md = &m->v[m->n++];
		memset(md, 0, sizeof(*md));
		md->base = win_le64(e + 0x30);
		md->entry = win_le64(e + 0x38);
		md->size = win_le32(e + 0x40);
		if ((r = names(w, src, e, md)) < 0)
			return r;
		node = win_le64(e);
	}
	m->status = wk.status;
	m->fault_va = wk.fault_va;
	return 0;
}

int
vmsig_win_mod_list(struct vmsig_win *win, uint32_t pid,
    struct vmsig_win_modules **ret)
{
	struct vmsig_win_modules *m;
	struct modsrc src;
	int r;

	if (win == NULL || ret == NULL)
		return -EINVAL;
	if ((r = source(win, pid, &src)) < 0)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	if ((r = walk(win, &src, m)) < 0) {
		vmsig_win_modules_free(m);
		return r;
	}
	*ret = m;
	return 0;
}
