/* SPDX-License-Identifier: MIT */
/*
 * EPROCESS objects and the lists through them: each object in kernel pool
 * behind a pool header tagged "Proc" and an OBJECT_HEADER, with the fields
 * of the build's layout and, everywhere else, the kind of values a real
 * one holds (zeros, small counters, pool pointers, empty LIST_ENTRYs that
 * point at themselves, flag words, times), chosen per offset so the same
 * offset holds the same kind in every process.  Lists that really link
 * processes are there too, so a discovery cannot take "a ring through
 * every EPROCESS" for ActiveProcessLinks: MmProcessLinks (all processes,
 * head in ntoskrnl's .data) and SessionProcessLinks (per session).  Thread
 * lists link fake thread objects.  Decoys: a stale copy of a process (a
 * freed EPROCESS whose links point into the ring, not back) and a
 * two-object ring no head reaches.  --corrupt-ring breaks one Flink.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#define THR_SIZE	0x90
#define THR_KLINK	0x10	/* KTHREAD.ThreadListEntry (ours) */
#define THR_ELINK	0x40	/* ETHREAD.ThreadListEntry (ours) */
#define FL_LIVE		0x04450801u
#define FL_DEAD		(0x2000000u | 0x20u | 0x8u | 0x4u)

struct body {
	uint8_t *b;
	uint8_t *used;		/* one byte per 8-byte slot */
	uint32_t size;
};

static void
put(struct body *y, uint32_t off, const void *v, size_t len)
{
	uint32_t s;

	if (off + len > y->size)
		errx(2, "internal: EPROCESS field past the end");
	memcpy(y->b + off, v, len);
	for (s = off / 8; s * 8 < off + len; s++)
		y->used[s] = 1;
}

static void
put64(struct body *y, uint32_t off, uint64_t v)
{
	put(y, off, &v, 8);
}

static void
put32(struct body *y, uint32_t off, uint32_t v)
{
	put(y, off, &v, 4);
}

static void
putlist(struct body *y, uint32_t off, uint64_t flink, uint64_t blink)
{
	put64(y, off, flink);
	put64(y, off + 8, blink);
}

/* What kind of value offset `off` holds in every EPROCESS of this build. */
static unsigned int
kind(uint32_t build, uint32_t off)
{
	uint64_t h = (uint64_t)build * 0x9e3779b97f4a7c15ull ^ off * 0xbf58476d1ce4e5b9ull;

	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	return (unsigned int)((h >> 32) % 100);
}

static void
noise(struct guest *g, struct body *y, uint64_t va)
{
	struct win *w = g->win;
	uint64_t v, span = w->pool_end - (w->pool_end & ~(GG_1G - 1));
	uint32_t off, k;

	for (off = 0; off + 8 <= y->size; off += 8) {
		if (y->used[off / 8])
			continue;
		k = kind(w->L->build, off);
		if (k < 45)
			v = 0;
		else if (k < 60)
			v = image_randn(g, 0x1000);
		else if (k < 72)
			v = (w->pool_end - image_randn(g, span)) & ~0xfull;
		else if (k < 82 && off + 16 <= y->size && !y->used[off / 8 + 1]) {
			putlist(y, off, va + off, va + off);
			continue;
		} else if (k < 90)
			v = image_rand(g) & 0x0000f0f30000ff0full;
		else
			v = 0x01da000000000000ull | (image_rand(g) >> 16);
		memcpy(y->b + off, &v, 8);
	}
}

/* Fake threads: both thread lists of the process, n entries each. */
static void
threads(struct guest *g, uint64_t ep, unsigned int n, struct body *y)
{
	const struct win_layout *L = g->win->L;
	uint64_t t[16], kh = ep + 0x30, eh = ep + L->thl;
	unsigned int i;

	if (n == 0) {
		putlist(y, 0x30, kh, kh);
		putlist(y, L->thl, eh, eh);
		return;
	}
	for (i = 0; i < n; i++)
		t[i] = win_pool_alloc(g, THR_SIZE, 16);
	putlist(y, 0x30, t[0] + THR_KLINK, t[n - 1] + THR_KLINK);
	putlist(y, L->thl, t[0] + THR_ELINK, t[n - 1] + THR_ELINK);
	for (i = 0; i < n; i++) {
		win_vput64(g, g->kcr3, t[i], 0x06 | (uint64_t)0x1a << 16);
		win_vput64(g, g->kcr3, t[i] + THR_KLINK,
		    i + 1 < n ? t[i + 1] + THR_KLINK : kh);
		win_vput64(g, g->kcr3, t[i] + THR_KLINK + 8,
		    i > 0 ? t[i - 1] + THR_KLINK : kh);
		win_vput64(g, g->kcr3, t[i] + THR_ELINK,
		    i + 1 < n ? t[i + 1] + THR_ELINK : eh);
		win_vput64(g, g->kcr3, t[i] + THR_ELINK + 8,
		    i > 0 ? t[i - 1] + THR_ELINK : eh);
		win_vput64(g, g->kcr3, t[i] + 0x60, ep);	/* Process */
	}
}

struct links {
	uint64_t active[2], mm[2], session[2];
};

/* Pool header "Proc", OBJECT_HEADER, then the EPROCESS itself. */
static void
write_eprocess(struct guest *g, const struct win_proc *p,
    const struct links *k, uint64_t ctime, uint64_t exe_base)
{
	struct win *w = g->win;
	const struct win_layout *L = w->L;
	struct body y;
	uint8_t name[16];
	unsigned int nthr = p->exited ? 0 : 1 + (unsigned int)image_randn(g,
	    p->pid == 4 ? 14 : 6);

	y.size = L->size;
	y.b = calloc(1, y.size);
	y.used = calloc(y.size / 8 + 2, 1);
	if (y.b == NULL || y.used == NULL)
		err(2, "out of memory");
	put32(&y, 0, 3 | (L->kprocess_size / 4 & 0xff) << 16);	/* Header */
	putlist(&y, 0x08, p->eproc + 0x08, p->eproc + 0x08);	/* WaitList */
	putlist(&y, 0x18, p->eproc + 0x18, p->eproc + 0x18);	/* Profile */
	put64(&y, 0x28, p->dtb);
	threads(g, p->eproc, nthr, &y);
	put64(&y, L->udtb, p->udtb);
	/*
	 * KPROCESS: a count of 4 (the guest's 4 vCPUs) right before the empty
	 * ReadyListHead, in every process: "4, then a LIST_ENTRY whose
	 * neighbours point back" is not UniqueProcessId.
	 */
	put64(&y, 0x100, 4);
	putlist(&y, 0x108, p->eproc + 0x108, p->eproc + 0x108);
	put64(&y, L->pid - 8, 0);				/* ProcessLock */
	put64(&y, L->pid, p->pid);
	putlist(&y, L->links, k->active[0], k->active[1]);
	put64(&y, L->links + 16, 2 + 2 * image_randn(g, 8));	/* Rundown */
	put32(&y, L->flags2, 0xd000 | (uint32_t)image_randn(g, 4) << 2);
	put32(&y, L->flags, p->exited ? FL_LIVE | FL_DEAD : FL_LIVE);
	put64(&y, L->ctime, ctime);
	put64(&y, L->token, ((w->pool_end - image_randn(g, 0x10000)) &
	    ~0xfull) | image_randn(g, 16));
	putlist(&y, L->session_links, k->session[0], k->session[1]);
	put64(&y, L->section_base, exe_base);
	put64(&y, L->ppid, p->ppid);
	put64(&y, L->peb, p->peb);
	put64(&y, L->objtable, p->exited ? 0 : win_pool_alloc(g, 0x80, 16));
	put64(&y, L->wow64, p->wow64);
	memset(name, 0, sizeof(name));
	memcpy(name, p->name, strnlen(p->name, 15));
	name[15] = 2;		/* PriorityClass: NORMAL, right after */
	put(&y, L->fname, name, 16);
	put32(&y, L->athreads, nthr);
	put32(&y, L->exitstatus, p->exited ? 0 : STATUS_PENDING);
	putlist(&y, L->mm_links, k->mm[0], k->mm[1]);
	noise(g, &y, p->eproc);
	win_vwrite(g, g->kcr3, p->eproc, y.b, y.size);
	win_vput64(g, g->kcr3, p->eproc - 0x80, 0x0ba50002ull |
	    (uint64_t)0x636f7250 << 32);			/* "Proc" */
	win_vput64(g, g->kcr3, p->eproc - 0x30, 3 + image_randn(g, 64));
	win_vput64(g, g->kcr3, p->eproc - 0x28, 1 + image_randn(g, 16));
	win_vput32(g, g->kcr3, p->eproc - 0x18, 0x8800 |
	    (uint32_t)image_randn(g, 256));
	free(y.b);
	free(y.used);
}

static uint64_t
lva(const struct win *w, size_t i)
{
	return w->procs[i].eproc + w->L->links;
}

static int
in_session(const struct win_proc *p, size_t i)
{
	return i > 0 && !p->no_peb && strcmp(p->name, "smss.exe") != 0;
}

/* Session and Mm links of process i (heads sess[2] and mm). */
static void
other_links(const struct win *w, size_t i, const uint64_t *sess,
    struct links *k)
{
	const struct win_proc *p = &w->procs[i];
	const struct win_layout *L = w->L;
	size_t j, n = w->nprocs;
	uint64_t h = sess[p->session];

	k->mm[0] = i + 1 < n ? w->procs[i + 1].eproc + L->mm_links : w->mm_head;
	k->mm[1] = i > 0 ? w->procs[i - 1].eproc + L->mm_links : w->mm_head;
	k->session[0] = k->session[1] = 0;
	if (!in_session(p, i))
		return;
	k->session[0] = k->session[1] = h;
	for (j = i + 1; j < n; j++)
		if (in_session(&w->procs[j], j) &&
		    w->procs[j].session == p->session) {
			k->session[0] = w->procs[j].eproc + L->session_links;
			break;
		}
	for (j = i; j-- > 0; )
		if (in_session(&w->procs[j], j) &&
		    w->procs[j].session == p->session) {
			k->session[1] = w->procs[j].eproc + L->session_links;
			break;
		}
}

static void
session_heads(struct guest *g, uint64_t *sess)
{
	struct win *w = g->win;
	size_t i, s, first, last;

	for (s = 0; s < 2; s++) {
		sess[s] = win_pool_alloc(g, 0x40, 16) + 0x10;
		first = last = SIZE_MAX;
		for (i = 0; i < w->nprocs; i++)
			if (in_session(&w->procs[i], i) &&
			    w->procs[i].session == s) {
				if (first == SIZE_MAX)
					first = i;
				last = i;
			}
		if (first == SIZE_MAX) {
			win_vput64(g, g->kcr3, sess[s], sess[s]);
			win_vput64(g, g->kcr3, sess[s] + 8, sess[s]);
			continue;
		}
		win_vput64(g, g->kcr3, sess[s], w->procs[first].eproc +
		    w->L->session_links);
		win_vput64(g, g->kcr3, sess[s] + 8, w->procs[last].eproc +
		    w->L->session_links);
	}
}

/* A fake EPROCESS at eproc that no list head reaches. */
static void
decoy(struct guest *g, const struct win_proc *model, uint64_t eproc,
    uint32_t pid, const char *name, uint64_t flink, uint64_t blink)
{
	struct win *w = g->win;
	struct win_proc d = *model;
	struct links k;

	memset(&k, 0, sizeof(k));
	d.eproc = eproc;
	d.pid = pid;
	memset(d.name, 0, sizeof(d.name));
	memcpy(d.name, name, strnlen(name, 15));
	k.active[0] = flink;
	k.active[1] = blink;
	write_eprocess(g, &d, &k, 0x01da000000000000ull, 0);
	w->decoys[w->ndecoys++] = d.eproc;
}

static uint64_t
eproc_alloc(struct guest *g)
{
	return win_pool_alloc(g, g->win->L->size + 0x80, 16) + 0x80;
}

void
win_ring_build(struct guest *g)
{
	struct win *w = g->win;
	const struct win_layout *L = w->L;
	size_t i, n = w->nprocs, brk = n >= 6 ? n - 3 : n - 2;
	size_t j = n > 3 ? 3 : n - 1;
	uint64_t sess[2], ctime = 0x01da000000000000ull + (image_rand(g) >> 20);
	uint64_t a, b, top = w->procs[n - 1].pid;
	struct links k;

	if (w->mm_head == 0)
		w->mm_head = win_pool_alloc(g, 16, 16);
	session_heads(g, sess);
	/* The stale copy, then a ring of two that nothing reaches. */
	decoy(g, &w->procs[j], eproc_alloc(g), (uint32_t)top + 8,
	    w->procs[j].name, j + 1 < n ? lva(w, j + 1) : w->active_head,
	    j > 0 ? lva(w, j - 1) : w->active_head);
	a = eproc_alloc(g);
	b = eproc_alloc(g);
	decoy(g, &w->procs[n - 1], a, (uint32_t)top + 16, "svchost.exe",
	    b + L->links, b + L->links);
	decoy(g, &w->procs[n - 1], b, (uint32_t)top + 20, "hidden.exe",
	    a + L->links, a + L->links);
	for (i = 0; i < n; i++) {
		const struct win_proc *p = &w->procs[i];

		k.active[0] = i + 1 < n ? lva(w, i + 1) : w->active_head;
		k.active[1] = i > 0 ? lva(w, i - 1) : w->active_head;
		if (w->opt.corrupt_ring && i == brk && n >= 3)
			k.active[0] = b + L->links;
		other_links(w, i, sess, &k);
		ctime += 10000000ull * (1 + image_randn(g, 30));
		write_eprocess(g, p, &k, ctime, p->nmods ? p->mods[0]->base : 0);
	}
	win_vput64(g, g->kcr3, w->active_head, lva(w, 0));
	win_vput64(g, g->kcr3, w->active_head + 8, lva(w, n - 1));
	win_vput64(g, g->kcr3, w->mm_head, w->procs[0].eproc + L->mm_links);
	win_vput64(g, g->kcr3, w->mm_head + 8, w->procs[n - 1].eproc +
	    L->mm_links);
	w->ring_status = 0;
	if (w->opt.corrupt_ring && n >= 3) {
		w->ring_status = EBADMSG;
		w->ring_break = b + L->links;
		for (i = brk + 1; i < n; i++)
			w->procs[i].reachable = 0;
	}
}
