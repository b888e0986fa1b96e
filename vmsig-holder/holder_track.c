/* SPDX-License-Identifier: MIT */
/*
 * The context tracker: per endpoint, the read-only memory context of the
 * current epoch.  vmsig_holder_next() shows it every event just before the
 * caller sees it, so vmsig_holder_mem() is never ahead of nor behind what
 * the caller has been told: MEMCTX opens a context (closing the previous
 * one), MEMCTX_INVALIDATED and ENDPOINT_GONE close it, MEMWRITTEN drops the
 * translations that may depend on the bytes written.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmsig/mem.h>

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
	return t;
}

static void
drop(struct vmsig_holder *h, struct holder_track *t)
{
	size_t i = (size_t)(t - h->track);

	vmsig_mem_close(t->mem);
	h->track[i] = h->track[--h->ntrack];
}

static void
track_memctx(struct vmsig_holder *h, const vmsig_event *ev)
{
	const vmsig_memctx *mc = (const vmsig_memctx *)(const void *)ev->inln;
	struct holder_track *t;
	struct vmsig_mem *mem;

	t = find_or_add(h, ev->endpoint);
	if (t == NULL)
		return;		/* no memory: vmsig_holder_mem() says NULL */
	/* A context older than an invalidation already seen is dead. */
	if (t->epoch != 0 && ev->epoch < t->epoch)
		return;
	vmsig_mem_close(t->mem);
	t->mem = NULL;
	t->epoch = ev->epoch;
	t->kcr3 = mc->kcr3;
	/* On failure (a locator that does not fit the file, mmap) the event
	 * is still delivered; the caller just gets no tracked context. */
	if (vmsig_mem_open_event(ev, &mem) == 0)
		t->mem = mem;
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
		vmsig_mem_close(t->mem);
		t->mem = NULL;
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
		vmsig_mem_close(h->track[i].mem);
	free(h->track);
	h->track = NULL;
	h->ntrack = 0;
}

struct vmsig_mem *
vmsig_holder_mem(struct vmsig_holder *h, uint32_t endpoint,
    uint32_t *ret_epoch, uint64_t *ret_kcr3)
{
	struct holder_track *t;

	if (h == NULL || (t = find(h, endpoint)) == NULL || t->mem == NULL)
		return NULL;
	if (ret_epoch != NULL)
		*ret_epoch = t->epoch;
	if (ret_kcr3 != NULL)
		*ret_kcr3 = t->kcr3;
	return t->mem;
}
