/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl's guest-memory commands (read, translate, pmap, scan), the part
 * they share: the options every one of them takes, address and endpoint
 * parsing, and attaching to an endpoint -- connect, subscribe to it alone,
 * then pull events (bounded by --timeout) until the library's context
 * tracker holds that endpoint's read-only memory context.  The commands
 * then read through the tracker's vmsig_mem, so vmsigctl obeys the holder
 * invariants without knowing them.
 *
 * Runs in: holder
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsig/mem.h>

#include "vmsigctl.h"

#define CTL_WAIT_MS	5000	/* default --timeout for the context */

static int
parse_secs(const char *s, int *ret_ms)
{
	double secs;
	char *end;

	secs = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !isfinite(secs) || secs <= 0 ||
	    secs > 86400.0)
		return vmsigctl_bad("--timeout '%.64s': not a number of seconds "
		    "above 0 and at most 86400", s);
	/* Even a retained context arrives after a round trip: no zero. */
	*ret_ms = secs < 0.001 ? 1 : (int)(secs * 1000.0);
	return 0;
}

/* The options of the memory commands, and the bit each one needs. */
static const struct option mem_opts[] = {
	{ "cr3", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "output", required_argument, NULL, 'o' },
	{ "physical", no_argument, NULL, 'p' },
	{ "max", required_argument, NULL, 'm' },
	{ "timeout", required_argument, NULL, 't' },
	{ "pid", required_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

static unsigned int
opt_bit(int c)
{
	switch (c) {
	case 'c': return CTL_MO_CR3;
	case 'j': return CTL_MO_JSON;
	case 'o': return CTL_MO_OUT;
	case 'p': return CTL_MO_PHYS;
	case 'm': return CTL_MO_MAX;
	case 'P': return CTL_MO_PID;
	default: return 0;	/* --timeout: every command */
	}
}

static const char *
opt_name(int c)
{
	size_t i;

	if (c == 'o')
		return "-o/--output";
	for (i = 0; mem_opts[i].name != NULL; i++)
		if (mem_opts[i].val == c)
			return mem_opts[i].name;
	return "?";
}

/* One option of a memory command; -EINVAL when it is not allowed. */
static int
one_opt(int c, char **argv, unsigned int allowed, struct vmsigctl_memopt *o)
{
	if (c == '?' || c == ':')
		return vmsigctl_bad_opt(c, argv);
	if (opt_bit(c) != 0 && !(allowed & opt_bit(c)))
		return vmsigctl_bad("%s%s is not an option of this command",
		    c == 'o' ? "" : "--", opt_name(c));
	switch (c) {
	case 'c':
		o->has_cr3 = 1;
		if (vmsigctl_mem_addr(optarg, &o->cr3) < 0)
			return vmsigctl_bad("--cr3 '%.64s': not a hexadecimal "
			    "address", optarg);
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case 'o':
		o->out = optarg;
		return 0;
	case 'p':
		o->physical = 1;
		return 0;
	case 'm':
		if (vmsigctl_parse_u64(optarg, INT64_MAX, &o->max) < 0 ||
		    o->max == 0)
			return vmsigctl_bad("--max '%.64s': not a count of at "
			    "least 1", optarg);
		return 0;
	case 'P':
		o->has_pid = 1;
		return vmsigctl_win_parse_pid(optarg, &o->pid) < 0 ?
		    vmsigctl_bad("--pid '%.64s': not a process id (decimal or "
		    "0x-hex)", optarg) : 0;
	case 't':
		return parse_secs(optarg, &o->timeout_ms);
	default:
		return vmsigctl_bad_opt('?', argv);
	}
}

/*
 * Parse the options of a memory command (argv[0] is its name).  GNU getopt
 * moves the operands behind the options: *ret_first is the first operand.
 * Returns 0, or -EINVAL for an unknown, disallowed or malformed option and
 * for the combinations no command accepts (the reason: vmsigctl_bad).
 */
int
vmsigctl_mem_opts(int argc, char **argv, unsigned int allowed,
    struct vmsigctl_memopt *o, int *ret_first)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = CTL_WAIT_MS;
	while ((c = getopt_long(argc, argv, ":o:", mem_opts, NULL)) != -1)
		if (one_opt(c, argv, allowed, o) < 0)
			return -EINVAL;
	/* Raw bytes and JSON both want to be the output; a physical scan
	 * has no address space to name; --cr3 and --pid both name one. */
	if (o->out != NULL && o->json)
		return vmsigctl_bad("-o and --json both want the output: "
		    "give one");
	if (o->physical && (o->has_cr3 || o->has_pid))
		return vmsigctl_bad("--physical scans guest-physical memory: "
		    "it takes no --cr3 or --pid");
	if (o->has_cr3 && o->has_pid)
		return vmsigctl_bad("--cr3 and --pid both name an address "
		    "space: give one");
	*ret_first = optind;
	return 0;
}

/* Exactly `want` operands (named in `names`), else the reason. */
int
vmsigctl_mem_nargs(int have, int want, const char *names)
{
	if (have == want)
		return 0;
	if (have < want)
		return vmsigctl_bad("missing operand%s: expects %s",
		    want - have > 1 ? "s" : "", names);
	return vmsigctl_bad("too many operands: expects %s", names);
}

/* Hexadecimal, with or without 0x.  Returns 0 or -EINVAL. */
int
vmsigctl_mem_addr(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	/* strtoull would take a sign or leading blanks. */
	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' ||
	    isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno != 0 || *end != '\0' || end == s)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Is s an endpoint name (vmsig-memctx --name), not a number? */
static int
is_name(const char *s)
{
	size_t i;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]))
			return 1;
	return 0;
}

/* Resolve an endpoint name with one Status request on its own connection
 * (parsing comes before the command connects). */
static int
resolve_name(const char *s, uint32_t *ret)
{
	struct vmsig_holder *h;
	size_t i, n = strlen(s);
	int r;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("._+-", s[i]) == NULL)
			break;
	if (n > 64 || i < n)
		return vmsigctl_bad("ENDPOINT '%.64s': neither an endpoint "
		    "number nor a name (1..64 bytes of A-Z a-z 0-9 . _ + -)",
		    s);
	if (vmsigctl_connect(vmsigctl_socket, &h) != CTL_OK)
		return vmsigctl_bad_fail("%s", "");
	r = vmsig_holder_endpoint_find(h, s, -1, ret);
	if (r == -ENOENT)
		(void)vmsigctl_bad_fail("endpoint '%s' is not known to vmsigd "
		    "(see vmsigctl status)", s);
	else if (r < 0) {
		vmsigctl_fail(h, r, "endpoint '%s': status", s);
		(void)vmsigctl_bad_fail("%s", "");
	}
	vmsig_holder_close(h);
	return r < 0 ? -EINVAL : 0;
}

/*
 * ENDPOINT: 1 .. UINT32_MAX, decimal or 0x, or the name a helper gave it
 * (anything not all digits), resolved now through vmsigd.  Returns 0 or
 * -EINVAL (the reason: vmsigctl_bad, or vmsigctl_bad_fail for a name
 * vmsigd does not know).
 */
int
vmsigctl_mem_endpoint(const char *s, uint32_t *ret)
{
	uint64_t v;

	if (is_name(s))
		return resolve_name(s, ret);
	if (vmsigctl_parse_u64(s, UINT32_MAX, &v) < 0 || v == 0)
		return vmsigctl_bad("ENDPOINT '%.64s': not an endpoint number "
		    "(1 to %" PRIu32 ", see vmsigctl status)", s, UINT32_MAX);
	*ret = (uint32_t)v;
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pull events until the tracker holds the endpoint's context. */
static int
wait_context(struct vmsigctl_mem *m, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms, left;
	vmsig_event *ev;
	int r;

	while ((m->mem = vmsig_holder_mem(m->h, m->endpoint, &m->epoch,
	    &m->kcr3)) == NULL) {
		left = deadline - now_ms();
		/* Past the deadline, only what is already queued counts. */
		if (left <= 0 && vmsig_holder_pending(m->h) == 0)
			return -ETIMEDOUT;
		r = vmsig_holder_next(m->h, left > 0 ? (int)left : 0, &ev);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		vmsig_event_free(ev);
	}
	return 0;
}

/*
 * Connect, subscribe to `endpoint` and wait at most timeout_ms for its
 * context.  An endpoint vmsigd does not know fails at once.  Returns
 * CTL_OK with *m filled (release with _detach), or CTL_FAIL after a
 * message.
 */
int
vmsigctl_mem_attach(const char *socket, uint32_t endpoint, int timeout_ms,
    struct vmsigctl_mem *m)
{
	const uint32_t mask = VMSIG_EV_BIT(VMSIG_EV_MEMCTX) |
	    VMSIG_EV_BIT(VMSIG_EV_MEMCTX_INVALIDATED);
	int r;

	memset(m, 0, sizeof(*m));
	m->endpoint = endpoint;
	if ((r = vmsigctl_connect(socket, &m->h)) != CTL_OK)
		return r;
	/* The Ack is a round trip to the daemon, not the wait for the
	 * helper that --timeout bounds: the library's default bounds it.
	 * Subscribing before asking Status: a helper that registers in
	 * between is not missed. */
	r = vmsig_holder_subscribe(m->h, &endpoint, 1, mask, -1);
	if (r < 0) {
		vmsigctl_fail(m->h, r, "subscribe to endpoint %" PRIu32,
		    endpoint);
		vmsigctl_mem_detach(m);
		return CTL_FAIL;
	}
	if (vmsigctl_endpoint_known(m->h, endpoint) != CTL_OK) {
		vmsigctl_mem_detach(m);
		return CTL_FAIL;
	}
	if ((r = wait_context(m, timeout_ms)) == -ETIMEDOUT)
		vmsigctl_warnx("endpoint %" PRIu32 ": no memory context within "
		    "%g s (is its vmsig-memctx running? see vmsigctl status; "
		    "or raise --timeout)", endpoint, timeout_ms / 1000.0);
	else if (r < 0)
		vmsigctl_fail(m->h, r, "endpoint %" PRIu32 ": waiting for its "
		    "context", endpoint);
	if (r < 0) {
		vmsigctl_mem_detach(m);
		return CTL_FAIL;
	}
	return CTL_OK;
}

void
vmsigctl_mem_detach(struct vmsigctl_mem *m)
{
	vmsig_holder_close(m->h);	/* closes the tracked context too */
	m->h = NULL;
	m->mem = NULL;
}

/*
 * --cr3, else the DTB of --pid's process (found through the Windows
 * context), else the endpoint's kcr3.  CTL_OK, or CTL_FAIL after a message.
 */
int
vmsigctl_mem_cr3(const struct vmsigctl_mem *m,
    const struct vmsigctl_memopt *o, uint64_t *ret)
{
	if (o->has_pid)
		return vmsigctl_win_pid_cr3(m, o->pid, ret);
	if (o->has_cr3) {
		*ret = o->cr3;
		return CTL_OK;
	}
	if (m->kcr3 == 0) {
		vmsigctl_warnx("endpoint %" PRIu32 " has no kernel cr3 (none "
		    "was discovered); give --cr3 HEX", m->endpoint);
		return CTL_FAIL;
	}
	*ret = m->kcr3;
	return CTL_OK;
}

/* "W,U,NX", a subset of it, or "-". */
const char *
vmsigctl_mem_rights(uint32_t flags, char *buf, size_t cap)
{
	(void)snprintf(buf, cap, "%s%s%s%s%s",
	    flags & VMSIG_PAGE_WRITABLE ? "W" : "",
	    (flags & VMSIG_PAGE_WRITABLE) && (flags & VMSIG_PAGE_USER) ?
	    "," : "", flags & VMSIG_PAGE_USER ? "U" : "",
	    (flags & (VMSIG_PAGE_WRITABLE | VMSIG_PAGE_USER)) &&
	    (flags & VMSIG_PAGE_NX) ? "," : "",
	    flags & VMSIG_PAGE_NX ? "NX" : "");
	if (buf[0] == '\0')
		(void)snprintf(buf, cap, "-");
	return buf;
}

const char *
vmsigctl_mem_pgsz(uint64_t page_size)
{
	return page_size == VMSIG_PAGE_1G ? "1G" :
	    page_size == VMSIG_PAGE_2M ? "2M" :
	    page_size == VMSIG_PAGE_4K ? "4K" : "?";
}
