/* SPDX-License-Identifier: MIT */
/*
 * The seed corpus of the frame fuzzers, built from code rather than kept as
 * binary files: one valid Frame of every message type (and every Event
 * body), packed by the real wire_pack.  A target calls corpus_seed() from
 * LLVMFuzzerInitialize: every seed runs through the target once (so the
 * bounded driver of `make check` replays the corpus), and when
 * VMSIG_FUZZ_CORPUS names a directory the seeds are also written there as
 * files, for libFuzzer to start from:
 *   VMSIG_FUZZ_CORPUS=dir build/fuzz/fuzz_wire dir -max_total_time=600
 *
 * Runs in: tests
 */
#ifndef VMSIG_FUZZ_CORPUS_H
#define VMSIG_FUZZ_CORPUS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

typedef Vmsig__V1__Frame Frame;

/* The first input byte of a target, for a frame with nfds descriptors. */
typedef uint8_t corpus_prefix_fn(unsigned int nfds);

static unsigned int corpus_count;

static void
corpus_emit(const char *name, Frame *f, corpus_prefix_fn *prefix)
{
	static uint8_t buf[1 + VMSIG_FRAME_MAX];
	const char *dir = getenv("VMSIG_FUZZ_CORPUS");
	char path[4096];
	int n, fd;

	f->nfds = wire_fds_for(f);
	n = wire_pack(f, buf + 1, VMSIG_FRAME_MAX);
	if (n < 0)
		abort();	/* a seed that does not pack is a bug here */
	buf[0] = prefix(f->nfds);
	(void)LLVMFuzzerTestOneInput(buf, (size_t)n + 1);
	corpus_count++;
	if (dir == NULL || *dir == '\0')
		return;
	(void)snprintf(path, sizeof(path), "%s/seed-%02u-%s", dir,
	    corpus_count, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n + 1) != n + 1)
		fprintf(stderr, "corpus: cannot write %s\n", path);
	if (fd >= 0)
		(void)close(fd);
}

static void
corpus_events(corpus_prefix_fn *prefix)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Event e = VMSIG__V1__EVENT__INIT;
	Vmsig__V1__MemctxEvent mc = VMSIG__V1__MEMCTX_EVENT__INIT;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment sv[2], *sp[2];
	Vmsig__V1__MemctxInvalidatedEvent inv =
	    VMSIG__V1__MEMCTX_INVALIDATED_EVENT__INIT;
	Vmsig__V1__MemWrittenEvent wr = VMSIG__V1__MEM_WRITTEN_EVENT__INIT;
	Vmsig__V1__LeaseLostEvent ll = VMSIG__V1__LEASE_LOST_EVENT__INIT;
	Vmsig__V1__EndpointGoneEvent gone = VMSIG__V1__ENDPOINT_GONE_EVENT__INIT;
	vmsig_memctx pod = { .kcr3 = 0x1aa000, .low = 0x80000000u };
	vmsig_memseg segs[2] = { { 0, 0x80000000u, 0 },
	    { 0x100000000ull, 0x40000000u, 0x80000000u } };

	f.msg_case = VMSIG__V1__FRAME__MSG_EVENT;
	f.event = &e;
	e.endpoint = 3;
	e.epoch = 2;
	e.seq = 7;
	e.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	wire_locator_encode(&l, sv, sp, &pod, segs, 2);
	mc.loc = &l;
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX;
	e.body_case = VMSIG__V1__EVENT__BODY_MEMCTX;
	e.memctx = &mc;
	corpus_emit("event-memctx", &f, prefix);
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_MEMCTX_INVALIDATED;
	e.body_case = VMSIG__V1__EVENT__BODY_INVALIDATED;
	e.invalidated = &inv;
	corpus_emit("event-invalidated", &f, prefix);
	wr.gpa = 0x1000;
	wr.len = 8;
	wr.writer = 4;
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_MEMWRITTEN;
	e.body_case = VMSIG__V1__EVENT__BODY_WRITTEN;
	e.written = &wr;
	corpus_emit("event-written", &f, prefix);
	ll.lease_id = 9;
	ll.reason = VMSIG__V1__LEASE_LOST_REASON__LEASE_LOST_EPOCH;
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_LEASE_LOST;
	e.body_case = VMSIG__V1__EVENT__BODY_LEASE_LOST;
	e.lease_lost = &ll;
	corpus_emit("event-lease-lost", &f, prefix);
	e.type = VMSIG__V1__EVENT_TYPE__EVENT_ENDPOINT_GONE;
	e.body_case = VMSIG__V1__EVENT__BODY_GONE;
	e.gone = &gone;
	corpus_emit("event-gone", &f, prefix);
}

static void
corpus_status(corpus_prefix_fn *prefix)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__StatusReply s = VMSIG__V1__STATUS_REPLY__INIT;
	Vmsig__V1__EndpointStatus es = VMSIG__V1__ENDPOINT_STATUS__INIT, *esp;
	Vmsig__V1__PeerStatus ps = VMSIG__V1__PEER_STATUS__INIT, *psp;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment sv[1], *sp[1];
	vmsig_memctx pod = { .kcr3 = 0x1aa000, .low = 0x80000000u };
	vmsig_memseg seg = { 0, 0x80000000u, 0 };

	wire_locator_encode(&l, sv, sp, &pod, &seg, 1);
	es.endpoint = 3;
	es.epoch = 2;
	es.has_context = 1;
	es.loc = &l;
	es.method = "lowstub";
	esp = &es;
	ps.peer_id = 1;
	ps.role = VMSIG__V1__ROLE__ROLE_HOLDER;
	ps.name = "seed";
	psp = &ps;
	s.proto_version = VMSIG_PROTO_VERSION;
	s.n_endpoints = 1;
	s.endpoints = &esp;
	s.n_peers = 1;
	s.peers = &psp;
	f.req_id = 2;
	f.msg_case = VMSIG__V1__FRAME__MSG_STATUS_REPLY;
	f.status_reply = &s;
	corpus_emit("status-reply", &f, prefix);
}

/* Holder and helper requests and the core's replies. */
static void
corpus_requests(corpus_prefix_fn *prefix)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Welcome w = VMSIG__V1__WELCOME__INIT;
	Vmsig__V1__Subscribe sub = VMSIG__V1__SUBSCRIBE__INIT;
	Vmsig__V1__Unsubscribe unsub = VMSIG__V1__UNSUBSCRIBE__INIT;
	Vmsig__V1__Ack ack = VMSIG__V1__ACK__INIT;
	Vmsig__V1__LeaseAcquire acq = VMSIG__V1__LEASE_ACQUIRE__INIT;
	Vmsig__V1__LeaseGranted gr = VMSIG__V1__LEASE_GRANTED__INIT;
	Vmsig__V1__LeaseRenew ren = VMSIG__V1__LEASE_RENEW__INIT;
	Vmsig__V1__LeaseRelease rel = VMSIG__V1__LEASE_RELEASE__INIT;
	Vmsig__V1__MemWrite mw = VMSIG__V1__MEM_WRITE__INIT;
	Vmsig__V1__MemWriteDone done = VMSIG__V1__MEM_WRITE_DONE__INIT;
	Vmsig__V1__StatusRequest st = VMSIG__V1__STATUS_REQUEST__INIT;
	uint32_t eps[2] = { 1, 3 };
	uint8_t data[8] = { 0x90, 0x90, 0xcc };

	f.req_id = 1;
	w.proto_version = VMSIG_PROTO_VERSION;
	w.peer_id = 5;
	w.epoch = 1;
	f.msg_case = VMSIG__V1__FRAME__MSG_WELCOME;
	f.welcome = &w;
	corpus_emit("welcome", &f, prefix);
	f.req_id = 2;
	sub.n_endpoints = 2;
	sub.endpoints = eps;
	sub.event_mask = 0x1e;
	f.msg_case = VMSIG__V1__FRAME__MSG_SUBSCRIBE;
	f.subscribe = &sub;
	corpus_emit("subscribe", &f, prefix);
	f.msg_case = VMSIG__V1__FRAME__MSG_UNSUBSCRIBE;
	f.unsubscribe = &unsub;
	corpus_emit("unsubscribe", &f, prefix);
	f.msg_case = VMSIG__V1__FRAME__MSG_ACK;
	f.ack = &ack;
	corpus_emit("ack", &f, prefix);
	acq.endpoint = 3;
	acq.kind = VMSIG__V1__LEASE_KIND__LEASE_MEMWRITE;
	acq.ttl_ms = 1000;
	f.msg_case = VMSIG__V1__FRAME__MSG_LEASE_ACQUIRE;
	f.lease_acquire = &acq;
	corpus_emit("lease-acquire", &f, prefix);
	gr.lease_id = 9;
	gr.expires_ms = 123456;
	gr.epoch = 2;
	f.msg_case = VMSIG__V1__FRAME__MSG_LEASE_GRANTED;
	f.lease_granted = &gr;
	corpus_emit("lease-granted", &f, prefix);
	ren.lease_id = 9;
	ren.ttl_ms = 500;
	f.msg_case = VMSIG__V1__FRAME__MSG_LEASE_RENEW;
	f.lease_renew = &ren;
	corpus_emit("lease-renew", &f, prefix);
	rel.lease_id = 9;
	f.msg_case = VMSIG__V1__FRAME__MSG_LEASE_RELEASE;
	f.lease_release = &rel;
	corpus_emit("lease-release", &f, prefix);
	mw.endpoint = 3;
	mw.epoch = 2;
	mw.lease_id = 9;
	mw.gpa = 0x1000;
	mw.data.data = data;
	mw.data.len = sizeof(data);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE;
	f.mem_write = &mw;
	corpus_emit("mem-write", &f, prefix);
	done.written = sizeof(data);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_DONE;
	f.mem_write_done = &done;
	corpus_emit("mem-write-done", &f, prefix);
	f.msg_case = VMSIG__V1__FRAME__MSG_STATUS;
	f.status = &st;
	corpus_emit("status", &f, prefix);
}

/* The handshake and the adapter socket's messages. */
static void
corpus_adapter(corpus_prefix_fn *prefix)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemctxReady mr = VMSIG__V1__MEMCTX_READY__INIT;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment sv[1], *sp[1];
	Vmsig__V1__InvalidateRequest ir = VMSIG__V1__INVALIDATE_REQUEST__INIT;
	Vmsig__V1__Invalidate inv = VMSIG__V1__INVALIDATE__INIT;
	Vmsig__V1__MemWriteCmd cmd = VMSIG__V1__MEM_WRITE_CMD__INIT;
	Vmsig__V1__MemWriteResult res = VMSIG__V1__MEM_WRITE_RESULT__INIT;
	vmsig_memctx pod = { .kcr3 = 0x1aa000, .low = 0x40000000u };
	uint8_t data[4] = { 1, 2, 3, 4 };
	static uint8_t buf[VMSIG_FRAME_MAX];
	wire_frame *hf;
	struct wire_arena *a;
	int n;

	/* Hello and Error come from the one packer every role uses. */
	if ((a = wire_arena_new()) == NULL)
		abort();
	n = wire_pack_hello(buf, sizeof(buf), 1, VMSIG__V1__ROLE__ROLE_ADAPTER,
	    "seed", 3, VMSIG__V1__SOURCE__SOURCE_MEMCTX);
	if (n < 0 || wire_decode(a, buf, (size_t)n, 0, &hf, NULL) < 0)
		abort();
	corpus_emit("hello", hf, prefix);
	n = wire_pack_error(buf, sizeof(buf), 1, 17, "endpoint 3 is taken");
	if (n < 0 || wire_decode(a, buf, (size_t)n, 0, &hf, NULL) < 0)
		abort();
	corpus_emit("error", hf, prefix);
	wire_arena_free(a);
	wire_locator_encode(&l, sv, sp, &pod, NULL, 0);
	mr.loc = &l;
	mr.method = "lowstub";
	f.msg_case = VMSIG__V1__FRAME__MSG_MEMCTX_READY;
	f.memctx_ready = &mr;
	corpus_emit("memctx-ready", &f, prefix);
	ir.reason = "file replaced";
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST;
	f.invalidate_request = &ir;
	corpus_emit("invalidate-request", &f, prefix);
	inv.epoch = 3;
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE;
	f.invalidate = &inv;
	corpus_emit("invalidate", &f, prefix);
	f.req_id = 4;
	cmd.epoch = 2;
	cmd.gpa = 0x2000;
	cmd.data.data = data;
	cmd.data.len = sizeof(data);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD;
	f.mem_write_cmd = &cmd;
	corpus_emit("mem-write-cmd", &f, prefix);
	res.written = sizeof(data);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_RESULT;
	f.mem_write_result = &res;
	corpus_emit("mem-write-result", &f, prefix);
}

/* Run (and maybe write) every seed; returns how many there were. */
static unsigned int
corpus_seed(corpus_prefix_fn *prefix)
{
	corpus_count = 0;
	corpus_requests(prefix);
	corpus_events(prefix);
	corpus_status(prefix);
	corpus_adapter(prefix);
	return corpus_count;
}

#endif
