/* SPDX-License-Identifier: MIT */
/*
 * vmsigctl write and vmsigctl lease: the MEMWRITE lease from a shell.
 * `write` subscribes to one endpoint until the tracker holds its context,
 * takes the lease, writes the bytes by guest-physical or (cr3, virtual)
 * address and gives the lease back.  `lease` takes the lease, prints it,
 * optionally keeps it for a while by renewing it at half its ttl, and
 * releases it; it is how a person checks the writers policy or keeps
 * other writers out during a manual change.
 *
 * Runs in: holder
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsig/mem.h>

#include "vmsigctl.h"

#define CTL_TTL_MS	5000u	/* default lease ttl */
#define CTL_CTX_MS	5000	/* wait for the endpoint's context */
#define CTL_HEX_MAX	(1u << 20)	/* bytes one command may write */

static volatile sig_atomic_t ctl_stop;

static void
on_signal(int sig)
{
	(void)sig;
	ctl_stop = 1;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fail_msg(struct vmsig_holder *h, const char *what, int r)
{
	const char *m = vmsig_holder_error(h);

	vmsigctl_warnx("%s: %s%s%s", what, strerror(-r), m[0] ? ": " : "", m);
}

static int
hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "0x0102ff" or "0102ff": even length, 1..CTL_HEX_MAX bytes.  malloc'd. */
static int
parse_hex(const char *s, unsigned char **ret, size_t *ret_len)
{
	unsigned char *b;
	size_t i, n;
	int hi, lo;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (n == 0 || n % 2 != 0 || n / 2 > CTL_HEX_MAX)
		return -EINVAL;
	if ((b = malloc(n / 2)) == NULL)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		hi = hex_nibble((unsigned char)s[2 * i]);
		lo = hex_nibble((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return -EINVAL;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*ret = b;
	*ret_len = n / 2;
	return 0;
}

/* Subscribe to ep and read events until the tracker has its context. */
static int
wait_context(struct vmsig_holder *h, uint32_t ep, uint64_t *ret_kcr3)
{
	int64_t end = mono_ms() + CTL_CTX_MS;
	vmsig_event *ev;
	int r;

	if ((r = vmsig_holder_subscribe(h, &ep, 1, 0, -1)) < 0) {
		fail_msg(h, "subscribe", r);
		return CTL_FAIL;
	}
	while (vmsig_holder_mem(h, ep, NULL, ret_kcr3) == NULL) {
		int64_t left = end - mono_ms();

		if (left <= 0 || (r = vmsig_holder_next(h, (int)left, &ev)) == 0) {
			vmsigctl_warnx("endpoint %" PRIu32 ": no context within "
			    "%d ms (is its vmsig-memctx running?)", ep,
			    CTL_CTX_MS);
			return CTL_FAIL;
		}
		if (r < 0) {
			fail_msg(h, "waiting for the context", r);
			return CTL_FAIL;
		}
		vmsig_event_free(ev);
	}
	return CTL_OK;
}

struct write_args {
	uint32_t ep;
	int va;
	uint64_t addr, cr3;
	int have_cr3;
	uint32_t pid;		/* --pid: cr3 is that process's DTB */
	int have_pid;
	uint32_t ttl;
	unsigned char *data;
	size_t len;
};

static int
do_write(struct vmsig_holder *h, struct write_args *a)
{
	uint64_t lease, kcr3;
	size_t done = 0;
	int r, rr;

	if ((r = wait_context(h, a->ep, &kcr3)) != CTL_OK)
		return r;
	if (a->va && !a->have_cr3)
		a->cr3 = kcr3;
	if (a->have_pid) {
		struct vmsigctl_mem m = { .h = h, .endpoint = a->ep,
		    .kcr3 = kcr3 };

		if (vmsigctl_win_pid_cr3(&m, a->pid, &a->cr3) != CTL_OK)
			return CTL_FAIL;
	}
	r = vmsig_holder_lease_acquire(h, a->ep, a->ttl, -1, &lease, NULL);
	if (r < 0) {
		fail_msg(h, "lease", r);
		return CTL_FAIL;
	}
	if (a->va)
		r = vmsig_holder_write_va(h, a->ep, lease, a->cr3, a->addr,
		    a->data, a->len, -1, &done);
	else
		r = vmsig_holder_write_pa(h, a->ep, lease, a->addr, a->data,
		    a->len, -1, &done);
	if (r == -EFAULT && a->va && vmsig_holder_error(h)[0] == '\0')
		vmsigctl_warnx("write: va 0x%" PRIx64 " does not translate "
		    "under cr3 0x%" PRIx64, a->addr + done, a->cr3);
	else if (r < 0)
		fail_msg(h, "write", r);
	rr = vmsig_holder_lease_release(h, lease, -1);
	if (rr < 0 && rr != -ENOENT)
		fail_msg(h, "release", rr);
	printf("wrote %zu of %zu bytes at %s 0x%" PRIx64 "\n", done, a->len,
	    a->va ? "va" : "pa", a->addr);
	return r < 0 ? CTL_FAIL : CTL_OK;
}

static int
write_parse(int argc, char **argv, struct write_args *a)
{
	static const struct option opts[] = {
		{ "cr3", required_argument, NULL, 'c' },
		{ "ttl", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	a->ttl = CTL_TTL_MS;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		/* Addresses as the memory commands take them: hex. */
		if (c == 'c' && vmsigctl_mem_addr(optarg, &a->cr3) == 0)
			a->have_cr3 = 1;
		else if (c == 'P' && vmsigctl_win_parse_pid(optarg,
		    &a->pid) == 0)
			a->have_pid = 1;
		else if (c == 't' && vmsigctl_parse_u64(optarg,
		    VMSIG_LEASE_TTL_MAX_MS, &v) == 0 && v > 0)
			a->ttl = (uint32_t)v;
		else
			return -EINVAL;
	}
	if (argc - optind != 4 ||
	    vmsigctl_parse_u64(argv[optind], UINT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	a->ep = (uint32_t)v;
	if (strcmp(argv[optind + 1], "va") == 0)
		a->va = 1;
	else if (strcmp(argv[optind + 1], "pa") != 0)
		return -EINVAL;
	if (vmsigctl_mem_addr(argv[optind + 2], &a->addr) < 0 ||
	    ((a->have_cr3 || a->have_pid) && !a->va) ||
	    (a->have_cr3 && a->have_pid))
		return -EINVAL;
	return parse_hex(argv[optind + 3], &a->data, &a->len);
}

int
vmsigctl_write_main(const char *socket, int argc, char **argv)
{
	struct write_args a;
	struct vmsig_holder *h;
	int r;

	memset(&a, 0, sizeof(a));
	if ((r = write_parse(argc, argv, &a)) == -ENOMEM) {
		vmsigctl_warnx("out of memory");
		return CTL_FAIL;
	}
	if (r < 0)
		return vmsigctl_usage("write");
	if ((r = vmsigctl_connect(socket, &h)) == CTL_OK) {
		r = do_write(h, &a);
		vmsig_holder_close(h);
	}
	free(a.data);
	if (fflush(stdout) != 0)
		r = CTL_FAIL;
	return r;
}

static void
print_lease(const char *what, uint64_t lease, uint32_t ep, uint64_t expires)
{
	int64_t left = (int64_t)expires - mono_ms();

	printf("%s %" PRIu64 " endpoint %" PRIu32 " expires %" PRIu64
	    " (in %" PRId64 " ms)\n", what, lease, ep, expires,
	    left > 0 ? left : 0);
	(void)fflush(stdout);
}

/* An event while holding: only the loss of our lease matters. */
static int
hold_event(vmsig_event *ev, uint64_t lease)
{
	const vmsig_lease_lost *ll = (const void *)ev->inln;
	int lost = ev->type == VMSIG_EV_LEASE_LOST && ll->lease_id == lease;

	if (lost)
		vmsigctl_warnx("lease %" PRIu64 " lost (reason %" PRIu32 ": %s)",
		    lease, ll->reason, ll->reason == VMSIG_LEASE_EXPIRED ?
		    "expired" : ll->reason == VMSIG_LEASE_EPOCH ?
		    "epoch changed" : "endpoint gone");
	vmsig_event_free(ev);
	return lost;
}

/* Keep the lease for hold_ms, renewing at half its ttl; stop on a signal. */
static int
hold(struct vmsig_holder *h, uint32_t ep, uint64_t lease, uint32_t ttl,
    int64_t hold_ms)
{
	int64_t end = mono_ms() + hold_ms, renew = mono_ms() + ttl / 2, now;
	int64_t wait;
	uint64_t expires;
	vmsig_event *ev;
	int r;

	while (!ctl_stop && (now = mono_ms()) < end) {
		if (now >= renew) {
			r = vmsig_holder_lease_renew(h, lease, ttl, -1,
			    &expires);
			if (r < 0) {
				fail_msg(h, "renew", r);
				return CTL_FAIL;
			}
			print_lease("renewed", lease, ep, expires);
			renew = mono_ms() + ttl / 2;
			continue;
		}
		wait = (renew < end ? renew : end) - now;
		/* Short slices: a signal must end the hold promptly. */
		r = vmsig_holder_next(h, wait > 100 ? 100 : (int)wait, &ev);
		if (r < 0) {
			fail_msg(h, "connection", r);
			return CTL_FAIL;
		}
		if (r == 1 && hold_event(ev, lease))
			return CTL_FAIL;
	}
	return CTL_OK;
}

static int
lease_parse(int argc, char **argv, uint32_t *ep, uint32_t *ttl,
    int64_t *hold_ms)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	double secs;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't' && vmsigctl_parse_u64(optarg, VMSIG_LEASE_TTL_MAX_MS,
		    &v) == 0 && v > 0)
			*ttl = (uint32_t)v;
		else if (c == 'H') {
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(secs >= 0 && secs <= 86400.0 * 365))
				return -EINVAL;
			*hold_ms = (int64_t)(secs * 1000);
		} else
			return -EINVAL;
	}
	if (argc - optind != 1 ||
	    vmsigctl_parse_u64(argv[optind], UINT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*ep = (uint32_t)v;
	return 0;
}

int
vmsigctl_lease_main(const char *socket, int argc, char **argv)
{
	struct sigaction sa;
	struct vmsig_holder *h;
	uint64_t lease, expires;
	uint32_t ep, ttl = CTL_TTL_MS;
	int64_t hold_ms = 0;
	int r, rr;

	if (lease_parse(argc, argv, &ep, &ttl, &hold_ms) < 0)
		return vmsigctl_usage("lease");
	if ((r = vmsigctl_connect(socket, &h)) != CTL_OK)
		return r;
	r = vmsig_holder_lease_acquire(h, ep, ttl, -1, &lease, &expires);
	if (r < 0) {
		fail_msg(h, "lease", r);
		vmsig_holder_close(h);
		return CTL_FAIL;
	}
	print_lease("lease", lease, ep, expires);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	r = hold_ms > 0 ? hold(h, ep, lease, ttl, hold_ms) : CTL_OK;
	/* A lost lease has nothing left to release. */
	rr = vmsig_holder_lease_release(h, lease, -1);
	if (rr < 0 && r == CTL_OK) {
		fail_msg(h, "release", rr);
		r = CTL_FAIL;
	} else if (rr == 0)
		printf("released %" PRIu64 "\n", lease);
	vmsig_holder_close(h);
	if (fflush(stdout) != 0)
		r = CTL_FAIL;
	return r;
}
