/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every role needs once: strict parsing of an unsigned
 * number from a command line or a configuration file, and the monotonic
 * clock in milliseconds.
 *
 * Runs in: any
 */
#ifndef VMSIG_NUM_H
#define VMSIG_NUM_H

#include <stdint.h>

/*
 * Parse all of s as an unsigned number in `base` (0: C prefixes, as
 * strtoul) no greater than max.  Unlike strtoul, a sign, leading blanks,
 * an empty string and trailing characters are refused.  Returns 0 and
 * *ret, or -EINVAL (not a number) or -ERANGE (over max).
 */
int num_parse_ul(const char *s, int base, unsigned long max,
    unsigned long *ret);

/* CLOCK_MONOTONIC in milliseconds.  Thread-safe. */
uint64_t num_now_ms(void);

#endif
