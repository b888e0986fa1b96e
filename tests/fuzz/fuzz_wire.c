/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the frame decoder every peer reaches (proto/wire.c):
 * whatever a datagram holds, wire_decode must refuse it cleanly or return
 * a frame that keeps every limit; a frame it accepts must pack again, and
 * that packing must decode to the same bytes (a decoded frame has one
 * meaning).  Byte 0 is the descriptor count the datagram claims (0-3),
 * the rest is the datagram.  Seeds: corpus.h.
 *
 * Runs in: tests
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "corpus.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct wire_arena *arena, *arena2;
static uint8_t out[VMSIG_FRAME_MAX], out2[VMSIG_FRAME_MAX];

static uint8_t
prefix(unsigned int nfds)
{
	return (uint8_t)nfds;
}

/* What the decoder promises about a frame it accepted. */
static void
check_frame(const wire_frame *f, unsigned int nfds)
{
	vmsig_memctx pod;
	vmsig_memseg segs[VMSIG_SEGS_MAX];
	const Vmsig__V1__Locator *l = NULL;

	if (wire_msg_name(f) == NULL || wire_fds_for(f) != nfds ||
	    f->nfds != nfds)
		abort();
	if (f->msg_case == VMSIG__V1__FRAME__MSG_MEMCTX_READY)
		l = f->memctx_ready->loc;
	else if (f->msg_case == VMSIG__V1__FRAME__MSG_EVENT &&
	    f->event->body_case == VMSIG__V1__EVENT__BODY_MEMCTX)
		l = f->event->memctx->loc;
	if (l != NULL) {
		if (l->n_segs > VMSIG_SEGS_MAX)
			abort();
		wire_locator_decode(l, &pod, segs);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = wire_arena_new();
	arena2 = wire_arena_new();
	if (arena == NULL || arena2 == NULL)
		abort();
	fprintf(stderr, "fuzz_wire: %u seed frames replayed\n",
	    corpus_seed(prefix));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	wire_frame *f, *g;
	const char *why = NULL;
	unsigned int nfds;
	int n, n2;

	if (len < 1)
		return 0;
	nfds = data[0] & 3;
	if (wire_decode(arena, data + 1, len - 1, nfds, &f, &why) < 0) {
		if (why == NULL)
			abort();	/* every refusal names its check */
		return 0;
	}
	check_frame(f, nfds);
	/* Non-canonical input (unpacked repeats, long varints) may shrink;
	 * it never has to grow past the datagram limit to mean the same. */
	if ((n = wire_pack(f, out, sizeof(out))) < 0)
		return 0;
	if (wire_decode(arena2, out, (size_t)n, nfds, &g, &why) < 0)
		abort();
	n2 = wire_pack(g, out2, sizeof(out2));
	if (n2 != n || memcmp(out, out2, (size_t)n) != 0)
		abort();
	return 0;
}
