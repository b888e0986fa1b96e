/* SPDX-License-Identifier: MIT */
/*
 * Access policy from SO_PEERCRED: who may subscribe (holders), who may take
 * the MEMWRITE lease (writers), which uids may act as adapters.  Entries are
 * uid:N, gid:N, user:NAME, group:NAME; names are resolved at start-up,
 * before the sandbox, since the confined core opens no file.  A group
 * matches the peer's primary gid and the group's listed members.
 *
 * Root and vmsigd's own uid are always holders and adapters; entries add to
 * them.  Writers are only who is named (by default nobody).
 *
 * Runs in: vmsigd
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmsigd.h"

#define POLICY_MAX	64

struct policy_entry {
	int is_gid;
	unsigned int id;
};

static const char *const rule_names[POLICY__MAX] = {
	[POLICY_HOLDERS] = "holders",
	[POLICY_WRITERS] = "writers",
	[POLICY_ADAPTERS] = "adapters",
};

static struct {
	struct policy_entry e[POLICY_MAX];
	unsigned int n;
} rules[POLICY__MAX];
static const char *policy_why = "";

static int
push(enum policy_rule rule, int is_gid, unsigned int id)
{
	if (rules[rule].n >= POLICY_MAX) {
		policy_why = "too many entries (at most 64 per rule)";
		return -E2BIG;
	}
	rules[rule].e[rules[rule].n].is_gid = is_gid;
	rules[rule].e[rules[rule].n].id = id;
	rules[rule].n++;
	return 0;
}

static int
push_why(enum policy_rule rule, int is_gid, unsigned int id,
    const char **ret_why)
{
	int r = push(rule, is_gid, id);

	if (r < 0)
		*ret_why = policy_why;
	return r;
}

static int
parse_id(const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= (unsigned long)(uid_t)-1)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/* A group: its gid, and its listed members as uids. */
static int
add_group(enum policy_rule rule, const struct group *gr)
{
	char **m;
	int r = push(rule, 1, (unsigned int)gr->gr_gid);

	for (m = gr->gr_mem; r == 0 && m != NULL && *m != NULL; m++) {
		struct passwd *pw = getpwnam(*m);

		if (pw != NULL)
			r = push(rule, 0, (unsigned int)pw->pw_uid);
	}
	return r;
}

int
policy_add(enum policy_rule rule, const char *entry, const char **ret_why)
{
	unsigned int id;

	*ret_why = "";
	if (strcmp(entry, "none") == 0)
		return 0;
	if (strncmp(entry, "uid:", 4) == 0 && parse_id(entry + 4, &id) == 0)
		return push_why(rule, 0, id, ret_why);
	if (strncmp(entry, "gid:", 4) == 0 && parse_id(entry + 4, &id) == 0)
		return push_why(rule, 1, id, ret_why);
	if (strncmp(entry, "user:", 5) == 0) {
		struct passwd *pw = getpwnam(entry + 5);

		if (pw != NULL)
			return push_why(rule, 0, (unsigned int)pw->pw_uid,
			    ret_why);
		*ret_why = "no such user";
		return -EINVAL;
	}
	if (strncmp(entry, "group:", 6) == 0) {
		struct group *gr = getgrnam(entry + 6);

		if (gr != NULL) {
			int r = add_group(rule, gr);

			if (r < 0)
				*ret_why = policy_why;
			return r;
		}
		*ret_why = "no such group";
		return -EINVAL;
	}
	*ret_why = "expected uid:N, gid:N, user:NAME, group:NAME or none";
	return -EINVAL;
}

static int
load_line(char *line, const char **ret_why)
{
	char *save = NULL, *word, *tok;
	int rule, r;

	line[strcspn(line, "#\n")] = '\0';
	if ((word = strtok_r(line, " \t", &save)) == NULL)
		return 0;
	for (rule = 0; rule < POLICY__MAX; rule++)
		if (strcmp(word, rule_names[rule]) == 0)
			break;
	if (rule == POLICY__MAX) {
		*ret_why = "expected holders, writers or adapters";
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
		if ((r = policy_add(rule, tok, ret_why)) < 0)
			return r;
	return 0;
}

int
policy_load(const char *path, int *ret_line, const char **ret_why)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	int n = 0, r = 0;

	if (f == NULL) {
		*ret_why = "cannot open";
		return -errno;
	}
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			*ret_why = "line longer than 1023 characters";
			r = -EINVAL;
			break;
		}
		r = load_line(line, ret_why);
	}
	(void)fclose(f);
	*ret_line = n;
	return r;
}

void
policy_defaults(uid_t self)
{
	(void)push(POLICY_HOLDERS, 0, 0);
	(void)push(POLICY_HOLDERS, 0, (unsigned int)self);
	(void)push(POLICY_ADAPTERS, 0, 0);
	(void)push(POLICY_ADAPTERS, 0, (unsigned int)self);
}

int
policy_allows(enum policy_rule rule, struct peer *p, uint64_t req_id)
{
	unsigned int i;

	for (i = 0; i < rules[rule].n; i++) {
		const struct policy_entry *e = &rules[rule].e[i];

		if (e->is_gid ? e->id == (unsigned int)peer_gid(p) :
		    e->id == (unsigned int)peer_uid(p))
			return 1;
	}
	peer_error(p, req_id, EPERM, "policy: rule '%s' does not admit peer "
	    "%u (uid %u, gid %u, pid %d); see vmsigd.conf(5)",
	    rule_names[rule], peer_id(p), (unsigned)peer_uid(p),
	    (unsigned)peer_gid(p), (int)peer_pid(p));
	return 0;
}
