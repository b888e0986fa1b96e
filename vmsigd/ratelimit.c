/* SPDX-License-Identifier: MIT */
/*
 * Log lines under attack: a refused connection or a failed accept can come
 * tens of thousands of times a second, and each one is worth knowing about
 * but not worth a line each.  A fixed window: at most `burst` lines per
 * `interval_ms`; the first line of the next window says how many were held
 * back.
 *
 * Runs in: vmsigd
 */
#include "vmsigd.h"

int
ratelimit_ok(struct ratelimit *rl, unsigned int burst,
    unsigned int interval_ms, unsigned int *ret_suppressed)
{
	uint64_t now = loop_now_ms();

	if (rl->start_ms == 0 || now - rl->start_ms >= interval_ms) {
		rl->start_ms = now;
		rl->n = 0;
	}
	if (rl->n >= burst) {
		rl->suppressed++;
		return 0;
	}
	rl->n++;
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}
