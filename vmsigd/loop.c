/* SPDX-License-Identifier: MIT */
/*
 * The core's one event loop: epoll, level-triggered, one callback per
 * source.  Level-triggered so a handler that stops early (a peer dropped
 * mid-batch) loses nothing: the loop simply comes back.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "num.h"
#include "vmsigd.h"

#define LOOP_BATCH	64

static int loop_epfd = -1;
static int loop_stop;

int
loop_init(void)
{
	loop_epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop_epfd == -1 ? -errno : 0;
}

int
loop_add(struct loop_src *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop_epfd, EPOLL_CTL_ADD, src->fd, &ev) == -1 ?
	    -errno : 0;
}

int
loop_mod(struct loop_src *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop_epfd, EPOLL_CTL_MOD, src->fd, &ev) == -1 ?
	    -errno : 0;
}

void
loop_del(struct loop_src *src)
{
	(void)epoll_ctl(loop_epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

/*
 * Objects whose sources may still sit in the current epoll batch are freed
 * only after it: their callbacks see fd == -1 and skip.  A list, not an
 * array, because one multicast can drop any number of slow holders.
 */
struct loop_grave {
	struct loop_grave *next;
	void *obj;
	void (*free_fn)(void *);
};
static struct loop_grave *loop_graves;

int
loop_defer_free(void *obj, void (*free_fn)(void *))
{
	struct loop_grave *g = malloc(sizeof(*g));

	if (g == NULL) {
		/* Leaking beats a use-after-free; this cannot happen twice
		 * in a row without the loop running out of memory anyway. */
		return -ENOMEM;
	}
	g->obj = obj;
	g->free_fn = free_fn;
	g->next = loop_graves;
	loop_graves = g;
	return 0;
}

static void
loop_reap(void)
{
	while (loop_graves != NULL) {
		struct loop_grave *g = loop_graves;

		loop_graves = g->next;
		g->free_fn(g->obj);
		free(g);
	}
}

int
loop_run(void)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, i;

	while (!loop_stop) {
		n = epoll_wait(loop_epfd, evs, LOOP_BATCH, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !loop_stop; i++) {
			struct loop_src *src = evs[i].data.ptr;

			if (src->fd >= 0)
				src->cb(src, evs[i].events);
		}
		loop_reap();
	}
	loop_reap();
	return 0;
}

void
loop_quit(void)
{
	loop_stop = 1;
}

uint64_t
loop_now_ms(void)
{
	return num_now_ms();
}
