/* SPDX-License-Identifier: MIT */
/*
 * Access policy from SO_PEERCRED: who may subscribe (holders), who may take
 * the MEMWRITE lease (writers), which uids may act as adapters.  Entries are
 * uid:N, gid:N, user:NAME, group:NAME; names are resolved at start-up,
 * before the sandbox, since the confined core opens no file.  A group
 * matches the peer's primary gid and the group's listed members.
 *
 * Root is always a holder and an adapter; every other uid, vmsigd's own
 * included, must be named (a vmsigd run as nobody must not admit every
 * process of nobody).  Writers are only who is named (by default nobody).
 * Each entry keeps a label ("holders user:alice (vmsigd.conf:3)") that a
 * peer carries as the rule that admitted it, for Status.
 *
 * The file is read from a descriptor opened at start-up, at start-up and
 * again on SIGHUP (policy_read): the command line's entries first, then the
 * file's, into a table swapped in only when the whole file parses.  A
 * setting given on the command line wins over the file's.  The confined
 * core cannot resolve names, so a reload reuses what start-up resolved and
 * refuses a name it did not see then.
 *
 * The same file sets the limits of unauthenticated and hostile peers
 * (struct vmsigd_limits): connections per uid, the Hello deadline, the
 * descriptors in flight per holder, delivery to a RAM file's owner.
 *
 * Runs in: vmsigd
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "num.h"
#include "vmsigd.h"

#define POLICY_MAX	64

struct policy_entry {
	int is_gid;
	unsigned int id;
	char label[96];
};

struct vmsigd_limits limits = {
	.conn_per_uid = 1024,
	.hello_ms = 5000,
	.peer_fds = 4,
	.deliver_to_owner = 0,
};

static const char *const rule_names[POLICY__MAX] = {
	[POLICY_HOLDERS] = "holders",
	[POLICY_WRITERS] = "writers",
	[POLICY_ADAPTERS] = "adapters",
};

struct rule_tab {
	struct policy_entry e[POLICY_MAX];
	unsigned int n;
};

static struct rule_tab rules[POLICY__MAX];
/* The command line's entries and settings, the base of every reload. */
static struct rule_tab cmd_rules[POLICY__MAX];
static struct vmsigd_limits cmd_limits;
/* Settings the command line gave (bit per setting): the file's yield. */
static unsigned int cmd_set;
static int reading_file, cmd_done, policy_sealed;

/* Names resolved at start-up, reused by a reload (no /etc after that). */
#define NAMES_MAX	32
static struct {
	char text[72];
	unsigned int n;
	struct { int is_gid; unsigned int id; } id[POLICY_MAX];
} names[NAMES_MAX];
static unsigned int nnames;
static const char *policy_why = "";
/* Where the entries being added come from, for their labels. */
static char policy_src[64] = "command line";
/* The entry being added, as written ("group:vmusers"), for its labels. */
static const char *policy_entry_text;

static int
push(enum policy_rule rule, int is_gid, unsigned int id)
{
	if (rules[rule].n >= POLICY_MAX) {
		policy_why = "too many entries (at most 64 per rule)";
		return -E2BIG;
	}
	rules[rule].e[rules[rule].n].is_gid = is_gid;
	rules[rule].e[rules[rule].n].id = id;
	if (policy_entry_text != NULL)
		(void)snprintf(rules[rule].e[rules[rule].n].label,
		    sizeof(rules[rule].e[0].label), "%s %s (%s)",
		    rule_names[rule], policy_entry_text, policy_src);
	else
		(void)snprintf(rules[rule].e[rules[rule].n].label,
		    sizeof(rules[rule].e[0].label), "%s %s:%u (%s)",
		    rule_names[rule], is_gid ? "gid" : "uid", id, policy_src);
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
	unsigned long v;

	/* (uid_t)-1 means "unchanged" to setresuid(2): never an id. */
	if (num_parse_ul(s, 10, (unsigned long)(uid_t)-1 - 1, &v) < 0)
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

static int add_entry(enum policy_rule rule, const char *entry,
    const char **ret_why);

int
policy_add(enum policy_rule rule, const char *entry, const char **ret_why)
{
	int r;

	policy_entry_text = entry;
	r = add_entry(rule, entry, ret_why);
	policy_entry_text = NULL;
	return r;
}

/* Remember what entry resolved to: the entries rule gained from n0 on. */
static void
name_remember(enum policy_rule rule, const char *entry, unsigned int n0)
{
	unsigned int i;

	if (nnames >= NAMES_MAX || strlen(entry) >= sizeof(names[0].text))
		return;
	(void)snprintf(names[nnames].text, sizeof(names[0].text), "%s", entry);
	for (i = n0; i < rules[rule].n; i++) {
		names[nnames].id[i - n0].is_gid = rules[rule].e[i].is_gid;
		names[nnames].id[i - n0].id = rules[rule].e[i].id;
	}
	names[nnames++].n = rules[rule].n - n0;
}

/* A name after start-up: what start-up resolved, or a refusal. */
static int
name_reuse(enum policy_rule rule, const char *entry, const char **ret_why)
{
	unsigned int i, k;
	int r = 0;

	for (i = 0; i < nnames; i++) {
		if (strcmp(names[i].text, entry) != 0)
			continue;
		for (k = 0; r == 0 && k < names[i].n; k++)
			r = push_why(rule, names[i].id[k].is_gid,
			    names[i].id[k].id, ret_why);
		return r;
	}
	*ret_why = "a name vmsigd did not resolve at start-up (it cannot read "
	    "/etc now); restart vmsigd or use uid:N/gid:N";
	return -EINVAL;
}

static int resolve(enum policy_rule rule, const char *entry,
    const char **ret_why);

static int
add_entry(enum policy_rule rule, const char *entry, const char **ret_why)
{
	unsigned int id, n0 = rules[rule].n;
	int r;

	*ret_why = "";
	if (strcmp(entry, "none") == 0)
		return 0;
	if (strncmp(entry, "user:", 5) == 0 || strncmp(entry, "group:", 6) == 0) {
		if (policy_sealed)
			return name_reuse(rule, entry, ret_why);
		if ((r = resolve(rule, entry, ret_why)) == 0)
			name_remember(rule, entry, n0);
		return r;
	}
	if (strncmp(entry, "uid:", 4) == 0 && parse_id(entry + 4, &id) == 0)
		return push_why(rule, 0, id, ret_why);
	if (strncmp(entry, "gid:", 4) == 0 && parse_id(entry + 4, &id) == 0)
		return push_why(rule, 1, id, ret_why);
	*ret_why = "expected uid:N, gid:N, user:NAME, group:NAME or none";
	return -EINVAL;
}

static int
resolve(enum policy_rule rule, const char *entry, const char **ret_why)
{
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
	}
	*ret_why = "no such group";
	return -EINVAL;
}

static const char *
basename_of(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL ? b + 1 : path;
}

static int
set_number(const char *v, unsigned long max, unsigned int *ret)
{
	unsigned long n;

	if (num_parse_ul(v, 10, max, &n) < 0 || n == 0)
		return -EINVAL;
	*ret = (unsigned int)n;
	return 0;
}

/* A setting: applied, unless the file gives one the command line gave. */
static int
set_one(unsigned int bit, int r, unsigned int v, unsigned int *dst)
{
	if (r < 0)
		return r;
	if (reading_file && (cmd_set & bit))
		return 0;
	if (!reading_file)
		cmd_set |= bit;
	*dst = v;
	return 0;
}

int
policy_set(const char *name, const char *value, const char **ret_why)
{
	unsigned int v = 0;
	int r;

	if (strcmp(name, "max-connections-per-uid") == 0) {
		*ret_why = "max-connections-per-uid: a number in 1..1048576";
		r = set_number(value, 1ul << 20, &v);
		return set_one(1u, r, v, &limits.conn_per_uid);
	}
	if (strcmp(name, "hello-timeout-ms") == 0) {
		*ret_why = "hello-timeout-ms: a number in 1..600000";
		r = set_number(value, 600000, &v);
		return set_one(2u, r, v, &limits.hello_ms);
	}
	if (strcmp(name, "holder-fds") == 0) {
		*ret_why = "holder-fds: a number in 1..1024";
		r = set_number(value, 1024, &v);
		return set_one(4u, r, v, &limits.peer_fds);
	}
	if (strcmp(name, "deliver-to-owner") == 0) {
		*ret_why = "deliver-to-owner: yes or no";
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return -EINVAL;
		v = (unsigned int)limits.deliver_to_owner;
		(void)set_one(8u, 0, strcmp(value, "yes") == 0, &v);
		limits.deliver_to_owner = (int)v;
		return 0;
	}
	*ret_why = "expected holders, writers, adapters, "
	    "max-connections-per-uid, hello-timeout-ms, holder-fds or "
	    "deliver-to-owner";
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
		tok = strtok_r(NULL, " \t", &save);
		if (tok == NULL || strtok_r(NULL, " \t", &save) != NULL) {
			*ret_why = "expected holders, writers, adapters, or "
			    "a setting with one value";
			return -EINVAL;
		}
		return policy_set(word, tok, ret_why);
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
		if ((r = policy_add(rule, tok, ret_why)) < 0)
			return r;
	return 0;
}

/* Parse a whole file's bytes into the table. */
static int
load_stream(FILE *f, const char *path, int *ret_line, const char **ret_why)
{
	char line[1024];
	int n = 0, r = 0;

	while (r == 0 && n < INT_MAX && fgets(line, sizeof(line), f) != NULL) {
		n++;
		(void)snprintf(policy_src, sizeof(policy_src), "%s:%d",
		    basename_of(path), n);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			*ret_why = "line longer than 1023 characters";
			r = -EINVAL;
			break;
		}
		r = load_line(line, ret_why);
	}
	*ret_line = n;
	return r;
}

/* The file's bytes from offset 0 (pread: no offset shared with anyone). */
static int
read_all(int fd, char *buf, size_t cap, size_t *ret_len, const char **ret_why)
{
	size_t len = 0;
	ssize_t k = 1;

	while (k > 0 && len < cap) {
		k = pread(fd, buf + len, cap - len, (off_t)len);
		if (k < 0 && errno == EINTR)
			k = 1;
		else if (k < 0) {
			*ret_why = "cannot read";
			return -errno;
		} else
			len += (size_t)k;
	}
	if (len == cap) {
		*ret_why = "larger than 64 KiB";
		return -EFBIG;
	}
	*ret_len = len;
	return 0;
}

void
policy_cmdline_done(void)
{
	memcpy(cmd_rules, rules, sizeof(rules));
	cmd_limits = limits;
	cmd_done = 1;
}

void
policy_seal(void)
{
	policy_sealed = 1;
}

int
policy_read(int fd, const char *path, int *ret_line, const char **ret_why)
{
	static char buf[65536];
	static struct rule_tab old[POLICY__MAX];
	struct vmsigd_limits old_limits = limits;
	size_t len = 0;
	FILE *f = NULL;
	unsigned int i, total = 0;
	int r;

	*ret_line = 0;
	*ret_why = "";
	if (!cmd_done)
		policy_cmdline_done();
	if ((r = read_all(fd, buf, sizeof(buf), &len, ret_why)) < 0)
		return r;
	if (len > 0 && (f = fmemopen(buf, len, "r")) == NULL) {
		*ret_why = "out of memory";
		return -ENOMEM;
	}
	memcpy(old, rules, sizeof(rules));
	memcpy(rules, cmd_rules, sizeof(rules));
	limits.conn_per_uid = cmd_limits.conn_per_uid;
	limits.hello_ms = cmd_limits.hello_ms;
	limits.peer_fds = cmd_limits.peer_fds;
	limits.deliver_to_owner = cmd_limits.deliver_to_owner;
	reading_file = 1;
	r = f != NULL ? load_stream(f, path, ret_line, ret_why) : 0;
	reading_file = 0;
	if (f != NULL)
		(void)fclose(f);
	(void)snprintf(policy_src, sizeof(policy_src), "command line");
	if (r < 0) {
		memcpy(rules, old, sizeof(rules));
		limits = old_limits;
		return r;
	}
	if (policy_sealed)
		policy_defaults(0);
	if (limits.conn_total != 0 && limits.conn_per_uid > limits.conn_total)
		limits.conn_per_uid = limits.conn_total;
	for (i = 0; i < POLICY__MAX; i++)
		total += rules[i].n;
	return (int)total;
}

void
policy_defaults(uid_t self)
{
	/* Root only: naming the daemon's own uid is the configuration's
	 * call (vmsigd.conf(5)), since --user nobody would otherwise admit
	 * every process running as nobody. */
	(void)self;
	(void)snprintf(policy_src, sizeof(policy_src), "default");
	(void)push(POLICY_HOLDERS, 0, 0);
	(void)push(POLICY_ADAPTERS, 0, 0);
}

const char *
policy_match(enum policy_rule rule, uid_t uid, gid_t gid)
{
	unsigned int i;

	for (i = 0; i < rules[rule].n; i++) {
		const struct policy_entry *e = &rules[rule].e[i];

		if (e->is_gid ? e->id == (unsigned int)gid :
		    e->id == (unsigned int)uid)
			return e->label;
	}
	return NULL;
}

int
policy_allows(enum policy_rule rule, struct peer *p, uint64_t req_id)
{
	if (policy_match(rule, peer_uid(p), peer_gid(p)) != NULL)
		return 1;
	peer_error(p, req_id, EPERM, "policy: rule '%s' does not admit peer "
	    "%u (uid %u, gid %u, pid %d); see vmsigd.conf(5)",
	    rule_names[rule], peer_id(p), (unsigned)peer_uid(p),
	    (unsigned)peer_gid(p), (int)peer_pid(p));
	return 0;
}
