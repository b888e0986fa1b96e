/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging to stderr (one line each, prefixed with the daemon's
 * name) or to syslog.  The message is formatted into a stack buffer and
 * written with one write(2), so lines of concurrent processes sharing a
 * terminal do not interleave.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "vmsig";
static int log_level = LOG_LVL_INFO;
static int log_syslog;

void
log_init(const char *ident, int level, int use_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	/* syslog(3) formats local time: read the zone now, before the
	 * sandbox forbids opening /etc/localtime. */
	tzset();
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
vlog(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024], line[1200];
	int n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		if (errstr != NULL)
			syslog(prio, "%s: %s", msg, errstr);
		else
			syslog(prio, "%s", msg);
		return;
	}
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
