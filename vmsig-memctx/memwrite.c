/* SPDX-License-Identifier: MIT */
/*
 * Leased writes, executed here and only here.  vmsigd has already checked
 * the lease; the helper checks again what it can know itself: that it was
 * started --writable, that the command names the epoch of the context it
 * offered, and that the range lies inside one segment of the file.  It
 * writes by guest-physical address only and never interprets guest data
 * for a write.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

void
memwrite_do(struct guest *g, uint64_t req_id, uint32_t epoch, uint64_t gpa,
    const uint8_t *data, size_t len)
{
	uint64_t off, avail;
	ssize_t n;

	if (!g->writable || g->wfd < 0) {
		(void)link_reply_error(req_id, EROFS, "this helper was not "
		    "started with --writable");
		return;
	}
	if (!g->ready || epoch != link_epoch()) {
		(void)link_reply_error(req_id, ESTALE, "the write names "
		    "another epoch than the helper's current context");
		return;
	}
	if (len == 0 || layout_gpa_to_off(&g->layout, gpa, &off, &avail) < 0 ||
	    avail < len) {
		(void)link_reply_error(req_id, EFAULT, "the range is not "
		    "inside one segment of guest RAM");
		return;
	}
	n = pwrite(g->wfd, data, len, (off_t)off);
	if (n < 0) {
		int e = errno;

		log_warn("write of %zu bytes at gpa 0x%llx", len,
		    (unsigned long long)gpa);
		(void)link_reply_error(req_id, e, "pwrite failed");
		return;
	}
	log_debug("wrote %zd bytes at gpa 0x%llx", n,
	    (unsigned long long)gpa);
	(void)link_reply_written(req_id, (uint64_t)n);
}
