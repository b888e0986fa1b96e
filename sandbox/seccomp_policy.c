/* SPDX-License-Identifier: MIT */
/*
 * The machinery under both seccomp allowlists: turn a policy table
 * (seccomp_vmsigd.c, seccomp_memctx.c) into a libseccomp filter with a
 * default kill, check its architecture and budget, load it, count it, and
 * print it for --print-sandbox.  The tables say what is allowed and why;
 * this file only knows how.
 *
 * Runs in: vmsigd, vmsig-memctx
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)		/* gcc */
#define SANDBOX_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)		/* clang */
#define SANDBOX_ASAN	1
#endif
#endif

/*
 * Sanitizer builds only (.ci/run, SAN=address,undefined), outside the
 * budgets: ASan runs __asan_handle_no_return() before every noreturn call
 * (exit, _exit, longjmp), and it asks sigaltstack(2) which stack it is on.
 * A query (NULL new stack) installs nothing.
 */
static const struct seccomp_rule sanitizer_rules[] = {
#ifdef SANDBOX_ASAN
	{ .nr = SCMP_SYS(sigaltstack), .name = "sigaltstack", .narg = 1,
	  .arg = { SECCOMP_ARG(0, SCMP_CMP_EQ, 0, 0) },
	  .args = "query only (NULL new stack)",
	  .why = "ASan: __asan_handle_no_return() (sanitizer builds only)" },
#endif
	{ .nr = -1 }
};

static int
rule_applies(const struct seccomp_rule *r, unsigned int flags)
{
	return (r->need & flags) == r->need && (r->skip & flags) == 0;
}

int
seccomp_policy_count(const struct seccomp_policy *p, unsigned int flags)
{
	size_t i, j;
	int n = 0, seen;

	if (p == NULL)
		return -EINVAL;
	for (i = 0; i < p->nrules; i++) {
		if (!rule_applies(&p->rules[i], flags))
			continue;
		for (seen = 0, j = 0; j < i; j++)
			seen |= rule_applies(&p->rules[j], flags) &&
			    p->rules[j].nr == p->rules[i].nr;
		n += !seen;
	}
	return n;
}

/* The filter of `p`; *ret_ctx is set only on success. */
static int
policy_build(const struct seccomp_policy *p, unsigned int flags,
    scmp_filter_ctx *ret_ctx)
{
	const struct seccomp_rule *r;
	scmp_filter_ctx ctx;
	size_t i;
	int n, rc;

	if (p == NULL)
		return -EINVAL;
	/* The tables name x86_64 syscalls and glibc 2.36's choice of them. */
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return -EOPNOTSUPP;
	if ((n = seccomp_policy_count(p, flags)) > p->budget)
		return -E2BIG;

	/* seccomp_init() adds only the native arch: x32 and i386 are "bad". */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return -ENOMEM;
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS);
	for (i = 0; rc == 0 && i < p->nrules; i++) {
		r = &p->rules[i];
		if (!rule_applies(r, flags))
			continue;
		/* _exact: fail rather than let libseccomp rewrite a rule. */
		rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r->nr,
		    r->narg, r->arg);
	}
	for (r = sanitizer_rules; rc == 0 && r->nr != -1; r++)
		rc = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r->nr,
		    r->narg, r->arg);
	if (rc < 0) {
		seccomp_release(ctx);
		return rc;
	}
	*ret_ctx = ctx;
	return 0;
}

int
seccomp_policy_load(const struct seccomp_policy *p, unsigned int flags)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((rc = policy_build(p, flags, &ctx)) < 0)
		return rc;
	/* libseccomp sets no-new-privs itself if privdrop_nnp() did not. */
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* Write all of buf to fd; -errno on failure. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, buf, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int
seccomp_policy_print(const struct seccomp_policy *p, unsigned int flags,
    int fd)
{
	const struct seccomp_rule *r;
	scmp_filter_ctx ctx;
	char line[512];
	size_t i;
	int n, rc;

	if (p == NULL || fd < 0)
		return -EINVAL;
	n = seccomp_policy_count(p, flags);
	(void)snprintf(line, sizeof(line),
	    "%s seccomp allowlist: %d syscalls allowed (budget %d), "
	    "default kill-process, x86_64 only\n", p->name, n, p->budget);
	if ((rc = write_all(fd, line, strlen(line))) < 0)
		return rc;
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (!rule_applies(r, flags))
			continue;
		/* A reason longer than the line is cut, never an error. */
		(void)snprintf(line, sizeof(line), "  %-18s %-36s # %s\n",
		    r->name, r->args != NULL ? r->args : "any arguments",
		    r->why);
		if ((rc = write_all(fd, line, strlen(line))) < 0)
			return rc;
	}
	for (r = sanitizer_rules; r->nr != -1; r++) {
		(void)snprintf(line, sizeof(line), "  %-18s %-36s # %s\n",
		    r->name, r->args, r->why);
		if ((rc = write_all(fd, line, strlen(line))) < 0)
			return rc;
	}
	if ((rc = policy_build(p, flags, &ctx)) < 0)
		return rc;
	rc = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	return rc;
}
