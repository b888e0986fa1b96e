/* SPDX-License-Identifier: MIT */
/*
 * The holder and adapter listening sockets: taken from systemd (socket
 * activation, LISTEN_FDS with LISTEN_FDNAMES "holder" and "adapter") or
 * bound to the configured paths.  A stale socket file is replaced only when
 * nothing answers on it, so a second vmsigd cannot steal a live one's path.
 *
 * Out of descriptors (EMFILE, ENFILE) or memory, accept fails until some
 * connection goes away; retrying at once would spin the loop on a socket
 * that stays readable.  So both listeners leave the loop for
 * LISTEN_PAUSE_MS (a timerfd made at start-up, when descriptors were
 * plentiful), and the failure is logged at most once a second.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "vmsigd.h"

#define SD_LISTEN_FDS_START	3
#define LISTEN_PAUSE_MS		100

static struct loop_src listen_src[2] = { { .fd = -1 }, { .fd = -1 } };
static const char *listen_bound[2];
static int listen_sd;
static struct loop_src listen_pause = { .fd = -1 };
static int listen_paused;
static struct ratelimit rl_accept;

static int
fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

/* Is someone listening at path?  1 yes, 0 no (stale or absent). */
static int
path_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int live;

	if (fd == -1)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	(void)close(fd);
	return live;
}

/* "the holder socket PATH: STEP", for the caller's one log line. */
static char bind_why[200];

static const char *
why_at(int k, const char *path, const char *step)
{
	(void)snprintf(bind_why, sizeof(bind_why), "the %s socket %s: %s",
	    k == SOCK_HOLDER ? "holder" : "adapter", path, step);
	return bind_why;
}

/* Bind socket k at path; *ret_why names the socket and the step failed. */
static int
bind_one(int k, const char *path, mode_t mode, uid_t owner, gid_t group,
    const char **ret_why)
{
	struct sockaddr_un sun;
	struct stat st;
	const char *step;
	int fd, r;

	if ((r = fill_sun(&sun, path)) < 0) {
		*ret_why = why_at(k, path, "path too long");
		return r;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*ret_why = why_at(k, path, "exists and is not a socket");
			return -EEXIST;
		}
		if (path_live(&sun)) {
			*ret_why = why_at(k, path, "another vmsigd is "
			    "listening there");
			return -EADDRINUSE;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		*ret_why = why_at(k, path, "socket");
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		step = errno == ENOENT ? "bind (does its directory exist?)" :
		    "bind";
	else if (chmod(path, mode) == -1)
		step = "chmod";
	else if (owner != (uid_t)-1 && chown(path, owner, group) == -1)
		step = "chown";
	else if (listen(fd, SOMAXCONN) == -1)
		step = "listen";
	else
		return fd;
	r = -errno;
	*ret_why = why_at(k, path, step);
	(void)close(fd);
	return r;
}

/* systemd passes fds 3.. with names; we need exactly ours. */
static int
from_systemd(const char **ret_why)
{
	const char *pid = getenv("LISTEN_PID"), *nfd = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	int n, i;

	if (pid == NULL || nfd == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(nfd);
	if (n != 2 || names == NULL) {
		*ret_why = "socket activation needs 2 sockets named holder and adapter";
		return -EINVAL;
	}
	for (i = 0; i < 2; i++) {
		size_t len = strcspn(names, ":");
		int fd = SD_LISTEN_FDS_START + i, k;

		if (len == 6 && strncmp(names, "holder", 6) == 0)
			k = SOCK_HOLDER;
		else if (len == 7 && strncmp(names, "adapter", 7) == 0)
			k = SOCK_ADAPTER;
		else {
			*ret_why = "unknown FileDescriptorName (want holder, adapter)";
			return -EINVAL;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		listen_src[k].fd = fd;
		names += len + (names[len] == ':');
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (listen_src[0].fd < 0 || listen_src[1].fd < 0) {
		*ret_why = "socket activation: a name appears twice";
		return -EINVAL;
	}
	listen_sd = 1;
	return 1;
}

int
listen_open(const struct listen_cfg *cfg, const char **ret_why)
{
	/* Holders are admitted by policy (SO_PEERCRED); adapters by the
	 * socket's mode as well, since they hand us guest RAM. */
	static const mode_t modes[2] = { 0666, 0660 };
	int r, k;

	r = from_systemd(ret_why);
	if (r != 0)
		return r < 0 ? r : 0;
	for (k = 0; k < 2; k++) {
		r = bind_one(k, cfg->path[k], modes[k], cfg->owner,
		    cfg->group, ret_why);
		if (r < 0) {
			listen_cleanup();
			return r;
		}
		listen_src[k].fd = r;
		listen_bound[k] = cfg->path[k];
	}
	return 0;
}

int
listen_activated(void)
{
	return listen_sd;
}

/* Stop (or resume) polling both listeners. */
static void
pause_listeners(int on)
{
	struct itimerspec its = { 0 };
	int k;

	if (listen_paused == on)
		return;
	if (on) {
		its.it_value.tv_nsec = LISTEN_PAUSE_MS * 1000000L;
		if (timerfd_settime(listen_pause.fd, 0, &its, NULL) == -1)
			return;		/* keep polling rather than go deaf */
	}
	for (k = 0; k < 2; k++)
		(void)loop_mod(&listen_src[k], on ? 0 : EPOLLIN);
	listen_paused = on;
}

static void
on_pause_end(struct loop_src *src, uint32_t events)
{
	uint64_t ticks;

	(void)events;
	(void)!read(src->fd, &ticks, sizeof(ticks));
	pause_listeners(0);
}

static void
accept_failed(struct loop_src *src, int err)
{
	unsigned int held = 0;

	if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
		return;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
		pause_listeners(1);
	if (ratelimit_ok(&rl_accept, 1, 1000, &held))
		log_warnx("accept on the %s socket: %s; not accepting for "
		    "%u ms (%u such failures not logged)",
		    src == &listen_src[0] ? "holder" : "adapter",
		    strerror(err), LISTEN_PAUSE_MS, held);
}

static void
on_accept(struct loop_src *src, uint32_t events)
{
	int fd, i;

	(void)events;
	/* Bounded: a flood of connections must not starve the others. */
	for (i = 0; i < 32 && !listen_paused; i++) {
		fd = accept4(src->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			accept_failed(src, errno);
			return;
		}
		admit_accept(fd, src == &listen_src[0] ? SOCK_HOLDER :
		    SOCK_ADAPTER);
	}
}

int
listen_start(void)
{
	int k, r;

	listen_pause.fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC);
	if (listen_pause.fd == -1)
		return -errno;
	listen_pause.cb = on_pause_end;
	if ((r = loop_add(&listen_pause, EPOLLIN)) < 0)
		return r;
	for (k = 0; k < 2; k++) {
		listen_src[k].cb = on_accept;
		if ((r = loop_add(&listen_src[k], EPOLLIN)) < 0)
			return r;
	}
	return 0;
}

void
listen_cleanup(void)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (listen_bound[k] != NULL)
			(void)unlink(listen_bound[k]);
		listen_bound[k] = NULL;
	}
}
