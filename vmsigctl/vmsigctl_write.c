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

/*
 * HEXBYTES "0x0102ff" or "0102ff": even length, 1..CTL_HEX_MAX bytes,
 * malloc'd.  -EINVAL (the reason: vmsigctl_bad) or -ENOMEM.
 */
static int
parse_hex(const char *s, unsigned char **ret, size_t *ret_len)
{
	const char *arg = s;
	unsigned char *b;
	size_t i, n;
	int hi, lo;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (n == 0)
		return vmsigctl_bad("HEXBYTES is empty");
	if (n % 2 != 0)
		return vmsigctl_bad("HEXBYTES '%.64s': an odd number of hex "
		    "digits (two per byte)", arg);
	if (n / 2 > CTL_HEX_MAX)
		return vmsigctl_bad("HEXBYTES: more than %u bytes", CTL_HEX_MAX);
	if ((b = malloc(n / 2)) == NULL)
		return -ENOMEM;
	for (i = 0; i < n / 2; i++) {
		hi = hex_nibble((unsigned char)s[2 * i]);
		lo = hex_nibble((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return vmsigctl_bad("HEXBYTES '%.64s': byte %zu is not "
			    "two hex digits", arg, i + 1);
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*ret = b;
	*ret_len = n / 2;
	return 0;
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

/* On an attached endpoint: cr3, lease, write, release. */
static int
do_write(const struct vmsigctl_mem *m, struct write_args *a)
{
	struct vmsig_holder *h = m->h;
	uint64_t lease;
	size_t done = 0;
	int r, rr;

	if (a->va && !a->have_cr3)
		a->cr3 = m->kcr3;
	if (a->have_pid &&
	    vmsigctl_win_pid_cr3(m, a->pid, &a->cr3) != CTL_OK)
		return CTL_FAIL;
	r = vmsig_holder_lease_acquire(h, a->ep, a->ttl, -1, &lease, NULL);
	if (r < 0) {
		vmsigctl_fail(h, r, "lease");
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
		vmsigctl_fail(h, r, "write");
	rr = vmsig_holder_lease_release(h, lease, -1);
	if (rr < 0 && rr != -ENOENT)
		vmsigctl_fail(h, rr, "release");
	printf("wrote %zu of %zu bytes at %s 0x%" PRIx64 "\n", done, a->len,
	    a->va ? "va" : "pa", a->addr);
	return r < 0 ? CTL_FAIL : CTL_OK;
}

/* One option of write: --cr3 HEX, --pid PID, --ttl MS. */
static int
write_opt(int c, char **argv, struct write_args *a)
{
	uint64_t v;

	switch (c) {
	case 'c':
		/* Addresses as the memory commands take them: hex. */
		if (vmsigctl_mem_addr(optarg, &a->cr3) < 0)
			return vmsigctl_bad("--cr3 '%.64s': not a hexadecimal "
			    "address", optarg);
		a->have_cr3 = 1;
		return 0;
	case 'P':
		if (vmsigctl_win_parse_pid(optarg, &a->pid) < 0)
			return vmsigctl_bad("--pid '%.64s': not a process id "
			    "(decimal or 0x-hex)", optarg);
		a->have_pid = 1;
		return 0;
	case 't':
		if (vmsigctl_parse_u64(optarg, VMSIG_LEASE_TTL_MAX_MS, &v) < 0 ||
		    v == 0)
			return vmsigctl_bad("--ttl '%.64s': not a time from 1 to "
			    "%u ms", optarg, VMSIG_LEASE_TTL_MAX_MS);
		a->ttl = (uint32_t)v;
		return 0;
	default:
		return vmsigctl_bad_opt(c, argv);
	}
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
	int c;

	a->ttl = CTL_TTL_MS;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		if (write_opt(c, argv, a) < 0)
			return -EINVAL;
	argc -= optind;
	argv += optind;
	if (vmsigctl_mem_nargs(argc, 4, "ENDPOINT pa|va ADDR HEXBYTES") < 0 ||
	    vmsigctl_mem_endpoint(argv[0], &a->ep) < 0 ||
	    vmsigctl_memread_space(argv[1], &a->va) < 0)
		return -EINVAL;
	if (vmsigctl_mem_addr(argv[2], &a->addr) < 0)
		return vmsigctl_bad("ADDR '%.64s': not a hexadecimal address",
		    argv[2]);
	if ((a->have_cr3 || a->have_pid) && !a->va)
		return vmsigctl_bad("--cr3 and --pid name an address space: "
		    "they go with va, not pa");
	if (a->have_cr3 && a->have_pid)
		return vmsigctl_bad("--cr3 and --pid both name an address "
		    "space: give one");
	return parse_hex(argv[3], &a->data, &a->len);
}

int
vmsigctl_write_main(const char *socket, int argc, char **argv)
{
	struct write_args a;
	struct vmsigctl_mem m;
	int r;

	memset(&a, 0, sizeof(a));
	if ((r = write_parse(argc, argv, &a)) == -ENOMEM) {
		vmsigctl_warnx("write: out of memory");
		return CTL_FAIL;
	}
	if (r < 0)
		return vmsigctl_usage("write");
	if ((r = vmsigctl_mem_attach(socket, a.ep, CTL_CTX_MS, &m)) ==
	    CTL_OK) {
		r = do_write(&m, &a);
		vmsigctl_mem_detach(&m);
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

	printf("%s %" PRIu64 " endpoint %" PRIu32 " expires at %" PRIu64
	    " ms (in %" PRId64 " ms)\n", what, lease, ep, expires,
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
		vmsigctl_warnx("lease %" PRIu64 " lost: %s", lease,
		    ll->reason == VMSIG_LEASE_EXPIRED ? "it expired (renewed "
		    "too late)" : ll->reason == VMSIG_LEASE_EPOCH ? "the "
		    "endpoint's epoch changed (guest restarted or helper "
		    "re-bootstrapped)" : ll->reason == VMSIG_LEASE_ENDPOINT_GONE ?
		    "the endpoint's vmsig-memctx left" : "vmsigd ended it");
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
				vmsigctl_fail(h, r, "renew");
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
			vmsigctl_fail(h, r, "lease: holding");
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

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 't') {
			if (vmsigctl_parse_u64(optarg, VMSIG_LEASE_TTL_MAX_MS,
			    &v) < 0 || v == 0)
				return vmsigctl_bad("--ttl '%.64s': not a time "
				    "from 1 to %u ms", optarg,
				    VMSIG_LEASE_TTL_MAX_MS);
			*ttl = (uint32_t)v;
		} else if (c == 'H') {
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(secs >= 0 && secs <= 86400.0 * 365))
				return vmsigctl_bad("--hold '%.64s': not a number "
				    "of seconds from 0 to 31536000", optarg);
			*hold_ms = (int64_t)(secs * 1000);
		} else
			return vmsigctl_bad_opt(c, argv);
	}
	if (vmsigctl_mem_nargs(argc - optind, 1, "ENDPOINT") < 0)
		return -EINVAL;
	return vmsigctl_mem_endpoint(argv[optind], ep);
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
	if (vmsigctl_endpoint_known(h, ep) != CTL_OK) {
		vmsig_holder_close(h);
		return CTL_FAIL;
	}
	r = vmsig_holder_lease_acquire(h, ep, ttl, -1, &lease, &expires);
	if (r < 0) {
		vmsigctl_fail(h, r, "lease");
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
		vmsigctl_fail(h, rr, "release");
		r = CTL_FAIL;
	} else if (rr == 0)
		printf("released %" PRIu64 "\n", lease);
	vmsig_holder_close(h);
	if (fflush(stdout) != 0)
		r = CTL_FAIL;
	return r;
}
