/* SPDX-License-Identifier: MIT */
/*
 * Fixtures for unit tests of vmsigd's core.  Log capture: stderr (where
 * log.c writes) is redirected into a memfd between cf_cap_begin() and
 * cf_cap_end(), so a test can count what was logged.  Checks (CHK) that
 * work in a forked child too: the core's event loop runs once per process
 * and a uid change is for good, so such tests run in cf_in_a_child().
 * Include after <cmocka.h>.
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

/* Set in a child of cf_in_a_child(): where a failed CHK reports. */
extern int	 cf_in_child;
extern int	 cf_err_fd;

/* In a child a failed check must end the child, not longjmp into cmocka's
 * runner (which would run the rest of the suite a second time). */
#define CHK(c) do {							\
	if (!(c)) {							\
		cf_cap_restore();					\
		if (cf_in_child) {					\
			dprintf(cf_err_fd, "%s:%d: check failed: %s\n",	\
			    __FILE__, __LINE__, #c);			\
			_exit(1);					\
		}							\
		fail_msg("%s:%d: check failed: %s", __FILE__,		\
		    __LINE__, #c);					\
	}								\
} while (0)

/* Run fn in a child (t_fork, 20 s alarm); the test fails unless the child
 * exits 0, i.e. every CHK in it held. */
void		 cf_in_a_child(void (*fn)(void));

#endif
