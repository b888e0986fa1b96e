/* SPDX-License-Identifier: MIT */
/*
 * Number parsing and the monotonic clock, once for every role.
 *
 * Runs in: any
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "num.h"

int
num_parse_ul(const char *s, int base, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	/* strtoul would take " 7", "+7" and "-1" (as ULONG_MAX).  A letter
	 * may start a number of a base over 10 ("ff" in base 16); strtoul
	 * refuses it in any other base (nothing parsed: *end is not NUL). */
	if (s == NULL || !((*s >= '0' && *s <= '9') ||
	    (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (errno != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

uint64_t
num_now_ms(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
