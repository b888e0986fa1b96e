/* SPDX-License-Identifier: MIT */
/*
 * The in-core proxy of a helper: what vmsigd registers for an endpoint
 * (vmsig_memctx_reg).  It keeps the helper's read-only descriptor and
 * locator; the core asks it for a snapshot (describe), a fresh descriptor
 * for each delivery (share_fd: a duplicate), and to re-bootstrap
 * (invalidate: drop the descriptor, send Invalidate{epoch} to the helper).
 *
 * The helper is privileged and we are not, but we still check what it hands
 * us: a descriptor that is not O_RDONLY, is O_PATH, or is not a regular file
 * never reaches a holder, and neither does a locator that leaves the file.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmsigd.h"
#include "wire.h"

struct adapter {
	struct peer *peer;
	int fd;			/* -1: no context */
	vmsig_memctx pod;
	vmsig_memseg segs[VMSIGD_SEGS_MAX];
	char method[VMSIG_NAME_MAX + 1];
};

static void
adapter_describe(void *ctx, vmsig_memctx *ret_pod,
    const vmsig_memseg **ret_segs, uint32_t *ret_nseg)
{
	struct adapter *a = ctx;

	*ret_pod = a->pod;
	*ret_segs = a->pod.nseg > 0 ? a->segs : NULL;
	*ret_nseg = a->pod.nseg;
}

static int
adapter_share_fd(void *ctx)
{
	struct adapter *a = ctx;
	int fd;

	if (a->fd < 0)
		return -EBADF;
	fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0);
	return fd == -1 ? -errno : fd;
}

static void
adapter_invalidate(void *ctx, uint32_t epoch)
{
	struct adapter *a = ctx;
	unsigned char buf[64];
	int n;

	if (a->fd >= 0)
		(void)close(a->fd);
	a->fd = -1;
	n = msg_pack_invalidate(buf, sizeof(buf), epoch);
	if (n > 0)
		(void)peer_send(a->peer, buf, (size_t)n, -1);
}

struct adapter *
adapter_new(struct peer *p, vmsig_memctx_reg *ret_reg)
{
	struct adapter *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->peer = p;
	a->fd = -1;
	ret_reg->source = VMSIG_SRC_MEMCTX;
	ret_reg->ctx = a;
	ret_reg->describe = adapter_describe;
	ret_reg->share_fd = adapter_share_fd;
	ret_reg->invalidate = adapter_invalidate;
	return a;
}

void
adapter_free(struct adapter *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		(void)close(a->fd);
	free(a);
}

static const char *
check_fd(int fd, uint64_t *ret_size)
{
	const char *why = NULL;

	if (fd < 0)
		return "MemctxReady carries no descriptor";
	/* The same check the holder library makes (proto/fdpass.c). */
	if (fdpass_check_rdonly(fd, ret_size, &why) < 0)
		return why;
	return NULL;
}

static const char *
check_locator(const vmsig_memctx *pod, const vmsig_memseg *segs,
    uint64_t size)
{
	uint32_t i, j;

	if (pod->nseg == 0)
		return pod->low > 0 && pod->low <= size ? NULL :
		    "locator: low is 0 or past the end of the file";
	for (i = 0; i < pod->nseg; i++) {
		if (segs[i].file_off > size || segs[i].len > size -
		    segs[i].file_off)
			return "locator: a segment leaves the file";
		for (j = 0; j < i; j++)
			if (segs[i].gpa < segs[j].gpa + segs[j].len &&
			    segs[j].gpa < segs[i].gpa + segs[i].len)
				return "locator: segments overlap";
	}
	return NULL;
}

int
adapter_set_context(struct adapter *a, struct msg *m, const char **ret_why)
{
	uint64_t size = 0;
	const char *why;

	if ((why = check_fd(m->fd, &size)) != NULL ||
	    (why = check_locator(&m->u.ready.pod, m->u.ready.segs, size)) !=
	    NULL) {
		*ret_why = why;
		return -EPERM;
	}
	if (a->fd >= 0)
		(void)close(a->fd);
	a->fd = m->fd;
	m->fd = -1;
	a->pod = m->u.ready.pod;
	a->pod.epoch = 0;	/* the core stamps it */
	a->pod._pad = 0;
	memcpy(a->segs, m->u.ready.segs, a->pod.nseg * sizeof(a->segs[0]));
	(void)snprintf(a->method, sizeof(a->method), "%s",
	    m->u.ready.method != NULL ? m->u.ready.method : "");
	return 0;
}

int
adapter_has_context(const struct adapter *a)
{
	return a->fd >= 0;
}

const char *
adapter_method(const struct adapter *a)
{
	return a->method;
}
