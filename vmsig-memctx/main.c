/* SPDX-License-Identifier: MIT */
/*
 * vmsig-memctx: the privileged helper, one per guest.  main() reads as its
 * start-up order: arguments → acquire (--qemu-pid's pidfd and RAM; QEMU's
 * QMP socket, connected only; the RAM file, opened and checked, not read;
 * inotify; the timer; json-c's seed) → drop groups, gid, uid and every
 * capability → no-new-privs → Landlock → seccomp → discover (layout and
 * kcr3: the first guest byte is read here, confined, by the code every
 * re-bootstrap runs) → offer (connect to vmsigd, a refusal is final, and
 * send the context) → the loop.
 *
 * Runs in: vmsig-memctx
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <vmsig/version.h>

#include "daemon.h"
#include "log.h"
#include "num.h"
#include "sandbox.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
/* A connection to vmsigd that lived this long was accepted: the next
 * reconnect starts again at BACKOFF_MIN_MS (vmsig-memctx(8)). */
#define BACKOFF_STABLE_MS	10000

struct opts {
	struct link_cfg link;
	const char *user, *group, *selftest;
	const char *ram_owner;	/* --ram-owner, or NULL */
	struct privdrop_ids ids;	/* --user, resolved by owners_setup() */
	unsigned int revalidate_ms;
	int verbose, use_syslog, print_sandbox;
	pid_t qemu_pid;		/* --qemu-pid, or 0 */
};

static volatile sig_atomic_t stop_signal;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmsig-memctx --endpoint N (--ram PATH | --qemu-pid PID)\n"
"           --connect SOCKET [--name NAME]\n"
"           [--low BYTES | --seg GPA:LEN:OFFSET ... | --machine q35|pc]\n"
"           [--qmp SOCKET [--qmp-ram-id ID]] [--paging 4|5]\n"
"           [--kcr3 auto|lowstub|selfref|qmp|0xHEX] [--writable]\n"
"           [--revalidate-ms N] [--user NAME] [--group NAME]\n"
"           [--ram-owner USER|UID] [-d] [-s]\n"
"           [--print-sandbox] [--sandbox-selftest SYSCALL]\n");
}

static unsigned long
number(const char *s, const char *what, unsigned long max)
{
	unsigned long v;

	if (num_parse_ul(s, 0, max, &v) < 0 || v == 0)
		fatalx_code(EXIT_MEMCTX_USAGE, "%s: '%s' is not a number in "
		    "1..%lu", what, s, max);
	return v;
}

/* --name: 1..64 bytes of [A-Za-z0-9._+-] (vmsigd checks it again). */
static const char *
name_arg(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("._+-", s[i]) != NULL))
			break;
	if (n == 0 || n > 64 || i < n)
		fatalx_code(EXIT_MEMCTX_USAGE, "--name '%s': give 1..64 "
		    "bytes of A-Z a-z 0-9 . _ + - (a libvirt domain name "
		    "of those characters)", s);
	return s;
}

static void
layout_arg(int (*fn)(struct layout_opts *, const char *, const char **),
    struct layout_opts *lo, const char *arg, const char *opt)
{
	const char *why = "";

	if (fn(lo, arg, &why) < 0)
		fatalx_code(EXIT_MEMCTX_USAGE, "%s %s: %s", opt, arg, why);
}

static void
parse(int argc, char **argv, struct opts *o, struct guest *g)
{
	enum { O_EP = 256, O_RAM, O_CONN, O_LOW, O_SEG, O_MACH, O_KCR3, O_WR,
	    O_REVAL, O_USER, O_GROUP, O_PRINT, O_SELF, O_HELP, O_QMP, O_QID,
	    O_PAGING, O_QPID, O_ROWN, O_VERSION, O_NAME };
	static const struct option lo[] = {
		{ "endpoint", required_argument, NULL, O_EP },
		{ "ram", required_argument, NULL, O_RAM },
		{ "connect", required_argument, NULL, O_CONN },
		{ "low", required_argument, NULL, O_LOW },
		{ "seg", required_argument, NULL, O_SEG },
		{ "machine", required_argument, NULL, O_MACH },
		{ "kcr3", required_argument, NULL, O_KCR3 },
		{ "writable", no_argument, NULL, O_WR },
		{ "revalidate-ms", required_argument, NULL, O_REVAL },
		{ "user", required_argument, NULL, O_USER },
		{ "group", required_argument, NULL, O_GROUP },
		{ "print-sandbox", no_argument, NULL, O_PRINT },
		{ "sandbox-selftest", required_argument, NULL, O_SELF },
		{ "help", no_argument, NULL, O_HELP },
		{ "qmp", required_argument, NULL, O_QMP },
		{ "qmp-ram-id", required_argument, NULL, O_QID },
		{ "paging", required_argument, NULL, O_PAGING },
		{ "qemu-pid", required_argument, NULL, O_QPID },
		{ "ram-owner", required_argument, NULL, O_ROWN },
		{ "version", no_argument, NULL, O_VERSION },
		{ "name", required_argument, NULL, O_NAME },
		{ NULL, 0, NULL, 0 },
	};
	const char *why = "";
	int c;

	while ((c = getopt_long(argc, argv, "dsh", lo, NULL)) != -1) {
		switch (c) {
		case O_EP: o->link.endpoint = (uint32_t)number(optarg,
		    "--endpoint", UINT32_MAX); break;
		case O_NAME: o->link.ep_name = name_arg(optarg); break;
		case O_RAM: g->path = optarg; break;
		case O_CONN: o->link.path = optarg; break;
		case O_LOW: layout_arg(layout_opt_low, &g->lopts, optarg,
		    "--low"); break;
		case O_SEG: layout_arg(layout_opt_seg, &g->lopts, optarg,
		    "--seg"); break;
		case O_MACH: layout_arg(layout_opt_machine, &g->lopts, optarg,
		    "--machine"); break;
		case O_KCR3:
			if (kcr3_parse(optarg, &g->method, &g->given, &why) < 0)
				fatalx_code(EXIT_MEMCTX_USAGE, "--kcr3 %s: %s",
				    optarg, why);
			break;
		case O_WR: g->writable = 1; break;
		case O_REVAL: o->revalidate_ms = (unsigned int)number(optarg,
		    "--revalidate-ms", 3600000); break;
		case O_USER: o->user = optarg; break;
		case O_GROUP: o->group = optarg; break;
		case O_PRINT: o->print_sandbox = 1; break;
		case O_SELF: o->selftest = optarg; break;
		case O_QMP: g->qmp_path = optarg; break;
		case O_QID: g->qmp_ram_id = optarg; break;
		case O_QPID: o->qemu_pid = (pid_t)number(optarg,
		    "--qemu-pid", INT32_MAX); break;
		case O_ROWN: o->ram_owner = optarg; break;
		case O_PAGING:
			if (strcmp(optarg, "4") != 0 && strcmp(optarg, "5") != 0)
				fatalx_code(EXIT_MEMCTX_USAGE, "--paging %s: "
				    "give 4 or 5 (levels of the guest's page "
				    "tables)", optarg);
			g->paging = (unsigned int)(optarg[0] - '0');
			break;
		case 'd': o->verbose++; break;
		case 's': o->use_syslog = 1; break;
		case 'h': case O_HELP: usage(stdout); exit(0);
		case O_VERSION: printf("vmsig-memctx %s\n", VMSIG_VERSION);
			exit(0);
		default: usage(stderr); exit(EXIT_MEMCTX_USAGE);
		}
	}
	if (optind != argc || (!o->print_sandbox && ((g->path == NULL && o->qemu_pid == 0) ||
	    o->link.path == NULL || o->link.endpoint == 0))) {
		usage(stderr);
		fprintf(stderr, "vmsig-memctx: --endpoint, --ram (or --qemu-pid) "
		    "and --connect are needed\n");
		exit(EXIT_MEMCTX_USAGE);
	}
	if (g->qmp_path == NULL && (g->method == KCR3_QMP ||
	    g->qmp_ram_id != NULL))
		fatalx_code(EXIT_MEMCTX_USAGE, "--kcr3 qmp and --qmp-ram-id "
		    "need --qmp SOCKET (a QMP monitor of QEMU's for vmsig)");
	if (g->qmp_ram_id != NULL && (g->qmp_ram_id[0] == '\0' ||
	    strlen(g->qmp_ram_id) >= sizeof(((struct qmp_guest *)0)->ram_id)))
		fatalx_code(EXIT_MEMCTX_USAGE, "--qmp-ram-id: give the id of "
		    "the RAM backend (-object memory-backend-file,id=ID)");
}

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/* No SA_RESTART: poll(2) returns EINTR and the loop sees the flag. */
static void
signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
}

static int
timer_open(unsigned int ms)
{
	struct itimerspec its;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd == -1)
		return -errno;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) == -1) {
		int r = -errno;

		(void)close(fd);
		return r;
	}
	return fd;
}

static unsigned int
sandbox_flags(const struct guest *g)
{
	return (g->writable ? SANDBOX_WRITABLE : 0) |
	    (g->qmp_path != NULL ? SANDBOX_QMP : 0);
}

/* --qemu-pid: the RAM through QEMU's descriptors, its pidfd (the session)
 * and its uid (the RAM's owner). */
static void
acquire_qemu(const struct opts *o, struct guest *g)
{
	const char *why = "";
	int r;

	if (o->qemu_pid <= 0)
		return;
	if ((r = qemupid_attach(o->qemu_pid, g->path, g->writable, &why)) < 0)
		fatalx_code(EXIT_MEMCTX_RAM, "--qemu-pid %d: %s (%s)",
		    (int)o->qemu_pid, why, strerror(-r));
	log_info("--qemu-pid %d: guest RAM is %s", (int)o->qemu_pid,
	    qemupid_target());
	if (g->path == NULL)
		g->path = qemupid_target();
	(void)guest_owner_add(g, qemupid_uid());
}

/* Who may own the RAM file besides root: the uid we were started as and
 * the one we run as (--user): a file of our own was not planted by another
 * user; and --ram-owner. */
static void
owners_setup(struct opts *o, struct guest *g)
{
	const struct passwd *pw;
	unsigned long v;
	char *end;
	int r;

	(void)guest_owner_add(g, getuid());
	if (o->user != NULL) {
		if ((r = privdrop_lookup(o->user, o->group, &o->ids)) < 0)
			fatalx("--user %s: %s", o->user, strerror(-r));
		(void)guest_owner_add(g, o->ids.uid);
	}
	if (o->ram_owner == NULL)
		return;
	errno = 0;
	v = strtoul(o->ram_owner, &end, 10);
	if (o->ram_owner[0] >= '0' && o->ram_owner[0] <= '9' &&
	    *end == '\0' && errno == 0 && v < UINT32_MAX)
		(void)guest_owner_add(g, (uid_t)v);
	else if ((pw = getpwnam(o->ram_owner)) != NULL)
		(void)guest_owner_add(g, pw->pw_uid);
	else
		fatalx_code(EXIT_MEMCTX_USAGE, "--ram-owner %s: no such user "
		    "(give the user or uid QEMU runs as)", o->ram_owner);
}

static void
acquire_guest(struct guest *g)
{
	const char *why = "";
	int code, r;

	if ((r = guest_acquire(g, &code, &why)) < 0)
		fatalx_code(code, "%s: %s (%s)", g->path, why, strerror(-r));
}

static void
acquire_watch(const struct guest *g)
{
	int r;

	/* --qemu-pid: a memfd has no name to watch; QEMU's exit ends it. */
	if (!qemupid_active() && (r = watch_open(g->path)) < 0)
		fatalx_code(EXIT_MEMCTX_RAM, "inotify on %s: %s", g->path,
		    strerror(-r));
}

static int
acquire_timer(unsigned int ms)
{
	int fd = timer_open(ms);

	if (fd < 0)
		fatalx("timerfd: %s", strerror(-fd));
	return fd;
}

static void
seed_json(const struct guest *g)
{
	int r;

	if (g->qmp_path != NULL && (r = qmp_seed()) < 0)
		fatalx("json-c: %s", strerror(-r));
}

static void
drop_privileges(const struct opts *o)
{
	int r;

	if (o->user != NULL) {
		if ((r = privdrop_ids(&o->ids)) < 0)
			fatalx("dropping to user %s: %s", o->user, strerror(-r));
	}
	/* Keep no capability: reopening the file needs only its mode. */
	if ((r = privdrop_caps(NULL, 0)) < 0)
		fatalx("clearing capabilities: %s", strerror(-r));
}

static void
no_new_privs(void)
{
	int r;

	if ((r = privdrop_nnp()) < 0)
		fatalx("no_new_privs: %s", strerror(-r));
}

static void
restrict_files(const struct guest *g)
{
	char dir[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "%s", g->path);
	/* --qemu-pid: the RAM is open and never opened again (a memfd has no
	 * name to reopen): no file right at all, as vmsigd. */
	r = landlock_restrict(qemupid_active() ? NULL : dirname(dir),
	    sandbox_flags(g));
	if (r == -EOPNOTSUPP)
		log_info("landlock: not supported by this kernel; skipped");
	else if (r < 0)
		fatalx("landlock: %s", strerror(-r));
}

static void
enter_seccomp(const struct guest *g)
{
	int r;

	if ((r = seccomp_memctx_load(sandbox_flags(g))) < 0)
		fatalx("seccomp: %s", strerror(-r));
}

/* --sandbox-selftest: try the forbidden call, report, exit. */
static void
selftest(const struct opts *o)
{
	int r;

	if (o->selftest == NULL)
		return;
	r = sandbox_selftest(o->selftest);
	log_warnx("selftest %s: %s", o->selftest, r < 0 ? strerror(-r) :
	    "the forbidden call succeeded");
	exit(r < 0 ? SANDBOX_SELFTEST_REFUSED : SANDBOX_SELFTEST_ALLOWED);
}

/* The first discovery: a guest we cannot read is an exit code, before
 * vmsigd hears of the endpoint. */
static void
discover(struct guest *g)
{
	const char *why = "";
	int code, r;

	if ((r = guest_bootstrap(g, &code, &why)) < 0) {
		/* A QEMU session whose guest has not enabled paging or
		 * settled its kernel tables yet (a libvirt hook starts us as
		 * the domain starts): the loop retries at every tick, as it
		 * does after a reset.  Without QMP nothing tells us the guest
		 * is still booting, so that stays fatal (exit status 5). */
		if (g->qmp_path != NULL && code == EXIT_MEMCTX_NOKCR3) {
			log_info("%s: %s; waiting for the guest", g->path, why);
			return;
		}
		fatalx_code(code, "%s: %s (%s)", g->path, why, strerror(-r));
	}
}

struct state {
	struct opts *o;
	struct guest *g;
	int timer;
	unsigned int backoff;	/* wait before the next connect to vmsigd */
	struct timespec next_try;
	struct timespec connected;	/* when the current connection began */
	int stale;		/* the guest changed while vmsigd was away */
	int await_inval;	/* asked vmsigd to invalidate; no reply yet */
	unsigned int qmp_backoff;
	struct timespec qmp_next;
};

static long
ms_until(const struct timespec *t)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t->tv_sec - now.tv_sec) * 1000L +
	    (t->tv_nsec - now.tv_nsec) / 1000000L;
	return ms < 0 ? 0 : ms;
}

static void
backoff_next(struct timespec *t, unsigned int *backoff)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += *backoff / 1000;
	t->tv_nsec += (long)(*backoff % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
	*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    *backoff * 2;
}

static void
schedule_reconnect(struct state *s)
{
	backoff_next(&s->next_try, &s->backoff);
}

/*
 * The connection to vmsigd ended (why: a sentence).  The backoff grows on
 * every failure; it starts again at BACKOFF_MIN_MS only when the connection
 * had lived BACKOFF_STABLE_MS (vmsigd took our context and served it): a
 * vmsigd that accepts us and then drops every offer is not hammered.
 */
static void
link_lost(struct state *s, const char *why)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - s->connected.tv_sec) * 1000L +
	    (now.tv_nsec - s->connected.tv_nsec) / 1000000L;
	if (ms >= BACKOFF_STABLE_MS)
		s->backoff = BACKOFF_MIN_MS;
	link_close();
	log_warnx("%s; reconnecting in %u ms", why, s->backoff);
	schedule_reconnect(s);
}

/* Offer the current context; on failure say why and back off. */
static void
send_ready(struct state *s)
{
	char why[128];
	int r;

	if ((r = link_send_ready(s->g)) < 0) {
		snprintf(why, sizeof(why), "vmsigd: cannot offer the context "
		    "(%s)", strerror(-r));
		link_lost(s, why);
	}
}

/* Find the guest afresh and, if vmsigd is there, offer it. */
static void
rebootstrap(struct state *s)
{
	const char *why = "";
	int code, r;

	if (s->g->qmp_path != NULL && s->g->qmp == NULL &&
	    ms_until(&s->qmp_next) > 0)
		return;		/* QEMU's socket: capped backoff */
	r = guest_bootstrap(s->g, &code, &why);
	(void)watch_rearm(s->g->path);
	if (s->g->qmp_path != NULL && s->g->qmp == NULL)
		backoff_next(&s->qmp_next, &s->qmp_backoff);
	else
		s->qmp_backoff = BACKOFF_MIN_MS;
	if (r < 0) {
		log_info("guest not ready (%s: %s); retrying", why,
		    strerror(-r));
		return;
	}
	s->stale = 0;
	if (link_fd() >= 0)
		send_ready(s);
}

/* Connect and offer the context (offer == 0: connect only). */
static void offer_context(struct state *);

static void
try_connect(struct state *s, int offer)
{
	const char *why = "";
	int r = link_open(&s->o->link, &why);

	if (r == -EEXIST || r == -EPERM)
		fatalx_code(EXIT_MEMCTX_REFUSED, "vmsigd refused endpoint %u: "
		    "%s", s->o->link.endpoint, why);
	if (r < 0) {
		log_debug("vmsigd at %s: %s; next try in %u ms",
		    s->o->link.path, strerror(-r), s->backoff);
		schedule_reconnect(s);
		return;
	}
	/* The backoff is not reset here: see link_lost(). */
	clock_gettime(CLOCK_MONOTONIC, &s->connected);
	if (offer)
		offer_context(s);
}

/* After a (re)connection: the guest as it is now. */
static void
offer_context(struct state *s)
{
	if (link_fd() < 0)
		return;
	if (s->stale || !s->g->ready)
		rebootstrap(s);
	else
		send_ready(s);
}

/* The guest changed: tell vmsigd (it answers Invalidate, and only then
 * do we bootstrap again: an earlier offer would cost holders a second
 * epoch), or, with no vmsigd, just remember to look again before the next
 * offer. */
static void
guest_changed(struct state *s, const char *why)
{
	log_info("%s", why);
	if (link_fd() >= 0 && s->g->ready) {
		if (link_send_invalidate(why) == 1)
			s->await_inval = 1;
	} else
		s->stale = 1;
}

/* The QMP session ended or reported a reset: the context ends at once. */
static void
on_qmp(struct state *s)
{
	int r = qmp_read_events(s->g->qmp);
	unsigned int ev = qmp_take_events(s->g->qmp);

	if (r < 0 || (ev & QMP_EV_SHUTDOWN)) {
		guest_changed(s, r == -EPIPE ? "QEMU closed the QMP connection "
		    "(QEMU gone)" : r < 0 ? "the QMP connection broke" :
		    "QEMU reported SHUTDOWN");
		/* QEMU is leaving: do not ask the dying one again. */
		guest_qmp_drop(s->g);
		s->qmp_backoff = BACKOFF_MIN_MS;
		backoff_next(&s->qmp_next, &s->qmp_backoff);
	} else if (ev & QMP_EV_RESET)
		guest_changed(s, "QEMU reported RESET");
	else
		return;
	guest_reset(s->g);
}

static void
on_tick(struct state *s)
{
	const char *why = "";
	uint64_t ticks;

	(void)!read(s->timer, &ticks, sizeof(ticks));
	if (!s->g->ready) {
		if (!s->await_inval)
			rebootstrap(s);
		return;
	}
	if (guest_revalidate(s->g, &why) < 0)
		guest_changed(s, why);
}

static void
on_link(struct state *s)
{
	int r = link_recv(s->g);

	if (r == 1) {
		log_info("vmsigd: invalidated, epoch %u; re-bootstrapping",
		    link_epoch());
		s->await_inval = 0;
		rebootstrap(s);
	} else if (r == -EPIPE) {
		s->await_inval = 0;
		link_lost(s, "vmsigd closed the connection");
	} else if (r < 0)
		fatalx("vmsigd broke the protocol; exiting");
}

/*
 * --qemu-pid: QEMU exited, the session is over.  Invalidate, then exit with
 * a code of its own: nothing can find the next QEMU's RAM (its pid and its
 * memfd are new), so the supervisor starts a fresh helper for it.
 */
static void
on_qemu_exit(struct state *s)
{
	guest_changed(s, "QEMU exited: the guest session is over");
	link_close();
	guest_reset(s->g);
	fatalx_code(EXIT_MEMCTX_QEMU_GONE, "QEMU (pid %d) exited; exiting "
	    "(restart vmsig-memctx with the new QEMU's --qemu-pid)",
	    (int)qemupid_pid());
}

static int
run(struct state *s)
{
	for (;;) {
		struct pollfd pfd[5] = {
			{ .fd = s->timer, .events = POLLIN },
			{ .fd = watch_fd(), .events = POLLIN },
			{ .fd = qmp_fd(s->g->qmp), .events = POLLIN },
			{ .fd = link_fd(), .events = POLLIN },
			{ .fd = qemupid_fd(), .events = POLLIN },
		};
		int timeout = link_fd() < 0 ? (int)ms_until(&s->next_try) : -1;
		int n;

		if (stop_signal)
			return 0;
		if (link_fd() < 0 && timeout == 0) {
			try_connect(s, 1);
			continue;
		}
		/* A negative fd is ignored by poll(2): no QMP, no vmsigd. */
		n = poll(pfd, 5, timeout);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("poll");
		if (pfd[0].revents & POLLIN)
			on_tick(s);
		if ((pfd[1].revents & POLLIN) && watch_read() &&
		    !guest_same_file(s->g))
			guest_changed(s, "the RAM file was replaced or removed");
		if (s->g->qmp != NULL && pfd[2].revents)
			on_qmp(s);
		if (link_fd() >= 0 && pfd[3].revents)
			on_link(s);
		if (pfd[4].revents & POLLIN)
			on_qemu_exit(s);
	}
}

int
main(int argc, char **argv)
{
	struct opts o = { .link = { .name = "vmsig-memctx" },
	    .revalidate_ms = 1000 };
	struct guest g = { .fd = -1, .wfd = -1 };
	struct state s = { .o = &o, .g = &g, .backoff = BACKOFF_MIN_MS,
	    .qmp_backoff = BACKOFF_MIN_MS };
	int r;

	parse(argc, argv, &o, &g);
	if (o.print_sandbox)
		return seccomp_memctx_print(sandbox_flags(&g),
		    STDOUT_FILENO) < 0;
	log_init("vmsig-memctx", LOG_LVL_INFO + o.verbose, o.use_syslog);
	signals_setup();

	/*
	 * Acquire.  Only what confinement would forbid, and not one byte of
	 * the guest: the first read is discover()'s, confined.
	 */
	/* /proc/PID/fd and /proc/PID/status: Landlock forbids /proc later. */
	acquire_qemu(&o, &g);
	/* --user and --ram-owner: getpwnam(3) reads /etc/passwd, which
	 * Landlock forbids later. */
	owners_setup(&o, &g);
	/* The RAM file, checked and not read, O_RDWR only with --writable
	 * (the capabilities the open may need go next); QMP's socket only
	 * connected, and its SO_PEERCRED, which seccomp forbids later. */
	acquire_guest(&g);
	/* inotify on the path: before --user, who may not reach it. */
	acquire_watch(&g);
	/* timerfd: allowed later too; here so that its failure is early. */
	s.timer = acquire_timer(o.revalidate_ms);
	/* json-c seeds its hash at the first key it sees, with getrandom(2)
	 * or /dev/urandom: do it on a constant, seccomp allows neither. */
	seed_json(&g);

	/* Confine, in the order each step needs the one before. */
	/* Groups, gid, uid, then every capability: after the opens that
	 * needed them, before anything reads a byte from outside. */
	drop_privileges(&o);
	/* no_new_privs: Landlock and seccomp need it as an unprivileged
	 * process, and execve could never give privileges back. */
	no_new_privs();
	/* Landlock: the RAM file's directory only (reopen after QEMU
	 * replaced the file); before seccomp, which forbids its syscalls. */
	restrict_files(&g);
	/* seccomp last: the allowlist of every later re-bootstrap. */
	enter_seccomp(&g);
	selftest(&o);

	/* Discover: the first guest byte, read confined, by guest_bootstrap()
	 * as every re-bootstrap reads it. */
	discover(&g);
	/* Offer: connect to vmsigd (a refusal is final), as every reconnect
	 * does, confined: vmsigd's Welcome is parsed here, and vmsigd never
	 * hears of a guest we cannot read. */
	try_connect(&s, 1);

	r = run(&s);
	log_info("signal %d: stopping", (int)stop_signal);
	link_close();
	guest_reset(&g);
	guest_qmp_drop(&g);
	return r;
}
