/* SPDX-License-Identifier: MIT */
/*
 * proto/dispatch.c: the table-driven receive path every receiver shares.
 * test_wire.c walks the rules once on a small table; here each rule is
 * taken alone, accepted and refused: needs hello, once (and what a refused
 * or failing message does to it), needs req_id, a reply that must answer a
 * request (and a table without a matcher), no req_id, descriptors, unknown
 * and half-filled entries, the type limit, roles at the edge of the mask;
 * a refusal never reaches the handler, which gets conn and msg and whose
 * value is passed back.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dispatch.h"

static unsigned int calls;
static void *last_conn, *last_msg;
static int handler_ret;

static int
h(void *conn, void *msg)
{
	calls++;
	last_conn = conn;
	last_msg = msg;
	return handler_ret;
}

static int
outstanding_7(void *conn, uint64_t req_id)
{
	(void)conn;
	return req_id == 7;
}

enum {
	T_HELLO_ONLY,	/* role 0 allowed, but NEEDS_HELLO */
	T_ONCE,
	T_REQ,
	T_REPLY,
	T_REPLY_ANY,	/* REPLY without REQ_ID: 0 means "unsolicited" */
	T_EVENT,
	T_FDS,
	T_NONAME,
	T_NOHANDLER,
	T_HOLE,
	T_N
};

#define R01	(DISPATCH_ROLE(0) | DISPATCH_ROLE(1))
static const struct dispatch_entry entries[T_N] = {
	[T_HELLO_ONLY] = { "after-hello", R01, DISPATCH_NEEDS_HELLO, 0, h },
	[T_ONCE] = { "once", R01, DISPATCH_ONCE, 0, h },
	[T_REQ] = { "req", R01, DISPATCH_REQ_ID, 0, h },
	[T_REPLY] = { "reply", R01, DISPATCH_REQ_ID | DISPATCH_REPLY, 0, h },
	[T_REPLY_ANY] = { "reply-any", R01, DISPATCH_REPLY, 0, h },
	[T_EVENT] = { "event", R01, DISPATCH_NO_REQ_ID, 0, h },
	[T_FDS] = { "fds", R01, 0, 2, h },
	[T_NONAME] = { NULL, R01, 0, 0, h },
	[T_NOHANDLER] = { "nohandler", R01, 0, 0, NULL },
};
static const struct dispatch_table table = { entries, T_N, outstanding_7 };
static const struct dispatch_table table_nomatch = { entries, T_N, NULL };

static struct dispatch_state st;
static const char *why;
static int conn_obj, msg_obj;

static int
run(const struct dispatch_table *t, unsigned int type, uint64_t req_id,
    unsigned int nfds)
{
	why = NULL;
	return dispatch_run(t, &st, type, req_id, nfds, &conn_obj, &msg_obj,
	    &why);
}

static int
setup(void **s)
{
	(void)s;
	memset(&st, 0, sizeof(st));
	calls = 0;
	handler_ret = 0;
	last_conn = last_msg = NULL;
	return 0;
}

/* NEEDS_HELLO alone (role 0 is in the mask): refused before, accepted
 * after. */
static void
t_needs_hello(void **s)
{
	(void)s;
	assert_int_equal(run(&table, T_HELLO_ONLY, 0, 0), -EPROTO);
	assert_string_equal(why, "is not allowed before hello");
	assert_int_equal(calls, 0);
	/* Entries without the flag are fine in role 0. */
	assert_int_equal(run(&table, T_EVENT, 0, 0), 0);
	st.role = 1;
	assert_int_equal(run(&table, T_HELLO_ONLY, 0, 0), 0);
	assert_null(why);
	assert_int_equal(calls, 2);
}

/* ONCE: the second is refused; a refused first does not use it up; a
 * failing handler does; each type has its own bit. */
static void
t_once(void **s)
{
	(void)s;
	st.role = 1;
	/* Refused for its fds: not counted as seen. */
	assert_int_equal(run(&table, T_ONCE, 0, 1), -EPROTO);
	assert_string_equal(why, "carries too many descriptors");
	assert_int_equal(run(&table, T_ONCE, 0, 0), 0);
	assert_int_equal(run(&table, T_ONCE, 0, 0), -EPROTO);
	assert_string_equal(why, "is allowed only once");
	assert_int_equal(calls, 1);
	/* Others are not affected. */
	assert_int_equal(run(&table, T_EVENT, 0, 0), 0);
	assert_int_equal(run(&table, T_EVENT, 0, 0), 0);
	/* A handler that fails still used its once: the peer is dropped
	 * by the caller anyway, and must not get a second try. */
	memset(&st, 0, sizeof(st));
	st.role = 1;
	handler_ret = -EBADMSG;
	assert_int_equal(run(&table, T_ONCE, 0, 0), -EBADMSG);
	assert_true(st.seen & (1ull << T_ONCE));
	handler_ret = 0;
	assert_int_equal(run(&table, T_ONCE, 0, 0), -EPROTO);
}

/* REQ_ID and NO_REQ_ID, each way. */
static void
t_req_id(void **s)
{
	(void)s;
	st.role = 1;
	assert_int_equal(run(&table, T_REQ, 0, 0), -EPROTO);
	assert_string_equal(why, "carries no req_id");
	assert_int_equal(run(&table, T_REQ, UINT64_MAX, 0), 0);
	assert_int_equal(run(&table, T_EVENT, 1, 0), -EPROTO);
	assert_string_equal(why, "carries a req_id but answers nothing");
	assert_int_equal(run(&table, T_EVENT, 0, 0), 0);
	assert_int_equal(calls, 2);
}

/* REPLY: only a req_id the matcher knows; without a matcher the handler
 * matches; without REQ_ID a zero req_id is not checked. */
static void
t_reply(void **s)
{
	(void)s;
	st.role = 1;
	assert_int_equal(run(&table, T_REPLY, 8, 0), -EPROTO);
	assert_string_equal(why, "answers no request that was sent");
	assert_int_equal(run(&table, T_REPLY, 0, 0), -EPROTO);
	assert_string_equal(why, "carries no req_id");
	assert_int_equal(run(&table, T_REPLY, 7, 0), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(run(&table_nomatch, T_REPLY, 8, 0), 0);
	assert_int_equal(calls, 2);
	assert_int_equal(run(&table, T_REPLY_ANY, 0, 0), 0);
	assert_int_equal(run(&table, T_REPLY_ANY, 9, 0), -EPROTO);
	assert_string_equal(why, "answers no request that was sent");
	assert_int_equal(calls, 3);
}

/* Descriptors up to maxfds. */
static void
t_fds(void **s)
{
	(void)s;
	assert_int_equal(run(&table, T_FDS, 0, 2), 0);
	assert_int_equal(run(&table, T_FDS, 0, 3), -EPROTO);
	assert_string_equal(why, "carries too many descriptors");
	assert_int_equal(run(&table, T_FDS, 0, ~0u), -EPROTO);
	assert_int_equal(run(&table, T_REQ, 1, 1), -EPROTO);
	assert_int_equal(calls, 1);
}

/* Unknown types: past the table, holes, an entry without a name or a
 * handler, past DISPATCH_TYPES_MAX even in a table that claims more. */
static void
t_unknown(void **s)
{
	static struct dispatch_entry big[DISPATCH_TYPES_MAX + 2];
	const struct dispatch_table big_t = { big, DISPATCH_TYPES_MAX + 2,
	    NULL };
	unsigned int bad[] = { T_HOLE, T_N, T_NONAME, T_NOHANDLER, 1000,
	    ~0u };
	unsigned int i;

	(void)s;
	st.role = 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&table, bad[i], 1, 0), -EPROTO);
		assert_string_equal(why,
		    "is not a message this receiver accepts");
	}
	assert_string_equal(dispatch_name(&table, T_NONAME), "message");
	assert_string_equal(dispatch_name(&table, T_NOHANDLER), "message");
	assert_string_equal(dispatch_name(&table, T_ONCE), "once");
	for (i = 0; i < DISPATCH_TYPES_MAX + 2; i++) {
		big[i].name = "x";
		big[i].roles = DISPATCH_ROLE(1);
		big[i].flags = DISPATCH_ONCE;
		big[i].handler = h;
	}
	/* The last type a ONCE bit exists for works, the next is refused. */
	assert_int_equal(run(&big_t, DISPATCH_TYPES_MAX - 1, 0, 0), 0);
	assert_int_equal(run(&big_t, DISPATCH_TYPES_MAX - 1, 0, 0), -EPROTO);
	assert_int_equal(run(&big_t, DISPATCH_TYPES_MAX, 0, 0), -EPROTO);
	assert_string_equal(why, "is not a message this receiver accepts");
	assert_int_equal(calls, 1);
}

/* Roles: the mask decides; role 31 is the last a mask can name. */
static void
t_roles(void **s)
{
	const struct dispatch_entry e31[1] = {
		{ "r31", DISPATCH_ROLE(31), DISPATCH_NEEDS_HELLO, 0, h } };
	const struct dispatch_table t31 = { e31, 1, NULL };

	(void)s;
	st.role = 2;
	assert_int_equal(run(&table, T_EVENT, 0, 0), -EPROTO);
	assert_string_equal(why, "is not allowed in this role");
	st.role = 31;
	assert_int_equal(run(&t31, 0, 0, 0), 0);
	st.role = 32;
	assert_int_equal(run(&t31, 0, 0, 0), -EPROTO);
	assert_string_equal(why, "is not allowed in this role");
	st.role = 30;
	assert_int_equal(run(&t31, 0, 0, 0), -EPROTO);
	assert_int_equal(calls, 1);
}

/* The handler gets conn and msg; its value comes back; ret_why may be
 * NULL. */
static void
t_handler(void **s)
{
	(void)s;
	st.role = 1;
	handler_ret = 5;
	assert_int_equal(run(&table, T_EVENT, 0, 0), 5);
	assert_ptr_equal(last_conn, &conn_obj);
	assert_ptr_equal(last_msg, &msg_obj);
	handler_ret = -EINVAL;
	assert_int_equal(run(&table, T_EVENT, 0, 0), -EINVAL);
	assert_int_equal(dispatch_run(&table, &st, T_EVENT, 3, 0, NULL, NULL,
	    NULL), -EPROTO);
	assert_int_equal(dispatch_run(&table, &st, T_HOLE, 0, 0, NULL, NULL,
	    NULL), -EPROTO);
	assert_int_equal(calls, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_needs_hello, setup),
		cmocka_unit_test_setup(t_once, setup),
		cmocka_unit_test_setup(t_req_id, setup),
		cmocka_unit_test_setup(t_reply, setup),
		cmocka_unit_test_setup(t_fds, setup),
		cmocka_unit_test_setup(t_unknown, setup),
		cmocka_unit_test_setup(t_roles, setup),
		cmocka_unit_test_setup(t_handler, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
