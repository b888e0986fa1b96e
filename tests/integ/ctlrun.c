/* SPDX-License-Identifier: MIT */
/*
 * Runs the real vmsigctl for integration tests and reads what it wrote
 * (see ctlrun.h): stdout through a pipe, drained against a deadline, stderr
 * through a file so that a full pipe cannot stall either side; plus the
 * json-c accessors the vmsigctl tests share.
 *
 * Runs in: tests
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctlrun.h"
#include "harness.h"

#define CTL_MAXARGS	32

/* Drain p->out into r->out until EOF or the deadline. */
static int
slurp(struct h_proc *p, struct ctl_run *r, long end)
{
	static char buf[4 << 20];
	ssize_t k;

	r->out = buf;
	for (;;) {
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		long left = end - h_now_ms();

		/* Out of time, or more output than any test expects. */
		if (left <= 0 || r->len == sizeof(buf) - 1)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		k = read(p->out, buf + r->len, sizeof(buf) - 1 - r->len);
		buf[r->len += k > 0 ? (size_t)k : 0] = '\0';
		if (k <= 0)
			return 0;
	}
}

/* Start vmsigctl with stderr into a file (swapped in for the spawn). */
static int
spawn_ctl(char *const argv[], const char *errpath, struct h_proc *p)
{
	int efd, saved, rc;

	efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (efd == -1 || saved == -1)
		return -errno;
	(void)fflush(stderr);
	(void)dup2(efd, STDERR_FILENO);
	rc = h_spawn(argv, 0, 1, p);
	(void)dup2(saved, STDERR_FILENO);
	close(saved);
	close(efd);
	return rc;
}

void
ctl_vrun(struct ctl_run *r, const char *dir, int timeout_ms, const char *arg,
    va_list ap)
{
	char bin[4096], sock[4096], errpath[4096];
	const char *argv[CTL_MAXARGS] = { bin, "--socket", sock };
	struct h_proc p;
	size_t n = 3;
	long end = h_now_ms() + timeout_ms;
	int st, sr, efd, fds = h_fd_count(0);
	ssize_t k;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	snprintf(bin, sizeof(bin), "%s", h_bin("bin/vmsigctl"));
	snprintf(sock, sizeof(sock), "%s", h_hsock(dir));
	snprintf(errpath, sizeof(errpath), "%s/ctl.err", dir);
	for (; arg != NULL && n < CTL_MAXARGS - 1;
	    arg = va_arg(ap, const char *))
		argv[n++] = arg;
	argv[n] = NULL;
	assert_int_equal(spawn_ctl((char *const *)argv, errpath, &p), 0);
	sr = slurp(&p, r, end);
	st = h_wait_exit(&p, (int)(end - h_now_ms() > 0 ?
	    end - h_now_ms() : 1));
	if (st == -ETIMEDOUT)
		st = h_stop(&p, SIGKILL, 2000);	/* never left running */
	if (st >= 0 && WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	if ((efd = open(errpath, O_RDONLY | O_CLOEXEC)) >= 0) {
		k = read(efd, r->err, sizeof(r->err) - 1);
		r->err[k > 0 ? k : 0] = '\0';
		close(efd);
	}
	assert_int_equal(sr, 0);
	/* Every pipe and file of the run is closed again. */
	assert_int_equal(h_fd_count(0), fds);
}

void
ctl_run(struct ctl_run *r, const char *dir, int timeout_ms, const char *arg,
    ...)
{
	va_list ap;

	va_start(ap, arg);
	ctl_vrun(r, dir, timeout_ms, arg, ap);
	va_end(ap);
}

char *
ctl_fmt(const char *f, uint64_t v)
{
	static char bufs[16][64];
	static int i;
	char *b = bufs[i++ % 16];

	snprintf(b, sizeof(bufs[0]), f, v);
	return b;
}

char *
ctl_hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	s[2 * n] = '\0';
	return s;
}

struct json_object *
jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

uint64_t
jnum(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	if (v == NULL)
		fail_msg("key %s missing in %s", key,
		    json_object_to_json_string(o));
	if (json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 0);
	return (uint64_t)json_object_get_int64(v);
}

int
jbool(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v != NULL && json_object_get_boolean(v);
}

int
jnull(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) && v == NULL;
}

size_t
jlen(struct json_object *a)
{
	assert_true(json_object_is_type(a, json_type_array));
	return json_object_array_length(a);
}

struct json_object *
jat(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

void
ctl_same_str(const char *what, const char *got, const char *want)
{
	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		fail_msg("%s: got %s, want %s", what, got ? got : "null",
		    want ? want : "null");
}
