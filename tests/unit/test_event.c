/* SPDX-License-Identifier: MIT */
/*
 * vmsig_event_free, vmsig_event_take_fd and vmsig_event_type_name on events
 * built by hand: the descriptor is closed exactly once, by whoever owns it.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <vmsig/holder.h>

static vmsig_event *
new_event(int with_fd)
{
	vmsig_event *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ev->type = VMSIG_EV_MEMCTX;
	ev->fd = with_fd ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	if (with_fd)
		assert_true(ev->fd >= 0);
	ev->payload.data = malloc(48);
	ev->payload.len = 48;
	assert_non_null(ev->payload.data);
	return ev;
}

static void
test_free_closes_fd(void **state)
{
	vmsig_event *ev = new_event(1);
	int fd = ev->fd;

	(void)state;
	vmsig_event_free(ev);
	/* Closed: fcntl on it fails with EBADF. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	vmsig_event_free(NULL);
}

static void
test_take_fd(void **state)
{
	vmsig_event *ev = new_event(1);
	int fd;

	(void)state;
	fd = vmsig_event_take_fd(ev);
	assert_true(fd >= 0);
	assert_int_equal(ev->fd, -1);
	assert_int_equal(vmsig_event_take_fd(ev), -EBADF);
	vmsig_event_free(ev);
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(close(fd), 0);
	assert_int_equal(vmsig_event_take_fd(NULL), -EBADF);
	ev = new_event(0);
	assert_int_equal(vmsig_event_take_fd(ev), -EBADF);
	vmsig_event_free(ev);
}

static void
test_type_name(void **state)
{
	(void)state;
	assert_string_equal(vmsig_event_type_name(VMSIG_EV_MEMCTX), "MEMCTX");
	assert_string_equal(vmsig_event_type_name(VMSIG_EV_MEMCTX_INVALIDATED),
	    "MEMCTX_INVALIDATED");
	assert_string_equal(vmsig_event_type_name(VMSIG_EV_MEMWRITTEN),
	    "MEMWRITTEN");
	assert_string_equal(vmsig_event_type_name(VMSIG_EV_LEASE_LOST),
	    "LEASE_LOST");
	assert_string_equal(vmsig_event_type_name(VMSIG_EV_ENDPOINT_GONE),
	    "ENDPOINT_GONE");
	assert_string_equal(vmsig_event_type_name(0), "UNKNOWN");
	assert_string_equal(vmsig_event_type_name(6), "UNKNOWN");
	assert_string_equal(vmsig_event_type_name(UINT32_MAX), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_closes_fd),
		cmocka_unit_test(test_take_fd),
		cmocka_unit_test(test_type_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
