/* SPDX-License-Identifier: MIT */
/*
 * The context tracker: per endpoint, the read-only memory context of the
 * current epoch.  vmsig_holder_next() shows it every event just before the
 * caller sees it, so vmsig_holder_mem() is never ahead of nor behind what
 * the caller has been told: MEMCTX makes a context (closing the previous
 * one), MEMCTX_INVALIDATED and ENDPOINT_GONE close it, MEMWRITTEN drops the
 * translations that may depend on the bytes written.  The mapping itself
 * is made when vmsig_holder_mem() first asks for it: fanning a context out
 * to a thousand holders must not cost a thousand mmap(2)s of guest RAM.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/mem.h>
#include <vmsig/win.h>

#include "holder_int.h"

static struct holder_track *
find(struct vmsig_holder *h, uint32_t endpoint)
{
	size_t i;

	for (i = 0; i < h->ntrack; i++)
		if (h->track[i].endpoint == endpoint)
			return &h->track[i];
	return NULL;
}

static struct holder_track *
find_or_add(struct vmsig_holder *h, uint32_t endpoint)
{
	struct holder_track *t, *n;

	if ((t = find(h, endpoint)) != NULL)
		return t;
	n = reallocarray(h->track, h->ntrack + 1, sizeof(*n));
	if (n == NULL)
		return NULL;
	h->track = n;
	t = &n[h->ntrack++];
	memset(t, 0, sizeof(*t));
	t->endpoint = endpoint;
	t->fd = -1;
	return t;
}

/* The context of this epoch is over: unmap, close, forget the locator. */
static void
forget(struct holder_track *t)
{
	vmsig_win_close(t->win);	/* it borrows mem: close it first */
	t->win = NULL;
	t->win_err = 0;
	t->win_backoff_ms = 0;
	t->win_retry_ms = 0;
	vmsig_mem_close(t->mem);
	t->mem = NULL;
	if (t->fd >= 0)
		(void)close(t->fd);
	t->fd = -1;
	free(t->segs);
	t->segs = NULL;
	t->nseg = 0;
}

static void
drop(struct vmsig_holder *h, struct holder_track *t)
{
	size_t i = (size_t)(t - h->track);

	forget(t);
	h->track[i] = h->track[--h->ntrack];
}

static void
track_memctx(struct vmsig_holder *h, const vmsig_event *ev)
{
	const vmsig_memctx *mc = (const vmsig_memctx *)(const void *)ev->inln;
	const vmsig_memseg *segs;
	struct holder_track *t;
	uint32_t nseg = 0;

	t = find_or_add(h, ev->endpoint);
	if (t == NULL)
		return;		/* no memory: vmsig_holder_mem() says NULL */
	/* A context older than an invalidation already seen is dead. */
	if (t->epoch != 0 && ev->epoch < t->epoch)
		return;
	forget(t);
	t->epoch = ev->epoch;
	t->kcr3 = mc->kcr3;
	t->low = mc->low;
	t->flags = mc->flags;
	/* On failure the event is still delivered; the caller just gets no
	 * tracked context. */
	segs = vmsig_memctx_segs(ev, &nseg);
	if (nseg > 0) {
		if ((t->segs = calloc(nseg, sizeof(*segs))) == NULL)
			return;
		memcpy(t->segs, segs, nseg * sizeof(*segs));
		t->nseg = nseg;
	}
	t->fd = fcntl(ev->fd, F_DUPFD_CLOEXEC, 0);
}

/* Map the epoch's context on first use; NULL if it cannot be. */
static struct vmsig_mem *
materialise(struct holder_track *t)
{
	struct vmsig_mem *mem = NULL;
	int r;

	if (t->mem != NULL || t->fd < 0)
		return t->mem;
	r = t->nseg > 0 ? vmsig_mem_open_segs(t->fd, t->segs, t->nseg, &mem) :
	    vmsig_mem_open(t->fd, t->low, &mem);
	if (r < 0)
		return NULL;
	if ((t->flags & VMSIG_MEMCTX_LA57) &&
	    vmsig_mem_set_paging(mem, 5) < 0) {
		vmsig_mem_close(mem);
		return NULL;
	}
	t->mem = mem;
	return mem;
}

void
holder_track_event(struct vmsig_holder *h, const vmsig_event *ev)
{
	const vmsig_memwritten *w;
	struct holder_track *t;

	switch (ev->type) {
	case VMSIG_EV_MEMCTX:
		track_memctx(h, ev);
		break;
	case VMSIG_EV_MEMCTX_INVALIDATED:
		if ((t = find_or_add(h, ev->endpoint)) == NULL)
			break;
		forget(t);
		if (ev->epoch > t->epoch)
			t->epoch = ev->epoch;
		break;
	case VMSIG_EV_MEMWRITTEN:
		w = (const vmsig_memwritten *)(const void *)ev->inln;
		t = find(h, ev->endpoint);
		if (t != NULL && t->mem != NULL)
			vmsig_mem_flush_gpa(t->mem, w->gpa, w->len);
		break;
	case VMSIG_EV_ENDPOINT_GONE:
		if ((t = find(h, ev->endpoint)) != NULL)
			drop(h, t);
		break;
	default:
		break;
	}
}

void
holder_track_clear(struct vmsig_holder *h)
{
	size_t i;

	for (i = 0; i < h->ntrack; i++)
		forget(&h->track[i]);
	free(h->track);
	h->track = NULL;
	h->ntrack = 0;
}

struct vmsig_mem *
vmsig_holder_mem(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t *ret_epoch, uint64_t *ret_kcr3)
{
	struct holder_track *t;

	if (h == NULL || (t = find(h, endpoint)) == NULL ||
	    materialise(t) == NULL)
		return NULL;
	if (ret_epoch != NULL)
		*ret_epoch = t->epoch;
	if (ret_kcr3 != NULL)
		*ret_kcr3 = t->kcr3;
	return t->mem;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Open the epoch's Windows context, or say why not.  A failure is kept and
 * the next try waits (0.5 s, doubling to 30 s): a guest still booting may
 * validate later in the same epoch, and one that is not Windows must not
 * be scanned again on every call.
 */
static int
win_materialise(struct holder_track *t)
{
	int64_t now;
	int r;

	if (t->win != NULL)
		return 0;
	now = now_ms();
	if (t->win_err != 0 && now < t->win_retry_ms)
		return t->win_err;
	if ((r = vmsig_win_open(t->mem, t->kcr3, &t->win)) == 0) {
		t->win_err = 0;
		t->win_backoff_ms = 0;
		return 0;
	}
	t->win_err = r;
	t->win_backoff_ms = t->win_backoff_ms == 0 ? 500 :
	    t->win_backoff_ms >= 15000 ? 30000 : 2 * t->win_backoff_ms;
	t->win_retry_ms = now + t->win_backoff_ms;
	return r;
}

struct vmsig_win *
vmsig_holder_win(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t *ret_epoch, int *ret_err)
{
	struct holder_track *t;
	int r = -ENOENT;

	if (h == NULL || (t = find(h, endpoint)) == NULL ||
	    materialise(t) == NULL || (r = win_materialise(t)) < 0) {
		if (ret_err != NULL)
			*ret_err = r;
		return NULL;
	}
	if (ret_epoch != NULL)
		*ret_epoch = t->epoch;
	return t->win;
}
