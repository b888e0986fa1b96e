/* SPDX-License-Identifier: MIT */
/*
 * Running the real vmsigctl from integration tests: one run with its
 * stdout, stderr and exit status captured (and a check that every
 * descriptor of the run is closed again), and the json-c accessors the
 * tests use on vmsigctl's --json output and on guestgen manifests.
 * Functions that assert run inside a cmocka test.
 *
 * Runs in: tests
 */
#ifndef VMSIG_CTLRUN_H
#define VMSIG_CTLRUN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* What one vmsigctl run left behind. */
struct ctl_run {
	int status;		/* exit status, or -1 when it did not exit */
	char *out;		/* stdout, NUL-terminated (until the next run) */
	size_t len;
	char err[8192];		/* stderr, truncated */
};

/*
 * vmsigctl --socket DIR/holder.sock ARGS... (NULL-terminated, at most 28),
 * stderr through DIR/ctl.err, stdout into a static buffer that r->out points
 * to until the next run.  A run still going after timeout_ms is killed.
 * Fails the current test when vmsigctl cannot start, when its output does
 * not end in time, or when this process holds another descriptor count
 * afterwards.
 */
void ctl_run(struct ctl_run *r, const char *dir, int timeout_ms,
    const char *arg, ...);
void ctl_vrun(struct ctl_run *r, const char *dir, int timeout_ms,
    const char *arg, va_list ap);

/* snprintf(f, v) into one of 16 static buffers used in turn. */
char *ctl_fmt(const char *f, uint64_t v);
/* n bytes as lower-case hex; malloc'd, the caller frees. */
char *ctl_hex(const uint8_t *b, size_t n);

/*
 * The JSON accessors keep short names without the ctl_ prefix: the tests
 * nest them three deep in one assertion (jnum(jat(a, i), "pid")).
 */

/* Member key of o, or NULL when o is NULL or has no such member (or null). */
struct json_object *jget(struct json_object *o, const char *key);
/* A string member, or NULL when missing, null or not a string. */
const char *jstr(struct json_object *o, const char *key);
/* A "0x..." string member or a number; a missing one fails the test. */
uint64_t jnum(struct json_object *o, const char *key);
/* 1 when the member is present and true. */
int jbool(struct json_object *o, const char *key);
/* 1 when the member is present and JSON null. */
int jnull(struct json_object *o, const char *key);
/* Length of array a; a non-array fails the test. */
size_t jlen(struct json_object *a);
/* Element i of array a (borrowed), or NULL. */
struct json_object *jat(struct json_object *a, size_t i);
/* Fails the test unless got and want are the same string or both NULL. */
void ctl_same_str(const char *what, const char *got, const char *want);

#endif
