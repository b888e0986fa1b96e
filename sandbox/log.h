/* SPDX-License-Identifier: MIT */
/*
 * Daemon logging: levels, stderr or syslog.  Only the daemons' handlers and
 * loops log; libraries return -errno.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#ifndef VMSIG_LOG_H
#define VMSIG_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

/*
 * ident names the daemon in every line; level is the most verbose level
 * shown; use_syslog sends lines to /dev/log, connected now so no socket is
 * created after the sandbox is up (stderr when there is no log daemon).
 */
void log_init(const char *ident, int level, int use_syslog);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1); fatal appends strerror(errno). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Log and exit with `code`. */
void fatalx_code(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
