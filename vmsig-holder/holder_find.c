/* SPDX-License-Identifier: MIT */
/*
 * Endpoint names: vmsig_holder_endpoint_find() turns the name a helper gave
 * its endpoint (vmsig-memctx --name) into the endpoint's number, with one
 * Status request.  A name is a convenience for people and tools; every
 * other call still takes the number, so the lookup is the caller's choice
 * of moment (a name can move to another number when its guest's helper is
 * restarted under one).
 *
 * Runs in: holder
 */
#include <errno.h>
#include <string.h>

#include "holder_int.h"

int
vmsig_holder_endpoint_find(struct vmsig_holder *h, const char *name,
    int timeout_ms, uint32_t *ret_endpoint)
{
	struct vmsig_status *st = NULL;
	size_t i, n;
	int r;

	if (h == NULL || name == NULL || ret_endpoint == NULL)
		return -EINVAL;
	n = strnlen(name, 65);
	if (n == 0 || n > 64)
		return -EINVAL;
	if ((r = vmsig_holder_status(h, timeout_ms, &st)) < 0)
		return r;
	r = -ENOENT;
	for (i = 0; i < st->nendpoints; i++)
		if (strcmp(st->endpoints[i].name, name) == 0) {
			*ret_endpoint = st->endpoints[i].endpoint;
			r = 0;
			break;
		}
	vmsig_status_free(st);
	return r;
}
