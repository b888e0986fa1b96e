/* SPDX-License-Identifier: MIT */
/*
 * The helper's connection to vmsigd's adapter socket, and the helper's one
 * translation between frames and its own calls.  A protocol violation by
 * the core is fatal to the helper (systemd restarts it); the core going
 * away is not (the loop reconnects with backoff).
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "wire.h"

typedef Vmsig__V1__Frame Frame;

/* Dispatch roles of the connection: before and after Welcome. */
#define LINK_ROLE_READY	1u

static int link_sock = -1;
static uint32_t link_cur_epoch;
static int link_inval_sent;
static uint64_t link_req = 1;
static uint64_t link_hello_req;		/* the Hello awaiting its Welcome */
static struct dispatch_state link_ds;
static struct wire_arena *link_arena;
static unsigned char link_buf[VMSIG_FRAME_MAX];
static char link_why[VMSIG_MSG_MAX + 1];

int
link_fd(void)
{
	return link_sock;
}

uint32_t
link_epoch(void)
{
	return link_cur_epoch;
}

void
link_close(void)
{
	if (link_sock >= 0)
		(void)close(link_sock);
	link_sock = -1;
}

static int
send_frame(Frame *f, int fd)
{
	int n;

	f->nfds = fd >= 0 ? 1 : 0;
	if ((n = wire_pack(f, link_buf, sizeof(link_buf))) < 0)
		return n;
	return fdpass_send(link_sock, link_buf, (size_t)n, &fd,
	    fd >= 0 ? 1 : 0);
}

static int
on_welcome(void *conn, void *arg)
{
	const Frame *f = arg;

	(void)conn;
	link_cur_epoch = f->welcome->epoch;
	link_ds.role = LINK_ROLE_READY;
	log_info("connected to vmsigd as peer %u; next epoch %u",
	    f->welcome->peer_id, link_cur_epoch);
	return 0;
}

/* Before Welcome, an Error is vmsigd refusing us (we retry later); after
 * it, the core says we broke the protocol, which is fatal. */
static int
on_error(void *conn, void *arg)
{
	const Frame *f = arg;
	const char *msg = f->error->message != NULL ? f->error->message : "";

	(void)conn;
	if (link_ds.role == LINK_ROLE_READY) {
		log_warnx("vmsigd: %s", msg);
		return -EPROTO;
	}
	(void)snprintf(link_why, sizeof(link_why), "%s", msg);
	return f->error->code == EEXIST ? -EEXIST : -EPERM;
}

/* The core asks us to re-bootstrap for a new epoch: link_recv returns 1. */
static int
on_invalidate(void *conn, void *arg)
{
	const Frame *f = arg;

	(void)conn;
	link_cur_epoch = f->invalidate->epoch;
	return 1;
}

static int
on_mem_write_cmd(void *conn, void *arg)
{
	const Frame *f = arg;
	const Vmsig__V1__MemWriteCmd *c = f->mem_write_cmd;

	memwrite_do(conn, f->req_id, c->epoch, c->gpa, c->data.data,
	    c->data.len);
	return 0;
}

/* The one request we send is Hello. */
static int
outstanding(void *conn, uint64_t req_id)
{
	(void)conn;
	return link_ds.role == 0 && req_id == link_hello_req;
}

#define R_NEW	DISPATCH_ROLE(0)
#define R_READY	DISPATCH_ROLE(LINK_ROLE_READY)

/* What vmsigd may send a helper, and when.  Nothing carries a descriptor. */
static const struct dispatch_entry link_entries[] = {
	[VMSIG__V1__FRAME__MSG_WELCOME] = { "welcome", R_NEW,
	    DISPATCH_ONCE | DISPATCH_REPLY, 0, on_welcome },
	[VMSIG__V1__FRAME__MSG_ERROR] = { "error", R_NEW | R_READY,
	    DISPATCH_REPLY, 0, on_error },
	[VMSIG__V1__FRAME__MSG_INVALIDATE] = { "invalidate", R_READY,
	    DISPATCH_NO_REQ_ID, 0, on_invalidate },
	[VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD] = { "mem_write_cmd", R_READY,
	    DISPATCH_REQ_ID, 0, on_mem_write_cmd },
};

static const struct dispatch_table link_table = {
	.entries = link_entries,
	.n = sizeof(link_entries) / sizeof(link_entries[0]),
	.outstanding = outstanding,
};

/* Run one decoded frame through the table; g may be NULL (handshake). */
static int
dispatch_frame(struct guest *g, Frame *f, int fd)
{
	const char *why = NULL;
	int r;

	r = dispatch_run(&link_table, &link_ds, (unsigned int)f->msg_case,
	    f->req_id, fd >= 0 ? 1 : 0, g, f, &why);
	if (fd >= 0)	/* nothing the core sends us keeps one */
		(void)close(fd);
	if (r == -EPROTO && why != NULL)
		log_warnx("vmsigd sent %s, which %s", wire_msg_name(f), why);
	return r;
}

/* Wait for one frame (bounded), decoded into the arena. */
static int
recv_frame(int timeout_ms, Frame **ret, int *ret_fd)
{
	struct pollfd pfd = { .fd = link_sock, .events = POLLIN };
	unsigned int nfds = 0;
	size_t len = 0;
	int fds[1] = { -1 }, r;
	const char *why = NULL;

	if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	r = fdpass_recv(link_sock, link_buf, sizeof(link_buf), fds, 1, &len,
	    &nfds);
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return -EPROTO;
	r = wire_decode(link_arena, link_buf, len, nfds, ret, &why);
	if (r < 0) {
		fdpass_close(fds, nfds);
		log_warnx("vmsigd sent a bad frame: %s", why);
		return -EPROTO;
	}
	*ret_fd = nfds > 0 ? fds[0] : -1;
	return 0;
}

static int
handshake(const struct link_cfg *cfg, const char **ret_why)
{
	Frame *in;
	Frame hf = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;
	int n, r, fd = -1;

	memset(&link_ds, 0, sizeof(link_ds));
	link_hello_req = link_req++;
	/* Packed here, not by wire_pack_hello(): only an adapter names its
	 * endpoint (Hello.endpoint_name; "" = unnamed). */
	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_ADAPTER;
	h.name = (char *)cfg->name;
	h.endpoint = cfg->endpoint;
	h.source = VMSIG__V1__SOURCE__SOURCE_MEMCTX;
	h.endpoint_name = (char *)(cfg->ep_name != NULL ? cfg->ep_name : "");
	hf.req_id = link_hello_req;
	hf.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	hf.hello = &h;
	n = wire_pack(&hf, link_buf, sizeof(link_buf));
	if (n < 0)
		return n;
	if ((r = fdpass_send(link_sock, link_buf, (size_t)n, NULL, 0)) < 0)
		return r;
	if ((r = recv_frame(5000, &in, &fd)) < 0)
		return r == -EPIPE ? -ECONNRESET : r;
	r = dispatch_frame(NULL, in, fd);
	if (r == -EEXIST || r == -EPERM)
		*ret_why = link_why;
	if (r >= 0 && link_ds.role != LINK_ROLE_READY)
		r = -EPROTO;
	return r < 0 ? r : 0;
}

int
link_open(const struct link_cfg *cfg, const char **ret_why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int r;

	*ret_why = "";
	if (link_arena == NULL && (link_arena = wire_arena_new()) == NULL)
		return -ENOMEM;
	if (strlen(cfg->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, cfg->path);
	link_sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (link_sock == -1)
		return -errno;
	/* A non-blocking connect on AF_UNIX completes at once or fails. */
	if (connect(link_sock, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		r = -errno;
		link_close();
		return r;
	}
	if ((r = handshake(cfg, ret_why)) < 0)
		link_close();
	link_inval_sent = 0;
	return r;
}

int
link_send_ready(const struct guest *g)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemctxReady mr = VMSIG__V1__MEMCTX_READY__INIT;
	Vmsig__V1__Locator l = VMSIG__V1__LOCATOR__INIT;
	Vmsig__V1__Segment sv[LAYOUT_MAX_SEGS], *sp[LAYOUT_MAX_SEGS];
	vmsig_memctx pod = { .kcr3 = g->kcr3.kcr3, .flags = g->loc_flags };
	const vmsig_memseg *segs = NULL;
	uint32_t nseg = 0;

	layout_wire(&g->layout, &pod.low, &segs, &nseg);
	wire_locator_encode(&l, sv, sp, &pod, segs, nseg);
	mr.loc = &l;
	mr.method = (char *)kcr3_method_name(g->kcr3.method);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEMCTX_READY;
	f.memctx_ready = &mr;
	link_inval_sent = 0;
	/* Only ever the O_RDONLY descriptor: the writable one never leaves. */
	return send_frame(&f, g->fd);
}

int
link_send_invalidate(const char *reason)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__InvalidateRequest ir = VMSIG__V1__INVALIDATE_REQUEST__INIT;
	int r;

	if (link_sock < 0 || link_inval_sent)
		return 0;
	ir.reason = (char *)reason;
	f.msg_case = VMSIG__V1__FRAME__MSG_INVALIDATE_REQUEST;
	f.invalidate_request = &ir;
	link_inval_sent = 1;
	r = send_frame(&f, -1);
	return r < 0 ? r : 1;
}

int
link_reply_written(uint64_t req_id, uint64_t written)
{
	Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemWriteResult w = VMSIG__V1__MEM_WRITE_RESULT__INIT;

	w.written = written;
	f.req_id = req_id;
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_RESULT;
	f.mem_write_result = &w;
	return send_frame(&f, -1);
}

int
link_reply_error(uint64_t req_id, int code, const char *message)
{
	int n = wire_pack_error(link_buf, sizeof(link_buf), req_id, code,
	    message);

	if (n < 0)
		return n;
	return fdpass_send(link_sock, link_buf, (size_t)n, NULL, 0);
}

int
link_recv(struct guest *g)
{
	Frame *f;
	int fd = -1, r, i;

	/* Bounded: a burst of writes must not starve the rest of the loop. */
	for (i = 0; i < 16; i++) {
		r = recv_frame(-1, &f, &fd);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		if ((r = dispatch_frame(g, f, fd)) != 0)
			return r;
	}
	return 0;
}
