/* SPDX-License-Identifier: MIT */
/*
 * proto/: datagrams with 0, 1 and 2 descriptors over a real SOCK_SEQPACKET
 * socketpair, and every malformed case of the strict decoder: truncated
 * datagram, truncated ancillary data, garbage, unknown fields at top level
 * and nested, protobuf-c's over-long tag (field 0), descriptor counts that
 * disagree, values out of their limits, the allocation budget, strings
 * holding NUL.  Each failure must leave no descriptor behind.  Also the
 * shared receive path: the dispatch table's state rules, the check of a
 * guest-RAM descriptor, number parsing.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dispatch.h"
#include "num.h"
#include "wire.h"

static int
nfds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* A pipe whose read end we send; the write end proves it is the same. */
static void
roundtrip(unsigned int nfds)
{
	int sv[2], p[2][2], in[4] = { -1, -1, -1, -1 }, out[4];
	unsigned char buf[64];
	unsigned int i, got = 9;
	size_t len = 0;
	int base = nfds_open();

	pair(sv);
	for (i = 0; i < nfds; i++) {
		assert_int_equal(pipe2(p[i], O_CLOEXEC), 0);
		in[i] = p[i][0];
	}
	assert_int_equal(fdpass_send(sv[0], "hello", 5, in, nfds), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), out, 2, &len,
	    &got), 1);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(got, nfds);
	for (i = 0; i < nfds; i++) {
		char c = 0;

		assert_true(fcntl(out[i], F_GETFD) & FD_CLOEXEC);
		assert_int_equal(write(p[i][1], "x", 1), 1);
		assert_int_equal(read(out[i], &c, 1), 1);
		assert_int_equal(c, 'x');
		close(out[i]);
		close(p[i][0]);
		close(p[i][1]);
	}
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(nfds_open(), base);
}

static void
t_roundtrip_0(void **s) { (void)s; roundtrip(0); }
static void
t_roundtrip_1(void **s) { (void)s; roundtrip(1); }
static void
t_roundtrip_2(void **s) { (void)s; roundtrip(2); }

static void
t_eof(void **s)
{
	int sv[2], fds[1];
	unsigned char buf[16];
	size_t len;
	unsigned int n;

	(void)s;
	pair(sv);
	close(sv[0]);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), fds, 1, &len,
	    &n), 0);
	close(sv[1]);
}

/* A datagram longer than the buffer: MSG_TRUNC, and its fd closed. */
static void
t_truncated(void **s)
{
	int sv[2], fds[1], p[2], base;
	unsigned char big[512] = { 0 }, buf[64];
	size_t len;
	unsigned int n;

	(void)s;
	pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	base = nfds_open();
	assert_int_equal(fdpass_send(sv[0], big, sizeof(big), &p[0], 1), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), fds, 1, &len,
	    &n), -EMSGSIZE);
	assert_int_equal(nfds_open(), base);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Two descriptors where one is allowed: MSG_CTRUNC, none kept. */
static void
t_ctrunc(void **s)
{
	int sv[2], fds[1], p[2], two[2], base;
	unsigned char buf[64];
	size_t len;
	unsigned int n;

	(void)s;
	pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	two[0] = p[0];
	two[1] = p[1];
	base = nfds_open();
	assert_int_equal(fdpass_send(sv[0], "x", 1, two, 2), 0);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), fds, 1, &len,
	    &n), -ETOOMANYREFS);
	assert_int_equal(nfds_open(), base);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static int
pack_hello(unsigned char *buf, size_t cap, const char *name, unsigned int nfds)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Hello h = VMSIG__V1__HELLO__INIT;

	h.proto_version = VMSIG_PROTO_VERSION;
	h.role = VMSIG__V1__ROLE__ROLE_HOLDER;
	h.name = (char *)name;
	f.req_id = 7;
	f.nfds = nfds;
	f.msg_case = VMSIG__V1__FRAME__MSG_HELLO;
	f.hello = &h;
	return wire_pack(&f, buf, cap);
}

static void
t_decode_ok(void **s)
{
	struct wire_arena *a = wire_arena_new();
	unsigned char buf[256];
	wire_frame *f;
	int n = pack_hello(buf, sizeof(buf), "test", 0);

	(void)s;
	assert_true(n > 0);
	assert_int_equal(wire_decode(a, buf, (size_t)n, 0, &f, NULL), 0);
	assert_int_equal(f->msg_case, VMSIG__V1__FRAME__MSG_HELLO);
	assert_string_equal(f->hello->name, "test");
	assert_int_equal(f->req_id, 7);
	assert_string_equal(wire_msg_name(f), "hello");
	wire_arena_free(a);
}

static void
expect_bad(const void *buf, size_t len, unsigned int nfds, int err)
{
	struct wire_arena *a = wire_arena_new();
	wire_frame *f = NULL;
	const char *why = NULL;

	assert_int_equal(wire_decode(a, buf, len, nfds, &f, &why), err);
	assert_non_null(why);
	wire_arena_free(a);
}

static void
t_garbage(void **s)
{
	static const unsigned char g[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	unsigned char rnd[200];
	unsigned int i;

	(void)s;
	expect_bad(g, sizeof(g), 0, -EBADMSG);
	expect_bad(g, 0, 0, -EBADMSG);	/* no message at all */
	/* Bounded pseudo-random frames never crash and never decode into a
	 * frame with a descriptor count that differs. */
	srandom(1);
	for (i = 0; i < 2000; i++) {
		struct wire_arena *a = wire_arena_new();
		wire_frame *f;
		size_t k, n = (size_t)(random() % sizeof(rnd));

		for (k = 0; k < n; k++)
			rnd[k] = (unsigned char)random();
		if (wire_decode(a, rnd, n, 0, &f, NULL) == 0)
			assert_int_equal(wire_fds_for(f), 0);
		wire_arena_free(a);
	}
}

static void
t_unknown_top(void **s)
{
	/* Ack (field 15, empty) plus unknown field 127 (varint 1). */
	static const unsigned char u[] = { 0x7a, 0x00, 0xf8, 0x07, 0x01 };

	(void)s;
	expect_bad(u, sizeof(u), 0, -EBADMSG);
}

static void
t_unknown_nested(void **s)
{
	/* Event (field 16) holding unknown field 127. */
	static const unsigned char u[] = { 0x82, 0x01, 0x03, 0xf8, 0x07, 0x01 };
	/* Event holding MemctxEvent (10) holding Locator (1) holding an
	 * unknown field 9: three levels down. */
	static const unsigned char deep[] = { 0x82, 0x01, 0x0a, 0x08, 0x01,
	    0x52, 0x06, 0x0a, 0x04, 0x48, 0x01, 0x08, 0x01 };

	(void)s;
	expect_bad(u, sizeof(u), 0, -EBADMSG);
	expect_bad(deep, sizeof(deep), 1, -EBADMSG);
}

/* protobuf-c 1.4.1 reads 0x80 0x00 as tag 0 and keeps it as unknown. */
static void
t_overlong_tag(void **s)
{
	static const unsigned char z[] = { 0x7a, 0x00, 0x80, 0x00, 0x05 };
	static const unsigned char z2[] = { 0x7a, 0x00, 0x80, 0x80, 0x00, 0x05 };

	(void)s;
	expect_bad(z, sizeof(z), 0, -EBADMSG);
	expect_bad(z2, sizeof(z2), 0, -EBADMSG);
}

static void
t_fd_count(void **s)
{
	unsigned char buf[256];
	int n;

	(void)s;
	/* Declares one, none came. */
	n = pack_hello(buf, sizeof(buf), "x", 1);
	expect_bad(buf, (size_t)n, 0, -EPROTO);
	/* Declares none, one came. */
	n = pack_hello(buf, sizeof(buf), "x", 0);
	expect_bad(buf, (size_t)n, 1, -EPROTO);
	/* Declares one and one came, but Hello carries none. */
	n = pack_hello(buf, sizeof(buf), "x", 1);
	expect_bad(buf, (size_t)n, 1, -EPROTO);
}

static void
t_limits(void **s)
{
	unsigned char buf[512];
	char name[VMSIG_NAME_MAX + 2];
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__MemWrite w = VMSIG__V1__MEM_WRITE__INIT;
	int n;

	(void)s;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	n = pack_hello(buf, sizeof(buf), name, 0);
	expect_bad(buf, (size_t)n, 0, -EBADMSG);
	f.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE;
	f.mem_write = &w;	/* no data */
	n = wire_pack(&f, buf, sizeof(buf));
	expect_bad(buf, (size_t)n, 0, -EBADMSG);
}

/* 64 KiB of empty repeated Segments would cost megabytes unpacked. */
static void
t_budget(void **s)
{
	size_t cap = VMSIG_FRAME_MAX, n = 0, inner;
	unsigned char *b = malloc(cap);

	(void)s;
	assert_non_null(b);
	/* Frame.memctx_ready (30, LEN) { loc (1, LEN) { segs (4) x N } } */
	inner = (cap - 16) / 2 * 2;
	inner = inner > 60000 ? 60000 : inner;
	b[n++] = 0xf2; b[n++] = 0x01;		/* field 30, LEN */
	b[n++] = (unsigned char)(0x80 | ((inner + 4) & 0x7f));
	b[n++] = (unsigned char)(0x80 | (((inner + 4) >> 7) & 0x7f));
	b[n++] = (unsigned char)(((inner + 4) >> 14) & 0x7f);
	b[n++] = 0x0a;				/* loc, LEN */
	b[n++] = (unsigned char)(0x80 | (inner & 0x7f));
	b[n++] = (unsigned char)(0x80 | ((inner >> 7) & 0x7f));
	b[n++] = (unsigned char)((inner >> 14) & 0x7f);
	while (n + 2 <= 9 + inner) {
		b[n++] = 0x22;			/* segs, LEN 0 */
		b[n++] = 0x00;
	}
	expect_bad(b, n, 1, -E2BIG);
	free(b);
}

/* A NUL inside a string, at the top (Hello.name) or nested (a reason in
 * an Error), refuses the frame: protobuf-c would cut the string short. */
static void
t_string_nul(void **s)
{
	struct wire_arena *a = wire_arena_new();
	unsigned char buf[256];
	wire_frame *f;
	const char *why = NULL;
	char *x;
	int n;

	(void)s;
	n = wire_pack_hello(buf, sizeof(buf), 1, VMSIG__V1__ROLE__ROLE_HOLDER,
	    "adXmin", 0, 0);
	assert_true(n > 0);
	assert_int_equal(wire_decode(a, buf, (size_t)n, 0, &f, NULL), 0);
	assert_string_equal(f->hello->name, "adXmin");
	x = memchr(buf, 'X', (size_t)n);
	assert_non_null(x);
	*x = '\0';
	assert_int_equal(wire_decode(a, buf, (size_t)n, 0, &f, &why), -EBADMSG);
	assert_string_equal(why, "a string contains NUL");
	n = wire_pack_error(buf, sizeof(buf), 3, EPERM, "noXpe");
	assert_true(n > 0);
	*(char *)memchr(buf, 'X', (size_t)n) = '\0';
	assert_int_equal(wire_decode(a, buf, (size_t)n, 0, &f, NULL), -EBADMSG);
	/* Bytes fields may hold anything. */
	{
		wire_frame g = VMSIG__V1__FRAME__INIT;
		Vmsig__V1__MemWriteCmd c = VMSIG__V1__MEM_WRITE_CMD__INIT;
		uint8_t zero[4] = { 0 };

		c.data.data = zero;
		c.data.len = sizeof(zero);
		g.req_id = 1;
		g.msg_case = VMSIG__V1__FRAME__MSG_MEM_WRITE_CMD;
		g.mem_write_cmd = &c;
		n = wire_pack(&g, buf, sizeof(buf));
		assert_int_equal(wire_decode(a, buf, (size_t)n, 0, &f, NULL), 0);
	}
	wire_arena_free(a);
}

/* The one check of a guest-RAM descriptor, for the core and holders. */
static void
t_fd_check(void **s)
{
	char path[64];
	const char *why = NULL;
	uint64_t size = 0;
	int mfd, ro, op, p[2];

	(void)s;
	mfd = memfd_create("t_fd_check", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, 8192), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	op = open(path, O_PATH | O_CLOEXEC);
	assert_true(ro >= 0 && op >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fdpass_check_rdonly(ro, &size, &why), 0);
	assert_int_equal(size, 8192);
	assert_int_equal(fdpass_check_rdonly(mfd, NULL, &why), -EACCES);
	assert_int_equal(fdpass_check_rdonly(op, NULL, &why), -EACCES);
	assert_int_equal(fdpass_check_rdonly(p[0], NULL, &why), -EINVAL);
	assert_string_equal(why, "descriptor is not a regular file");
	assert_int_equal(fdpass_check_rdonly(-1, NULL, NULL), -EBADF);
	close(ro);
	close(op);
	close(mfd);
	close(p[0]);
	close(p[1]);
}

/* A receiver's table as the three roles write them. */
static int handled;

static int
count_handler(void *conn, void *msg)
{
	(void)conn;
	(void)msg;
	handled++;
	return 0;
}

static int
only_req_5(void *conn, uint64_t req_id)
{
	(void)conn;
	return req_id == 5;
}

enum { T_HELLO, T_REQ, T_EVENT, T_REPLY, T_HOLE, T_N };

static const struct dispatch_entry test_entries[T_N] = {
	[T_HELLO] = { "hello", DISPATCH_ROLE(0), DISPATCH_ONCE, 0,
	    count_handler },
	[T_REQ] = { "req", DISPATCH_ROLE(1), DISPATCH_REQ_ID, 0,
	    count_handler },
	[T_EVENT] = { "event", DISPATCH_ROLE(1) | DISPATCH_ROLE(2),
	    DISPATCH_NO_REQ_ID | DISPATCH_NEEDS_HELLO, 1, count_handler },
	[T_REPLY] = { "reply", DISPATCH_ROLE(1), DISPATCH_REQ_ID |
	    DISPATCH_REPLY, 0, count_handler },
};

static const struct dispatch_table test_table = {
	test_entries, T_N, only_req_5
};

static void
t_dispatch(void **s)
{
	struct dispatch_state st = { 0 };
	const char *why = NULL;

	(void)s;
	handled = 0;
#define RUN(type, req, nfds)	dispatch_run(&test_table, &st, (type), (req), \
	    (nfds), NULL, NULL, &why)
	/* Before hello only Hello. */
	assert_int_equal(RUN(T_REQ, 1, 0), -EPROTO);
	assert_string_equal(why, "is not allowed before hello");
	assert_int_equal(RUN(T_EVENT, 0, 0), -EPROTO);
	assert_string_equal(why, "is not allowed before hello");
	assert_int_equal(RUN(T_HELLO, 1, 0), 0);
	/* Once. */
	assert_int_equal(RUN(T_HELLO, 1, 0), -EPROTO);
	assert_string_equal(why, "is allowed only once");
	st.role = 1;
	/* Unknown types and holes in the table. */
	assert_int_equal(RUN(T_HOLE, 1, 0), -EPROTO);
	assert_int_equal(RUN(T_N + 7, 1, 0), -EPROTO);
	assert_int_equal(RUN(1000, 1, 0), -EPROTO);
	assert_string_equal(dispatch_name(&test_table, 1000), "message");
	assert_string_equal(dispatch_name(&test_table, T_REPLY), "reply");
	/* Requests need a req_id, events must not have one. */
	assert_int_equal(RUN(T_REQ, 0, 0), -EPROTO);
	assert_string_equal(why, "carries no req_id");
	assert_int_equal(RUN(T_REQ, 9, 0), 0);
	assert_int_equal(RUN(T_EVENT, 4, 0), -EPROTO);
	assert_int_equal(RUN(T_EVENT, 0, 1), 0);
	assert_int_equal(RUN(T_EVENT, 0, 2), -EPROTO);
	assert_string_equal(why, "carries too many descriptors");
	assert_int_equal(RUN(T_REQ, 9, 1), -EPROTO);
	/* Replies answer what was asked. */
	assert_int_equal(RUN(T_REPLY, 6, 0), -EPROTO);
	assert_string_equal(why, "answers no request that was sent");
	assert_int_equal(RUN(T_REPLY, 5, 0), 0);
	/* Role 2 may send events only. */
	st.role = 2;
	assert_int_equal(RUN(T_REQ, 9, 0), -EPROTO);
	assert_string_equal(why, "is not allowed in this role");
	assert_int_equal(RUN(T_EVENT, 0, 0), 0);
	st.role = 40;
	assert_int_equal(RUN(T_EVENT, 0, 0), -EPROTO);
#undef RUN
	assert_int_equal(handled, 5);
}

static void
t_num(void **s)
{
	unsigned long v = 0;
	uint64_t t0, t1;

	(void)s;
	assert_int_equal(num_parse_ul("42", 10, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(num_parse_ul("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(num_parse_ul("101", 10, 100, &v), -ERANGE);
	assert_int_equal(num_parse_ul("99999999999999999999999", 10, ~0ul,
	    &v), -ERANGE);
	assert_int_equal(num_parse_ul("-1", 10, ~0ul, &v), -EINVAL);
	assert_int_equal(num_parse_ul(" 1", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("+1", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("7x", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul(NULL, 10, 100, &v), -EINVAL);
	assert_int_equal(v, 16);	/* untouched on failure */
	t0 = num_now_ms();
	t1 = num_now_ms();
	assert_true(t1 >= t0);
}

static void
t_pack_too_big(void **s)
{
	Vmsig__V1__Frame f = VMSIG__V1__FRAME__INIT;
	Vmsig__V1__Error e = VMSIG__V1__ERROR__INIT;
	char *msg = malloc(VMSIG_FRAME_MAX + 10);
	unsigned char *buf = malloc(VMSIG_FRAME_MAX * 2);

	(void)s;
	memset(msg, 'm', VMSIG_FRAME_MAX + 9);
	msg[VMSIG_FRAME_MAX + 9] = '\0';
	e.message = msg;
	f.msg_case = VMSIG__V1__FRAME__MSG_ERROR;
	f.error = &e;
	assert_int_equal(wire_pack(&f, buf, VMSIG_FRAME_MAX * 2), -EMSGSIZE);
	free(msg);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip_0),
		cmocka_unit_test(t_roundtrip_1),
		cmocka_unit_test(t_roundtrip_2),
		cmocka_unit_test(t_eof),
		cmocka_unit_test(t_truncated),
		cmocka_unit_test(t_ctrunc),
		cmocka_unit_test(t_decode_ok),
		cmocka_unit_test(t_garbage),
		cmocka_unit_test(t_unknown_top),
		cmocka_unit_test(t_unknown_nested),
		cmocka_unit_test(t_overlong_tag),
		cmocka_unit_test(t_fd_count),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_budget),
		cmocka_unit_test(t_pack_too_big),
		cmocka_unit_test(t_string_nul),
		cmocka_unit_test(t_fd_check),
		cmocka_unit_test(t_dispatch),
		cmocka_unit_test(t_num),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
