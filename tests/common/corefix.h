/* SPDX-License-Identifier: MIT */
/*
 * Log capture for unit tests of vmsigd's core: stderr (where log.c writes)
 * is redirected into a memfd between cf_cap_begin() and cf_cap_end(), so a
 * test can count what was logged.  A failing check must call
 * cf_cap_restore() first, so that its own message is still seen.
 *
 * Runs in: tests
 */
#ifndef VMSIG_TESTS_COREFIX_H
#define VMSIG_TESTS_COREFIX_H

#include <stddef.h>

/* Start capturing stderr; 0, or -errno with stderr left as it was. */
int		 cf_cap_begin(void);
/* Put stderr back if it is being captured; safe to call at any time. */
void		 cf_cap_restore(void);
/* Stop capturing; copies at most size - 1 bytes of what was logged into
 * buf, NUL-terminated, and returns buf. */
const char	*cf_cap_end(char *buf, size_t size);
/* How many times needle occurs in hay, not overlapping (at most 100000). */
unsigned int	 cf_count_of(const char *hay, const char *needle);

#endif
