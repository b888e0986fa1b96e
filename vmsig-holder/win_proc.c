/* SPDX-License-Identifier: MIT */
/*
 * Processes: the ActiveProcessLinks ring from System on, one read per
 * EPROCESS (the span of the fields the offsets name), the image path from
 * PEB.ProcessParameters->ImagePathName under the process's own DTB, and
 * lookups by pid through a cache of pid -> EPROCESS that is checked on
 * every use (the pid field must still say so) and refilled by walking the
 * ring.  The list head (PsActiveProcessHead) lies in the kernel image and
 * is stepped over, not listed.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "win_int.h"

#define NAME_LEN	15

/* One EPROCESS span, read once. */
struct rec {
	uint64_t ep;
	uint8_t b[WIN_EPROC_SCAN];
};

/*
 * A snapshot and the blocks its strings live in: one allocation per 16 KiB
 * of paths instead of one per process.
 */
#define ARENA_BLK	16384u
struct blk {
	struct blk *next;
	size_t used, cap;
	char data[];
};
struct procs_box {
	struct vmsig_win_procs pub;	/* first: the public pointer */
	struct blk *blk;
};

static char *
arena_dup(struct procs_box *b, const char *s, size_t n)
{
	struct blk *k = b->blk;
	char *d;

	if (k == NULL || k->cap - k->used < n + 1) {
		size_t cap = n + 1 > ARENA_BLK ? n + 1 : ARENA_BLK;

		if ((k = malloc(sizeof(*k) + cap)) == NULL)
			return NULL;
		k->next = b->blk;
		k->used = 0;
		k->cap = cap;
		b->blk = k;
	}
	d = k->data + k->used;
	memcpy(d, s, n);
	d[n] = '\0';
	k->used += n + 1;
	return d;
}

static uint64_t
fld(const struct vmsig_win *w, const struct rec *r, enum win_off i)
{
	return w->off[i] < 0 ? 0 :
	    win_le64(r->b + (uint32_t)w->off[i] - w->span_lo);
}

/* ActiveProcessLinks.Blink (the links are always found). */
static uint64_t
blink(const struct vmsig_win *w, const struct rec *r)
{
	return win_le64(r->b + (uint32_t)w->off[WO_LINKS] + 8 - w->span_lo);
}

static int
read_rec(struct vmsig_win *w, uint64_t ep, struct rec *r, uint64_t *fault)
{
	r->ep = ep;
	return win_str_read(w->mem, w->kcr3, ep + w->span_lo, r->b,
	    w->span_hi - w->span_lo, fault);
}

int
win_proc_is_head(const struct vmsig_win *w, uint64_t links)
{
	return links >= w->info.kernel_base &&
	    links - w->info.kernel_base < w->info.kernel_size;
}

static void
fill_basic(struct vmsig_win *w, const struct rec *r, struct vmsig_win_proc *p)
{
	const uint8_t *nm = r->b + (uint32_t)w->off[WO_NAME] - w->span_lo;
	uint64_t v;
	int i;

	memset(p, 0, sizeof(*p));
	p->eprocess = r->ep;
	p->pid = (uint32_t)fld(w, r, WO_PID);
	p->ppid = (uint32_t)fld(w, r, WO_PPID);
	for (i = 0; i < NAME_LEN && nm[i] != 0; i++)
		p->name[i] = nm[i] >= 0x20 && nm[i] < 0x7f ? (char)nm[i] : '?';
	p->dtb = fld(w, r, WO_DTB) & WIN_FRAME;
	v = fld(w, r, WO_UDTB);
	p->user_dtb = v > 1 ? v & WIN_FRAME : 0;
	p->peb = fld(w, r, WO_PEB);
	if (w->off[WO_EXIT] >= 0 &&
	    win_le32(r->b + (uint32_t)w->off[WO_EXIT] - w->span_lo) !=
	    w->exit_value)
		p->flags |= VMSIG_WIN_PROC_EXITED;
	if (w->off[WO_OBJTAB] >= 0 && fld(w, r, WO_OBJTAB) == 0)
		p->flags |= VMSIG_WIN_PROC_EXITED;
	if (w->off[WO_WOW64] >= 0 && fld(w, r, WO_WOW64) != 0)
		p->flags |= VMSIG_WIN_PROC_WOW64;
}

/* The image path; a failure stays with the process. */
static int
fill_path(struct vmsig_win *w, struct procs_box *box, struct vmsig_win_proc *p)
{
	char out[VMSIG_WIN_MAX_STRING];
	uint8_t us[16];
	uint64_t params;
	const char *base;
	int r;

	if (p->peb != 0 && win_uva(p->peb)) {
		r = win_str_read(w->mem, p->dtb, p->peb + 0x20, &params, 8,
		    &p->fault_va);
		if (r == 0 && !win_uva(params))
			r = params == 0 ? -ENODATA : -EBADMSG;
		if (r == 0)
			r = win_str_read(w->mem, p->dtb, params + 0x60, us,
			    sizeof(us), &p->fault_va);
		if (r == 0)
			r = win_str_unicode_buf(w->mem, p->dtb, us, 1, out,
			    sizeof(out), &p->fault_va);
		if (r >= 0) {
			if ((p->path = arena_dup(box, out, (size_t)r)) == NULL)
				return -ENOMEM;
		} else if (r != -ENODATA)
			p->err = r;
	}
	if (strlen(p->name) == NAME_LEN) {
		base = p->path != NULL ? strrchr(p->path, '\\') : NULL;
		base = base != NULL ? base + 1 : p->path;
		if (base == NULL || strlen(base) > NAME_LEN)
			p->flags |= VMSIG_WIN_PROC_NAME_TRUNC;
	}
	return 0;
}

/* Direct-mapped on pid / 4: a listing fills it at O(1) a process. */
static void
cache_put(struct vmsig_win *w, uint32_t pid, uint64_t ep)
{
	struct win_pidc *c = &w->pidc[(pid >> 2) % WIN_PIDCACHE];

	c->pid = pid;
	c->eprocess = ep;
}

void
vmsig_win_procs_free(struct vmsig_win_procs *procs)
{
	struct procs_box *b = (struct procs_box *)procs;
	struct blk *k;

	if (b == NULL)
		return;
	while ((k = b->blk) != NULL) {
		b->blk = k->next;
		free(k);
	}
	free(b->pub.v);
	free(b);
}

static int
push(struct vmsig_win *w, struct procs_box *box, size_t *cap,
    const struct rec *r, int paths)
{
	struct vmsig_win_procs *l = &box->pub;
	struct vmsig_win_proc *v;
	size_t n;

	if (l->n == *cap) {
		n = *cap == 0 ? 64 : 2 * *cap;
		if ((v = reallocarray(l->v, n, sizeof(*v))) == NULL)
			return -ENOMEM;
		l->v = v;
		*cap = n;
	}
	v = &l->v[l->n++];
	fill_basic(w, r, v);
	cache_put(w, v->pid, v->eprocess);
	return paths ? fill_path(w, box, v) : 0;
}

/*
 * Walk the ring into l; stop early (1) at `stop_pid` when it is not 0.
 * Returns 0/1, -ENOMEM, or -EFAULT when System itself cannot be read.
 */
static int
walk(struct vmsig_win *w, struct procs_box *box, int paths,
    uint32_t stop_pid)
{
	struct vmsig_win_procs *l = &box->pub;
	struct rec *r;
	struct win_walk wk;
	uint64_t node, lk[2], fault = 0;
	size_t cap = 0;
	int ret = 0;

	if ((r = malloc(sizeof(*r))) == NULL)
		return -ENOMEM;
	if (read_rec(w, w->info.system_eprocess, r, &w->fault_va) < 0) {
		free(r);
		return -EFAULT;
	}
	win_mod_walk_init(&wk, r->ep + (uint64_t)w->off[WO_LINKS],
	    blink(w, r), VMSIG_WIN_MAX_PROCS, 0);
	node = fld(w, r, WO_LINKS);
	for (;;) {
		if ((ret = push(w, box, &cap, r, paths)) < 0)
			break;
		if (stop_pid != 0 && l->v[l->n - 1].pid == stop_pid) {
			ret = 1;
			break;
		}
		/* Step over the list head, which is not a process. */
		while (win_mod_walk_next(&wk, node, &node) == 1 &&
		    win_proc_is_head(w, node)) {
			if (win_str_read(w->mem, w->kcr3, node, lk, 16,
			    &fault) < 0) {
				(void)win_mod_walk_fail(&wk, -EFAULT, fault);
				break;
			}
			if (win_mod_walk_enter(&wk, node, lk[1]) < 0)
				break;
			node = lk[0];
		}
		if (wk.status != 0 || node == wk.head || win_proc_is_head(w, node))
			break;
		if (read_rec(w, node - (uint64_t)w->off[WO_LINKS], r,
		    &fault) < 0) {
			/* A link into a stranger: say so when it is one. */
			if (win_str_read(w->mem, w->kcr3, node, lk, 16,
			    NULL) == 0 && win_mod_walk_enter(&wk, node,
			    lk[1]) < 0)
				break;
			(void)win_mod_walk_fail(&wk, -EFAULT, fault);
			break;
		}
		if (win_mod_walk_enter(&wk, node, blink(w, r)) < 0)
			break;
		node = fld(w, r, WO_LINKS);
	}
	l->status = wk.status;
	l->fault_va = wk.fault_va;
	free(r);
	return ret;
}

int
vmsig_win_proc_list(struct vmsig_win *win, struct vmsig_win_procs **ret)
{
	struct procs_box *b;
	int r;

	if (win == NULL || ret == NULL)
		return -EINVAL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -ENOMEM;
	if ((r = walk(win, b, 1, 0)) < 0) {
		vmsig_win_procs_free(&b->pub);
		return r;
	}
	*ret = &b->pub;
	return 0;
}

static int
name_match(const struct vmsig_win_proc *p, const char *name)
{
	const char *base;

	if (strcasecmp(p->name, name) == 0 ||
	    (strlen(p->name) == NAME_LEN &&
	    strncasecmp(p->name, name, NAME_LEN) == 0))
		return 1;
	if (p->path == NULL)
		return 0;
	base = strrchr(p->path, '\\');
	return strcasecmp(base != NULL ? base + 1 : p->path, name) == 0;
}

int
vmsig_win_proc_find(struct vmsig_win *win, uint32_t pid, const char *name,
    struct vmsig_win_procs **ret)
{
	struct vmsig_win_procs *l;
	size_t i, k = 0;
	int r;

	if (win == NULL || ret == NULL || (pid == 0 && name == NULL))
		return -EINVAL;
	if ((r = vmsig_win_proc_list(win, &l)) < 0)
		return r;
	for (i = 0; i < l->n; i++) {
		if ((pid != 0 && l->v[i].pid != pid) ||
		    (name != NULL && !name_match(&l->v[i], name)))
			continue;	/* its path stays in the arena */
		l->v[k++] = l->v[i];
	}
	l->n = k;
	if (k == 0) {
		vmsig_win_procs_free(l);
		return -ENOENT;
	}
	*ret = l;
	return 0;
}

/* The cached EPROCESS of pid, if it still says so. */
static int
from_cache(struct vmsig_win *w, uint32_t pid, struct win_procrec *ret)
{
	struct vmsig_win_proc p;
	struct rec *r;
	size_t i;
	int found = 0;

	i = (pid >> 2) % WIN_PIDCACHE;
	if (w->pidc[i].eprocess == 0 || w->pidc[i].pid != pid ||
	    (r = malloc(sizeof(*r))) == NULL)
		return 0;
	if (read_rec(w, w->pidc[i].eprocess, r, NULL) == 0) {
		fill_basic(w, r, &p);
		if (p.pid == pid && p.dtb != 0) {
			ret->eprocess = p.eprocess;
			ret->dtb = p.dtb;
			ret->peb = p.peb;
			ret->pid = pid;
			ret->flags = p.flags;
			found = 1;
		}
	}
	free(r);
	return found;
}

int
win_proc_lookup(struct vmsig_win *w, uint32_t pid, struct win_procrec *ret)
{
	struct procs_box l;
	const struct vmsig_win_proc *p;
	int r;

	if (from_cache(w, pid, ret))
		return 0;
	memset(&l, 0, sizeof(l));
	r = walk(w, &l, 0, pid);
	if (r == 1) {
		p = &l.pub.v[l.pub.n - 1];
		ret->eprocess = p->eprocess;
		ret->dtb = p->dtb;
		ret->peb = p->peb;
		ret->pid = pid;
		ret->flags = p->flags;
	}
	free(l.pub.v);
	return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int
vmsig_win_proc_dtb(struct vmsig_win *win, uint32_t pid, uint64_t *ret_cr3)
{
	struct win_procrec rec;
	int r;

	if (win == NULL || ret_cr3 == NULL)
		return -EINVAL;
	if (pid == 4) {
		*ret_cr3 = win->kcr3;
		return 0;
	}
	if ((r = win_proc_lookup(win, pid, &rec)) < 0)
		return r;
	*ret_cr3 = rec.dtb;
	return 0;
}

int
vmsig_win_proc_read(struct vmsig_win *win, uint32_t pid, uint64_t va,
    void *buf, size_t len, size_t *ret_done)
{
	uint64_t cr3;
	int r;

	if (ret_done != NULL)
		*ret_done = 0;
	if (win == NULL)
		return -EINVAL;
	if ((r = vmsig_win_proc_dtb(win, pid, &cr3)) < 0)
		return r;
	return vmsig_mem_read_va(win->mem, cr3, va, buf, len, ret_done);
}

int
vmsig_win_proc_translate(struct vmsig_win *win, uint32_t pid, uint64_t va,
    struct vmsig_xlat *ret)
{
	uint64_t cr3;
	int r;

	if (win == NULL || ret == NULL)
		return -EINVAL;
	if ((r = vmsig_win_proc_dtb(win, pid, &cr3)) < 0)
		return r;
	return vmsig_mem_translate(win->mem, cr3, va, ret);
}
