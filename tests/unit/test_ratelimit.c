/* SPDX-License-Identifier: MIT */
/*
 * vmsigd/ratelimit.c: the fixed window of log lines.  At most `burst` lines
 * per window, every refusal counted, the count handed to the first line of
 * the next window and then reset; a refusal leaves *ret_suppressed alone.
 * Windows are waited out on the real monotonic clock, on a timerfd, never
 * by sleeping and hoping.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/timerfd.h>
#include <unistd.h>

#include "../../vmsigd/vmsigd.h"

/* Block on a timerfd until the monotonic clock has moved past `ms` since
 * t0 (as loop_now_ms() counts it); at most 20 waits. */
static void
wait_past(uint64_t t0, unsigned int ms)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int i;

	assert_true(fd >= 0);
	for (i = 0; i < 20 && loop_now_ms() - t0 < ms; i++) {
		struct itimerspec its = { 0 };
		uint64_t ticks;

		its.it_value.tv_nsec = (long)(ms - (loop_now_ms() - t0) + 1) *
		    1000000L;
		assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
		assert_int_equal(read(fd, &ticks, sizeof(ticks)),
		    sizeof(ticks));
	}
	(void)close(fd);
	assert_true(loop_now_ms() - t0 >= ms);
}

static void
t_burst_then_window(void **s)
{
	struct ratelimit rl = { 0 };
	unsigned int held = 777, i;
	uint64_t t0;

	(void)s;
	t0 = loop_now_ms();
	/* The first `burst` lines pass, nothing held back before them. */
	for (i = 0; i < 3; i++) {
		held = 777;
		assert_int_equal(ratelimit_ok(&rl, 3, 50, &held), 1);
		assert_int_equal(held, 0);
	}
	/* The rest of the window is refused and counted; the output is
	 * written only on success. */
	for (i = 0; i < 7; i++) {
		held = 777;
		assert_int_equal(ratelimit_ok(&rl, 3, 50, &held), 0);
		assert_int_equal(held, 777);
	}
	assert_int_equal(rl.suppressed, 7);
	/* Next window: its first line says how many were held back... */
	wait_past(t0, 50);
	assert_int_equal(ratelimit_ok(&rl, 3, 50, &held), 1);
	assert_int_equal(held, 7);
	/* ...and the count starts again. */
	assert_int_equal(ratelimit_ok(&rl, 3, 50, &held), 1);
	assert_int_equal(held, 0);
	assert_int_equal(rl.suppressed, 0);
}

/* A window is fixed, not sliding: refusals late in a window do not push the
 * next one back. */
static void
t_window_fixed(void **s)
{
	struct ratelimit rl = { 0 };
	unsigned int held = 0, i;
	uint64_t t0;

	(void)s;
	assert_int_equal(ratelimit_ok(&rl, 1, 40, &held), 1);
	t0 = rl.start_ms;
	assert_true(t0 != 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(ratelimit_ok(&rl, 1, 40, &held), 0);
	wait_past(t0, 20);
	assert_int_equal(ratelimit_ok(&rl, 1, 40, &held), 0);
	assert_int_equal(rl.start_ms, t0);
	wait_past(t0, 40);
	assert_int_equal(ratelimit_ok(&rl, 1, 40, &held), 1);
	assert_int_equal(held, 6);
	assert_true(rl.start_ms >= t0 + 40);
}

/* Degenerate settings: burst 0 never logs (but counts), interval 0 makes
 * every call a new window. */
static void
t_degenerate(void **s)
{
	struct ratelimit a = { 0 }, b = { 0 };
	unsigned int held = 5, i;

	(void)s;
	for (i = 0; i < 10; i++)
		assert_int_equal(ratelimit_ok(&a, 0, 1000, &held), 0);
	assert_int_equal(held, 5);
	assert_int_equal(a.suppressed, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(ratelimit_ok(&b, 1, 0, &held), 1);
		assert_int_equal(held, 0);
	}
}

/* Independent limiters do not share a budget. */
static void
t_independent(void **s)
{
	struct ratelimit a = { 0 }, b = { 0 };
	unsigned int held = 0;

	(void)s;
	assert_int_equal(ratelimit_ok(&a, 1, 10000, &held), 1);
	assert_int_equal(ratelimit_ok(&a, 1, 10000, &held), 0);
	assert_int_equal(ratelimit_ok(&b, 1, 10000, &held), 1);
	assert_int_equal(held, 0);
	assert_int_equal(ratelimit_ok(&b, 1, 10000, &held), 0);
	assert_int_equal(a.suppressed, 1);
	assert_int_equal(b.suppressed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_burst_then_window),
		cmocka_unit_test(t_window_fixed),
		cmocka_unit_test(t_degenerate),
		cmocka_unit_test(t_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
