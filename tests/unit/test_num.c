/* SPDX-License-Identifier: MIT */
/*
 * proto/num.c: strict number parsing and the monotonic clock.  test_wire.c
 * has the common cases; here the edges: the bound itself, bases and their
 * prefixes, a prefix with nothing after it, digits of the wrong base,
 * ULONG_MAX and one past it, what is written on failure, and a clock that
 * moves forward across a real wait.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "num.h"

static void
t_bounds(void **s)
{
	unsigned long v = 0;
	char buf[32];

	(void)s;
	assert_int_equal(num_parse_ul("100", 10, 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(num_parse_ul("0", 10, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(num_parse_ul("1", 10, 0, &v), -ERANGE);
	(void)snprintf(buf, sizeof(buf), "%lu", ULONG_MAX);
	assert_int_equal(num_parse_ul(buf, 10, ULONG_MAX, &v), 0);
	assert_true(v == ULONG_MAX);
	/* One past ULONG_MAX: strtoul's ERANGE. */
	(void)snprintf(buf, sizeof(buf), "%lu0", ULONG_MAX);
	assert_int_equal(num_parse_ul(buf, 10, ULONG_MAX, &v), -ERANGE);
}

static void
t_bases(void **s)
{
	unsigned long v = 0;

	(void)s;
	assert_int_equal(num_parse_ul("010", 0, 100, &v), 0);
	assert_int_equal(v, 8);			/* octal under base 0 */
	assert_int_equal(num_parse_ul("010", 10, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(num_parse_ul("ff", 16, 1000, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(num_parse_ul("0X1F", 0, 1000, &v), 0);
	assert_int_equal(v, 31);
	/* Not a digit of the base, a prefix and nothing, letters first. */
	assert_int_equal(num_parse_ul("09", 0, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("0x", 0, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("12", 2, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("ff", 0, 1000, &v), -EINVAL);
	assert_int_equal(num_parse_ul("1 ", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("\t1", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("1.5", 10, 100, &v), -EINVAL);
}

/* *ret is written only on success. */
static void
t_no_write_on_failure(void **s)
{
	unsigned long v = 77;

	(void)s;
	assert_int_equal(num_parse_ul("abc", 10, 100, &v), -EINVAL);
	assert_int_equal(num_parse_ul("101", 10, 100, &v), -ERANGE);
	assert_int_equal(num_parse_ul("-0", 10, 100, &v), -EINVAL);
	assert_int_equal(v, 77);
}

/* The clock never goes back and follows a real 20 ms wait. */
static void
t_clock(void **s)
{
	struct itimerspec its = { 0 };
	uint64_t t0, t1, prev, ticks;
	int fd, i;

	(void)s;
	t0 = prev = num_now_ms();
	for (i = 0; i < 1000; i++) {
		uint64_t t = num_now_ms();

		assert_true(t >= prev);
		prev = t;
	}
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(fd >= 0);
	its.it_value.tv_nsec = 20 * 1000000L;
	assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
	assert_int_equal(read(fd, &ticks, sizeof(ticks)), sizeof(ticks));
	(void)close(fd);
	t1 = num_now_ms();
	assert_true(t1 - t0 >= 19);	/* ms truncation at both ends */
	assert_true(t1 - t0 < 10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_bounds),
		cmocka_unit_test(t_bases),
		cmocka_unit_test(t_no_write_on_failure),
		cmocka_unit_test(t_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
