/* SPDX-License-Identifier: MIT */
/*
 * vmsigd: the unprivileged core.  Start-up, in this order:
 *   arguments and policy (names resolved while files can still be read) →
 *   acquire: bind (or inherit) the two sockets →
 *   drop groups, gid and uid (--user, when started as root) →
 *   clear every capability → no-new-privs, not dumpable →
 *   Landlock (no filesystem rights) → seccomp → the loop.
 * The config file stays open (read-only) so that SIGHUP can read it again
 * with pread: the confined core opens no file.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmsig/version.h>

#include "log.h"
#include "num.h"
#include "sandbox.h"
#include "vmsigd.h"

struct counters counters;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmsigd [-fdsn] [--holder-socket PATH] [--adapter-socket PATH]\n"
"              [--user NAME] [--config FILE] [--allow-holder ENTRY]\n"
"              [--allow-writer ENTRY] [--allow-adapter ENTRY]\n"
"              [--queue-frames N] [--queue-bytes N] [--gone-ms N]\n"
"              [--max-connections-per-uid N] [--hello-timeout-ms N]\n"
"              [--holder-fds N] [--deliver-to-owner]\n"
"              [--print-sandbox] [--sandbox-selftest SYSCALL] [--version]\n"
"  -f  stay in the foreground      -d  debug log\n"
"  -s  log to syslog (the default in the background)\n"
"  -n  check the configuration and the command line, then exit\n"
"  ENTRY: uid:N gid:N user:NAME group:NAME none   (see vmsigd(8))\n");
}

struct opts {
	int foreground, verbose, use_syslog, print_sandbox, check;
	const char *user, *config, *selftest;
	struct listen_cfg lc;
};

static unsigned long
number(const char *s, const char *what, unsigned long max)
{
	unsigned long v;

	if (num_parse_ul(s, 0, max, &v) < 0 || v == 0)
		fatalx("%s: '%s' is not a number in 1..%lu", what, s, max);
	return v;
}

static void
add_rule(enum policy_rule rule, const char *entry)
{
	const char *why = "";

	if (policy_add(rule, entry, &why) < 0)
		fatalx("policy entry '%s': %s", entry, why);
}

static void
setting(const char *name, const char *value)
{
	const char *why = "";

	if (policy_set(name, value, &why) < 0)
		fatalx("--%s %s: %s", name, value, why);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_HS = 256, O_AS, O_USER, O_CONF, O_AH, O_AW, O_AA, O_QF, O_QB,
	    O_GONE, O_PRINT, O_SELF, O_HELP, O_MAXC, O_HELLO, O_HFDS,
	    O_OWNER, O_VERSION };
	static const struct option lo[] = {
		{ "holder-socket", required_argument, NULL, O_HS },
		{ "adapter-socket", required_argument, NULL, O_AS },
		{ "user", required_argument, NULL, O_USER },
		{ "config", required_argument, NULL, O_CONF },
		{ "allow-holder", required_argument, NULL, O_AH },
		{ "allow-writer", required_argument, NULL, O_AW },
		{ "allow-adapter", required_argument, NULL, O_AA },
		{ "queue-frames", required_argument, NULL, O_QF },
		{ "queue-bytes", required_argument, NULL, O_QB },
		{ "gone-ms", required_argument, NULL, O_GONE },
		{ "max-connections-per-uid", required_argument, NULL, O_MAXC },
		{ "hello-timeout-ms", required_argument, NULL, O_HELLO },
		{ "holder-fds", required_argument, NULL, O_HFDS },
		{ "deliver-to-owner", no_argument, NULL, O_OWNER },
		{ "print-sandbox", no_argument, NULL, O_PRINT },
		{ "sandbox-selftest", required_argument, NULL, O_SELF },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "fdsnh", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = 1; break;
		case 'd': o->verbose++; break;
		case 's': o->use_syslog = 1; break;
		case 'n': o->check = 1; break;
		case O_HS: o->lc.path[SOCK_HOLDER] = optarg; break;
		case O_AS: o->lc.path[SOCK_ADAPTER] = optarg; break;
		case O_USER: o->user = optarg; break;
		case O_CONF: o->config = optarg; break;
		case O_AH: add_rule(POLICY_HOLDERS, optarg); break;
		case O_AW: add_rule(POLICY_WRITERS, optarg); break;
		case O_AA: add_rule(POLICY_ADAPTERS, optarg); break;
		case O_QF: peer_limits.frames = (unsigned int)number(optarg,
		    "--queue-frames", 1u << 20); break;
		case O_QB: peer_limits.bytes = number(optarg, "--queue-bytes",
		    1ul << 30); break;
		case O_GONE: endpoint_gone_ms = (unsigned int)number(optarg,
		    "--gone-ms", 3600000); break;
		case O_MAXC: setting("max-connections-per-uid", optarg); break;
		case O_HELLO: setting("hello-timeout-ms", optarg); break;
		case O_HFDS: setting("holder-fds", optarg); break;
		case O_OWNER: setting("deliver-to-owner", "yes"); break;
		case O_PRINT: o->print_sandbox = 1; break;
		case O_SELF: o->selftest = optarg; break;
		case 'h': case O_HELP: usage(stdout); exit(0);
		case O_VERSION: printf("vmsigd %s\n", VMSIG_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	policy_cmdline_done();
}

/*
 * 1000 holders each hold a socket.  Then the limits that keep us below it:
 * holder connections leave a reserve for helpers, timers and retained
 * descriptors; descriptors in flight (charged by the kernel to our uid
 * against this same limit, ETOOMANYREFS past it) stay below half of it,
 * leaving the rest to other processes of our uid.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;
	unsigned long n = 1024, reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur > (1ul << 24) ? 1ul << 24 : rl.rlim_cur;
	reserve = n / 32 > 64 ? n / 32 : 64;
	limits.conn_total = n > reserve * 2 ? (unsigned int)(n - reserve) :
	    (unsigned int)(n / 2);
	limits.fds_total = (unsigned int)(n / 2);
	if (limits.conn_per_uid > limits.conn_total) {
		log_warnx("max-connections-per-uid %u is above what %lu "
		    "descriptors allow; using %u", limits.conn_per_uid, n,
		    limits.conn_total);
		limits.conn_per_uid = limits.conn_total;
	}
}

/* The config file, open since start-up, for SIGHUP; -1 without one. */
static int conf_fd = -1;
static const char *conf_path;

/*
 * SIGHUP: the file again, from the descriptor kept open (no open(2) after
 * start-up).  Connected peers stay; the new policy governs what they and
 * new connections ask from now on.  A file that does not parse changes
 * nothing; a file renamed over ours is not what we read, so we say so.
 */
static void
reload(void)
{
	struct stat st;
	const char *why = "";
	int r, line = 0;

	if (conf_fd == -1) {
		log_info("reload: no --config; nothing to reload");
		return;
	}
	if (fstat(conf_fd, &st) == 0 && st.st_nlink == 0) {
		log_warnx("reload: %s was replaced or removed since start-up; "
		    "vmsigd can only read the file it opened then (it opens "
		    "no file once confined): restart vmsigd to read the new "
		    "file; keeping the current policy", conf_path);
		return;
	}
	r = policy_read(conf_fd, conf_path, &line, &why);
	if (r < 0 && line > 0)
		log_warnx("reload: %s line %d: %s; keeping the current policy",
		    conf_path, line, why);
	else if (r < 0)
		log_warnx("reload: %s: %s (%s); keeping the current policy",
		    conf_path, why, strerror(-r));
	else
		log_info("reload: policy from %s (%d rules)", conf_path, r);
}

static void
on_signal(struct loop_src *src, uint32_t events)
{
	struct signalfd_siginfo si;
	int n;

	(void)events;
	/* Bounded: the signalfd holds at most one record per signal. */
	for (n = 0; n < 8; n++) {
		if (read(src->fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo == SIGHUP) {
			reload();
			continue;
		}
		log_info("signal %u: stopping", si.ssi_signo);
		loop_quit();
		return;
	}
}

/* Signals arrive on the loop as a descriptor: no async handlers at all. */
static int
signals_open(struct loop_src *src)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -errno;
	(void)signal(SIGPIPE, SIG_IGN);
	src->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (src->fd == -1)
		return -errno;
	src->cb = on_signal;
	return 0;
}

/* Landlock: nothing at all, but removing the socket files we bound. */
static int
confine_fs(const struct listen_cfg *lc)
{
	static char d[2][4096];
	const char *dirs[2];
	size_t n = 0;
	int k;

	if (listen_activated())
		return landlock_restrict(NULL, 0);
	for (k = 0; k < 2; k++) {
		snprintf(d[k], sizeof(d[k]), "%s", lc->path[k]);
		dirs[n++] = dirname(d[k]);
	}
	return landlock_restrict_remove(dirs, n);
}

/* -n: the verdict on the configuration, on stdout; the exit status. */
static int
check_report(const char *path, int line, const char *why, int r)
{
	if (path == NULL)
		path = "command line";
	if (r == 0) {
		printf("%s: ok\n", path);
		return 0;
	}
	if (line > 0)
		printf("%s line %d: %s\n", path, line, why);
	else
		printf("%s: %s: %s\n", path, why, strerror(-r));
	return 1;
}

/* --sandbox-selftest: the call should end us by SIGSYS. */
static int
selftest(const char *name)
{
	int r = sandbox_selftest(name);

	if (r == -EINVAL)
		fatalx("--sandbox-selftest %s: unknown name", name);
	if (r < 0) {
		log_warnx("selftest %s: refused (%s), not killed", name,
		    strerror(-r));
		return SANDBOX_SELFTEST_REFUSED;
	}
	log_warnx("selftest %s: the forbidden call succeeded", name);
	return SANDBOX_SELFTEST_ALLOWED;
}

int
main(int argc, char **argv)
{
	struct opts o = { .lc = { .path = { "/run/vmsig/holder.sock",
	    "/run/vmsig/adapter.sock" }, .owner = (uid_t)-1,
	    .group = (gid_t)-1 } };
	struct privdrop_ids su = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct loop_src sig = { .fd = -1 };
	const char *why = "";
	int r, line = 0;

	parse(argc, argv, &o);
	if (o.print_sandbox)
		return seccomp_vmsigd_print(STDOUT_FILENO) < 0;
	log_init("vmsigd", LOG_LVL_INFO + o.verbose, o.use_syslog ||
	    !o.foreground);
	/* Kept open for SIGHUP: after confinement no file can be opened. */
	if (o.config != NULL && (conf_fd = open(o.config, O_RDONLY |
	    O_CLOEXEC)) == -1) {
		r = -errno;
		if (o.check)
			return check_report(o.config, 0, "cannot open", r);
		fatalx("%s: cannot open: %s", o.config, strerror(-r));
	}
	conf_path = o.config;
	if (conf_fd != -1 && (r = policy_read(conf_fd, o.config, &line,
	    &why)) < 0) {
		if (o.check)
			return check_report(o.config, line, why, r);
		if (line > 0)
			fatalx("%s, line %d: %s", o.config, line, why);
		fatalx("%s: %s: %s", o.config, why, strerror(-r));
	}
	if (o.check)
		return check_report(o.config, 0, NULL, 0);
	/* Resolve the user now: after the drop, /etc is out of reach. */
	if (o.user != NULL && (r = privdrop_lookup(o.user, NULL, &su)) < 0)
		fatalx("--user %s: %s", o.user, strerror(-r));
	if (su.uid != (uid_t)-1 && geteuid() == 0) {
		o.lc.owner = su.uid;
		o.lc.group = su.gid;
	}
	policy_defaults(su.uid != (uid_t)-1 && geteuid() == 0 ? su.uid :
	    geteuid());
	raise_nofile();
	counters.start_ms = loop_now_ms();

	/* Acquire: every descriptor the core will ever need. */
	if ((r = loop_init()) < 0 || (r = signals_open(&sig)) < 0)
		fatalx("event loop: %s", strerror(-r));
	if ((r = listen_open(&o.lc, &why)) < 0)
		fatalx("listening: %s: %s", why, strerror(-r));
	if (!o.foreground && daemon(0, 0) == -1)
		fatal("daemon");

	/* Confine: each step assumes the previous one (see sandbox.h). */
	if (su.uid != (uid_t)-1 && geteuid() == 0 &&
	    (r = privdrop_ids(&su)) < 0)
		fatalx("dropping to user %s: %s", o.user, strerror(-r));
	if (geteuid() == 0)
		log_warnx("running as root without capabilities; use --user");
	if ((r = privdrop_caps(NULL, 0)) < 0)
		fatalx("clearing capabilities: %s", strerror(-r));
	if ((r = privdrop_nnp()) < 0)
		fatalx("no_new_privs: %s", strerror(-r));
	r = confine_fs(&o.lc);
	if (r == -EOPNOTSUPP)
		log_info("landlock: not supported by this kernel; skipped");
	else if (r < 0)
		fatalx("landlock: %s", strerror(-r));
	counters.uid = getuid();
	if ((r = seccomp_vmsigd_load()) < 0)
		fatalx("seccomp: %s", strerror(-r));
	policy_seal();
	if (o.selftest != NULL)
		return selftest(o.selftest);

	if ((r = loop_add(&sig, EPOLLIN)) < 0 || (r = admit_init()) < 0 ||
	    (r = sendq_init()) < 0 || (r = listen_start()) < 0)
		fatalx("event loop: %s", strerror(-r));
	if (listen_activated())
		log_info("ready: holder and adapter sockets from systemd");
	else
		log_info("ready: holders on %s, adapters on %s", o.lc.path[0],
		    o.lc.path[1]);
	r = loop_run();
	peer_drop_all();
	listen_cleanup();
	if (r < 0)
		fatalx("event loop: %s", strerror(-r));
	log_info("stopped");
	return 0;
}
