/* SPDX-License-Identifier: MIT */
/*
 * Events as the holder library hands them out: freeing one (its payload
 * and, unless the caller took it, its descriptor), taking its descriptor,
 * and naming its type.  Every path that drops an event comes through
 * vmsig_event_free, so no received descriptor outlives its event.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <vmsig/holder.h>

static const char *const type_names[VMSIG_EV_MAX_ + 1] = {
	[VMSIG_EV_MEMCTX] = "MEMCTX",
	[VMSIG_EV_MEMCTX_INVALIDATED] = "MEMCTX_INVALIDATED",
	[VMSIG_EV_MEMWRITTEN] = "MEMWRITTEN",
	[VMSIG_EV_LEASE_LOST] = "LEASE_LOST",
	[VMSIG_EV_ENDPOINT_GONE] = "ENDPOINT_GONE",
};

void
vmsig_event_free(vmsig_event *ev)
{
	int saved = errno;

	if (ev == NULL)
		return;
	if (ev->fd >= 0)
		(void)close(ev->fd);
	free(ev->payload.data);
	free(ev);
	errno = saved;
}

int
vmsig_event_take_fd(vmsig_event *ev)
{
	int fd;

	if (ev == NULL || ev->fd < 0)
		return -EBADF;
	fd = ev->fd;
	ev->fd = -1;
	return fd;
}

const char *
vmsig_event_type_name(uint32_t type)
{
	if (type > VMSIG_EV_MAX_ || type_names[type] == NULL)
		return "UNKNOWN";
	return type_names[type];
}
