/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the holder's side of the wire (vmsig-holder/holder_wire.c):
 * a datagram from a hostile "daemon", with or without a descriptor, meets
 * the real decoder and the holder's dispatch table in either connection
 * state.  Nothing may crash, leak or keep a descriptor it refused, and an
 * accepted MEMCTX event must only ever carry a read-only regular file.
 *
 * Byte 0: bit 0, one descriptor comes with the datagram; bits 1-2, which
 * (a read-only memfd, the writable memfd, an O_PATH one, a pipe); bit 3,
 * the handshake is done; bits 4-5, the last req_id sent (0, 1, 5, 2^40).
 * The rest is the datagram.  Seeds: corpus.h.
 *
 * Runs in: tests
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../vmsig-holder/holder_int.h"
#include "corpus.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct vmsig_holder h;
static int kind_fd[4];

static uint8_t
prefix(unsigned int nfds)
{
	/* A read-only descriptor, after the handshake, req_id 5 sent. */
	return (uint8_t)(nfds | 8u | (2u << 4));
}

static void
open_fds(void)
{
	char path[64];
	int mfd, p[2];

	mfd = memfd_create("fuzz-event", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 1 << 20) < 0 ||
	    pipe2(p, O_CLOEXEC) < 0)
		abort();
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	kind_fd[0] = open(path, O_RDONLY | O_CLOEXEC);
	kind_fd[1] = mfd;
	kind_fd[2] = open(path, O_PATH | O_CLOEXEC);
	kind_fd[3] = p[0];
	(void)close(p[1]);
	if (kind_fd[0] < 0 || kind_fd[2] < 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	open_fds();
	h.fd = -1;
	if ((h.arena = wire_arena_new()) == NULL)
		abort();
	fprintf(stderr, "fuzz_event: %u seed frames replayed\n",
	    corpus_seed(prefix));
	return 0;
}

static void
check_event(const vmsig_event *ev, unsigned int kind)
{
	const vmsig_memseg *segs;
	uint32_t nseg = 0;

	if (ev->type != VMSIG_EV_MEMCTX) {
		if (ev->fd != -1)
			abort();
		return;
	}
	/* Only the read-only regular file may get through. */
	if (ev->fd < 0 || kind != 0 || fdpass_check_rdonly(ev->fd, NULL,
	    NULL) < 0)
		abort();
	segs = vmsig_memctx_segs(ev, &nseg);
	if (nseg > VMSIG_SEGS_MAX || (nseg > 0 && segs == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint64_t reqs[4] = { 0, 1, 5, 1ull << 40 };
	struct holder_msg m;
	unsigned int nfds, kind;
	int fds[1] = { -1 };

	if (len < 1)
		return 0;
	nfds = data[0] & 1;
	kind = (data[0] >> 1) & 3;
	memset(&h.ds, 0, sizeof(h.ds));
	h.ds.role = (data[0] & 8) ? HOLDER_ROLE_READY : 0;
	h.next_req = reqs[(data[0] >> 4) & 3];
	if (nfds == 1 && (fds[0] = dup(kind_fd[kind])) < 0)
		abort();
	if (holder_wire_parse(&h, data + 1, len - 1, fds, nfds, &m) < 0) {
		fdpass_close(fds, nfds);
		return 0;
	}
	if (m.kind == HOLDER_MSG_EVENT)
		check_event(m.ev, kind);
	else if (nfds != 0)
		abort();	/* only an event may keep a descriptor */
	if (m.kind != HOLDER_MSG_WELCOME && m.kind != HOLDER_MSG_ERROR &&
	    m.kind != HOLDER_MSG_EVENT && m.req_id == 0)
		abort();	/* replies answer a request */
	holder_msg_clear(&m);
	return 0;
}
