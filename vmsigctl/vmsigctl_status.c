/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl status: ask vmsigd for its status and print it for people (one
 * line per endpoint, with its name in parentheses if it has one, and per
 * peer) or, with --json, as one JSON object with
 * addresses and sizes as "0x..." strings.
 *
 * Runs in: holder
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmsigctl.h"

static const char *
role_name(uint32_t role)
{
	return role == 1 ? "holder" : role == 2 ? "adapter" : "unknown";
}

/* Lease expiries are vmsigd's CLOCK_MONOTONIC, the same clock as ours. */
static uint64_t
ms_left(uint64_t expires_ms)
{
	struct timespec ts;
	uint64_t now;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return expires_ms > now ? expires_ms - now : 0;
}

static void
text_endpoint(const struct vmsig_status_endpoint *e)
{
	printf("  endpoint %" PRIu32, e->endpoint);
	if (e->name[0] != '\0')	/* names are [A-Za-z0-9._+-]: no quoting */
		printf(" (%s)", e->name);
	printf(": epoch %" PRIu32, e->epoch);
	if (e->has_context) {
		printf(" kcr3 0x%" PRIx64 " ", e->ctx.kcr3);
		vmsigctl_text_layout(stdout, &e->ctx, e->segs);
		printf(" flags 0x%" PRIx32 " method %s", e->ctx.flags,
		    e->method[0] ? e->method : "-");
	} else
		printf(" no context");
	if (e->adapter_peer != 0)
		printf(" adapter peer %" PRIu32 " pid %ld", e->adapter_peer,
		    (long)e->adapter_pid);
	else
		printf(" no adapter");
	printf(" events %" PRIu64 " invalidations %" PRIu64, e->events,
	    e->invalidations);
	if (e->lease_id != 0)
		printf(" lease %" PRIu64 " peer %" PRIu32 " expires at %"
		    PRIu64 " ms (in %" PRIu64 " ms)", e->lease_id, e->lease_peer,
		    e->lease_expires_ms, ms_left(e->lease_expires_ms));
	printf("\n");
}

static void
text_status(const struct vmsig_status *st)
{
	const struct vmsig_status_peer *p;
	size_t i;

	printf("vmsigd pid %ld uid %lu up %" PRIu64 " ms\n", (long)st->pid,
	    (unsigned long)st->uid, st->uptime_ms);
	printf("counters: protocol_errors %" PRIu64 " slow_holders %" PRIu64
	    " refused_fds %" PRIu64 "\n", st->protocol_errors,
	    st->slow_holders, st->refused_fds);
	printf("endpoints: %zu\n", st->nendpoints);
	for (i = 0; i < st->nendpoints; i++)
		text_endpoint(&st->endpoints[i]);
	printf("peers: %zu\n", st->npeers);
	for (i = 0; i < st->npeers; i++) {
		p = &st->peers[i];
		printf("  peer %" PRIu32 ": %s \"%s\" pid %ld uid %lu gid %lu",
		    p->peer_id, role_name(p->role), p->name, (long)p->pid,
		    (unsigned long)p->uid, (unsigned long)p->gid);
		if (p->role == 2)
			printf(" endpoint %" PRIu32, p->endpoint);
		else
			printf(" %s", p->subscribed ? "subscribed" :
			    "not subscribed");
		printf(" queued %" PRIu32 " sent %" PRIu64, p->queued,
		    p->sent);
		if (p->rule[0] != '\0')
			printf(" rule \"%s\"", p->rule);
		putchar('\n');
	}
}

static void
json_endpoint(const struct vmsig_status_endpoint *e)
{
	printf("{\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32
	    ",\"has_context\":%s,\"kcr3\":\"0x%" PRIx64 "\",\"low\":\"0x%"
	    PRIx64 "\",\"flags\":%" PRIu32 ",\"segs\":", e->endpoint, e->epoch,
	    e->has_context ? "true" : "false", e->ctx.kcr3, e->ctx.low,
	    e->ctx.flags);
	vmsigctl_json_segs(stdout, e->segs, e->ctx.nseg);
	printf(",\"method\":");
	vmsigctl_json_str(stdout, e->method);
	printf(",\"adapter_peer\":%" PRIu32 ",\"adapter_pid\":%ld"
	    ",\"lease_id\":%" PRIu64 ",\"lease_peer\":%" PRIu32
	    ",\"lease_expires_ms\":%" PRIu64 ",\"events\":%" PRIu64
	    ",\"invalidations\":%" PRIu64 ",\"name\":", e->adapter_peer,
	    (long)e->adapter_pid, e->lease_id, e->lease_peer,
	    e->lease_expires_ms, e->events, e->invalidations);
	/* Last, as in vmsig.holder's EndpointStatus.to_dict(). */
	vmsigctl_json_str(stdout, e->name);
	putchar('}');
}

static void
json_peer(const struct vmsig_status_peer *p)
{
	printf("{\"peer_id\":%" PRIu32 ",\"role\":\"%s\",\"name\":",
	    p->peer_id, role_name(p->role));
	vmsigctl_json_str(stdout, p->name);
	printf(",\"pid\":%ld,\"uid\":%lu,\"gid\":%lu,\"endpoint\":%" PRIu32
	    ",\"subscribed\":%s,\"queued\":%" PRIu32 ",\"sent\":%" PRIu64,
	    (long)p->pid, (unsigned long)p->uid, (unsigned long)p->gid,
	    p->endpoint, p->subscribed ? "true" : "false", p->queued, p->sent);
	printf(",\"rule\":");
	vmsigctl_json_str(stdout, p->rule);
	putchar('}');
}

static void
json_status(const struct vmsig_status *st)
{
	size_t i;

	printf("{\"pid\":%ld,\"uid\":%lu,\"uptime_ms\":%" PRIu64
	    ",\"protocol_errors\":%" PRIu64 ",\"slow_holders\":%" PRIu64
	    ",\"refused_fds\":%" PRIu64 ",\"endpoints\":[", (long)st->pid,
	    (unsigned long)st->uid, st->uptime_ms, st->protocol_errors,
	    st->slow_holders, st->refused_fds);
	for (i = 0; i < st->nendpoints; i++) {
		if (i > 0)
			putchar(',');
		json_endpoint(&st->endpoints[i]);
	}
	printf("],\"peers\":[");
	for (i = 0; i < st->npeers; i++) {
		if (i > 0)
			putchar(',');
		json_peer(&st->peers[i]);
	}
	printf("]}\n");
}

int
vmsigctl_status_main(const char *socket, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmsig_holder *h;
	struct vmsig_status *st;
	int c, json = 0, r;

	while ((c = getopt_long(argc, argv, ":j", opts, NULL)) != -1) {
		if (c != 'j') {
			(void)vmsigctl_bad_opt(c, argv);
			return vmsigctl_usage("status");
		}
		json = 1;
	}
	if (optind != argc) {
		(void)vmsigctl_bad("'%.64s': status takes no operands",
		    argv[optind]);
		return vmsigctl_usage("status");
	}
	if ((r = vmsigctl_connect(socket, &h)) != CTL_OK)
		return r;
	r = vmsig_holder_status(h, -1, &st);
	if (r < 0) {
		vmsigctl_fail(h, r, "status from %s", socket);
		vmsig_holder_close(h);
		return CTL_FAIL;
	}
	if (json)
		json_status(st);
	else
		text_status(st);
	vmsig_status_free(st);
	vmsig_holder_close(h);
	return fflush(stdout) == 0 ? CTL_OK : CTL_FAIL;
}
