/* SPDX-License-Identifier: MIT */
/*
 * Integration-test harness: start the real binaries from the build tree in
 * a temporary directory, wait for them on descriptors (never sleep and
 * hope), stop them by pid, and count descriptors.
 *
 * Runs in: tests
 */
#ifndef VMSIG_HARNESS_H
#define VMSIG_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct h_proc {
	pid_t pid;
	int out;		/* read end of its stdout, or -1 */
	int in;			/* write end of its stdin, or -1 */
	char buf[4096];		/* partial line */
	size_t len;
};

/* A fresh directory under $TMPDIR (or /tmp); free() the result. */
char *h_tmpdir(void);
/* rm -r of a directory made by h_tmpdir (files only, one level). */
void h_rmdir(char *dir);
/* Path of a built program: VMSIG_BUILD_DIR "/" rel.  Static buffer. */
const char *h_bin(const char *rel);

/*
 * Start argv[0] with argv; pipes for stdin and stdout when asked.
 * Returns 0 and fills *p, or -errno.
 */
int h_spawn(char *const argv[], int want_stdin, int want_stdout,
    struct h_proc *p);
/* Wait (at most timeout_ms) for a line starting with prefix on p->out;
 * copies the whole line into line (cap bytes).  0, -ETIMEDOUT, -EPIPE. */
int h_wait_line(struct h_proc *p, const char *prefix, int timeout_ms,
    char *line, size_t cap);
/* Write a line to p->in.  0 or -errno. */
int h_say(struct h_proc *p, const char *line);
/* SIGTERM (or sig), then wait at most timeout_ms, SIGKILL after that.
 * Returns the wait status, or -errno. */
int h_stop(struct h_proc *p, int sig, int timeout_ms);
/* Wait for exit at most timeout_ms; the wait status or -ETIMEDOUT. */
int h_wait_exit(struct h_proc *p, int timeout_ms);

/* Start vmsigd -f on dir/holder.sock and dir/adapter.sock with extra
 * arguments (NULL-terminated, may be NULL) and wait until both sockets
 * accept.  0 or -errno. */
int h_vmsigd(const char *dir, const char *const extra[], struct h_proc *p);
/*
 * Start vmsig-memctx --endpoint endpoint --ram ram --connect on dir's
 * adapter socket, --revalidate-ms when revalidate_ms > 0, then `extra`
 * (NULL-terminated, may be NULL, at most 21).  Does not wait for it.
 * 0 or -errno (h_spawn).
 */
int h_memctx(const char *dir, uint32_t endpoint, const char *ram,
    int revalidate_ms, const char *const extra[], struct h_proc *p);
/*
 * The end of a fixture: stop a helper (NULL, or pid 0: none), then vmsigd
 * (d; pid 0: never started) with SIGTERM, remove dir (h_rmdir frees it)
 * and count this process's descriptors against base_fds.  0 when vmsigd
 * exited 0 and no descriptor leaked, else -1 (why on stderr).
 */
int h_teardown(struct h_proc *helper, struct h_proc *d, char *dir,
    int base_fds);

/* dir/holder.sock or dir/adapter.sock (static buffers, one each). */
const char *h_hsock(const char *dir);
const char *h_asock(const char *dir);

/* Wait until connect(path) succeeds, at most timeout_ms.  0 or -errno. */
int h_wait_socket(const char *path, int timeout_ms);
/* CLOCK_MONOTONIC in milliseconds. */
long h_now_ms(void);
/* Number of open descriptors of pid (0: this process), or -errno. */
int h_fd_count(pid_t pid);
/* VmRSS of pid in KiB, or -errno. */
long h_rss_kib(pid_t pid);
/* Read a /proc/PID/status field ("CapEff:"), value into buf.  0/-errno. */
int h_status_field(pid_t pid, const char *key, char *buf, size_t cap);

#endif

/* ---- holders ---------------------------------------------------------- */
struct vmsig_holder;
typedef struct vmsig_event vmsig_event;

/* Open a holder on dir's holder socket and subscribe to every endpoint.
 * NULL on failure (errno set). */
struct vmsig_holder *h_holder(const char *dir, const char *name);
/*
 * Next event (at most timeout_ms) of type `type`, skipping none: any other
 * type first is a failure.  Returns the event (caller frees) or NULL.
 */
vmsig_event *h_expect(struct vmsig_holder *h, uint32_t type, int timeout_ms);
/* 1 when no event arrives within timeout_ms. */
int h_quiet(struct vmsig_holder *h, int timeout_ms);

/* Start tests' test-adapter for endpoint on dir with file and extra args;
 * waits for its "ready" line unless no_wait.  0 or -errno. */
int h_adapter(const char *dir, uint32_t endpoint, const char *file,
    const char *const extra[], int no_wait, struct h_proc *p);
/* The descriptor count of pid once it settles at `want` (connections we
 * closed are handled asynchronously): polls for at most timeout_ms and
 * returns the last count seen. */
int h_fd_settle(pid_t pid, int want, int timeout_ms);
/* The descriptor count of pid once it has not changed for 100 ms (at most
 * timeout_ms): a baseline taken after start-up connections are gone. */
int h_fd_stable(pid_t pid, int timeout_ms);
/*
 * 1 when pid is confined as both daemons must be after start-up: no
 * effective, permitted, inheritable or ambient capability (and an empty
 * bounding set when we are root, who can empty it), no_new_privs, a seccomp
 * filter, within 5 s.  0 otherwise, with the offending field on stderr.
 */
int h_confined(pid_t pid);
