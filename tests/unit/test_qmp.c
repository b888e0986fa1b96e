/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vmsig-memctx/qmp.c against a fake QMP server on the other
 * end of a socketpair (or a listening socket in a temporary directory):
 * greeting and capabilities, a command and its reply matched by id, an
 * asynchronous RESET met while waiting and one read by the loop, an error
 * reply, a reply over QMP_LINE_MAX refused, garbage, the socket closing,
 * a monitor that never greets, and no QEMU at all.
 *
 * Runs in: tests
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "../../vmsig-memctx/daemon.h"
#include "../common/tproc.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, " \
	"\"minor\": 2, \"major\": 7}, \"package\": \"\"}, " \
	"\"capabilities\": [\"oob\"]}}\r\n"
#define CAPS_OK "{\"return\": {}, \"id\": 1}\r\n"
#define RESET_EV "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, " \
	"\"event\": \"RESET\", \"data\": {\"guest\": false, " \
	"\"reason\": \"host-qmp-system-reset\"}}\r\n"

struct fake {
	int srv;		/* the server's end */
	struct qmp *q;
};

static void
say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	int sv[2];

	if (f == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv) == -1 || qmp_fdopen(sv[0], &f->q) < 0)
		return -1;
	f->srv = sv[1];
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	qmp_close(f->q);
	if (f->srv >= 0)
		(void)close(f->srv);
	free(f);
	return 0;
}

/* What the client sent: one line, parsed. */
static json_object *
sent(struct fake *f)
{
	char buf[4096];
	ssize_t n = read(f->srv, buf, sizeof(buf) - 1);
	json_object *o = NULL;

	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(qmp_msg_parse(buf, (size_t)n - 1, &o), 0);
	return o;
}

static void
test_handshake_and_command(void **state)
{
	struct fake *f = *state;
	json_object *o, *v, *ret = NULL;

	say(f->srv, GREETING CAPS_OK);
	assert_int_equal(qmp_handshake(f->q, 1000), 0);
	o = sent(f);
	assert_true(json_object_object_get_ex(o, "execute", &v));
	assert_string_equal(json_object_get_string(v), "qmp_capabilities");
	json_object_put(o);
	/* A late reply to some other id, then an event, then ours. */
	say(f->srv, "{\"return\": 7, \"id\": 99}\n" RESET_EV
	    "{\"return\": \"FlatView #0\\r\\n\", \"id\": 2}\r\n");
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 1000, &ret),
	    0);
	assert_string_equal(json_object_get_string(ret), "FlatView #0\r\n");
	json_object_put(ret);
	assert_int_equal(qmp_take_events(f->q), QMP_EV_RESET);
	assert_int_equal(qmp_take_events(f->q), 0);
	o = sent(f);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);
}

static void
test_events_in_loop(void **state)
{
	struct fake *f = *state;

	say(f->srv, GREETING CAPS_OK);
	assert_int_equal(qmp_handshake(f->q, 1000), 0);
	assert_int_equal(qmp_read_events(f->q), 0);	/* nothing yet */
	say(f->srv, RESET_EV "{\"event\": \"STOP\"}\n{\"event\": \"SHUT");
	assert_int_equal(qmp_read_events(f->q), 0);
	assert_int_equal(qmp_take_events(f->q), QMP_EV_RESET);
	say(f->srv, "DOWN\", \"data\": {}}\n");
	assert_int_equal(qmp_read_events(f->q), 0);
	assert_int_equal(qmp_take_events(f->q), QMP_EV_SHUTDOWN);
	/* A reply nobody asked for is out of turn. */
	say(f->srv, "{\"return\": {}}\n");
	assert_int_equal(qmp_read_events(f->q), -EPROTO);
}

static void
test_error_reply(void **state)
{
	struct fake *f = *state;

	say(f->srv, GREETING CAPS_OK "{\"id\": 2, \"error\": {\"class\": "
	    "\"GenericError\", \"desc\": \"no such property\"}}\n");
	assert_int_equal(qmp_handshake(f->q, 1000), 0);
	assert_int_equal(qmp_execute(f->q, "qom-get", NULL, 1000, NULL),
	    -EREMOTEIO);
	assert_string_equal(qmp_error(f->q), "no such property");
}

static void
test_closed(void **state)
{
	struct fake *f = *state;

	say(f->srv, GREETING CAPS_OK RESET_EV);
	assert_int_equal(qmp_handshake(f->q, 1000), 0);
	(void)close(f->srv);
	f->srv = -1;
	/* The event still counts, then the end. */
	assert_int_equal(qmp_read_events(f->q), -EPIPE);
	assert_int_equal(qmp_take_events(f->q), QMP_EV_RESET);
	assert_int_equal(qmp_execute(f->q, "query-status", NULL, 1000, NULL),
	    -EPIPE);
}

static void
test_timeout_and_garbage(void **state)
{
	struct fake *f = *state;

	/* No greeting: a monitor busy with another client. */
	assert_int_equal(qmp_handshake(f->q, 50), -ETIMEDOUT);
	say(f->srv, "{\"QMP\": {}} trailing\n");
	assert_int_equal(qmp_handshake(f->q, 1000), -EBADMSG);
	say(f->srv, "[1, 2]\n");
	assert_int_equal(qmp_handshake(f->q, 1000), -EBADMSG);
	say(f->srv, "{\"return\": {}}\n");	/* not a greeting */
	assert_int_equal(qmp_handshake(f->q, 1000), -EPROTO);
}

/* A reply longer than QMP_LINE_MAX: refused, whatever follows. */
static void
test_oversized(void **state)
{
	struct fake *f = *state;
	size_t i, n = QMP_LINE_MAX + 4096;
	char *big = malloc(n);
	pid_t pid;
	int st;

	assert_non_null(big);
	say(f->srv, GREETING CAPS_OK);
	assert_int_equal(qmp_handshake(f->q, 1000), 0);
	memcpy(big, "{\"id\": 2, \"return\": \"", 22);
	for (i = 22; i < n - 3; i++)
		big[i] = 'x';
	memcpy(big + n - 3, "\"}\n", 3);
	pid = t_fork(10);
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t off = 0;
		ssize_t w;

		while (off < n && (w = write(f->srv, big + off, n - off)) != 0)
			if (w > 0)
				off += (size_t)w;
			else
				usleep(1000);
		_exit(0);
	}
	assert_int_equal(qmp_execute(f->q, "human-monitor-command", NULL,
	    5000, NULL), -EMSGSIZE);
	(void)kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(big);
}

static void
test_msg_parse(void **state)
{
	json_object *o;
	char deep[64];

	(void)state;
	assert_int_equal(qmp_msg_parse("{\"a\": 1}\r", 9, &o), 0);
	json_object_put(o);
	assert_int_equal(qmp_msg_parse("{\"a\": 1}{}", 10, &o), -EBADMSG);
	assert_int_equal(qmp_msg_parse("{\"a\"\0: 1}", 9, &o), -EBADMSG);
	assert_int_equal(qmp_msg_parse("", 0, &o), -EBADMSG);
	assert_int_equal(qmp_msg_parse("{\"a\": ", 6, &o), -EBADMSG);
	assert_int_equal(qmp_msg_parse("\"s\"", 3, &o), -EBADMSG);
	memset(deep, '[', sizeof(deep));
	deep[0] = '{';
	assert_int_equal(qmp_msg_parse(deep, sizeof(deep), &o), -EBADMSG);
}

/* Through a real socket path: nobody there, then a monitor that greets. */
static void
test_connect(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[256];
	struct qmp *q = NULL;
	int l, c, st;
	pid_t pid;

	(void)state;
	(void)snprintf(dir, sizeof(dir), "%s/vmsig-qmp-XXXXXX", t_tmpdir());
	assert_non_null(mkdtemp(dir));
	assert_true((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/qmp.sock", dir) < sizeof(sun.sun_path));
	assert_int_equal(qmp_connect(sun.sun_path, 100, &q), -ENOENT);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(l, 1), 0);
	/* Accepted by the kernel, never greeted: bounded. */
	assert_int_equal(qmp_connect(sun.sun_path, 100, &q), -ETIMEDOUT);
	pid = t_fork(10);
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[256];

		c = accept(l, NULL, NULL);
		(void)close(c);		/* the abandoned one */
		c = accept(l, NULL, NULL);
		say(c, GREETING);
		(void)!read(c, buf, sizeof(buf));
		say(c, CAPS_OK);
		(void)!read(c, buf, sizeof(buf));
		_exit(0);
	}
	assert_int_equal(qmp_connect(sun.sun_path, 2000, &q), 0);
	assert_true(qmp_fd(q) >= 0);
	qmp_close(q);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	(void)close(l);
	(void)unlink(sun.sun_path);
	(void)rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_command,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_in_loop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_garbage,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup,
		    teardown),
		cmocka_unit_test(test_msg_parse),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
