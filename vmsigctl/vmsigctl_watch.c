/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl watch: subscribe and print one line per event, readable or (with
 * --json) one JSON object per line, flushed at once so a pipe sees each
 * event as it happens.  Stops after --count events (success) or when
 * --timeout runs out (failure), so scripts and tests can wait on it.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmsigctl.h"

struct watch_opts {
	uint32_t endpoints[16];
	size_t nendpoints;
	uint64_t count;		/* 0: no limit */
	int timeout_ms;		/* -1: none */
	int json;
};

static const char *
reason_name(uint32_t r)
{
	static const char *const names[] = {
		[VMSIG_LEASE_EXPIRED] = "expired",
		[VMSIG_LEASE_EPOCH] = "epoch",
		[VMSIG_LEASE_RELEASED] = "released",
		[VMSIG_LEASE_ENDPOINT_GONE] = "endpoint_gone",
	};

	return r < sizeof(names) / sizeof(names[0]) && names[r] != NULL ?
	    names[r] : "unknown";
}

static void
print_json(const vmsig_event *ev)
{
	const vmsig_memctx *mc = (const void *)ev->inln;
	const vmsig_memwritten *w = (const void *)ev->inln;
	const vmsig_lease_lost *ll = (const void *)ev->inln;
	const vmsig_memseg *segs;
	uint32_t nseg = 0;

	printf("{\"type\":\"%s\",\"endpoint\":%" PRIu32 ",\"epoch\":%" PRIu32
	    ",\"seq\":%" PRIu64, vmsig_event_type_name(ev->type), ev->endpoint,
	    ev->epoch, ev->seq);
	switch (ev->type) {
	case VMSIG_EV_MEMCTX:
		printf(",\"kcr3\":\"0x%" PRIx64 "\",\"low\":\"0x%" PRIx64
		    "\",\"flags\":%" PRIu32 ",\"segs\":", mc->kcr3, mc->low,
		    mc->flags);
		/* Two statements: nseg is set by the call. */
		segs = vmsig_memctx_segs(ev, &nseg);
		vmsigctl_json_segs(stdout, segs, nseg);
		break;
	case VMSIG_EV_MEMWRITTEN:
		printf(",\"gpa\":\"0x%" PRIx64 "\",\"len\":\"0x%" PRIx64
		    "\",\"writer\":%" PRIu32, w->gpa, w->len, w->writer);
		break;
	case VMSIG_EV_LEASE_LOST:
		printf(",\"lease_id\":%" PRIu64 ",\"reason\":\"%s\"",
		    ll->lease_id, reason_name(ll->reason));
		break;
	default:
		break;
	}
	printf("}\n");
}

static void
print_text(const vmsig_event *ev)
{
	const vmsig_memctx *mc = (const void *)ev->inln;
	const vmsig_memwritten *w = (const void *)ev->inln;
	const vmsig_lease_lost *ll = (const void *)ev->inln;
	uint32_t nseg = 0;

	printf("%s endpoint %" PRIu32 " epoch %" PRIu32 " seq %" PRIu64,
	    vmsig_event_type_name(ev->type), ev->endpoint, ev->epoch, ev->seq);
	switch (ev->type) {
	case VMSIG_EV_MEMCTX:
		printf(" kcr3 0x%" PRIx64 " ", mc->kcr3);
		vmsigctl_text_layout(stdout, mc, vmsig_memctx_segs(ev, &nseg));
		printf(" flags 0x%" PRIx32, mc->flags);
		break;
	case VMSIG_EV_MEMWRITTEN:
		printf(" gpa 0x%" PRIx64 " len 0x%" PRIx64 " writer %" PRIu32,
		    w->gpa, w->len, w->writer);
		break;
	case VMSIG_EV_LEASE_LOST:
		printf(" lease %" PRIu64 " reason %s", ll->lease_id,
		    reason_name(ll->reason));
		break;
	default:
		break;
	}
	printf("\n");
}

/* --timeout SECONDS: 0 .. a year. */
static int
parse_timeout(const char *s, int *ret_ms)
{
	double secs;
	char *end;

	secs = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !isfinite(secs) || secs < 0 ||
	    secs > 86400.0 * 24)
		return vmsigctl_bad("--timeout '%.64s': not a number of seconds "
		    "from 0 to 2073600", s);
	*ret_ms = (int)(secs * 1000.0);
	return 0;
}

static int
parse_opts(int argc, char **argv, struct watch_opts *o)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const size_t max = sizeof(o->endpoints) / sizeof(o->endpoints[0]);
	int c;

	o->timeout_ms = -1;
	while ((c = getopt_long(argc, argv, ":e:c:t:j", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (o->nendpoints == max)
				return vmsigctl_bad("--endpoint: at most %zu",
				    max);
			if (vmsigctl_mem_endpoint(optarg,
			    &o->endpoints[o->nendpoints]) < 0)
				return -EINVAL;
			o->nendpoints++;
			break;
		case 'c':
			if (vmsigctl_parse_u64(optarg, UINT64_MAX, &o->count) < 0)
				return vmsigctl_bad("--count '%.64s': not a "
				    "number of events (0: no limit)", optarg);
			break;
		case 't':
			if (parse_timeout(optarg, &o->timeout_ms) < 0)
				return -EINVAL;
			break;
		case 'j':
			o->json = 1;
			break;
		default:
			return vmsigctl_bad_opt(c, argv);
		}
	}
	if (optind != argc)
		return vmsigctl_bad("'%.64s': watch takes no operands (an "
		    "endpoint is --endpoint N)", argv[optind]);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Print events until the count is reached (0), or fail (-errno). */
static int
watch_loop(struct vmsig_holder *h, const struct watch_opts *o,
    uint64_t *ret_seen)
{
	int64_t deadline = o->timeout_ms < 0 ? -1 : now_ms() + o->timeout_ms;
	vmsig_event *ev;
	int64_t left;
	uint64_t seen = 0;
	int r;

	while (o->count == 0 || seen < o->count) {
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left < 0)
			left = 0;
		r = vmsig_holder_next(h, (int)left, &ev);
		*ret_seen = seen;
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		if (o->json)
			print_json(ev);
		else
			print_text(ev);
		vmsig_event_free(ev);
		if (fflush(stdout) != 0)
			return -EIO;
		*ret_seen = ++seen;
	}
	return 0;
}

int
vmsigctl_watch_main(const char *socket, int argc, char **argv)
{
	struct watch_opts o;
	struct vmsig_holder *h;
	uint64_t seen = 0;
	size_t i;
	int r;

	memset(&o, 0, sizeof(o));
	if (parse_opts(argc, argv, &o) < 0)
		return vmsigctl_usage("watch");
	if ((r = vmsigctl_connect(socket, &h)) != CTL_OK)
		return r;
	r = vmsig_holder_subscribe(h, o.endpoints, o.nendpoints, VMSIG_EV_ALL,
	    -1);
	if (r < 0) {
		vmsigctl_fail(h, r, "subscribe");
		vmsig_holder_close(h);
		return CTL_FAIL;
	}
	/* After subscribing: an endpoint registered in between is seen. */
	for (i = 0; i < o.nendpoints; i++)
		if (vmsigctl_endpoint_known(h, o.endpoints[i]) != CTL_OK) {
			vmsig_holder_close(h);
			return CTL_FAIL;
		}
	r = watch_loop(h, &o, &seen);
	if (r == -ETIMEDOUT && o.count != 0)
		vmsigctl_warnx("watch: timed out after %g s with %" PRIu64
		    " of %" PRIu64 " events", o.timeout_ms / 1000.0, seen,
		    o.count);
	else if (r == -ETIMEDOUT)
		vmsigctl_warnx("watch: timed out after %g s with %" PRIu64
		    " events", o.timeout_ms / 1000.0, seen);
	else if (r < 0)
		vmsigctl_fail(h, r, "watch");
	vmsig_holder_close(h);
	return r == 0 ? CTL_OK : CTL_FAIL;
}
