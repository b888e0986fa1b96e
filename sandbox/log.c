/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging to stderr (one line each, prefixed with the daemon's
 * name) or to syslog.  The message is formatted into a stack buffer and
 * written with one write(2), so lines of concurrent processes sharing a
 * terminal do not interleave.
 *
 * Syslog is spoken here rather than through syslog(3): glibc reopens its
 * socket (socket(2), connect(2)) whenever a send fails and reads the time
 * zone on first use, and the confined daemons may do neither.  The
 * datagram socket to /dev/log is connected once, before confinement, and
 * sent to with sendmsg(2), which both allowlists have; if the log daemon
 * goes away, lines go to stderr (the journal under systemd) instead.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "vmsig";
static int log_level = LOG_LVL_INFO;
static int log_sock = -1;

void
log_init(const char *ident, int level, int use_syslog)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	log_ident = ident;
	log_level = level;
	if (!use_syslog || log_sock >= 0)
		return;
	strcpy(sun.sun_path, "/dev/log");
	log_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_sock >= 0 && connect(log_sock, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		(void)close(log_sock);
		log_sock = -1;
	}
}

/* RFC 3164 without a timestamp: the log daemon adds its own. */
static int
to_syslog(int prio, const char *msg, const char *errstr)
{
	char line[1200];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int n;

	n = snprintf(line, sizeof(line), "<%d>%s[%d]: %s%s%s", LOG_DAEMON |
	    prio, log_ident, (int)getpid(), msg, errstr != NULL ? ": " : "",
	    errstr != NULL ? errstr : "");
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	iov.iov_base = line;
	iov.iov_len = (size_t)n;
	if (sendmsg(log_sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
		return 0;
	(void)close(log_sock);
	log_sock = -1;
	return -1;
}

static void
vlog(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024], line[1200];
	int n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_sock >= 0 && to_syslog(prio, msg, errstr) == 0)
		return;
	n = snprintf(line, sizeof(line), "%s[%d]: %s%s%s\n", log_ident,
	    (int)getpid(), msg, errstr != NULL ? ": " : "",
	    errstr != NULL ? errstr : "");
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define LOGFN(name, lvl, prio, witherr)					\
void									\
name(const char *fmt, ...)						\
{									\
	int saved = errno;						\
	va_list ap;							\
									\
	if (log_level < (lvl))						\
		return;							\
	va_start(ap, fmt);						\
	vlog(prio, (witherr) ? strerror(saved) : NULL, fmt, ap);	\
	va_end(ap);							\
	errno = saved;							\
}
LOGFN(log_warn, LOG_LVL_WARN, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_LVL_WARN, LOG_WARNING, 0)
LOGFN(log_info, LOG_LVL_INFO, LOG_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(code);
}
